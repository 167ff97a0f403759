// Copyright 2026 The ragperf Authors.

#include "metadata_json.h"

#include <cmath>

#include "absl/strings/string_view.h"
#include "ragperf/json_writer.h"

namespace ragperf::bindings {
namespace {

// Appends str(obj) as a JSON string.
void AppendStrOf(PyObject* obj, std::string* out) {
  PyObject* text = PyUnicode_Check(obj) ? (Py_INCREF(obj), obj) : PyObject_Str(obj);
  Py_ssize_t size = 0;
  const char* utf8 = text != nullptr ? PyUnicode_AsUTF8AndSize(text, &size) : nullptr;
  if (utf8 == nullptr) {
    PyErr_Clear();
    AppendJsonString(std::string("<") + Py_TYPE(obj)->tp_name + ">", out);
  } else {
    AppendJsonString(absl::string_view(utf8, static_cast<size_t>(size)), out);
  }
  Py_XDECREF(text);
}

void AppendValue(PyObject* value, std::string* out) {
  if (value == Py_None) {
    out->append("null");
  } else if (PyBool_Check(value)) {
    out->append(value == Py_True ? "true" : "false");
  } else if (PyLong_CheckExact(value)) {
    int overflow = 0;
    const long long n = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (overflow != 0 || (n == -1 && PyErr_Occurred())) {
      PyErr_Clear();
      AppendStrOf(value, out);
    } else {
      out->append(std::to_string(n));
    }
  } else if (PyFloat_CheckExact(value)) {
    const double d = PyFloat_AS_DOUBLE(value);
    out->append(std::isfinite(d) ? FormatJsonDouble(d) : "null");
  } else {
    AppendStrOf(value, out);
  }
}

// Appends one "key": value entry; false (and nothing appended but the
// truncation marker) once the text would pass kMaxMetadataJsonBytes.
bool AppendEntry(PyObject* key, PyObject* value, bool first, std::string* out) {
  const size_t mark = out->size();
  if (!first) out->append(", ");
  AppendStrOf(key, out);
  out->append(": ");
  AppendValue(value, out);
  if (out->size() <= kMaxMetadataJsonBytes) return true;
  out->resize(mark);
  out->append(first ? "" : ", ");
  out->append("\"_truncated\": true");
  return false;
}

}  // namespace

int MetadataToJson(PyObject* dict, std::string* out) {
  out->clear();
  out->push_back('{');
  // A snapshot of the items: str() of a key or value runs Python code that
  // may change the dict while it is written.
  PyObject* items = PyDict_Items(dict);
  if (items == nullptr) {
    PyErr_Clear();
  } else {
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); ++i) {
      PyObject* item = PyList_GET_ITEM(items, i);
      if (!AppendEntry(PyTuple_GET_ITEM(item, 0), PyTuple_GET_ITEM(item, 1),
                       i == 0, out)) {
        break;
      }
    }
    Py_DECREF(items);
  }
  out->push_back('}');
  return 0;
}

void PairsToJson(PyObject* const* keys, PyObject* const* values, int count,
                 std::string* out) {
  out->clear();
  out->push_back('{');
  for (int i = 0; i < count; ++i) {
    if (!AppendEntry(keys[i], values[i], i == 0, out)) break;
  }
  out->push_back('}');
}

}  // namespace ragperf::bindings

// Copyright 2026 The ragperf Authors.

#include "py_args.h"

#include <cstring>
#include <string>

#include "py_error.h"
#include "ragperf/record_validator.h"

namespace ragperf::bindings {
namespace {

PyObject* g_real_type = nullptr;  // numbers.Real, kept for life
PyObject* g_enum_type = nullptr;  // enum.Enum, kept for life

PyObject* ImportAttr(const char* module, const char* name) {
  PyObject* m = PyImport_ImportModule(module);
  if (m == nullptr) return nullptr;
  PyObject* attr = PyObject_GetAttrString(m, name);
  Py_DECREF(m);
  return attr;
}

}  // namespace

int AddType(PyObject* module, PyTypeObject* type, const char* name) {
  if (PyType_Ready(type) < 0) return -1;
  Py_INCREF(type);
  if (PyModule_AddObject(module, name, reinterpret_cast<PyObject*>(type)) < 0) {
    Py_DECREF(type);
    return -1;
  }
  return 0;
}

int InitPyArgs() {
  if (g_real_type == nullptr &&
      (g_real_type = ImportAttr("numbers", "Real")) == nullptr) {
    return -1;
  }
  if (g_enum_type == nullptr &&
      (g_enum_type = ImportAttr("enum", "Enum")) == nullptr) {
    return -1;
  }
  return 0;
}

PyObject* EnumType() { return g_enum_type; }

std::string ReprText(PyObject* value) {
  PyObject* repr = PyObject_Repr(value);
  if (repr == nullptr) {
    PyErr_Clear();
    return "<unprintable>";
  }
  std::string text(Utf8View(repr));
  Py_DECREF(repr);
  return text;
}

int ParseTokenCountSlow(PyObject* value, const char* field, int64_t* out) {
  if (value == nullptr) {
    PyErr_Format(PyExc_AttributeError, "cannot delete %s", field);
    return -1;
  }
  if (PyBool_Check(value) || !PyIndex_Check(value)) {
    PyErr_Format(PyExc_TypeError, "%s must be a non-negative int, got %R (%s)",
                 field, value, Py_TYPE(value)->tp_name);
    return -1;
  }
  // PyNumber_Index accepts int subclasses and integer-like types (numpy).
  PyObject* as_int = PyNumber_Index(value);
  if (as_int == nullptr) return -1;
  int overflow = 0;
  const long long n = PyLong_AsLongLongAndOverflow(as_int, &overflow);
  Py_DECREF(as_int);
  if (n == -1 && PyErr_Occurred()) return -1;
  if (overflow != 0) {
    return SetPyError(TokenCountOutOfRange(field, ReprText(value)));
  }
  if (n < 0) return SetPyError(CheckTokenCount(field, n));
  *out = n;
  return 0;
}

int ParseReal(PyObject* value, const char* field, const char* what,
              double* out) {
  if (PyFloat_CheckExact(value)) {
    *out = PyFloat_AS_DOUBLE(value);
    return 0;
  }
  if (!PyBool_Check(value)) {
    int is_real = PyLong_Check(value) || PyFloat_Check(value);
    if (!is_real && g_real_type != nullptr) {
      is_real = PyObject_IsInstance(value, g_real_type);
      if (is_real < 0) return -1;
    }
    if (is_real) {
      *out = PyFloat_AsDouble(value);
      return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
    }
  }
  PyErr_Format(PyExc_TypeError, "%s must be %s, got %R (%s)", field, what,
               value, Py_TYPE(value)->tp_name);
  return -1;
}

PyObject* CopyMetadata(PyObject* mapping) {
  if (PyDict_Check(mapping)) return PyDict_Copy(mapping);
  if (PyUnicode_Check(mapping) || PyBytes_Check(mapping) ||
      !PyMapping_Check(mapping) || !PyObject_HasAttrString(mapping, "keys")) {
    PyErr_Format(PyExc_TypeError,
                 "metadata must be a dict (or another mapping), got %R (%s)",
                 mapping, Py_TYPE(mapping)->tp_name);
    return nullptr;
  }
  PyObject* copy = PyDict_New();
  if (copy == nullptr) return nullptr;
  if (PyDict_Merge(copy, mapping, 1) != 0) {
    Py_DECREF(copy);
    return nullptr;
  }
  return copy;
}

absl::string_view ExceptionTypeName(PyObject* exc_type) {
  if (!PyType_Check(exc_type)) return kDefaultErrorType;
  const char* full = reinterpret_cast<PyTypeObject*>(exc_type)->tp_name;
  const char* dot = std::strrchr(full, '.');
  return dot != nullptr ? absl::string_view(dot + 1) : absl::string_view(full);
}

int InternNames(std::initializer_list<InternedName> names) {
  for (const InternedName& n : names) {
    if (*n.slot == nullptr &&
        (*n.slot = PyUnicode_InternFromString(n.text)) == nullptr) {
      return -1;
    }
  }
  return 0;
}

PyObject* TakeRaisedException() {
#if PY_VERSION_HEX >= 0x030C0000
  return PyErr_GetRaisedException();
#else
  PyObject *type, *value, *traceback;
  PyErr_Fetch(&type, &value, &traceback);
  if (type == nullptr) return nullptr;
  PyErr_NormalizeException(&type, &value, &traceback);
  if (value != nullptr && traceback != nullptr) {
    PyException_SetTraceback(value, traceback);
  }
  Py_XDECREF(type);
  Py_XDECREF(traceback);
  return value;
#endif
}

void RestoreRaisedException(PyObject* exc) {
#if PY_VERSION_HEX >= 0x030C0000
  PyErr_SetRaisedException(exc);
#else
  if (exc == nullptr) return;
  PyErr_Restore(Py_NewRef(reinterpret_cast<PyObject*>(Py_TYPE(exc))), exc,
                PyException_GetTraceback(exc));
#endif
}

// mapping.get(key): 1 with a new reference, 0 (no error) when missing, -1
// with an exception.
int GetOptional(PyObject* mapping, PyObject* key, PyObject** out) {
  *out = nullptr;
  if (PyDict_CheckExact(mapping)) {
    PyObject* v = PyDict_GetItemWithError(mapping, key);
    if (v == nullptr) return PyErr_Occurred() ? -1 : 0;
    *out = Py_NewRef(v);
    return 1;
  }
  PyObject* v = PyObject_GetItem(mapping, key);
  if (v == nullptr) {
    if (!PyErr_ExceptionMatches(PyExc_KeyError)) return -1;
    PyErr_Clear();
    return 0;
  }
  *out = v;
  return 1;
}

// mapping[key] (new reference), KeyError when missing.
PyObject* GetRequired(PyObject* mapping, PyObject* key) {
  PyObject* v = nullptr;
  const int found = GetOptional(mapping, key, &v);
  if (found == 0) PyErr_SetObject(PyExc_KeyError, key);
  return v;
}

// getattr(obj, name, None) as a new reference (NULL with an exception other
// than AttributeError).
PyObject* GetAttrOrNone(PyObject* obj, PyObject* name) {
  PyObject* v = PyObject_GetAttr(obj, name);
  if (v != nullptr) return v;
  if (!PyErr_ExceptionMatches(PyExc_AttributeError)) return nullptr;
  PyErr_Clear();
  return Py_NewRef(Py_None);
}

}  // namespace ragperf::bindings

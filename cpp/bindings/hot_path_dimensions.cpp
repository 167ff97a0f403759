// Copyright 2026 The ragperf Authors.
//
// Dimensions on the hot path: HotPath.set_dimensions() declares the metadata
// keys whose values split each operation's statistics, and every finished
// block is recorded once more per dimension it has a value for. Which series
// a value maps to (and the "__other__" cap) is the core's DimensionResolver
// and DimensionStats; this file only reads the values out of Python objects.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "tracker_objects.h"

namespace ragperf::bindings {

// Records the block once more per declared dimension it has a value for
// (the resolver's series): metadata[dimension], or the block's model for
// "model"; None or missing = not recorded for that dimension. Non-str
// values count as str().
ABSL_ATTRIBUTE_NOINLINE void RecordDimensions(TrackerObject* self,
                                              const OperationRecord& block,
                                              HeldText* held) {
  HotPathObject* hot = self->hot;
  // Python code runs here only in str() of a value that is not a str. Just
  // before the first such call, the objects the record's text views are
  // held (unless the record already held them: the model is then the one
  // recorded), and the record is copied with its metadata text owned here
  // (that code may record another block, replacing the JSON cache the text
  // views).
  const OperationRecord* rec = &block;
  std::optional<OperationRecord> copy;  // made only if needed: most values are str
  std::string metadata_json;
  PyObject* model = held->held ? held->model : ModelOf(self);
  DimensionResolver& resolver = *hot->resolver;
  PyObject* dims = hot->dimensions;
  Py_INCREF(dims);
  for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(dims); ++i) {
    const size_t d = static_cast<size_t>(i);
    PyObject* value = resolver.is_model(d)
                          ? model
                          : MetadataGet(&self->metadata, PyTuple_GET_ITEM(dims, i));
    if (value == nullptr || value == Py_None) continue;
    PyObject* text = nullptr;
    if (PyUnicode_CheckExact(value)) {
      text = Py_NewRef(value);
    } else {
      if (rec == &block) {
        HoldRecordText(self, held);  // keeps the recorded model if held already
        model = held->model;
        metadata_json.assign(block.metadata_json.data(), block.metadata_json.size());
        copy.emplace(block);
        copy->metadata_json = metadata_json;
        rec = &*copy;
      }
      Py_INCREF(value);
      text = PyObject_Str(value);
      Py_DECREF(value);
    }
    if (text == nullptr) {
      NoteInternalError(hot, "recording a dimension");
      continue;
    }
    if (hot->dimensions != dims) {  // str() declared other dimensions
      Py_DECREF(text);
      break;
    }
    try {
      const absl::string_view v = Utf8View(text);
      int id = resolver.Find(self->op_id, d, v);
      if (id < 0) id = resolver.Intern(self->op_id, Utf8View(self->name), d, v);
      hot->monitor->RecordDimension(id, *rec);
    } catch (...) {
      NoteInternalError(hot, "recording a dimension");
    }
    Py_DECREF(text);
  }
  Py_DECREF(dims);
}

// set_dimensions(tuple of str | None): the metadata keys to split by.
PyObject* HotSetDimensions(PyObject* self, PyObject* dims) {
  HotPathObject* hot = reinterpret_cast<HotPathObject*>(self);
  if (dims == Py_None || (PyTuple_Check(dims) && PyTuple_GET_SIZE(dims) == 0)) {
    Py_CLEAR(hot->dimensions);
    hot->resolver->SetDimensions({});
    Py_RETURN_NONE;
  }
  if (!PyTuple_Check(dims)) {
    PyErr_Format(PyExc_TypeError, "dimensions must be a tuple of str, got %R",
                 dims);
    return nullptr;
  }
  std::vector<std::string> names;
  for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(dims); ++i) {
    PyObject* name = PyTuple_GET_ITEM(dims, i);
    if (!PyUnicode_CheckExact(name)) {
      PyErr_Format(PyExc_TypeError, "dimension names must be str, got %R",
                   name);
      return nullptr;
    }
    Py_ssize_t size = 0;
    const char* utf8 = PyUnicode_AsUTF8AndSize(name, &size);
    if (utf8 == nullptr) return nullptr;
    names.emplace_back(utf8, static_cast<size_t>(size));
  }
  hot->resolver->SetDimensions(std::move(names));
  Py_INCREF(dims);
  Py_XSETREF(hot->dimensions, dims);
  Py_RETURN_NONE;
}

}  // namespace ragperf::bindings

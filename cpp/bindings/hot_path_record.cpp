// Copyright 2026 The ragperf Authors.
//
// HotPath.record(): an operation measured elsewhere. This file converts the
// Python arguments (type errors are TypeErrors raised here); the value rules
// are the core's ValidateRecord/CheckTimestamp (record_validator.h), raised
// as ValueError naming the value.

#include <string>

#include "py_error.h"
#include "ragperf/record_validator.h"
#include "tracker_objects.h"

namespace ragperf::bindings {
namespace {

// record(timestamp_s=...): the wall-clock end of a record measured elsewhere
// (unix seconds, finite, >= 0). `rec.timestamp_s` holds "now" on entry. A
// time in a later minute than now, or older than the longest window, counts
// all-time only (ResponseTimeTracker::InWindowRange).
int ApplyRecordTimestamp(PyObject* value, OperationRecord& rec) {
  double ts = 0;
  if (ParseReal(value, "timestamp_s", "a number of unix seconds or None",
                &ts) != 0) {
    return -1;
  }
  if (absl::Status s = CheckTimestamp(ts); !s.ok()) return SetPyError(s);
  rec.skip_windows = !ResponseTimeTracker::InWindowRange(ts, rec.timestamp_s);
  rec.timestamp_s = ts;
  return 0;
}

constexpr const char* kNames[] = {
    "operation",       "duration_s",        "tokens",
    "success",         "prompt_tokens",     "completion_tokens",
    "memory_delta_mb", "error_type",        "timestamp_s"};
constexpr int kPositional = 4;
constexpr int kCount = 9;

// Sorts positional and keyword arguments into values[kCount] (borrowed;
// NULL = not given). -1 with TypeError on a bad call.
int BindArguments(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames,
                  PyObject* values[kCount]) {
  if (nargs > kPositional) {
    PyErr_Format(PyExc_TypeError,
                 "record() takes at most %d positional arguments (%zd given)",
                 kPositional, nargs);
    return -1;
  }
  for (Py_ssize_t i = 0; i < nargs; ++i) values[i] = args[i];
  const Py_ssize_t nkw = kwnames == nullptr ? 0 : PyTuple_GET_SIZE(kwnames);
  for (Py_ssize_t k = 0; k < nkw; ++k) {
    PyObject* key = PyTuple_GET_ITEM(kwnames, k);
    int slot = -1;
    for (int i = 0; i < kCount; ++i) {
      if (KeywordIs(key, kNames[i])) slot = i;
    }
    if (slot < 0) {
      PyErr_Format(PyExc_TypeError,
                   "record() got an unexpected keyword argument %R", key);
      return -1;
    }
    if (values[slot] != nullptr) {
      PyErr_Format(PyExc_TypeError,
                   "record() got multiple values for argument '%s'",
                   kNames[slot]);
      return -1;
    }
    values[slot] = args[nargs + k];
  }
  for (int i = 0; i < 2; ++i) {
    if (values[i] == nullptr) {
      PyErr_Format(PyExc_TypeError,
                   "record() missing required argument '%s'", kNames[i]);
      return -1;
    }
  }
  return 0;
}

// The Python arguments as a record (types only; values unchecked).
// `error_type` holds the text rec.error_type points to.
int ConvertRecord(PyObject* const values[kCount], OperationRecord& rec,
                  std::string& error_type) {
  if (ParseReal(values[1], "duration_s", "a number of seconds",
                &rec.duration_s) != 0) {
    return -1;
  }
  if (values[4] != nullptr &&
      ParseTokenCount(values[4], "prompt_tokens", &rec.prompt_tokens) != 0) {
    return -1;
  }
  if (values[5] != nullptr &&
      ParseTokenCount(values[5], "completion_tokens",
                      &rec.completion_tokens) != 0) {
    return -1;
  }
  if (values[2] != nullptr && values[2] != Py_None) {
    if (ParseTokenCount(values[2], "tokens", &rec.tokens) != 0) return -1;
  } else {
    rec.tokens = SaturatingAdd(rec.prompt_tokens, rec.completion_tokens);
  }
  if (values[3] != nullptr) {
    if (!PyBool_Check(values[3])) {
      PyErr_Format(PyExc_TypeError, "success must be a bool, got %R (%s)",
                   values[3], Py_TYPE(values[3])->tp_name);
      return -1;
    }
    rec.success = values[3] == Py_True;
  }
  if (values[6] != nullptr && values[6] != Py_None) {
    if (ParseReal(values[6], "memory_delta_mb", "a number or None",
                  &rec.memory_delta_mb) != 0) {
      return -1;
    }
    rec.has_memory_delta = true;
  }
  if (values[7] != nullptr && values[7] != Py_None) {
    if (!PyUnicode_Check(values[7])) {
      PyErr_Format(PyExc_TypeError, "error_type must be a str or None, got %R",
                   values[7]);
      return -1;
    }
    Py_ssize_t size = 0;
    const char* utf8 = PyUnicode_AsUTF8AndSize(values[7], &size);
    if (utf8 == nullptr) return -1;
    error_type.assign(utf8, static_cast<size_t>(size));
  }
  if (!rec.success) rec.error_type = error_type;
  return 0;
}

}  // namespace

// record(operation, duration_s, tokens=None, success=True, *,
//        prompt_tokens=0, completion_tokens=0, memory_delta_mb=None,
//        error_type=None, timestamp_s=None)
PyObject* HotRecord(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                    PyObject* kwnames) {
  PyObject* values[kCount] = {nullptr};
  if (BindArguments(args, nargs, kwnames, values) < 0) return nullptr;
  OperationRecord rec;
  std::string error_type;
  if (ConvertRecord(values, rec, error_type) < 0) return nullptr;
  if (absl::Status s = ValidateRecord(rec); !s.ok()) {
    SetPyError(s);
    return nullptr;
  }
  HotPathObject* hot = reinterpret_cast<HotPathObject*>(self);
  int op_id = -1;
  if (ResolveCached(hot, values[0], &op_id) == nullptr) return nullptr;
  rec.timestamp_s = WallSecondsAt(SteadyNowNanos());
  if (values[8] != nullptr && values[8] != Py_None &&
      ApplyRecordTimestamp(values[8], rec) != 0) {
    return nullptr;
  }
  try {
    hot->monitor->Record(op_id, rec);
  } catch (const std::bad_alloc&) {
    return PyErr_NoMemory();
  } catch (...) {
    // Never let a C++ exception unwind through CPython's C frames.
    PyErr_SetString(PyExc_RuntimeError, "ragperf could not record the operation");
    return nullptr;
  }
  Py_RETURN_NONE;
}

}  // namespace ragperf::bindings

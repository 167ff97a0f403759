// Copyright 2026 The ragperf Authors.
//
// py_error.h
// -----------------------------------------------------------------------------
// The one mapping from an absl::Status of the core to a Python exception:
// InvalidArgument/OutOfRange/DataLoss -> ValueError, NotFound ->
// FileNotFoundError, PermissionDenied -> PermissionError, Internal/Unavailable
// -> OSError, anything else -> RuntimeError. status.h (pybind11 code) throws
// it; the plain CPython types (the tracker) set it and return -1 / NULL.
//
// Example:
//
//   if (absl::Status s = CheckDuration(d); !s.ok()) return SetPyError(s);

#ifndef RAGPERF_BINDINGS_PY_ERROR_H_
#define RAGPERF_BINDINGS_PY_ERROR_H_

#include <Python.h>

#include <string>

#include "absl/status/status.h"

namespace ragperf::bindings {

inline PyObject* ExceptionTypeFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kDataLoss:
      return PyExc_ValueError;
    case absl::StatusCode::kNotFound:
      return PyExc_FileNotFoundError;
    case absl::StatusCode::kPermissionDenied:
      return PyExc_PermissionError;
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnavailable:
      return PyExc_OSError;
    default:
      return PyExc_RuntimeError;
  }
}

// Sets the Python exception for a failed `status` (as `type` when given, for
// the few checks whose Python API always raised another type). Returns -1.
inline int SetPyError(const absl::Status& status, PyObject* type = nullptr) {
  const std::string message(status.message());
  PyErr_SetString(type != nullptr ? type : ExceptionTypeFor(status.code()),
                  message.c_str());
  return -1;
}

}  // namespace ragperf::bindings

#endif  // RAGPERF_BINDINGS_PY_ERROR_H_

// Copyright 2026 The ragperf Authors.
//
// status.h
// -----------------------------------------------------------------------------
// Turns an absl::Status from the core into the matching Python exception at
// the binding edge: InvalidArgument/OutOfRange -> ValueError, NotFound ->
// FileNotFoundError, PermissionDenied -> PermissionError, DataLoss ->
// ValueError, anything else -> OSError / RuntimeError.
//
// Example:
//
//   ThrowIfError(monitor.ExportJson(path));   // raises on failure

#ifndef RAGPERF_BINDINGS_STATUS_H_
#define RAGPERF_BINDINGS_STATUS_H_

#include <pybind11/pybind11.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ragperf::bindings {

inline void ThrowIfError(const absl::Status& status) {
  if (status.ok()) return;
  const std::string message(status.message());
  PyObject* type;
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kDataLoss:
      type = PyExc_ValueError;
      break;
    case absl::StatusCode::kNotFound:
      type = PyExc_FileNotFoundError;
      break;
    case absl::StatusCode::kPermissionDenied:
      type = PyExc_PermissionError;
      break;
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnavailable:
      type = PyExc_OSError;
      break;
    default:
      type = PyExc_RuntimeError;
  }
  PyErr_SetString(type, message.c_str());
  throw pybind11::error_already_set();
}

template <typename T>
T ValueOrThrow(absl::StatusOr<T> value) {
  ThrowIfError(value.status());
  return *std::move(value);
}

}  // namespace ragperf::bindings

#endif  // RAGPERF_BINDINGS_STATUS_H_

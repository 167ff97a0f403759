// Copyright 2026 The ragperf Authors.
//
// status.h
// -----------------------------------------------------------------------------
// Turns an absl::Status from the core into the matching Python exception at
// the binding edge, with the one mapping of py_error.h (InvalidArgument ->
// ValueError, NotFound -> FileNotFoundError, ...).
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
#include "py_error.h"

namespace ragperf::bindings {

inline void ThrowIfError(const absl::Status& status) {
  if (status.ok()) return;
  SetPyError(status);
  throw pybind11::error_already_set();
}

template <typename T>
T ValueOrThrow(absl::StatusOr<T> value) {
  ThrowIfError(value.status());
  return *std::move(value);
}

}  // namespace ragperf::bindings

#endif  // RAGPERF_BINDINGS_STATUS_H_

// Copyright 2026 The ragperf Authors.
//
// operation_tracker_type.h
// -----------------------------------------------------------------------------
// The hot path of ragperf as plain CPython extension types (not pybind11
// classes, whose bound __enter__/__exit__ cost ~1.2 us per block):
//
//   _core.HotPath           one per monitor; its `track_operation(op,
//                           metadata=None, **kw)` (METH_FASTCALL) returns a
//                           new OperationTracker.
//   _core.OperationTracker  the object `with monitor.track_operation(...) as
//                           op:` binds: __enter__ reads the steady clock (and
//                           /proc/self/statm when memory tracking is on),
//                           __exit__ records into the C++ monitor. Also an
//                           async context manager. Exceptions propagate.
//
// Example (Python):
//
//   hot = core_monitor._hot_path()
//   with hot.track_operation("llm_inference", model="qwen") as op:
//       op.tokens = 150

#ifndef RAGPERF_BINDINGS_OPERATION_TRACKER_TYPE_H_
#define RAGPERF_BINDINGS_OPERATION_TRACKER_TYPE_H_

#include <Python.h>

#include <memory>

#include "ragperf/performance_monitor.h"

namespace ragperf::bindings {

// Readies the types and adds them to `module`. Returns -1 with a Python error
// set on failure.
int RegisterOperationTrackerTypes(PyObject* module);

// A new HotPath object (new reference) for `monitor`, or nullptr with a
// Python error set.
PyObject* NewHotPath(std::shared_ptr<PerformanceMonitor> monitor);

}  // namespace ragperf::bindings

#endif  // RAGPERF_BINDINGS_OPERATION_TRACKER_TYPE_H_

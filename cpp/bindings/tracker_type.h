// Copyright 2026 The ragperf Authors.
//
// tracker_type.h
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
// The binding is split by concern (tracker_objects.h lists the layouts):
//   hot_path_type.cpp        HotPath: names -> ids, track_operation, queries
//   hot_path_record.cpp      HotPath.record()
//   hot_path_dimensions.cpp  set_dimensions() and the per-dimension records
//   tracker_type.cpp         OperationTracker: enter/exit, spans, free list
//   tracker_properties.cpp   its attributes, streams, set_usage()
//   span_stack.cpp           the innermost block per context
//   ready_type.cpp           the awaitable of `async with`
//   py_args.*, py_error.h    conversions and Status -> exception
// The rules they follow are C++ core classes (SpanTree, BlockUsage,
// InFlightCounts, DimensionResolver, record_validator.h) with GoogleTest.
//
// Example (Python):
//
//   hot = core_monitor._hot_path()
//   with hot.track_operation("llm_inference", model="qwen") as op:
//       op.tokens = 150

#ifndef RAGPERF_BINDINGS_TRACKER_TYPE_H_
#define RAGPERF_BINDINGS_TRACKER_TYPE_H_

#include <Python.h>

#include <memory>

#include "ragperf/performance_monitor.h"

namespace ragperf::bindings {

// Readies the types, adds them and _set_usage_extractor to `module`.
// Returns -1 with a Python error set on failure.
int RegisterOperationTrackerTypes(PyObject* module);

// A new HotPath object (new reference) for `monitor`, or nullptr with a
// Python error set.
PyObject* NewHotPath(std::shared_ptr<PerformanceMonitor> monitor);

}  // namespace ragperf::bindings

#endif  // RAGPERF_BINDINGS_TRACKER_TYPE_H_

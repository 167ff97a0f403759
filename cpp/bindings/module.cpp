// Copyright 2026 The ragperf Authors.
//
// ragperf._core: the pybind11 module. Each area registers itself from its own
// register_<area>.cpp; the per-block hot path is plain CPython types
// (operation_tracker_type.cpp).

#include <pybind11/pybind11.h>

#include "operation_tracker_type.h"
#include "registers.h"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  m.doc() = "ragperf C++ core: quantile sketches, trackers, memory, tokens.";
  ragperf::bindings::RegisterSketch(m);
  ragperf::bindings::RegisterMemory(m);
  ragperf::bindings::RegisterTokens(m);
  ragperf::bindings::RegisterTracker(m);
  ragperf::bindings::RegisterMonitor(m);
  if (ragperf::bindings::RegisterOperationTrackerTypes(m.ptr()) < 0) {
    throw py::error_already_set();
  }
}

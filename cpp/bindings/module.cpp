// Copyright 2026 The ragperf Authors.
//
// ragperf._core: the pybind11 module. Each area registers itself from its own
// register_<area>.cpp; the per-block hot path is plain CPython types
// (tracker_type.h).

#include <pybind11/pybind11.h>

#include <cstdlib>
#include <cstring>

#include "absl/synchronization/mutex.h"
#include "http_exchange.h"
#include "tracker_type.h"
#include "registers.h"

namespace py = pybind11;

#ifndef RAGPERF_VERSION
#error "RAGPERF_VERSION (pyproject.toml's version) is defined by CMakeLists.txt"
#endif

PYBIND11_MODULE(_core, m) {
  m.doc() = "ragperf C++ core: quantile sketches, trackers, memory, tokens.";
  // pyproject.toml's version, passed in by CMake; ragperf.__version__ and
  // `ragperf --version` read this one.
  m.attr("__version__") = RAGPERF_VERSION;
  // Debian builds abseil without NDEBUG, which turns on absl::Mutex deadlock
  // detection: a lock-order graph update on every Lock/Unlock, ~20 ns of a
  // ~75 ns record. ragperf's locks are leaf locks (never nested), so the
  // check finds nothing here; RAGPERF_MUTEX_DEADLOCK_DETECTION=1 keeps it on.
  const char* detect = std::getenv("RAGPERF_MUTEX_DEADLOCK_DETECTION");
  if (detect == nullptr || std::strcmp(detect, "1") != 0) {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  }
  ragperf::bindings::RegisterSketch(m);
  ragperf::bindings::RegisterMemory(m);
  ragperf::bindings::RegisterTokens(m);
  ragperf::bindings::RegisterTracker(m);
  ragperf::bindings::RegisterMonitor(m);
  ragperf::bindings::RegisterResources(m);
  ragperf::bindings::RegisterUsage(m);
  ragperf::bindings::RegisterState(m);
  ragperf::bindings::RegisterDimensions(m);
  ragperf::bindings::RegisterConstants(m);
  ragperf::bindings::RegisterEnum(m);
  if (ragperf::bindings::RegisterOperationTrackerTypes(m.ptr()) < 0 ||
      ragperf::bindings::RegisterHttpExchangeTypes(m.ptr()) < 0) {
    throw py::error_already_set();
  }
}

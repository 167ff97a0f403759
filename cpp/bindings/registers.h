// Copyright 2026 The ragperf Authors.
//
// registers.h — one Register<Area> function per binding file; module.cpp
// calls them all.

#ifndef RAGPERF_BINDINGS_REGISTERS_H_
#define RAGPERF_BINDINGS_REGISTERS_H_

#include <pybind11/pybind11.h>

namespace ragperf::bindings {

void RegisterSketch(pybind11::module_& m);
void RegisterMemory(pybind11::module_& m);
void RegisterTokens(pybind11::module_& m);
void RegisterTracker(pybind11::module_& m);
void RegisterMonitor(pybind11::module_& m);
// After RegisterMonitor: adds resource methods to _core.Monitor.
void RegisterResources(pybind11::module_& m);
// After RegisterMonitor: models and cost, caches, errors, latency targets.
void RegisterUsage(pybind11::module_& m);
// After RegisterMonitor: merging a saved state (persistence, multi-process).
void RegisterState(pybind11::module_& m);
// After RegisterMonitor: statistics split by declared metadata keys.
void RegisterDimensions(pybind11::module_& m);
// Defaults, limits and schema constants as module attributes.
void RegisterConstants(pybind11::module_& m);
// _core._plain_class_getattr (register_enum.cpp).
void RegisterEnum(pybind11::module_& m);

}  // namespace ragperf::bindings

#endif  // RAGPERF_BINDINGS_REGISTERS_H_

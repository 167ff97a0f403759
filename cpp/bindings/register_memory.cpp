// Copyright 2026 The ragperf Authors.
//
// Python binding of ragperf::MemoryMonitor (process RSS/VMS history) and
// system memory through libproc2.

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "convert.h"
#include "ragperf/memory_monitor.h"
#include "ragperf/performance_monitor.h"
#include "registers.h"
#include "status.h"

namespace py = pybind11;

namespace ragperf::bindings {

void RegisterMemory(py::module_& m) {
  py::class_<MemoryMonitor>(m, "MemoryMonitor", R"doc(
Process memory (RSS/VMS from /proc/self/statm) with a bounded history.

Example:
    >>> mm = MemoryMonitor(max_history=100)
    >>> mm.sample()["rss_mb"] > 0
    True
)doc")
      .def(py::init([](long long max_history) {
             if (max_history < 1) {
               throw py::value_error("max_history must be >= 1, got " +
                                     std::to_string(max_history));
             }
             return std::make_unique<MemoryMonitor>(
                 static_cast<size_t>(max_history));
           }),
           // The monitor's default (_core.DEFAULT_MAX_HISTORY).
           py::arg("max_history") =
               static_cast<long long>(PerformanceMonitor::Options{}.max_history))
      .def_static(
          "read_usage",
          []() { return UsageToDict(ValueOrThrow(MemoryMonitor::ReadUsage())); },
          "Current {rss_mb, vms_mb} of this process (not recorded).")
      .def(
          "sample",
          [](MemoryMonitor& mm) { return UsageToDict(ValueOrThrow(mm.Sample())); },
          "Reads current usage and records it in the history.")
      .def(
          "get_stats",
          [](MemoryMonitor& mm) { return MemoryStatsToDict(mm.GetStats()); },
          "{current_rss_mb, current_vms_mb, min/max/avg_rss_mb, samples}.")
      .def(
          "history",
          [](const MemoryMonitor& mm) { return HistoryToList(mm.History()); },
          "Recorded samples, oldest first.")
      .def_property_readonly("max_history", &MemoryMonitor::max_history)
      .def("clear", &MemoryMonitor::Clear);
  m.def(
      "read_system_memory",
      []() {
        return SystemMemoryToDict(ValueOrThrow(MemoryMonitor::ReadSystemMemory()));
      },
      "System memory via procps libproc2: {total_mb, available_mb, used_mb, "
      "free_mb, used_percent}.");
}

}  // namespace ragperf::bindings

// Copyright 2026 The ragperf Authors.
//
// Python binding of ragperf::ResponseTimeTracker.

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <string>

#include "convert.h"
#include "ragperf/performance_monitor.h"
#include "ragperf/response_time_tracker.h"
#include "registers.h"
#include "status.h"

namespace py = pybind11;

namespace ragperf::bindings {

void RegisterTracker(py::module_& m) {
  py::class_<ResponseTimeTracker>(m, "ResponseTimeTracker", R"doc(
Per-operation durations: counts, sum/min/max, and p50/p95/p99 from a
mergeable quantile sketch. Thread-safe.

Example:
    >>> t = ResponseTimeTracker(max_history=1000)
    >>> t.record_duration("llm_inference", 1.5)
    >>> t.get_stats("llm_inference")["total"]
    1
)doc")
      .def(py::init([](long long max_history) {
             if (max_history < 1) {
               throw py::value_error("max_history must be >= 1, got " +
                                     std::to_string(max_history));
             }
             return std::make_unique<ResponseTimeTracker>(
                 static_cast<size_t>(max_history));
           }),
           py::arg("max_history") = ResponseTimeTracker::kDefaultMaxHistory)
      .def(
          "record_duration",
          [](ResponseTimeTracker& t, const std::string& name, double seconds) {
            if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e9) {
              throw py::value_error(
                  "duration must be a number of seconds in [0, 1e9], got " +
                  py::repr(py::float_(seconds)).cast<std::string>());
            }
            t.RecordDuration(name, seconds);
          },
          py::arg("operation"), py::arg("duration_s"))
      .def(
          "get_stats",
          [](const ResponseTimeTracker& t, const std::string& name) {
            return StatsToDict(t.GetStats(name));
          },
          py::arg("operation"))
      .def(
          "get_window_stats",
          [](const ResponseTimeTracker& t, const std::string& name,
             int window_minutes) {
            return StatsToDict(ValueOrThrow(
                t.GetWindowStats(name, window_minutes, WallNowSeconds())));
          },
          py::arg("operation"), py::arg("window_minutes"))
      .def(
          "get_all_stats",
          [](const ResponseTimeTracker& t) {
            py::list out;
            for (const OperationStats& s : t.GetAllStats()) out.append(StatsToDict(s));
            return out;
          })
      .def(
          "count",
          [](const ResponseTimeTracker& t, const std::string& name) {
            return t.Count(name);
          },
          py::arg("operation") = std::string())
      .def_property_readonly("max_history", &ResponseTimeTracker::max_history)
      .def("clear", &ResponseTimeTracker::Clear);
}

}  // namespace ragperf::bindings

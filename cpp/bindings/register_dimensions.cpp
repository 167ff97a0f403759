// Copyright 2026 The ragperf Authors.
//
// Dimensions: methods added to `_core.Monitor` reading the statistics of an
// operation split by declared metadata keys (wrapped by
// ragperf.PerformanceMonitor.get_breakdown / get_operation_stats(**dim)).
// Recording happens on the hot path (HotPath.set_dimensions).

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "convert.h"
#include "gil_release.h"
#include "ragperf/clock.h"
#include "ragperf/performance_monitor.h"
#include "registers.h"
#include "status.h"

namespace py = pybind11;

namespace ragperf::bindings {

void RegisterDimensions(py::module_& m) {
  using Monitor = PerformanceMonitor;
  auto cls = py::reinterpret_borrow<py::class_<Monitor, std::shared_ptr<Monitor>>>(
      m.attr("Monitor"));
  cls.def(
         "dimension_stats",
         [](const Monitor& self, const std::string& operation,
            const std::string& dimension, const std::string& value,
            int window_minutes) {
           absl::StatusOr<OperationStats> s;
           {
             GilRelease release;
             s = self.GetDimensionStats(operation, dimension, value,
                                        window_minutes, WallNowSeconds());
           }
           return StatsToDict(ValueOrThrow(std::move(s)));
         },
         py::arg("operation"), py::arg("dimension"), py::arg("value"),
         py::arg("window_minutes") = 0,
         "Statistics of `operation` for one value of a dimension; "
         "window_minutes 0 = all time.")
      .def(
          "get_sketch",
          [](const Monitor& self, const std::string& operation,
             int window_minutes, double now_s, const std::string& dimension,
             const std::string& value) {
            absl::StatusOr<OperationStats> s;
            {
              GilRelease release;
              const double now = now_s > 0 ? now_s : WallNowSeconds();
              if (!dimension.empty()) {
                s = self.GetDimensionStats(operation, dimension, value,
                                           window_minutes, now);
              } else if (window_minutes == 0) {
                s = self.GetStats(operation);
              } else {
                s = self.GetWindowStats(operation, window_minutes, now);
              }
            }
            std::string blob = ValueOrThrow(std::move(s)).sketch.Serialize();
            return py::bytes(blob);
          },
          py::arg("operation"), py::arg("window_minutes") = 0,
          py::arg("now_s") = 0.0, py::arg("dimension") = std::string(),
          py::arg("value") = std::string(),
          "The duration sketch (QuantileSketch.serialize() bytes) of "
          "`operation`: all-time (window_minutes 0) or merged over the last "
          "window_minutes one-minute windows as seen at now_s (0 = now); "
          "with `dimension`, of one value of that dimension. Empty for an "
          "unknown operation.")
      .def(
          "dimension_values",
          [](const Monitor& self, const std::string& operation,
             const std::string& dimension) {
            return self.dimensions().Values(operation, dimension);
          },
          py::arg("operation"), py::arg("dimension"),
          "Values seen for (operation, dimension), sorted.")
      .def(
          "dimension_pairs",
          [](const Monitor& self) { return self.dimensions().Pairs(); },
          "Every (operation, dimension) with recorded values, sorted.")
      .def(
          "set_max_dimension_values",
          [](Monitor& self, long long max_values) {
            if (max_values < 1) {
              throw py::value_error("max_dimension_values must be >= 1, got " +
                                    std::to_string(max_values));
            }
            self.dimensions().set_max_values(static_cast<size_t>(max_values));
          },
          py::arg("max_values"),
          "Cap of distinct values per (operation, dimension); later values "
          "are recorded as '__other__'.")
      .def("max_dimension_values",
           [](const Monitor& self) { return self.dimensions().max_values(); });
}

}  // namespace ragperf::bindings

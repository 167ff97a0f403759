// Copyright 2026 The ragperf Authors.
//
// Python binding of ragperf::PerformanceMonitor as `_core.Monitor`, the
// engine behind the Python `PerformanceMonitor` facade. Reads release the GIL
// while merging shards; the per-block path lives in tracker_type.h.

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <memory>
#include <string>

#include "convert.h"
#include "gil_release.h"
#include "tracker_type.h"
#include "ragperf/atomic_file.h"
#include "ragperf/performance_monitor.h"
#include "ragperf/rss_cache.h"
#include "registers.h"
#include "status.h"

namespace py = pybind11;

namespace ragperf::bindings {
namespace {

// The one warning of a name overflow (`what`: "operation" or "model"), on
// the `ragperf` logger (not warnings.warn: with warnings turned into errors
// it would raise into the user's `with` statement). Runs on the thread that
// used the new name.
void WarnOverflow(const char* what, absl::string_view name, size_t cap) {
  py::gil_scoped_acquire gil;
  try {
    py::module_::import("logging")
        .attr("getLogger")("ragperf")
        .attr("warning")(
            "ragperf: more than %d distinct %s names; %r and every later new "
            "name are recorded as '__other__' (raise "
            "PerformanceMonitor(max_operations=...) if this is expected)",
            cap, what, py::str(name.data(), name.size()));
  } catch (py::error_already_set&) {
    // Dropped: a broken logging set-up must not fail the block that used
    // the name (the operation count stays readable as Monitor.overflow_names).
  }
}

void WarnOperationOverflow(absl::string_view name, size_t max_operations) {
  WarnOverflow("operation", name, max_operations);
}

void WarnModelOverflow(absl::string_view name, size_t max_models) {
  WarnOverflow("model", name, max_models);
}

}  // namespace

void RegisterMonitor(py::module_& m) {
  using Monitor = PerformanceMonitor;
  const Monitor::Options defaults;
  py::class_<Monitor, std::shared_ptr<Monitor>>(m, "Monitor", R"doc(
The C++ performance monitor. Use ragperf.PerformanceMonitor, which wraps it.

Example:
    >>> core = Monitor(enable_memory_tracking=False)
    >>> hot = core._hot_path()
    >>> with hot.track_operation("x"): pass
    >>> core.count("x")
    1
)doc")
      .def(py::init([](bool enable_memory_tracking, long long max_history,
                       double relative_accuracy, double memory_threshold_mb,
                       double error_rate_threshold, double memory_max_age_us,
                       bool track_gpu_memory,
                       double system_memory_percent_threshold,
                       double gpu_memory_percent_threshold,
                       double cpu_percent_threshold,
                       long long max_resource_samples,
                       long long max_operations) {
             if (max_history < 1) {
               throw py::value_error("max_history must be >= 1, got " +
                                     std::to_string(max_history));
             }
             Monitor::Options o;
             o.enable_memory_tracking = enable_memory_tracking;
             o.max_history = static_cast<size_t>(max_history);
             o.relative_accuracy = relative_accuracy;
             o.memory_threshold_mb = memory_threshold_mb;
             o.error_rate_threshold = error_rate_threshold;
             // Checked before the conversion (NaN, out of int64 range).
             ThrowIfError(Monitor::CheckMemoryMaxAgeUs(memory_max_age_us));
             o.memory_max_age_ns = static_cast<int64_t>(memory_max_age_us * 1e3);
             o.track_gpu_memory = track_gpu_memory;
             o.system_memory_percent_threshold = system_memory_percent_threshold;
             o.gpu_memory_percent_threshold = gpu_memory_percent_threshold;
             o.cpu_percent_threshold = cpu_percent_threshold;
             if (max_resource_samples < 1) {
               throw py::value_error("max_resource_samples must be >= 1, got " +
                                     std::to_string(max_resource_samples));
             }
             o.max_resource_samples = static_cast<size_t>(max_resource_samples);
             if (max_operations < 1) {
               throw py::value_error("max_operations must be >= 1, got " +
                                     std::to_string(max_operations));
             }
             o.max_operations = static_cast<size_t>(max_operations);
             ThrowIfError(Monitor::ValidateOptions(o));
             auto monitor = std::make_shared<Monitor>(o);
             monitor->operation_cap().SetOverflowCallback(&WarnOperationOverflow);
             monitor->models().SetOverflowCallback(&WarnModelOverflow);
             return monitor;
           }),
           // The defaults are Options{}'s (also _core.DEFAULT_*).
           py::arg("enable_memory_tracking") = defaults.enable_memory_tracking,
           py::arg("max_history") = static_cast<long long>(defaults.max_history),
           py::arg("relative_accuracy") = defaults.relative_accuracy,
           py::arg("memory_threshold_mb") = defaults.memory_threshold_mb,
           py::arg("error_rate_threshold") = defaults.error_rate_threshold,
           py::arg("memory_max_age_us") =
               static_cast<double>(defaults.memory_max_age_ns) / 1e3,
           py::arg("track_gpu_memory") = defaults.track_gpu_memory,
           py::arg("system_memory_percent_threshold") =
               defaults.system_memory_percent_threshold,
           py::arg("gpu_memory_percent_threshold") =
               defaults.gpu_memory_percent_threshold,
           py::arg("cpu_percent_threshold") = defaults.cpu_percent_threshold,
           py::arg("max_resource_samples") =
               static_cast<long long>(defaults.max_resource_samples),
           py::arg("max_operations") = static_cast<long long>(defaults.max_operations))
      .def("_hot_path",
           [](std::shared_ptr<Monitor> self) {
             PyObject* hot = NewHotPath(std::move(self));
             if (hot == nullptr) throw py::error_already_set();
             return py::reinterpret_steal<py::object>(hot);
           })
      .def(
          "record",
          [](Monitor& self, int op_id, double duration_s, int64_t tokens,
             int64_t prompt_tokens, int64_t completion_tokens, bool success,
             const std::string& error_type, py::object memory_delta_mb,
             double timestamp_s) {
            if (op_id < 0 || self.tracker().NameOf(op_id).empty()) {
              throw py::value_error("unknown operation id " + std::to_string(op_id));
            }
            OperationRecord rec;
            rec.duration_s = duration_s;
            rec.tokens = tokens;
            rec.prompt_tokens = prompt_tokens;
            rec.completion_tokens = completion_tokens;
            rec.success = success;
            rec.error_type = error_type;
            if (!memory_delta_mb.is_none()) {
              rec.has_memory_delta = true;
              rec.memory_delta_mb = memory_delta_mb.cast<double>();
            }
            rec.timestamp_s = timestamp_s > 0 ? timestamp_s : WallNowSeconds();
            self.Record(op_id, rec);
          },
          py::arg("op_id"), py::arg("duration_s"), py::arg("tokens") = 0,
          py::arg("prompt_tokens") = 0, py::arg("completion_tokens") = 0,
          py::arg("success") = true, py::arg("error_type") = std::string(),
          py::arg("memory_delta_mb") = py::none(), py::arg("timestamp_s") = 0.0,
          "Records one operation by id (from HotPath.resolve); the Python "
          "facade validates values first.")
      .def(
          "get_stats",
          [](const Monitor& self, const std::string& name,
             bool exclude_cold_start) {
            OperationStats s;
            {
              GilRelease release;
              s = self.GetStats(name, exclude_cold_start);
            }
            return StatsToDict(s);
          },
          py::arg("operation"), py::arg("exclude_cold_start") = false)
      .def(
          "get_window_stats",
          [](const Monitor& self, const std::string& name, int window_minutes,
             double now_s) {
            absl::StatusOr<OperationStats> s;
            {
              GilRelease release;
              // now_s lets alert and regression checks run on a caller's clock.
              s = self.GetWindowStats(name, window_minutes,
                                      now_s > 0 ? now_s : WallNowSeconds());
            }
            return StatsToDict(ValueOrThrow(std::move(s)));
          },
          py::arg("operation"), py::arg("window_minutes"),
          py::arg("now_s") = 0.0)
      .def("get_all_stats",
           [](const Monitor& self, bool exclude_cold_start) {
             std::vector<OperationStats> all;
             {
               GilRelease release;
               all = self.GetAllStats(exclude_cold_start);
             }
             py::list out;
             for (const OperationStats& s : all) out.append(StatsToDict(s));
             return out;
           }, py::arg("exclude_cold_start") = false)
      .def(
          "get_recent",
          [](const Monitor& self, const std::string& name, size_t limit) {
            py::list out;
            for (const RecentRecord& r : self.tracker().GetRecent(name, limit)) {
              out.append(RecentToDict(r));
            }
            return out;
          },
          py::arg("operation"), py::arg("limit"))
      .def(
          "count",
          [](const Monitor& self, const std::string& name) {
            return self.tracker().Count(name);
          },
          py::arg("operation") = std::string())
      .def("operation_count",
           [](const Monitor& self) { return self.tracker().OperationCount(); })
      .def("memory_stats",
           [](Monitor& self) { return MemoryStatsToDict(self.memory().GetStats()); })
      .def("health",
           [](Monitor& self) {
             HealthStatus h;
             {
               GilRelease release;
               h = self.GetHealth();
             }
             return HealthToDict(h);
           })
      .def(
          "report_json",
          [](Monitor& self, int indent) {
            GilRelease release;
            return Monitor::ReportToJson(self.GenerateReport(), indent);
          },
          py::arg("indent") = 0, "The report as JSON text.")
      .def_static(
          "write_file_atomically",
          [](const std::string& path, const std::string& text) {
            absl::Status status;
            {
              GilRelease release;
              status = WriteFileAtomically(path, text);
            }
            ThrowIfError(status);
          },
          py::arg("path"), py::arg("text"),
          "Writes text to path atomically (temp file in the same directory, "
          "fsync, rename).")
      .def_property("memory_tracking", &Monitor::memory_tracking,
                    &Monitor::set_memory_tracking)
      .def_property(
          "memory_max_age_us",
          [](const Monitor& self) {
            return static_cast<double>(self.memory_max_age_ns()) / 1e3;
          },
          [](Monitor& self, double us) {
            ThrowIfError(Monitor::CheckMemoryMaxAgeUs(us));  // before the conversion
            ThrowIfError(self.SetMemoryMaxAgeNs(static_cast<int64_t>(us * 1e3)));
          })
      .def_property(
          "memory_threshold_mb", &Monitor::memory_threshold_mb,
          [](Monitor& self, double v) { ThrowIfError(self.SetMemoryThresholdMb(v)); })
      .def_property(
          "error_rate_threshold", &Monitor::error_rate_threshold,
          [](Monitor& self, double v) { ThrowIfError(self.SetErrorRateThreshold(v)); })
      .def_property_readonly("max_history",
                             [](const Monitor& self) { return self.tracker().max_history(); })
      .def_property_readonly(
          "max_operations",
          [](const Monitor& self) { return self.operation_cap().max_operations(); })
      .def_property_readonly(
          "overflow_names",
          [](const Monitor& self) { return self.operation_cap().overflow_names(); },
          "New operation names recorded as '__other__' because the cap was reached.")
      .def_static("rss_reads", []() { return RssCache::Instance().reads(); },
                  "How many times blocks actually read /proc/self/statm.")
      .def("memory_bytes",
           [](const Monitor& self) { return self.MemoryBytes(); },
           "Heap bytes held by the per-operation statistics.")
      .def("clear", [](Monitor& self) {
        GilRelease release;
        self.Clear();
      });
}

}  // namespace ragperf::bindings

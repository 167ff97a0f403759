// Copyright 2026 The ragperf Authors.
//
// Python binding of the system-resource side of the monitor: the background
// ResourceSampler, GPU status through NVML (GpuMonitor), and the resource
// health thresholds. Adds methods to `_core.Monitor` and the module function
// `read_gpu_status`.

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "gil_release.h"
#include "ragperf/gpu_monitor.h"
#include "ragperf/performance_monitor.h"
#include "ragperf/resource_sampler.h"
#include "registers.h"
#include "status.h"

namespace py = pybind11;

namespace ragperf::bindings {
namespace {

py::object Known(double value) {
  return value >= 0 ? py::object(py::float_(value)) : py::object(py::none());
}

py::dict GpuSnapshotToDict(const GpuSnapshot& g) {
  py::dict d;
  d["available"] = g.available;
  d["memory_used_mb"] = g.memory_used_mb;
  d["memory_total_mb"] = g.memory_total_mb;
  d["utilization_percent"] = Known(g.utilization_percent);
  d["process_memory_mb"] = Known(g.process_memory_mb);
  return d;
}

py::dict SampleToDict(const ResourceSample& s) {
  py::dict d;
  d["timestamp_s"] = s.timestamp_s;
  d["rss_mb"] = s.rss_mb;
  d["vms_mb"] = s.vms_mb;
  d["cpu_percent"] = Known(s.cpu_percent);
  d["system_total_mb"] = s.system_total_mb;
  d["system_available_mb"] = s.system_available_mb;
  d["system_used_percent"] = s.system_used_percent;
  d["load1"] = s.load1;
  d["load5"] = s.load5;
  d["load15"] = s.load15;
  d["gpu"] = GpuSnapshotToDict(s.gpu);
  return d;
}

py::dict SeriesToDict(const SeriesStats& s) {
  py::dict d;
  d["samples"] = s.count;
  d["last"] = s.count > 0 ? py::object(py::float_(s.last)) : py::object(py::none());
  d["min"] = s.count > 0 ? py::object(py::float_(s.min)) : py::object(py::none());
  d["max"] = s.count > 0 ? py::object(py::float_(s.max)) : py::object(py::none());
  d["avg"] = s.count > 0 ? py::object(py::float_(s.avg)) : py::object(py::none());
  return d;
}

py::dict ResourceStatsToDict(const ResourceStats& r) {
  py::dict d;
  d["sampler_running"] = r.running;
  d["interval_s"] = r.interval_s;
  d["samples"] = r.samples;
  d["rss_mb"] = SeriesToDict(r.rss_mb);
  d["vms_mb"] = SeriesToDict(r.vms_mb);
  d["cpu_percent"] = SeriesToDict(r.cpu_percent);
  d["system_used_percent"] = SeriesToDict(r.system_used_percent);
  d["load1"] = SeriesToDict(r.load1);
  d["gpu_memory_used_mb"] = SeriesToDict(r.gpu_memory_used_mb);
  d["gpu_utilization_percent"] = SeriesToDict(r.gpu_utilization_percent);
  d["gpu_process_memory_mb"] = SeriesToDict(r.gpu_process_memory_mb);
  return d;
}

py::dict GpuStatusToDict(const GpuStatus& g) {
  py::dict d;
  d["available"] = g.available;
  d["reason"] = g.reason;
  d["library"] = g.library;
  d["driver_version"] = g.driver_version;
  py::list devices;
  for (const GpuDevice& dev : g.devices) {
    py::dict x;
    x["index"] = dev.index;
    x["name"] = dev.name;
    x["memory_used_mb"] = dev.memory_used_mb;
    x["memory_total_mb"] = dev.memory_total_mb;
    x["utilization_percent"] = Known(dev.utilization_percent);
    x["process_memory_mb"] = Known(dev.process_memory_mb);
    devices.append(x);
  }
  d["devices"] = devices;
  return d;
}

}  // namespace

void RegisterResources(py::module_& m) {
  using Monitor = PerformanceMonitor;
  auto cls = py::reinterpret_borrow<py::class_<Monitor, std::shared_ptr<Monitor>>>(
      m.attr("Monitor"));
  cls.def(
         "start_sampler",
         [](Monitor& self, double interval_s) {
           absl::Status status;
           {
             // Joins a previous thread and takes a first sample (GPU too).
             GilRelease release;
             status = self.StartSampler(interval_s);
           }
           ThrowIfError(status);
         },
         py::arg("interval_s"),
         "Starts (or restarts) the background resource sampler thread.")
      .def(
          "stop_sampler",
          [](Monitor& self) {
            GilRelease release;  // joins the thread
            self.StopSampler();
          },
          "Stops the sampler thread (idempotent).")
      .def_property_readonly(
          "sampler_running", [](Monitor& self) { return self.sampler().running(); })
      .def_property_readonly(
          "sampler_interval_s", [](Monitor& self) { return self.sampler().interval_s(); })
      .def_property_readonly(
          "sampler_was_running_at_fork",
          [](Monitor& self) { return self.sampler().was_running_at_fork(); },
          "In a fork child: whether the parent was sampling when it forked.")
      .def(
          "sample_resources",
          [](Monitor& self) {
            ResourceSample s;
            {
              GilRelease release;
              s = self.sampler().SampleNow();
            }
            return SampleToDict(s);
          },
          "Takes one resource sample now (recorded like the thread's).")
      .def(
          "resource_stats",
          [](Monitor& self) { return ResourceStatsToDict(self.sampler().GetStats()); })
      .def(
          "resource_history",
          [](Monitor& self, size_t limit) {
            py::list out;
            for (const ResourceSample& s : self.sampler().History(limit)) {
              out.append(SampleToDict(s));
            }
            return out;
          },
          py::arg("limit") = 0)
      .def_property(
          "track_gpu_memory", &Monitor::track_gpu_memory,
          &Monitor::set_track_gpu_memory)
      .def_property(
          "system_memory_percent_threshold",
          &Monitor::system_memory_percent_threshold,
          [](Monitor& self, double v) {
            ThrowIfError(self.SetSystemMemoryPercentThreshold(v));
          })
      .def_property(
          "gpu_memory_percent_threshold", &Monitor::gpu_memory_percent_threshold,
          [](Monitor& self, double v) {
            ThrowIfError(self.SetGpuMemoryPercentThreshold(v));
          })
      .def_property(
          "cpu_percent_threshold", &Monitor::cpu_percent_threshold,
          [](Monitor& self, double v) { ThrowIfError(self.SetCpuPercentThreshold(v)); });

  m.def(
      "read_gpu_status",
      [](const std::string& library) {
        GpuStatus status;
        {
          GilRelease release;
          if (library.empty()) {
            status = GpuMonitor::Default().Read();
          } else {
            GpuMonitor gpu(library);
            status = gpu.Read();
          }
        }
        return GpuStatusToDict(status);
      },
      py::arg("library") = std::string(),
      "GPU status through NVML loaded at run time: {available, reason, "
      "library, driver_version, devices: [...]}. `library` overrides the NVML "
      "path ($RAGPERF_NVML_LIBRARY, else libnvidia-ml.so.1).");
}

}  // namespace ragperf::bindings

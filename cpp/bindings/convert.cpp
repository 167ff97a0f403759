// Copyright 2026 The ragperf Authors.

#include "convert.h"

#include <pybind11/stl.h>

namespace py = pybind11;

namespace ragperf::bindings {

py::dict StatsToDict(const OperationStats& s) {
  py::dict d;
  d["name"] = s.name;
  d["total"] = s.total;
  d["successful"] = s.successful;
  d["failed"] = s.failed;
  d["error_rate"] = s.error_rate;
  d["sum_s"] = s.sum_s;
  d["min_s"] = s.min_s;
  d["max_s"] = s.max_s;
  d["avg_s"] = s.avg_s;
  d["p50_s"] = s.p50_s;
  d["p90_s"] = s.p90_s;
  d["p95_s"] = s.p95_s;
  d["p99_s"] = s.p99_s;
  d["total_tokens"] = s.total_tokens;
  d["prompt_tokens"] = s.prompt_tokens;
  d["completion_tokens"] = s.completion_tokens;
  d["avg_tokens"] = s.avg_tokens;
  d["tokens_per_second"] = s.tokens_per_second;
  d["memory_samples"] = s.memory_samples;
  d["total_memory_delta_mb"] = s.total_memory_delta_mb;
  d["avg_memory_delta_mb"] = s.avg_memory_delta_mb;
  d["gpu_memory_samples"] = s.gpu_memory_samples;
  d["total_gpu_memory_delta_mb"] = s.total_gpu_memory_delta_mb;
  d["avg_gpu_memory_delta_mb"] = s.avg_gpu_memory_delta_mb;
  d["first_timestamp_s"] = s.first_timestamp_s;
  d["last_timestamp_s"] = s.last_timestamp_s;
  d["window_s"] = s.window_s;
  py::dict errors;
  for (const auto& [type, count] : s.errors_by_type) errors[py::str(type)] = count;
  d["errors_by_type"] = errors;
  return d;
}

py::dict RecentToDict(const RecentRecord& r) {
  py::dict d;
  d["timestamp_s"] = r.timestamp_s;
  d["duration_s"] = r.duration_s;
  d["tokens"] = r.tokens;
  d["success"] = r.success;
  d["memory_delta_mb"] =
      r.has_memory_delta ? py::object(py::float_(r.memory_delta_mb)) : py::none();
  d["error_type"] = r.success ? py::object(py::none()) : py::object(py::str(r.error_type));
  return d;
}

py::dict UsageToDict(const MemoryUsage& u) {
  py::dict d;
  d["rss_mb"] = u.rss_mb;
  d["vms_mb"] = u.vms_mb;
  return d;
}

py::dict MemoryStatsToDict(const MemoryStats& s) {
  py::dict d;
  d["current_rss_mb"] = s.current_rss_mb;
  d["current_vms_mb"] = s.current_vms_mb;
  d["min_rss_mb"] = s.min_rss_mb;
  d["max_rss_mb"] = s.max_rss_mb;
  d["avg_rss_mb"] = s.avg_rss_mb;
  d["samples"] = s.samples;
  return d;
}

py::dict SystemMemoryToDict(const SystemMemory& s) {
  py::dict d;
  d["total_mb"] = s.total_mb;
  d["available_mb"] = s.available_mb;
  d["used_mb"] = s.used_mb;
  d["free_mb"] = s.free_mb;
  d["used_percent"] = s.used_percent;
  return d;
}

py::dict HealthToDict(const HealthStatus& h) {
  py::dict d;
  d["status"] = h.healthy ? "healthy" : "warning";
  d["memory_mb"] = h.memory_mb;
  d["total_operations"] = h.total_operations;
  py::list issues;
  for (const std::string& issue : h.issues) issues.append(issue);
  d["issues"] = issues;
  return d;
}

py::list HistoryToList(const std::vector<MemorySample>& samples) {
  py::list out;
  for (const MemorySample& s : samples) {
    py::dict d;
    d["timestamp_s"] = s.timestamp_s;
    d["rss_mb"] = s.rss_mb;
    d["vms_mb"] = s.vms_mb;
    out.append(d);
  }
  return out;
}

}  // namespace ragperf::bindings

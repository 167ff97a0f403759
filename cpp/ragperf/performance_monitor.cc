// Copyright 2026 The ragperf Authors.

#include "ragperf/performance_monitor.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ragperf/atomic_file.h"
#include "ragperf/json_writer.h"

namespace ragperf {
namespace {
constexpr int64_t kMaxAgeLimitNs = 1000000000;

// The sampler's view of the GPUs: totals over devices.
GpuSnapshot SnapshotOf(const GpuStatus& status) {
  GpuSnapshot snap;
  snap.available = status.available;
  if (!status.available) return snap;
  double util_sum = 0;
  int util_known = 0;
  bool process_known = false;
  double process_mb = 0;
  for (const GpuDevice& d : status.devices) {
    snap.memory_used_mb += d.memory_used_mb;
    snap.memory_total_mb += d.memory_total_mb;
    if (d.utilization_percent >= 0) {
      util_sum += d.utilization_percent;
      ++util_known;
    }
    if (d.process_memory_mb >= 0) {
      process_known = true;
      process_mb += d.process_memory_mb;
    }
  }
  snap.utilization_percent = util_known > 0 ? util_sum / util_known : -1;
  snap.process_memory_mb = process_known ? process_mb : -1;
  return snap;
}

absl::Status CheckPercent(absl::string_view name, double percent) {
  if (!(percent >= 0 && percent <= 100)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s must be between 0 (off) and 100, got %g", name, percent));
  }
  return absl::OkStatus();
}
}  // namespace

PerformanceMonitor::PerformanceMonitor(const Options& options)
    : tracker_(options.max_history, options.relative_accuracy),
      memory_(options.max_history),
      memory_tracking_(options.enable_memory_tracking),
      memory_max_age_ns_(options.memory_max_age_ns),
      memory_threshold_mb_(options.memory_threshold_mb),
      error_rate_threshold_(options.error_rate_threshold),
      track_gpu_memory_(options.track_gpu_memory),
      system_memory_percent_threshold_(options.system_memory_percent_threshold),
      gpu_memory_percent_threshold_(options.gpu_memory_percent_threshold),
      cpu_percent_threshold_(options.cpu_percent_threshold),
      sampler_(options.max_resource_samples,
               [] { return SnapshotOf(GpuMonitor::Default().Read()); }) {}

absl::Status PerformanceMonitor::ValidateOptions(const Options& options) {
  if (options.max_history < 1) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "max_history must be >= 1, got %d", options.max_history));
  }
  if (!(options.relative_accuracy > 0 && options.relative_accuracy < 1)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "relative_accuracy must be in (0, 1), got %g",
        options.relative_accuracy));
  }
  if (!(options.memory_threshold_mb > 0) ||
      !std::isfinite(options.memory_threshold_mb)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "memory_threshold_mb must be a finite number > 0, got %g",
        options.memory_threshold_mb));
  }
  if (!(options.error_rate_threshold >= 0 &&
        options.error_rate_threshold <= 1)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "error_rate_threshold must be in [0, 1], got %g",
        options.error_rate_threshold));
  }
  for (const auto& [name, value] :
       {std::pair<absl::string_view, double>{
            "system_memory_percent_threshold",
            options.system_memory_percent_threshold},
        {"gpu_memory_percent_threshold", options.gpu_memory_percent_threshold}}) {
    absl::Status s = CheckPercent(name, value);
    if (!s.ok()) return s;
  }
  if (!(options.cpu_percent_threshold >= 0) ||
      !std::isfinite(options.cpu_percent_threshold)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "cpu_percent_threshold must be a finite number >= 0 (0 = off), got %g",
        options.cpu_percent_threshold));
  }
  if (options.max_resource_samples < 1) {
    return absl::InvalidArgumentError("max_resource_samples must be >= 1");
  }
  if (options.memory_max_age_ns < 0 || options.memory_max_age_ns > kMaxAgeLimitNs) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "memory_max_age must be between 0 and 1 s, got %d ns",
        options.memory_max_age_ns));
  }
  return absl::OkStatus();
}

absl::Status PerformanceMonitor::SetSystemMemoryPercentThreshold(
    double percent) {
  absl::Status s = CheckPercent("system_memory_percent_threshold", percent);
  if (s.ok()) system_memory_percent_threshold_.store(percent);
  return s;
}

absl::Status PerformanceMonitor::SetGpuMemoryPercentThreshold(double percent) {
  absl::Status s = CheckPercent("gpu_memory_percent_threshold", percent);
  if (s.ok()) gpu_memory_percent_threshold_.store(percent);
  return s;
}

absl::Status PerformanceMonitor::SetCpuPercentThreshold(double percent) {
  if (!(percent >= 0) || !std::isfinite(percent)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "cpu_percent_threshold must be a finite number >= 0 (0 = off), got %g",
        percent));
  }
  cpu_percent_threshold_.store(percent);
  return absl::OkStatus();
}

absl::Status PerformanceMonitor::SetMemoryMaxAgeNs(int64_t ns) {
  if (ns < 0 || ns > kMaxAgeLimitNs) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "memory_max_age must be between 0 and 1 s, got %d ns", ns));
  }
  memory_max_age_ns_.store(ns, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status PerformanceMonitor::SetMemoryThresholdMb(double mb) {
  if (!(mb > 0) || !std::isfinite(mb)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "memory_threshold_mb must be a finite number > 0, got %g", mb));
  }
  memory_threshold_mb_.store(mb);
  return absl::OkStatus();
}

absl::Status PerformanceMonitor::SetErrorRateThreshold(double rate) {
  if (!(rate >= 0 && rate <= 1)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "error_rate_threshold must be in [0, 1], got %g", rate));
  }
  error_rate_threshold_.store(rate);
  return absl::OkStatus();
}

HealthStatus PerformanceMonitor::HealthFrom(
    const std::vector<OperationStats>& ops, double rss_mb, uint64_t total,
    const absl::StatusOr<SystemMemory>& system, const GpuStatus& gpu) const {
  HealthStatus health;
  health.memory_mb = rss_mb;
  health.total_operations = total;
  const double memory_limit = memory_threshold_mb();
  if (rss_mb > memory_limit) {
    health.issues.push_back(absl::StrFormat(
        "High memory: %.1fMB (threshold %.0fMB)", rss_mb, memory_limit));
  }
  const double rate_limit = error_rate_threshold();
  for (const OperationStats& op : ops) {
    if (op.total > 0 && op.error_rate > rate_limit) {
      health.issues.push_back(absl::StrFormat(
          "High error rate in %s: %.1f%% (%d of %d failed, threshold %.1f%%)",
          op.name, op.error_rate * 100, op.failed, op.total,
          rate_limit * 100));
    }
  }
  const double system_limit = system_memory_percent_threshold();
  if (system_limit > 0 && system.ok() && system->used_percent > system_limit) {
    health.issues.push_back(absl::StrFormat(
        "High system memory use: %.1f%% of %.0fMB (threshold %.0f%%)",
        system->used_percent, system->total_mb, system_limit));
  }
  const double gpu_limit = gpu_memory_percent_threshold();
  if (gpu_limit > 0 && gpu.available) {
    for (const GpuDevice& d : gpu.devices) {
      if (d.memory_total_mb <= 0) continue;
      const double percent = 100 * d.memory_used_mb / d.memory_total_mb;
      if (percent > gpu_limit) {
        health.issues.push_back(absl::StrFormat(
            "High GPU memory use on GPU %d (%s): %.1f%% of %.0fMB "
            "(threshold %.0f%%)",
            d.index, d.name, percent, d.memory_total_mb, gpu_limit));
      }
    }
  }
  const double cpu_limit = cpu_percent_threshold();
  if (cpu_limit > 0) {
    const std::vector<ResourceSample> last = sampler_.History(1);
    if (!last.empty() && last.back().cpu_percent > cpu_limit) {
      health.issues.push_back(absl::StrFormat(
          "High CPU use: %.1f%% (threshold %.0f%%)", last.back().cpu_percent,
          cpu_limit));
    }
  }
  health.healthy = health.issues.empty();
  return health;
}

HealthStatus PerformanceMonitor::GetHealth() {
  const std::vector<OperationStats> ops = tracker_.GetAllStats();
  uint64_t total = 0;
  for (const OperationStats& op : ops) total += op.total;
  const absl::StatusOr<MemoryUsage> usage = MemoryMonitor::ReadUsage();
  return HealthFrom(ops, usage.ok() ? usage->rss_mb : 0, total,
                    MemoryMonitor::ReadSystemMemory(),
                    GpuMonitor::Default().Read());
}

Report PerformanceMonitor::GenerateReport() {
  Report report;
  const absl::Time now = absl::Now();
  report.timestamp =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E6S", now, absl::LocalTimeZone());
  report.timestamp_unix_s = absl::ToDoubleSeconds(now - absl::UnixEpoch());
  report.operations = tracker_.GetAllStats();
  for (const OperationStats& op : report.operations) {
    report.total_operations += op.total;
    report.total_failed += op.failed;
  }
  report.memory_tracking = memory_tracking();
  report.memory = memory_.GetStats();
  const absl::StatusOr<SystemMemory> system = MemoryMonitor::ReadSystemMemory();
  if (system.ok()) {
    report.has_system_memory = true;
    report.system_memory = *system;
  }
  report.gpu = GpuMonitor::Default().Read();
  report.resources = sampler_.GetStats();
  report.health = HealthFrom(report.operations, report.memory.current_rss_mb,
                             report.total_operations, system, report.gpu);
  return report;
}

namespace {

void WriteOperation(const OperationStats& op, JsonWriter& w) {
  w.BeginObject();
  w.Key("total").UInt(op.total);
  w.Key("successful").UInt(op.successful);
  w.Key("failed").UInt(op.failed);
  w.Key("error_rate").Double(op.error_rate);
  w.Key("duration").BeginObject();
  w.Key("min").Double(op.min_s);
  w.Key("max").Double(op.max_s);
  w.Key("avg").Double(op.avg_s);
  w.Key("p50").Double(op.p50_s);
  w.Key("p95").Double(op.p95_s);
  w.Key("p99").Double(op.p99_s);
  w.Key("p90").Double(op.p90_s);
  w.Key("total_s").Double(op.sum_s);
  w.EndObject();
  w.Key("tokens").BeginObject();
  w.Key("total").Int(op.total_tokens);
  w.Key("avg").Double(op.avg_tokens);
  w.Key("prompt").Int(op.prompt_tokens);
  w.Key("completion").Int(op.completion_tokens);
  w.Key("per_second").Double(op.tokens_per_second);
  w.EndObject();
  w.Key("memory").BeginObject();
  w.Key("samples").UInt(op.memory_samples);
  w.Key("total_delta_mb").Double(op.total_memory_delta_mb);
  w.Key("avg_delta_mb").Double(op.avg_memory_delta_mb);
  w.EndObject();
  w.Key("gpu_memory").BeginObject();
  w.Key("samples").UInt(op.gpu_memory_samples);
  w.Key("total_delta_mb").Double(op.total_gpu_memory_delta_mb);
  w.Key("avg_delta_mb").Double(op.avg_gpu_memory_delta_mb);
  w.EndObject();
  w.Key("errors_by_type").BeginObject();
  for (const auto& [type, count] : op.errors_by_type) w.Key(type).UInt(count);
  w.EndObject();
  w.Key("first_timestamp_unix_s").Double(op.first_timestamp_s);
  w.Key("last_timestamp_unix_s").Double(op.last_timestamp_s);
  w.EndObject();
}

void WriteSeries(absl::string_view key, const SeriesStats& s, JsonWriter& w) {
  w.Key(key).BeginObject();
  w.Key("samples").UInt(s.count);
  if (s.count > 0) {
    w.Key("last").Double(s.last);
    w.Key("min").Double(s.min);
    w.Key("max").Double(s.max);
    w.Key("avg").Double(s.avg);
  }
  w.EndObject();
}

void WriteResources(const ResourceStats& r, JsonWriter& w) {
  w.Key("resources").BeginObject();
  w.Key("sampler_running").Bool(r.running);
  w.Key("interval_s").Double(r.interval_s);
  w.Key("samples").UInt(r.samples);
  WriteSeries("rss_mb", r.rss_mb, w);
  WriteSeries("vms_mb", r.vms_mb, w);
  WriteSeries("cpu_percent", r.cpu_percent, w);
  WriteSeries("system_used_percent", r.system_used_percent, w);
  WriteSeries("load1", r.load1, w);
  WriteSeries("gpu_memory_used_mb", r.gpu_memory_used_mb, w);
  WriteSeries("gpu_utilization_percent", r.gpu_utilization_percent, w);
  WriteSeries("gpu_process_memory_mb", r.gpu_process_memory_mb, w);
  w.EndObject();
}

void WriteGpu(const GpuStatus& gpu, JsonWriter& w) {
  w.Key("gpu").BeginObject();
  w.Key("available").Bool(gpu.available);
  if (!gpu.available) w.Key("reason").String(gpu.reason);
  if (!gpu.driver_version.empty()) {
    w.Key("driver_version").String(gpu.driver_version);
  }
  w.Key("devices").BeginArray();
  for (const GpuDevice& d : gpu.devices) {
    w.BeginObject();
    w.Key("index").Int(d.index);
    w.Key("name").String(d.name);
    w.Key("memory_used_mb").Double(d.memory_used_mb);
    w.Key("memory_total_mb").Double(d.memory_total_mb);
    if (d.utilization_percent >= 0) {
      w.Key("utilization_percent").Double(d.utilization_percent);
    } else {
      w.Key("utilization_percent").Null();
    }
    if (d.process_memory_mb >= 0) {
      w.Key("process_memory_mb").Double(d.process_memory_mb);
    } else {
      w.Key("process_memory_mb").Null();
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

}  // namespace

std::string PerformanceMonitor::ReportToJson(const Report& report,
                                             int indent) {
  JsonWriter w(indent);
  w.BeginObject();
  w.Key("timestamp").String(report.timestamp);
  w.Key("total_operations").UInt(report.total_operations);
  w.Key("memory").BeginObject();
  w.Key("current_rss_mb").Double(report.memory.current_rss_mb);
  w.Key("min_rss_mb").Double(report.memory.min_rss_mb);
  w.Key("max_rss_mb").Double(report.memory.max_rss_mb);
  w.Key("avg_rss_mb").Double(report.memory.avg_rss_mb);
  w.Key("current_vms_mb").Double(report.memory.current_vms_mb);
  w.Key("samples").UInt(report.memory.samples);
  w.Key("tracking_enabled").Bool(report.memory_tracking);
  w.EndObject();
  w.Key("operations").BeginObject();
  for (const OperationStats& op : report.operations) {
    w.Key(op.name);
    WriteOperation(op, w);
  }
  w.EndObject();
  w.Key("timestamp_unix_s").Double(report.timestamp_unix_s);
  w.Key("total_failed").UInt(report.total_failed);
  if (report.has_system_memory) {
    w.Key("system_memory").BeginObject();
    w.Key("total_mb").Double(report.system_memory.total_mb);
    w.Key("available_mb").Double(report.system_memory.available_mb);
    w.Key("used_mb").Double(report.system_memory.used_mb);
    w.Key("used_percent").Double(report.system_memory.used_percent);
    w.EndObject();
  }
  WriteResources(report.resources, w);
  WriteGpu(report.gpu, w);
  w.Key("health").BeginObject();
  w.Key("status").String(report.health.healthy ? "healthy" : "warning");
  w.Key("memory_mb").Double(report.health.memory_mb);
  w.Key("total_operations").UInt(report.health.total_operations);
  w.Key("issues").BeginArray();
  for (const std::string& issue : report.health.issues) w.String(issue);
  w.EndArray();
  w.EndObject();
  w.EndObject();
  std::string text = w.Take();
  text.push_back('\n');
  return text;
}

absl::Status PerformanceMonitor::ExportJson(const std::string& path,
                                            int indent) {
  return WriteFileAtomically(path, ReportToJson(GenerateReport(), indent));
}

void PerformanceMonitor::Clear() {
  tracker_.Clear();
  memory_.Clear();
  sampler_.Clear();
}

}  // namespace ragperf

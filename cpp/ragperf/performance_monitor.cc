// Copyright 2026 The ragperf Authors.

#include "ragperf/performance_monitor.h"

#include <cmath>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ragperf/atomic_file.h"
#include "ragperf/json_writer.h"

namespace ragperf {
namespace {
constexpr int64_t kMaxAgeLimitNs = 1000000000;
}  // namespace

PerformanceMonitor::PerformanceMonitor(const Options& options)
    : tracker_(options.max_history, options.relative_accuracy),
      memory_(options.max_history),
      memory_tracking_(options.enable_memory_tracking),
      memory_max_age_ns_(options.memory_max_age_ns),
      memory_threshold_mb_(options.memory_threshold_mb),
      error_rate_threshold_(options.error_rate_threshold) {}

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
  if (options.memory_max_age_ns < 0 || options.memory_max_age_ns > kMaxAgeLimitNs) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "memory_max_age must be between 0 and 1 s, got %d ns",
        options.memory_max_age_ns));
  }
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
    const std::vector<OperationStats>& ops, double rss_mb,
    uint64_t total) const {
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
  health.healthy = health.issues.empty();
  return health;
}

HealthStatus PerformanceMonitor::GetHealth() {
  const std::vector<OperationStats> ops = tracker_.GetAllStats();
  uint64_t total = 0;
  for (const OperationStats& op : ops) total += op.total;
  const absl::StatusOr<MemoryUsage> usage = MemoryMonitor::ReadUsage();
  return HealthFrom(ops, usage.ok() ? usage->rss_mb : 0, total);
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
  report.health = HealthFrom(report.operations, report.memory.current_rss_mb,
                             report.total_operations);
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
  w.Key("errors_by_type").BeginObject();
  for (const auto& [type, count] : op.errors_by_type) w.Key(type).UInt(count);
  w.EndObject();
  w.Key("first_timestamp_unix_s").Double(op.first_timestamp_s);
  w.Key("last_timestamp_unix_s").Double(op.last_timestamp_s);
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
}

}  // namespace ragperf

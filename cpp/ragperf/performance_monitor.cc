// Copyright 2026 The ragperf Authors.

#include "ragperf/performance_monitor.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ragperf/atomic_file.h"
#include "ragperf/fork_gate.h"
#include "ragperf/record_validator.h"

namespace ragperf {
namespace {

// The local time zone, loaded once. absl::LocalTimeZone() looks the zone up
// in cctz's table under its own lock on every call; loading it inside this
// static's guard also makes the first load visible to ThreadSanitizer (the
// Debian libabsl_time_zone it runs in is not instrumented, and two reports
// racing to the first load were reported as a data race).
const absl::TimeZone& LocalZone() {
  static const absl::TimeZone* const zone =
      new absl::TimeZone(absl::LocalTimeZone());
  return *zone;
}

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
      dimensions_(options.max_history, options.relative_accuracy,
                  options.max_dimension_values),
      cap_(options.max_operations),
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
               [] { return SnapshotOf(GpuMonitor::Default().Read()); }),
      models_(options.max_operations) {}

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
  if (options.max_dimension_values < 1) {
    return absl::InvalidArgumentError("max_dimension_values must be >= 1");
  }
  if (options.max_operations < 1) {
    return absl::InvalidArgumentError("max_operations must be >= 1");
  }
  if (options.max_resource_samples < 1) {
    return absl::InvalidArgumentError("max_resource_samples must be >= 1");
  }
  return CheckMemoryMaxAgeUs(static_cast<double>(options.memory_max_age_ns) / 1e3);
}

absl::Status PerformanceMonitor::CheckMemoryMaxAgeUs(double us) {
  if (!(us >= 0 && us <= kMaxMemoryMaxAgeUs)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "memory_max_age_us must be between 0 and %.0f, got %g",
        kMaxMemoryMaxAgeUs, us));
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
  absl::Status s = CheckMemoryMaxAgeUs(static_cast<double>(ns) / 1e3);
  if (!s.ok()) return s;
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

std::optional<double> PerformanceMonitor::RecordModelByName(
    const OperationRecord& rec) {
  return models_.Record(rec.model, rec.response_model, rec.prompt_tokens,
                        rec.completion_tokens, rec.tokens, rec.duration_s);
}

void PerformanceMonitor::RecordOutcome(int id, const OperationRecord& rec) {
  const std::string name = tracker_.NameOf(id);
  if (rec.cache_hit >= 0) caches_.Record(name, rec.cache_hit > 0).IgnoreError();
  if (!rec.success) {
    ErrorEntry e;
    e.operation = name;
    e.error_type = std::string(ErrorTypeOrDefault(rec.error_type));
    e.message = std::string(rec.error_message);
    e.timestamp_s = rec.timestamp_s;
    e.duration_s = rec.duration_s;
    e.model = std::string(rec.model);
    e.metadata_json = std::string(rec.metadata_json);
    e.span_id = rec.span_id;
    e.trace_id = rec.trace_id;
    errors_.Add(std::move(e));
  }
}

absl::Status PerformanceMonitor::SetLatencyTarget(absl::string_view name,
                                                  LatencyTarget target) {
  if (!(target.good_below_s > 0 && std::isfinite(target.good_below_s) &&
        std::isfinite(target.investigate_above_s) &&
        target.investigate_above_s >= target.good_below_s)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "latency target needs 0 < good_below_s <= investigate_above_s "
        "(finite seconds), got good_below_s=%g investigate_above_s=%g",
        target.good_below_s, target.investigate_above_s));
  }
  absl::MutexLock lock(&targets_mu_);
  if (name.empty()) {
    default_target_ = target;
  } else {
    targets_[name] = target;
  }
  return absl::OkStatus();
}

LatencyTarget PerformanceMonitor::LatencyTargetFor(absl::string_view name) const {
  absl::MutexLock lock(&targets_mu_);
  auto it = targets_.find(name);
  return it == targets_.end() ? default_target_ : it->second;
}

void PerformanceMonitor::Finish(OperationStats& stats,
                                bool exclude_cold_start) const {
  const LatencyTarget target = LatencyTargetFor(stats.name);
  stats.latency_good_below_s = target.good_below_s;
  stats.latency_investigate_above_s = target.investigate_above_s;
  if (stats.total == 0) return;
  // CountAtMost counts "<= x"; "good" is strictly below its bound, which the
  // sketch cannot tell apart from equal anyway (same bin).
  const uint64_t good = stats.sketch.CountAtMost(target.good_below_s);
  const uint64_t not_slow = stats.sketch.CountAtMost(target.investigate_above_s);
  stats.latency_good = good;
  stats.latency_acceptable = not_slow - good;
  stats.latency_investigate = stats.sketch.count() - not_slow;
  if (exclude_cold_start && stats.has_cold_start && stats.total > 1) {
    QuantileSketch warm = stats.sketch;
    if (warm.Remove(stats.cold_start_s)) {
      stats.p50_s = warm.Quantile(0.50);
      stats.p90_s = warm.Quantile(0.90);
      stats.p95_s = warm.Quantile(0.95);
      stats.p99_s = warm.Quantile(0.99);
    }
  }
}

OperationStats PerformanceMonitor::GetStats(absl::string_view name,
                                            bool exclude_cold_start) const {
  ForkGate::Reader reader;
  OperationStats stats = tracker_.GetStats(name);
  Finish(stats, exclude_cold_start);
  return stats;
}

absl::StatusOr<OperationStats> PerformanceMonitor::GetWindowStats(
    absl::string_view name, int window_minutes, double now_s) const {
  ForkGate::Reader reader;
  absl::StatusOr<OperationStats> stats =
      tracker_.GetWindowStats(name, window_minutes, now_s);
  if (stats.ok()) Finish(*stats, false);
  return stats;
}

std::vector<OperationStats> PerformanceMonitor::GetAllStats(
    bool exclude_cold_start) const {
  ForkGate::Reader reader;
  std::vector<OperationStats> all = tracker_.GetAllStats();
  for (OperationStats& stats : all) Finish(stats, exclude_cold_start);
  return all;
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
  for (const OperationStats& op : ops) {
    if (op.total > 0 && op.latency_investigate_above_s > 0 &&
        op.p95_s > op.latency_investigate_above_s) {
      health.issues.push_back(absl::StrFormat(
          "Slow %s: p95 %.3fs above the %.3fs target", op.name, op.p95_s,
          op.latency_investigate_above_s));
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
  ForkGate::Reader reader;
  const std::vector<OperationStats> ops = GetAllStats();
  uint64_t total = 0;
  for (const OperationStats& op : ops) total += op.total;
  const absl::StatusOr<MemoryUsage> usage = MemoryMonitor::ReadUsage();
  return HealthFrom(ops, usage.ok() ? usage->rss_mb : 0, total,
                    MemoryMonitor::ReadSystemMemory(),
                    GpuMonitor::Default().Read());
}

Report PerformanceMonitor::GenerateReport() {
  ForkGate::Reader reader;
  Report report;
  const absl::Time now = absl::Now();
  report.timestamp = absl::FormatTime("%Y-%m-%dT%H:%M:%E6S", now, LocalZone());
  report.timestamp_unix_s = absl::ToDoubleSeconds(now - absl::UnixEpoch());
  report.operations = GetAllStats();
  for (const OperationStats& op : report.operations) {
    report.total_operations += op.total;
    report.total_failed += op.failed;
    if (op.has_cost) {
      report.has_cost = true;
      report.total_cost_usd += op.cost_usd;
    }
  }
  report.relative_accuracy = tracker_.relative_accuracy();
  report.models = models_.GetAll();
  report.caches = caches_.GetAll();
  report.recent_errors = errors_.Recent(errors_.capacity());
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

absl::Status PerformanceMonitor::ExportJson(const std::string& path,
                                            int indent) {
  ForkGate::Reader reader;
  return WriteFileAtomically(path, ReportToJson(GenerateReport(), indent));
}

void PerformanceMonitor::RecordDimension(int series_id,
                                         const OperationRecord& record) {
  if (record.model.empty()) {
    dimensions_.Record(series_id, record);
    return;
  }
  OperationRecord rec = record;
  const std::optional<double> cost =
      models_.CostOf(rec.model, rec.response_model, rec.prompt_tokens,
                     rec.completion_tokens, rec.tokens);
  rec.has_cost = cost.has_value();
  rec.cost_usd = cost.value_or(0);
  dimensions_.Record(series_id, rec);
}

absl::StatusOr<OperationStats> PerformanceMonitor::GetDimensionStats(
    absl::string_view operation, absl::string_view dimension,
    absl::string_view value, int window_minutes, double now_s) const {
  absl::StatusOr<OperationStats> stats =
      window_minutes == 0
          ? dimensions_.GetStats(operation, dimension, value)
          : dimensions_.GetWindowStats(operation, dimension, value,
                                       window_minutes, now_s);
  if (!stats.ok()) return stats;
  stats->name = std::string(operation);  // the operation's latency target
  Finish(*stats, false);
  stats->name = std::string(value);
  return stats;
}

void PerformanceMonitor::Clear() {
  ForkGate::Reader reader;
  tracker_.Clear();
  dimensions_.Clear();
  memory_.Clear();
  sampler_.Clear();
  models_.Clear();
  caches_.Clear();
  errors_.Clear();
}

}  // namespace ragperf

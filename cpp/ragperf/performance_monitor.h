// Copyright 2026 The ragperf Authors.
//
// performance_monitor.h
// -----------------------------------------------------------------------------
// The monitor a RAG pipeline talks to: owns a ResponseTimeTracker and a
// MemoryMonitor, applies health rules, and produces a report (plain struct),
// its JSON text, and atomic JSON exports.
//
// Health rules: status is "warning" when process RSS exceeds
// `memory_threshold_mb` (default 1000 MB), any operation's error rate exceeds
// `error_rate_threshold` (default 0.10), system memory use exceeds
// `system_memory_percent_threshold` (default 90%), a GPU's memory use exceeds
// `gpu_memory_percent_threshold` (default 90%, only when NVML is available),
// the process CPU% of the latest sampler sample exceeds
// `cpu_percent_threshold` (default 0 = rule off; needs the sampler running),
// or an operation's p95 latency is above its latency target's
// `investigate_above_s` (default 5 s); otherwise "healthy". A threshold of 0
// turns its rule off.
//
// Latency classes: each operation has a LatencyTarget (default: good below
// 2 s, acceptable from 2 to 5 s, investigate above 5 s; settable per
// operation). Stats count records per class from the duration sketch, so a
// record within the sketch's relative accuracy of a boundary may be counted
// in the neighbouring class.
//
// Beyond durations the monitor keeps per-model usage and cost (ModelUsage),
// cache hit/miss counts (CacheStats) and the last failures (ErrorLog).
//
// Resources: a ResourceSampler (off until StartSampler) samples process
// RSS/VMS/CPU%, system memory and load, and GPU memory/utilisation through
// GpuMonitor::Default() (NVML loaded at run time).
//
// Example:
//
//   ragperf::PerformanceMonitor::Options options;
//   options.enable_memory_tracking = true;
//   ragperf::PerformanceMonitor monitor(options);
//   int id = monitor.Intern("document_retrieval");
//   int64_t start_ns = ragperf::SteadyNowNanos();
//   ... retrieval ...
//   ragperf::OperationRecord rec;
//   rec.duration_s = (ragperf::SteadyNowNanos() - start_ns) * 1e-9;
//   rec.timestamp_s = ragperf::WallNowSeconds();
//   monitor.Record(id, rec);
//   absl::Status s = monitor.ExportJson("metrics.json");

#ifndef RAGPERF_PERFORMANCE_MONITOR_H_
#define RAGPERF_PERFORMANCE_MONITOR_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "ragperf/cache_stats.h"
#include "ragperf/clock.h"
#include "ragperf/dimension_stats.h"
#include "ragperf/error_log.h"
#include "ragperf/gpu_monitor.h"
#include "ragperf/memory_monitor.h"
#include "ragperf/model_usage.h"
#include "ragperf/operation_cap.h"
#include "ragperf/resource_sampler.h"
#include "ragperf/response_time_tracker.h"

namespace ragperf {

struct HealthStatus {
  bool healthy = true;
  double memory_mb = 0;
  uint64_t total_operations = 0;
  std::vector<std::string> issues;
};

// Latency classes of one operation: good < good_below_s <= acceptable <=
// investigate_above_s < investigate.
struct LatencyTarget {
  double good_below_s = 2.0;
  double investigate_above_s = 5.0;
};

struct Report {
  std::string timestamp;      // ISO 8601, local time, microseconds
  double timestamp_unix_s = 0;
  uint64_t total_operations = 0;
  uint64_t total_failed = 0;
  bool memory_tracking = false;
  MemoryStats memory;
  bool has_system_memory = false;
  SystemMemory system_memory;
  std::vector<OperationStats> operations;  // sorted by name
  HealthStatus health;
  ResourceStats resources;  // sampler aggregates (samples == 0 when never run)
  GpuStatus gpu;
  std::vector<ModelTotals> models;
  std::vector<CacheCounts> caches;
  std::vector<ErrorEntry> recent_errors;  // oldest first
  bool has_cost = false;                  // any operation had a known cost
  double total_cost_usd = 0;
  double relative_accuracy = 0;           // of the sketches in `state`
};

// Version of the "state" section of the JSON report (serialized sketches and
// counters from which PerformanceMonitor state can be rebuilt or merged).
inline constexpr int kStateSchemaVersion = 1;

class PerformanceMonitor {
 public:
  struct Options {
    bool enable_memory_tracking = true;
    size_t max_history = ResponseTimeTracker::kDefaultMaxHistory;
    double relative_accuracy = QuantileSketch::kDefaultRelativeAccuracy;
    double memory_threshold_mb = 1000;
    double error_rate_threshold = 0.10;
    // Blocks reuse an RSS reading at most this old instead of reading
    // /proc/self/statm again (see rss_cache.h); 0 = read at every start and
    // end of a block (exact mode). At most kMaxMemoryMaxAgeUs.
    int64_t memory_max_age_ns = 100000;
    // Also measure this process's GPU memory (NVML) at the start and end of
    // every block. NVML calls cost microseconds to milliseconds: opt in.
    bool track_gpu_memory = false;
    double system_memory_percent_threshold = 90;
    double gpu_memory_percent_threshold = 90;
    double cpu_percent_threshold = 0;  // off
    size_t max_resource_samples = ResourceSampler::kDefaultMaxSamples;
    // Distinct values kept per (operation, dimension); see DimensionStats.
    size_t max_dimension_values = DimensionStats::kDefaultMaxValues;
    // Distinct operation names with their own statistics; later new names
    // record as "__other__" (operation_cap.h). At least 1. Also the cap of
    // distinct model names in the per-model usage (model_usage.h).
    size_t max_operations = OperationCap::kDefaultMaxOperations;
  };

  // Upper bound of Options::memory_max_age_ns, in microseconds (1 s).
  static constexpr double kMaxMemoryMaxAgeUs = 1e6;

  explicit PerformanceMonitor(const Options& options);
  PerformanceMonitor(const PerformanceMonitor&) = delete;
  PerformanceMonitor& operator=(const PerformanceMonitor&) = delete;

  // Validates options: InvalidArgument naming the bad value.
  static absl::Status ValidateOptions(const Options& options);
  // The one range check of the RSS reuse age: InvalidArgument ("memory_max_age_us
  // must be between 0 and 1000000, got ...") unless 0 <= us <=
  // kMaxMemoryMaxAgeUs (NaN fails). Used by ValidateOptions,
  // SetMemoryMaxAgeNs and the Python binding before it converts to ns.
  static absl::Status CheckMemoryMaxAgeUs(double us);

  // The id `name` records under (a new name beyond `max_operations` gets the
  // id of "__other__"). Not for every record: callers cache the id.
  int Intern(absl::string_view name) { return cap_.Intern(tracker_, name); }
  OperationCap& operation_cap() { return cap_; }
  const OperationCap& operation_cap() const { return cap_; }
  // Hot path: records into the tracker and, when the record carries a memory
  // delta, feeds `rss_end_mb` to the memory aggregates. Records that name a
  // model also feed the model table (inline through a current
  // `model_handle`: an LLM block's usual case); records that failed or
  // looked up a cache take a slower path that also feeds the cache and error
  // tables.
  void Record(int id, const OperationRecord& record, double rss_end_mb = -1) {
    OperationRecord copy = record;
    Record(id, &copy, rss_end_mb);
  }
  // The same without a copy; fills record->has_cost and cost_usd.
  void Record(int id, OperationRecord* record, double rss_end_mb = -1) {
    if (!record->model.empty()) {
      const ModelUsageHandle* handle = record->model_handle;
      const std::optional<double> cost =
          handle != nullptr && record->response_model.empty() &&
                  models_.IsCurrent(*handle)
              ? models_.Record(*handle, record->prompt_tokens,
                               record->completion_tokens, record->tokens,
                               record->duration_s)
              : RecordModelByName(*record);
      record->has_cost = cost.has_value();
      record->cost_usd = cost.value_or(0);
    }
    tracker_.Record(id, *record);
    if (!record->success || record->cache_hit >= 0) RecordOutcome(id, *record);
    if (rss_end_mb >= 0) memory_.Observe(rss_end_mb);
  }

  // Statistics with the latency classes of the operation's target filled in.
  // `exclude_cold_start`: percentiles (not counts) leave out the operation's
  // first record.
  OperationStats GetStats(absl::string_view name,
                          bool exclude_cold_start = false) const;
  absl::StatusOr<OperationStats> GetWindowStats(absl::string_view name,
                                                int window_minutes,
                                                double now_s) const;
  std::vector<OperationStats> GetAllStats(bool exclude_cold_start = false) const;

  // Latency targets. An empty `name` sets the default of every operation
  // without its own. InvalidArgument unless 0 < good_below_s <=
  // investigate_above_s, both finite.
  absl::Status SetLatencyTarget(absl::string_view name, LatencyTarget target)
      ABSL_LOCKS_EXCLUDED(targets_mu_);
  LatencyTarget LatencyTargetFor(absl::string_view name) const
      ABSL_LOCKS_EXCLUDED(targets_mu_);

  ModelUsage& models() { return models_; }
  const ModelUsage& models() const { return models_; }
  CacheStats& caches() { return caches_; }
  const CacheStats& caches() const { return caches_; }
  ErrorLog& errors() { return errors_; }
  const ErrorLog& errors() const { return errors_; }

  ResponseTimeTracker& tracker() { return tracker_; }
  const ResponseTimeTracker& tracker() const { return tracker_; }

  // Dimensions: statistics per value of declared metadata keys.
  DimensionStats& dimensions() { return dimensions_; }
  const DimensionStats& dimensions() const { return dimensions_; }
  // Records `record` (already recorded for its operation) into the series
  // `series_id` (from dimensions().Intern), with its cost at the model's
  // price.
  void RecordDimension(int series_id, const OperationRecord& record);
  // One series' statistics with the operation's latency classes;
  // `window_minutes` 0 = all time. InvalidArgument for a bad window.
  absl::StatusOr<OperationStats> GetDimensionStats(
      absl::string_view operation, absl::string_view dimension,
      absl::string_view value, int window_minutes, double now_s) const;
  MemoryMonitor& memory() { return memory_; }

  bool memory_tracking() const {
    return memory_tracking_.load(std::memory_order_relaxed);
  }
  void set_memory_tracking(bool on) {
    memory_tracking_.store(on, std::memory_order_relaxed);
  }
  int64_t memory_max_age_ns() const {
    return memory_max_age_ns_.load(std::memory_order_relaxed);
  }
  // InvalidArgument unless 0 <= ns <= 1 s (CheckMemoryMaxAgeUs).
  absl::Status SetMemoryMaxAgeNs(int64_t ns);
  bool track_gpu_memory() const {
    return track_gpu_memory_.load(std::memory_order_relaxed);
  }
  void set_track_gpu_memory(bool on) {
    track_gpu_memory_.store(on, std::memory_order_relaxed);
  }
  double system_memory_percent_threshold() const {
    return system_memory_percent_threshold_.load();
  }
  double gpu_memory_percent_threshold() const {
    return gpu_memory_percent_threshold_.load();
  }
  double cpu_percent_threshold() const { return cpu_percent_threshold_.load(); }
  // InvalidArgument unless 0 <= percent <= 100 (0 = rule off).
  absl::Status SetSystemMemoryPercentThreshold(double percent);
  absl::Status SetGpuMemoryPercentThreshold(double percent);
  // InvalidArgument unless 0 <= percent <= 100 * cores... any finite >= 0.
  absl::Status SetCpuPercentThreshold(double percent);

  ResourceSampler& sampler() { return sampler_; }
  absl::Status StartSampler(double interval_s) { return sampler_.Start(interval_s); }
  void StopSampler() { sampler_.Stop(); }

  double memory_threshold_mb() const { return memory_threshold_mb_.load(); }
  double error_rate_threshold() const { return error_rate_threshold_.load(); }
  // InvalidArgument unless > 0 (memory) / within [0, 1] (error rate).
  absl::Status SetMemoryThresholdMb(double mb);
  absl::Status SetErrorRateThreshold(double rate);

  HealthStatus GetHealth();
  Report GenerateReport();
  // `indent` 0 = compact; 2 = what export writes.
  static std::string ReportToJson(const Report& report, int indent);
  // Generates the report and writes it atomically to `path`.
  absl::Status ExportJson(const std::string& path, int indent = 2);

  // Forgets every statistic (prices and latency targets stay).
  void Clear();

  // Heap bytes held by the per-operation statistics: the tracker's and the
  // dimension splits' (see ResponseTimeTracker::MemoryBytes). What
  // `monitor.memory_bytes()` and the report's `statistics_bytes` show.
  size_t MemoryBytes() const {
    return tracker_.MemoryBytes() + dimensions_.MemoryBytes();
  }

  // Reads, reports, exports and Clear() run inside a ForkGate::Reader
  // (fork_gate.h): fork() waits for them, so a child never inherits a shard
  // or table lock held by one of them.

 private:
  // The model table's part of Record() without a current handle.
  std::optional<double> RecordModelByName(const OperationRecord& record);
  // The cache and error tables' part of Record().
  void RecordOutcome(int id, const OperationRecord& record);
  // Fills the latency classes (and, on request, cold-start-free percentiles).
  void Finish(OperationStats& stats, bool exclude_cold_start) const;

  HealthStatus HealthFrom(const std::vector<OperationStats>& ops,
                          double rss_mb, uint64_t total,
                          const absl::StatusOr<SystemMemory>& system,
                          const GpuStatus& gpu) const;

  ResponseTimeTracker tracker_;
  DimensionStats dimensions_;
  OperationCap cap_;
  MemoryMonitor memory_;
  std::atomic<bool> memory_tracking_;
  std::atomic<int64_t> memory_max_age_ns_;
  std::atomic<double> memory_threshold_mb_;
  std::atomic<double> error_rate_threshold_;
  std::atomic<bool> track_gpu_memory_;
  std::atomic<double> system_memory_percent_threshold_;
  std::atomic<double> gpu_memory_percent_threshold_;
  std::atomic<double> cpu_percent_threshold_;
  ResourceSampler sampler_;
  ModelUsage models_;
  CacheStats caches_;
  ErrorLog errors_;
  mutable absl::Mutex targets_mu_;
  LatencyTarget default_target_ ABSL_GUARDED_BY(targets_mu_);
  absl::flat_hash_map<std::string, LatencyTarget> targets_
      ABSL_GUARDED_BY(targets_mu_);
};

}  // namespace ragperf

#endif  // RAGPERF_PERFORMANCE_MONITOR_H_

// Copyright 2026 The ragperf Authors.
//
// response_time_tracker.h
// -----------------------------------------------------------------------------
// Per-operation timing statistics: counts, errors by type, duration
// sum/min/max, an all-time quantile sketch, a ring of one-minute sketches for
// time-window queries, token and memory-delta totals, and a bounded ring of the
// most recent raw records.
//
// Concurrency and memory: each operation's state (all-time aggregate, window
// slots, recent ring) exists ONCE, in shard `id % kNumShards`; each of the
// kNumShards shards has its own absl::Mutex. Threads recording different
// operations mostly take different locks; threads recording the same
// operation take the same one. Until issue #20 the shards were per thread
// (a thread always used its round-robin shard) and every shard held a full
// copy of every operation it saw: memory per operation grew with the number
// of recording threads (8 threads: 8 rings, 8 all-time sketches, 8 x 61
// window sketches, ~2.5 MiB per operation) and `max_history` meant "per
// shard". Sharding by operation makes memory per operation independent of
// the thread count and `max_history` exactly "per operation". The price is
// contention when many threads record ONE operation: under Python every
// record already holds the GIL, so nothing is lost there; the C++ figures
// (benchmarks/cpp/tracker_bench, docs/architecture.md) show the cost for
// native callers that hammer one operation from many threads. The per-op
// state itself is compact: sketch bins are 1-8 bytes wide as their counts
// need (BinCounts), window slots are allocated per used minute, and the
// recent ring stores 80-byte slots with interned text (RecentRecords).
//
// Operation names are interned to small integer ids once (`Intern`); the hot
// path (`Record`) then indexes a vector and never hashes a string.
//
// Example:
//
//   ragperf::ResponseTimeTracker tracker(/*max_history=*/1000);
//   int id = tracker.Intern("llm_inference");
//   ragperf::OperationRecord rec;
//   rec.duration_s = 0.120;
//   rec.tokens = 150;
//   tracker.Record(id, rec);
//   ragperf::OperationStats s = tracker.GetStats("llm_inference");
//   // s.total == 1, s.p95_s ~= 0.120 (within 0.5%)

#ifndef RAGPERF_RESPONSE_TIME_TRACKER_H_
#define RAGPERF_RESPONSE_TIME_TRACKER_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "ragperf/quantile_sketch.h"
#include "ragperf/ring_buffer.h"

namespace ragperf {

// One finished operation, as the hot path hands it over. Plain data.
struct ModelUsageHandle;  // model_usage.h

struct OperationRecord {
  double duration_s = 0;         // >= 0, finite (callers validate)
  int64_t tokens = 0;            // total tokens (prompt + completion if unset)
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  bool success = true;
  bool has_memory_delta = false;
  double memory_delta_mb = 0;    // RSS(end) - RSS(start), meaningful if has_memory_delta
  bool has_gpu_memory_delta = false;
  double gpu_memory_delta_mb = 0;  // this process's GPU memory change (NVML)
  double timestamp_s = 0;        // wall clock (unix seconds) at the end of the operation
  // True: the record counts all-time only, in no one-minute window (its
  // timestamp lies outside the window range, e.g. a replayed or imported
  // record from hours ago or from a clock ahead of this one). A record
  // older than the minute its window slot already holds is left out of the
  // windows as well, so a late record never erases newer window data.
  bool skip_windows = false;
  absl::string_view error_type;  // exception type name when !success (may be empty)
  absl::string_view error_message;  // str(exception) when !success (may be empty)
  absl::string_view model;          // empty when the operation named no model
  // The model the response named (empty when unknown); set only with `model`.
  absl::string_view response_model;
  absl::string_view metadata_json;  // a JSON object, or empty for no metadata
  // Nonzero: every record with this key has the same text fields (error
  // type and message, model, response model, metadata JSON), so the recent
  // ring may skip comparing them. 0 (always correct): unknown.
  uint64_t text_key = 0;
  // Optional: a handle to `model`'s usage entry (ModelUsage::Resolve) that
  // the caller keeps; used when it is current and there is no
  // response_model, else the model is looked up by name.
  const ModelUsageHandle* model_handle = nullptr;
  // Streams: time from the start of the block to its first token.
  bool has_time_to_first_token = false;
  double time_to_first_token_s = 0;
  int cache_hit = -1;               // -1 not a cache lookup, 0 miss, 1 hit
  // Nesting (0 = none): this block's span, its parent's, and its root's.
  uint64_t span_id = 0;
  uint64_t parent_id = 0;
  uint64_t trace_id = 0;
  int depth = 0;
  // Filled by PerformanceMonitor::Record from the model's price.
  bool has_cost = false;
  double cost_usd = 0;
};

// A raw record kept in the "recent operations" ring.
struct RecentRecord {
  double timestamp_s = 0;
  double duration_s = 0;
  int64_t tokens = 0;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  bool success = true;
  bool has_memory_delta = false;
  double memory_delta_mb = 0;
  bool has_time_to_first_token = false;
  double time_to_first_token_s = 0;
  bool has_cost = false;
  double cost_usd = 0;
  int cache_hit = -1;
  bool cold_start = false;  // the operation's earliest record since Clear()
  uint64_t span_id = 0;
  uint64_t parent_id = 0;
  uint64_t trace_id = 0;
  int depth = 0;
  std::string error_type;
  std::string error_message;
  std::string model;
  std::string response_model;
  std::string metadata_json;
};

// Aggregated statistics of one operation (all-time or over a window).
// Durations in seconds. Percentiles come from the merged quantile sketch. An
// operation with no records has every figure 0 so that reports stay numeric.
struct OperationStats {
  std::string name;
  uint64_t total = 0;
  uint64_t successful = 0;
  uint64_t failed = 0;
  // Blocks ended by a cancellation (KeyboardInterrupt, SystemExit,
  // GeneratorExit, asyncio.CancelledError): counted here only, not in
  // total/failed, the durations or the error rate.
  uint64_t cancelled = 0;
  double sum_s = 0;
  double min_s = 0;
  double max_s = 0;
  double avg_s = 0;
  double p50_s = 0;
  double p90_s = 0;
  double p95_s = 0;
  double p99_s = 0;
  int64_t total_tokens = 0;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  double avg_tokens = 0;
  double tokens_per_second = 0;  // total_tokens / sum_s
  uint64_t memory_samples = 0;   // records that carried a memory delta
  double total_memory_delta_mb = 0;
  double avg_memory_delta_mb = 0;
  uint64_t gpu_memory_samples = 0;  // records that carried a GPU memory delta
  double total_gpu_memory_delta_mb = 0;
  double avg_gpu_memory_delta_mb = 0;
  double error_rate = 0;         // failed / total
  double first_timestamp_s = 0;  // wall clock of the first record (all-time only)
  double last_timestamp_s = 0;
  double window_s = 0;           // 0 = all time, else the span the window covered
  // total / window_s for windows; total / (last - first) all-time (0 when
  // the records span no time).
  double requests_per_second = 0;
  // Streams (records with a time to first token).
  uint64_t streams = 0;
  double ttft_avg_s = 0, ttft_p50_s = 0, ttft_p95_s = 0, ttft_p99_s = 0;
  uint64_t inter_token_samples = 0;  // tokens that had an inter-token gap
  double itl_avg_s = 0, itl_p50_s = 0, itl_p95_s = 0, itl_p99_s = 0;
  // Completion tokens of streams / their time after the first token.
  double output_tokens_per_second = 0;
  int64_t stream_output_tokens = 0;  // the two sums behind it
  double stream_generation_s = 0;
  // Cost: sum of known costs; null (has_cost false) when none was known.
  bool has_cost = false;
  double cost_usd = 0;
  uint64_t priced_operations = 0;
  uint64_t unpriced_operations = 0;  // named a model without a known cost
  uint64_t cache_hits = 0;
  uint64_t cache_misses = 0;
  // The earliest record (by timestamp) since Clear() (all-time only).
  bool has_cold_start = false;
  double cold_start_s = 0;
  double cold_start_timestamp_s = 0;
  // Latency classes against the operation's targets (PerformanceMonitor).
  double latency_good_below_s = 0;
  double latency_investigate_above_s = 0;
  uint64_t latency_good = 0, latency_acceptable = 0, latency_investigate = 0;
  std::vector<std::pair<std::string, uint64_t>> errors_by_type;  // sorted by name
  QuantileSketch sketch;         // merged duration sketch (seconds)
  QuantileSketch ttft_sketch;    // time to first token (seconds)
  QuantileSketch itl_sketch;     // inter-token latency (seconds per token)
};

class ResponseTimeTracker {
 public:
  static constexpr int kNumShards = 8;
  static constexpr int kWindowIntervalSeconds = 60;
  static constexpr int kMaxWindowMinutes = 60;
  static constexpr size_t kDefaultMaxHistory = 1000;

  // `max_history`: how many recent raw records to keep per operation (>= 1).
  // `relative_accuracy`: of the duration sketches (see QuantileSketch).
  explicit ResponseTimeTracker(
      size_t max_history = kDefaultMaxHistory,
      double relative_accuracy = QuantileSketch::kDefaultRelativeAccuracy);
  ResponseTimeTracker(const ResponseTimeTracker&) = delete;
  ResponseTimeTracker& operator=(const ResponseTimeTracker&) = delete;
  ~ResponseTimeTracker();

  // Returns the id of `name`, creating it on first use. Ids are dense, stable
  // for the tracker's lifetime, and survive Clear().
  int Intern(absl::string_view name) ABSL_LOCKS_EXCLUDED(names_mu_);
  // The id of `name`, or -1 when it was never interned.
  int FindId(absl::string_view name) const ABSL_LOCKS_EXCLUDED(names_mu_);
  std::string NameOf(int id) const ABSL_LOCKS_EXCLUDED(names_mu_);

  // Hot path. `id` must come from Intern(). Thread-safe.
  void Record(int id, const OperationRecord& record);
  // A block of `id` was cancelled at `timestamp_s` (see
  // OperationStats::cancelled). Thread-safe.
  void RecordCancelled(int id, double timestamp_s);
  // Streams: `tokens` (>= 1) arrived `gap_s` after the previous chunk; adds
  // gap_s / tokens to the inter-token latency sketch `tokens` times.
  void RecordInterTokenGap(int id, double gap_s, int64_t tokens,
                           double timestamp_s);
  // Adds a saved all-time state (as GetStats returned it, e.g. read back from
  // an export) to `name`'s statistics: counts and sums add, sketches merge
  // exactly, min/max/first/last and the cold start combine. Time windows and
  // recent records are not part of a state. InvalidArgument when a sketch's
  // accuracy differs from this tracker's.
  absl::Status MergeState(absl::string_view name, const OperationStats& state);
  // Convenience: Intern + Record of a success with only a duration.
  void RecordDuration(absl::string_view name, double duration_s);

  // All-time statistics of one operation (zeros with the name when unknown).
  OperationStats GetStats(absl::string_view name) const;
  // Statistics over at least the last `window_minutes` minutes (one-minute
  // resolution: the current partial minute plus `window_minutes` whole ones).
  // InvalidArgument unless 1 <= window_minutes <= kMaxWindowMinutes.
  absl::StatusOr<OperationStats> GetWindowStats(absl::string_view name,
                                                int window_minutes,
                                                double now_s) const;
  // All-time statistics of every operation with at least one record (or
  // cancelled block), sorted
  // by name.
  std::vector<OperationStats> GetAllStats() const;
  // Up to `limit` most recent raw records of `name`, oldest first.
  std::vector<RecentRecord> GetRecent(absl::string_view name,
                                      size_t limit) const;
  // Number of records of `name` (all operations when empty).
  uint64_t Count(absl::string_view name = {}) const;
  // How many operations GetAllStats() returns (those with a record or a
  // cancelled block), without working out their statistics.
  size_t OperationCount() const;
  // Forgets every statistic; interned ids stay valid.
  void Clear();

  // True when a record that ended at `timestamp_s` belongs in the one-minute
  // windows as seen at `now_s`: its minute is neither later than now's nor
  // older than the longest window (kMaxWindowMinutes). Records outside count
  // all-time only (OperationRecord::skip_windows).
  static bool InWindowRange(double timestamp_s, double now_s);

  size_t max_history() const { return max_history_; }
  double relative_accuracy() const { return relative_accuracy_; }
  // Heap bytes held by the statistics (sketches, rings, interned text),
  // allocator overhead included: agrees with the RSS it costs (within a few
  // percent; benchmarks/bench_memory.py checks it). Independent of how many
  // threads record.
  size_t MemoryBytes() const;

 private:
  struct OpState;  // one operation's statistics
  struct Shard {
    mutable absl::Mutex mu;
    // Operation id -> its state, at index id / kNumShards.
    std::vector<std::unique_ptr<OpState>> ops ABSL_GUARDED_BY(mu);
  };

  // The shard holding operation `id` (>= 0).
  Shard& ShardOf(int id);
  const Shard& ShardOf(int id) const;
  static OpState* FindLocked(const Shard& shard, int id)
      ABSL_SHARED_LOCKS_REQUIRED(shard.mu);
  OpState& OpLocked(Shard& shard, int id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  // `id`'s statistics; `window_minutes` 0 = all-time.
  OperationStats Collect(int id, int window_minutes, double now_s) const;

  const size_t max_history_;
  const double relative_accuracy_;
  mutable absl::Mutex names_mu_;
  absl::flat_hash_map<std::string, int> ids_ ABSL_GUARDED_BY(names_mu_);
  std::vector<std::string> names_ ABSL_GUARDED_BY(names_mu_);
  std::array<Shard, kNumShards> shards_;
};

}  // namespace ragperf

#endif  // RAGPERF_RESPONSE_TIME_TRACKER_H_

// Copyright 2026 The ragperf Authors.
//
// dimension_stats.h
// -----------------------------------------------------------------------------
// Statistics of an operation split by the value of a declared metadata key
// ("dimension"): llm_inference by model, retrieval by tenant. Each (operation,
// dimension, value) is a series with the same statistics as an operation
// (counts, sketches, windows, tokens, cost, errors). The number of values per
// (operation, dimension) is capped: later values share the series
// `kOtherValue`, so a dimension fed with unbounded values (request ids) keeps
// memory bounded.
//
// Thread-safe. Recording takes one shard lock (as ResponseTimeTracker does);
// Intern takes a mutex and is meant to be cached by the caller per value.
//
// Example:
//
//   DimensionStats dims(/*max_history=*/1000, /*relative_accuracy=*/0.005,
//                       /*max_values=*/100);
//   bool overflow = false;
//   int id = dims.Intern("llm_inference", "model", "qwen", &overflow);
//   dims.Record(id, record);
//   OperationStats qwen = dims.GetStats("llm_inference", "model", "qwen");

#ifndef RAGPERF_DIMENSION_STATS_H_
#define RAGPERF_DIMENSION_STATS_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "ragperf/overflow_name.h"
#include "ragperf/response_time_tracker.h"

namespace ragperf {

class DimensionStats {
 public:
  static constexpr size_t kDefaultMaxValues = 100;
  static constexpr absl::string_view kOtherValue = kOverflowName;

  // `max_values` >= 1: distinct values kept per (operation, dimension).
  DimensionStats(size_t max_history, double relative_accuracy,
                 size_t max_values = kDefaultMaxValues);
  DimensionStats(const DimensionStats&) = delete;
  DimensionStats& operator=(const DimensionStats&) = delete;

  // The series id of (operation, dimension, value). Once the pair has
  // `max_values` values, a new value maps to `kOtherValue` and
  // `*overflowed` is set (the caller must not cache that mapping).
  int Intern(absl::string_view operation, absl::string_view dimension,
             absl::string_view value, bool* overflowed) ABSL_LOCKS_EXCLUDED(mu_);
  // Hot path: `id` from Intern().
  void Record(int id, const OperationRecord& record) {
    tracker_.Record(id, record);
  }

  // All-time or windowed (1..60 minutes) statistics of one series; zeros
  // when unknown.
  OperationStats GetStats(absl::string_view operation,
                          absl::string_view dimension,
                          absl::string_view value) const;
  absl::StatusOr<OperationStats> GetWindowStats(absl::string_view operation,
                                                absl::string_view dimension,
                                                absl::string_view value,
                                                int window_minutes,
                                                double now_s) const;
  // The values seen for (operation, dimension), sorted (kOtherValue
  // included once it was used).
  std::vector<std::string> Values(absl::string_view operation,
                                  absl::string_view dimension) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Every (operation, dimension) with at least one value, sorted.
  std::vector<std::pair<std::string, std::string>> Pairs() const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Forgets the statistics (the value lists and caps stay, like interned
  // operation ids).
  void Clear() { tracker_.Clear(); }
  size_t max_values() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return max_values_;
  }
  // Changes the cap for values not seen yet (>= 1; values already kept
  // stay).
  void set_max_values(size_t max_values) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    max_values_ = max_values < 1 ? 1 : max_values;
  }
  size_t MemoryBytes() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using Pair = std::pair<std::string, std::string>;  // operation, dimension
  static std::string SeriesName(absl::string_view operation,
                                absl::string_view dimension,
                                absl::string_view value);

  ResponseTimeTracker tracker_;
  mutable absl::Mutex mu_;
  size_t max_values_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Pair, absl::flat_hash_set<std::string>> values_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace ragperf

#endif  // RAGPERF_DIMENSION_STATS_H_

// Copyright 2026 The ragperf Authors.
//
// cache_stats.h
// -----------------------------------------------------------------------------
// Hit and miss counts per cache name (an embedding cache, a model cache, a
// semantic response cache ...). Thread-safe, one absl::Mutex.
//
// Example:
//
//   ragperf::CacheStats caches;
//   caches.Record("embeddings", /*hit=*/true);
//   caches.Record("embeddings", /*hit=*/false);
//   caches.GetAll()[0].hit_rate();  // 0.5

#ifndef RAGPERF_CACHE_STATS_H_
#define RAGPERF_CACHE_STATS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace ragperf {

struct CacheCounts {
  std::string name;
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t lookups() const { return hits + misses; }
  // hits / lookups; 0 when there were none (callers show "n/a").
  double hit_rate() const {
    return lookups() == 0 ? 0
                          : static_cast<double>(hits) /
                                static_cast<double>(lookups());
  }
};

class CacheStats {
 public:
  // Bytes: 200 characters of up to 4 UTF-8 bytes each.
  static constexpr size_t kMaxNameLength = 800;

  CacheStats() = default;
  CacheStats(const CacheStats&) = delete;
  CacheStats& operator=(const CacheStats&) = delete;

  // Adds `count` hits or misses to `name`. InvalidArgument for an empty or
  // too long name.
  absl::Status Record(absl::string_view name, bool hit, uint64_t count = 1)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Counts of `name` (zeros when unknown).
  CacheCounts Get(absl::string_view name) const ABSL_LOCKS_EXCLUDED(mu_);
  // Every cache, sorted by name.
  std::vector<CacheCounts> GetAll() const ABSL_LOCKS_EXCLUDED(mu_);
  void Clear() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Counts {
    uint64_t hits = 0;
    uint64_t misses = 0;
  };
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Counts> caches_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ragperf

#endif  // RAGPERF_CACHE_STATS_H_

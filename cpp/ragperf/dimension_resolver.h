// Copyright 2026 The ragperf Authors.
//
// dimension_resolver.h
// -----------------------------------------------------------------------------
// Which series of DimensionStats a finished block also records into. The
// monitor declares dimensions (metadata keys such as "model" or "tenant");
// for each one a block has a value for, the block is recorded once more in
// the series (operation, dimension, value). The "model" dimension reads the
// block's model (op.model or metadata["model"]) rather than the metadata
// alone; the caller asks is_model(). Values past DimensionStats' cap share
// the series kOtherValue ("__other__").
//
// The resolver caches (operation id, dimension, value) -> series id so a
// known value costs one hash lookup per block; values that overflowed to
// kOtherValue are never cached, so the cache stays bounded by the cap.
//
// Thread-compatible (the binding uses it under the GIL); DimensionStats
// itself is thread-safe.
//
// Example:
//
//   ragperf::DimensionStats stats(/*max_history=*/100, 0.005);
//   ragperf::DimensionResolver dims(&stats);
//   dims.SetDimensions({"model", "tenant"});
//   int id = dims.Find(/*op_id=*/0, /*dimension=*/1, "acme");   // -1
//   if (id < 0) id = dims.Intern(0, "retrieval", 1, "acme");
//   stats.Record(id, record);

#ifndef RAGPERF_DIMENSION_RESOLVER_H_
#define RAGPERF_DIMENSION_RESOLVER_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "ragperf/dimension_stats.h"

namespace ragperf {

class DimensionResolver {
 public:
  // `stats` is not owned and must outlive the resolver.
  explicit DimensionResolver(DimensionStats* stats) : stats_(stats) {}
  DimensionResolver(const DimensionResolver&) = delete;
  DimensionResolver& operator=(const DimensionResolver&) = delete;

  // The declared metadata keys, in order (empty: no split). Replaces the
  // previous ones; series already recorded stay in DimensionStats.
  void SetDimensions(std::vector<std::string> names);
  size_t size() const { return names_.size(); }
  bool empty() const { return names_.empty(); }
  const std::string& name(size_t dimension) const { return names_[dimension]; }
  // True for the "model" dimension (its value is the block's model).
  bool is_model(size_t dimension) const { return model_index_ == dimension; }

  // The cached series of (operation `op_id`, dimension index, value), or -1
  // when not cached yet (call Intern).
  int Find(int op_id, size_t dimension, absl::string_view value) const {
    const size_t slot = Slot(op_id, dimension);
    if (slot >= cache_.size()) return -1;
    const auto it = cache_[slot].find(value);
    return it == cache_[slot].end() ? -1 : it->second;
  }
  // The series of (op_id named `operation`, dimension, value), interned in
  // DimensionStats and cached unless it overflowed to kOtherValue.
  int Intern(int op_id, absl::string_view operation, size_t dimension,
             absl::string_view value);

  // Cached values (for tests and memory accounting).
  size_t cached_values() const;

 private:
  size_t Slot(int op_id, size_t dimension) const {
    return static_cast<size_t>(op_id) * names_.size() + dimension;
  }

  static constexpr size_t kNoModel = static_cast<size_t>(-1);
  DimensionStats* const stats_;
  std::vector<std::string> names_;
  size_t model_index_ = kNoModel;
  // Slot(op_id, dimension) -> value -> series id.
  std::vector<absl::flat_hash_map<std::string, int>> cache_;
};

}  // namespace ragperf

#endif  // RAGPERF_DIMENSION_RESOLVER_H_

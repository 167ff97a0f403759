// Copyright 2026 The ragperf Authors.

#include "ragperf/dimension_resolver.h"

#include <string>
#include <utility>
#include <vector>

namespace ragperf {

void DimensionResolver::SetDimensions(std::vector<std::string> names) {
  names_ = std::move(names);
  model_index_ = kNoModel;
  for (size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == "model" && model_index_ == kNoModel) model_index_ = i;
  }
  cache_.clear();  // slots are laid out by the number of dimensions
}

int DimensionResolver::Intern(int op_id, absl::string_view operation,
                              size_t dimension, absl::string_view value) {
  bool overflowed = false;
  const int id =
      stats_->Intern(operation, names_[dimension], value, &overflowed);
  if (!overflowed) {
    const size_t slot = Slot(op_id, dimension);
    if (slot >= cache_.size()) cache_.resize(slot + 1);
    cache_[slot].emplace(std::string(value), id);
  }
  return id;
}

size_t DimensionResolver::cached_values() const {
  size_t n = 0;
  for (const auto& values : cache_) n += values.size();
  return n;
}

}  // namespace ragperf

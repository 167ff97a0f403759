// Copyright 2026 The ragperf Authors.

#include "ragperf/dimension_stats.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ragperf {

DimensionStats::DimensionStats(size_t max_history, double relative_accuracy,
                               size_t max_values)
    : tracker_(max_history, relative_accuracy),
      max_values_(std::max<size_t>(1, max_values)) {}

std::string DimensionStats::SeriesName(absl::string_view operation,
                                       absl::string_view dimension,
                                       absl::string_view value) {
  // Length-prefixed, so no operation/dimension/value can collide with
  // another's; the names never leave this class.
  return absl::StrCat(operation.size(), ":", operation, dimension.size(), ":",
                      dimension, value);
}

int DimensionStats::Intern(absl::string_view operation,
                           absl::string_view dimension,
                           absl::string_view value, bool* overflowed) {
  *overflowed = false;
  {
    absl::MutexLock lock(&mu_);
    absl::flat_hash_set<std::string>& values =
        values_[Pair(std::string(operation), std::string(dimension))];
    if (!values.contains(value)) {
      if (values.size() >= max_values_ && value != kOtherValue) {
        *overflowed = true;
        value = kOtherValue;
      }
      values.emplace(value);
    }
  }
  return tracker_.Intern(SeriesName(operation, dimension, value));
}

OperationStats DimensionStats::GetStats(absl::string_view operation,
                                        absl::string_view dimension,
                                        absl::string_view value) const {
  OperationStats stats =
      tracker_.GetStats(SeriesName(operation, dimension, value));
  stats.name = std::string(value);
  return stats;
}

absl::StatusOr<OperationStats> DimensionStats::GetWindowStats(
    absl::string_view operation, absl::string_view dimension,
    absl::string_view value, int window_minutes, double now_s) const {
  absl::StatusOr<OperationStats> stats = tracker_.GetWindowStats(
      SeriesName(operation, dimension, value), window_minutes, now_s);
  if (stats.ok()) stats->name = std::string(value);
  return stats;
}

std::vector<std::string> DimensionStats::Values(
    absl::string_view operation, absl::string_view dimension) const {
  std::vector<std::string> out;
  {
    absl::MutexLock lock(&mu_);
    auto it = values_.find(Pair(std::string(operation), std::string(dimension)));
    if (it != values_.end()) out.assign(it->second.begin(), it->second.end());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::pair<std::string, std::string>> DimensionStats::Pairs() const {
  std::vector<std::pair<std::string, std::string>> out;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, values] : values_) {
      if (!values.empty()) out.push_back(key);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

size_t DimensionStats::MemoryBytes() const {
  size_t bytes = sizeof(*this) + tracker_.MemoryBytes();
  absl::MutexLock lock(&mu_);
  for (const auto& [key, values] : values_) {
    bytes += key.first.capacity() + key.second.capacity() +
             values.capacity() * sizeof(std::string);
    for (const std::string& v : values) bytes += v.capacity();
  }
  return bytes;
}

}  // namespace ragperf

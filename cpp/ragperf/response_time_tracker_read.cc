// Copyright 2026 The ragperf Authors.
//
// ResponseTimeTracker's reading half: statistics (all-time and windowed),
// recent records and counts, collected from the per-operation state
// (operation_state.h) under each shard's lock.

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ragperf/operation_state.h"
#include "ragperf/response_time_tracker.h"

namespace ragperf {

using tracker_internal::Aggregate;
using tracker_internal::MinuteOf;
using tracker_internal::WindowSlot;
using tracker_internal::kNumWindowSlots;

namespace {

// Mean and p50/p95/p99 of a non-empty sketch (left at 0 when empty).
void Summarize(const QuantileSketch& sketch, double& avg, double& p50,
               double& p95, double& p99) {
  if (sketch.empty()) return;
  avg = sketch.mean();
  p50 = sketch.Quantile(0.50);
  p95 = sketch.Quantile(0.95);
  p99 = sketch.Quantile(0.99);
}

void FinishStreams(OperationStats& out, int64_t output_tokens,
                   double generation_s) {
  Summarize(out.ttft_sketch, out.ttft_avg_s, out.ttft_p50_s, out.ttft_p95_s,
            out.ttft_p99_s);
  out.inter_token_samples = out.itl_sketch.count();
  Summarize(out.itl_sketch, out.itl_avg_s, out.itl_p50_s, out.itl_p95_s,
            out.itl_p99_s);
  out.stream_output_tokens = output_tokens;
  out.stream_generation_s = generation_s;
  out.output_tokens_per_second =
      generation_s > 0 ? static_cast<double>(output_tokens) / generation_s : 0;
}

}  // namespace

OperationStats ResponseTimeTracker::Collect(int id, int window_minutes,
                                            double now_s) const {
  OperationStats out;
  out.sketch = QuantileSketch(relative_accuracy_);
  out.ttft_sketch = QuantileSketch(relative_accuracy_);
  out.itl_sketch = QuantileSketch(relative_accuracy_);
  int64_t output_tokens = 0;
  double generation_s = 0;
  out.min_s = std::numeric_limits<double>::infinity();
  out.max_s = -std::numeric_limits<double>::infinity();
  double first = std::numeric_limits<double>::infinity();
  double last = 0;
  absl::flat_hash_map<std::string, uint64_t> errors;
  const int64_t now_minute = MinuteOf(now_s);
  if (id >= 0) {
    const Shard& shard = ShardOf(id);
    absl::MutexLock lock(&shard.mu);
    const OpState* op = FindLocked(shard, id);
    if (op != nullptr && window_minutes == 0) {
      op->all_time.MergeInto(out, first, last);
      op->all_time.MergeStreamInto(out, output_tokens, generation_s);
      for (const auto& [type, n] : op->all_time.errors) errors[type] += n;
      if (op->has_first) {
        out.has_cold_start = true;
        out.cold_start_s = op->first_duration_s;
        out.cold_start_timestamp_s = op->first_timestamp_s;
      }
    } else if (op != nullptr) {
      for (const std::unique_ptr<WindowSlot>& slot : op->windows) {
        if (slot == nullptr || slot->minute < now_minute - window_minutes ||
            slot->minute > now_minute) {
          continue;
        }
        slot->agg.MergeInto(out, first, last);
        slot->agg.MergeStreamInto(out, output_tokens, generation_s);
        for (const auto& [type, n] : slot->agg.errors) errors[type] += n;
      }
    }
  }
  out.name = NameOf(id);
  FinishStreams(out, output_tokens, generation_s);
  if (out.total == 0) {
    out.min_s = out.max_s = 0;
    return out;
  }
  out.has_cost = out.priced_operations > 0;
  out.successful = out.total - out.failed;
  out.avg_s = out.sum_s / static_cast<double>(out.total);
  out.p50_s = out.sketch.Quantile(0.50);
  out.p90_s = out.sketch.Quantile(0.90);
  out.p95_s = out.sketch.Quantile(0.95);
  out.p99_s = out.sketch.Quantile(0.99);
  out.avg_tokens =
      static_cast<double>(out.total_tokens) / static_cast<double>(out.total);
  out.tokens_per_second =
      out.sum_s > 0 ? static_cast<double>(out.total_tokens) / out.sum_s : 0;
  out.avg_memory_delta_mb =
      out.memory_samples > 0
          ? out.total_memory_delta_mb / static_cast<double>(out.memory_samples)
          : 0;
  out.avg_gpu_memory_delta_mb =
      out.gpu_memory_samples > 0
          ? out.total_gpu_memory_delta_mb /
                static_cast<double>(out.gpu_memory_samples)
          : 0;
  out.error_rate =
      static_cast<double>(out.failed) / static_cast<double>(out.total);
  out.first_timestamp_s = first;
  out.last_timestamp_s = last;
  if (window_minutes > 0) {
    out.window_s = now_s - static_cast<double>(now_minute - window_minutes) *
                               kWindowIntervalSeconds;
    out.requests_per_second =
        out.window_s > 0 ? static_cast<double>(out.total) / out.window_s : 0;
  } else if (last > first) {
    out.requests_per_second = static_cast<double>(out.total) / (last - first);
  }
  out.errors_by_type.assign(errors.begin(), errors.end());
  std::sort(out.errors_by_type.begin(), out.errors_by_type.end());
  return out;
}

OperationStats ResponseTimeTracker::GetStats(absl::string_view name) const {
  const int id = FindId(name);
  OperationStats stats = Collect(id, 0, 0);
  stats.name = std::string(name);
  return stats;
}

absl::StatusOr<OperationStats> ResponseTimeTracker::GetWindowStats(
    absl::string_view name, int window_minutes, double now_s) const {
  if (window_minutes < 1 || window_minutes > kMaxWindowMinutes) {
    return absl::InvalidArgumentError(
        "window_minutes must be between 1 and " +
        std::to_string(kMaxWindowMinutes) + ", got " +
        std::to_string(window_minutes));
  }
  OperationStats stats = Collect(FindId(name), window_minutes, now_s);
  stats.name = std::string(name);
  return stats;
}

std::vector<OperationStats> ResponseTimeTracker::GetAllStats() const {
  int num_ids;
  {
    absl::ReaderMutexLock lock(&names_mu_);
    num_ids = static_cast<int>(names_.size());
  }
  std::vector<OperationStats> all;
  for (int id = 0; id < num_ids; ++id) {
    OperationStats stats = Collect(id, 0, 0);
    if (stats.total > 0 || stats.cancelled > 0) all.push_back(std::move(stats));
  }
  std::sort(all.begin(), all.end(),
            [](const OperationStats& a, const OperationStats& b) {
              return a.name < b.name;
            });
  return all;
}

std::vector<RecentRecord> ResponseTimeTracker::GetRecent(
    absl::string_view name, size_t limit) const {
  std::vector<RecentRecord> merged;
  const int id = FindId(name);
  if (id < 0 || limit == 0) return merged;
  {
    const Shard& shard = ShardOf(id);
    absl::MutexLock lock(&shard.mu);
    if (const OpState* op = FindLocked(shard, id); op != nullptr) {
      merged.reserve(op->recent.size());
      op->recent.ForEach(
          [&merged](RecentRecord&& r) { merged.push_back(std::move(r)); });
      // The cold start, if it is still in the ring.
      for (RecentRecord& r : merged) {
        if (op->has_first && r.timestamp_s == op->first_timestamp_s &&
            r.duration_s == op->first_duration_s) {
          r.cold_start = true;
          break;
        }
      }
    }
  }
  // Records arrive in recording order; replays (record(timestamp_s=...)) may
  // be older than records before them.
  std::stable_sort(merged.begin(), merged.end(),
                   [](const RecentRecord& a, const RecentRecord& b) {
                     return a.timestamp_s < b.timestamp_s;
                   });
  const size_t keep = std::min({limit, max_history_, merged.size()});
  merged.erase(merged.begin(),
               merged.begin() + static_cast<std::ptrdiff_t>(merged.size() - keep));
  return merged;
}

uint64_t ResponseTimeTracker::Count(absl::string_view name) const {
  const int only = name.empty() ? -1 : FindId(name);
  if (!name.empty() && only < 0) return 0;
  uint64_t total = 0;
  if (only >= 0) {
    const Shard& shard = ShardOf(only);
    absl::MutexLock lock(&shard.mu);
    const OpState* op = FindLocked(shard, only);
    return op == nullptr ? 0 : op->all_time.total;
  }
  for (const Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    for (const std::unique_ptr<OpState>& op : shard.ops) {
      if (op != nullptr) total += op->all_time.total;
    }
  }
  return total;
}

size_t ResponseTimeTracker::OperationCount() const {
  size_t count = 0;
  for (const Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    for (const std::unique_ptr<OpState>& op : shard.ops) {
      if (op != nullptr &&
          (op->all_time.total > 0 || op->all_time.cancelled > 0)) {
        ++count;
      }
    }
  }
  return count;
}

}  // namespace ragperf

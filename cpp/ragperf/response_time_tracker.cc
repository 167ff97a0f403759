// Copyright 2026 The ragperf Authors.
//
// ResponseTimeTracker's recording half: names -> ids, shards, Record and
// merging saved states. The per-operation state is operation_state.h; the
// reading half is response_time_tracker_read.cc.

#include "ragperf/response_time_tracker.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ragperf/operation_state.h"
#include "ragperf/recent_records.h"
#include "ragperf/saturating.h"

namespace ragperf {

using tracker_internal::MinuteOf;
using tracker_internal::kNoIndex;

ResponseTimeTracker::ResponseTimeTracker(size_t max_history,
                                         double relative_accuracy)
    : max_history_(std::max<size_t>(1, max_history)),
      relative_accuracy_(relative_accuracy) {}

ResponseTimeTracker::~ResponseTimeTracker() = default;

int ResponseTimeTracker::Intern(absl::string_view name) {
  {
    absl::ReaderMutexLock lock(&names_mu_);
    auto it = ids_.find(name);
    if (it != ids_.end()) return it->second;
  }
  absl::MutexLock lock(&names_mu_);
  auto [it, inserted] =
      ids_.try_emplace(std::string(name), static_cast<int>(names_.size()));
  if (inserted) names_.emplace_back(name);
  return it->second;
}

int ResponseTimeTracker::FindId(absl::string_view name) const {
  absl::ReaderMutexLock lock(&names_mu_);
  auto it = ids_.find(name);
  return it == ids_.end() ? -1 : it->second;
}

std::string ResponseTimeTracker::NameOf(int id) const {
  absl::ReaderMutexLock lock(&names_mu_);
  if (id < 0 || static_cast<size_t>(id) >= names_.size()) return "";
  return names_[static_cast<size_t>(id)];
}

ResponseTimeTracker::Shard& ResponseTimeTracker::ShardOf(int id) {
  return shards_[static_cast<size_t>(id) % kNumShards];
}

const ResponseTimeTracker::Shard& ResponseTimeTracker::ShardOf(int id) const {
  return shards_[static_cast<size_t>(id) % kNumShards];
}

ResponseTimeTracker::OpState* ResponseTimeTracker::FindLocked(const Shard& shard,
                                                              int id) {
  const size_t index = static_cast<size_t>(id) / kNumShards;
  return index < shard.ops.size() ? shard.ops[index].get() : nullptr;
}

ResponseTimeTracker::OpState& ResponseTimeTracker::OpLocked(Shard& shard,
                                                            int id) const {
  const size_t index = static_cast<size_t>(id) / kNumShards;
  if (index >= shard.ops.size()) shard.ops.resize(index + 1);
  std::unique_ptr<OpState>& op = shard.ops[index];
  if (op == nullptr) {
    op = std::make_unique<OpState>(relative_accuracy_, max_history_);
  }
  return *op;
}

void ResponseTimeTracker::Record(int id, const OperationRecord& record) {
  if (id < 0) return;
  Shard& shard = ShardOf(id);
  absl::MutexLock lock(&shard.mu);
  OpLocked(shard, id).Add(record);
}

void ResponseTimeTracker::RecordCancelled(int id, double timestamp_s) {
  if (id < 0) return;
  Shard& shard = ShardOf(id);
  absl::MutexLock lock(&shard.mu);
  OpLocked(shard, id).AddCancelled(timestamp_s);
}

void ResponseTimeTracker::RecordInterTokenGap(int id, double gap_s,
                                              int64_t tokens,
                                              double timestamp_s) {
  if (id < 0 || tokens < 1 || !(gap_s >= 0)) return;
  Shard& shard = ShardOf(id);
  absl::MutexLock lock(&shard.mu);
  OpLocked(shard, id).AddInterTokenGap(
      gap_s / static_cast<double>(tokens), tokens, timestamp_s);
}

absl::Status ResponseTimeTracker::MergeState(absl::string_view name,
                                             const OperationStats& state) {
  const QuantileSketch reference(relative_accuracy_);
  for (const QuantileSketch* s :
       {&state.sketch, &state.ttft_sketch, &state.itl_sketch}) {
    if (s->relative_accuracy() != reference.relative_accuracy() ||
        s->max_bins() != reference.max_bins()) {
      return absl::InvalidArgumentError(
          "cannot merge operation '" + std::string(name) +
          "': its sketches have relative accuracy " +
          std::to_string(s->relative_accuracy()) + ", this monitor uses " +
          std::to_string(relative_accuracy_));
    }
  }
  if (state.total == 0 && state.cancelled == 0) return absl::OkStatus();
  const int id = Intern(name);
  Shard& shard = ShardOf(id);
  absl::MutexLock lock(&shard.mu);
  OpState& op = OpLocked(shard, id);
  op.all_time.MergeState(state);
  if (state.has_cold_start &&
      (!op.has_first || state.cold_start_timestamp_s < op.first_timestamp_s)) {
    op.has_first = true;
    op.first_duration_s = state.cold_start_s;
    op.first_timestamp_s = state.cold_start_timestamp_s;
  }
  return absl::OkStatus();
}

bool ResponseTimeTracker::InWindowRange(double timestamp_s, double now_s) {
  const int64_t minute = MinuteOf(timestamp_s);
  const int64_t now_minute = MinuteOf(now_s);
  return minute <= now_minute && minute >= now_minute - kMaxWindowMinutes;
}

void ResponseTimeTracker::RecordDuration(absl::string_view name,
                                         double duration_s) {
  OperationRecord record;
  record.duration_s = duration_s;
  record.timestamp_s = absl::ToUnixNanos(absl::Now()) * 1e-9;
  Record(Intern(name), record);
}

void ResponseTimeTracker::Clear() {
  for (Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    for (std::unique_ptr<OpState>& op : shard.ops) {
      if (op != nullptr) op->Reset();
    }
  }
}

size_t ResponseTimeTracker::MemoryBytes() const {
  size_t bytes = sizeof(*this);
  for (const Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    bytes += HeapBytes(shard.ops.capacity() * sizeof(std::unique_ptr<OpState>));
    for (const std::unique_ptr<OpState>& op : shard.ops) {
      if (op != nullptr) bytes += op->MemoryBytes();
    }
  }
  return bytes;
}

}  // namespace ragperf

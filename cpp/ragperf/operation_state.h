// Copyright 2026 The ragperf Authors.
//
// operation_state.h (internal to ResponseTimeTracker)
// -----------------------------------------------------------------------------
// The per-operation state behind ResponseTimeTracker: the Aggregate of
// everything that adds up (counts, sums, the duration sketch, errors, cost,
// caches, stream figures), the 61 one-minute WindowSlots, the recent-record
// ring, and OpState tying them together. Shared by the tracker's recording
// half (response_time_tracker.cc, where OpState::Add inlines into Record)
// and its reading half (response_time_tracker_read.cc). Not a public API:
// include response_time_tracker.h instead.
//
// Example (inside the tracker, under the shard lock):
//
//   OpState& op = OpLocked(shard, id);
//   op.Add(record);                       // all-time, window, recent ring
//   const Aggregate& minute = op.windows[slot]->agg;

#ifndef RAGPERF_OPERATION_STATE_H_
#define RAGPERF_OPERATION_STATE_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/optimization.h"
#include "absl/container/flat_hash_map.h"
#include "ragperf/quantile_sketch.h"
#include "ragperf/recent_records.h"
#include "ragperf/record_validator.h"
#include "ragperf/response_time_tracker.h"
#include "ragperf/saturating.h"

namespace ragperf {
namespace tracker_internal {

inline constexpr int kNumWindowSlots = ResponseTimeTracker::kMaxWindowMinutes + 1;
inline constexpr int kNoIndex = std::numeric_limits<int>::min();

inline int64_t MinuteOf(double timestamp_s) {
  return static_cast<int64_t>(
      std::floor(timestamp_s / ResponseTimeTracker::kWindowIntervalSeconds));
}

// Streaming figures; allocated on an aggregate's first stream record so
// operations that never stream pay nothing for them.
struct StreamAggregate {
  explicit StreamAggregate(double relative_accuracy)
      : ttft(relative_accuracy), itl(relative_accuracy) {}
  uint64_t streams = 0;
  int64_t output_tokens = 0;
  double generation_s = 0;  // sum of (duration - time to first token)
  QuantileSketch ttft;
  QuantileSketch itl;
};

// True when a record has anything beyond the plain block's fields: the
// aggregates and the recent ring handle those out of line.
inline bool HasExtras(const OperationRecord& r) {
  return r.has_cost || !r.model.empty() || r.cache_hit >= 0 ||
         r.has_time_to_first_token || !r.success || !r.metadata_json.empty();
}

// Everything that adds up across time slots and merged states.
struct Aggregate {
  explicit Aggregate(double relative_accuracy) : sketch(relative_accuracy) {}

  // `index` is the sketch bin of r.duration_s, or kNoIndex when it is not
  // indexable (zero or out of range).
  // `extras`: the record carries a cost, model, cache lookup or stream
  // (HasExtras), computed once per record by the caller.
  void Add(const OperationRecord& r, int index, bool extras) {
    ++total;
    if (!r.success) {
      ++failed;
      ++errors[ErrorTypeOrDefault(r.error_type)];
    }
    sum_s += r.duration_s;
    min_s = std::min(min_s, r.duration_s);
    max_s = std::max(max_s, r.duration_s);
    tokens = SaturatingAdd(tokens, r.tokens);
    prompt_tokens = SaturatingAdd(prompt_tokens, r.prompt_tokens);
    completion_tokens = SaturatingAdd(completion_tokens, r.completion_tokens);
    if (r.has_memory_delta) {
      ++memory_samples;
      memory_delta_mb += r.memory_delta_mb;
    }
    if (r.has_gpu_memory_delta) {
      ++gpu_memory_samples;
      gpu_memory_delta_mb += r.gpu_memory_delta_mb;
    }
    // Records may arrive out of order (record(timestamp_s=...) replays).
    first_ts = total == 1 ? r.timestamp_s : std::min(first_ts, r.timestamp_s);
    last_ts = std::max(last_ts, r.timestamp_s);
    if (ABSL_PREDICT_FALSE(extras)) AddExtras(r);
    if (index != kNoIndex) {
      sketch.AddAt(r.duration_s, index);
    } else {
      sketch.Add(r.duration_s);
    }
  }

  void AddExtras(const OperationRecord& r) {
    if (r.has_cost) {
      ++priced;
      cost_usd += r.cost_usd;
    } else if (!r.model.empty()) {
      ++unpriced;
    }
    if (r.cache_hit >= 0) ++(r.cache_hit > 0 ? cache_hits : cache_misses);
    if (r.has_time_to_first_token) {
      StreamAggregate& st = Stream();
      ++st.streams;
      st.ttft.Add(r.time_to_first_token_s);
      st.output_tokens = SaturatingAdd(
          st.output_tokens, r.completion_tokens > 0 ? r.completion_tokens : r.tokens);
      st.generation_s +=
          std::max(0.0, r.duration_s - r.time_to_first_token_s);
    }
  }

  void MergeInto(OperationStats& out, double& first, double& last) const {
    out.cancelled += cancelled;
    if (total == 0) return;
    out.total += total;
    out.failed += failed;
    out.sum_s += sum_s;
    out.min_s = std::min(out.min_s, min_s);
    out.max_s = std::max(out.max_s, max_s);
    out.total_tokens = SaturatingAdd(out.total_tokens, tokens);
    out.prompt_tokens = SaturatingAdd(out.prompt_tokens, prompt_tokens);
    out.completion_tokens =
        SaturatingAdd(out.completion_tokens, completion_tokens);
    out.memory_samples += memory_samples;
    out.total_memory_delta_mb += memory_delta_mb;
    out.gpu_memory_samples += gpu_memory_samples;
    out.total_gpu_memory_delta_mb += gpu_memory_delta_mb;
    first = std::min(first, first_ts);
    last = std::max(last, last_ts);
    out.priced_operations += priced;
    out.unpriced_operations += unpriced;
    out.cost_usd += cost_usd;
    out.cache_hits += cache_hits;
    out.cache_misses += cache_misses;
    // Same accuracy by construction, so Merge cannot fail.
    out.sketch.Merge(sketch).IgnoreError();
  }

  // Streams merge separately: inter-token gaps may arrive in an aggregate
  // with no finished record yet (a stream still running).
  void MergeStreamInto(OperationStats& out, int64_t& output_tokens,
                       double& generation_s) const {
    if (stream == nullptr) return;
    out.streams += stream->streams;
    output_tokens = SaturatingAdd(output_tokens, stream->output_tokens);
    generation_s += stream->generation_s;
    out.ttft_sketch.Merge(stream->ttft).IgnoreError();
    out.itl_sketch.Merge(stream->itl).IgnoreError();
  }

  // Adds a saved state (the inverse of MergeInto for one aggregate).
  void MergeState(const OperationStats& st) {
    cancelled += st.cancelled;
    if (st.total == 0) return;
    if (total == 0) first_ts = st.first_timestamp_s;
    first_ts = std::min(first_ts, st.first_timestamp_s);
    last_ts = std::max(last_ts, st.last_timestamp_s);
    total += st.total;
    failed += st.failed;
    sum_s += st.sum_s;
    min_s = std::min(min_s, st.min_s);
    max_s = std::max(max_s, st.max_s);
    tokens = SaturatingAdd(tokens, st.total_tokens);
    prompt_tokens = SaturatingAdd(prompt_tokens, st.prompt_tokens);
    completion_tokens = SaturatingAdd(completion_tokens, st.completion_tokens);
    memory_samples += st.memory_samples;
    memory_delta_mb += st.total_memory_delta_mb;
    gpu_memory_samples += st.gpu_memory_samples;
    gpu_memory_delta_mb += st.total_gpu_memory_delta_mb;
    priced += st.priced_operations;
    unpriced += st.unpriced_operations;
    cost_usd += st.cost_usd;
    cache_hits += st.cache_hits;
    cache_misses += st.cache_misses;
    for (const auto& [type, n] : st.errors_by_type) errors[type] += n;
    sketch.Merge(st.sketch).IgnoreError();  // accuracy checked by the caller
    if (st.streams > 0 || !st.itl_sketch.empty()) {
      StreamAggregate& s = Stream();
      s.streams += st.streams;
      s.output_tokens = SaturatingAdd(s.output_tokens, st.stream_output_tokens);
      s.generation_s += st.stream_generation_s;
      s.ttft.Merge(st.ttft_sketch).IgnoreError();
      s.itl.Merge(st.itl_sketch).IgnoreError();
    }
  }

  StreamAggregate& Stream() {
    if (stream == nullptr) {
      stream = std::make_unique<StreamAggregate>(sketch.relative_accuracy());
    }
    return *stream;
  }

  void Reset() {
    total = failed = memory_samples = gpu_memory_samples = 0;
    sum_s = memory_delta_mb = gpu_memory_delta_mb = 0;
    min_s = std::numeric_limits<double>::infinity();
    max_s = -std::numeric_limits<double>::infinity();
    tokens = prompt_tokens = completion_tokens = 0;
    first_ts = last_ts = 0;
    priced = unpriced = cache_hits = cache_misses = 0;
    cancelled = 0;
    cost_usd = 0;
    errors.clear();
    sketch.Clear();
    stream.reset();
  }

  uint64_t total = 0;
  uint64_t failed = 0;
  double sum_s = 0;
  double min_s = std::numeric_limits<double>::infinity();
  double max_s = -std::numeric_limits<double>::infinity();
  int64_t tokens = 0;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  uint64_t memory_samples = 0;
  double memory_delta_mb = 0;
  uint64_t gpu_memory_samples = 0;
  double gpu_memory_delta_mb = 0;
  double first_ts = 0;
  double last_ts = 0;
  uint64_t priced = 0;
  uint64_t unpriced = 0;
  double cost_usd = 0;
  uint64_t cache_hits = 0;
  uint64_t cache_misses = 0;
  uint64_t cancelled = 0;  // blocks ended by a cancellation, not in `total`
  absl::flat_hash_map<std::string, uint64_t> errors;
  QuantileSketch sketch;
  std::unique_ptr<StreamAggregate> stream;
};

struct WindowSlot {
  explicit WindowSlot(double relative_accuracy) : agg(relative_accuracy) {}
  int64_t minute = std::numeric_limits<int64_t>::min();
  Aggregate agg;
};

}  // namespace tracker_internal

struct ResponseTimeTracker::OpState {
  using Aggregate = tracker_internal::Aggregate;
  using WindowSlot = tracker_internal::WindowSlot;
  using StreamAggregate = tracker_internal::StreamAggregate;

  OpState(double relative_accuracy, size_t max_history)
      : all_time(relative_accuracy),
        recent(max_history),
        relative_accuracy(relative_accuracy) {}

  void Add(const OperationRecord& r) {
    // The cold start is the operation's earliest record (by timestamp):
    // threads may hand over their first records in any order.
    if (all_time.total == 0 || r.timestamp_s < first_timestamp_s) {
      has_first = true;
      first_duration_s = r.duration_s;
      first_timestamp_s = r.timestamp_s;
    }
    // One log for both sketches: they share the accuracy.
    const int index = QuantileSketch::IsIndexable(r.duration_s)
                          ? all_time.sketch.IndexFor(r.duration_s)
                          : tracker_internal::kNoIndex;
    const bool extras = tracker_internal::HasExtras(r);
    all_time.Add(r, index, extras);
    if (WindowSlot* slot = SlotFor(r.timestamp_s, r.skip_windows)) {
      slot->agg.Add(r, index, extras);
    }
    recent.Push(r, extras);
  }

  void AddCancelled(double timestamp_s) {
    ++all_time.cancelled;
    if (WindowSlot* slot = SlotFor(timestamp_s, false)) ++slot->agg.cancelled;
  }

  void AddInterTokenGap(double per_token_s, int64_t tokens, double timestamp_s) {
    const uint64_t n = static_cast<uint64_t>(tokens);
    all_time.Stream().itl.Add(per_token_s, n);
    if (WindowSlot* slot = SlotFor(timestamp_s, false)) {
      slot->agg.Stream().itl.Add(per_token_s, n);
    }
  }

  // The one-minute slot of `timestamp_s`, recycled when it held an older
  // minute; nullptr when `skip` or when the slot already holds a newer
  // minute (the record is over an hour older than data kept there: it must
  // not erase it). Each slot is created on its first record, so an
  // operation pays for the minutes it was recorded in, not for all 61.
  WindowSlot* SlotFor(double timestamp_s, bool skip) {
    if (ABSL_PREDICT_FALSE(skip)) return nullptr;
    constexpr int kSlots = tracker_internal::kNumWindowSlots;
    if (ABSL_PREDICT_FALSE(windows.empty())) windows.resize(kSlots);
    const int64_t minute = tracker_internal::MinuteOf(timestamp_s);
    std::unique_ptr<WindowSlot>& held = windows[static_cast<size_t>(
        ((minute % kSlots) + kSlots) % kSlots)];
    if (ABSL_PREDICT_FALSE(held == nullptr)) {
      held = std::make_unique<WindowSlot>(relative_accuracy);
    }
    WindowSlot& slot = *held;
    if (slot.minute != minute) {
      if (ABSL_PREDICT_FALSE(minute < slot.minute)) return nullptr;
      slot.agg.Reset();
      slot.minute = minute;
    }
    return &slot;
  }

  void Reset() {
    all_time.Reset();
    windows.clear();
    recent.Clear();
    has_first = false;
  }

  // Heap bytes of this state, allocator overhead included.
  size_t MemoryBytes() const {
    size_t bytes = HeapBytes(sizeof(*this)) + SketchHeapBytes(all_time) +
                   HeapBytes(windows.capacity() * sizeof(windows[0]));
    for (const std::unique_ptr<WindowSlot>& w : windows) {
      if (w != nullptr) bytes += HeapBytes(sizeof(WindowSlot)) + SketchHeapBytes(w->agg);
    }
    return bytes + recent.MemoryBytes();
  }

  // The bin arrays of an aggregate's sketches (the sketches themselves are
  // inside the aggregate) and its stream figures.
  static size_t SketchHeapBytes(const Aggregate& agg) {
    size_t bytes = HeapBytes(agg.sketch.MemoryBytes() - sizeof(QuantileSketch));
    if (agg.stream != nullptr) {
      bytes += HeapBytes(sizeof(StreamAggregate)) +
               HeapBytes(agg.stream->ttft.MemoryBytes() - sizeof(QuantileSketch)) +
               HeapBytes(agg.stream->itl.MemoryBytes() - sizeof(QuantileSketch));
    }
    return bytes;
  }

  Aggregate all_time;
  std::vector<std::unique_ptr<WindowSlot>> windows;  // 61 once used; by minute
  RecentRecords recent;
  bool has_first = false;  // the first record since Reset()
  double first_duration_s = 0;
  double first_timestamp_s = 0;
  const double relative_accuracy;
};

}  // namespace ragperf

#endif  // RAGPERF_OPERATION_STATE_H_

// Copyright 2026 The ragperf Authors.

#include "ragperf/response_time_tracker.h"

#include "absl/time/clock.h"
#include "ragperf/saturating.h"
#include "ragperf/recent_records.h"
#include "absl/time/time.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <utility>

namespace ragperf {
namespace {

constexpr int kNumWindowSlots = ResponseTimeTracker::kMaxWindowMinutes + 1;
constexpr int kNoIndex = std::numeric_limits<int>::min();

int64_t MinuteOf(double timestamp_s) {
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
bool HasExtras(const OperationRecord& r) {
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
      ++errors[r.error_type.empty() ? absl::string_view("Error") : r.error_type];
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

}  // namespace

struct ResponseTimeTracker::OpState {
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
                          : kNoIndex;
    const bool extras = HasExtras(r);
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
    if (ABSL_PREDICT_FALSE(windows.empty())) windows.resize(kNumWindowSlots);
    const int64_t minute = MinuteOf(timestamp_s);
    std::unique_ptr<WindowSlot>& held = windows[static_cast<size_t>(
        ((minute % kNumWindowSlots) + kNumWindowSlots) % kNumWindowSlots)];
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

// Copyright 2026 The ragperf Authors.
//
// recent_records.h
// -----------------------------------------------------------------------------
// One operation's "recent operations" ring: the last `capacity` raw records,
// stored compactly (issue #20: 1,000 records with metadata must fit in well
// under 96 KiB together with the operation's sketches).
//
// Layout. Every record keeps its common numbers inline in a 64-byte slot
// (one cache line: times, memory delta, tokens, span id). Its text
// (error type, error message, model, response model, metadata JSON) is
// interned: the slot holds a 4-byte id into a per-ring table of distinct
// text tuples, each stored once with a reference count and dropped when the
// last record using it leaves the ring. The same model and metadata repeated a thousand times
// cost one copy; a thousand distinct error messages cost a thousand, as
// before. Time to first token and cost (LLM blocks), and the parent, trace
// and depth of nested blocks (a root block's trace is its own span, parent
// 0, depth 0), go to parallel arrays allocated on the first record that has
// them, so plain root blocks pay nothing for them.
//
// Not thread-safe; the owner (ResponseTimeTracker) locks around it.
//
// Example:
//
//   ragperf::RecentRecords ring(/*capacity=*/1000);
//   ragperf::OperationRecord r;
//   r.duration_s = 0.1;
//   r.metadata_json = R"({"user":"alice"})";
//   ring.Push(r);
//   ring.ForEach([](const ragperf::RecentRecord& rec) { /* oldest first */ });

#ifndef RAGPERF_RECENT_RECORDS_H_
#define RAGPERF_RECENT_RECORDS_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "ragperf/ring_buffer.h"

namespace ragperf {

struct OperationRecord;
struct RecentRecord;

// Bytes the allocator adds to every heap block (glibc: an 8-byte header,
// 16-byte granularity), counted by MemoryBytes() so that it agrees with RSS.
inline size_t HeapBytes(size_t requested) {
  return requested == 0 ? 0 : ((requested + 8 + 15) / 16) * 16;
}

class RecentRecords {
 public:
  // `capacity` >= 1 (0 is treated as 1).
  explicit RecentRecords(size_t capacity);
  RecentRecords(const RecentRecords&) = delete;
  RecentRecords& operator=(const RecentRecords&) = delete;

  // Appends `r` (evicting the oldest record once full). `extras`: `r` has
  // text, a cost, a time to first token or a cache lookup (false lets a
  // plain block skip those; true is always correct).
  void Push(const OperationRecord& r, bool extras = true);
  // Calls f(RecentRecord) from the oldest record to the newest (cold_start
  // false: the tracker knows which record was the first).
  void ForEach(const std::function<void(RecentRecord&&)>& f) const;

  size_t size() const { return ring_.size(); }
  size_t capacity() const { return ring_.capacity(); }
  // Forgets every record and releases the storage.
  void Clear();
  // Bytes held (slots, text table, numbers), heap-block overhead included.
  size_t MemoryBytes() const;

  // Distinct text tuples held (for tests of the interning).
  size_t distinct_texts() const { return index_.size(); }

 private:
  // One record's inline part.
  struct Slot {
    double timestamp_s = 0;
    double duration_s = 0;
    double memory_delta_mb = 0;
    int64_t tokens = 0;
    int64_t prompt_tokens = 0;
    int64_t completion_tokens = 0;
    uint64_t span_id = 0;
    uint32_t text = 0;   // id in the text table, 0 = no text
    uint8_t flags = 0;   // kSuccess | kHasMemoryDelta | ...
    int8_t cache_hit = -1;
  };
  static_assert(sizeof(Slot) == 64, "recent-record slot must stay compact");
  static constexpr uint8_t kSuccess = 1;
  static constexpr uint8_t kHasMemoryDelta = 2;
  static constexpr uint8_t kHasTimeToFirstToken = 8;
  static constexpr uint8_t kHasCost = 16;
  static constexpr uint8_t kNested = 32;  // nesting_[index] holds the rest

  // Time to first token and cost of the slot with the same index.
  struct Numbers {
    double time_to_first_token_s = 0;
    double cost_usd = 0;
  };

  // A distinct text tuple; keys of index_ view its strings.
  struct Text {
    std::string error_type;
    std::string error_message;
    std::string model;
    std::string response_model;
    std::string metadata_json;
    uint32_t refs = 0;
  };
  struct TextKey {
    absl::string_view error_type;
    absl::string_view error_message;
    absl::string_view model;
    absl::string_view response_model;
    absl::string_view metadata_json;
    bool operator==(const TextKey& o) const {
      return error_type == o.error_type && error_message == o.error_message &&
             model == o.model && response_model == o.response_model &&
             metadata_json == o.metadata_json;
    }
    template <typename H>
    friend H AbslHashValue(H h, const TextKey& k) {
      return H::combine(std::move(h), k.error_type, k.error_message, k.model,
                        k.response_model, k.metadata_json);
    }
  };
  static TextKey KeyOf(const Text& t) {
    return {t.error_type, t.error_message, t.model, t.response_model,
            t.metadata_json};
  }

  uint32_t Acquire(const TextKey& key);  // a reference to key's id (>= 1)
  void Release(uint32_t id);             // drops one; 0 is a no-op

  // Parent, trace and depth of the slot with the same index (nested blocks).
  struct Nesting {
    uint64_t parent_id = 0;
    uint64_t trace_id = 0;
    int depth = 0;
  };
  // Grows `v` (indexed like the ring's slots) to hold `index`.
  template <typename T>
  T& Side(std::vector<T>& v, size_t index) {
    if (v.size() <= index) {
      v.resize(std::min(ring_.capacity(), std::max(index + 1, v.size() * 2)));
    }
    return v[index];
  }

  RingBuffer<Slot> ring_;
  std::vector<Numbers> numbers_;  // by slot index; empty until first needed
  std::vector<Nesting> nesting_;  // by slot index; empty until first needed
  std::vector<std::unique_ptr<Text>> texts_;  // id - 1 -> text (null: free)
  std::vector<uint32_t> free_ids_;
  absl::flat_hash_map<TextKey, uint32_t> index_;
  uint32_t last_id_ = 0;  // the last id acquired: the common repeat is free
  uint64_t last_key_ = 0;  // the text_key of last_id_'s record (0: none)
};

}  // namespace ragperf

#endif  // RAGPERF_RECENT_RECORDS_H_

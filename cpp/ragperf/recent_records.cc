// Copyright 2026 The ragperf Authors.

#include "ragperf/recent_records.h"

#include <algorithm>

#include "absl/base/optimization.h"

#include "ragperf/response_time_tracker.h"
#include "ragperf/utf8.h"

namespace ragperf {
namespace {

// Error messages kept per recent record, as in ErrorLog.
constexpr size_t kMaxRecentMessageBytes = 1000;

size_t StringHeapBytes(const std::string& s) {
  // Short strings live inside the std::string itself (SSO).
  return s.capacity() > 15 ? HeapBytes(s.capacity() + 1) : 0;
}

}  // namespace

RecentRecords::RecentRecords(size_t capacity) : ring_(capacity) {}

uint32_t RecentRecords::Acquire(const TextKey& key) {
  if (last_id_ != 0) {
    Text& last = *texts_[last_id_ - 1];
    if (KeyOf(last) == key) {
      ++last.refs;
      return last_id_;
    }
  }
  auto it = index_.find(key);
  if (it != index_.end()) {
    ++texts_[it->second - 1]->refs;
    last_id_ = it->second;
    return last_id_;
  }
  auto text = std::make_unique<Text>();
  text->error_type.assign(key.error_type.data(), key.error_type.size());
  text->error_message.assign(key.error_message.data(), key.error_message.size());
  text->model.assign(key.model.data(), key.model.size());
  text->response_model.assign(key.response_model.data(), key.response_model.size());
  text->metadata_json.assign(key.metadata_json.data(), key.metadata_json.size());
  text->refs = 1;
  uint32_t id;
  if (!free_ids_.empty()) {
    id = free_ids_.back();
    free_ids_.pop_back();
  } else {
    texts_.emplace_back();
    id = static_cast<uint32_t>(texts_.size());
  }
  index_.emplace(KeyOf(*text), id);
  texts_[id - 1] = std::move(text);
  last_id_ = id;
  return id;
}

void RecentRecords::Release(uint32_t id) {
  if (id == 0) return;
  std::unique_ptr<Text>& text = texts_[id - 1];
  if (--text->refs > 0) return;
  index_.erase(KeyOf(*text));
  text.reset();
  free_ids_.push_back(id);
  if (last_id_ == id) {
    last_id_ = 0;
    last_key_ = 0;
  }
}

void RecentRecords::Push(const OperationRecord& r, bool extras) {
  const size_t index = ring_.PushIndex();
  Slot& slot = ring_.at(index);
  slot.timestamp_s = r.timestamp_s;
  slot.duration_s = r.duration_s;
  slot.memory_delta_mb = r.memory_delta_mb;
  slot.tokens = r.tokens;
  slot.prompt_tokens = r.prompt_tokens;
  slot.completion_tokens = r.completion_tokens;
  slot.span_id = r.span_id;
  uint8_t flags = static_cast<uint8_t>((r.success ? kSuccess : 0) |
                                       (r.has_memory_delta ? kHasMemoryDelta : 0));
  if (ABSL_PREDICT_FALSE(r.parent_id != 0 || r.depth != 0 ||
                         r.trace_id != r.span_id)) {
    flags |= kNested;
    Side(nesting_, index) = {r.parent_id, r.trace_id, r.depth};
  }
  if (ABSL_PREDICT_TRUE(!extras)) {  // a plain block: no text, no LLM fields
    slot.cache_hit = -1;
    slot.flags = flags;
    if (ABSL_PREDICT_FALSE(slot.text != 0)) {
      Release(slot.text);
      slot.text = 0;
    }
    return;
  }
  slot.cache_hit = static_cast<int8_t>(r.cache_hit < 0 ? -1 : r.cache_hit > 0 ? 1 : 0);
  if (r.has_time_to_first_token || r.has_cost) {
    if (r.has_time_to_first_token) flags |= kHasTimeToFirstToken;
    if (r.has_cost) flags |= kHasCost;
    Side(numbers_, index) = {r.has_time_to_first_token ? r.time_to_first_token_s : 0,
                             r.has_cost ? r.cost_usd : 0};
  }
  slot.flags = flags;
  const absl::string_view type = r.success ? absl::string_view() : r.error_type;
  const absl::string_view message =
      r.success ? absl::string_view()
                : Utf8Prefix(r.error_message, kMaxRecentMessageBytes);
  // Acquire before releasing: a record that repeats the evicted one's text
  // keeps its entry (and its allocation) alive.
  uint32_t text = 0;
  if (r.text_key != 0 && r.text_key == last_key_ && last_id_ != 0) {
    // The same text as last time, known without comparing. Replacing a
    // record of that same text (a full ring in steady state) changes no
    // reference count.
    if (slot.text == last_id_) return;
    ++texts_[last_id_ - 1]->refs;
    text = last_id_;
  } else if (!type.empty() || !message.empty() || !r.model.empty() ||
             !r.response_model.empty() || !r.metadata_json.empty()) {
    text = Acquire(TextKey{type, message, r.model, r.response_model, r.metadata_json});
    last_key_ = r.text_key;
  }
  const uint32_t old_text = slot.text;  // of the evicted record, if any
  slot.text = text;
  if (old_text != 0) Release(old_text);
}

void RecentRecords::ForEach(const std::function<void(RecentRecord&&)>& f) const {
  ring_.ForEachIndex([&](size_t index) {
    const Slot& s = ring_.at(index);
    RecentRecord r;
    r.timestamp_s = s.timestamp_s;
    r.duration_s = s.duration_s;
    r.tokens = s.tokens;
    r.prompt_tokens = s.prompt_tokens;
    r.completion_tokens = s.completion_tokens;
    r.success = (s.flags & kSuccess) != 0;
    r.has_memory_delta = (s.flags & kHasMemoryDelta) != 0;
    r.memory_delta_mb = s.memory_delta_mb;
    r.span_id = s.span_id;
    r.trace_id = s.span_id;
    if ((s.flags & kNested) != 0) {
      const Nesting& n = nesting_[index];
      r.parent_id = n.parent_id;
      r.trace_id = n.trace_id;
      r.depth = n.depth;
    }
    r.cache_hit = s.cache_hit;
    if ((s.flags & (kHasTimeToFirstToken | kHasCost)) != 0) {
      const Numbers& n = numbers_[index];
      r.has_time_to_first_token = (s.flags & kHasTimeToFirstToken) != 0;
      r.time_to_first_token_s = n.time_to_first_token_s;
      r.has_cost = (s.flags & kHasCost) != 0;
      r.cost_usd = n.cost_usd;
    }
    if (s.text != 0) {
      const Text& t = *texts_[s.text - 1];
      r.error_type = t.error_type;
      r.error_message = t.error_message;
      r.model = t.model;
      r.response_model = t.response_model;
      r.metadata_json = t.metadata_json;
    }
    f(std::move(r));
  });
}

void RecentRecords::Clear() {
  ring_.Clear();
  std::vector<Numbers>().swap(numbers_);
  std::vector<Nesting>().swap(nesting_);
  std::vector<std::unique_ptr<Text>>().swap(texts_);
  std::vector<uint32_t>().swap(free_ids_);
  absl::flat_hash_map<TextKey, uint32_t>().swap(index_);
  last_id_ = 0;
  last_key_ = 0;
}

size_t RecentRecords::MemoryBytes() const {
  size_t bytes = HeapBytes(ring_.MemoryBytes()) +
                 HeapBytes(numbers_.capacity() * sizeof(Numbers)) +
                 HeapBytes(nesting_.capacity() * sizeof(Nesting)) +
                 HeapBytes(texts_.capacity() * sizeof(std::unique_ptr<Text>)) +
                 HeapBytes(free_ids_.capacity() * sizeof(uint32_t));
  if (index_.capacity() > 0) {
    // One control byte and one slot per capacity entry.
    bytes += HeapBytes(index_.capacity() *
                       (sizeof(std::pair<const TextKey, uint32_t>) + 1));
  }
  for (const std::unique_ptr<Text>& t : texts_) {
    if (t == nullptr) continue;
    bytes += HeapBytes(sizeof(Text)) + StringHeapBytes(t->error_type) +
             StringHeapBytes(t->error_message) + StringHeapBytes(t->model) + StringHeapBytes(t->response_model) +
             StringHeapBytes(t->metadata_json);
  }
  return bytes;
}

}  // namespace ragperf

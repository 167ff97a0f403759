// Copyright 2026 The ragperf Authors.
//
// ring_buffer.h
// -----------------------------------------------------------------------------
// A bounded FIFO that overwrites its oldest element once full: the "last N"
// store behind recent operations and recent errors. Not thread-safe; the
// owner locks around it. Storage grows with use up to `capacity`, so an idle
// ring costs nothing.
//
// Example:
//
//   ragperf::RingBuffer<int> ring(/*capacity=*/3);
//   for (int i = 0; i < 5; ++i) ring.Push(i);
//   ring.Newest(10);  // {2, 3, 4}, oldest first

#ifndef RAGPERF_RING_BUFFER_H_
#define RAGPERF_RING_BUFFER_H_

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

namespace ragperf {

template <typename T>
class RingBuffer {
 public:
  // `capacity` >= 1 (0 is treated as 1).
  explicit RingBuffer(size_t capacity) : capacity_(std::max<size_t>(1, capacity)) {}

  void Push(T value) {
    if (items_.size() < capacity_) {
      items_.push_back(std::move(value));
    } else {
      items_[next_] = std::move(value);
      next_ = (next_ + 1) % capacity_;
    }
  }

  // The slot the next element goes to, as a reference to overwrite in place
  // (once full: the oldest element, whose storage, e.g. string capacity, is
  // reused). The element counts as pushed.
  T& PushSlot() { return items_[PushIndex()]; }

  // PushSlot() for a caller that keeps per-slot data alongside the ring:
  // the index of the slot (see at()) the pushed element occupies.
  size_t PushIndex() {
    if (items_.size() < capacity_) {
      // Grow geometrically up to 64 elements, then straight to the
      // capacity: a busy ring is not reallocated ten times on its way to
      // full (each reallocation leaves a hole in the recording thread's
      // malloc arena), an idle one stays small, and a full ring holds
      // exactly `capacity` elements.
      if (items_.size() == items_.capacity()) {
        items_.reserve(items_.size() >= 64
                           ? capacity_
                           : std::min(capacity_, std::max<size_t>(4, 2 * items_.size())));
      }
      items_.emplace_back();
      return items_.size() - 1;
    }
    const size_t index = next_;
    next_ = (next_ + 1) % capacity_;
    return index;
  }
  // The element in slot `index` (< size()).
  T& at(size_t index) { return items_[index]; }
  const T& at(size_t index) const { return items_[index]; }

  // Calls f(size_t slot_index) from the oldest element to the newest.
  template <typename F>
  void ForEachIndex(F&& f) const {
    for (size_t i = 0; i < items_.size(); ++i) f((next_ + i) % items_.size());
  }

  // Calls f(const T&) from the oldest element to the newest.
  template <typename F>
  void ForEach(F&& f) const {
    for (size_t i = 0; i < items_.size(); ++i) {
      f(items_[(next_ + i) % items_.size()]);
    }
  }

  // Up to `limit` newest elements, oldest first.
  std::vector<T> Newest(size_t limit) const {
    std::vector<T> out;
    const size_t n = std::min(limit, items_.size());
    out.reserve(n);
    for (size_t i = items_.size() - n; i < items_.size(); ++i) {
      out.push_back(items_[(next_ + i) % items_.size()]);
    }
    return out;
  }

  size_t size() const { return items_.size(); }
  size_t capacity() const { return capacity_; }
  bool empty() const { return items_.empty(); }
  // Bytes of element storage currently allocated.
  size_t MemoryBytes() const { return items_.capacity() * sizeof(T); }

  // Forgets every element and releases the storage.
  void Clear() {
    std::vector<T>().swap(items_);
    next_ = 0;
  }

 private:
  size_t capacity_;
  std::vector<T> items_;  // a ring once full; items_[next_] is the oldest
  size_t next_ = 0;
};

}  // namespace ragperf

#endif  // RAGPERF_RING_BUFFER_H_

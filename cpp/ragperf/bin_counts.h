// Copyright 2026 The ragperf Authors.
//
// bin_counts.h
// -----------------------------------------------------------------------------
// The counter array behind QuantileSketch's bins: a dense array of unsigned
// counts whose width (1, 2, 4 or 8 bytes per counter) grows with the largest
// count it holds. A one-minute window of a busy operation holds a few hundred
// bins of a few counts each: one byte a bin instead of eight is what keeps an
// hour of 61 window sketches per operation small (issue #20). Widening copies
// the array once per step (at most three times in a sketch's life), so the
// amortised cost per increment stays O(1), and the width never shrinks (a
// recycled window keeps its allocation, as before).
//
// Example:
//
//   ragperf::BinCounts bins;
//   bins.Resize(4);          // four zero counters, one byte each
//   bins.Increment(2);
//   bins.Add(3, 70000);      // widens to 4 bytes a counter
//   bins.Get(3);             // 70000
//   bins.MemoryBytes();      // 16 (the allocation)

#ifndef RAGPERF_BIN_COUNTS_H_
#define RAGPERF_BIN_COUNTS_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/base/optimization.h"

namespace ragperf {

class BinCounts {
 public:
  size_t size() const { return bytes_.size() >> shift_; }
  // Bytes per counter: 1, 2, 4 or 8.
  size_t width() const { return size_t{1} << shift_; }
  // Bytes allocated.
  size_t MemoryBytes() const { return bytes_.capacity(); }

  uint64_t Get(size_t k) const {
    switch (shift_) {
      case 0:
        return bytes_[k];
      case 1:
        return Load<uint16_t>(k);
      case 2:
        return Load<uint32_t>(k);
      default:
        return Load<uint64_t>(k);
    }
  }

  // Hot path: +1, widening when the counter is at its width's maximum.
  void Increment(size_t k) {
    switch (shift_) {
      case 0: {
        uint8_t& b = bytes_[k];
        if (ABSL_PREDICT_TRUE(b != 0xFF)) {
          ++b;
          return;
        }
        break;
      }
      case 1:
        if (ABSL_PREDICT_TRUE(IncrementAs<uint16_t>(k))) return;
        break;
      case 2:
        if (ABSL_PREDICT_TRUE(IncrementAs<uint32_t>(k))) return;
        break;
      default:
        IncrementAs<uint64_t>(k);  // 2^64 counts cannot happen (see caller)
        return;
    }
    Set(k, Get(k) + 1);
  }

  // Counter k += c (the caller guarantees no uint64 overflow).
  void Add(size_t k, uint64_t c) { Set(k, Get(k) + c); }

  void Set(size_t k, uint64_t v) {
    if (ABSL_PREDICT_FALSE(v > MaxOf(shift_))) Widen(ShiftFor(v));
    switch (shift_) {
      case 0:
        bytes_[k] = static_cast<uint8_t>(v);
        return;
      case 1:
        Store<uint16_t>(k, v);
        return;
      case 2:
        Store<uint32_t>(k, v);
        return;
      default:
        Store<uint64_t>(k, v);
    }
  }

  // Zeroes counters [from, to).
  void Zero(size_t from, size_t to) {
    if (from < to) {
      std::memset(bytes_.data() + (from << shift_), 0, (to - from) << shift_);
    }
  }

  // Replaces the array by `n` zero counters of the current width.
  void Resize(size_t n) { bytes_.assign(n << shift_, 0); }

  // A new array of `n` zero counters (current width) into which counters
  // [src_from, src_to) of the old one are copied at `dst_from`.
  void Regrow(size_t n, size_t src_from, size_t src_to, size_t dst_from) {
    std::vector<uint8_t> fresh(n << shift_, 0);
    if (src_from < src_to) {
      std::memcpy(fresh.data() + (dst_from << shift_),
                  bytes_.data() + (src_from << shift_),
                  (src_to - src_from) << shift_);
    }
    bytes_.swap(fresh);
  }

  // Replaces the array by `n` counters copied from `values`, in the narrowest
  // width that holds them.
  void Assign(const uint64_t* values, size_t n) {
    uint64_t top = 0;
    for (size_t i = 0; i < n; ++i) top = values[i] > top ? values[i] : top;
    shift_ = ShiftFor(top);
    Resize(n);
    for (size_t i = 0; i < n; ++i) Set(i, values[i]);
  }

  // Releases the storage; the width goes back to one byte.
  void Release() {
    std::vector<uint8_t>().swap(bytes_);
    shift_ = 0;
  }

 private:
  static uint64_t MaxOf(unsigned shift) {
    return shift >= 3 ? ~uint64_t{0} : (uint64_t{1} << (8u << shift)) - 1;
  }
  static unsigned ShiftFor(uint64_t v) {
    return v <= 0xFF ? 0 : v <= 0xFFFF ? 1 : v <= 0xFFFFFFFFu ? 2 : 3;
  }

  template <typename T>
  T Load(size_t k) const {
    T v;
    std::memcpy(&v, bytes_.data() + k * sizeof(T), sizeof(T));
    return v;
  }
  template <typename T>
  void Store(size_t k, uint64_t v) {
    const T t = static_cast<T>(v);
    std::memcpy(bytes_.data() + k * sizeof(T), &t, sizeof(T));
  }
  // False (nothing changed) when the counter is at T's maximum.
  template <typename T>
  bool IncrementAs(size_t k) {
    T v = Load<T>(k);
    if (v == static_cast<T>(~T{0})) return false;
    ++v;
    std::memcpy(bytes_.data() + k * sizeof(T), &v, sizeof(T));
    return true;
  }

  void Widen(unsigned shift) {
    if (shift <= shift_) return;
    const size_t n = size();
    BinCounts wide;
    wide.shift_ = shift;
    wide.bytes_.assign(n << shift, 0);
    for (size_t i = 0; i < n; ++i) wide.Set(i, Get(i));
    bytes_.swap(wide.bytes_);
    shift_ = shift;
  }

  std::vector<uint8_t> bytes_;
  unsigned shift_ = 0;  // log2 of the width
};

}  // namespace ragperf

#endif  // RAGPERF_BIN_COUNTS_H_

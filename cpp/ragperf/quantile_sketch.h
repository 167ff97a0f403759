// Copyright 2024 The ragperf Authors.
//
// quantile_sketch.h
// -----------------------------------------------------------------------------
//
// `QuantileSketch` summarises a stream of non-negative durations in bounded
// memory and answers quantile queries with a *relative* error guarantee: for
// accuracy `a`, every estimate `e` of a true quantile value `v` satisfies
// `|e - v| <= a * v`. It belongs to the DDSketch family: values are mapped to
// logarithmically sized bins, so a latency of 1 ms and one of 100 s are both
// reported to within 0.5% (at the default accuracy) using the same few KiB.
//
// Sketches with the same parameters merge *exactly* (bin-by-bin addition):
// merging per-thread or per-interval shards gives the same bins as one sketch
// that saw every value. This is what lets callers keep lock-free per-shard
// sketches and combine them only when a report is needed.
//
// Example:
//
//   ragperf::QuantileSketch sketch;          // 0.5% accuracy, <= 2048 bins
//   for (double seconds : durations) {
//     if (!sketch.Add(seconds)) { /* NaN, negative or infinite: rejected */ }
//   }
//   double p99 = sketch.Quantile(0.99);       // within 0.5% of the true p99
//
//   ragperf::QuantileSketch other;
//   ...
//   absl::Status s = sketch.Merge(other);     // exact
//   std::string blob = sketch.Serialize();
//   absl::StatusOr<ragperf::QuantileSketch> back =
//       ragperf::QuantileSketch::Deserialize(blob);
//
// Mapping. With gamma = (1 + a) / (1 - a), a value x lands in bin
// i = ceil(log(x) / log(gamma)), i.e. bin i holds (gamma^(i-1), gamma^i]. The
// bin is reported as 2 * gamma^i / (gamma + 1), which is within relative error
// `a` of every value in the bin. Estimates are also clamped to [min(), max()],
// which can only move them closer to the truth.
//
// Inputs. The contract is a finite value >= 0 (a duration). Values below
// `kMinIndexable` (including 0) are counted in a separate zero bin, reported as
// `min()`; their error is absolute (< 1e-9), not relative. NaN, negative
// values, +infinity and values above `kMaxIndexable` are *rejected*: `Add()`
// returns false and the sketch is unchanged. They are never silently clamped,
// because a latency of NaN or -3 s is a caller bug that would otherwise corrupt
// percentiles without a trace; callers validate (or count rejects) at their
// edge. -0.0 is accepted as 0.
//
// Memory bound. At most `max_bins()` bins are kept. When a value would widen
// the occupied index range past that, the LOWEST bins are collapsed into the
// lowest kept bin: high quantiles (the ones latency work cares about) keep the
// full guarantee, and only quantiles that fall into the collapsed bin lose
// accuracy (they are over-estimated). This only happens when the non-zero data
// spans more than max_bins * ln(gamma) / ln(10) decades: at the defaults
// (a = 0.005, 2048 bins) that is about 8.9 decades, e.g. 1 us to ~13 min.
// The collapsed state depends only on the multiset of values added, not on the
// order, so merging stays exact even after collapsing.
//
// Thread safety. None inside (by design: the hot path takes no lock). A const
// sketch may be read concurrently; any mutation needs external
// synchronisation. Sketches are cheap to copy and move.

#ifndef RAGPERF_QUANTILE_SKETCH_H_
#define RAGPERF_QUANTILE_SKETCH_H_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ragperf/bin_counts.h"

namespace ragperf {

class QuantileSketch {
 public:
  static constexpr double kDefaultRelativeAccuracy = 0.005;  // 0.5%
  static constexpr int kDefaultMaxBins = 2048;
  // Values below this go to the zero bin.
  static constexpr double kMinIndexable = 1e-9;
  // Values above this are rejected (keeps bin indices small and every
  // representative value finite).
  static constexpr double kMaxIndexable = 1e300;
  // Accepted parameter ranges. Accuracy is bounded below because finer
  // accuracies exceed what a double-precision log can resolve into bin indices.
  static constexpr double kMinRelativeAccuracy = 1e-6;
  static constexpr int kMinMaxBins = 16;
  static constexpr int kMaxMaxBins = 1 << 16;

  // Precondition: kMinRelativeAccuracy <= relative_accuracy < 1 and
  // kMinMaxBins <= max_bins <= kMaxMaxBins. Out-of-range arguments are clamped
  // to the nearest valid value (NaN accuracy becomes the default) rather than
  // asserted, so a misconfigured caller still gets a working sketch; use
  // `Create()` to validate untrusted configuration.
  explicit QuantileSketch(double relative_accuracy = kDefaultRelativeAccuracy,
                          int max_bins = kDefaultMaxBins);

  // Returns InvalidArgument (naming the bad value) when a parameter is outside
  // the ranges above.
  static absl::StatusOr<QuantileSketch> Create(double relative_accuracy,
                                               int max_bins);

  QuantileSketch(const QuantileSketch&) = default;
  QuantileSketch& operator=(const QuantileSketch&) = default;
  // A moved-from sketch is empty and keeps its parameters.
  QuantileSketch(QuantileSketch&& other) noexcept;
  QuantileSketch& operator=(QuantileSketch&& other) noexcept;

  // Adds `value` once. Returns false, leaving the sketch unchanged, for NaN,
  // negative values, +inf and values above kMaxIndexable.
  bool Add(double value);

  // Adds `value` with multiplicity `count`. Same rejection rules as `Add()`
  // (checked first, so an invalid value returns false even when count is 0);
  // also returns false if the total count would overflow uint64_t. A valid
  // value with count 0 is a no-op that returns true.
  bool Add(double value, uint64_t count);

  // Adds `other`'s contents to this sketch, exactly. Returns InvalidArgument,
  // leaving this sketch unchanged, unless both sketches have the same gamma
  // (relative accuracy) and max_bins; OutOfRange if the total count would
  // overflow. `other` may be `*this` (doubles every count).
  absl::Status Merge(const QuantileSketch& other);

  // Returns an estimate of the q-quantile, q in [0, 1]: the nearest-rank
  // value sorted[ceil(q * count()) - 1] (never interpolated; p99 of fewer
  // than 100 values is the maximum), within relative error `relative_accuracy()` unless it
  // falls in the zero bin or a collapsed bin (see above). q == 0 returns
  // exactly min() and q == 1 exactly max(). Returns NaN when the sketch is
  // empty or q is NaN or outside [0, 1]. O(num_bins()).
  double Quantile(double q) const;

  // Number of values <= `x`, to the sketch's resolution: values in the bin
  // that holds `x` count as <= x, so values within relative_accuracy() of x
  // may be misclassified. 0 for NaN or negative x.
  //
  //   sketch.Add(1.0); sketch.Add(3.0);
  //   sketch.CountAtMost(2.0);  // 1
  uint64_t CountAtMost(double x) const;

  // Takes one occurrence of `value` back out of its bin (the inverse of
  // Add(value) on the counts). Returns false, changing nothing, when that bin
  // is empty or `value` is not accepted by Add(). min() and max() keep the
  // extremes of everything ever added, so use it for temporary views (e.g.
  // percentiles without a cold start), not for sketches you serialize.
  bool Remove(double value);

  uint64_t count() const { return count_; }
  // Number of values below kMinIndexable (including zeros).
  uint64_t zero_count() const { return zero_count_; }
  // Sum of the values as added (exact up to floating-point rounding).
  double sum() const { return sum_; }
  // Exact extremes and mean; NaN when empty.
  double min() const;
  double max() const;
  double mean() const;
  bool empty() const { return count_ == 0; }

  double relative_accuracy() const { return relative_accuracy_; }
  int max_bins() const { return max_bins_; }
  // Width of the occupied index range: highest minus lowest non-empty bin index
  // plus one, 0 when no value above kMinIndexable was added. This is the
  // quantity bounded by max_bins(); the allocation may be somewhat larger
  // (growth slack), see MemoryBytes().
  int num_bins() const { return lo_ <= hi_ ? hi_ - lo_ + 1 : 0; }
  // Bytes held: sizeof(*this) plus the bin array's allocation (counters are
  // 1 to 8 bytes wide, as wide as the largest count needs; see BinCounts).
  size_t MemoryBytes() const;

  // Empties the sketch, keeping relative_accuracy(), max_bins() and the bin
  // allocation (so a recycled sketch does not reallocate).
  void Clear();

  // True when both sketches have the same parameters, count, zero_count, min,
  // max and identical bin counts, and sums equal within a relative tolerance of
  // 1e-9 (summation order legitimately differs between a merge and a single
  // stream). Intended for tests that check merges are exact.
  bool SameContents(const QuantileSketch& other) const;

  // Compact little-endian binary encoding; see the .cc for the layout. Starts
  // with the magic "RPQS" and a format version byte, stores only the occupied
  // bin range, and varint-encodes counts.
  std::string Serialize() const;

  // Parses `Serialize()` output. Returns InvalidArgument for a wrong magic,
  // unsupported version or out-of-range parameters, and DataLoss for
  // truncated, trailing or inconsistent data (e.g. count != zero_count + sum of
  // bins, min > max). Safe on hostile input: never crashes and allocates at
  // most max_bins (<= kMaxMaxBins) bins, and no more than the input can hold.
  static absl::StatusOr<QuantileSketch> Deserialize(absl::string_view bytes);

 public:
  // True when Add(value) would place `value` in a bin (not the zero bin, not
  // rejected).
  static bool IsIndexable(double value) {
    return value >= kMinIndexable && value <= kMaxIndexable;
  }
  // The bin index of an indexable `value`. Sketches of equal accuracy agree,
  // so a caller feeding several of them computes the log once:
  //
  //   if (QuantileSketch::IsIndexable(v)) {
  //     const int i = all_time.IndexFor(v);
  //     all_time.AddAt(v, i);
  //     this_minute.AddAt(v, i);   // same relative_accuracy()
  //   }
  int IndexFor(double value) const { return IndexOf(value); }
  // Add(value) for an indexable `value` whose IndexFor() is `index`
  // (computed on this sketch or one of the same accuracy).
  void AddAt(double value, int index) {
    ++count_;
    sum_ += value;
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
    if (ABSL_PREDICT_TRUE(index >= lo_ && index <= hi_)) {
      bins_.Increment(static_cast<size_t>(index - offset_));
    } else {
      AddToBinSlow(index, 1);
    }
  }

 private:
  // Index of the bin holding `value`; requires kMinIndexable <= value <=
  // kMaxIndexable. Truncate-then-adjust is a branch-free ceil that does not
  // depend on SSE4.1's roundsd being available.
  int IndexOf(double value) const {
    const double t = std::log(value) * inv_log_gamma_;
    const int i = static_cast<int>(t);
    return i + static_cast<int>(t > static_cast<double>(i));
  }
  // Representative value of bin `index`.
  double ValueOf(int index) const;

  // Out-of-line halves of Add(): the zero bin and rejected values, and bin
  // indices outside the occupied range.
  bool AddNonIndexable(double value, uint64_t count);
  void AddToBinSlow(int index, uint64_t count);

  // Widens the occupied range to include [lo, hi], collapsing the lowest bins
  // if it would exceed max_bins_ and growing the allocation if needed. Returns
  // the lowest kept index: counts for an index i must go to max(i, result).
  int PrepareRange(int lo, int hi);
  // Makes the allocation cover [lo, hi], which contains the occupied range.
  void EnsureWindow(int lo, int hi);
  // Resets counters and the occupied range without touching bins_.
  void ResetCounters();

  double relative_accuracy_;
  int max_bins_;
  double gamma_;
  double log_gamma_;
  double inv_log_gamma_;
  // log(1 - a), since 2 * gamma^i / (gamma + 1) == (1 - a) * gamma^i. ValueOf()
  // computes exp(i * log_gamma_ + log_value_shift_), which stays finite for
  // every indexable value; pow(gamma, i) alone can overflow for large gamma.
  double log_value_shift_;

  uint64_t count_ = 0;
  uint64_t zero_count_ = 0;
  double sum_ = 0.0;
  double min_ = std::numeric_limits<double>::infinity();
  double max_ = -std::numeric_limits<double>::infinity();

  // Dense store. bins_.Get(k) counts index offset_ + k. The occupied range
  // [lo_, hi_] (empty when lo_ > hi_) lies inside the allocation, and every
  // bin outside it is zero, so widening the range within the allocation needs
  // no clearing. The empty range is encoded so that the hot-path check
  // `lo_ <= i && i <= hi_` fails for every i.
  BinCounts bins_;
  int offset_ = 0;
  int lo_ = std::numeric_limits<int>::max();
  int hi_ = std::numeric_limits<int>::min();
};

// Inline because it is the hot path: one log, a few compares and an
// increment when the value falls inside the occupied range.
inline bool QuantileSketch::Add(double value) {
  if (ABSL_PREDICT_FALSE(!(value >= kMinIndexable && value <= kMaxIndexable))) {
    return AddNonIndexable(value, 1);
  }
  AddAt(value, IndexOf(value));
  return true;
}

inline bool QuantileSketch::Add(double value, uint64_t count) {
  if (ABSL_PREDICT_FALSE(!(value >= kMinIndexable && value <= kMaxIndexable))) {
    return AddNonIndexable(value, count);
  }
  if (count == 0) return true;
  if (ABSL_PREDICT_FALSE(count >
                         std::numeric_limits<uint64_t>::max() - count_)) {
    return false;
  }
  const int index = IndexOf(value);
  count_ += count;
  sum_ += value * static_cast<double>(count);
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  if (ABSL_PREDICT_TRUE(index >= lo_ && index <= hi_)) {
    bins_.Add(static_cast<size_t>(index - offset_), count);
  } else {
    AddToBinSlow(index, count);
  }
  return true;
}

}  // namespace ragperf

#endif  // RAGPERF_QUANTILE_SKETCH_H_

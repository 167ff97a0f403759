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
// reported to within 0.54% (at the default accuracy) using the same few KiB.
//
// Sketches with the same parameters merge *exactly* (bin-by-bin addition):
// merging per-thread or per-interval shards gives the same bins as one sketch
// that saw every value. This is what lets callers keep lock-free per-shard
// sketches and combine them only when a report is needed.
//
// Example:
//
//   ragperf::QuantileSketch sketch;          // scale 6 (0.54%), <= 2048 bins
//   for (double seconds : durations) {
//     if (!sketch.Add(seconds)) { /* NaN, negative or infinite: rejected */ }
//   }
//   double p99 = sketch.Quantile(0.99);       // within 0.54% of the true p99
//
//   ragperf::QuantileSketch other;
//   ...
//   absl::Status s = sketch.Merge(other);     // exact
//   std::string blob = sketch.Serialize();
//   absl::StatusOr<ragperf::QuantileSketch> back =
//       ragperf::QuantileSketch::Deserialize(blob);
//
// Mapping: base-2 exponential buckets. The sketch has an integer *scale* s
// (chosen from the accuracy, see below) and gamma = 2^(2^-s): bin i holds the
// values in (gamma^(i-1), gamma^i], so every power of two is a bin boundary
// and each octave is split into 2^s bins. Bin i IS bucket i of a Prometheus
// native histogram of schema s, and bucket i - 1 of an OpenTelemetry
// exponential histogram of scale s (OTel's bucket j holds
// (gamma^j, gamma^(j+1)]), so exporters hand the bins over unchanged. The bin
// is reported as 2 * gamma^i / (gamma + 1), within relative error
// (gamma - 1) / (gamma + 1) of every value in it (guaranteed_accuracy());
// estimates are also clamped to [min(), max()], which can only move them
// closer to the truth.
//
// Scale. A sketch asked for relative accuracy `a` uses the coarsest scale
// whose guarantee meets it: the smallest s in [kMinScale, kMaxScale] with
// (gamma - 1) / (gamma + 1) <= a (ScaleFor()). s = 6 guarantees 0.542%
// (64 bins an octave), s = 7 0.271%, s = 5 1.08%. The default accuracy,
// kDefaultRelativeAccuracy = 0.005416, is s = 6's guarantee: a 0.5% default
// would need s = 7 and twice the bins (memory, and half the value range that
// max_bins covers). relative_accuracy() still reports what was asked for.
//
// Index computation is a table lookup, not a log: the exponent bits give the
// octave, the top 9 mantissa bits a slot of a 512-entry table at scale 8, and
// one comparison against the scale-8 boundary 2^(j/256) fixes the bin; a
// coarser scale s divides that index by 2^(8-s), rounding up (bins nest
// exactly across scales). Scales above 8 (accuracies below 0.135%) use
// ceil(log2(x) * 2^s).
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
// spans more than max_bins / 2^s octaves: at the defaults (s = 6, 2048 bins)
// that is 32 octaves, about 9.6 decades, e.g. 1 us to ~70 min.
// The collapsed state depends only on the multiset of values added, not on the
// order, so merging stays exact even after collapsing.
//
// Thread safety. None inside (by design: the hot path takes no lock). A const
// sketch may be read concurrently; any mutation needs external
// synchronisation. Sketches are cheap to copy and move.

#ifndef RAGPERF_QUANTILE_SKETCH_H_
#define RAGPERF_QUANTILE_SKETCH_H_

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ragperf/bin_counts.h"

namespace ragperf {

// The bucket-boundary tables behind QuantileSketch::IndexOf (scale 8), built
// at compile time so that no sketch can run before they are initialised.
namespace sketch_internal {

inline constexpr int kTableScale = 8;
inline constexpr int kTableBins = 1 << kTableScale;   // bins per octave
inline constexpr int kSlotBits = kTableScale + 1;     // 512 linear slots
inline constexpr int kSlots = 1 << kSlotBits;

// 2^x for x in [0, 1], to within an ulp or so (Taylor series of e^(x ln 2)).
constexpr double Exp2Unit(double x) {
  const double y = x * 0.693147180559945309417232121458176568;
  double term = 1.0;
  double sum = 1.0;
  for (int k = 1; k < 30; ++k) {
    term *= y / k;
    sum += term;
  }
  return sum;
}

struct BoundaryTables {
  // bound[j] = 2^(j / 256): the upper boundary of sub-bin j of an octave.
  std::array<double, kTableBins + 1> bound{};
  // For the mantissa slot [1 + k/512, 1 + (k+1)/512): the smallest j with
  // bound[j] >= 1 + k/512. Boundaries are more than 1/512 apart, so a slot
  // holds at most one and the sub-bin is first[k] or first[k] + 1.
  std::array<uint16_t, kSlots> first{};
};

constexpr BoundaryTables MakeBoundaryTables() {
  BoundaryTables t;
  for (int j = 0; j <= kTableBins; ++j) {
    t.bound[j] = j == 0 ? 1.0
                 : j == kTableBins
                     ? 2.0
                     : Exp2Unit(static_cast<double>(j) / kTableBins);
  }
  int j = 0;
  for (int k = 0; k < kSlots; ++k) {
    const double lo = 1.0 + static_cast<double>(k) / kSlots;
    while (t.bound[j] < lo) ++j;
    t.first[k] = static_cast<uint16_t>(j);
  }
  return t;
}

inline constexpr BoundaryTables kTables = MakeBoundaryTables();

// Shortest "%g"-style rendering that still identifies the value (messages).
std::string FormatSketchDouble(double v);

}  // namespace sketch_internal

class QuantileSketch {
 public:
  // Scale 6's guarantee, (2^(1/64) - 1) / (2^(1/64) + 1) = 0.0054152,
  // rounded up so that ScaleFor(kDefaultRelativeAccuracy) == kDefaultScale.
  static constexpr double kDefaultRelativeAccuracy = 0.005416;  // ~0.54%
  static constexpr int kDefaultScale = 6;
  static constexpr int kDefaultMaxBins = 2048;
  // Values below this go to the zero bin (a Prometheus/OTel zero bucket of
  // threshold kMinIndexable).
  static constexpr double kMinIndexable = 1e-9;
  // Values above this are rejected (keeps bin indices small and every
  // representative value finite).
  static constexpr double kMaxIndexable = 1e300;
  // Accepted parameter ranges. Accuracies below 1e-6 would need scales past
  // kMaxScale (OpenTelemetry's maximum).
  static constexpr double kMinRelativeAccuracy = 1e-6;
  static constexpr int kMinMaxBins = 16;
  static constexpr int kMaxMaxBins = 1 << 16;
  static constexpr int kMinScale = 0;
  static constexpr int kMaxScale = 20;
  // Serialize()'s format version. Version 1 (ragperf before base-2 buckets:
  // gamma = (1 + a) / (1 - a)) is still read, re-binned (see Deserialize()).
  static constexpr int kFormatVersion = 2;

  // The coarsest scale in [kMinScale, kMaxScale] whose guarantee
  // GuaranteeOf(scale) is <= relative_accuracy (kMaxScale if none is).
  //
  //   QuantileSketch::ScaleFor(0.01);   // 6: guarantees 0.54%
  //   QuantileSketch::ScaleFor(0.005);  // 7: guarantees 0.27%
  static int ScaleFor(double relative_accuracy);
  // (gamma - 1) / (gamma + 1) with gamma = 2^(2^-scale): the relative error
  // bound of a sketch of that scale.
  static double GuaranteeOf(int scale);

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
  // leaving this sketch unchanged, unless both sketches have the same scale
  // (hence identical bins) and max_bins; OutOfRange if the total count would
  // overflow. `other` may be `*this` (doubles every count).
  absl::Status Merge(const QuantileSketch& other);

  // This sketch's contents in the bins of the coarser (or equal) scale of
  // `relative_accuracy`, with that accuracy and the same max_bins: bin i
  // goes to bin ceil(i / 2^(scale() - new scale)), which holds exactly the
  // same values (bins nest across scales), so no error is added beyond the
  // new scale's own. InvalidArgument when ScaleFor(relative_accuracy) is
  // finer than scale().
  //
  //   QuantileSketch fine(0.001);                       // scale 9
  //   auto coarse = fine.Downscaled(0.005416);          // scale 6
  absl::StatusOr<QuantileSketch> Downscaled(double relative_accuracy) const;

  // Returns an estimate of the q-quantile, q in [0, 1]: the nearest-rank
  // value sorted[ceil(q * count()) - 1] (never interpolated; p99 of fewer
  // than 100 values is the maximum), within relative error
  // `guaranteed_accuracy()` (<= relative_accuracy()) unless it falls in the
  // zero bin or a collapsed bin (see above). q == 0 returns exactly min() and
  // q == 1 exactly max(); so do the other quantiles whose rank is the first
  // or last value (p99 of <= 100 values), unless Remove() took out an extreme. Returns NaN when the sketch is empty or q is NaN or
  // outside [0, 1]. O(num_bins()).
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

  // The accuracy asked for (construction, Create(), Deserialize()).
  double relative_accuracy() const { return relative_accuracy_; }
  // The bin layout: gamma = 2^(2^-scale()) (Prometheus schema, OTel scale).
  int scale() const { return scale_; }
  // GuaranteeOf(scale()): the error bound actually met, <= relative_accuracy().
  double guaranteed_accuracy() const { return GuaranteeOf(scale_); }
  int max_bins() const { return max_bins_; }
  // Width of the occupied index range: highest minus lowest non-empty bin index
  // plus one, 0 when no value above kMinIndexable was added. This is the
  // quantity bounded by max_bins(); the allocation may be somewhat larger
  // (growth slack), see MemoryBytes().
  int num_bins() const { return lo_ <= hi_ ? hi_ - lo_ + 1 : 0; }
  // Lowest occupied bin index (meaningful when num_bins() > 0) and the count
  // of bin `index` (0 outside the occupied range). Bin i holds
  // (gamma^(i-1), gamma^i]: exporters read the bins as
  //
  //   for (int i = s.lowest_index(); i < s.lowest_index() + s.num_bins(); ++i)
  //     bucket(i, s.bin_count(i));   // Prometheus index i, OTel index i - 1
  int lowest_index() const { return lo_; }
  uint64_t bin_count(int index) const {
    return index < lo_ || index > hi_
               ? 0
               : bins_.Get(static_cast<size_t>(index - offset_));
  }
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

  // Compact little-endian binary encoding; see quantile_sketch_serial.cc for
  // the layout. Starts with the magic "RPQS" and kFormatVersion, stores only
  // the occupied bin range, and varint-encodes counts.
  std::string Serialize() const;

  // Parses `Serialize()` output. Returns InvalidArgument for a wrong magic,
  // unsupported version or out-of-range parameters, and DataLoss for
  // truncated, trailing or inconsistent data (e.g. count != zero_count + sum of
  // bins, min > max). Safe on hostile input: never crashes and allocates at
  // most max_bins (<= kMaxMaxBins) bins, and no more than the input can hold.
  //
  // Format 1 (written before base-2 buckets, with gamma1 = (1 + a) / (1 - a))
  // is re-binned into a sketch of the same accuracy a: each old bin's
  // representative, clamped to [min, max], goes into its base-2 bin. Count,
  // zero count, sum, min and max stay exact; a quantile of the result is
  // within (1 + a)(1 + g) - 1 of the truth, g = guaranteed_accuracy() (about
  // a + g: 0.77% for a = 0.5%, which maps to scale 7). FormatVersionOf()
  // tells such blobs apart.
  static absl::StatusOr<QuantileSketch> Deserialize(absl::string_view bytes);

  // Deserialize(), except that a format-1 blob whose accuracy is at least as
  // fine as `like`'s (a <= like->relative_accuracy()) and whose max_bins is
  // the same is re-binned straight into `like`'s relative_accuracy and
  // max_bins (one re-binning; error bound (1 + a)(1 + g) - 1 with g =
  // like->guaranteed_accuracy(): 1.05% for a = 0.5% into the default). Used to
  // merge states saved by an older ragperf into a monitor. `like` may be null.
  static absl::StatusOr<QuantileSketch> DeserializeInto(
      absl::string_view bytes, const QuantileSketch* like);

  // The format version byte of a Serialize() blob, 0 if it is too short or
  // lacks the magic. Deserialize() reads versions 1 and kFormatVersion.
  static int FormatVersionOf(absl::string_view bytes);

 public:
  // True when Add(value) would place `value` in a bin (not the zero bin, not
  // rejected).
  static bool IsIndexable(double value) {
    return value >= kMinIndexable && value <= kMaxIndexable;
  }
  // The bin index of an indexable `value`. Sketches of equal scale agree, so
  // a caller feeding several of them computes the index once:
  //
  //   if (QuantileSketch::IsIndexable(v)) {
  //     const int i = all_time.IndexFor(v);
  //     all_time.AddAt(v, i);
  //     this_minute.AddAt(v, i);   // same relative_accuracy()
  //   }
  int IndexFor(double value) const { return IndexOf(value); }
  // Add(value) for an indexable `value` whose IndexFor() is `index`
  // (computed on this sketch or one of the same scale).
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
  // Index of the bin holding `value`, i.e. ceil(log2(value) * 2^scale);
  // requires kMinIndexable <= value <= kMaxIndexable (a positive normal
  // double). See "Index computation" above.
  int IndexOf(double value) const {
    if (ABSL_PREDICT_FALSE(table_shift_ < 0)) return IndexByLog(value);
    uint64_t bits;
    std::memcpy(&bits, &value, sizeof(bits));
    const int exponent = static_cast<int>(bits >> 52) - 1023;
    const uint64_t mantissa = bits & ((uint64_t{1} << 52) - 1);
    const auto& t = sketch_internal::kTables;
    int j = t.first[mantissa >> (52 - sketch_internal::kSlotBits)];
    double m;  // the mantissa as a double in [1, 2)
    const uint64_t m_bits = mantissa | (uint64_t{1023} << 52);
    std::memcpy(&m, &m_bits, sizeof(m));
    j += static_cast<int>(m > t.bound[j]);
    const int fine = exponent * sketch_internal::kTableBins + j;
    // ceil(fine / 2^shift): an arithmetic right shift rounds towards -inf.
    return -((-fine) >> table_shift_);
  }
  // ceil(log2(value) * 2^scale_), for scales finer than the table's.
  int IndexByLog(double value) const;
  // Representative value of bin `index`: 2 * gamma^index / (gamma + 1).
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
  int8_t scale_;
  // kTableScale - scale_, or -1 when scale_ is finer than the table.
  int8_t table_shift_;
  // False once Remove() took out a value equal to min_ or max_: they may then
  // no longer be values the sketch holds, so Quantile() stops returning them
  // for the first and last ranks.
  bool extremes_exact_ = true;

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

// Inline because it is the hot path: a table lookup, a few compares and an
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

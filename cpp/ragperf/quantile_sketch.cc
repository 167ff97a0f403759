// Copyright 2024 The ragperf Authors.

#include "ragperf/quantile_sketch.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace ragperf {
namespace {

using sketch_internal::FormatSketchDouble;

// A fresh allocation is at least this wide so that the first few values of a
// stream do not each trigger a reallocation.
constexpr int64_t kMinWindow = 32;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kLn2 = 0.693147180559945309417232121458176568;

double ClampAccuracy(double a) {
  if (std::isnan(a)) return QuantileSketch::kDefaultRelativeAccuracy;
  if (a < QuantileSketch::kMinRelativeAccuracy) {
    return QuantileSketch::kMinRelativeAccuracy;
  }
  if (a >= 1.0) return std::nextafter(1.0, 0.0);
  return a;
}

}  // namespace

namespace sketch_internal {

// Messages show "1.5" rather than "1.5000000000000000" but never round a bad
// 0.99999999 to a misleading "1".
std::string FormatSketchDouble(double v) {
  std::string s = absl::StrFormat("%g", v);
  if (std::isfinite(v) && std::strtod(s.c_str(), nullptr) != v) {
    s = absl::StrFormat("%.17g", v);
  }
  return s;
}

}  // namespace sketch_internal

int QuantileSketch::ScaleFor(double relative_accuracy) {
  for (int s = kMinScale; s < kMaxScale; ++s) {
    if (GuaranteeOf(s) <= relative_accuracy) return s;
  }
  return kMaxScale;
}

double QuantileSketch::GuaranteeOf(int scale) {
  // gamma - 1 = expm1(ln 2 * 2^-scale), exact to the last digits even for
  // fine scales where gamma - 1 would cancel.
  const double g1 = std::expm1(std::ldexp(kLn2, -scale));
  return g1 / (g1 + 2.0);
}

QuantileSketch::QuantileSketch(double relative_accuracy, int max_bins)
    : relative_accuracy_(ClampAccuracy(relative_accuracy)),
      max_bins_(std::clamp(max_bins, kMinMaxBins, kMaxMaxBins)),
      scale_(static_cast<int8_t>(ScaleFor(relative_accuracy_))),
      table_shift_(static_cast<int8_t>(
          scale_ <= sketch_internal::kTableScale
              ? sketch_internal::kTableScale - scale_
              : -1)) {}

absl::StatusOr<QuantileSketch> QuantileSketch::Create(double relative_accuracy,
                                                      int max_bins) {
  if (!(relative_accuracy >= kMinRelativeAccuracy && relative_accuracy < 1.0)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "QuantileSketch relative_accuracy must be in [%s, 1), got %s",
        FormatSketchDouble(kMinRelativeAccuracy), FormatSketchDouble(relative_accuracy)));
  }
  if (max_bins < kMinMaxBins || max_bins > kMaxMaxBins) {
    return absl::InvalidArgumentError(
        absl::StrFormat("QuantileSketch max_bins must be in [%d, %d], got %d",
                        kMinMaxBins, kMaxMaxBins, max_bins));
  }
  return QuantileSketch(relative_accuracy, max_bins);
}

QuantileSketch::QuantileSketch(QuantileSketch&& other) noexcept
    : relative_accuracy_(other.relative_accuracy_),
      max_bins_(other.max_bins_),
      scale_(other.scale_),
      table_shift_(other.table_shift_),
      extremes_exact_(other.extremes_exact_),
      count_(other.count_),
      zero_count_(other.zero_count_),
      sum_(other.sum_),
      min_(other.min_),
      max_(other.max_),
      bins_(std::move(other.bins_)),
      offset_(other.offset_),
      lo_(other.lo_),
      hi_(other.hi_) {
  // The default move would leave `other` with an empty vector but a non-empty
  // occupied range, and its next Add() would index out of bounds.
  other.bins_.Release();
  other.ResetCounters();
}

QuantileSketch& QuantileSketch::operator=(QuantileSketch&& other) noexcept {
  if (this == &other) return *this;
  relative_accuracy_ = other.relative_accuracy_;
  max_bins_ = other.max_bins_;
  scale_ = other.scale_;
  table_shift_ = other.table_shift_;
  extremes_exact_ = other.extremes_exact_;
  count_ = other.count_;
  zero_count_ = other.zero_count_;
  sum_ = other.sum_;
  min_ = other.min_;
  max_ = other.max_;
  bins_ = std::move(other.bins_);
  offset_ = other.offset_;
  lo_ = other.lo_;
  hi_ = other.hi_;
  other.bins_.Release();
  other.ResetCounters();
  return *this;
}

void QuantileSketch::ResetCounters() {
  count_ = 0;
  zero_count_ = 0;
  sum_ = 0.0;
  min_ = std::numeric_limits<double>::infinity();
  max_ = -std::numeric_limits<double>::infinity();
  lo_ = std::numeric_limits<int>::max();
  hi_ = std::numeric_limits<int>::min();
  extremes_exact_ = true;
}

void QuantileSketch::Clear() {
  if (lo_ <= hi_) {
    bins_.Zero(static_cast<size_t>(lo_ - offset_),
               static_cast<size_t>(hi_ - offset_ + 1));
  }
  ResetCounters();
}

double QuantileSketch::ValueOf(int index) const {
  // 2 * gamma^i / (gamma + 1) = 2^(i * 2^-s) * 2 / (gamma + 1); the first
  // factor is finite for every indexable bin.
  const double g1 = std::expm1(std::ldexp(kLn2, -scale_));  // gamma - 1
  return std::exp2(std::ldexp(static_cast<double>(index), -scale_)) *
         (2.0 / (g1 + 2.0));
}

int QuantileSketch::IndexByLog(double value) const {
  // value = m * 2^e with m in [1, 2): the index is e * 2^s + ceil(log2(m) *
  // 2^s). Keeping the octave out of the log means a value one ulp above a
  // power of two still gets log2(m) > 0, i.e. the next bin, as in the table;
  // log2(1) is exactly 0, so powers of two are upper boundaries.
  int e;
  const double m = 2.0 * std::frexp(value, &e);
  const double t = std::ldexp(std::log2(m), scale_);
  const int i = static_cast<int>(t);
  // (Multiplied, not shifted: e - 1 is negative below 1 s.)
  return (e - 1) * (1 << scale_) + i + static_cast<int>(t > static_cast<double>(i));
}

absl::StatusOr<QuantileSketch> QuantileSketch::Downscaled(
    double relative_accuracy) const {
  absl::StatusOr<QuantileSketch> made = Create(relative_accuracy, max_bins_);
  if (!made.ok()) return made.status();
  QuantileSketch out = *std::move(made);
  if (out.scale_ > scale_) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "cannot downscale a QuantileSketch of scale %d to the finer scale %d "
        "(relative_accuracy %s)",
        scale_, out.scale_, FormatSketchDouble(relative_accuracy)));
  }
  out.count_ = count_;
  out.zero_count_ = zero_count_;
  out.sum_ = sum_;
  out.min_ = min_;
  out.max_ = max_;
  const int shift = scale_ - out.scale_;
  for (int i = lo_; i <= hi_; ++i) {
    const uint64_t c = bins_.Get(static_cast<size_t>(i - offset_));
    if (c != 0) out.AddToBinSlow(-((-i) >> shift), c);
  }
  return out;
}

bool QuantileSketch::AddNonIndexable(double value, uint64_t count) {
  // `value >= 0` is false for NaN, so NaN, negatives, and (via the caller's
  // range check) +inf and values above kMaxIndexable all end up rejected.
  if (!(value >= 0.0 && value < kMinIndexable)) return false;
  if (count == 0) return true;
  if (count > std::numeric_limits<uint64_t>::max() - count_) return false;
  value += 0.0;  // -0.0 + 0.0 == +0.0, so min() never reports -0.
  zero_count_ += count;
  count_ += count;
  sum_ += value * static_cast<double>(count);
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  return true;
}

void QuantileSketch::AddToBinSlow(int index, uint64_t count) {
  const int kept = PrepareRange(index, index);
  bins_.Add(static_cast<size_t>(std::max(index, kept) - offset_), count);
}

int QuantileSketch::PrepareRange(int lo, int hi) {
  const bool occupied = lo_ <= hi_;
  int new_lo = occupied ? std::min(lo_, lo) : lo;
  const int new_hi = occupied ? std::max(hi_, hi) : hi;
  uint64_t collapsed = 0;
  if (int64_t{new_hi} - new_lo + 1 > max_bins_) {
    // Keep the top max_bins_ indices. The kept range only ever moves up, so
    // folding everything below it into its lowest bin gives the same result
    // whatever order values (or merged sketches) arrive in.
    const int keep_lo = new_hi - max_bins_ + 1;
    if (occupied && lo_ < keep_lo) {
      const int last = std::min(hi_, keep_lo - 1);
      for (int i = lo_; i <= last; ++i) {
        const size_t k = static_cast<size_t>(i - offset_);
        collapsed += bins_.Get(k);
        bins_.Set(k, 0);
      }
      if (hi_ < keep_lo) {
        lo_ = std::numeric_limits<int>::max();
        hi_ = std::numeric_limits<int>::min();
      } else {
        lo_ = keep_lo;
      }
    }
    new_lo = keep_lo;
  }
  EnsureWindow(new_lo, new_hi);
  bins_.Add(static_cast<size_t>(new_lo - offset_), collapsed);
  lo_ = new_lo;
  hi_ = new_hi;
  return new_lo;
}

void QuantileSketch::EnsureWindow(int lo, int hi) {
  const int64_t size = static_cast<int64_t>(bins_.size());
  if (size > 0 && lo >= offset_ && int64_t{hi} < offset_ + size) return;

  // Grow geometrically (and never shrink) so a stream that keeps widening
  // its range costs amortised O(1) per new bin; cap at max_bins_ because the
  // occupied range can never be wider than that.
  const int64_t span = int64_t{hi} - lo + 1;
  int64_t len = std::max({span + span / 2, size, kMinWindow});
  len = std::min<int64_t>(len, max_bins_);

  // Put the slack on the side the range is growing towards: latency streams
  // mostly widen in one direction at a time (a slow tail appearing).
  const bool occupied = lo_ <= hi_;
  const bool down = occupied && lo < lo_;
  const bool up = occupied && hi > hi_;
  int64_t window_lo;
  if (down && !up) {
    window_lo = int64_t{hi} - len + 1;
  } else if (up && !down) {
    window_lo = lo;
  } else {
    window_lo = lo - (len - span) / 2;
  }

  if (occupied) {
    bins_.Regrow(static_cast<size_t>(len), static_cast<size_t>(lo_ - offset_),
                 static_cast<size_t>(hi_ - offset_ + 1),
                 static_cast<size_t>(lo_ - window_lo));
  } else {
    bins_.Resize(static_cast<size_t>(len));
  }
  offset_ = static_cast<int>(window_lo);
}

absl::Status QuantileSketch::Merge(const QuantileSketch& other) {
  if (scale_ != other.scale_ || max_bins_ != other.max_bins_) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "cannot merge QuantileSketches with different parameters: "
        "relative_accuracy %s vs %s (scale %d vs %d), max_bins %d vs %d",
        FormatSketchDouble(relative_accuracy_),
        FormatSketchDouble(other.relative_accuracy_), scale_, other.scale_,
        max_bins_, other.max_bins_));
  }
  if (other.count_ == 0) return absl::OkStatus();
  if (other.count_ > std::numeric_limits<uint64_t>::max() - count_) {
    return absl::OutOfRangeError(
        "merging QuantileSketches would overflow the uint64 count");
  }
  if (&other == this) {
    // PrepareRange() may reallocate bins_ while we read other.bins_.
    const QuantileSketch copy(other);
    return Merge(copy);
  }

  count_ += other.count_;
  zero_count_ += other.zero_count_;
  extremes_exact_ = extremes_exact_ && other.extremes_exact_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  if (other.lo_ <= other.hi_) {
    const int kept = PrepareRange(other.lo_, other.hi_);
    for (int i = other.lo_; i <= other.hi_; ++i) {
      const uint64_t c = other.bins_.Get(static_cast<size_t>(i - other.offset_));
      if (c != 0) bins_.Add(static_cast<size_t>(std::max(i, kept) - offset_), c);
    }
  }
  return absl::OkStatus();
}

double QuantileSketch::Quantile(double q) const {
  if (count_ == 0 || !(q >= 0.0 && q <= 1.0)) return kNaN;
  if (q == 0.0) return min_;
  if (q == 1.0) return max_;

  // Nearest rank: the smallest value with at least q*n values <= it, i.e.
  // sorted[ceil(q * n) - 1]. Unlike the "lower" rank floor(q * (n - 1)) it
  // never hides the largest sample at small counts (p99 of 9 values is the
  // maximum). The tiny shrink keeps q*n that is whole in exact arithmetic
  // (0.95 * 100) from rounding up to the next rank. The comparison guards the
  // double -> uint64 conversion, which is undefined at 2^64.
  const double r = q * static_cast<double>(count_) * (1.0 - 1e-12);
  constexpr double kTwoPow64 = 18446744073709551616.0;
  uint64_t rank = r >= kTwoPow64 ? count_ : static_cast<uint64_t>(std::ceil(r));
  rank = rank == 0 ? 0 : rank - 1;
  rank = std::min(rank, count_ - 1);

  // The extreme ranks are known exactly: sorted[0] is min() and sorted[n-1]
  // is max() (p99 of up to 100 values is the largest value, not its bin).
  if (extremes_exact_ && rank == count_ - 1) return max_;
  // The zero bin's representative is 0, which clamps to min().
  if ((extremes_exact_ && rank == 0) || rank < zero_count_) return min_;
  uint64_t seen = zero_count_;
  for (int i = lo_; i <= hi_; ++i) {
    seen += bins_.Get(static_cast<size_t>(i - offset_));
    if (seen > rank) return std::clamp(ValueOf(i), min_, max_);
  }
  return max_;  // Unreachable while count_ == zero_count_ + sum of bins.
}

uint64_t QuantileSketch::CountAtMost(double x) const {
  if (!(x >= 0.0)) return 0;
  if (x < kMinIndexable) return zero_count_;
  if (x > kMaxIndexable || lo_ > hi_) return x >= max_ ? count_ : zero_count_;
  const int last = std::min(IndexOf(x), hi_);
  uint64_t n = zero_count_;
  for (int i = lo_; i <= last; ++i) n += bins_.Get(static_cast<size_t>(i - offset_));
  return n;
}

bool QuantileSketch::Remove(double value) {
  if (count_ == 0 || !(value >= 0.0 && value <= kMaxIndexable)) return false;
  if (value < kMinIndexable) {
    if (zero_count_ == 0) return false;
    --zero_count_;
  } else {
    if (lo_ > hi_) return false;
    int index = IndexOf(value);
    if (index > hi_) return false;
    if (index < lo_) {
      // Add() folds a value below the range into lo_ only once the range is
      // at full width (collapsed low bins live in lo_); otherwise its bin is
      // empty.
      if (num_bins() < max_bins_) return false;
      index = lo_;
    }
    const size_t k = static_cast<size_t>(index - offset_);
    const uint64_t bin = bins_.Get(k);
    if (bin == 0) return false;
    bins_.Set(k, bin - 1);
  }
  --count_;
  sum_ -= value;
  if (value == min_ || value == max_) extremes_exact_ = false;
  if (count_ == 0) ResetCounters();
  return true;
}

double QuantileSketch::min() const { return count_ == 0 ? kNaN : min_; }

double QuantileSketch::max() const { return count_ == 0 ? kNaN : max_; }

double QuantileSketch::mean() const {
  return count_ == 0 ? kNaN : sum_ / static_cast<double>(count_);
}

size_t QuantileSketch::MemoryBytes() const {
  return sizeof(*this) + bins_.MemoryBytes();
}

bool QuantileSketch::SameContents(const QuantileSketch& other) const {
  if (relative_accuracy_ != other.relative_accuracy_ ||
      max_bins_ != other.max_bins_ || count_ != other.count_ ||
      zero_count_ != other.zero_count_ || min_ != other.min_ ||
      max_ != other.max_) {
    return false;
  }
  const double tolerance =
      1e-9 * std::max(std::fabs(sum_), std::fabs(other.sum_));
  if (std::fabs(sum_ - other.sum_) > tolerance) return false;

  // Compare over the union of both occupied ranges, reading 0 outside each
  // one, so equal contents compare equal regardless of how each store
  // happens to be laid out.
  auto bin_at = [](const QuantileSketch& s, int64_t i) -> uint64_t {
    if (i < s.lo_ || i > s.hi_) return 0;
    return s.bins_.Get(static_cast<size_t>(i - s.offset_));
  };
  const int64_t lo = std::min(lo_, other.lo_);
  const int64_t hi = std::max(hi_, other.hi_);
  for (int64_t i = lo; i <= hi; ++i) {
    if (bin_at(*this, i) != bin_at(other, i)) return false;
  }
  return true;
}

}  // namespace ragperf

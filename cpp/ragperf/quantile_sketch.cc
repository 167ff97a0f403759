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

// Serialized layout (all multi-byte fixed-width fields little-endian):
//
//   "RPQS"                magic, 4 bytes
//   version               1 byte, kFormatVersion
//   relative_accuracy     float64
//   max_bins              varint
//   count                 varint
//   -- present only when count > 0 --
//   zero_count            varint
//   sum, min, max         float64 each
//   num_bins              varint, width of the stored index range
//   -- present only when num_bins > 0 --
//   lowest index          zigzag varint
//   bin counts            num_bins varints, lowest index first
//
// Varints are LEB128 (7 bits per byte, low group first), so the many small
// bin counts of a typical sketch take one or two bytes each.
constexpr char kMagic[4] = {'R', 'P', 'Q', 'S'};
constexpr uint8_t kFormatVersion = 1;

// A fresh allocation is at least this wide so that the first few values of a
// stream do not each trigger a reallocation.
constexpr int64_t kMinWindow = 32;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Shortest "%g"-style rendering that still identifies the value, so error
// messages show "1.5" rather than "1.5000000000000000" but never round a bad
// 0.99999999 to a misleading "1".
std::string FormatDouble(double v) {
  std::string s = absl::StrFormat("%g", v);
  if (std::isfinite(v) && std::strtod(s.c_str(), nullptr) != v) {
    s = absl::StrFormat("%.17g", v);
  }
  return s;
}

double ClampAccuracy(double a) {
  if (std::isnan(a)) return QuantileSketch::kDefaultRelativeAccuracy;
  if (a < QuantileSketch::kMinRelativeAccuracy) {
    return QuantileSketch::kMinRelativeAccuracy;
  }
  if (a >= 1.0) return std::nextafter(1.0, 0.0);
  return a;
}

void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutDouble(double d, std::string* out) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof(bits));
  for (int i = 0; i < 8; ++i) {
    out->push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
  }
}

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}

int64_t UnZigZag(uint64_t u) {
  return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
}

// Bounds-checked cursor over untrusted bytes. Every read either succeeds
// completely or returns false without reading past the end.
class Reader {
 public:
  explicit Reader(absl::string_view data) : data_(data) {}

  size_t remaining() const { return data_.size(); }

  bool ReadByte(uint8_t* v) {
    if (data_.empty()) return false;
    *v = static_cast<uint8_t>(data_[0]);
    data_.remove_prefix(1);
    return true;
  }

  bool ReadDouble(double* v) {
    if (data_.size() < 8) return false;
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) {
      bits |= uint64_t{static_cast<uint8_t>(data_[i])} << (8 * i);
    }
    std::memcpy(v, &bits, sizeof(bits));
    data_.remove_prefix(8);
    return true;
  }

  // Rejects encodings longer than 10 bytes or with bits beyond 64, so a
  // corrupted value cannot silently wrap.
  bool ReadVarint(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t byte;
      if (!ReadByte(&byte)) return false;
      const uint64_t group = byte & 0x7f;
      if (shift == 63 && group > 1) return false;
      result |= group << shift;
      if ((byte & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return false;
  }

 private:
  absl::string_view data_;
};

absl::Status Truncated(absl::string_view field) {
  return absl::DataLossError(absl::StrFormat(
      "serialized QuantileSketch is truncated or malformed at field '%s'",
      field));
}

}  // namespace

QuantileSketch::QuantileSketch(double relative_accuracy, int max_bins)
    : relative_accuracy_(ClampAccuracy(relative_accuracy)),
      max_bins_(std::clamp(max_bins, kMinMaxBins, kMaxMaxBins)),
      gamma_((1.0 + relative_accuracy_) / (1.0 - relative_accuracy_)),
      // log1p keeps full precision for small accuracies, where
      // log((1 + a) / (1 - a)) would lose digits to cancellation.
      log_gamma_(std::log1p(relative_accuracy_) -
                 std::log1p(-relative_accuracy_)),
      inv_log_gamma_(1.0 / log_gamma_),
      log_value_shift_(std::log1p(-relative_accuracy_)) {}

absl::StatusOr<QuantileSketch> QuantileSketch::Create(double relative_accuracy,
                                                      int max_bins) {
  if (!(relative_accuracy >= kMinRelativeAccuracy && relative_accuracy < 1.0)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "QuantileSketch relative_accuracy must be in [%s, 1), got %s",
        FormatDouble(kMinRelativeAccuracy), FormatDouble(relative_accuracy)));
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
      gamma_(other.gamma_),
      log_gamma_(other.log_gamma_),
      inv_log_gamma_(other.inv_log_gamma_),
      log_value_shift_(other.log_value_shift_),
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
  gamma_ = other.gamma_;
  log_gamma_ = other.log_gamma_;
  inv_log_gamma_ = other.inv_log_gamma_;
  log_value_shift_ = other.log_value_shift_;
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
}

void QuantileSketch::Clear() {
  if (lo_ <= hi_) {
    bins_.Zero(static_cast<size_t>(lo_ - offset_),
               static_cast<size_t>(hi_ - offset_ + 1));
  }
  ResetCounters();
}

double QuantileSketch::ValueOf(int index) const {
  return std::exp(static_cast<double>(index) * log_gamma_ + log_value_shift_);
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
  if (gamma_ != other.gamma_ || max_bins_ != other.max_bins_) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "cannot merge QuantileSketches with different parameters: "
        "relative_accuracy %s vs %s, max_bins %d vs %d",
        FormatDouble(relative_accuracy_),
        FormatDouble(other.relative_accuracy_), max_bins_, other.max_bins_));
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

  // The zero bin's representative is 0, which clamps to min().
  if (rank < zero_count_) return min_;
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

std::string QuantileSketch::Serialize() const {
  std::string out;
  out.reserve(64 + static_cast<size_t>(num_bins()) * 2);
  out.append(kMagic, sizeof(kMagic));
  out.push_back(static_cast<char>(kFormatVersion));
  PutDouble(relative_accuracy_, &out);
  PutVarint(static_cast<uint64_t>(max_bins_), &out);
  PutVarint(count_, &out);
  if (count_ == 0) return out;
  PutVarint(zero_count_, &out);
  PutDouble(sum_, &out);
  PutDouble(min_, &out);
  PutDouble(max_, &out);
  const int n = num_bins();
  PutVarint(static_cast<uint64_t>(n), &out);
  if (n == 0) return out;
  PutVarint(ZigZag(lo_), &out);
  for (int i = lo_; i <= hi_; ++i) {
    PutVarint(bins_.Get(static_cast<size_t>(i - offset_)), &out);
  }
  return out;
}

absl::StatusOr<QuantileSketch> QuantileSketch::Deserialize(
    absl::string_view bytes) {
  if (bytes.size() < sizeof(kMagic) ||
      std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return absl::InvalidArgumentError(
        "not a serialized QuantileSketch (bad magic, expected \"RPQS\")");
  }
  Reader in(bytes.substr(sizeof(kMagic)));
  uint8_t version;
  if (!in.ReadByte(&version)) return Truncated("version");
  if (version != kFormatVersion) {
    return absl::InvalidArgumentError(
        absl::StrFormat("unsupported QuantileSketch format version %d "
                        "(this build reads version %d)",
                        version, kFormatVersion));
  }

  double accuracy;
  uint64_t max_bins;
  uint64_t count;
  if (!in.ReadDouble(&accuracy)) return Truncated("relative_accuracy");
  if (!in.ReadVarint(&max_bins)) return Truncated("max_bins");
  // Range-check before narrowing to int so a huge value cannot wrap into range.
  if (max_bins > static_cast<uint64_t>(kMaxMaxBins)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "serialized QuantileSketch has max_bins %d, above the limit %d",
        max_bins, kMaxMaxBins));
  }
  absl::StatusOr<QuantileSketch> created =
      Create(accuracy, static_cast<int>(max_bins));
  if (!created.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("serialized QuantileSketch has invalid parameters: ",
                     created.status().message()));
  }
  QuantileSketch sketch = *std::move(created);

  if (!in.ReadVarint(&count)) return Truncated("count");
  if (count == 0) {
    if (in.remaining() != 0) {
      return absl::DataLossError(absl::StrFormat(
          "serialized QuantileSketch has %d trailing bytes", in.remaining()));
    }
    return sketch;
  }

  uint64_t zero_count;
  double sum, min, max;
  uint64_t num_bins;
  if (!in.ReadVarint(&zero_count)) return Truncated("zero_count");
  if (!in.ReadDouble(&sum)) return Truncated("sum");
  if (!in.ReadDouble(&min)) return Truncated("min");
  if (!in.ReadDouble(&max)) return Truncated("max");
  if (!in.ReadVarint(&num_bins)) return Truncated("num_bins");

  if (!(std::isfinite(sum) && sum >= 0.0)) {
    return absl::DataLossError(absl::StrFormat(
        "serialized QuantileSketch has invalid sum %s", FormatDouble(sum)));
  }
  if (!(min >= 0.0 && min <= max && max <= kMaxIndexable)) {
    return absl::DataLossError(absl::StrFormat(
        "serialized QuantileSketch has invalid min/max %s/%s (need 0 <= min "
        "<= max <= %g)",
        FormatDouble(min), FormatDouble(max), kMaxIndexable));
  }
  if (num_bins > max_bins) {
    return absl::DataLossError(absl::StrFormat(
        "serialized QuantileSketch declares %d bins, more than max_bins %d",
        num_bins, max_bins));
  }
  // Each count takes at least one byte; checking this before allocating means
  // a short blob cannot make us reserve max_bins words.
  if (num_bins > in.remaining()) return Truncated("bins");

  uint64_t bin_total = 0;
  std::vector<uint64_t> bins;
  int64_t lowest = 0;
  if (num_bins > 0) {
    uint64_t zz;
    if (!in.ReadVarint(&zz)) return Truncated("lowest index");
    lowest = UnZigZag(zz);
    const int64_t min_index = sketch.IndexOf(kMinIndexable);
    const int64_t max_index = sketch.IndexOf(kMaxIndexable);
    if (lowest < min_index ||
        lowest > max_index - static_cast<int64_t>(num_bins) + 1) {
      return absl::DataLossError(absl::StrFormat(
          "serialized QuantileSketch bin range [%d, %d] is outside the "
          "indexable range [%d, %d]",
          lowest, lowest + static_cast<int64_t>(num_bins) - 1, min_index,
          max_index));
    }
    bins.resize(static_cast<size_t>(num_bins));
    for (uint64_t& b : bins) {
      if (!in.ReadVarint(&b)) return Truncated("bins");
      if (b > std::numeric_limits<uint64_t>::max() - bin_total) {
        return absl::DataLossError(
            "serialized QuantileSketch bin counts overflow uint64");
      }
      bin_total += b;
    }
  }
  if (in.remaining() != 0) {
    return absl::DataLossError(absl::StrFormat(
        "serialized QuantileSketch has %d trailing bytes", in.remaining()));
  }
  if (zero_count > count || count - zero_count != bin_total) {
    return absl::DataLossError(absl::StrFormat(
        "serialized QuantileSketch is inconsistent: count %d != zero_count %d "
        "+ bin total %d",
        count, zero_count, bin_total));
  }
  // Add() puts exactly the values below kMinIndexable in the zero bin, so
  // the extremes must agree with which stores are non-empty.
  if ((zero_count > 0) != (min < kMinIndexable) ||
      (bin_total > 0) != (max >= kMinIndexable)) {
    return absl::DataLossError(absl::StrFormat(
        "serialized QuantileSketch is inconsistent: min %s / max %s do not "
        "match zero_count %d and bin total %d",
        FormatDouble(min), FormatDouble(max), zero_count, bin_total));
  }

  sketch.count_ = count;
  sketch.zero_count_ = zero_count;
  sketch.sum_ = sum;
  sketch.min_ = min;
  sketch.max_ = max;
  if (bin_total > 0) {
    // Trim zero bins at either end so lo_/hi_ are non-empty bins, as they are
    // for a sketch built by Add(); collapsing relies on hi_ being the top.
    size_t first = 0;
    while (bins[first] == 0) ++first;
    size_t last = bins.size() - 1;
    while (bins[last] == 0) --last;
    sketch.bins_.Assign(bins.data() + first, last - first + 1);
    sketch.offset_ = static_cast<int>(lowest + static_cast<int64_t>(first));
    sketch.lo_ = sketch.offset_;
    sketch.hi_ = static_cast<int>(lowest + static_cast<int64_t>(last));
  }
  return sketch;
}

}  // namespace ragperf

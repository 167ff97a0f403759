// Copyright 2024 The ragperf Authors.
//
// QuantileSketch's binary form: Serialize(), Deserialize() and the re-binning
// of format-1 blobs (the mapping before base-2 buckets).

#include <algorithm>
#include <cmath>
#include <cstdint>
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
#include "ragperf/quantile_sketch.h"

namespace ragperf {
namespace {

using sketch_internal::FormatSketchDouble;

// Serialized layout (all multi-byte fixed-width fields little-endian):
//
//   "RPQS"                magic, 4 bytes
//   version               1 byte, kFormatVersion (2)
//   relative_accuracy     float64
//   max_bins              varint
//   scale                 varint, == ScaleFor(relative_accuracy)
//                         (absent in format 1)
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
// bin counts of a typical sketch take one or two bytes each. Format 1 is the
// same without `scale`; its bin i held (g^(i-1), g^i] with
// g = (1 + a) / (1 - a), reported as (1 - a) * g^i.
constexpr char kMagic[4] = {'R', 'P', 'Q', 'S'};
constexpr int kLegacyFormatVersion = 1;

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

// Format 1's bin index of `x` and representative of bin `i`.
int LegacyIndexOf(double x, double log_gamma) {
  return static_cast<int>(std::ceil(std::log(x) / log_gamma));
}

}  // namespace

std::string QuantileSketch::Serialize() const {
  std::string out;
  out.reserve(64 + static_cast<size_t>(num_bins()) * 2);
  out.append(kMagic, sizeof(kMagic));
  out.push_back(static_cast<char>(kFormatVersion));
  PutDouble(relative_accuracy_, &out);
  PutVarint(static_cast<uint64_t>(max_bins_), &out);
  PutVarint(static_cast<uint64_t>(scale_), &out);
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

int QuantileSketch::FormatVersionOf(absl::string_view bytes) {
  if (bytes.size() <= sizeof(kMagic) ||
      std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return 0;
  }
  return static_cast<uint8_t>(bytes[sizeof(kMagic)]);
}

absl::StatusOr<QuantileSketch> QuantileSketch::Deserialize(
    absl::string_view bytes) {
  return DeserializeInto(bytes, nullptr);
}

absl::StatusOr<QuantileSketch> QuantileSketch::DeserializeInto(
    absl::string_view bytes, const QuantileSketch* like) {
  if (bytes.size() < sizeof(kMagic) ||
      std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return absl::InvalidArgumentError(
        "not a serialized QuantileSketch (bad magic, expected \"RPQS\")");
  }
  Reader in(bytes.substr(sizeof(kMagic)));
  uint8_t version;
  if (!in.ReadByte(&version)) return Truncated("version");
  if (version != kFormatVersion && version != kLegacyFormatVersion) {
    return absl::InvalidArgumentError(
        absl::StrFormat("unsupported QuantileSketch format version %d "
                        "(this build reads versions %d and %d)",
                        version, kLegacyFormatVersion, kFormatVersion));
  }
  const bool legacy = version == kLegacyFormatVersion;

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
  if (!legacy) {
    uint64_t scale;
    if (!in.ReadVarint(&scale)) return Truncated("scale");
    if (scale != static_cast<uint64_t>(created->scale())) {
      return absl::DataLossError(absl::StrFormat(
          "serialized QuantileSketch has scale %d, but relative_accuracy %s "
          "means scale %d",
          scale, FormatSketchDouble(accuracy), created->scale()));
    }
  } else if (like != nullptr && accuracy <= like->relative_accuracy() &&
             static_cast<int>(max_bins) == like->max_bins()) {
    // Re-bin straight into the caller's layout: one re-binning, not two.
    created = QuantileSketch(like->relative_accuracy(), like->max_bins());
  }
  QuantileSketch sketch = *std::move(created);
  // Format 1's bins: log(gamma1) (0 for format 2).
  const double legacy_log_gamma =
      legacy ? std::log1p(accuracy) - std::log1p(-accuracy) : 0.0;
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
        "serialized QuantileSketch has invalid sum %s", FormatSketchDouble(sum)));
  }
  if (!(min >= 0.0 && min <= max && max <= kMaxIndexable)) {
    return absl::DataLossError(absl::StrFormat(
        "serialized QuantileSketch has invalid min/max %s/%s (need 0 <= min "
        "<= max <= %g)",
        FormatSketchDouble(min), FormatSketchDouble(max), kMaxIndexable));
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
    const int64_t min_index =
        legacy ? LegacyIndexOf(kMinIndexable, legacy_log_gamma)
               : sketch.IndexOf(kMinIndexable);
    const int64_t max_index =
        legacy ? LegacyIndexOf(kMaxIndexable, legacy_log_gamma)
               : sketch.IndexOf(kMaxIndexable);
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
        FormatSketchDouble(min), FormatSketchDouble(max), zero_count, bin_total));
  }

  sketch.count_ = count;
  sketch.zero_count_ = zero_count;
  sketch.sum_ = sum;
  sketch.min_ = min;
  sketch.max_ = max;
  if (bin_total > 0 && legacy) {
    // Each old bin's representative, clamped to the exact extremes (the
    // values in it lie in [min, max] too), goes to its base-2 bin.
    const double shift = std::log1p(-accuracy);
    const double lo = std::max(min, kMinIndexable);
    for (size_t k = 0; k < bins.size(); ++k) {
      if (bins[k] == 0) continue;
      const double old_index = static_cast<double>(lowest) + static_cast<double>(k);
      const double v =
          std::clamp(std::exp(old_index * legacy_log_gamma + shift), lo, max);
      sketch.AddToBinSlow(sketch.IndexOf(v), bins[k]);
    }
  } else if (bin_total > 0) {
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

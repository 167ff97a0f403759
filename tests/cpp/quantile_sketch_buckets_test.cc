// Copyright 2026 The ragperf Authors.
//
// QuantileSketch's base-2 bucket layout (issue #23 item 1): bin i holds
// (gamma^(i-1), gamma^i] with gamma = 2^(2^-scale), the Prometheus native
// histogram convention; scales from accuracies; exact downscaling; format-1
// (pre-base-2) blobs re-binned within the documented bound.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "ragperf/quantile_sketch.h"

namespace ragperf {
namespace {

// ceil(log2(x) * 2^scale) in long double: the reference the table must match.
int64_t ReferenceIndex(double x, int scale) {
  return static_cast<int64_t>(
      std::ceil(std::log2(static_cast<long double>(x)) * std::ldexp(1.0L, scale)));
}

// True when x lies within `rel` (relative) of a bucket boundary of `scale`,
// where a last-ulp difference between boundary tables may legitimately flip
// the bin.
bool NearBoundary(double x, int scale, double rel) {
  const long double t =
      std::log2(static_cast<long double>(x)) * std::ldexp(1.0L, scale);
  const long double frac = t - std::floor(t);
  const long double dist = std::min(frac, 1.0L - frac) /
                           std::ldexp(1.0L, scale) * std::log(2.0L);
  return dist < rel;
}

TEST(QuantileSketchBucketsTest, IndexIsCeilLog2TimesTwoToTheScale) {
  std::mt19937_64 rng(23);
  std::uniform_real_distribution<double> exponent(-9.0, 300.0);
  const int finest = QuantileSketch::ScaleFor(QuantileSketch::kMinRelativeAccuracy);
  for (int scale = QuantileSketch::kMinScale; scale <= finest; ++scale) {
    const QuantileSketch s(QuantileSketch::GuaranteeOf(scale) * 1.0000001);
    ASSERT_EQ(s.scale(), scale);
    for (int k = 0; k < 20000; ++k) {
      const double x = std::pow(10.0, exponent(rng));
      if (!QuantileSketch::IsIndexable(x) || NearBoundary(x, scale, 1e-13)) {
        continue;
      }
      ASSERT_EQ(s.IndexFor(x), ReferenceIndex(x, scale))
          << "scale " << scale << " x " << x;
    }
  }
}

TEST(QuantileSketchBucketsTest, PowersOfTwoAreUpperBoundaries) {
  // Prometheus: bucket i is (gamma^(i-1), gamma^i], so 1 is the top of
  // bucket 0 and the next double above 1 is in bucket 1.
  for (int scale : {0, 3, 6, 7, 8, 9, 12, 19}) {
    const QuantileSketch s(QuantileSketch::GuaranteeOf(scale) * 1.0000001);
    ASSERT_EQ(s.scale(), scale);
    const int per_octave = 1 << scale;
    for (int e = -29; e <= 40; ++e) {
      const double p = std::ldexp(1.0, e);
      EXPECT_EQ(s.IndexFor(p), e * per_octave) << scale << " " << e;
      EXPECT_EQ(s.IndexFor(std::nextafter(p, 0.0)), e * per_octave) << scale;
      EXPECT_EQ(s.IndexFor(std::nextafter(p, 1e300)), e * per_octave + 1)
          << scale << " " << e;
    }
  }
  QuantileSketch s;  // scale 6
  ASSERT_TRUE(s.Add(1.0));
  ASSERT_TRUE(s.Add(std::nextafter(1.0, 2.0)));
  ASSERT_TRUE(s.Add(0.5));
  EXPECT_EQ(s.lowest_index(), -64);
  EXPECT_EQ(s.num_bins(), 66);
  EXPECT_EQ(s.bin_count(-64), 1u);
  EXPECT_EQ(s.bin_count(0), 1u);
  EXPECT_EQ(s.bin_count(1), 1u);
  EXPECT_EQ(s.bin_count(-1), 0u);
  EXPECT_EQ(s.bin_count(1000), 0u);
}

TEST(QuantileSketchBucketsTest, ScaleForPicksTheCoarsestScaleMeetingTheAccuracy) {
  EXPECT_EQ(QuantileSketch::ScaleFor(QuantileSketch::kDefaultRelativeAccuracy),
            QuantileSketch::kDefaultScale);
  EXPECT_EQ(QuantileSketch().scale(), 6);
  EXPECT_NEAR(QuantileSketch::GuaranteeOf(6), 0.0054152, 1e-7);
  EXPECT_NEAR(QuantileSketch::GuaranteeOf(7), 0.0027076, 1e-7);
  EXPECT_LE(QuantileSketch().guaranteed_accuracy(),
            QuantileSketch::kDefaultRelativeAccuracy);
  EXPECT_EQ(QuantileSketch::ScaleFor(0.005), 7);
  EXPECT_EQ(QuantileSketch::ScaleFor(0.01), 6);
  EXPECT_EQ(QuantileSketch::ScaleFor(0.02), 5);
  EXPECT_EQ(QuantileSketch::ScaleFor(0.9), 0);
  EXPECT_EQ(QuantileSketch::ScaleFor(QuantileSketch::kMinRelativeAccuracy), 19);
  for (int s = 0; s < QuantileSketch::kMaxScale; ++s) {
    // Each scale halves the bins' width: the guarantee roughly halves.
    EXPECT_LT(QuantileSketch::GuaranteeOf(s + 1), QuantileSketch::GuaranteeOf(s));
    EXPECT_EQ(QuantileSketch::ScaleFor(QuantileSketch::GuaranteeOf(s)), s);
  }
}

TEST(QuantileSketchBucketsTest, RepresentativeMeetsTheGuaranteeInEveryBin) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> exponent(-8.0, 8.0);
  for (double a : {0.3, 0.02, 0.01, QuantileSketch::kDefaultRelativeAccuracy,
                   0.005, 0.001, 1e-5}) {
    for (int k = 0; k < 2000; ++k) {
      const double x = std::pow(10.0, exponent(rng));
      // x between a smaller and a larger value: the median is x's bin
      // representative (clamping to [min, max] could only help).
      QuantileSketch s(a, QuantileSketch::kMaxMaxBins);
      ASSERT_TRUE(s.Add(x / 1.1));
      ASSERT_TRUE(s.Add(x));
      ASSERT_TRUE(s.Add(x * 1.1));
      const double est = s.Quantile(0.5);
      EXPECT_LE(std::fabs(est - x), s.guaranteed_accuracy() * x * (1 + 1e-9))
          << a << " " << x;
      EXPECT_LE(s.guaranteed_accuracy(), a);
    }
  }
}

TEST(QuantileSketchBucketsTest, DownscaledEqualsASketchBuiltAtTheCoarserScale) {
  std::mt19937_64 rng(11);
  std::lognormal_distribution<double> dist(-3.0, 0.5);
  // 1e-4 is scale 12 (log path); 0.002 is scale 8 (table, shift 0).
  for (double fine : {1e-4, 0.002, 0.005}) {
    // Enough bins that neither sketch collapses (~6 octaves at scale 12).
    QuantileSketch source(fine, QuantileSketch::kMaxMaxBins);
    QuantileSketch direct(QuantileSketch::kDefaultRelativeAccuracy,
                          QuantileSketch::kMaxMaxBins);  // scale 6
    for (int k = 0; k < 50000; ++k) {
      const double v = k % 97 == 0 ? 0.0 : dist(rng);
      ASSERT_TRUE(source.Add(v));
      ASSERT_TRUE(direct.Add(v));
    }
    absl::StatusOr<QuantileSketch> down =
        source.Downscaled(QuantileSketch::kDefaultRelativeAccuracy);
    ASSERT_TRUE(down.ok()) << down.status();
    EXPECT_EQ(down->scale(), 6);
    EXPECT_TRUE(down->SameContents(direct)) << fine;
  }
  // Finer than the source: refused.
  absl::StatusOr<QuantileSketch> up = QuantileSketch().Downscaled(0.001);
  ASSERT_FALSE(up.ok());
  EXPECT_NE(up.status().message().find("finer"), std::string::npos);
}

TEST(QuantileSketchBucketsTest, MergeNeedsTheSameScaleNotTheSameAccuracy) {
  QuantileSketch a(0.01), b(0.009), c(0.02);
  ASSERT_EQ(a.scale(), b.scale());
  ASSERT_TRUE(a.Add(1.0));
  ASSERT_TRUE(b.Add(2.0));
  EXPECT_TRUE(a.Merge(b).ok());  // identical bins: exact
  EXPECT_EQ(a.count(), 2u);
  absl::Status st = a.Merge(c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("scale 6 vs 5"), std::string::npos) << st;
}

TEST(QuantileSketchBucketsTest, ExtremeRanksAreExactUnlessAnExtremeWasRemoved) {
  QuantileSketch s;
  ASSERT_TRUE(s.Add(10.0));
  for (int i = 0; i < 49; ++i) ASSERT_TRUE(s.Add(0.1));
  // p99 of 50 values is the largest (nearest rank 50): exactly max(), not
  // the representative of its bin.
  EXPECT_EQ(s.Quantile(0.99), 10.0);
  EXPECT_EQ(s.Quantile(0.01), 0.1);
  // Without the cold start, max() still says 10 but no value is there: p99
  // comes from the bins again.
  QuantileSketch warm = s;
  ASSERT_TRUE(warm.Remove(10.0));
  EXPECT_NEAR(warm.Quantile(0.99), 0.1, 0.1 * warm.guaranteed_accuracy());
  // Removing a middle value keeps the extremes exact.
  QuantileSketch mid = s;
  ASSERT_TRUE(mid.Add(1.0));
  ASSERT_TRUE(mid.Remove(1.0));
  EXPECT_EQ(mid.Quantile(0.99), 10.0);
  // Merging an inexact sketch makes the result inexact; Clear() resets.
  QuantileSketch merged;
  ASSERT_TRUE(merged.Merge(warm).ok());
  EXPECT_NEAR(merged.Quantile(0.99), 0.1, 0.1 * merged.guaranteed_accuracy());
  merged.Clear();
  ASSERT_TRUE(merged.Add(3.0));
  EXPECT_EQ(merged.Quantile(0.5), 3.0);
}

// --- format 1 (before base-2 buckets) --------------------------------------

class LegacyBlob {
 public:
  LegacyBlob() : out_("RPQS\x01", 5) {}
  LegacyBlob& Varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
    return *this;
  }
  LegacyBlob& Double(double d) {
    char b[8];
    std::memcpy(b, &d, 8);  // little-endian hosts only, like the tests' data
    out_.append(b, 8);
    return *this;
  }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

// A format-1 sketch of accuracy `a` holding `values` (all >= 1e-9 or 0),
// encoded with the old mapping: bin ceil(ln x / ln g), g = (1 + a) / (1 - a).
std::string LegacySketch(double a, const std::vector<double>& values) {
  const double lg = std::log1p(a) - std::log1p(-a);
  double sum = 0, mn = 1e300, mx = 0;
  uint64_t zeros = 0;
  int lo = std::numeric_limits<int>::max(), hi = std::numeric_limits<int>::min();
  std::vector<int> idx;
  for (double v : values) {
    sum += v;
    mn = std::min(mn, v);
    mx = std::max(mx, v);
    if (v < QuantileSketch::kMinIndexable) {
      ++zeros;
      continue;
    }
    idx.push_back(static_cast<int>(std::ceil(std::log(v) / lg)));
    lo = std::min(lo, idx.back());
    hi = std::max(hi, idx.back());
  }
  LegacyBlob b;
  b.Double(a).Varint(2048).Varint(values.size()).Varint(zeros).Double(sum)
      .Double(mn).Double(mx);
  if (idx.empty()) return b.Varint(0).str();
  std::vector<uint64_t> counts(static_cast<size_t>(hi - lo + 1), 0);
  for (int i : idx) ++counts[static_cast<size_t>(i - lo)];
  b.Varint(counts.size()).Varint((static_cast<uint64_t>(lo) << 1) ^
                                 static_cast<uint64_t>(lo >> 31));
  for (uint64_t c : counts) b.Varint(c);
  return b.str();
}

double Exact(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double r = q * static_cast<double>(v.size()) * (1.0 - 1e-12);
  const size_t rank = static_cast<size_t>(std::ceil(r));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

TEST(QuantileSketchBucketsTest, FormatOneIsRebinnedWithinTheDocumentedBound) {
  std::mt19937_64 rng(5);
  std::lognormal_distribution<double> dist(-2.0, 1.2);
  std::vector<double> values;
  for (int k = 0; k < 5000; ++k) values.push_back(k % 50 == 0 ? 0.0 : dist(rng));
  const std::string blob = LegacySketch(0.005, values);
  ASSERT_EQ(QuantileSketch::FormatVersionOf(blob), 1);

  absl::StatusOr<QuantileSketch> own = QuantileSketch::Deserialize(blob);
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(own->relative_accuracy(), 0.005);
  EXPECT_EQ(own->scale(), 7);
  const QuantileSketch like;  // the default monitor's sketches
  absl::StatusOr<QuantileSketch> into = QuantileSketch::DeserializeInto(blob, &like);
  ASSERT_TRUE(into.ok()) << into.status();
  EXPECT_EQ(into->relative_accuracy(), like.relative_accuracy());
  EXPECT_EQ(into->scale(), 6);
  for (const QuantileSketch* s : {&*own, &*into}) {
    EXPECT_EQ(s->count(), values.size());
    EXPECT_EQ(s->zero_count(), 100u);
    EXPECT_EQ(s->min(), 0.0);
    EXPECT_EQ(s->max(), *std::max_element(values.begin(), values.end()));
    const double bound = (1 + 0.005) * (1 + s->guaranteed_accuracy()) - 1;
    for (double q : {0.05, 0.25, 0.5, 0.9, 0.99, 0.999}) {
      const double exact = Exact(values, q);
      EXPECT_LE(std::fabs(s->Quantile(q) - exact), bound * exact * (1 + 1e-9))
          << s->scale() << " q " << q;
    }
    // It serializes in the current format and round-trips exactly.
    const std::string again = s->Serialize();
    EXPECT_EQ(QuantileSketch::FormatVersionOf(again), QuantileSketch::kFormatVersion);
    absl::StatusOr<QuantileSketch> back = QuantileSketch::Deserialize(again);
    ASSERT_TRUE(back.ok());
    EXPECT_TRUE(back->SameContents(*s));
  }
  // A monitor finer than the file is not re-binned into (that would claim an
  // accuracy the file never had): it keeps its own, and callers refuse it.
  const QuantileSketch fine(0.001);
  absl::StatusOr<QuantileSketch> kept = QuantileSketch::DeserializeInto(blob, &fine);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->relative_accuracy(), 0.005);
}

TEST(QuantileSketchBucketsTest, FormatOneCorruptionIsStillRejected) {
  std::string blob = LegacySketch(0.01, {0.5, 1.0, 2.0});
  blob.push_back('\0');
  EXPECT_FALSE(QuantileSketch::Deserialize(blob).ok());
  const std::string good = LegacySketch(0.01, {0.5, 1.0, 2.0});
  for (size_t len = 0; len < good.size(); ++len) {
    EXPECT_FALSE(QuantileSketch::Deserialize(good.substr(0, len)).ok()) << len;
  }
}

}  // namespace
}  // namespace ragperf

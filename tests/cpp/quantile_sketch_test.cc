// Copyright 2024 The ragperf Authors.

#include "ragperf/quantile_sketch.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace ragperf {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kQuantiles[] = {0.01, 0.1,  0.25, 0.5,  0.75,
                                 0.9,  0.95, 0.99, 0.999};

// Exact quantile with the sketch's rank convention (nearest rank:
// sorted[ceil(q * n) - 1]).
double ExactQuantile(const std::vector<double>& sorted, double q) {
  const double r = q * static_cast<double>(sorted.size()) * (1.0 - 1e-12);
  const size_t rank = static_cast<size_t>(std::ceil(r));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

// The bound is a*v; the slack covers log/exp rounding at bin edges, which is
// orders of magnitude below any accuracy the sketch accepts.
void ExpectWithinRelativeError(double estimate, double exact, double accuracy,
                               const std::string& what) {
  const double tolerance = accuracy * exact * (1.0 + 1e-9) + 1e-300;
  EXPECT_LE(std::fabs(estimate - exact), tolerance)
      << what << ": estimate " << estimate << " exact " << exact;
}

// ---------------------------------------------------------------------------
// Distributions. Fixed seeds keep failures reproducible.

struct Distribution {
  const char* name;
  std::function<std::vector<double>(size_t n)> generate;
};

std::vector<double> Lognormal(size_t n) {
  std::mt19937_64 rng(1);
  std::lognormal_distribution<double> d(std::log(0.05), 1.0);
  std::vector<double> v(n);
  for (double& x : v) x = d(rng);
  return v;
}

std::vector<double> Exponential(size_t n) {
  std::mt19937_64 rng(2);
  std::exponential_distribution<double> d(20.0);
  std::vector<double> v(n);
  for (double& x : v) x = d(rng);
  return v;
}

std::vector<double> Pareto(size_t n) {
  // Inverse-CDF sampling, alpha = 1.1: infinite variance, a very long tail.
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> v(n);
  for (double& x : v) x = 1e-3 / std::pow(1.0 - u(rng), 1.0 / 1.1);
  return v;
}

std::vector<double> Uniform(size_t n) {
  std::mt19937_64 rng(4);
  std::uniform_real_distribution<double> d(0.0, 2.0);
  std::vector<double> v(n);
  for (double& x : v) x = d(rng);
  return v;
}

std::vector<double> Bimodal(size_t n) {
  // Cache hits around 2 ms, misses around 300 ms.
  std::mt19937_64 rng(5);
  std::bernoulli_distribution miss(0.3);
  std::lognormal_distribution<double> fast(std::log(0.002), 0.3);
  std::lognormal_distribution<double> slow(std::log(0.3), 0.5);
  std::vector<double> v(n);
  for (double& x : v) x = miss(rng) ? slow(rng) : fast(rng);
  return v;
}

std::vector<double> Constant(size_t n) {
  return std::vector<double>(n, 0.0421);
}

// Readable parameter names in gtest output instead of byte dumps.
void PrintTo(const Distribution& d, std::ostream* os) { *os << d.name; }

const Distribution kDistributions[] = {
    {"lognormal", Lognormal}, {"exponential", Exponential},
    {"pareto", Pareto},       {"uniform", Uniform},
    {"bimodal", Bimodal},     {"constant", Constant},
};

QuantileSketch SketchOf(
    const std::vector<double>& values,
    double accuracy = QuantileSketch::kDefaultRelativeAccuracy,
    int max_bins = QuantileSketch::kDefaultMaxBins) {
  QuantileSketch s(accuracy, max_bins);
  for (double v : values) EXPECT_TRUE(s.Add(v)) << v;
  return s;
}

// ---------------------------------------------------------------------------
// Accuracy

struct Config {
  double accuracy;
  int max_bins;
};

void PrintTo(const Config& c, std::ostream* os) {
  *os << "a=" << c.accuracy << " max_bins=" << c.max_bins;
}

class AccuracyTest
    : public ::testing::TestWithParam<std::tuple<Distribution, Config>> {};

TEST_P(AccuracyTest, QuantilesWithinRelativeError) {
  const Distribution& dist = std::get<0>(GetParam());
  const Config config = std::get<1>(GetParam());
  const double accuracy = config.accuracy;
  std::vector<double> values = dist.generate(100000);
  const QuantileSketch sketch = SketchOf(values, accuracy, config.max_bins);
  std::sort(values.begin(), values.end());

  ASSERT_EQ(sketch.count(), values.size());
  // The full guarantee needs the data to fit without collapsing; finer
  // accuracies need more bins per decade (0.1% -> ~1150 per decade).
  ASSERT_LT(sketch.num_bins(), sketch.max_bins());
  for (double q : kQuantiles) {
    ExpectWithinRelativeError(
        sketch.Quantile(q), ExactQuantile(values, q), accuracy,
        std::string(dist.name) + " q=" + std::to_string(q));
  }
  EXPECT_EQ(sketch.Quantile(0.0), values.front());
  EXPECT_EQ(sketch.Quantile(1.0), values.back());
  EXPECT_EQ(sketch.min(), values.front());
  EXPECT_EQ(sketch.max(), values.back());
}

INSTANTIATE_TEST_SUITE_P(
    Distributions, AccuracyTest,
    ::testing::Combine(
        ::testing::ValuesIn(kDistributions),
        ::testing::Values(Config{QuantileSketch::kDefaultRelativeAccuracy,
                                 QuantileSketch::kDefaultMaxBins},
                          Config{0.01, QuantileSketch::kDefaultMaxBins},
                          Config{0.001, QuantileSketch::kMaxMaxBins})),
    [](const ::testing::TestParamInfo<AccuracyTest::ParamType>& info) {
      const double a = std::get<1>(info.param).accuracy;
      return std::string(std::get<0>(info.param).name) + "_a" +
             std::to_string(static_cast<int>(std::lround(a * 10000))) + "bp";
    });

TEST(QuantileSketchTest, EveryRankWithinRelativeError) {
  // Small n so every rank of a spread-out sample is checked, not just a few
  // quantiles.
  std::mt19937_64 rng(11);
  std::lognormal_distribution<double> d(0.0, 3.0);
  std::vector<double> values(2001);
  for (double& v : values) v = d(rng);
  const QuantileSketch sketch = SketchOf(values);
  std::sort(values.begin(), values.end());
  for (size_t k = 0; k < values.size(); ++k) {
    const double q =
        static_cast<double>(k) / static_cast<double>(values.size() - 1);
    ExpectWithinRelativeError(sketch.Quantile(q), ExactQuantile(values, q),
                              sketch.relative_accuracy(),
                              "rank " + std::to_string(k));
  }
}

TEST(QuantileSketchTest, HighQuantilesOfFewSamplesReachTheMaximum) {
  // Nearest rank: with 9 samples p90, p95 and p99 are the largest sample, so
  // one slow outlier is never hidden below the average.
  QuantileSketch s;
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(s.Add(0.00015));
  ASSERT_TRUE(s.Add(0.0195));
  EXPECT_EQ(s.Quantile(0.99), 0.0195);
  EXPECT_EQ(s.Quantile(0.95), 0.0195);
  ExpectWithinRelativeError(s.Quantile(0.5), 0.00015, s.relative_accuracy(),
                            "median");
  // With 100 samples 1..100, p95 is exactly the 95th value.
  QuantileSketch hundred;
  for (int i = 1; i <= 100; ++i) ASSERT_TRUE(hundred.Add(i));
  ExpectWithinRelativeError(hundred.Quantile(0.95), 95, hundred.relative_accuracy(),
                            "p95 of 1..100");
  ExpectWithinRelativeError(hundred.Quantile(0.5), 50, hundred.relative_accuracy(),
                            "p50 of 1..100");
}

TEST(QuantileSketchTest, WeightedAddMatchesRepeatedAdd) {
  QuantileSketch weighted;
  QuantileSketch repeated;
  const std::pair<double, uint64_t> items[] = {
      {0.001, 5}, {0.25, 1}, {3.0, 7}, {0.0, 4}, {1e-12, 2}};
  for (const auto& [v, n] : items) {
    EXPECT_TRUE(weighted.Add(v, n));
    for (uint64_t i = 0; i < n; ++i) EXPECT_TRUE(repeated.Add(v));
  }
  EXPECT_TRUE(weighted.SameContents(repeated));
  EXPECT_EQ(weighted.count(), 19u);
  EXPECT_EQ(weighted.zero_count(), 6u);
}

TEST(QuantileSketchTest, WeightedAddCountZeroIsNoOp) {
  QuantileSketch s;
  EXPECT_TRUE(s.Add(1.0, 0));
  EXPECT_TRUE(s.Add(0.0, 0));
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.num_bins(), 0);
  // Validation comes first: an invalid value is rejected even with count 0.
  EXPECT_FALSE(s.Add(kNaN, 0));
  EXPECT_FALSE(s.Add(-1.0, 0));
}

TEST(QuantileSketchTest, WeightedAddRejectsCountOverflow) {
  QuantileSketch s;
  const uint64_t big = std::numeric_limits<uint64_t>::max() - 1;
  ASSERT_TRUE(s.Add(1.0, big));
  const QuantileSketch before = s;
  EXPECT_FALSE(s.Add(2.0, 2));
  EXPECT_FALSE(s.Add(0.0, 2));
  EXPECT_TRUE(s.SameContents(before));
  EXPECT_TRUE(s.Add(2.0, 1));
  EXPECT_EQ(s.count(), std::numeric_limits<uint64_t>::max());
  // Quantile must not overflow its rank arithmetic at the extreme count.
  EXPECT_NEAR(s.Quantile(0.5), 1.0, 0.005);
  EXPECT_EQ(s.Quantile(1.0), 2.0);
}

// ---------------------------------------------------------------------------
// Exact statistics and edge cases

TEST(QuantileSketchTest, ExactStatistics) {
  QuantileSketch s;
  const double values[] = {0.5, 0.125, 2.0, 0.0, 1.25};
  for (double v : values) ASSERT_TRUE(s.Add(v));
  EXPECT_EQ(s.count(), 5u);
  EXPECT_EQ(s.zero_count(), 1u);
  EXPECT_DOUBLE_EQ(s.sum(), 3.875);
  EXPECT_EQ(s.min(), 0.0);
  EXPECT_EQ(s.max(), 2.0);
  EXPECT_DOUBLE_EQ(s.mean(), 3.875 / 5);
  EXPECT_FALSE(s.empty());
}

TEST(QuantileSketchTest, EmptySketch) {
  const QuantileSketch s;
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.count(), 0u);
  EXPECT_EQ(s.zero_count(), 0u);
  EXPECT_EQ(s.sum(), 0.0);
  EXPECT_TRUE(std::isnan(s.min()));
  EXPECT_TRUE(std::isnan(s.max()));
  EXPECT_TRUE(std::isnan(s.mean()));
  for (double q : {0.0, 0.5, 1.0}) EXPECT_TRUE(std::isnan(s.Quantile(q))) << q;
  EXPECT_EQ(s.num_bins(), 0);
  EXPECT_EQ(s.relative_accuracy(), QuantileSketch::kDefaultRelativeAccuracy);
  EXPECT_EQ(s.max_bins(), QuantileSketch::kDefaultMaxBins);
  EXPECT_GE(s.MemoryBytes(), sizeof(QuantileSketch));
}

TEST(QuantileSketchTest, QuantileOutOfRangeIsNaN) {
  QuantileSketch s;
  ASSERT_TRUE(s.Add(1.0));
  for (double q : {-0.01, 1.01, -kInf, kInf, kNaN}) {
    EXPECT_TRUE(std::isnan(s.Quantile(q))) << q;
  }
}

TEST(QuantileSketchTest, SingleValue) {
  QuantileSketch s;
  ASSERT_TRUE(s.Add(0.0375));
  // Clamping to [min, max] makes a single value exact at every q.
  for (double q : kQuantiles) EXPECT_EQ(s.Quantile(q), 0.0375) << q;
  EXPECT_EQ(s.num_bins(), 1);
}

TEST(QuantileSketchTest, ZeroValues) {
  QuantileSketch s;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(s.Add(0.0));
  EXPECT_TRUE(s.Add(-0.0));  // -0.0 == 0 is a valid duration.
  EXPECT_EQ(s.count(), 11u);
  EXPECT_EQ(s.zero_count(), 11u);
  EXPECT_EQ(s.num_bins(), 0);
  EXPECT_EQ(s.Quantile(0.5), 0.0);
  EXPECT_FALSE(std::signbit(s.min()));
  EXPECT_FALSE(std::signbit(s.Quantile(0.5)));

  // 11 zeros and 11 ones: rank ceil(0.5 * 22) - 1 = 10 is still a zero,
  // rank 11 (q > 11/22) is a one.
  for (int i = 0; i < 11; ++i) ASSERT_TRUE(s.Add(1.0));
  EXPECT_EQ(s.Quantile(0.5), 0.0);
  ExpectWithinRelativeError(s.Quantile(0.53), 1.0, s.relative_accuracy(),
                            "first one");
  EXPECT_EQ(s.Quantile(1.0), 1.0);
}

TEST(QuantileSketchTest, ValuesBelowMinIndexableGoToZeroBin) {
  QuantileSketch s;
  ASSERT_TRUE(s.Add(1e-12));
  ASSERT_TRUE(s.Add(5e-10));
  ASSERT_TRUE(s.Add(std::numeric_limits<double>::denorm_min()));
  ASSERT_TRUE(s.Add(QuantileSketch::kMinIndexable));  // Indexable itself.
  EXPECT_EQ(s.zero_count(), 3u);
  EXPECT_EQ(s.num_bins(), 1);
  EXPECT_EQ(s.min(), std::numeric_limits<double>::denorm_min());
  EXPECT_EQ(s.Quantile(0.0), std::numeric_limits<double>::denorm_min());
  // Zero-bin ranks report min(): absolute error below kMinIndexable.
  EXPECT_LT(std::fabs(s.Quantile(0.5) - 1e-12), QuantileSketch::kMinIndexable);
  EXPECT_EQ(s.Quantile(1.0), QuantileSketch::kMinIndexable);
}

TEST(QuantileSketchTest, RejectedInputsLeaveSketchUnchanged) {
  QuantileSketch s;
  ASSERT_TRUE(s.Add(0.5));
  ASSERT_TRUE(s.Add(0.0));
  const QuantileSketch before = s;
  const std::string blob = s.Serialize();
  const double bad[] = {kNaN,
                        -kNaN,
                        -1.0,
                        -1e-300,
                        -std::numeric_limits<double>::denorm_min(),
                        kInf,
                        -kInf,
                        1e301,
                        std::numeric_limits<double>::max()};
  for (double v : bad) {
    EXPECT_FALSE(s.Add(v)) << v;
    EXPECT_FALSE(s.Add(v, 3)) << v;
  }
  EXPECT_TRUE(s.SameContents(before));
  EXPECT_EQ(s.Serialize(), blob);  // Bit-identical, including sum.
  EXPECT_EQ(s.count(), 2u);
}

TEST(QuantileSketchTest, LargestIndexableValue) {
  QuantileSketch s;
  ASSERT_TRUE(s.Add(QuantileSketch::kMaxIndexable));
  ASSERT_TRUE(s.Add(QuantileSketch::kMinIndexable));
  EXPECT_TRUE(std::isfinite(s.Quantile(0.5)));
  EXPECT_EQ(s.Quantile(1.0), QuantileSketch::kMaxIndexable);
}

TEST(QuantileSketchTest, ExtremeAccuracyValuesStayFinite) {
  for (double a : {QuantileSketch::kMinRelativeAccuracy, 0.5, 0.999999}) {
    absl::StatusOr<QuantileSketch> s = QuantileSketch::Create(a, 16);
    ASSERT_TRUE(s.ok()) << s.status();
    for (double v : {1e-9, 1e-3, 1.0, 1e6, 1e300}) ASSERT_TRUE(s->Add(v));
    for (double q : kQuantiles) {
      const double e = s->Quantile(q);
      EXPECT_TRUE(std::isfinite(e)) << a << " " << q;
      EXPECT_GE(e, 1e-9);
      EXPECT_LE(e, 1e300);
    }
    EXPECT_LE(s->num_bins(), 16);
  }
}

TEST(QuantileSketchTest, ClearKeepsParameters) {
  QuantileSketch s(0.01, 128);
  for (double v : Lognormal(1000)) ASSERT_TRUE(s.Add(v));
  ASSERT_TRUE(s.Add(0.0));
  const size_t memory = s.MemoryBytes();
  s.Clear();
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.zero_count(), 0u);
  EXPECT_EQ(s.num_bins(), 0);
  EXPECT_EQ(s.relative_accuracy(), 0.01);
  EXPECT_EQ(s.max_bins(), 128);
  EXPECT_EQ(s.MemoryBytes(), memory);  // Allocation is reused.
  EXPECT_TRUE(s.SameContents(QuantileSketch(0.01, 128)));

  // A cleared sketch behaves like a fresh one.
  const std::vector<double> values = Exponential(1000);
  for (double v : values) ASSERT_TRUE(s.Add(v));
  EXPECT_TRUE(s.SameContents(SketchOf(values, 0.01, 128)));
}

TEST(QuantileSketchTest, CopyAndMove) {
  const std::vector<double> values = Bimodal(5000);
  QuantileSketch original = SketchOf(values);
  QuantileSketch copy = original;
  EXPECT_TRUE(copy.SameContents(original));
  ASSERT_TRUE(copy.Add(1.0));
  EXPECT_EQ(original.count(), values.size());  // Deep copy.

  QuantileSketch moved = std::move(original);
  EXPECT_EQ(moved.count(), values.size());
  // The moved-from sketch is empty, keeps its parameters, and stays usable.
  EXPECT_TRUE(original.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(original.num_bins(), 0);
  EXPECT_EQ(original.relative_accuracy(),
            QuantileSketch::kDefaultRelativeAccuracy);
  EXPECT_TRUE(original.Add(0.25));
  EXPECT_EQ(original.Quantile(0.5), 0.25);

  QuantileSketch assigned(0.01, 64);
  assigned = std::move(moved);
  EXPECT_EQ(assigned.count(), values.size());
  EXPECT_EQ(assigned.max_bins(), QuantileSketch::kDefaultMaxBins);
  EXPECT_TRUE(moved.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(moved.Add(3.0));
  EXPECT_EQ(moved.count(), 1u);
}

TEST(QuantileSketchTest, ConstructorClampsParameters) {
  EXPECT_EQ(QuantileSketch(0.0).relative_accuracy(),
            QuantileSketch::kMinRelativeAccuracy);
  EXPECT_EQ(QuantileSketch(-1.0).relative_accuracy(),
            QuantileSketch::kMinRelativeAccuracy);
  EXPECT_EQ(QuantileSketch(kNaN).relative_accuracy(),
            QuantileSketch::kDefaultRelativeAccuracy);
  EXPECT_LT(QuantileSketch(2.0).relative_accuracy(), 1.0);
  EXPECT_EQ(QuantileSketch(0.01, 1).max_bins(), QuantileSketch::kMinMaxBins);
  EXPECT_EQ(QuantileSketch(0.01, 1 << 30).max_bins(),
            QuantileSketch::kMaxMaxBins);
  // A clamped sketch still works.
  QuantileSketch s(2.0, -5);
  ASSERT_TRUE(s.Add(1.0));
  ASSERT_TRUE(s.Add(1e200));
  EXPECT_TRUE(std::isfinite(s.Quantile(0.5)));
}

// ---------------------------------------------------------------------------
// Create()

TEST(QuantileSketchTest, CreateAcceptsValidParameters) {
  absl::StatusOr<QuantileSketch> s = QuantileSketch::Create(0.02, 512);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->relative_accuracy(), 0.02);
  EXPECT_EQ(s->max_bins(), 512);
  EXPECT_TRUE(QuantileSketch::Create(QuantileSketch::kMinRelativeAccuracy,
                                     QuantileSketch::kMinMaxBins)
                  .ok());
  EXPECT_TRUE(QuantileSketch::Create(0.9, QuantileSketch::kMaxMaxBins).ok());
}

TEST(QuantileSketchTest, CreateRejectsBadAccuracyNamingValue) {
  const std::pair<double, const char*> cases[] = {
      {0.0, "got 0"},
      {-0.25, "got -0.25"},
      {1.0, "got 1"},
      {1.5, "got 1.5"},
      {kNaN, "got nan"},
      {1e-7, "got 1e-07"},
      {0.99999999999999989, "got 0.99999999999999989"} /* valid: < 1 */};
  for (const auto& [a, text] : cases) {
    absl::StatusOr<QuantileSketch> s = QuantileSketch::Create(a, 100);
    if (a < 1.0 && a >= QuantileSketch::kMinRelativeAccuracy) {
      EXPECT_TRUE(s.ok()) << a;
      continue;
    }
    ASSERT_FALSE(s.ok()) << a;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(s.status().message().find("relative_accuracy"),
              absl::string_view::npos)
        << s.status();
    EXPECT_NE(s.status().message().find(text), absl::string_view::npos)
        << s.status();
  }
}

TEST(QuantileSketchTest, CreateRejectsBadMaxBinsNamingValue) {
  for (int bins : {-1, 0, 15, QuantileSketch::kMaxMaxBins + 1}) {
    absl::StatusOr<QuantileSketch> s = QuantileSketch::Create(0.01, bins);
    ASSERT_FALSE(s.ok()) << bins;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(s.status().message().find("max_bins"), absl::string_view::npos);
    EXPECT_NE(s.status().message().find("got " + std::to_string(bins)),
              absl::string_view::npos)
        << s.status();
  }
}

// ---------------------------------------------------------------------------
// Merge

TEST(QuantileSketchTest, MergeEqualsSingleStream) {
  const std::vector<double> a = Lognormal(20000);
  const std::vector<double> b = Pareto(20000);
  QuantileSketch merged = SketchOf(a);
  ASSERT_TRUE(merged.Merge(SketchOf(b)).ok());

  QuantileSketch single;
  for (double v : a) single.Add(v);
  for (double v : b) single.Add(v);
  EXPECT_TRUE(merged.SameContents(single));
  for (double q : kQuantiles) EXPECT_EQ(merged.Quantile(q), single.Quantile(q));
}

TEST(QuantileSketchTest, MergeSixteenShards) {
  std::vector<double> all = Bimodal(64000);
  const std::vector<double> zeros(100, 0.0);
  all.insert(all.end(), zeros.begin(), zeros.end());

  std::vector<QuantileSketch> shards(16);
  for (size_t i = 0; i < all.size(); ++i) shards[i % 16].Add(all[i]);
  QuantileSketch merged;
  for (const QuantileSketch& shard : shards)
    ASSERT_TRUE(merged.Merge(shard).ok());

  const QuantileSketch single = SketchOf(all);
  EXPECT_TRUE(merged.SameContents(single));
  EXPECT_EQ(merged.count(), all.size());
  EXPECT_EQ(merged.zero_count(), 100u);

  // A tree-shaped reduction lands in the same place.
  while (shards.size() > 1) {
    std::vector<QuantileSketch> next;
    for (size_t i = 0; i < shards.size(); i += 2) {
      ASSERT_TRUE(shards[i].Merge(shards[i + 1]).ok());
      next.push_back(std::move(shards[i]));
    }
    shards = std::move(next);
  }
  EXPECT_TRUE(shards[0].SameContents(single));
}

TEST(QuantileSketchTest, MergeDifferentParametersFails) {
  QuantileSketch a(0.01);
  QuantileSketch b(0.02);
  ASSERT_TRUE(a.Add(1.0));
  ASSERT_TRUE(b.Add(2.0));
  const QuantileSketch a_before = a;
  absl::Status s = a.Merge(b);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("0.01"), std::string::npos) << s;
  EXPECT_NE(s.message().find("0.02"), std::string::npos) << s;
  EXPECT_TRUE(a.SameContents(a_before));

  QuantileSketch c(0.01, 64);
  EXPECT_EQ(a.Merge(c).code(), absl::StatusCode::kInvalidArgument);
  // Even an empty sketch with other parameters is a configuration error.
  EXPECT_EQ(a.Merge(QuantileSketch(0.02)).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(QuantileSketchTest, MergeEmptyCases) {
  const std::vector<double> values = Exponential(1000);
  const QuantileSketch full = SketchOf(values);

  QuantileSketch a = full;
  ASSERT_TRUE(a.Merge(QuantileSketch()).ok());  // full += empty
  EXPECT_TRUE(a.SameContents(full));

  QuantileSketch b;
  ASSERT_TRUE(b.Merge(full).ok());  // empty += full
  EXPECT_TRUE(b.SameContents(full));

  QuantileSketch c;
  ASSERT_TRUE(c.Merge(QuantileSketch()).ok());  // empty += empty
  EXPECT_TRUE(c.empty());
  EXPECT_TRUE(std::isnan(c.Quantile(0.5)));

  QuantileSketch zeros_only;
  ASSERT_TRUE(zeros_only.Add(0.0, 5));
  QuantileSketch d = full;
  ASSERT_TRUE(d.Merge(zeros_only).ok());
  EXPECT_EQ(d.zero_count(), 5u);
  EXPECT_EQ(d.min(), 0.0);
}

TEST(QuantileSketchTest, MergeWithSelfDoublesCounts) {
  const std::vector<double> values = Lognormal(3000);
  QuantileSketch s = SketchOf(values);
  ASSERT_TRUE(s.Merge(s).ok());
  QuantileSketch twice = SketchOf(values);
  for (double v : values) twice.Add(v);
  EXPECT_TRUE(s.SameContents(twice));
}

TEST(QuantileSketchTest, MergeRejectsCountOverflow) {
  QuantileSketch a;
  QuantileSketch b;
  ASSERT_TRUE(a.Add(1.0, std::numeric_limits<uint64_t>::max()));
  ASSERT_TRUE(b.Add(1.0));
  const QuantileSketch before = a;
  EXPECT_EQ(a.Merge(b).code(), absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(a.SameContents(before));
}

// ---------------------------------------------------------------------------
// Bounded bins

std::vector<double> ThirtyDecades(size_t n, uint64_t seed) {
  // Log-uniform over [1e-8, 1e22].
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> exponent(-8.0, 22.0);
  std::vector<double> v(n);
  for (double& x : v) x = std::pow(10.0, exponent(rng));
  return v;
}

TEST(QuantileSketchTest, BoundedBinsKeepHighQuantilesAccurate) {
  constexpr int kMaxBins = 128;
  constexpr double kAccuracy = 0.01;
  std::vector<double> values = ThirtyDecades(100000, 21);
  const QuantileSketch s = SketchOf(values, kAccuracy, kMaxBins);
  std::sort(values.begin(), values.end());

  EXPECT_LE(s.num_bins(), kMaxBins);
  EXPECT_EQ(s.count(), values.size());
  EXPECT_EQ(s.min(), values.front());
  EXPECT_EQ(s.max(), values.back());
  // 128 bins at 1% (scale 6, 64 bins an octave) cover 2 octaves: the top ~0.6
  // decade, i.e. roughly the top 2% of a log-uniform sample over 30 decades.
  for (double q : {0.99, 0.995, 0.999, 0.9999}) {
    ExpectWithinRelativeError(s.Quantile(q), ExactQuantile(values, q),
                              kAccuracy, "q=" + std::to_string(q));
  }
  // Low quantiles are over-estimated, never under-estimated, and stay finite.
  for (double q : {0.01, 0.5}) {
    EXPECT_GE(s.Quantile(q), ExactQuantile(values, q)) << q;
    EXPECT_LE(s.Quantile(q), s.max()) << q;
  }
  EXPECT_LE(s.MemoryBytes(),
            sizeof(QuantileSketch) + kMaxBins * sizeof(uint64_t));
}

TEST(QuantileSketchTest, DefaultBinsCoverNineDecadesWithoutCollapsing) {
  // The header promises ~8.9 decades at the defaults: values from 1 us to
  // 10 min must all keep full accuracy.
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> exponent(-6.0, std::log10(600.0));
  std::vector<double> values(50000);
  for (double& v : values) v = std::pow(10.0, exponent(rng));
  values.push_back(1e-6);
  values.push_back(600.0);
  const QuantileSketch s = SketchOf(values);
  EXPECT_LE(s.num_bins(), QuantileSketch::kDefaultMaxBins);
  std::sort(values.begin(), values.end());
  for (double q : {0.0001, 0.001, 0.01, 0.5, 0.99}) {
    ExpectWithinRelativeError(s.Quantile(q), ExactQuantile(values, q),
                              s.relative_accuracy(), "q=" + std::to_string(q));
  }
}

TEST(QuantileSketchTest, CollapsedStateIsOrderIndependent) {
  constexpr int kMaxBins = 32;
  std::vector<double> values = ThirtyDecades(20000, 7);
  const QuantileSketch shuffled_order = SketchOf(values, 0.01, kMaxBins);
  std::sort(values.begin(), values.end());
  const QuantileSketch ascending = SketchOf(values, 0.01, kMaxBins);
  std::reverse(values.begin(), values.end());
  const QuantileSketch descending = SketchOf(values, 0.01, kMaxBins);
  EXPECT_TRUE(ascending.SameContents(descending));
  EXPECT_TRUE(ascending.SameContents(shuffled_order));
  EXPECT_EQ(ascending.num_bins(), kMaxBins);
}

TEST(QuantileSketchTest, MergeOfCollapsedSketchesIsExact) {
  constexpr int kMaxBins = 48;
  const std::vector<double> low = Lognormal(20000);          // around 50 ms
  const std::vector<double> high = ThirtyDecades(20000, 9);  // up to 1e22
  QuantileSketch merged = SketchOf(low, 0.01, kMaxBins);
  ASSERT_TRUE(merged.Merge(SketchOf(high, 0.01, kMaxBins)).ok());

  QuantileSketch single(0.01, kMaxBins);
  for (double v : high) single.Add(v);
  for (double v : low) single.Add(v);
  EXPECT_TRUE(merged.SameContents(single));
  EXPECT_LE(merged.num_bins(), kMaxBins);

  // Other direction: collapse happens on the receiving side.
  QuantileSketch merged2 = SketchOf(high, 0.01, kMaxBins);
  ASSERT_TRUE(merged2.Merge(SketchOf(low, 0.01, kMaxBins)).ok());
  EXPECT_TRUE(merged2.SameContents(single));
}

TEST(QuantileSketchTest, RangeJumpsBeyondMaxBins) {
  // A single new value far above everything seen collapses all old bins into
  // the lowest kept bin.
  QuantileSketch s(0.01, 16);
  for (double v : {1.0, 1.1, 1.2, 1.3}) ASSERT_TRUE(s.Add(v));
  ASSERT_TRUE(s.Add(1e100));
  EXPECT_EQ(s.num_bins(), 16);
  EXPECT_EQ(s.count(), 5u);
  EXPECT_EQ(s.Quantile(1.0), 1e100);
  // The four small values now share the lowest kept bin: over-estimated, but
  // still a value inside [min, max].
  EXPECT_GE(s.Quantile(0.5), 1.2);
  EXPECT_LT(s.Quantile(0.5), 1e100);
  // A value far below is folded into the same lowest kept bin.
  ASSERT_TRUE(s.Add(1e-5));
  EXPECT_EQ(s.num_bins(), 16);
  EXPECT_EQ(s.count(), 6u);
}

// Differential test of the store against a trivially correct model: the
// collapsed contents must equal "bin max(i, top - max_bins + 1) for every
// index i added", whatever the order of adds, window growth and merges.
TEST(QuantileSketchTest, StoreMatchesReferenceModel) {
  constexpr double kAccuracy = 0.02;
  // Scale 5: bin i holds (2^((i-1)/32), 2^(i/32)].
  const int scale = QuantileSketch::ScaleFor(kAccuracy);
  ASSERT_EQ(scale, 5);
  const double log_gamma = std::ldexp(std::log(2.0), -scale);
  const double gamma = std::exp(log_gamma);
  // Bin centres (in log space), far from edges, so the test's own index
  // arithmetic cannot disagree with the sketch's by rounding.
  auto centre = [&](int i) { return std::exp((i - 0.5) * log_gamma); };
  auto representative = [&](int i) {
    return 2.0 * std::exp(i * log_gamma) / (gamma + 1.0);
  };

  std::mt19937_64 rng(1234);
  for (int trial = 0; trial < 200; ++trial) {
    const int max_bins = std::vector<int>{16, 17, 33, 64, 100}[trial % 5];
    const int shards = 1 + static_cast<int>(rng() % 4);
    std::vector<QuantileSketch> parts(shards,
                                      QuantileSketch(kAccuracy, max_bins));
    std::vector<int> indices;
    int zeros = 0;
    double lo_value = kInf, hi_value = -kInf;
    // A random walk with occasional jumps exercises growth in both
    // directions, re-centring and collapses of every size.
    int cursor = static_cast<int>(rng() % 400) - 200;
    const int ops = 1 + static_cast<int>(rng() % 600);
    for (int op = 0; op < ops; ++op) {
      const uint64_t r = rng() % 100;
      if (r < 3) {
        cursor = static_cast<int>(rng() % 1000) - 500;
      } else if (r < 50) {
        cursor += static_cast<int>(rng() % 7) - 3;
      } else {
        cursor += static_cast<int>(rng() % 3);
      }
      cursor = std::clamp(cursor, -1000, 1000);
      QuantileSketch& target = parts[rng() % parts.size()];
      if (rng() % 50 == 0) {
        ASSERT_TRUE(target.Add(0.0));
        ++zeros;
        lo_value = std::min(lo_value, 0.0);
        hi_value = std::max(hi_value, 0.0);
        continue;
      }
      const double v = centre(cursor);
      ASSERT_TRUE(target.Add(v));
      indices.push_back(cursor);
      lo_value = std::min(lo_value, v);
      hi_value = std::max(hi_value, v);
    }
    QuantileSketch merged(kAccuracy, max_bins);
    for (const QuantileSketch& part : parts) {
      ASSERT_LE(part.num_bins(), max_bins);
      ASSERT_TRUE(merged.Merge(part).ok());
    }

    // Model.
    std::vector<int> mapped = indices;
    if (!mapped.empty()) {
      const int top = *std::max_element(mapped.begin(), mapped.end());
      for (int& i : mapped) i = std::max(i, top - max_bins + 1);
      std::sort(mapped.begin(), mapped.end());
      ASSERT_EQ(merged.num_bins(), mapped.back() - mapped.front() + 1);
    } else {
      ASSERT_EQ(merged.num_bins(), 0);
    }
    const uint64_t n = mapped.size() + static_cast<uint64_t>(zeros);
    ASSERT_EQ(merged.count(), n);
    ASSERT_EQ(merged.zero_count(), static_cast<uint64_t>(zeros));
    for (int k = 1; k < 200 && n > 0; ++k) {
      const double q = k / 200.0;
      const uint64_t ceil_rank = static_cast<uint64_t>(
          std::ceil(q * static_cast<double>(n) * (1.0 - 1e-12)));
      const uint64_t rank = ceil_rank == 0 ? 0 : ceil_rank - 1;
      // The first and last ranks are min() and max() exactly.
      const double expected =
          rank == n - 1 ? hi_value
          : rank == 0 || rank < static_cast<uint64_t>(zeros)
              ? lo_value
              : std::clamp(representative(mapped[rank - zeros]), lo_value,
                           hi_value);
      ASSERT_NEAR(merged.Quantile(q), expected, 1e-12 * expected)
          << "trial " << trial << " q " << q;
    }

    // The same values through one sketch, and through a serialize round trip.
    QuantileSketch single(kAccuracy, max_bins);
    for (const QuantileSketch& part : parts)
      ASSERT_TRUE(single.Merge(part).ok());
    absl::StatusOr<QuantileSketch> back =
        QuantileSketch::Deserialize(merged.Serialize());
    ASSERT_TRUE(back.ok()) << back.status();
    ASSERT_TRUE(back->SameContents(merged));
    ASSERT_TRUE(single.SameContents(merged));
  }
}

// ---------------------------------------------------------------------------
// Serialization

TEST(QuantileSketchTest, SerializeRoundTrip) {
  for (const Distribution& dist : kDistributions) {
    std::vector<double> values = dist.generate(20000);
    values.push_back(0.0);
    values.push_back(1e-10);
    const QuantileSketch s = SketchOf(values);
    const std::string blob = s.Serialize();
    absl::StatusOr<QuantileSketch> back = QuantileSketch::Deserialize(blob);
    ASSERT_TRUE(back.ok()) << dist.name << ": " << back.status();
    EXPECT_TRUE(back->SameContents(s)) << dist.name;
    EXPECT_EQ(back->sum(), s.sum());  // Bit-exact, not just within tolerance.
    for (double q : kQuantiles) EXPECT_EQ(back->Quantile(q), s.Quantile(q));
    EXPECT_EQ(back->Serialize(), blob);
    // Compact: a couple of bytes per occupied bin plus a fixed header.
    EXPECT_LE(blob.size(), 64u + 3u * static_cast<size_t>(s.num_bins()))
        << dist.name;
  }
}

TEST(QuantileSketchTest, SerializeRoundTripEmptyAndSpecial) {
  const QuantileSketch empty(0.02, 100);
  absl::StatusOr<QuantileSketch> back =
      QuantileSketch::Deserialize(empty.Serialize());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->empty());
  EXPECT_TRUE(back->SameContents(empty));
  EXPECT_EQ(back->relative_accuracy(), 0.02);
  EXPECT_EQ(back->max_bins(), 100);

  QuantileSketch zeros;
  ASSERT_TRUE(zeros.Add(0.0, 3));
  back = QuantileSketch::Deserialize(zeros.Serialize());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->SameContents(zeros));

  QuantileSketch collapsed = SketchOf(ThirtyDecades(5000, 3), 0.01, 32);
  back = QuantileSketch::Deserialize(collapsed.Serialize());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->SameContents(collapsed));

  // A deserialized sketch keeps working: add and merge into it.
  ASSERT_TRUE(back->Add(1e30));
  ASSERT_TRUE(back->Merge(collapsed).ok());
  EXPECT_EQ(back->count(), 2 * collapsed.count() + 1);
  EXPECT_LE(back->num_bins(), 32);
}

TEST(QuantileSketchTest, SerializeStartsWithMagicAndVersion) {
  const std::string blob = QuantileSketch().Serialize();
  ASSERT_GE(blob.size(), 5u);
  EXPECT_EQ(blob.substr(0, 4), "RPQS");
  EXPECT_EQ(blob[4], 2);
  EXPECT_EQ(QuantileSketch::FormatVersionOf(blob), 2);
}

// Builds blobs field by field, mirroring the layout documented in the .cc, so
// tests can express specific corruptions.
class BlobBuilder {
 public:
  // Format 2 by default; BlobBuilder(1) writes the pre-base-2 format, whose
  // header has no scale.
  explicit BlobBuilder(int version = 2)
      : out_("RPQS", 4), version_(version) {
    Byte(static_cast<uint8_t>(version));
  }
  BlobBuilder& Byte(uint8_t b) {
    out_.push_back(static_cast<char>(b));
    return *this;
  }
  BlobBuilder& Varint(uint64_t v) {
    while (v >= 0x80) {
      Byte(static_cast<uint8_t>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    return Byte(static_cast<uint8_t>(v));
  }
  BlobBuilder& Zigzag(int64_t v) {
    return Varint((static_cast<uint64_t>(v) << 1) ^
                  static_cast<uint64_t>(v >> 63));
  }
  BlobBuilder& Raw(absl::string_view bytes) {
    out_.append(bytes.data(), bytes.size());
    return *this;
  }
  // num_bins, lowest index, then the counts.
  BlobBuilder& Bins(int64_t lowest, std::initializer_list<uint64_t> counts) {
    Varint(counts.size()).Zigzag(lowest);
    for (uint64_t c : counts) Varint(c);
    return *this;
  }
  BlobBuilder& Double(double d) {
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof(bits));
    for (int i = 0; i < 8; ++i) Byte(static_cast<uint8_t>(bits >> (8 * i)));
    return *this;
  }
  // Header for a sketch with count > 0.
  BlobBuilder& Header(uint64_t count, uint64_t zero_count, double sum,
                      double min, double max, uint64_t max_bins = 2048,
                      double accuracy = QuantileSketch::kDefaultRelativeAccuracy) {
    Double(accuracy).Varint(max_bins);
    if (version_ >= 2) Varint(static_cast<uint64_t>(QuantileSketch::ScaleFor(accuracy)));
    return Varint(count)
        .Varint(zero_count)
        .Double(sum)
        .Double(min)
        .Double(max);
  }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
  int version_;
};

TEST(QuantileSketchTest, BlobBuilderMatchesSerialize) {
  // Guards the corruption tests below: they only mean something if the
  // builder speaks the real format.
  QuantileSketch s;
  ASSERT_TRUE(s.Add(1.0, 2));
  ASSERT_TRUE(s.Add(0.0));
  const std::string expected =
      BlobBuilder().Header(3, 1, 2.0, 0.0, 1.0).Bins(0, {2}).str();
  EXPECT_EQ(s.Serialize(), expected);
  EXPECT_TRUE(QuantileSketch::Deserialize(expected).ok());
}

void ExpectRejected(absl::string_view blob, absl::StatusCode code,
                    absl::string_view message_part, const std::string& what) {
  absl::StatusOr<QuantileSketch> s = QuantileSketch::Deserialize(blob);
  ASSERT_FALSE(s.ok()) << what;
  EXPECT_EQ(s.status().code(), code) << what << ": " << s.status();
  EXPECT_NE(s.status().message().find(message_part), absl::string_view::npos)
      << what << ": " << s.status();
}

TEST(QuantileSketchTest, DeserializeRejectsBadHeader) {
  ExpectRejected("", absl::StatusCode::kInvalidArgument, "magic", "empty");
  ExpectRejected("RPQ", absl::StatusCode::kInvalidArgument, "magic", "short");
  std::string blob = SketchOf(Lognormal(100)).Serialize();
  std::string wrong_magic = blob;
  wrong_magic[0] = 'X';
  ExpectRejected(wrong_magic, absl::StatusCode::kInvalidArgument, "magic",
                 "wrong magic");
  std::string wrong_version = blob;
  wrong_version[4] = 3;
  ExpectRejected(wrong_version, absl::StatusCode::kInvalidArgument, "version 3",
                 "wrong version");
  ExpectRejected("RPQS", absl::StatusCode::kDataLoss, "version", "no version");
}

TEST(QuantileSketchTest, DeserializeRejectsEveryTruncation) {
  std::vector<double> values = Bimodal(2000);
  values.push_back(0.0);
  const std::string blob = SketchOf(values).Serialize();
  for (size_t len = 0; len < blob.size(); ++len) {
    EXPECT_FALSE(QuantileSketch::Deserialize(blob.substr(0, len)).ok()) << len;
  }
  const std::string empty_blob = QuantileSketch().Serialize();
  for (size_t len = 0; len < empty_blob.size(); ++len) {
    EXPECT_FALSE(QuantileSketch::Deserialize(empty_blob.substr(0, len)).ok())
        << len;
  }
}

TEST(QuantileSketchTest, DeserializeRejectsTrailingBytes) {
  ExpectRejected(SketchOf(Lognormal(100)).Serialize() + '\0',
                 absl::StatusCode::kDataLoss, "trailing", "non-empty");
  ExpectRejected(QuantileSketch().Serialize() + "x",
                 absl::StatusCode::kDataLoss, "trailing", "empty");
}

TEST(QuantileSketchTest, DeserializeRejectsBadParameters) {
  ExpectRejected(BlobBuilder().Double(0.0).Varint(2048).Varint(0).str(),
                 absl::StatusCode::kInvalidArgument, "relative_accuracy",
                 "accuracy 0");
  ExpectRejected(BlobBuilder().Double(kNaN).Varint(2048).Varint(0).str(),
                 absl::StatusCode::kInvalidArgument, "relative_accuracy",
                 "accuracy NaN");
  ExpectRejected(BlobBuilder().Double(0.01).Varint(8).Varint(0).str(),
                 absl::StatusCode::kInvalidArgument, "max_bins", "max_bins 8");
  ExpectRejected(
      BlobBuilder().Double(0.01).Varint(uint64_t{1} << 40).Varint(0).str(),
      absl::StatusCode::kInvalidArgument, "max_bins", "max_bins 2^40");
  // Varint longer than 64 bits.
  ExpectRejected(BlobBuilder()
                     .Double(0.01)
                     .Raw(std::string(9, '\xff') + '\x7f')
                     .Varint(0)
                     .str(),
                 absl::StatusCode::kDataLoss, "max_bins", "overlong varint");
}

TEST(QuantileSketchTest, DeserializeRejectsHugeBinCount) {
  // Declares ~2^62 bins: must be rejected before any allocation.
  ExpectRejected(BlobBuilder()
                     .Header(1, 0, 1.0, 1.0, 1.0)
                     .Varint(uint64_t{1} << 62)
                     .Zigzag(0)
                     .Varint(1)
                     .str(),
                 absl::StatusCode::kDataLoss, "more than max_bins",
                 "2^62 bins");
  // Within max_bins but far more than the bytes that follow.
  ExpectRejected(BlobBuilder()
                     .Header(1, 0, 1.0, 1.0, 1.0)
                     .Varint(2000)
                     .Zigzag(0)
                     .Varint(1)
                     .str(),
                 absl::StatusCode::kDataLoss, "truncated",
                 "2000 bins, 2 bytes");
}

TEST(QuantileSketchTest, DeserializeRejectsInconsistentContents) {
  // count != zero_count + bins.
  ExpectRejected(BlobBuilder().Header(5, 1, 2.0, 0.0, 1.0).Bins(0, {2}).str(),
                 absl::StatusCode::kDataLoss, "count 5", "count mismatch");
  // zero_count > count.
  ExpectRejected(BlobBuilder().Header(1, 2, 0.0, 0.0, 0.0).Varint(0).str(),
                 absl::StatusCode::kDataLoss, "inconsistent",
                 "zero_count > count");
  // min > max.
  ExpectRejected(BlobBuilder().Header(1, 0, 1.0, 2.0, 1.0).Bins(0, {1}).str(),
                 absl::StatusCode::kDataLoss, "min/max", "min > max");
  // NaN / negative / infinite statistics.
  ExpectRejected(BlobBuilder().Header(1, 0, 1.0, kNaN, 1.0).Bins(0, {1}).str(),
                 absl::StatusCode::kDataLoss, "min/max", "NaN min");
  ExpectRejected(BlobBuilder().Header(1, 0, 1.0, -1.0, 1.0).Bins(0, {1}).str(),
                 absl::StatusCode::kDataLoss, "min/max", "negative min");
  ExpectRejected(BlobBuilder().Header(1, 0, kInf, 1.0, 1.0).Bins(0, {1}).str(),
                 absl::StatusCode::kDataLoss, "sum", "infinite sum");
  // Bin index outside what any indexable value could produce.
  ExpectRejected(BlobBuilder()
                     .Header(1, 0, 1.0, 1.0, 1.0)
                     .Bins(int64_t{1} << 40, {1})
                     .str(),
                 absl::StatusCode::kDataLoss, "indexable range", "index 2^40");
  ExpectRejected(BlobBuilder()
                     .Header(1, 0, 1.0, 1.0, 1.0)
                     .Bins(-(int64_t{1} << 40), {1})
                     .str(),
                 absl::StatusCode::kDataLoss, "indexable range", "index -2^40");
  // Bin counts that overflow uint64 when summed.
  ExpectRejected(BlobBuilder()
                     .Header(1, 0, 1.0, 1.0, 1.0)
                     .Bins(0, {std::numeric_limits<uint64_t>::max(), 2})
                     .str(),
                 absl::StatusCode::kDataLoss, "overflow", "bin overflow");
  // Zero-bin values claimed but min is not below kMinIndexable.
  ExpectRejected(BlobBuilder().Header(2, 1, 2.0, 1.0, 1.0).Bins(0, {1}).str(),
                 absl::StatusCode::kDataLoss, "inconsistent",
                 "min vs zero_count");
  // Bins present but max below kMinIndexable.
  ExpectRejected(BlobBuilder().Header(2, 1, 0.0, 0.0, 5e-10).Bins(0, {1}).str(),
                 absl::StatusCode::kDataLoss, "inconsistent", "max vs bins");
}

TEST(QuantileSketchTest, DeserializeTrimsZeroEdgeBins) {
  // Zero padding on either side of the occupied range is tolerated, and the
  // result is indistinguishable from the unpadded sketch.
  const std::string padded =
      BlobBuilder().Header(3, 1, 2.0, 0.0, 1.0).Bins(-2, {0, 0, 2, 0}).str();
  absl::StatusOr<QuantileSketch> s = QuantileSketch::Deserialize(padded);
  ASSERT_TRUE(s.ok()) << s.status();
  QuantileSketch expected;
  ASSERT_TRUE(expected.Add(1.0, 2));
  ASSERT_TRUE(expected.Add(0.0));
  EXPECT_TRUE(s->SameContents(expected));
  EXPECT_EQ(s->num_bins(), 1);
  EXPECT_EQ(s->Serialize(), expected.Serialize());
}

TEST(QuantileSketchTest, DeserializeSurvivesGarbageAndBitFlips) {
  std::mt19937_64 rng(99);
  // Random bytes, with and without a valid prefix.
  for (int i = 0; i < 2000; ++i) {
    std::string garbage(rng() % 64, '\0');
    for (char& c : garbage) c = static_cast<char>(rng());
    if (i % 2 == 1) garbage = std::string("RPQS\x01", 5) + garbage;
    absl::StatusOr<QuantileSketch> s = QuantileSketch::Deserialize(garbage);
    if (s.ok()) {
      // Anything accepted must be internally consistent and re-encodable.
      EXPECT_LE(s->num_bins(), s->max_bins());
      EXPECT_TRUE(QuantileSketch::Deserialize(s->Serialize()).ok());
    }
  }
  // Single bit flips of a valid blob: either rejected or a consistent sketch.
  std::vector<double> values = Lognormal(500);
  values.push_back(0.0);
  const std::string blob = SketchOf(values).Serialize();
  for (size_t byte = 0; byte < blob.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = blob;
      flipped[byte] = static_cast<char>(flipped[byte] ^ (1 << bit));
      absl::StatusOr<QuantileSketch> s = QuantileSketch::Deserialize(flipped);
      if (!s.ok()) continue;
      EXPECT_LE(s->num_bins(), s->max_bins());
      const double median = s->Quantile(0.5);
      EXPECT_TRUE(s->empty() || (median >= s->min() && median <= s->max()))
          << byte << ":" << bit;
    }
  }
}

// ---------------------------------------------------------------------------
// CountAtMost

TEST(QuantileSketchCountAtMostTest, DocumentedExample) {
  QuantileSketch s;
  ASSERT_TRUE(s.Add(1.0));
  ASSERT_TRUE(s.Add(3.0));
  EXPECT_EQ(s.CountAtMost(2.0), 1u);
  EXPECT_EQ(s.CountAtMost(0.5), 0u);
  EXPECT_EQ(s.CountAtMost(1.0), 1u);
  EXPECT_EQ(s.CountAtMost(3.0), 2u);
  EXPECT_EQ(s.CountAtMost(100.0), 2u);
}

TEST(QuantileSketchCountAtMostTest, ExactForValuesFarFromX) {
  const std::vector<double> values = Lognormal(20000);
  const QuantileSketch s = SketchOf(values);
  const double a = s.relative_accuracy();
  std::vector<double> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  const auto exact_at_most = [&sorted](double x) {
    return static_cast<uint64_t>(
        std::upper_bound(sorted.begin(), sorted.end(), x) - sorted.begin());
  };
  for (double x : {1e-4, 1e-3, 0.01, 0.02, 0.05, 0.1, 0.3, 1.0, 5.0, 1e3}) {
    // Only values in x's own bin (within a factor gamma of x) may be
    // misclassified.
    const double gamma = (1 + a) / (1 - a);
    const uint64_t got = s.CountAtMost(x);
    EXPECT_GE(got, exact_at_most(x / gamma)) << x;
    EXPECT_LE(got, exact_at_most(x * gamma)) << x;
  }
  // Thresholds between well-separated values are exact.
  QuantileSketch separated;
  for (int i = 0; i < 10; ++i) {
    for (int k = 0; k <= i; ++k) ASSERT_TRUE(separated.Add(std::pow(2.0, i)));
  }
  for (int i = 0; i < 10; ++i) {
    // 1.5 * 2^i lies far from 2^i and 2^(i+1).
    const uint64_t expected = static_cast<uint64_t>((i + 1) * (i + 2) / 2);
    EXPECT_EQ(separated.CountAtMost(1.5 * std::pow(2.0, i)), expected) << i;
  }
  EXPECT_EQ(separated.CountAtMost(0.5), 0u);
}

TEST(QuantileSketchCountAtMostTest, IsMonotonicAndReachesCount) {
  const QuantileSketch s = SketchOf(Pareto(5000));
  uint64_t last = 0;
  for (double x = 1e-4; x < 1e6; x *= 1.07) {
    const uint64_t n = s.CountAtMost(x);
    EXPECT_GE(n, last) << x;
    EXPECT_LE(n, s.count());
    last = n;
  }
  EXPECT_EQ(s.CountAtMost(s.max()), s.count());
  EXPECT_EQ(s.CountAtMost(1e300), s.count());
  EXPECT_EQ(s.CountAtMost(1e301), s.count());  // above kMaxIndexable
  EXPECT_EQ(s.CountAtMost(kInf), s.count());
}

TEST(QuantileSketchCountAtMostTest, NaNAndNegativeAreZero) {
  const QuantileSketch s = SketchOf({0.0, 0.0, 1.0, 2.0});
  EXPECT_EQ(s.CountAtMost(kNaN), 0u);
  EXPECT_EQ(s.CountAtMost(-1.0), 0u);
  EXPECT_EQ(s.CountAtMost(-1e-300), 0u);
  EXPECT_EQ(s.CountAtMost(-kInf), 0u);
  // -0.0 is 0: the zeros count.
  EXPECT_EQ(s.CountAtMost(-0.0), 2u);
}

TEST(QuantileSketchCountAtMostTest, EmptySketchIsZero) {
  const QuantileSketch s;
  for (double x : {0.0, 1e-12, 1.0, 1e300, 1e301, kInf, kNaN, -1.0}) {
    EXPECT_EQ(s.CountAtMost(x), 0u) << x;
  }
}

TEST(QuantileSketchCountAtMostTest, ZeroBinCountsForEveryNonNegativeX) {
  QuantileSketch s;
  ASSERT_TRUE(s.Add(0.0));
  ASSERT_TRUE(s.Add(0.0));
  ASSERT_TRUE(s.Add(1e-12));  // below kMinIndexable: zero bin
  EXPECT_EQ(s.CountAtMost(0.0), 3u);
  EXPECT_EQ(s.CountAtMost(5.0), 3u);  // only the zero bin exists
  EXPECT_EQ(s.CountAtMost(kInf), 3u);
  ASSERT_TRUE(s.Add(1.0));
  ASSERT_TRUE(s.Add(10.0));
  EXPECT_EQ(s.CountAtMost(0.0), 3u);
  EXPECT_EQ(s.CountAtMost(1e-10), 3u);
  EXPECT_EQ(s.CountAtMost(0.5), 3u);
  EXPECT_EQ(s.CountAtMost(1.0), 4u);
  EXPECT_EQ(s.CountAtMost(5.0), 4u);
  EXPECT_EQ(s.CountAtMost(10.0), 5u);
}

TEST(QuantileSketchCountAtMostTest, WeightedAddsCountTheirMultiplicity) {
  QuantileSketch s;
  ASSERT_TRUE(s.Add(0.1, 7));
  ASSERT_TRUE(s.Add(1.0, 3));
  EXPECT_EQ(s.CountAtMost(0.5), 7u);
  EXPECT_EQ(s.CountAtMost(2.0), 10u);
}

TEST(QuantileSketchCountAtMostTest, CollapsedLowBinsStayBounded) {
  // 16 bins at 1% cover well under one decade: values 1e-6 .. 1e3 collapse.
  QuantileSketch s(0.01, 16);
  for (double v = 1e-6; v < 1e3; v *= 1.5) ASSERT_TRUE(s.Add(v));
  EXPECT_EQ(s.num_bins(), 16);
  uint64_t last = 0;
  for (double x = 1e-7; x < 1e4; x *= 1.3) {
    const uint64_t n = s.CountAtMost(x);
    EXPECT_GE(n, last);
    last = n;
  }
  EXPECT_EQ(s.CountAtMost(1e4), s.count());
}

// ---------------------------------------------------------------------------
// Remove

TEST(QuantileSketchRemoveTest, InverseOfAddOnCounts) {
  QuantileSketch s;
  for (double v : {1.0, 2.0, 3.0}) ASSERT_TRUE(s.Add(v));
  ASSERT_TRUE(s.Remove(2.0));
  EXPECT_EQ(s.count(), 2u);
  EXPECT_DOUBLE_EQ(s.sum(), 4.0);
  EXPECT_DOUBLE_EQ(s.mean(), 2.0);
  EXPECT_EQ(s.CountAtMost(2.5), 1u);
  EXPECT_TRUE(s.SameContents(SketchOf({1.0, 3.0})));
  // Add then Remove of the same (non-extreme) value restores the contents.
  const QuantileSketch before = s;
  ASSERT_TRUE(s.Add(2.5, 3));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(s.Remove(2.5));
  EXPECT_FALSE(s.Remove(2.5));
  EXPECT_TRUE(s.SameContents(before));
  for (double q : kQuantiles) EXPECT_EQ(s.Quantile(q), before.Quantile(q)) << q;
}

TEST(QuantileSketchRemoveTest, EmptyBinIsFalseAndChangesNothing) {
  QuantileSketch s;
  ASSERT_TRUE(s.Add(1.0));
  ASSERT_TRUE(s.Add(4.0));
  const QuantileSketch before = s;
  EXPECT_FALSE(s.Remove(2.0));   // between the two: empty bin
  EXPECT_FALSE(s.Remove(100.0));  // above the occupied range
  EXPECT_FALSE(s.Remove(0.5));   // below the occupied range, no collapse
  EXPECT_FALSE(s.Remove(0.0));   // empty zero bin
  EXPECT_FALSE(s.Remove(1e-12));
  EXPECT_TRUE(s.SameContents(before));
  EXPECT_EQ(s.count(), 2u);
}

TEST(QuantileSketchRemoveTest, RejectedValuesAreFalse) {
  QuantileSketch s;
  ASSERT_TRUE(s.Add(1.0));
  const QuantileSketch before = s;
  for (double v : {kNaN, -1.0, -kInf, kInf, 1e301}) {
    EXPECT_FALSE(s.Remove(v)) << v;
  }
  EXPECT_TRUE(s.SameContents(before));
}

TEST(QuantileSketchRemoveTest, EmptySketchIsFalse) {
  QuantileSketch s;
  for (double v : {0.0, 1e-12, 1.0, 1e300}) EXPECT_FALSE(s.Remove(v)) << v;
  EXPECT_TRUE(s.empty());
}

TEST(QuantileSketchRemoveTest, RemovingFromTheSameBinIsByBin) {
  QuantileSketch s;
  ASSERT_TRUE(s.Add(1.5));
  // 1.501 shares 1.5's bin at 0.5%: the bin's count is what goes back.
  ASSERT_EQ(s.IndexFor(1.501), s.IndexFor(1.5));
  EXPECT_TRUE(s.Remove(1.501));
  EXPECT_TRUE(s.empty());
  EXPECT_FALSE(s.Remove(1.5));
}

TEST(QuantileSketchRemoveTest, ZeroBin) {
  QuantileSketch s;
  ASSERT_TRUE(s.Add(0.0));
  ASSERT_TRUE(s.Add(1e-12));
  ASSERT_TRUE(s.Add(1.0));
  ASSERT_TRUE(s.Remove(0.0));
  EXPECT_EQ(s.zero_count(), 1u);
  EXPECT_EQ(s.count(), 2u);
  ASSERT_TRUE(s.Remove(5e-10));  // any value of the zero bin
  EXPECT_EQ(s.zero_count(), 0u);
  EXPECT_FALSE(s.Remove(0.0));
  EXPECT_EQ(s.count(), 1u);
  EXPECT_EQ(s.CountAtMost(0.0), 0u);
  EXPECT_EQ(s.CountAtMost(1.0), 1u);
}

TEST(QuantileSketchRemoveTest, RemovingTheLastValueEmptiesTheSketch) {
  QuantileSketch s;
  ASSERT_TRUE(s.Add(0.25));
  ASSERT_TRUE(s.Add(0.0));
  ASSERT_TRUE(s.Remove(0.25));
  ASSERT_TRUE(s.Remove(0.0));
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.count(), 0u);
  EXPECT_EQ(s.zero_count(), 0u);
  EXPECT_EQ(s.sum(), 0.0);
  EXPECT_EQ(s.num_bins(), 0);
  EXPECT_TRUE(std::isnan(s.min()));
  EXPECT_TRUE(std::isnan(s.max()));
  EXPECT_TRUE(std::isnan(s.mean()));
  EXPECT_TRUE(std::isnan(s.Quantile(0.5)));
  EXPECT_EQ(s.CountAtMost(kInf), 0u);
  EXPECT_FALSE(s.Remove(0.25));
  // The emptied sketch is as good as a fresh one.
  ASSERT_TRUE(s.Add(3.0));
  ASSERT_TRUE(s.Add(7.0));
  EXPECT_TRUE(s.SameContents(SketchOf({3.0, 7.0})));
  EXPECT_EQ(s.Serialize(), SketchOf({3.0, 7.0}).Serialize());
}

TEST(QuantileSketchRemoveTest, QuantilesMatchASketchBuiltWithoutTheValues) {
  std::vector<double> values = Bimodal(5000);
  values.push_back(0.0);
  values.push_back(0.0);
  QuantileSketch s = SketchOf(values);
  const double lo = *std::min_element(values.begin(), values.end());
  const double hi = *std::max_element(values.begin(), values.end());
  // Remove every third value that is not an extreme (min()/max() keep the
  // extremes of everything ever added), including one zero.
  std::vector<double> kept;
  bool removed_zero = false;
  for (size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
    const bool extreme = v == hi || (v == lo && (v != 0.0 || removed_zero));
    if (i % 3 == 0 && !extreme) {
      ASSERT_TRUE(s.Remove(v)) << v;
      if (v == 0.0) removed_zero = true;
    } else {
      kept.push_back(v);
    }
  }
  if (!removed_zero) {
    ASSERT_TRUE(s.Remove(0.0));
    kept.erase(std::find(kept.begin(), kept.end(), 0.0));
  }
  const QuantileSketch expected = SketchOf(kept);
  EXPECT_TRUE(s.SameContents(expected));
  EXPECT_EQ(s.count(), kept.size());
  for (double q : kQuantiles) {
    EXPECT_EQ(s.Quantile(q), expected.Quantile(q)) << q;
  }
  for (double x : {1e-3, 2e-3, 0.01, 0.1, 0.3, 1.0}) {
    EXPECT_EQ(s.CountAtMost(x), expected.CountAtMost(x)) << x;
  }
}

TEST(QuantileSketchRemoveTest, MinAndMaxKeepTheExtremesEverAdded) {
  QuantileSketch s;
  ASSERT_TRUE(s.Add(1.0));
  ASSERT_TRUE(s.Add(2.0));
  ASSERT_TRUE(s.Add(9.0));
  ASSERT_TRUE(s.Remove(9.0));
  EXPECT_EQ(s.count(), 2u);
  EXPECT_EQ(s.max(), 9.0);  // documented: temporary views only
  EXPECT_EQ(s.CountAtMost(3.0), 2u);
  EXPECT_NEAR(s.Quantile(0.5), 1.0, 0.005);
}

TEST(QuantileSketchRemoveTest, CollapsedValuesComeOutOfTheLowestBin) {
  QuantileSketch s(0.01, 16);
  for (double v = 1e-6; v < 1e3; v *= 1.5) ASSERT_TRUE(s.Add(v));
  ASSERT_EQ(s.num_bins(), 16);
  const uint64_t n = s.count();
  // 2e-6 was folded into the lowest kept bin; removing it takes from there.
  ASSERT_TRUE(s.Remove(2e-6));
  EXPECT_EQ(s.count(), n - 1);
  // The same value again: the lowest bin still holds collapsed values.
  ASSERT_TRUE(s.Remove(2e-6));
  EXPECT_EQ(s.count(), n - 2);
}

}  // namespace
}  // namespace ragperf

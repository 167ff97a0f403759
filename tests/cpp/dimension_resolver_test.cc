// Copyright 2026 The ragperf Authors.

#include "ragperf/dimension_resolver.h"

#include <algorithm>
#include <string>

#include "gtest/gtest.h"

namespace ragperf {
namespace {

TEST(DimensionResolverTest, InternsOnceAndCaches) {
  DimensionStats stats(/*max_history=*/10, 0.01, /*max_values=*/100);
  DimensionResolver dims(&stats);
  EXPECT_TRUE(dims.empty());
  dims.SetDimensions({"tenant", "model"});
  EXPECT_EQ(dims.size(), 2u);
  EXPECT_FALSE(dims.is_model(0));
  EXPECT_TRUE(dims.is_model(1));
  EXPECT_EQ(dims.name(0), "tenant");

  EXPECT_EQ(dims.Find(0, 0, "acme"), -1);
  const int acme = dims.Intern(0, "retrieval", 0, "acme");
  EXPECT_EQ(dims.Find(0, 0, "acme"), acme);
  EXPECT_EQ(dims.Find(0, 1, "acme"), -1);  // another dimension
  EXPECT_EQ(dims.Find(1, 0, "acme"), -1);  // another operation
  const int qwen = dims.Intern(0, "retrieval", 1, "qwen");
  EXPECT_NE(qwen, acme);

  OperationRecord rec;
  rec.duration_s = 0.5;
  stats.Record(acme, rec);
  EXPECT_EQ(stats.GetStats("retrieval", "tenant", "acme").total, 1u);
  EXPECT_EQ(stats.GetStats("retrieval", "model", "qwen").total, 0u);
}

TEST(DimensionResolverTest, OverflowedValuesShareOtherAndAreNotCached) {
  DimensionStats stats(10, 0.01, /*max_values=*/2);
  DimensionResolver dims(&stats);
  dims.SetDimensions({"user"});
  dims.Intern(0, "q", 0, "u1");
  dims.Intern(0, "q", 0, "u2");
  const int other = dims.Intern(0, "q", 0, "u3");
  EXPECT_EQ(dims.Intern(0, "q", 0, "u4"), other);
  EXPECT_EQ(dims.Find(0, 0, "u3"), -1);  // bounded: never cached
  EXPECT_EQ(dims.cached_values(), 2u);
  const auto values = stats.Values("q", "user");
  EXPECT_NE(std::find(values.begin(), values.end(),
                      std::string(DimensionStats::kOtherValue)),
            values.end());
}

TEST(DimensionResolverTest, RedeclaringDimensionsKeepsSeriesIds) {
  DimensionStats stats(10, 0.01);
  DimensionResolver dims(&stats);
  dims.SetDimensions({"tenant"});
  const int acme = dims.Intern(0, "q", 0, "acme");
  dims.SetDimensions({"model", "tenant"});
  EXPECT_EQ(dims.cached_values(), 0u);  // the layout changed: cache dropped
  EXPECT_TRUE(dims.is_model(0));
  EXPECT_EQ(dims.Intern(0, "q", 1, "acme"), acme);  // same series
  dims.SetDimensions({});
  EXPECT_TRUE(dims.empty());
}

}  // namespace
}  // namespace ragperf

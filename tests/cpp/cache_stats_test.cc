// Copyright 2026 The ragperf Authors.

#include "ragperf/cache_stats.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace ragperf {
namespace {

TEST(CacheStatsTest, RecordAndGet) {
  CacheStats caches;
  ASSERT_TRUE(caches.Record("embeddings", true).ok());
  ASSERT_TRUE(caches.Record("embeddings", true).ok());
  ASSERT_TRUE(caches.Record("embeddings", false).ok());
  const CacheCounts c = caches.Get("embeddings");
  EXPECT_EQ(c.name, "embeddings");
  EXPECT_EQ(c.hits, 2u);
  EXPECT_EQ(c.misses, 1u);
  EXPECT_EQ(c.lookups(), 3u);
  EXPECT_DOUBLE_EQ(c.hit_rate(), 2.0 / 3);
}

TEST(CacheStatsTest, UnknownCacheIsZerosWithItsName) {
  CacheStats caches;
  const CacheCounts c = caches.Get("nothing");
  EXPECT_EQ(c.name, "nothing");
  EXPECT_EQ(c.hits, 0u);
  EXPECT_EQ(c.misses, 0u);
  EXPECT_EQ(c.lookups(), 0u);
  EXPECT_EQ(c.hit_rate(), 0);  // no lookups: 0, not NaN
  EXPECT_TRUE(caches.GetAll().empty());
}

TEST(CacheStatsTest, HitRateExtremes) {
  CacheStats caches;
  ASSERT_TRUE(caches.Record("all_hits", true).ok());
  ASSERT_TRUE(caches.Record("all_misses", false).ok());
  EXPECT_EQ(caches.Get("all_hits").hit_rate(), 1.0);
  EXPECT_EQ(caches.Get("all_misses").hit_rate(), 0.0);
  CacheCounts half{"x", 5, 5};
  EXPECT_DOUBLE_EQ(half.hit_rate(), 0.5);
}

TEST(CacheStatsTest, CountAddsSeveralLookupsAtOnce) {
  CacheStats caches;
  ASSERT_TRUE(caches.Record("model", true, 7).ok());
  ASSERT_TRUE(caches.Record("model", false, 3).ok());
  ASSERT_TRUE(caches.Record("model", true).ok());
  const CacheCounts c = caches.Get("model");
  EXPECT_EQ(c.hits, 8u);
  EXPECT_EQ(c.misses, 3u);
  EXPECT_DOUBLE_EQ(c.hit_rate(), 8.0 / 11);
  // A count of 0 is harmless.
  ASSERT_TRUE(caches.Record("model", true, 0).ok());
  EXPECT_EQ(caches.Get("model").hits, 8u);
}

TEST(CacheStatsTest, GetAllIsSortedByName) {
  CacheStats caches;
  for (const char* name : {"semantic", "embeddings", "model", "bm25"}) {
    ASSERT_TRUE(caches.Record(name, true).ok());
  }
  ASSERT_TRUE(caches.Record("model", false, 2).ok());
  const std::vector<CacheCounts> all = caches.GetAll();
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].name, "bm25");
  EXPECT_EQ(all[1].name, "embeddings");
  EXPECT_EQ(all[2].name, "model");
  EXPECT_EQ(all[3].name, "semantic");
  EXPECT_EQ(all[2].hits, 1u);
  EXPECT_EQ(all[2].misses, 2u);
}

TEST(CacheStatsTest, NameValidation) {
  CacheStats caches;
  absl::Status s = caches.Record("", true);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("(0)"), absl::string_view::npos) << s;

  const std::string too_long(CacheStats::kMaxNameLength + 1, 'c');
  s = caches.Record(too_long, false);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find(std::to_string(CacheStats::kMaxNameLength + 1)), absl::string_view::npos) << s;
  EXPECT_TRUE(caches.GetAll().empty());  // rejected records change nothing

  const std::string longest(CacheStats::kMaxNameLength, 'c');
  EXPECT_TRUE(caches.Record(longest, true).ok());
  EXPECT_EQ(caches.Get(longest).hits, 1u);
}

TEST(CacheStatsTest, ClearForgetsEverything) {
  CacheStats caches;
  ASSERT_TRUE(caches.Record("a", true, 3).ok());
  ASSERT_TRUE(caches.Record("b", false).ok());
  caches.Clear();
  EXPECT_TRUE(caches.GetAll().empty());
  EXPECT_EQ(caches.Get("a").lookups(), 0u);
  ASSERT_TRUE(caches.Record("a", false).ok());
  EXPECT_EQ(caches.Get("a").hits, 0u);
  EXPECT_EQ(caches.Get("a").misses, 1u);
}

TEST(CacheStatsTest, ConcurrentRecordsAreExact) {
  CacheStats caches;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&caches, t] {
      const std::string own = "own_" + std::to_string(t);
      for (int i = 0; i < kPerThread; ++i) {
        caches.Record("shared", i % 4 != 0).IgnoreError();  // 3 hits : 1 miss
        caches.Record(own, true, 2).IgnoreError();
      }
    });
  }
  uint64_t last = 0;
  for (int i = 0; i < 100; ++i) {
    const uint64_t now = caches.Get("shared").lookups();
    EXPECT_GE(now, last);
    last = now;
  }
  for (std::thread& th : threads) th.join();
  const CacheCounts shared = caches.Get("shared");
  EXPECT_EQ(shared.hits, uint64_t{kThreads} * kPerThread * 3 / 4);
  EXPECT_EQ(shared.misses, uint64_t{kThreads} * kPerThread / 4);
  EXPECT_DOUBLE_EQ(shared.hit_rate(), 0.75);
  EXPECT_EQ(caches.GetAll().size(), 1u + kThreads);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(caches.Get("own_" + std::to_string(t)).hits,
              2u * kPerThread);
  }
}

}  // namespace
}  // namespace ragperf

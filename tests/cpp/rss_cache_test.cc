// Copyright 2026 The ragperf Authors.

#include "ragperf/rss_cache.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "ragperf/performance_monitor.h"

namespace ragperf {
namespace {

constexpr int64_t kMs = 1000000;

TEST(RssCacheTest, ExactModeReadsEveryTime) {
  RssCache& cache = RssCache::Instance();
  const uint64_t before = cache.reads();
  int64_t rss = 0;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(cache.Get(SteadyNowNanos(), /*max_age_ns=*/0, &rss));
    EXPECT_GT(rss, 0);
  }
  EXPECT_EQ(cache.reads() - before, 5u);
}

TEST(RssCacheTest, ReusesAReadingWithinMaxAge) {
  RssCache& cache = RssCache::Instance();
  const int64_t t0 = SteadyNowNanos();
  int64_t first = 0;
  ASSERT_TRUE(cache.Refresh(t0, &first));
  const uint64_t reads = cache.reads();
  int64_t again = 0;
  ASSERT_TRUE(cache.Get(t0 + 50 * 1000, /*max_age_ns=*/100 * 1000, &again));
  EXPECT_EQ(again, first);
  EXPECT_EQ(cache.reads(), reads);
  // Older than max_age: reads again.
  ASSERT_TRUE(cache.Get(t0 + 200 * 1000, /*max_age_ns=*/100 * 1000, &again));
  EXPECT_EQ(cache.reads(), reads + 1);
  // A time before the reading (another thread's clock) never reuses.
  ASSERT_TRUE(cache.Get(t0 - kMs, /*max_age_ns=*/100 * 1000, &again));
  EXPECT_EQ(cache.reads(), reads + 2);
}

TEST(RssCacheTest, InvalidateForcesARead) {
  RssCache& cache = RssCache::Instance();
  int64_t rss = 0;
  const int64_t now = SteadyNowNanos();
  ASSERT_TRUE(cache.Refresh(now, &rss));
  cache.Invalidate();
  const uint64_t reads = cache.reads();
  ASSERT_TRUE(cache.Get(now, /*max_age_ns=*/kMs, &rss));
  EXPECT_EQ(cache.reads(), reads + 1);
}

TEST(RssCacheTest, SeesAnAllocationOnceStale) {
  RssCache& cache = RssCache::Instance();
  int64_t before = 0;
  ASSERT_TRUE(cache.Refresh(SteadyNowNanos(), &before));
  std::vector<char> block(64 << 20);
  std::memset(block.data(), 1, block.size());
  int64_t after = 0;
  // Far enough in the future that the cached value is stale.
  ASSERT_TRUE(cache.Get(SteadyNowNanos() + 10 * kMs, kMs, &after));
  EXPECT_GT(after - before, 48 << 20);
  EXPECT_EQ(block[12345], 1);
}

TEST(RssCacheTest, ForkChildDoesNotReuseParentReading) {
  RssCache& cache = RssCache::Instance();
  int64_t rss = 0;
  ASSERT_TRUE(cache.Refresh(SteadyNowNanos(), &rss));
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const uint64_t reads = cache.reads();
    int64_t child_rss = 0;
    // Within max_age of the parent's reading, yet the child must read.
    const bool ok = cache.Get(SteadyNowNanos(), /*max_age_ns=*/1000 * kMs,
                              &child_rss);
    _exit(ok && cache.reads() == reads + 1 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(RssCacheTest, MonitorValidatesMaxAge) {
  PerformanceMonitor::Options o;
  o.memory_max_age_ns = -1;
  EXPECT_FALSE(PerformanceMonitor::ValidateOptions(o).ok());
  o.memory_max_age_ns = 2000000000;
  EXPECT_FALSE(PerformanceMonitor::ValidateOptions(o).ok());
  PerformanceMonitor m(PerformanceMonitor::Options{});
  EXPECT_EQ(m.memory_max_age_ns(), 100000);
  EXPECT_TRUE(m.SetMemoryMaxAgeNs(0).ok());
  EXPECT_EQ(m.memory_max_age_ns(), 0);
  EXPECT_FALSE(m.SetMemoryMaxAgeNs(-5).ok());
}

}  // namespace
}  // namespace ragperf

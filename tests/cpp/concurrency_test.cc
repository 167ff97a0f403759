// Copyright 2026 The ragperf Authors.
//
// 8 threads x 10^6 records (10^5 under sanitizers) into one shared and eight
// distinct operations through PerformanceMonitor::Record, with a reader
// generating reports meanwhile: every count and sum must be exact.

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "ragperf/performance_monitor.h"
#include "sanitizer_scale.h"

namespace ragperf {
namespace {

constexpr int kThreads = 8;
const long kPerThread = testing::Scaled(1000000);

// Durations are small multiples of 2^-20 s: every partial sum of them is
// exactly representable, so the total is exact whatever the order in which
// shards add up.
double Duration(long k) { return static_cast<double>(1 + k % 7) / (1 << 20); }

TEST(ConcurrencyTest, EightThreadsSharedAndDistinctOperationsExact) {
  PerformanceMonitor::Options options;
  options.enable_memory_tracking = false;
  PerformanceMonitor monitor(options);
  const int shared = monitor.Intern("shared");
  std::atomic<bool> done{false};
  std::atomic<long> reports{0};
  std::thread reader([&] {
    while (!done.load()) {
      const Report r = monitor.GenerateReport();
      // A report never shows more than was recorded.
      ASSERT_LE(r.total_operations,
                static_cast<uint64_t>(kThreads) * kPerThread);
      reports.fetch_add(1);
    }
  });
  std::vector<std::thread> writers;
  for (int i = 0; i < kThreads; ++i) {
    writers.emplace_back([&, i] {
      const int own = monitor.Intern("own_" + std::to_string(i));
      OperationRecord rec;
      rec.timestamp_s = 1.8e9;
      for (long k = 0; k < kPerThread; ++k) {
        rec.duration_s = Duration(k);
        rec.tokens = 1 + k % 3;
        if (k % 2 == 0) {
          monitor.Record(shared, rec);
        } else {
          monitor.Record(own, rec);
        }
      }
    });
  }
  for (std::thread& t : writers) t.join();
  done.store(true);
  reader.join();

  // What one thread recorded, per operation, computed serially.
  double shared_sum = 0, own_sum = 0;
  int64_t shared_tokens = 0, own_tokens = 0;
  for (long k = 0; k < kPerThread; ++k) {
    (k % 2 == 0 ? shared_sum : own_sum) += Duration(k);
    (k % 2 == 0 ? shared_tokens : own_tokens) += 1 + k % 3;
  }
  const uint64_t half = static_cast<uint64_t>(kPerThread / 2);
  const OperationStats s = monitor.GetStats("shared");
  EXPECT_EQ(s.total, kThreads * half);
  EXPECT_EQ(s.successful, kThreads * half);
  EXPECT_EQ(s.sum_s, kThreads * shared_sum);
  EXPECT_EQ(s.total_tokens, kThreads * shared_tokens);
  EXPECT_EQ(s.min_s, Duration(0));
  EXPECT_EQ(s.max_s, Duration(6));
  EXPECT_EQ(s.sketch.count(), kThreads * half);
  for (int i = 0; i < kThreads; ++i) {
    const OperationStats o = monitor.GetStats("own_" + std::to_string(i));
    EXPECT_EQ(o.total, half) << i;
    EXPECT_EQ(o.sum_s, own_sum) << i;
    EXPECT_EQ(o.total_tokens, own_tokens) << i;
  }
  EXPECT_EQ(monitor.tracker().Count(),
            static_cast<uint64_t>(kThreads) * kPerThread);
  EXPECT_GT(reports.load(), 0);
}

}  // namespace
}  // namespace ragperf

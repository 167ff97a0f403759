// Copyright 2026 The ragperf Authors.

#include "ragperf/response_time_tracker.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace ragperf {
namespace {

constexpr double kNow = 1.8e9;  // a fixed wall-clock time, unix seconds

OperationRecord Rec(double duration_s, double timestamp_s = kNow,
                    bool success = true, int64_t tokens = 0) {
  OperationRecord r;
  r.duration_s = duration_s;
  r.timestamp_s = timestamp_s;
  r.success = success;
  r.tokens = tokens;
  if (!success) r.error_type = "ValueError";
  return r;
}

TEST(ResponseTimeTrackerTest, InternIsStableAndDense) {
  ResponseTimeTracker t;
  const int a = t.Intern("a");
  const int b = t.Intern("b");
  EXPECT_EQ(a, 0);
  EXPECT_EQ(b, 1);
  EXPECT_EQ(t.Intern("a"), a);
  EXPECT_EQ(t.FindId("b"), b);
  EXPECT_EQ(t.FindId("missing"), -1);
  EXPECT_EQ(t.NameOf(b), "b");
  EXPECT_EQ(t.NameOf(99), "");
}

TEST(ResponseTimeTrackerTest, CountsSumsMinMaxTokens) {
  ResponseTimeTracker t;
  const int id = t.Intern("llm_inference");
  t.Record(id, Rec(0.5, kNow, true, 100));
  t.Record(id, Rec(2.3, kNow, true, 200));
  t.Record(id, Rec(1.2, kNow, false, 0));
  const OperationStats s = t.GetStats("llm_inference");
  EXPECT_EQ(s.name, "llm_inference");
  EXPECT_EQ(s.total, 3u);
  EXPECT_EQ(s.successful, 2u);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_DOUBLE_EQ(s.min_s, 0.5);
  EXPECT_DOUBLE_EQ(s.max_s, 2.3);
  EXPECT_NEAR(s.sum_s, 4.0, 1e-12);
  EXPECT_NEAR(s.avg_s, 4.0 / 3, 1e-12);
  EXPECT_EQ(s.total_tokens, 300);
  EXPECT_DOUBLE_EQ(s.avg_tokens, 100.0);
  EXPECT_NEAR(s.tokens_per_second, 300 / 4.0, 1e-9);
  EXPECT_NEAR(s.error_rate, 1.0 / 3, 1e-12);
  ASSERT_EQ(s.errors_by_type.size(), 1u);
  EXPECT_EQ(s.errors_by_type[0].first, "ValueError");
  EXPECT_EQ(s.errors_by_type[0].second, 1u);
}

TEST(ResponseTimeTrackerTest, UnknownOperationIsAllZeros) {
  ResponseTimeTracker t;
  const OperationStats s = t.GetStats("nothing");
  EXPECT_EQ(s.name, "nothing");
  EXPECT_EQ(s.total, 0u);
  EXPECT_EQ(s.p99_s, 0);
  EXPECT_EQ(s.min_s, 0);
  EXPECT_EQ(s.max_s, 0);
  EXPECT_EQ(t.Count("nothing"), 0u);
}

TEST(ResponseTimeTrackerTest, PercentilesWithinSketchErrorOfExact) {
  ResponseTimeTracker t;
  const int id = t.Intern("retrieval");
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(-3.0, 1.0);
  std::vector<double> values;
  for (int i = 0; i < 50000; ++i) {
    values.push_back(dist(rng));
    t.Record(id, Rec(values.back()));
  }
  std::sort(values.begin(), values.end());
  const OperationStats s = t.GetStats("retrieval");
  const auto exact = [&](double q) {
    const size_t r = static_cast<size_t>(std::ceil(q * values.size() * (1 - 1e-12)));
    return values[r == 0 ? 0 : r - 1];
  };
  const double eps = t.relative_accuracy() + 1e-9;
  EXPECT_NEAR(s.p50_s, exact(0.50), eps * exact(0.50));
  EXPECT_NEAR(s.p90_s, exact(0.90), eps * exact(0.90));
  EXPECT_NEAR(s.p95_s, exact(0.95), eps * exact(0.95));
  EXPECT_NEAR(s.p99_s, exact(0.99), eps * exact(0.99));
}

TEST(ResponseTimeTrackerTest, RecentRingIsBoundedAndOrdered) {
  ResponseTimeTracker t(/*max_history=*/10);
  const int id = t.Intern("x");
  for (int i = 0; i < 25; ++i) t.Record(id, Rec(i * 0.001, kNow + i));
  const std::vector<RecentRecord> recent = t.GetRecent("x", 100);
  ASSERT_EQ(recent.size(), 10u);
  for (size_t i = 0; i < recent.size(); ++i) {
    EXPECT_DOUBLE_EQ(recent[i].timestamp_s, kNow + 15 + static_cast<double>(i));
  }
  EXPECT_EQ(t.GetRecent("x", 3).size(), 3u);
  EXPECT_DOUBLE_EQ(t.GetRecent("x", 3).back().timestamp_s, kNow + 24);
  EXPECT_TRUE(t.GetRecent("missing", 3).empty());
  // The ring bounds raw records only; the statistics cover everything.
  EXPECT_EQ(t.GetStats("x").total, 25u);
}

TEST(ResponseTimeTrackerTest, WindowCoversOnlyRecentMinutes) {
  ResponseTimeTracker t;
  const int id = t.Intern("q");
  t.Record(id, Rec(9.0, kNow - 30 * 60));  // 30 minutes ago
  t.Record(id, Rec(1.0, kNow - 4 * 60));   // 4 minutes ago
  t.Record(id, Rec(2.0, kNow - 10));       // just now
  absl::StatusOr<OperationStats> w5 = t.GetWindowStats("q", 5, kNow);
  ASSERT_TRUE(w5.ok()) << w5.status();
  EXPECT_EQ(w5->total, 2u);
  EXPECT_DOUBLE_EQ(w5->max_s, 2.0);
  EXPECT_GE(w5->window_s, 5 * 60);
  EXPECT_LE(w5->window_s, 6 * 60);
  absl::StatusOr<OperationStats> w60 = t.GetWindowStats("q", 60, kNow);
  ASSERT_TRUE(w60.ok());
  EXPECT_EQ(w60->total, 3u);
  EXPECT_EQ(t.GetStats("q").total, 3u);
  // Records older than the ring (61 minutes) are gone from windows only.
  absl::StatusOr<OperationStats> later = t.GetWindowStats("q", 60, kNow + 3 * 3600);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->total, 0u);
}

TEST(ResponseTimeTrackerTest, WindowSlotIsReusedAfterAnHour) {
  ResponseTimeTracker t;
  const int id = t.Intern("q");
  t.Record(id, Rec(1.0, kNow));
  // Same slot index 61 minutes later: the old minute must be dropped.
  t.Record(id, Rec(3.0, kNow + 61 * 60));
  absl::StatusOr<OperationStats> w = t.GetWindowStats("q", 1, kNow + 61 * 60);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->total, 1u);
  EXPECT_DOUBLE_EQ(w->min_s, 3.0);
}

TEST(ResponseTimeTrackerTest, WindowRejectsBadMinutes) {
  ResponseTimeTracker t;
  EXPECT_EQ(t.GetWindowStats("q", 0, kNow).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::Status s = t.GetWindowStats("q", 61, kNow).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("61"), absl::string_view::npos);
}

TEST(ResponseTimeTrackerTest, AllStatsSortedAndSkipsEmpty) {
  ResponseTimeTracker t;
  t.RecordDuration("zeta", 0.1);
  t.RecordDuration("alpha", 0.2);
  t.Intern("never_recorded");
  const std::vector<OperationStats> all = t.GetAllStats();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "alpha");
  EXPECT_EQ(all[1].name, "zeta");
  EXPECT_EQ(t.Count(), 2u);
}

TEST(ResponseTimeTrackerTest, ClearKeepsIdsAndForgetsStats) {
  ResponseTimeTracker t;
  const int id = t.Intern("x");
  t.Record(id, Rec(1.0));
  t.Clear();
  EXPECT_EQ(t.Count(), 0u);
  EXPECT_TRUE(t.GetAllStats().empty());
  EXPECT_TRUE(t.GetRecent("x", 10).empty());
  EXPECT_EQ(t.Intern("x"), id);
  t.Record(id, Rec(2.0));
  EXPECT_EQ(t.GetStats("x").total, 1u);
  EXPECT_DOUBLE_EQ(t.GetStats("x").min_s, 2.0);
}

TEST(ResponseTimeTrackerTest, ManyThreadsSameAndDistinctOperationsExact) {
  ResponseTimeTracker t;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100000;
  const int shared = t.Intern("shared");
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      const int own = t.Intern("own_" + std::to_string(i));
      for (int k = 0; k < kPerThread; ++k) {
        t.Record(shared, Rec(0.001, kNow, true, 1));
        t.Record(own, Rec(0.002, kNow, true, 2));
      }
    });
  }
  for (std::thread& th : threads) th.join();
  const OperationStats s = t.GetStats("shared");
  EXPECT_EQ(s.total, static_cast<uint64_t>(kThreads) * kPerThread);
  EXPECT_EQ(s.total_tokens, int64_t{kThreads} * kPerThread);
  EXPECT_NEAR(s.sum_s, 0.001 * kThreads * kPerThread, 1e-6);
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_EQ(t.Count("own_" + std::to_string(i)),
              static_cast<uint64_t>(kPerThread));
  }
  EXPECT_EQ(t.Count(), 2ull * kThreads * kPerThread);
}

TEST(ResponseTimeTrackerTest, ConcurrentReadersWhileRecording) {
  ResponseTimeTracker t;
  const int id = t.Intern("x");
  std::atomic<bool> done{false};
  std::thread reader([&] {
    uint64_t last = 0;
    while (!done.load()) {
      const uint64_t now = t.GetStats("x").total;
      EXPECT_GE(now, last);  // counts never go backwards
      last = now;
    }
  });
  for (int i = 0; i < 200000; ++i) t.Record(id, Rec(0.001));
  done = true;
  reader.join();
  EXPECT_EQ(t.Count("x"), 200000u);
}

TEST(ResponseTimeTrackerTest, MemoryBytesGrowsBounded) {
  ResponseTimeTracker t(/*max_history=*/100);
  const size_t empty = t.MemoryBytes();
  const int id = t.Intern("x");
  for (int i = 0; i < 100000; ++i) t.Record(id, Rec(0.001 * (1 + i % 1000)));
  const size_t used = t.MemoryBytes();
  EXPECT_GT(used, empty);
  // One shard in use: all-time sketch + one window slot + 100 raw records.
  EXPECT_LT(used, 512u * 1024u);
}

}  // namespace
}  // namespace ragperf

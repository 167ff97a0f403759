// Copyright 2026 The ragperf Authors.

#include "ragperf/response_time_tracker.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <random>
#include <string>
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

TEST(ResponseTimeTrackerTest, LateRecordNeverErasesANewerMinute) {
  ResponseTimeTracker t;
  const int id = t.Intern("q");
  t.Record(id, Rec(1.0, kNow));
  // 61 minutes earlier maps to the same slot, which holds a newer minute:
  // the late record counts all-time only.
  t.Record(id, Rec(5.0, kNow - 61 * 60));
  absl::StatusOr<OperationStats> w = t.GetWindowStats("q", 1, kNow);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->total, 1u);
  EXPECT_DOUBLE_EQ(w->max_s, 1.0);
  const OperationStats all = t.GetStats("q");
  EXPECT_EQ(all.total, 2u);
  EXPECT_DOUBLE_EQ(all.first_timestamp_s, kNow - 61 * 60);  // earliest, not first
  EXPECT_DOUBLE_EQ(all.last_timestamp_s, kNow);
}

TEST(ResponseTimeTrackerTest, InWindowRangeCoversTheCurrentAndSixtyPastMinutes) {
  const double now = kNow + 30;  // mid-minute
  EXPECT_TRUE(ResponseTimeTracker::InWindowRange(now, now));
  EXPECT_TRUE(ResponseTimeTracker::InWindowRange(now - 60 * 60, now));
  EXPECT_FALSE(ResponseTimeTracker::InWindowRange(now - 61 * 60, now));
  EXPECT_FALSE(ResponseTimeTracker::InWindowRange(now + 60, now));  // a later minute
  EXPECT_TRUE(ResponseTimeTracker::InWindowRange(now + 29, now));   // same minute
}

TEST(ResponseTimeTrackerTest, SkipWindowsCountsAllTimeOnly) {
  ResponseTimeTracker t;
  const int id = t.Intern("q");
  OperationRecord r = Rec(2.0, kNow);
  r.skip_windows = true;
  t.Record(id, r);
  t.Record(id, Rec(1.0, kNow));
  absl::StatusOr<OperationStats> w = t.GetWindowStats("q", 1, kNow);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->total, 1u);
  EXPECT_EQ(t.GetStats("q").total, 2u);
  EXPECT_DOUBLE_EQ(t.GetStats("q").max_s, 2.0);
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

// ---------------------------------------------------------------------------
// Streams, cost, caches, cold start, request rate, recent-record fields

// The sketch's bound plus slack for log/exp rounding at bin edges.
constexpr double kEps = QuantileSketch::kDefaultRelativeAccuracy + 1e-9;

OperationRecord StreamRec(double duration_s, double ttft_s,
                          int64_t completion_tokens, double timestamp_s = kNow) {
  OperationRecord r = Rec(duration_s, timestamp_s);
  r.has_time_to_first_token = true;
  r.time_to_first_token_s = ttft_s;
  r.completion_tokens = completion_tokens;
  r.tokens = completion_tokens;
  return r;
}

TEST(ResponseTimeTrackerStreamTest, StreamsTimeToFirstTokenAndOutputRate) {
  ResponseTimeTracker t;
  const int id = t.Intern("llm");
  t.Record(id, StreamRec(2.0, 0.5, 30));
  t.Record(id, StreamRec(3.0, 1.0, 40));
  t.Record(id, StreamRec(1.5, 0.25, 25));
  // Not a stream: counts in the totals only.
  OperationRecord plain = Rec(1.0, kNow, true, 100);
  plain.completion_tokens = 100;
  t.Record(id, plain);

  const OperationStats s = t.GetStats("llm");
  EXPECT_EQ(s.total, 4u);
  EXPECT_EQ(s.streams, 3u);
  EXPECT_NEAR(s.ttft_avg_s, (0.5 + 1.0 + 0.25) / 3, 1e-12);
  EXPECT_NEAR(s.ttft_p50_s, 0.5, 0.5 * kEps);
  EXPECT_NEAR(s.ttft_p95_s, 1.0, 1.0 * kEps);
  EXPECT_NEAR(s.ttft_p99_s, 1.0, 1.0 * kEps);
  EXPECT_EQ(s.ttft_sketch.count(), 3u);
  // Completion tokens of streams over their time after the first token.
  EXPECT_NEAR(s.output_tokens_per_second,
              (30.0 + 40 + 25) / ((2.0 - 0.5) + (3.0 - 1.0) + (1.5 - 0.25)),
              1e-9);
  // No inter-token gaps recorded.
  EXPECT_EQ(s.inter_token_samples, 0u);
  EXPECT_EQ(s.itl_p50_s, 0);
}

TEST(ResponseTimeTrackerStreamTest, OutputRateFallsBackToTokensAndClampsTtft) {
  ResponseTimeTracker t;
  const int id = t.Intern("llm");
  OperationRecord r = StreamRec(2.0, 1.0, 0);
  r.tokens = 50;  // no completion split: the total counts as output
  t.Record(id, r);
  // A time to first token beyond the duration adds no generation time.
  t.Record(id, StreamRec(1.0, 1.5, 10));
  const OperationStats s = t.GetStats("llm");
  EXPECT_EQ(s.streams, 2u);
  EXPECT_NEAR(s.output_tokens_per_second, (50.0 + 10) / 1.0, 1e-9);
}

TEST(ResponseTimeTrackerStreamTest, NoStreamsLeavesStreamFieldsZero) {
  ResponseTimeTracker t;
  const int id = t.Intern("retrieval");
  t.Record(id, Rec(0.5, kNow, true, 10));
  const OperationStats s = t.GetStats("retrieval");
  EXPECT_EQ(s.streams, 0u);
  EXPECT_EQ(s.ttft_avg_s, 0);
  EXPECT_EQ(s.ttft_p95_s, 0);
  EXPECT_EQ(s.output_tokens_per_second, 0);
  EXPECT_TRUE(s.ttft_sketch.empty());
  EXPECT_TRUE(s.itl_sketch.empty());
}

TEST(ResponseTimeTrackerStreamTest, InterTokenGapsSplitEvenly) {
  ResponseTimeTracker t;
  const int id = t.Intern("llm");
  t.RecordInterTokenGap(id, 0.5, 10, kNow);  // 10 tokens, 50 ms each
  const OperationStats s = t.GetStats("llm");
  EXPECT_EQ(s.inter_token_samples, 10u);
  EXPECT_EQ(s.itl_sketch.count(), 10u);
  EXPECT_NEAR(s.itl_p50_s, 0.05, 0.05 * kEps);
  EXPECT_NEAR(s.itl_p99_s, 0.05, 0.05 * kEps);
  EXPECT_NEAR(s.itl_avg_s, 0.05, 1e-12);
  // Gaps of a stream still running: no finished record yet.
  EXPECT_EQ(s.total, 0u);
  EXPECT_EQ(s.streams, 0u);
  EXPECT_TRUE(t.GetAllStats().empty());

  t.RecordInterTokenGap(id, 0.02, 1, kNow + 1);
  t.RecordInterTokenGap(id, 0.02, 1, kNow + 2);
  const OperationStats s2 = t.GetStats("llm");
  EXPECT_EQ(s2.inter_token_samples, 12u);
  EXPECT_NEAR(s2.itl_avg_s, (0.5 + 0.04) / 12, 1e-12);
  EXPECT_NEAR(s2.itl_p50_s, 0.05, 0.05 * kEps);
  EXPECT_NEAR(s2.itl_sketch.Quantile(0.1), 0.02, 0.02 * kEps);
}

TEST(ResponseTimeTrackerStreamTest, InvalidInterTokenGapsAreIgnored) {
  ResponseTimeTracker t;
  const int id = t.Intern("llm");
  t.RecordInterTokenGap(id, 0.5, 0, kNow);
  t.RecordInterTokenGap(id, 0.5, -3, kNow);
  t.RecordInterTokenGap(id, -0.1, 2, kNow);
  t.RecordInterTokenGap(id, std::nan(""), 2, kNow);
  t.RecordInterTokenGap(-1, 0.5, 2, kNow);
  EXPECT_EQ(t.GetStats("llm").inter_token_samples, 0u);
  // A zero gap is valid (tokens in the same chunk).
  t.RecordInterTokenGap(id, 0.0, 4, kNow);
  EXPECT_EQ(t.GetStats("llm").inter_token_samples, 4u);
}

TEST(ResponseTimeTrackerStreamTest, WindowStatsCarryStreams) {
  ResponseTimeTracker t;
  const int id = t.Intern("llm");
  t.Record(id, StreamRec(2.0, 0.4, 16, kNow - 30 * 60));  // old
  t.RecordInterTokenGap(id, 1.0, 10, kNow - 30 * 60);
  t.Record(id, StreamRec(3.0, 0.8, 22, kNow - 20));
  t.RecordInterTokenGap(id, 0.3, 3, kNow - 20);
  absl::StatusOr<OperationStats> w = t.GetWindowStats("llm", 5, kNow);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->total, 1u);
  EXPECT_EQ(w->streams, 1u);
  EXPECT_NEAR(w->ttft_avg_s, 0.8, 1e-12);
  EXPECT_EQ(w->inter_token_samples, 3u);
  EXPECT_NEAR(w->itl_p50_s, 0.1, 0.1 * kEps);
  EXPECT_NEAR(w->output_tokens_per_second, 22 / 2.2, 1e-9);
  const OperationStats all = t.GetStats("llm");
  EXPECT_EQ(all.streams, 2u);
  EXPECT_EQ(all.inter_token_samples, 13u);
  // Clear forgets streams and gaps too.
  t.Clear();
  const OperationStats cleared = t.GetStats("llm");
  EXPECT_EQ(cleared.streams, 0u);
  EXPECT_EQ(cleared.inter_token_samples, 0u);
  EXPECT_EQ(t.GetWindowStats("llm", 60, kNow)->inter_token_samples, 0u);
}

TEST(ResponseTimeTrackerStreamTest, StreamsFromManyThreadsAddUp) {
  ResponseTimeTracker t;
  const int id = t.Intern("llm");
  constexpr int kThreads = 8;
  constexpr int kPerThread = 2000;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&t, id] {
      for (int k = 0; k < kPerThread; ++k) {
        t.Record(id, StreamRec(1.0, 0.5, 8));
        t.RecordInterTokenGap(id, 0.25, 5, kNow);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  const OperationStats s = t.GetStats("llm");
  EXPECT_EQ(s.streams, uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(s.inter_token_samples, 5ull * kThreads * kPerThread);
  EXPECT_NEAR(s.output_tokens_per_second, 8 / 0.5, 1e-9);
  EXPECT_NEAR(s.itl_p50_s, 0.05, 0.05 * kEps);
}

TEST(ResponseTimeTrackerCostTest, CostAggregatesKnownCostsOnly) {
  ResponseTimeTracker t;
  const int id = t.Intern("llm");
  OperationRecord priced = Rec(1.0);
  priced.model = "gpt-4o-mini";
  priced.has_cost = true;
  priced.cost_usd = 0.25;
  t.Record(id, priced);
  priced.cost_usd = 0.5;
  t.Record(id, priced);
  OperationRecord unpriced = Rec(1.0);
  unpriced.model = "local-llama";  // a model, but no known cost
  t.Record(id, unpriced);
  t.Record(id, Rec(1.0));  // no model: neither priced nor unpriced

  const OperationStats s = t.GetStats("llm");
  EXPECT_EQ(s.total, 4u);
  EXPECT_TRUE(s.has_cost);
  EXPECT_DOUBLE_EQ(s.cost_usd, 0.75);
  EXPECT_EQ(s.priced_operations, 2u);
  EXPECT_EQ(s.unpriced_operations, 1u);

  absl::StatusOr<OperationStats> w = t.GetWindowStats("llm", 1, kNow);
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(w->has_cost);
  EXPECT_DOUBLE_EQ(w->cost_usd, 0.75);
  EXPECT_EQ(w->unpriced_operations, 1u);
}

TEST(ResponseTimeTrackerCostTest, OnlyUnpricedMeansNoCost) {
  ResponseTimeTracker t;
  const int id = t.Intern("llm");
  OperationRecord r = Rec(1.0);
  r.model = "local-llama";
  t.Record(id, r);
  t.Record(id, r);
  const OperationStats s = t.GetStats("llm");
  EXPECT_FALSE(s.has_cost);
  EXPECT_EQ(s.cost_usd, 0);
  EXPECT_EQ(s.priced_operations, 0u);
  EXPECT_EQ(s.unpriced_operations, 2u);
  // A known cost of zero is still a known cost.
  OperationRecord free_op = Rec(1.0);
  free_op.model = "free";
  free_op.has_cost = true;
  free_op.cost_usd = 0;
  t.Record(id, free_op);
  EXPECT_TRUE(t.GetStats("llm").has_cost);
  EXPECT_EQ(t.GetStats("llm").cost_usd, 0);
}

TEST(ResponseTimeTrackerCacheTest, CacheHitsAndMisses) {
  ResponseTimeTracker t;
  const int id = t.Intern("embed");
  for (int hit : {1, 1, 0, -1, 1, 0}) {
    OperationRecord r = Rec(0.01);
    r.cache_hit = hit;
    t.Record(id, r);
  }
  const OperationStats s = t.GetStats("embed");
  EXPECT_EQ(s.total, 6u);
  EXPECT_EQ(s.cache_hits, 3u);
  EXPECT_EQ(s.cache_misses, 2u);
  absl::StatusOr<OperationStats> w = t.GetWindowStats("embed", 1, kNow);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->cache_hits, 3u);
  EXPECT_EQ(w->cache_misses, 2u);
  t.Clear();
  EXPECT_EQ(t.GetStats("embed").cache_hits, 0u);
}

TEST(ResponseTimeTrackerColdStartTest, FirstRecordIsTheColdStart) {
  ResponseTimeTracker t;
  const int id = t.Intern("llm");
  EXPECT_FALSE(t.GetStats("llm").has_cold_start);
  t.Record(id, Rec(4.0, kNow));
  t.Record(id, Rec(0.1, kNow + 1));
  t.Record(id, Rec(0.2, kNow + 2));
  const OperationStats s = t.GetStats("llm");
  EXPECT_TRUE(s.has_cold_start);
  EXPECT_DOUBLE_EQ(s.cold_start_s, 4.0);
  EXPECT_DOUBLE_EQ(s.cold_start_timestamp_s, kNow);
  // Windows have no cold start.
  EXPECT_FALSE(t.GetWindowStats("llm", 5, kNow + 2)->has_cold_start);
}

TEST(ResponseTimeTrackerColdStartTest, EarliestFirstRecordAcrossThreads) {
  ResponseTimeTracker t;
  const int id = t.Intern("llm");
  // Three threads (one shard each) run one after the other; the one that
  // runs second holds the earliest timestamp.
  struct Run {
    double first_ts;
    double first_duration;
  };
  for (const Run& run : {Run{kNow + 10, 1.0}, Run{kNow + 5, 2.0},
                         Run{kNow + 20, 3.0}}) {
    std::thread([&t, id, run] {
      t.Record(id, Rec(run.first_duration, run.first_ts));
      t.Record(id, Rec(0.1, run.first_ts + 100));
    }).join();
  }
  const OperationStats s = t.GetStats("llm");
  EXPECT_EQ(s.total, 6u);
  EXPECT_TRUE(s.has_cold_start);
  EXPECT_DOUBLE_EQ(s.cold_start_s, 2.0);
  EXPECT_DOUBLE_EQ(s.cold_start_timestamp_s, kNow + 5);

  // Only the very first record is marked in the recent records.
  const std::vector<RecentRecord> recent = t.GetRecent("llm", 100);
  ASSERT_EQ(recent.size(), 6u);
  int cold = 0;
  for (const RecentRecord& r : recent) {
    if (r.cold_start) {
      ++cold;
      EXPECT_DOUBLE_EQ(r.timestamp_s, kNow + 5);
      EXPECT_DOUBLE_EQ(r.duration_s, 2.0);
    }
  }
  EXPECT_EQ(cold, 1);
  EXPECT_TRUE(recent.front().cold_start);  // sorted by time: it comes first

  // Clear resets the cold start; the next record is the new one.
  t.Clear();
  EXPECT_FALSE(t.GetStats("llm").has_cold_start);
  t.Record(id, Rec(0.3, kNow + 400));
  t.Record(id, Rec(7.0, kNow + 500));
  const OperationStats after = t.GetStats("llm");
  EXPECT_TRUE(after.has_cold_start);
  EXPECT_DOUBLE_EQ(after.cold_start_s, 0.3);
  EXPECT_DOUBLE_EQ(after.cold_start_timestamp_s, kNow + 400);
  int cold_after = 0;
  for (const RecentRecord& r : t.GetRecent("llm", 100)) cold_after += r.cold_start;
  EXPECT_EQ(cold_after, 1);
}

TEST(ResponseTimeTrackerRateTest, AllTimeRequestsPerSecond) {
  ResponseTimeTracker t;
  const int id = t.Intern("q");
  t.Record(id, Rec(0.1, kNow));
  // One record spans no time: 0, not inf.
  EXPECT_EQ(t.GetStats("q").requests_per_second, 0);
  for (int i = 1; i <= 10; ++i) t.Record(id, Rec(0.1, kNow + i));
  const OperationStats s = t.GetStats("q");
  EXPECT_EQ(s.total, 11u);
  EXPECT_DOUBLE_EQ(s.first_timestamp_s, kNow);
  EXPECT_DOUBLE_EQ(s.last_timestamp_s, kNow + 10);
  EXPECT_NEAR(s.requests_per_second, 11.0 / 10, 1e-9);
}

TEST(ResponseTimeTrackerRateTest, WindowRequestsPerSecond) {
  ResponseTimeTracker t;
  const int id = t.Intern("q");
  for (int i = 0; i < 66; ++i) t.Record(id, Rec(0.1, kNow - 120 + i));
  t.Record(id, Rec(0.1, kNow - 3600 * 2));  // outside the window
  const double now = kNow + 30;  // kNow is a whole minute
  absl::StatusOr<OperationStats> w = t.GetWindowStats("q", 5, now);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->total, 66u);
  EXPECT_DOUBLE_EQ(w->window_s, 5 * 60 + 30);
  EXPECT_NEAR(w->requests_per_second, 66.0 / 330, 1e-12);
  // An empty window has no rate.
  EXPECT_EQ(t.GetWindowStats("q", 1, kNow + 7200)->requests_per_second, 0);
}

TEST(ResponseTimeTrackerRecentTest, RecentRecordsCarryEveryField) {
  ResponseTimeTracker t;
  const int id = t.Intern("llm");
  OperationRecord ok = Rec(1.5, kNow, true, 120);
  ok.prompt_tokens = 100;
  ok.completion_tokens = 20;
  ok.model = "gpt-4o-mini";
  ok.response_model = "gpt-4o-mini-2024-07-18";
  ok.metadata_json = R"({"user":"u1"})";
  ok.has_time_to_first_token = true;
  ok.time_to_first_token_s = 0.3;
  ok.has_cost = true;
  ok.cost_usd = 0.002;
  ok.cache_hit = 0;
  ok.span_id = 11;
  ok.parent_id = 10;
  ok.trace_id = 9;
  ok.depth = 2;
  ok.error_message = "ignored on success";
  t.Record(id, ok);

  OperationRecord failed = Rec(0.7, kNow + 1, false);
  failed.error_type = "TimeoutError";
  failed.error_message = "upstream timed out";
  failed.metadata_json = R"({"attempt":2})";
  t.Record(id, failed);

  const std::vector<RecentRecord> recent = t.GetRecent("llm", 10);
  ASSERT_EQ(recent.size(), 2u);
  const RecentRecord& a = recent[0];
  EXPECT_DOUBLE_EQ(a.timestamp_s, kNow);
  EXPECT_DOUBLE_EQ(a.duration_s, 1.5);
  EXPECT_EQ(a.tokens, 120);
  EXPECT_EQ(a.prompt_tokens, 100);
  EXPECT_EQ(a.completion_tokens, 20);
  EXPECT_TRUE(a.success);
  EXPECT_EQ(a.model, "gpt-4o-mini");
  EXPECT_EQ(a.response_model, "gpt-4o-mini-2024-07-18");
  EXPECT_EQ(a.metadata_json, R"({"user":"u1"})");
  EXPECT_TRUE(a.has_time_to_first_token);
  EXPECT_DOUBLE_EQ(a.time_to_first_token_s, 0.3);
  EXPECT_TRUE(a.has_cost);
  EXPECT_DOUBLE_EQ(a.cost_usd, 0.002);
  EXPECT_EQ(a.cache_hit, 0);
  EXPECT_EQ(a.span_id, 11u);
  EXPECT_EQ(a.parent_id, 10u);
  EXPECT_EQ(a.trace_id, 9u);
  EXPECT_EQ(a.depth, 2);
  EXPECT_TRUE(a.error_type.empty());
  EXPECT_TRUE(a.error_message.empty());
  EXPECT_TRUE(a.cold_start);

  const RecentRecord& b = recent[1];
  EXPECT_FALSE(b.success);
  EXPECT_EQ(b.error_type, "TimeoutError");
  EXPECT_EQ(b.error_message, "upstream timed out");
  EXPECT_EQ(b.metadata_json, R"({"attempt":2})");
  EXPECT_TRUE(b.model.empty());
  EXPECT_TRUE(b.response_model.empty());  // the reused slot text is cleared
  EXPECT_FALSE(b.has_cost);
  EXPECT_FALSE(b.has_time_to_first_token);
  EXPECT_EQ(b.cache_hit, -1);
  EXPECT_EQ(b.span_id, 0u);
  EXPECT_FALSE(b.cold_start);
}

TEST(ResponseTimeTrackerRecentTest, ColdStartFlagOnlyOnTheFirstRecord) {
  ResponseTimeTracker t(/*max_history=*/5);
  const int id = t.Intern("x");
  for (int i = 0; i < 4; ++i) t.Record(id, Rec(1.0, kNow + i));
  std::vector<RecentRecord> recent = t.GetRecent("x", 10);
  ASSERT_EQ(recent.size(), 4u);
  EXPECT_TRUE(recent[0].cold_start);
  for (size_t i = 1; i < recent.size(); ++i) EXPECT_FALSE(recent[i].cold_start);
  // Once the first record leaves the ring, no record is marked, though the
  // statistics still know the cold start.
  for (int i = 4; i < 10; ++i) t.Record(id, Rec(1.0, kNow + i));
  recent = t.GetRecent("x", 10);
  ASSERT_EQ(recent.size(), 5u);
  for (const RecentRecord& r : recent) EXPECT_FALSE(r.cold_start);
  EXPECT_TRUE(t.GetStats("x").has_cold_start);
  EXPECT_DOUBLE_EQ(t.GetStats("x").cold_start_timestamp_s, kNow);
}

TEST(ResponseTimeTrackerRecentTest, MemoryBytesCountsRecordStrings) {
  ResponseTimeTracker t(/*max_history=*/10);
  const int id = t.Intern("x");
  t.Record(id, Rec(1.0));
  const size_t small = t.MemoryBytes();
  const std::string metadata = "{\"blob\":\"" + std::string(10000, 'z') + "\"}";
  OperationRecord r = Rec(1.0);
  r.metadata_json = metadata;
  t.Record(id, r);
  EXPECT_GE(t.MemoryBytes(), small + metadata.size());
}

}  // namespace
}  // namespace ragperf

namespace ragperf {
namespace {

TEST(ResponseTimeTrackerMergeStateTest, SavedStateRebuildsTheSameStatistics) {
  ResponseTimeTracker a(/*max_history=*/10);
  const int id = a.Intern("op");
  for (int i = 1; i <= 500; ++i) {
    OperationRecord r;
    r.duration_s = 0.001 * i;
    r.tokens = 2;
    r.success = i % 50 != 0;
    r.error_type = "E";
    r.timestamp_s = 1000 + i;
    a.Record(id, r);
  }
  const OperationStats saved = a.GetStats("op");
  ResponseTimeTracker b(/*max_history=*/10);
  ASSERT_TRUE(b.MergeState("op", saved).ok());
  ASSERT_TRUE(b.MergeState("op", saved).ok());
  const OperationStats merged = b.GetStats("op");
  EXPECT_EQ(merged.total, 2 * saved.total);
  EXPECT_EQ(merged.failed, 2 * saved.failed);
  EXPECT_EQ(merged.total_tokens, 2 * saved.total_tokens);
  EXPECT_DOUBLE_EQ(merged.min_s, saved.min_s);
  EXPECT_DOUBLE_EQ(merged.max_s, saved.max_s);
  EXPECT_DOUBLE_EQ(merged.p95_s, saved.p95_s);  // doubled counts, same quantiles
  EXPECT_TRUE(merged.has_cold_start);
  EXPECT_DOUBLE_EQ(merged.cold_start_s, 0.001);
  ASSERT_EQ(merged.errors_by_type.size(), 1u);
  EXPECT_EQ(merged.errors_by_type[0].second, 2 * saved.failed);
}

TEST(ResponseTimeTrackerMergeStateTest, RefusesSketchesOfAnotherAccuracy) {
  ResponseTimeTracker a(/*max_history=*/10, /*relative_accuracy=*/0.01);
  a.RecordDuration("op", 0.5);
  ResponseTimeTracker b(/*max_history=*/10);
  const absl::Status s = b.MergeState("op", a.GetStats("op"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(b.Count("op"), 0u);
}

TEST(ResponseTimeTrackerOperationCountTest, CountsWhatGetAllStatsReturns) {
  ResponseTimeTracker t;
  EXPECT_EQ(t.OperationCount(), 0u);
  t.Intern("interned_only");  // no record: not an operation yet
  t.RecordDuration("a", 0.1);
  t.RecordDuration("b", 0.2);
  t.RecordDuration("b", 0.3);
  t.RecordCancelled(t.Intern("cancelled_only"), kNow);
  EXPECT_EQ(t.OperationCount(), 3u);
  EXPECT_EQ(t.OperationCount(), t.GetAllStats().size());
  t.Clear();
  EXPECT_EQ(t.OperationCount(), 0u);
}

TEST(ResponseTimeTrackerCancelledTest, CountedApartFromRecordsAndWindowed) {
  ResponseTimeTracker t;
  const int id = t.Intern("llm");
  t.Record(id, Rec(0.5));
  t.RecordCancelled(id, kNow);
  t.RecordCancelled(id, kNow - 3 * 3600);  // outside every window
  const OperationStats all = t.GetStats("llm");
  EXPECT_EQ(all.cancelled, 2u);
  EXPECT_EQ(all.total, 1u);
  EXPECT_EQ(all.failed, 0u);
  EXPECT_DOUBLE_EQ(all.error_rate, 0.0);
  EXPECT_EQ(all.sketch.count(), 1u);
  absl::StatusOr<OperationStats> w5 = t.GetWindowStats("llm", 5, kNow);
  ASSERT_TRUE(w5.ok());
  EXPECT_EQ(w5->cancelled, 1u);
  t.Clear();
  EXPECT_EQ(t.GetStats("llm").cancelled, 0u);
}

TEST(ResponseTimeTrackerCancelledTest, OnlyCancelledOperationIsListedAndMerges) {
  ResponseTimeTracker a;
  a.RecordCancelled(a.Intern("stream"), kNow);
  const std::vector<OperationStats> all = a.GetAllStats();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].name, "stream");
  EXPECT_EQ(all[0].cancelled, 1u);
  EXPECT_EQ(all[0].total, 0u);
  ResponseTimeTracker b;
  ASSERT_TRUE(b.MergeState("stream", all[0]).ok());
  ASSERT_TRUE(b.MergeState("stream", all[0]).ok());
  EXPECT_EQ(b.GetStats("stream").cancelled, 2u);
  EXPECT_EQ(b.GetStats("stream").total, 0u);
}

}  // namespace
}  // namespace ragperf

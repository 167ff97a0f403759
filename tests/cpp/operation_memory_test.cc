// Copyright 2026 The ragperf Authors.
//
// Memory per operation (issue #20 item 2): it does not grow with the number
// of recording threads, max_history is per operation, an hour of one-minute
// windows stays small, and the pieces behind it (BinCounts, RecentRecords)
// keep their contents exact.

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "ragperf/bin_counts.h"
#include "ragperf/quantile_sketch.h"
#include "ragperf/recent_records.h"
#include "ragperf/response_time_tracker.h"

namespace ragperf {
namespace {

constexpr double kNow = 1.8e9;
constexpr size_t kKiB = 1024;

OperationRecord Rec(double duration_s, double timestamp_s = kNow) {
  OperationRecord r;
  r.duration_s = duration_s;
  r.timestamp_s = timestamp_s;
  return r;
}

// `threads` threads each record `per_thread` records of every one of `ops`
// operations (with a small metadata JSON); returns MemoryBytes() per
// operation.
size_t BytesPerOperation(int threads, int ops, int per_thread) {
  ResponseTimeTracker t(/*max_history=*/1000);
  std::vector<int> ids;
  for (int i = 0; i < ops; ++i) ids.push_back(t.Intern("op" + std::to_string(i)));
  std::vector<std::thread> pool;
  for (int th = 0; th < threads; ++th) {
    pool.emplace_back([&t, &ids, per_thread, th] {
      for (int k = 0; k < per_thread; ++k) {
        for (const int id : ids) {
          OperationRecord r = Rec(0.001 * (1 + (k * 7 + th) % 300));
          r.metadata_json = R"({"user":"alice","tenant":"acme","k":1})";
          t.Record(id, r);
        }
      }
    });
  }
  for (std::thread& th : pool) th.join();
  EXPECT_EQ(t.Count(), static_cast<uint64_t>(threads) * ops * per_thread);
  return t.MemoryBytes() / static_cast<size_t>(ops);
}

TEST(OperationMemoryTest, DoesNotGrowWithThreads) {
  const size_t one = BytesPerOperation(1, 20, 1200);
  const size_t eight = BytesPerOperation(8, 20, 1200);
  // Before issue #20: 8 full copies (~8x). Now one state per operation.
  EXPECT_LE(eight, one + one / 4) << one << " vs " << eight;
  // 1,000 recent records with metadata plus the sketches: <= 96 KiB.
  EXPECT_LE(eight, 96 * kKiB);
}

TEST(OperationMemoryTest, MaxHistoryIsPerOperationWhateverTheThreads) {
  ResponseTimeTracker t(/*max_history=*/100);
  const int id = t.Intern("x");
  std::vector<std::thread> pool;
  for (int th = 0; th < 8; ++th) {
    pool.emplace_back([&t, id, th] {
      for (int k = 0; k < 500; ++k) {
        t.Record(id, Rec(0.01, kNow + th * 1000 + k));
      }
    });
  }
  for (std::thread& th : pool) th.join();
  const std::vector<RecentRecord> recent = t.GetRecent("x", 100000);
  ASSERT_EQ(recent.size(), 100u);
  for (size_t i = 1; i < recent.size(); ++i) {
    EXPECT_LE(recent[i - 1].timestamp_s, recent[i].timestamp_s);
  }
  EXPECT_EQ(t.Count("x"), 4000u);
}

TEST(OperationMemoryTest, HourOfWindowsStaysSmall) {
  ResponseTimeTracker t(/*max_history=*/100);
  const int id = t.Intern("x");
  std::mt19937_64 rng(20);
  std::lognormal_distribution<double> latency(-2.3, 0.5);  // ~100 ms
  std::vector<double> minute_of_durations(1200);
  for (double& d : minute_of_durations) d = latency(rng);
  const double start = std::floor(kNow / 60) * 60 - 59 * 60;
  for (int minute = 0; minute < 60; ++minute) {
    for (size_t k = 0; k < minute_of_durations.size(); ++k) {
      t.Record(id, Rec(minute_of_durations[k],
                       start + minute * 60 + static_cast<double>(k) * 0.049));
    }
  }
  absl::StatusOr<OperationStats> hour = t.GetWindowStats("x", 60, start + 59 * 60 + 59);
  ASSERT_TRUE(hour.ok());
  EXPECT_EQ(hour->total, 72000u);
  // Before issue #20 ~250 KiB (61 sketches of 8-byte bins, all slots
  // allocated); now ~60 KiB.
  EXPECT_LE(t.MemoryBytes(), 128 * kKiB);
}

TEST(BinCountsTest, WidensWithoutLosingCounts) {
  BinCounts bins;
  bins.Resize(8);
  EXPECT_EQ(bins.width(), 1u);
  EXPECT_EQ(bins.MemoryBytes(), 8u);
  for (int i = 0; i < 300; ++i) bins.Increment(3);
  bins.Increment(5);
  EXPECT_EQ(bins.width(), 2u);
  EXPECT_EQ(bins.Get(3), 300u);
  EXPECT_EQ(bins.Get(5), 1u);
  bins.Add(7, uint64_t{1} << 40);
  EXPECT_EQ(bins.width(), 8u);
  EXPECT_EQ(bins.Get(3), 300u);
  EXPECT_EQ(bins.Get(7), uint64_t{1} << 40);
  bins.Regrow(16, 3, 8, 10);  // counters 3..7 move to 10..14
  EXPECT_EQ(bins.size(), 16u);
  EXPECT_EQ(bins.Get(10), 300u);
  EXPECT_EQ(bins.Get(14), uint64_t{1} << 40);
  EXPECT_EQ(bins.Get(3), 0u);
  const uint64_t values[] = {1, 70000, 2};
  bins.Assign(values, 3);
  EXPECT_EQ(bins.width(), 4u);
  EXPECT_EQ(bins.Get(1), 70000u);
}

TEST(BinCountsTest, SketchCountsCrossEveryWidth) {
  // One bin counted past 255, 65535 (and a merge past 2^32): quantiles,
  // counts and serialization stay exact.
  QuantileSketch a;
  for (int i = 0; i < 70000; ++i) a.Add(0.1);
  a.Add(0.2);
  EXPECT_EQ(a.CountAtMost(0.1), 70000u);
  EXPECT_NEAR(a.Quantile(0.5), 0.1, 0.1 * 0.005);
  QuantileSketch big;
  big.Add(0.1, uint64_t{5} << 32);
  ASSERT_TRUE(a.Merge(big).ok());
  EXPECT_EQ(a.CountAtMost(0.1), (uint64_t{5} << 32) + 70000u);
  absl::StatusOr<QuantileSketch> back = QuantileSketch::Deserialize(a.Serialize());
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->SameContents(a));
  // A narrow sketch holds one byte a bin.
  QuantileSketch narrow;
  for (int i = 0; i < 200; ++i) narrow.Add(0.001 * (1 + i));
  EXPECT_LT(narrow.MemoryBytes(), sizeof(QuantileSketch) + 1024);
}

TEST(RecentRecordsTest, RepeatedTextIsStoredOnce) {
  RecentRecords ring(1000);
  const std::string metadata = R"({"user":"alice","tenant":"acme"})";
  for (int i = 0; i < 5000; ++i) {
    OperationRecord r = Rec(0.01 * (1 + i % 7), kNow + i);
    r.metadata_json = metadata;
    r.model = i % 2 == 0 ? "gpt-4o" : "qwen";
    ring.Push(r);
  }
  EXPECT_EQ(ring.size(), 1000u);
  EXPECT_EQ(ring.distinct_texts(), 2u);
  // 64-byte slots plus two text entries and their index.
  EXPECT_LT(ring.MemoryBytes(), 1000 * 64 + 4 * kKiB);
  int n = 0;
  ring.ForEach([&n, &metadata](RecentRecord&& r) {
    EXPECT_EQ(r.metadata_json, metadata);
    EXPECT_EQ(r.model, (4000 + n) % 2 == 0 ? "gpt-4o" : "qwen");
    EXPECT_DOUBLE_EQ(r.timestamp_s, kNow + 4000 + n);
    ++n;
  });
  EXPECT_EQ(n, 1000);
}

TEST(RecentRecordsTest, EvictedTextIsReleased) {
  RecentRecords ring(10);
  for (int i = 0; i < 100; ++i) {
    OperationRecord r = Rec(0.01);
    r.success = false;
    r.error_type = "ValueError";
    const std::string message = "bad input #" + std::to_string(i);
    r.error_message = message;
    ring.Push(r);
  }
  EXPECT_EQ(ring.distinct_texts(), 10u);  // one per kept record, no more
  std::vector<std::string> messages;
  ring.ForEach([&messages](RecentRecord&& r) {
    EXPECT_FALSE(r.success);
    EXPECT_EQ(r.error_type, "ValueError");
    messages.push_back(r.error_message);
  });
  ASSERT_EQ(messages.size(), 10u);
  EXPECT_EQ(messages.front(), "bad input #90");
  EXPECT_EQ(messages.back(), "bad input #99");
  ring.Clear();
  EXPECT_EQ(ring.distinct_texts(), 0u);
  EXPECT_EQ(ring.MemoryBytes(), 0u);
}

TEST(RecentRecordsTest, TextKeyReusesTheLastTextAndIsForgottenWithIt) {
  RecentRecords ring(3);
  const std::string a = R"({"model": "qwen"})";
  const std::string b = R"({"model": "llama"})";
  // Key 5 names text a; a record with key 0 (unknown) is always compared.
  auto push = [&ring](const std::string& json, absl::string_view model,
                      uint64_t key) {
    OperationRecord r = Rec(0.01);
    r.metadata_json = json;
    r.model = model;
    r.text_key = key;
    ring.Push(r);
  };
  push(a, "qwen", 5);
  push(a, "qwen", 5);  // the shortcut: same id, no comparison
  push(b, "llama", 0);
  push(a, "qwen", 5);  // the last text is b now: compared, finds a
  push(b, "llama", 6);
  push(b, "llama", 6);
  EXPECT_EQ(ring.distinct_texts(), 2u);  // kept: a, b, b
  std::vector<std::string> models;
  ring.ForEach([&models](RecentRecord&& r) { models.push_back(r.model); });
  EXPECT_EQ(models, (std::vector<std::string>{"qwen", "llama", "llama"}));
  // Evicting every record of the last text forgets its key with it.
  push(a, "qwen", 0);
  push(a, "qwen", 0);
  push(a, "qwen", 0);
  EXPECT_EQ(ring.distinct_texts(), 1u);
  push(b, "llama", 6);  // key 6's text was dropped: stored anew
  models.clear();
  ring.ForEach([&models](RecentRecord&& r) { models.push_back(r.model); });
  EXPECT_EQ(models, (std::vector<std::string>{"qwen", "qwen", "llama"}));
  EXPECT_EQ(ring.distinct_texts(), 2u);
  // A plain record evicting the last text's only record drops the text and
  // its key; the key's next record stores it again.
  RecentRecords one(1);
  OperationRecord keyed = Rec(0.01);
  keyed.metadata_json = b;
  keyed.text_key = 9;
  one.Push(keyed);
  one.Push(Rec(0.02), /*extras=*/false);
  EXPECT_EQ(one.distinct_texts(), 0u);
  one.Push(keyed);
  EXPECT_EQ(one.distinct_texts(), 1u);
  one.ForEach([&b](RecentRecord&& r) { EXPECT_EQ(r.metadata_json, b); });
  one.Clear();
  one.Push(keyed);
  one.ForEach([&b](RecentRecord&& r) { EXPECT_EQ(r.metadata_json, b); });
}

TEST(RecentRecordsTest, NestingAndLlmFieldsRoundTrip) {
  RecentRecords ring(4);
  OperationRecord root = Rec(0.5);
  root.span_id = root.trace_id = 7;
  OperationRecord child = Rec(0.2);
  child.span_id = 8;
  child.parent_id = 7;
  child.trace_id = 7;
  child.depth = 1;
  child.has_time_to_first_token = true;
  child.time_to_first_token_s = 0.05;
  child.has_cost = true;
  child.cost_usd = 0.002;
  child.cache_hit = 1;
  child.model = "gpt-4o";
  child.response_model = "gpt-4o-2024-08-06";
  ring.Push(root);
  ring.Push(child);
  std::vector<RecentRecord> got;
  ring.ForEach([&got](RecentRecord&& r) { got.push_back(std::move(r)); });
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].span_id, 7u);
  EXPECT_EQ(got[0].trace_id, 7u);
  EXPECT_EQ(got[0].parent_id, 0u);
  EXPECT_FALSE(got[0].has_cost);
  EXPECT_EQ(got[0].cache_hit, -1);
  EXPECT_EQ(got[1].parent_id, 7u);
  EXPECT_EQ(got[1].trace_id, 7u);
  EXPECT_EQ(got[1].depth, 1);
  EXPECT_TRUE(got[1].has_time_to_first_token);
  EXPECT_DOUBLE_EQ(got[1].time_to_first_token_s, 0.05);
  EXPECT_DOUBLE_EQ(got[1].cost_usd, 0.002);
  EXPECT_EQ(got[1].cache_hit, 1);
  EXPECT_EQ(got[1].model, "gpt-4o");
  EXPECT_EQ(got[1].response_model, "gpt-4o-2024-08-06");
  EXPECT_EQ(got[0].model, "");
}

}  // namespace
}  // namespace ragperf

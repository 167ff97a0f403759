// Copyright 2026 The ragperf Authors.

#include "ragperf/dimension_stats.h"

#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace ragperf {
namespace {

constexpr double kNow = 1.7e9;

OperationRecord Rec(double duration_s, int64_t tokens = 0) {
  OperationRecord r;
  r.duration_s = duration_s;
  r.tokens = tokens;
  r.timestamp_s = kNow;
  return r;
}

TEST(DimensionStatsTest, SplitsAnOperationByValue) {
  DimensionStats dims(100, 0.005);
  bool overflow = true;
  const int qwen = dims.Intern("llm", "model", "qwen", &overflow);
  EXPECT_FALSE(overflow);
  const int llama = dims.Intern("llm", "model", "llama", &overflow);
  EXPECT_NE(qwen, llama);
  EXPECT_EQ(dims.Intern("llm", "model", "qwen", &overflow), qwen);
  for (int i = 0; i < 10; ++i) dims.Record(qwen, Rec(0.1, 5));
  dims.Record(llama, Rec(2.0, 7));
  const OperationStats q = dims.GetStats("llm", "model", "qwen");
  EXPECT_EQ(q.name, "qwen");
  EXPECT_EQ(q.total, 10u);
  EXPECT_EQ(q.total_tokens, 50);
  EXPECT_NEAR(q.p95_s, 0.1, 0.1 * 0.01);
  EXPECT_EQ(dims.GetStats("llm", "model", "llama").total, 1u);
  EXPECT_EQ(dims.GetStats("llm", "tenant", "qwen").total, 0u);
  EXPECT_EQ(dims.Values("llm", "model"),
            (std::vector<std::string>{"llama", "qwen"}));
  absl::StatusOr<OperationStats> w = dims.GetWindowStats("llm", "model", "qwen", 5, kNow);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->total, 10u);
}

TEST(DimensionStatsTest, ValuesBeyondTheCapShareOther) {
  DimensionStats dims(100, 0.005, /*max_values=*/3);
  bool overflow = false;
  for (int i = 0; i < 3; ++i) {
    dims.Record(dims.Intern("op", "user", "u" + std::to_string(i), &overflow), Rec(1));
    EXPECT_FALSE(overflow);
  }
  for (int i = 3; i < 50; ++i) {
    dims.Record(dims.Intern("op", "user", "u" + std::to_string(i), &overflow), Rec(1));
    EXPECT_TRUE(overflow);
  }
  EXPECT_EQ(dims.Values("op", "user"),
            (std::vector<std::string>{"__other__", "u0", "u1", "u2"}));
  EXPECT_EQ(dims.GetStats("op", "user", "__other__").total, 47u);
  // Another operation or dimension has its own cap.
  dims.Intern("op", "tenant", "t", &overflow);
  EXPECT_FALSE(overflow);
  EXPECT_EQ(dims.Pairs().size(), 2u);
}

TEST(DimensionStatsTest, NamesCannotCollide) {
  DimensionStats dims(100, 0.005);
  bool overflow = false;
  const int a = dims.Intern("a1", "b", "c", &overflow);
  const int b = dims.Intern("a", "1b", "c", &overflow);
  EXPECT_NE(a, b);
}

TEST(DimensionStatsTest, ConcurrentRecordsAreExact) {
  DimensionStats dims(100, 0.005);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&dims, t] {
      bool overflow = false;
      for (int i = 0; i < 10000; ++i) {
        const int id = dims.Intern("op", "model", (i + t) % 2 ? "x" : "y", &overflow);
        dims.Record(id, Rec(0.01, 1));
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(dims.GetStats("op", "model", "x").total +
                dims.GetStats("op", "model", "y").total,
            40000u);
  dims.Clear();
  EXPECT_EQ(dims.GetStats("op", "model", "x").total, 0u);
  EXPECT_GT(dims.MemoryBytes(), 0u);
}

}  // namespace
}  // namespace ragperf

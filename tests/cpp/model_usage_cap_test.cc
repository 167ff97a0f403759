// Copyright 2026 The ragperf Authors.
//
// The cap on distinct model names (model_usage.h): names past it add to
// "__other__", priced by their own names; one overflow callback per cap.

#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "ragperf/model_usage.h"
#include "ragperf/overflow_name.h"

namespace ragperf {
namespace {

ModelTotals TotalsOf(const ModelUsage& usage, absl::string_view model) {
  for (const ModelTotals& m : usage.GetAll()) {
    if (m.model == model) return m;
  }
  return ModelTotals();
}

std::vector<std::string> Names(const ModelUsage& usage) {
  std::vector<std::string> out;
  for (const ModelTotals& m : usage.GetAll()) out.push_back(m.model);
  return out;
}

TEST(ModelUsageCapTest, NamesPastTheCapAddToOther) {
  ModelUsage usage(/*max_models=*/2);
  std::vector<std::pair<std::string, size_t>> calls;
  usage.SetOverflowCallback([&](absl::string_view name, size_t cap) {
    calls.emplace_back(std::string(name), cap);
  });
  usage.Record("a", 1, 1, 2, 0.1);
  usage.Record("b", 1, 1, 2, 0.1);
  usage.Record("c", 10, 0, 10, 0.5);
  usage.Record("d", 20, 0, 20, 0.5);
  usage.Record("a", 1, 1, 2, 0.1);  // a known name keeps its own totals
  EXPECT_EQ(Names(usage), (std::vector<std::string>{"__other__", "a", "b"}));
  const ModelTotals other = TotalsOf(usage, kOverflowName);
  EXPECT_EQ(other.operations, 2u);
  EXPECT_EQ(other.prompt_tokens, 30);
  EXPECT_EQ(TotalsOf(usage, "a").operations, 2u);
  EXPECT_TRUE(usage.overflowed());
  EXPECT_EQ(usage.max_models(), 2u);
  ASSERT_EQ(calls.size(), 1u);  // once, with the first name past the cap
  EXPECT_EQ(calls[0].first, "c");
  EXPECT_EQ(calls[0].second, 2u);
}

TEST(ModelUsageCapTest, OverflowedModelsArePricedByTheirOwnNames) {
  ModelUsage usage(/*max_models=*/1);
  ASSERT_TRUE(usage.SetPrice("priced", {1.0, 2.0}).ok());
  usage.Record("first", 5, 5, 10, 0.1);
  const std::optional<double> cost = usage.Record("priced", 1000000, 500000, 1500000, 1.0);
  ASSERT_TRUE(cost.has_value());
  EXPECT_DOUBLE_EQ(*cost, 1.0 + 1.0);
  usage.Record("unpriced", 1, 1, 2, 0.1);
  const ModelTotals other = TotalsOf(usage, kOverflowName);
  EXPECT_EQ(other.operations, 2u);
  EXPECT_TRUE(other.has_cost);
  EXPECT_DOUBLE_EQ(other.cost_usd, 2.0);
  EXPECT_EQ(other.priced_operations, 1u);
  EXPECT_EQ(other.unpriced_operations, 1u);
  EXPECT_FALSE(other.has_price);  // "__other__" has no price of its own
}

TEST(ModelUsageCapTest, HandlesAndMergesFollowTheCap) {
  ModelUsage usage(/*max_models=*/1);
  ASSERT_TRUE(usage.SetPrice("late", {1.0, 1.0}).ok());
  usage.Record("first", 1, 1, 2, 0.1);
  ModelUsageHandle h;
  usage.Resolve("late", &h);
  ASSERT_TRUE(usage.IsCurrent(h));
  EXPECT_TRUE(h.has_price);
  const std::optional<double> cost = usage.Record(h, 1000000, 0, 1000000, 1.0);
  ASSERT_TRUE(cost.has_value());
  EXPECT_DOUBLE_EQ(*cost, 1.0);
  ModelTotals saved;
  saved.model = "merged";
  saved.operations = 3;
  saved.total_tokens = 30;
  usage.MergeTotals(saved);
  ModelTotals other_saved;  // an exported "__other__" row merges into ours
  other_saved.model = std::string(kOverflowName);
  other_saved.operations = 4;
  usage.MergeTotals(other_saved);
  EXPECT_EQ(Names(usage), (std::vector<std::string>{"__other__", "first"}));
  const ModelTotals other = TotalsOf(usage, kOverflowName);
  EXPECT_EQ(other.operations, 1u + 3u + 4u);
  EXPECT_DOUBLE_EQ(other.cost_usd, 1.0);
  EXPECT_TRUE(usage.overflowed());
}

TEST(ModelUsageCapTest, TheCapCoversTheLifetimeAcrossClear) {
  ModelUsage usage(/*max_models=*/1);
  usage.Record("a", 1, 1, 2, 0.1);
  usage.Clear();
  usage.Record("b", 1, 1, 2, 0.1);
  EXPECT_EQ(Names(usage), (std::vector<std::string>{"__other__"}));
  usage.Record("a", 1, 1, 2, 0.1);
  EXPECT_EQ(Names(usage), (std::vector<std::string>{"__other__", "a"}));
}

TEST(ModelUsageCapTest, ThreadsLoseNoOperationPastTheCap) {
  ModelUsage usage(/*max_models=*/8);
  int callbacks = 0;
  usage.SetOverflowCallback([&](absl::string_view, size_t) { ++callbacks; });
  constexpr int kThreads = 4;
  constexpr int kEach = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&usage, t] {
      for (int i = 0; i < kEach; ++i) {
        usage.Record("model-" + std::to_string(t) + "-" + std::to_string(i % 50), 1, 0, 1, 0.001);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  uint64_t operations = 0;
  for (const ModelTotals& m : usage.GetAll()) operations += m.operations;
  EXPECT_EQ(operations, static_cast<uint64_t>(kThreads * kEach));
  EXPECT_EQ(usage.GetAll().size(), 8u + 1u);
  EXPECT_TRUE(usage.overflowed());
  EXPECT_EQ(callbacks, 1);
}

TEST(ModelUsageCapTest, OtherItselfIsNotAnOverflow) {
  ModelUsage usage(/*max_models=*/1);
  usage.Record(kOverflowName, 1, 1, 2, 0.1);  // e.g. merged from an export
  usage.Record("a", 1, 1, 2, 0.1);            // still gets its own totals
  EXPECT_FALSE(usage.overflowed());
  EXPECT_EQ(Names(usage), (std::vector<std::string>{"__other__", "a"}));
}

TEST(ModelUsageCapTest, ZeroIsTakenAsOne) {
  ModelUsage usage(/*max_models=*/0);
  usage.Record("a", 1, 1, 2, 0.1);
  usage.Record("b", 1, 1, 2, 0.1);
  EXPECT_EQ(Names(usage), (std::vector<std::string>{"__other__", "a"}));
}

}  // namespace
}  // namespace ragperf

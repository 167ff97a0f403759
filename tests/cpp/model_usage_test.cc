// Copyright 2026 The ragperf Authors.

#include "ragperf/model_usage.h"

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace ragperf {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

bool Contains(absl::string_view haystack, absl::string_view needle) {
  return haystack.find(needle) != absl::string_view::npos;
}

// The first model of GetAll() named `model`, or a default when missing.
ModelTotals TotalsOf(const ModelUsage& usage, const std::string& model) {
  for (const ModelTotals& m : usage.GetAll()) {
    if (m.model == model) return m;
  }
  ADD_FAILURE() << "no totals for " << model;
  return ModelTotals();
}

TEST(ModelUsageTest, SetPriceAndLookUp) {
  ModelUsage usage;
  EXPECT_FALSE(usage.PriceOf("gpt-4o-mini").has_value());
  ASSERT_TRUE(usage.SetPrice("gpt-4o-mini", {0.15, 0.60}).ok());
  const std::optional<ModelPrice> p = usage.PriceOf("gpt-4o-mini");
  ASSERT_TRUE(p.has_value());
  EXPECT_DOUBLE_EQ(p->input_per_million, 0.15);
  EXPECT_DOUBLE_EQ(p->output_per_million, 0.60);
  // Setting again replaces.
  ASSERT_TRUE(usage.SetPrice("gpt-4o-mini", {1, 2}).ok());
  EXPECT_DOUBLE_EQ(usage.PriceOf("gpt-4o-mini")->output_per_million, 2);
  // Zero is a valid (free) price.
  EXPECT_TRUE(usage.SetPrice("local", {0, 0}).ok());
}

TEST(ModelUsageTest, PricesAreSortedByName) {
  ModelUsage usage;
  ASSERT_TRUE(usage.SetPrice("zeta", {1, 1}).ok());
  ASSERT_TRUE(usage.SetPrice("alpha", {2, 2}).ok());
  ASSERT_TRUE(usage.SetPrice("mid", {3, 3}).ok());
  const auto prices = usage.Prices();
  ASSERT_EQ(prices.size(), 3u);
  EXPECT_EQ(prices[0].first, "alpha");
  EXPECT_EQ(prices[1].first, "mid");
  EXPECT_EQ(prices[2].first, "zeta");
  EXPECT_DOUBLE_EQ(prices[0].second.input_per_million, 2);
}

TEST(ModelUsageTest, SetPriceRejectsBadNames) {
  ModelUsage usage;
  absl::Status s = usage.SetPrice("", {1, 1});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s.message(), "(0)")) << s;

  const std::string too_long(ModelUsage::kMaxModelNameLength + 1, 'm');
  s = usage.SetPrice(too_long, {1, 1});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s.message(), std::to_string(ModelUsage::kMaxModelNameLength + 1))) << s;
  EXPECT_TRUE(usage.Prices().empty());

  const std::string longest(ModelUsage::kMaxModelNameLength, 'm');
  EXPECT_TRUE(usage.SetPrice(longest, {1, 1}).ok());
}

TEST(ModelUsageTest, SetPriceRejectsNegativeAndNonFinitePrices) {
  ModelUsage usage;
  struct Case {
    ModelPrice price;
    const char* shown;  // how the bad value appears in the message
  };
  for (const Case& c : {Case{{-0.5, 1}, "-0.5"}, Case{{1, -2.25}, "-2.25"},
                        Case{{kNaN, 1}, "nan"}, Case{{1, kInf}, "inf"},
                        Case{{-kInf, 1}, "-inf"}}) {
    const absl::Status s = usage.SetPrice("model-x", c.price);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.shown;
    EXPECT_TRUE(Contains(s.message(), c.shown)) << s;
    EXPECT_TRUE(Contains(s.message(), "model-x")) << s;
  }
  EXPECT_FALSE(usage.PriceOf("model-x").has_value());
}

TEST(ModelUsageTest, InvalidSetPriceKeepsTheOldPrice) {
  ModelUsage usage;
  ASSERT_TRUE(usage.SetPrice("m", {1, 2}).ok());
  EXPECT_FALSE(usage.SetPrice("m", {-1, 2}).ok());
  ASSERT_TRUE(usage.PriceOf("m").has_value());
  EXPECT_DOUBLE_EQ(usage.PriceOf("m")->input_per_million, 1);
}

TEST(ModelUsageTest, SetPricesReplacesTheWholeTable) {
  ModelUsage usage;
  ASSERT_TRUE(usage.SetPrice("a", {1, 1}).ok());
  ASSERT_TRUE(usage.SetPrice("b", {2, 2}).ok());
  ASSERT_TRUE(usage.SetPrices({{"c", {3, 4}}, {"d", {5, 6}}}).ok());
  EXPECT_FALSE(usage.PriceOf("a").has_value());
  EXPECT_FALSE(usage.PriceOf("b").has_value());
  ASSERT_TRUE(usage.PriceOf("c").has_value());
  EXPECT_DOUBLE_EQ(usage.PriceOf("c")->output_per_million, 4);
  EXPECT_DOUBLE_EQ(usage.PriceOf("d")->input_per_million, 5);
  ASSERT_TRUE(usage.SetPrices({}).ok());
  EXPECT_TRUE(usage.Prices().empty());
}

TEST(ModelUsageTest, SetPricesIsAtomicOnError) {
  ModelUsage usage;
  ASSERT_TRUE(usage.SetPrices({{"a", {1, 1}}, {"b", {2, 2}}}).ok());
  // The bad entry comes last: nothing before it may be applied either.
  absl::Status s =
      usage.SetPrices({{"c", {3, 3}}, {"d", {4, 4}}, {"bad", {kNaN, 1}}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s.message(), "bad")) << s;
  s = usage.SetPrices({{"c", {3, 3}}, {"", {1, 1}}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  const auto prices = usage.Prices();
  ASSERT_EQ(prices.size(), 2u);
  EXPECT_EQ(prices[0].first, "a");
  EXPECT_EQ(prices[1].first, "b");
  EXPECT_FALSE(usage.PriceOf("c").has_value());
}

TEST(ModelUsageTest, RecordReturnsCostFromPromptAndCompletion) {
  ModelUsage usage;
  ASSERT_TRUE(usage.SetPrice("gpt-4o-mini", {0.15, 0.60}).ok());
  const std::optional<double> cost =
      usage.Record("gpt-4o-mini", 1000, 200, 1200, 0.8);
  ASSERT_TRUE(cost.has_value());
  EXPECT_NEAR(*cost, 1000 * 0.15 / 1e6 + 200 * 0.60 / 1e6, 1e-15);
  const std::optional<double> second =
      usage.Record("gpt-4o-mini", 3000000, 1000000, 4000000, 1.2);
  ASSERT_TRUE(second.has_value());
  EXPECT_NEAR(*second, 3 * 0.15 + 1 * 0.60, 1e-12);

  const ModelTotals m = TotalsOf(usage, "gpt-4o-mini");
  EXPECT_EQ(m.operations, 2u);
  EXPECT_EQ(m.prompt_tokens, 3001000);
  EXPECT_EQ(m.completion_tokens, 1000200);
  EXPECT_EQ(m.total_tokens, 4001200);
  EXPECT_NEAR(m.duration_s, 2.0, 1e-12);
  EXPECT_TRUE(m.has_price);
  EXPECT_DOUBLE_EQ(m.price.input_per_million, 0.15);
  EXPECT_DOUBLE_EQ(m.price.output_per_million, 0.60);
  EXPECT_TRUE(m.has_cost);
  EXPECT_NEAR(m.cost_usd, *cost + *second, 1e-12);
  EXPECT_EQ(m.unpriced_operations, 0u);
}

TEST(ModelUsageTest, ZeroPriceIsAKnownCostOfZero) {
  ModelUsage usage;
  ASSERT_TRUE(usage.SetPrice("local", {0, 0}).ok());
  const std::optional<double> cost = usage.Record("local", 10, 10, 20, 1);
  ASSERT_TRUE(cost.has_value());
  EXPECT_EQ(*cost, 0);
  const ModelTotals m = TotalsOf(usage, "local");
  EXPECT_TRUE(m.has_cost);
  EXPECT_EQ(m.cost_usd, 0);
  EXPECT_EQ(m.unpriced_operations, 0u);
}

TEST(ModelUsageTest, UnknownModelHasNoCost) {
  ModelUsage usage;
  ASSERT_TRUE(usage.SetPrice("priced", {1, 1}).ok());
  EXPECT_FALSE(usage.Record("local-llama", 50, 10, 60, 0.2).has_value());
  EXPECT_FALSE(usage.Record("local-llama", 5, 1, 6, 0.1).has_value());
  const ModelTotals m = TotalsOf(usage, "local-llama");
  EXPECT_EQ(m.operations, 2u);
  EXPECT_EQ(m.total_tokens, 66);
  EXPECT_FALSE(m.has_price);
  EXPECT_FALSE(m.has_cost);
  EXPECT_EQ(m.cost_usd, 0);
  EXPECT_EQ(m.unpriced_operations, 2u);
}

TEST(ModelUsageTest, TotalOnlyTokensWithDifferentPricesHaveNoCost) {
  ModelUsage usage;
  ASSERT_TRUE(usage.SetPrice("split", {1, 3}).ok());
  EXPECT_FALSE(usage.Record("split", 0, 0, 1000, 1).has_value());
  EXPECT_FALSE(usage.CostOf("split", 0, 0, 1000).has_value());
  ModelTotals m = TotalsOf(usage, "split");
  EXPECT_TRUE(m.has_price);
  EXPECT_FALSE(m.has_cost);
  EXPECT_EQ(m.unpriced_operations, 1u);
  EXPECT_EQ(m.total_tokens, 1000);
  // A later split operation makes the cost known, and the unknown one
  // stays counted.
  const std::optional<double> cost = usage.Record("split", 100, 10, 110, 1);
  ASSERT_TRUE(cost.has_value());
  EXPECT_NEAR(*cost, (100 * 1 + 10 * 3) / 1e6, 1e-15);
  m = TotalsOf(usage, "split");
  EXPECT_TRUE(m.has_cost);
  EXPECT_NEAR(m.cost_usd, *cost, 1e-15);
  EXPECT_EQ(m.unpriced_operations, 1u);
  EXPECT_EQ(m.operations, 2u);
}

TEST(ModelUsageTest, TotalOnlyTokensWithEqualPricesUseTheTotal) {
  ModelUsage usage;
  ASSERT_TRUE(usage.SetPrice("flat", {2, 2}).ok());
  const std::optional<double> cost = usage.Record("flat", 0, 0, 500000, 1);
  ASSERT_TRUE(cost.has_value());
  EXPECT_NEAR(*cost, 500000 * 2 / 1e6, 1e-12);
  EXPECT_NEAR(*usage.CostOf("flat", 0, 0, 500000), 1.0, 1e-12);
  const ModelTotals m = TotalsOf(usage, "flat");
  EXPECT_TRUE(m.has_cost);
  EXPECT_NEAR(m.cost_usd, 1.0, 1e-12);
  EXPECT_EQ(m.unpriced_operations, 0u);
}

TEST(ModelUsageTest, NoTokensCostsNothing) {
  ModelUsage usage;
  ASSERT_TRUE(usage.SetPrice("split", {1, 3}).ok());
  const std::optional<double> cost = usage.Record("split", 0, 0, 0, 0.5);
  ASSERT_TRUE(cost.has_value());
  EXPECT_EQ(*cost, 0);
}

TEST(ModelUsageTest, CostOfDoesNotRecord) {
  ModelUsage usage;
  ASSERT_TRUE(usage.SetPrice("m", {10, 20}).ok());
  const std::optional<double> cost = usage.CostOf("m", 1000, 500, 1500);
  ASSERT_TRUE(cost.has_value());
  EXPECT_NEAR(*cost, (1000 * 10 + 500 * 20) / 1e6, 1e-15);
  EXPECT_FALSE(usage.CostOf("unknown", 1, 1, 2).has_value());
  EXPECT_TRUE(usage.GetAll().empty());
}

TEST(ModelUsageTest, EmptyModelRecordsNothing) {
  ModelUsage usage;
  EXPECT_FALSE(usage.Record("", 1, 1, 2, 1).has_value());
  EXPECT_TRUE(usage.GetAll().empty());
}

TEST(ModelUsageTest, OverlongModelNamesAreCapped) {
  ModelUsage usage;
  const std::string name(ModelUsage::kMaxModelNameLength + 50, 'x');
  usage.Record(name, 1, 1, 2, 1);
  usage.Record(name + "y", 1, 1, 2, 1);  // same first kMaxModelNameLength bytes
  const std::vector<ModelTotals> all = usage.GetAll();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].model.size(), ModelUsage::kMaxModelNameLength);
  EXPECT_EQ(all[0].operations, 2u);
}

TEST(ModelUsageTest, GetAllIsSortedByName) {
  ModelUsage usage;
  for (const char* m : {"mistral", "claude", "gpt", "llama", "bert"}) {
    usage.Record(m, 1, 1, 2, 1);
  }
  const std::vector<ModelTotals> all = usage.GetAll();
  ASSERT_EQ(all.size(), 5u);
  const std::vector<std::string> expected = {"bert", "claude", "gpt", "llama",
                                             "mistral"};
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].model, expected[i]);
}

TEST(ModelUsageTest, HasCostStaysFalseUntilAPricedOperation) {
  ModelUsage usage;
  usage.Record("m", 10, 10, 20, 1);
  EXPECT_FALSE(TotalsOf(usage, "m").has_cost);
  EXPECT_FALSE(TotalsOf(usage, "m").has_price);
  // A price set later applies to later operations only.
  ASSERT_TRUE(usage.SetPrice("m", {1e6, 1e6}).ok());  // $1 per token
  ModelTotals m = TotalsOf(usage, "m");
  EXPECT_TRUE(m.has_price);
  EXPECT_FALSE(m.has_cost);
  EXPECT_EQ(m.unpriced_operations, 1u);
  const std::optional<double> cost = usage.Record("m", 3, 2, 5, 1);
  ASSERT_TRUE(cost.has_value());
  EXPECT_DOUBLE_EQ(*cost, 5);
  m = TotalsOf(usage, "m");
  EXPECT_TRUE(m.has_cost);
  EXPECT_DOUBLE_EQ(m.cost_usd, 5);
  EXPECT_EQ(m.unpriced_operations, 1u);
  EXPECT_EQ(m.operations, 2u);
}

TEST(ModelUsageTest, TokensPerSecond) {
  ModelUsage usage;
  usage.Record("m", 100, 50, 150, 0.5);
  usage.Record("m", 200, 100, 300, 1.0);
  const ModelTotals m = TotalsOf(usage, "m");
  EXPECT_NEAR(m.tokens_per_second, 450 / 1.5, 1e-9);
  // No duration: 0, not inf or NaN.
  usage.Record("instant", 10, 10, 20, 0);
  EXPECT_EQ(TotalsOf(usage, "instant").tokens_per_second, 0);
}

TEST(ModelUsageTest, ClearForgetsTotalsButKeepsPrices) {
  ModelUsage usage;
  ASSERT_TRUE(usage.SetPrice("m", {1, 2}).ok());
  usage.Record("m", 10, 10, 20, 1);
  usage.Record("other", 10, 10, 20, 1);
  usage.Clear();
  EXPECT_TRUE(usage.GetAll().empty());
  ASSERT_TRUE(usage.PriceOf("m").has_value());
  EXPECT_DOUBLE_EQ(usage.PriceOf("m")->output_per_million, 2);
  const std::optional<double> cost = usage.Record("m", 1000000, 0, 1000000, 1);
  ASSERT_TRUE(cost.has_value());
  EXPECT_DOUBLE_EQ(*cost, 1);
  const ModelTotals m = TotalsOf(usage, "m");
  EXPECT_EQ(m.operations, 1u);
  EXPECT_DOUBLE_EQ(m.cost_usd, 1);
}

TEST(ModelUsageTest, ConcurrentRecordsAreExact) {
  ModelUsage usage;
  ASSERT_TRUE(usage.SetPrice("priced", {1e6 / 1024, 1e6 / 512}).ok());
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&usage, t] {
      const std::string own = "own_" + std::to_string(t);
      for (int i = 0; i < kPerThread; ++i) {
        usage.Record("priced", 1, 1, 2, 0.25);
        usage.Record("unpriced", 3, 1, 4, 0.5);
        usage.Record(own, 1, 0, 1, 0.125);
      }
    });
  }
  // A reader meanwhile sees monotonic counts.
  uint64_t last = 0;
  for (int i = 0; i < 50; ++i) {
    for (const ModelTotals& m : usage.GetAll()) {
      if (m.model != "priced") continue;
      EXPECT_GE(m.operations, last);
      last = m.operations;
    }
  }
  for (std::thread& th : threads) th.join();

  constexpr uint64_t kTotal = uint64_t{kThreads} * kPerThread;
  const ModelTotals priced = TotalsOf(usage, "priced");
  EXPECT_EQ(priced.operations, kTotal);
  EXPECT_EQ(priced.prompt_tokens, static_cast<int64_t>(kTotal));
  EXPECT_EQ(priced.completion_tokens, static_cast<int64_t>(kTotal));
  EXPECT_EQ(priced.total_tokens, static_cast<int64_t>(2 * kTotal));
  EXPECT_DOUBLE_EQ(priced.duration_s, 0.25 * static_cast<double>(kTotal));
  EXPECT_TRUE(priced.has_cost);
  const double expected_cost =
      static_cast<double>(kTotal) * (1.0 / 1024 + 1.0 / 512);
  EXPECT_NEAR(priced.cost_usd, expected_cost, expected_cost * 1e-9);
  EXPECT_EQ(priced.unpriced_operations, 0u);

  const ModelTotals unpriced = TotalsOf(usage, "unpriced");
  EXPECT_EQ(unpriced.operations, kTotal);
  EXPECT_EQ(unpriced.total_tokens, static_cast<int64_t>(4 * kTotal));
  EXPECT_EQ(unpriced.unpriced_operations, kTotal);
  EXPECT_FALSE(unpriced.has_cost);

  EXPECT_EQ(usage.GetAll().size(), 2u + kThreads);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(TotalsOf(usage, "own_" + std::to_string(t)).operations,
              static_cast<uint64_t>(kPerThread));
  }
}

}  // namespace
TEST(ModelUsageTest, CappedNamesStayValidUtf8) {
  ModelUsage usage;
  std::string name;
  for (int i = 0; i < 300; ++i) name += "\xE2\x82\xAC";  // 300 x U+20AC, 900 bytes
  usage.Record(name, 1, 1, 2, 1);
  const std::vector<ModelTotals> all = usage.GetAll();
  ASSERT_EQ(all.size(), 1u);
  // 266 whole characters (798 bytes): a 3-byte character is never split.
  EXPECT_EQ(all[0].model.size(), 798u);
  EXPECT_EQ(all[0].model, name.substr(0, 798));
}

TEST(ModelUsageTest, WithoutDateSuffix) {
  EXPECT_EQ(ModelUsage::WithoutDateSuffix("gpt-4o-mini-2024-07-18"),
            "gpt-4o-mini");
  EXPECT_EQ(ModelUsage::WithoutDateSuffix("gpt-4o-mini"), "gpt-4o-mini");
  EXPECT_EQ(ModelUsage::WithoutDateSuffix("-2024-07-18"), "-2024-07-18");
  EXPECT_EQ(ModelUsage::WithoutDateSuffix("m-2024-7-180"), "m-2024-7-180");
  EXPECT_EQ(ModelUsage::WithoutDateSuffix("m-2024-07-1x"), "m-2024-07-1x");
  EXPECT_EQ(ModelUsage::WithoutDateSuffix("gpt-4-0613"), "gpt-4-0613");
  EXPECT_EQ(ModelUsage::WithoutDateSuffix(""), "");
}

TEST(ModelUsageTest, PriceLookupOrderRequestedResponseThenUndated) {
  ModelUsage usage;
  ASSERT_TRUE(usage.SetPrice("gpt-4o-mini", {0.15, 0.60}).ok());
  ASSERT_TRUE(usage.SetPrice("served-2024-01-02", {1, 1}).ok());
  // The requested model's price, whatever the response names.
  EXPECT_DOUBLE_EQ(
      usage.PriceFor("gpt-4o-mini", "served-2024-01-02")->input_per_million,
      0.15);
  // No price for the request: the response model's.
  EXPECT_DOUBLE_EQ(
      usage.PriceFor("other", "served-2024-01-02")->input_per_million, 1);
  // A dated request or response falls back to the undated name.
  EXPECT_DOUBLE_EQ(
      usage.PriceFor("gpt-4o-mini-2024-07-18", "")->input_per_million, 0.15);
  EXPECT_DOUBLE_EQ(
      usage.PriceFor("alias", "gpt-4o-mini-2024-07-18")->input_per_million,
      0.15);
  EXPECT_FALSE(usage.PriceFor("other", "").has_value());
  EXPECT_FALSE(usage.PriceFor("", "").has_value());
  EXPECT_FALSE(usage.PriceOf("gpt-4o-mini-2024-07-18").has_value());  // exact
  // CostOf and Record use the same lookup.
  const double expected = (1000 * 0.15 + 200 * 0.60) * 1e-6;
  EXPECT_DOUBLE_EQ(*usage.CostOf("gpt-4o-mini-2024-07-18", 1000, 200, 1200),
                   expected);
  EXPECT_DOUBLE_EQ(*usage.Record("gpt-4o-mini", "gpt-4o-mini-2024-07-18",
                                 1000, 200, 1200, 0.5),
                   expected);
}

TEST(ModelUsageTest, TotalsAreKeyedByRequestedModelWithResponseModels) {
  ModelUsage usage;
  ASSERT_TRUE(usage.SetPrice("gpt-4o-mini", {0.15, 0.60}).ok());
  usage.Record("gpt-4o-mini", "gpt-4o-mini-2024-07-18", 10, 2, 12, 0.1);
  usage.Record("gpt-4o-mini", "gpt-4o-mini-2024-07-18", 10, 2, 12, 0.1);
  usage.Record("gpt-4o-mini", "gpt-4o-mini-2024-09-01", 10, 2, 12, 0.1);
  usage.Record("gpt-4o-mini", "", 10, 2, 12, 0.1);
  usage.Record("dated-2024-05-06", 1, 1, 2, 0.1);
  const std::vector<ModelTotals> all = usage.GetAll();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].model, "gpt-4o-mini");
  EXPECT_EQ(all[1].operations, 4u);
  EXPECT_EQ(all[1].priced_operations, 4u);
  EXPECT_EQ(all[1].response_models,
            (std::vector<std::string>{"gpt-4o-mini-2024-07-18",
                                      "gpt-4o-mini-2024-09-01"}));
  EXPECT_TRUE(all[0].response_models.empty());
  EXPECT_FALSE(all[0].has_price);

  // Listed up to kMaxResponseModels; merged like the counts.
  ModelUsage many;
  for (size_t i = 0; i < ModelUsage::kMaxResponseModels + 5; ++i) {
    many.Record("m", "m-v" + std::to_string(100 + i), 1, 1, 2, 0.1);
  }
  EXPECT_EQ(TotalsOf(many, "m").response_models.size(),
            ModelUsage::kMaxResponseModels);
  ModelUsage merged;
  merged.Record("gpt-4o-mini", "a", 1, 1, 2, 0.1);
  merged.MergeTotals(all[1]);
  EXPECT_EQ(TotalsOf(merged, "gpt-4o-mini").response_models,
            (std::vector<std::string>{"a", "gpt-4o-mini-2024-07-18",
                                      "gpt-4o-mini-2024-09-01"}));
}

TEST(ModelUsageTest, ListedPriceFollowsTheLookup) {
  ModelUsage usage;
  ASSERT_TRUE(usage.SetPrice("gpt-4o-mini", {0.15, 0.60}).ok());
  usage.Record("gpt-4o-mini-2024-07-18", 1, 1, 2, 0.1);
  const ModelTotals t = TotalsOf(usage, "gpt-4o-mini-2024-07-18");
  EXPECT_TRUE(t.has_price);
  EXPECT_DOUBLE_EQ(t.price.output_per_million, 0.60);
  EXPECT_EQ(t.priced_operations, 1u);
}

// Every change of the tables must be seen by the next record.
TEST(ModelUsageTest, RecordsByNameSeeEveryChangeOfTheTables) {
  ModelUsage usage;
  EXPECT_FALSE(usage.Record("qwen", 100, 20, 120, 0.5).has_value());
  ASSERT_TRUE(usage.SetPrice("qwen", {1.0, 2.0}).ok());
  EXPECT_DOUBLE_EQ(*usage.Record("qwen", 1000000, 0, 1000000, 0.5), 1.0);
  ASSERT_TRUE(usage.SetPrices({{"qwen", {3.0, 3.0}}}).ok());
  EXPECT_DOUBLE_EQ(*usage.Record("qwen", 1000000, 0, 1000000, 0.5), 3.0);
  // Other models in between, enough to grow the table past its first size.
  for (int i = 0; i < 100; ++i) {
    usage.Record("model-" + std::to_string(i), 1, 1, 2, 0.1);
    usage.Record("qwen", 1, 0, 1, 0.1);
  }
  // The same model answered by a response model is another pair.
  usage.Record("qwen", "qwen-2024-01-01", 1, 0, 1, 0.1);
  ModelTotals qwen = TotalsOf(usage, "qwen");
  EXPECT_EQ(qwen.operations, 104u);
  EXPECT_EQ(qwen.prompt_tokens, 100 + 2000000 + 101);
  EXPECT_EQ(qwen.response_models, std::vector<std::string>{"qwen-2024-01-01"});
  EXPECT_EQ(TotalsOf(usage, "model-99").operations, 1u);
  usage.Clear();
  usage.Record("qwen", 5, 0, 5, 0.1);
  EXPECT_EQ(TotalsOf(usage, "qwen").operations, 1u);
  ModelTotals saved;
  saved.model = "qwen";
  saved.operations = 10;
  usage.MergeTotals(saved);
  usage.Record("qwen", 5, 0, 5, 0.1);
  EXPECT_EQ(TotalsOf(usage, "qwen").operations, 12u);
}

TEST(ModelUsageTest, HandlesRecordLikeNamesUntilAPriceChanges) {
  ModelUsage usage;
  ASSERT_TRUE(usage.SetPrice("qwen", {1.0, 2.0}).ok());
  ModelUsageHandle h;
  EXPECT_FALSE(usage.IsCurrent(h));  // not filled yet
  usage.Resolve("qwen", &h);
  ASSERT_TRUE(usage.IsCurrent(h));
  EXPECT_DOUBLE_EQ(*usage.Record(h, 1000000, 1000000, 2000000, 0.5), 3.0);
  usage.Record("qwen", 1, 1, 2, 0.5);  // by name: the same entry
  ModelTotals q = TotalsOf(usage, "qwen");
  EXPECT_EQ(q.operations, 2u);
  EXPECT_EQ(q.prompt_tokens, 1000001);
  EXPECT_EQ(q.priced_operations, 2u);
  EXPECT_DOUBLE_EQ(q.duration_s, 1.0);
  // A price change makes the handle stale until resolved again.
  ASSERT_TRUE(usage.SetPrice("other", {1.0, 1.0}).ok());
  EXPECT_FALSE(usage.IsCurrent(h));
  usage.Resolve("qwen", &h);
  ASSERT_TRUE(usage.SetPrices({}).ok());
  EXPECT_FALSE(usage.IsCurrent(h));
  usage.Resolve("qwen", &h);
  EXPECT_FALSE(usage.Record(h, 10, 0, 10, 0.1).has_value());  // no price now
  // Clear() zeroes the entry the handle points at; it stays usable.
  usage.Clear();
  EXPECT_TRUE(usage.GetAll().empty());
  ASSERT_TRUE(usage.IsCurrent(h));
  usage.Record(h, 5, 0, 5, 0.1);
  q = TotalsOf(usage, "qwen");
  EXPECT_EQ(q.operations, 1u);
  EXPECT_EQ(q.unpriced_operations, 1u);
  // Saturating like the named path.
  usage.Record(h, std::numeric_limits<int64_t>::max(), 0, 0, 0.1);
  usage.Record(h, std::numeric_limits<int64_t>::max(), 0, 0, 0.1);
  EXPECT_EQ(TotalsOf(usage, "qwen").prompt_tokens,
            std::numeric_limits<int64_t>::max());
}

TEST(ModelUsageTest, HandlesOfManyThreadsLoseNoUpdate) {
  ModelUsage usage;
  ASSERT_TRUE(usage.SetPrice("qwen", {1.0, 1.0}).ok());
  constexpr int kThreads = 4;
  constexpr int kEach = 5000;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&usage, i] {
      ModelUsageHandle h;
      for (int n = 0; n < kEach; ++n) {
        if (!usage.IsCurrent(h)) usage.Resolve("qwen", &h);
        usage.Record(h, 2, 1, 3, 0.001);
        if (i == 0 && n % 1000 == 0) usage.GetAll();  // a reader meanwhile
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const ModelTotals q = TotalsOf(usage, "qwen");
  EXPECT_EQ(q.operations, static_cast<uint64_t>(kThreads * kEach));
  EXPECT_EQ(q.total_tokens, 3 * kThreads * kEach);
  EXPECT_NEAR(q.cost_usd, 3e-6 * kThreads * kEach, 1e-9);
  EXPECT_NEAR(q.duration_s, 0.001 * kThreads * kEach, 1e-6);
}

}  // namespace ragperf

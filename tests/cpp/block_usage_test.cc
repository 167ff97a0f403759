// Copyright 2026 The ragperf Authors.
//
// BlockUsage (token bookkeeping of one block) and InFlightCounts.

#include "ragperf/block_usage.h"

#include <limits>

#include "gtest/gtest.h"
#include "ragperf/in_flight.h"

namespace ragperf {
namespace {

TEST(BlockUsageTest, TotalDefaultsToPromptPlusCompletion) {
  BlockUsage u;
  EXPECT_EQ(u.Total(), 0);
  u.prompt_tokens = 100;
  u.completion_tokens = 20;
  EXPECT_EQ(u.Total(), 120);
  u.SetTotal(7);
  EXPECT_EQ(u.Total(), 7);
  u.prompt_tokens = std::numeric_limits<int64_t>::max();
  u.tokens_set = false;
  EXPECT_EQ(u.Total(), std::numeric_limits<int64_t>::max());  // saturates
}

TEST(BlockUsageTest, SetUsageReplacesAndNeverAdds) {
  BlockUsage u;
  u.SetUsage(10, 5, 15);
  u.SetUsage(11, 6, 17);
  EXPECT_EQ(u.prompt_tokens, 11);
  EXPECT_EQ(u.completion_tokens, 6);
  EXPECT_EQ(u.Total(), 17);
}

TEST(BlockUsageTest, StreamedTokens) {
  BlockUsage u;
  EXPECT_EQ(u.AddTokens(0, 1000), -1);  // nothing arrived
  EXPECT_FALSE(u.has_first_token());
  EXPECT_EQ(u.AddTokens(1, 5000), -1);  // the first: no gap yet
  EXPECT_EQ(u.first_token_ns, 5000);
  EXPECT_DOUBLE_EQ(u.AddTokens(2, 9000), 4e-6);
  EXPECT_EQ(u.first_token_ns, 5000);
  EXPECT_EQ(u.completion_tokens, 3);
  EXPECT_EQ(u.Total(), 3);
  u.SetTotal(10);
  u.AddTokens(1, 10000);  // a set total follows the stream
  EXPECT_EQ(u.Total(), 11);
  EXPECT_DOUBLE_EQ(u.TimeToFirstTokenS(1000), 4e-6);
  EXPECT_EQ(u.TimeToFirstTokenS(6000), 0);  // never negative
  u.MarkFirstToken(20000);  // the first one stays
  EXPECT_EQ(u.first_token_ns, 5000);
  u.RestartStream();
  EXPECT_FALSE(u.has_first_token());
  EXPECT_EQ(u.AddTokens(1, 30000), -1);
}

TEST(InFlightCountsTest, CountsActiveBlocksPerOperation) {
  InFlightCounts in_flight;
  EXPECT_TRUE(in_flight.Active().empty());
  EXPECT_EQ(in_flight.count(7), 0);
  in_flight.Enter(3);
  in_flight.Enter(3);
  in_flight.Enter(0);
  in_flight.Exit(3);
  EXPECT_EQ(in_flight.count(3), 1);
  const auto active = in_flight.Active();
  ASSERT_EQ(active.size(), 2u);
  EXPECT_EQ(active[0], (std::pair<int, int32_t>{0, 1}));
  EXPECT_EQ(active[1], (std::pair<int, int32_t>{3, 1}));
  in_flight.Exit(0);
  in_flight.Exit(3);
  EXPECT_TRUE(in_flight.Active().empty());
}

}  // namespace
}  // namespace ragperf

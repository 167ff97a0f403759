// Copyright 2026 The ragperf Authors.

#include "ragperf/stats_fields.h"

#include <set>
#include <string>

#include "gtest/gtest.h"
#include "ragperf/json_writer.h"

namespace ragperf {
namespace {

std::string Json(const OperationStats& op) {
  JsonWriter w;
  WriteOperationJson(op, w);
  return w.Take();
}

TEST(StatsFieldsTest, EveryNameStandsOnce) {
  std::set<std::string> members, attributes, paths;
  for (const StatField& f : StatFields()) {
    if (*f.member != '\0') {
      EXPECT_TRUE(members.insert(f.member).second) << f.member;
    }
    if (*f.attribute != '\0') {
      EXPECT_TRUE(attributes.insert(f.attribute).second) << f.attribute;
    }
    if (*f.report_path != '\0') {
      EXPECT_TRUE(paths.insert(f.report_path).second) << f.report_path;
    }
  }
  EXPECT_EQ(members.count("p95_s"), 1u);
  EXPECT_EQ(paths.count("duration.p95"), 1u);
}

TEST(StatsFieldsTest, EveryValueFieldHasItsMember) {
  for (const StatField& f : StatFields()) {
    EXPECT_EQ(f.type == StatType::kCount, f.count_member != nullptr) << f.member;
    EXPECT_EQ(f.type == StatType::kInt, f.int_member != nullptr) << f.member;
    EXPECT_EQ(f.type == StatType::kDouble, f.double_member != nullptr) << f.member;
  }
}

TEST(StatsFieldsTest, StatDoubleReadsTheMember) {
  OperationStats s;
  s.p95_s = 0.25;
  s.total = 7;
  s.cache_hits = 1;
  s.cache_misses = 3;
  for (const StatField& f : StatFields()) {
    const std::string member = f.member;
    if (member == "p95_s") {
      EXPECT_EQ(StatDouble(f, s), 0.25);
    }
    if (member == "total") {
      EXPECT_EQ(StatDouble(f, s), 7.0);
    }
    if (std::string(f.report_path) == "cache.hit_rate") {
      EXPECT_EQ(StatDouble(f, s), 0.25);
    }
  }
}

TEST(StatsFieldsTest, ReportEntryOfAnEmptyOperation) {
  OperationStats op;
  EXPECT_EQ(
      Json(op),
      R"({"total":0,"successful":0,"failed":0,"cancelled":0,"error_rate":0.0,)"
      R"("duration":{"min":0.0,"max":0.0,"avg":0.0,"p50":0.0,"p95":0.0,"p99":0.0,"p90":0.0,"total_s":0.0},)"
      R"("tokens":{"total":0,"avg":0.0,"prompt":0,"completion":0,"per_second":0.0},)"
      R"("memory":{"samples":0,"total_delta_mb":0.0,"avg_delta_mb":0.0},)"
      R"("gpu_memory":{"samples":0,"total_delta_mb":0.0,"avg_delta_mb":0.0},)"
      R"("errors_by_type":{},"first_timestamp_unix_s":0.0,"last_timestamp_unix_s":0.0,)"
      R"("requests_per_second":0.0,"cost_usd":null,"priced_operations":0,"unpriced_operations":0,)"
      R"("latency_classes":{"good":0,"acceptable":0,"investigate":0,"good_below_s":0.0,"investigate_above_s":0.0}})");
}

TEST(StatsFieldsTest, OptionalSectionsAppearWithTheirValues) {
  OperationStats op;
  op.has_cost = true;
  op.cost_usd = 0.5;
  op.cache_hits = 3;
  op.cache_misses = 1;
  op.inter_token_samples = 2;  // a stream section without a first token
  op.itl_p50_s = 0.01;
  op.has_cold_start = true;
  op.cold_start_s = 1.5;
  op.errors_by_type = {{"KeyError", 2}};
  const std::string json = Json(op);
  EXPECT_NE(json.find(R"("errors_by_type":{"KeyError":2})"), std::string::npos);
  EXPECT_NE(json.find(R"("cost_usd":0.5,)"), std::string::npos);
  EXPECT_NE(json.find(R"("cache":{"hits":3,"misses":1,"hit_rate":0.75})"),
            std::string::npos);
  EXPECT_NE(json.find(R"("streaming":{"streams":0,"time_to_first_token_s":{"avg":0.0,"p50":0.0,"p95":0.0,"p99":0.0},)"
                      R"("inter_token_latency_s":{"samples":2,"avg":0.0,"p50":0.01,"p95":0.0,"p99":0.0},)"
                      R"("output_tokens_per_second":0.0})"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("cold_start":{"duration_s":1.5,"timestamp_unix_s":0.0})"),
            std::string::npos);
  EXPECT_EQ(json.find("window_s"), std::string::npos);
}

TEST(StatsFieldsTest, StateFieldsAreTableFieldsInTheirOrder) {
  OperationStats op;
  op.total = 3;
  op.failed = 1;
  op.stream_output_tokens = 12;
  op.cost_usd = 0.25;  // has_cost false: the state keeps the plain sum
  JsonWriter w;
  w.BeginObject();
  WriteOperationStateFields(op, w);
  w.EndObject();
  EXPECT_EQ(
      w.Take(),
      R"({"total":3,"failed":1,"cancelled":0,"sum_s":0.0,"min_s":0.0,"max_s":0.0,)"
      R"("total_tokens":0,"prompt_tokens":0,"completion_tokens":0,"memory_samples":0,)"
      R"("total_memory_delta_mb":0.0,"gpu_memory_samples":0,"total_gpu_memory_delta_mb":0.0,)"
      R"("first_timestamp_s":0.0,"last_timestamp_s":0.0,"priced_operations":0,)"
      R"("unpriced_operations":0,"cost_usd":0.25,"cache_hits":0,"cache_misses":0,)"
      R"("streams":0,"stream_output_tokens":12,"stream_generation_s":0.0,)"
      R"("cold_start_s":null,"cold_start_timestamp_s":0.0,"errors_by_type":{}})");
  for (const StateField& sf : StateFields()) {
    ASSERT_NE(sf.field, nullptr);
    EXPECT_EQ(FindStatField(sf.field->member), sf.field);
  }
  EXPECT_EQ(FindStatField("no_such_field"), nullptr);
}

TEST(StatsFieldsTest, KnownIfNamesTheCountingField) {
  EXPECT_STREQ(StatKnownIf(StatKnown::kStreams), "streams");
  EXPECT_STREQ(StatKnownIf(StatKnown::kInterToken), "inter_token_samples");
  EXPECT_STREQ(StatKnownIf(StatKnown::kCost), "");
}

}  // namespace
}  // namespace ragperf

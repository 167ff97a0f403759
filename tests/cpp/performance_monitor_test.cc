// Copyright 2026 The ragperf Authors.

#include "ragperf/performance_monitor.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace ragperf {
namespace {

PerformanceMonitor::Options Opts() {
  PerformanceMonitor::Options o;
  o.enable_memory_tracking = false;
  return o;
}

void RecordN(PerformanceMonitor& m, absl::string_view name, int n,
             bool success, double duration_s = 0.01) {
  const int id = m.Intern(name);
  for (int i = 0; i < n; ++i) {
    OperationRecord r;
    r.duration_s = duration_s;
    r.success = success;
    r.tokens = 10;
    r.timestamp_s = WallNowSeconds();
    if (!success) r.error_type = "TimeoutError";
    m.Record(id, r);
  }
}

bool Contains(const std::string& haystack, absl::string_view needle) {
  return haystack.find(std::string(needle)) != std::string::npos;
}

TEST(PerformanceMonitorTest, ClocksAdvance) {
  const int64_t a = SteadyNowNanos();
  const int64_t b = SteadyNowNanos();
  EXPECT_GE(b, a);
  EXPECT_GT(WallNowSeconds(), 1.6e9);  // after 2020
}

TEST(PerformanceMonitorTest, ValidateOptionsNamesBadValue) {
  PerformanceMonitor::Options o = Opts();
  EXPECT_TRUE(PerformanceMonitor::ValidateOptions(o).ok());
  o.relative_accuracy = 1.5;
  absl::Status s = PerformanceMonitor::ValidateOptions(o);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(std::string(s.message()), "1.5"));
  o = Opts();
  o.memory_threshold_mb = -1;
  EXPECT_FALSE(PerformanceMonitor::ValidateOptions(o).ok());
  o = Opts();
  o.error_rate_threshold = 2;
  EXPECT_FALSE(PerformanceMonitor::ValidateOptions(o).ok());
  o = Opts();
  o.max_history = 0;
  EXPECT_FALSE(PerformanceMonitor::ValidateOptions(o).ok());
}

TEST(PerformanceMonitorTest, HealthyByDefault) {
  PerformanceMonitor m(Opts());
  RecordN(m, "retrieval", 20, true);
  const HealthStatus h = m.GetHealth();
  EXPECT_TRUE(h.healthy) << (h.issues.empty() ? "" : h.issues[0]);
  EXPECT_EQ(h.total_operations, 20u);
  EXPECT_GT(h.memory_mb, 0);
}

TEST(PerformanceMonitorTest, ErrorRateAboveThresholdWarns) {
  PerformanceMonitor m(Opts());
  RecordN(m, "llm_inference", 8, true);
  RecordN(m, "llm_inference", 2, false);  // 20% > 10%
  RecordN(m, "retrieval", 10, true);
  const HealthStatus h = m.GetHealth();
  EXPECT_FALSE(h.healthy);
  ASSERT_EQ(h.issues.size(), 1u);
  EXPECT_TRUE(Contains(h.issues[0], "llm_inference"));
  EXPECT_TRUE(Contains(h.issues[0], "20.0%"));
  ASSERT_TRUE(m.SetErrorRateThreshold(0.25).ok());
  EXPECT_TRUE(m.GetHealth().healthy);
  EXPECT_FALSE(m.SetErrorRateThreshold(-0.1).ok());
}

TEST(PerformanceMonitorTest, MemoryAboveThresholdWarns) {
  PerformanceMonitor m(Opts());
  ASSERT_TRUE(m.SetMemoryThresholdMb(1).ok());  // any process exceeds 1 MB
  const HealthStatus h = m.GetHealth();
  EXPECT_FALSE(h.healthy);
  ASSERT_FALSE(h.issues.empty());
  EXPECT_TRUE(Contains(h.issues[0], "High memory"));
  EXPECT_FALSE(m.SetMemoryThresholdMb(0).ok());
}

TEST(PerformanceMonitorTest, ReportCarriesSeedSchemaKeys) {
  PerformanceMonitor m(Opts());
  RecordN(m, "llm_inference", 24, true, 1.0);
  RecordN(m, "llm_inference", 1, false, 2.0);
  const Report r = m.GenerateReport();
  EXPECT_EQ(r.total_operations, 25u);
  EXPECT_EQ(r.total_failed, 1u);
  ASSERT_EQ(r.operations.size(), 1u);
  EXPECT_EQ(r.operations[0].total_tokens, 250);
  EXPECT_GT(r.memory.current_rss_mb, 0);
  const std::string json = PerformanceMonitor::ReportToJson(r, 0);
  for (absl::string_view key :
       {"\"timestamp\":", "\"total_operations\":25", "\"memory\":{",
        "\"current_rss_mb\":", "\"min_rss_mb\":", "\"max_rss_mb\":",
        "\"avg_rss_mb\":", "\"operations\":{\"llm_inference\":{",
        "\"total\":25", "\"successful\":24", "\"failed\":1",
        "\"duration\":{\"min\":1.0,\"max\":2.0", "\"p50\":", "\"p95\":",
        "\"p99\":", "\"tokens\":{\"total\":250,\"avg\":10.0",
        "\"TimeoutError\":1", "\"health\":{\"status\":\"healthy\""}) {
    EXPECT_TRUE(Contains(json, key)) << key << " missing in " << json;
  }
  EXPECT_EQ(json.back(), '\n');
}

TEST(PerformanceMonitorTest, ExportJsonWritesFileAtomically) {
  PerformanceMonitor m(Opts());
  RecordN(m, "x", 3, true);
  char tmpl[] = "/tmp/ragperf_pm_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/metrics.json";
  ASSERT_TRUE(m.ExportJson(path).ok());
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_TRUE(Contains(ss.str(), "\"total_operations\": 3"));
  EXPECT_FALSE(m.ExportJson(std::string(tmpl) + "/missing/m.json").ok());
  unlink(path.c_str());
  rmdir(tmpl);
}

TEST(PerformanceMonitorTest, RecordFeedsMemoryAggregates) {
  PerformanceMonitor m(Opts());
  const int id = m.Intern("embed");
  OperationRecord r;
  r.duration_s = 0.1;
  r.has_memory_delta = true;
  r.memory_delta_mb = 12.5;
  r.timestamp_s = WallNowSeconds();
  m.Record(id, r, /*rss_end_mb=*/1e6);  // implausibly large, to find it
  const OperationStats s = m.tracker().GetStats("embed");
  EXPECT_EQ(s.memory_samples, 1u);
  EXPECT_DOUBLE_EQ(s.total_memory_delta_mb, 12.5);
  EXPECT_DOUBLE_EQ(m.memory().GetStats().max_rss_mb, 1e6);
}

TEST(PerformanceMonitorTest, ClearForgetsEverything) {
  PerformanceMonitor m(Opts());
  RecordN(m, "x", 5, false);
  m.Clear();
  const Report r = m.GenerateReport();
  EXPECT_EQ(r.total_operations, 0u);
  EXPECT_TRUE(r.operations.empty());
  EXPECT_TRUE(r.health.healthy);
}

TEST(PerformanceMonitorTest, MemoryTrackingToggle) {
  PerformanceMonitor::Options o = Opts();
  o.enable_memory_tracking = true;
  PerformanceMonitor m(o);
  EXPECT_TRUE(m.memory_tracking());
  m.set_memory_tracking(false);
  EXPECT_FALSE(m.memory_tracking());
}

}  // namespace
}  // namespace ragperf

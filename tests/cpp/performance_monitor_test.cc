// Copyright 2026 The ragperf Authors.

#include "ragperf/performance_monitor.h"

#include <unistd.h>

#include <cctype>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

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

// ---------------------------------------------------------------------------
// Models, caches, errors, latency targets and classes, cold start, report

constexpr double kT0 = 1.8e9;  // a fixed wall-clock time, unix seconds

// Minimal JSON well-formedness check (RFC 8259 grammar, no semantics).
class JsonChecker {
 public:
  explicit JsonChecker(absl::string_view text) : s_(text) {}
  bool Valid() {
    SkipWs();
    if (!Value()) return false;
    SkipWs();
    return i_ == s_.size();
  }

 private:
  void SkipWs() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' ||
                              s_[i_] == '\t' || s_[i_] == '\r')) {
      ++i_;
    }
  }
  bool Literal(absl::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }
  bool String() {
    if (i_ >= s_.size() || s_[i_] != '"') return false;
    for (++i_; i_ < s_.size(); ++i_) {
      const char c = s_[i_];
      if (c == '"') {
        ++i_;
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c == '\\') {
        if (++i_ >= s_.size()) return false;
        if (s_[i_] == 'u') {
          for (int k = 0; k < 4; ++k) {
            if (++i_ >= s_.size() || !std::isxdigit(
                                         static_cast<unsigned char>(s_[i_]))) {
              return false;
            }
          }
        } else if (std::string("\"\\/bfnrt").find(s_[i_]) == std::string::npos) {
          return false;
        }
      }
    }
    return false;
  }
  bool Number() {
    const size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    const size_t digits = i_;
    while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    if (i_ == digits) return false;
    if (s_[digits] == '0' && i_ - digits > 1) return false;  // leading zero
    if (i_ < s_.size() && s_[i_] == '.') {
      const size_t frac = ++i_;
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
      if (i_ == frac) return false;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      const size_t exp = i_;
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
      if (i_ == exp) return false;
    }
    return i_ > start;
  }
  bool Value() {
    if (i_ >= s_.size()) return false;
    switch (s_[i_]) {
      case '{': {
        ++i_;
        SkipWs();
        if (i_ < s_.size() && s_[i_] == '}') {
          ++i_;
          return true;
        }
        while (true) {
          SkipWs();
          if (!String()) return false;
          SkipWs();
          if (i_ >= s_.size() || s_[i_] != ':') return false;
          ++i_;
          SkipWs();
          if (!Value()) return false;
          SkipWs();
          if (i_ < s_.size() && s_[i_] == ',') {
            ++i_;
            continue;
          }
          if (i_ < s_.size() && s_[i_] == '}') {
            ++i_;
            return true;
          }
          return false;
        }
      }
      case '[': {
        ++i_;
        SkipWs();
        if (i_ < s_.size() && s_[i_] == ']') {
          ++i_;
          return true;
        }
        while (true) {
          SkipWs();
          if (!Value()) return false;
          SkipWs();
          if (i_ < s_.size() && s_[i_] == ',') {
            ++i_;
            continue;
          }
          if (i_ < s_.size() && s_[i_] == ']') {
            ++i_;
            return true;
          }
          return false;
        }
      }
      case '"':
        return String();
      case 't':
        return Literal("true");
      case 'f':
        return Literal("false");
      case 'n':
        return Literal("null");
      default:
        return Number();
    }
  }

  absl::string_view s_;
  size_t i_ = 0;
};

bool IsValidJson(absl::string_view text) { return JsonChecker(text).Valid(); }

TEST(JsonCheckerTest, AcceptsAndRejects) {
  EXPECT_TRUE(IsValidJson(R"({"a":[1,-2.5e3,true,null,"x\n"],"b":{}})"));
  EXPECT_FALSE(IsValidJson(R"({"a":1,})"));
  EXPECT_FALSE(IsValidJson(R"({"a":nan})"));
  EXPECT_FALSE(IsValidJson(R"({"a":1}{)"));
  EXPECT_FALSE(IsValidJson(R"({"a":01})"));
}

OperationRecord At(double duration_s, double timestamp_s = kT0) {
  OperationRecord r;
  r.duration_s = duration_s;
  r.timestamp_s = timestamp_s;
  return r;
}

// The text of the JSON object that follows `"key":` in compact JSON.
std::string ObjectAfter(const std::string& json, const std::string& key) {
  const size_t at = json.find("\"" + key + "\":{");
  if (at == std::string::npos) return "";
  size_t i = at + key.size() + 3;
  int depth = 0;
  bool in_string = false;
  for (size_t k = i; k < json.size(); ++k) {
    const char c = json[k];
    if (in_string) {
      if (c == '\\') {
        ++k;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{') {
      ++depth;
    } else if (c == '}' && --depth == 0) {
      return json.substr(i, k - i + 1);
    }
  }
  return "";
}

TEST(PerformanceMonitorModelTest, RecordWithModelFeedsUsageAndCost) {
  PerformanceMonitor m(Opts());
  ASSERT_TRUE(m.models().SetPrice("gpt-4o-mini", {0.15, 0.60}).ok());
  const int id = m.Intern("llm_inference");
  OperationRecord r = At(0.8);
  r.model = "gpt-4o-mini";
  r.prompt_tokens = 1000;
  r.completion_tokens = 200;
  r.tokens = 1200;
  m.Record(id, r);
  m.Record(id, r);
  OperationRecord local = At(0.2);
  local.model = "local-llama";
  local.prompt_tokens = 50;
  local.completion_tokens = 10;
  local.tokens = 60;
  m.Record(id, local);

  const double one = 1000 * 0.15e-6 + 200 * 0.60e-6;
  const std::vector<ModelTotals> models = m.models().GetAll();
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[0].model, "gpt-4o-mini");
  EXPECT_EQ(models[0].operations, 2u);
  EXPECT_EQ(models[0].prompt_tokens, 2000);
  EXPECT_EQ(models[0].completion_tokens, 400);
  EXPECT_EQ(models[0].total_tokens, 2400);
  EXPECT_NEAR(models[0].duration_s, 1.6, 1e-12);
  EXPECT_TRUE(models[0].has_cost);
  EXPECT_NEAR(models[0].cost_usd, 2 * one, 1e-15);
  EXPECT_EQ(models[1].model, "local-llama");
  EXPECT_FALSE(models[1].has_cost);
  EXPECT_EQ(models[1].unpriced_operations, 1u);

  const OperationStats s = m.GetStats("llm_inference");
  EXPECT_EQ(s.total, 3u);
  EXPECT_TRUE(s.has_cost);
  EXPECT_NEAR(s.cost_usd, 2 * one, 1e-15);
  EXPECT_EQ(s.priced_operations, 2u);
  EXPECT_EQ(s.unpriced_operations, 1u);

  // The record itself carries its cost into the recent records.
  const std::vector<RecentRecord> recent = m.tracker().GetRecent("llm_inference", 3);
  ASSERT_EQ(recent.size(), 3u);
  EXPECT_TRUE(recent[0].has_cost);
  EXPECT_NEAR(recent[0].cost_usd, one, 1e-15);
  EXPECT_EQ(recent[0].model, "gpt-4o-mini");
  EXPECT_FALSE(recent[2].has_cost);

  const Report report = m.GenerateReport();
  EXPECT_TRUE(report.has_cost);
  EXPECT_NEAR(report.total_cost_usd, 2 * one, 1e-15);
  EXPECT_EQ(report.models.size(), 2u);
}

TEST(PerformanceMonitorModelTest, RecordWithoutModelDoesNotTouchUsage) {
  PerformanceMonitor m(Opts());
  const int id = m.Intern("retrieval");
  OperationRecord r = At(0.1);
  r.tokens = 10;
  r.has_cost = true;  // only PerformanceMonitor sets costs: a model is needed
  r.cost_usd = 5;
  m.Record(id, r);
  EXPECT_TRUE(m.models().GetAll().empty());
  EXPECT_TRUE(m.caches().GetAll().empty());
  EXPECT_TRUE(m.errors().Recent(10).empty());
}

TEST(PerformanceMonitorErrorTest, FailureGoesToTheErrorLog) {
  PerformanceMonitor m(Opts());
  const int id = m.Intern("llm_inference");
  OperationRecord r = At(1.25, kT0 + 3);
  r.success = false;
  r.error_type = "TimeoutError";
  r.error_message = "upstream timed out after 30s";
  r.metadata_json = R"({"user":"u1","attempt":2})";
  r.model = "gpt-4o";
  r.span_id = 77;
  r.trace_id = 70;
  m.Record(id, r);
  OperationRecord untyped = At(0.5, kT0 + 4);
  untyped.success = false;
  m.Record(id, untyped);
  m.Record(id, At(0.1, kT0 + 5));  // a success adds nothing

  const std::vector<ErrorEntry> errors = m.errors().Recent(10);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].operation, "llm_inference");
  EXPECT_EQ(errors[0].error_type, "TimeoutError");
  EXPECT_EQ(errors[0].message, "upstream timed out after 30s");
  EXPECT_EQ(errors[0].metadata_json, R"({"user":"u1","attempt":2})");
  EXPECT_EQ(errors[0].model, "gpt-4o");
  EXPECT_DOUBLE_EQ(errors[0].timestamp_s, kT0 + 3);
  EXPECT_DOUBLE_EQ(errors[0].duration_s, 1.25);
  EXPECT_EQ(errors[0].span_id, 77u);
  EXPECT_EQ(errors[0].trace_id, 70u);
  EXPECT_EQ(errors[1].error_type, "Error");  // no type given
  EXPECT_EQ(errors[1].message, "");
  EXPECT_TRUE(errors[1].metadata_json.empty());

  const OperationStats s = m.GetStats("llm_inference");
  EXPECT_EQ(s.failed, 2u);
  ASSERT_EQ(s.errors_by_type.size(), 2u);
  EXPECT_EQ(s.errors_by_type[0].first, "Error");
  EXPECT_EQ(s.errors_by_type[1].first, "TimeoutError");
}

TEST(PerformanceMonitorCacheTest, CacheLookupsAreCountedByOperation) {
  PerformanceMonitor m(Opts());
  const int id = m.Intern("embedding_cache");
  for (int hit : {1, 1, 1, 0}) {
    OperationRecord r = At(0.001);
    r.cache_hit = hit;
    m.Record(id, r);
  }
  m.Record(id, At(0.001));  // not a lookup
  const CacheCounts c = m.caches().Get("embedding_cache");
  EXPECT_EQ(c.hits, 3u);
  EXPECT_EQ(c.misses, 1u);
  EXPECT_DOUBLE_EQ(c.hit_rate(), 0.75);
  EXPECT_EQ(m.caches().GetAll().size(), 1u);
  const OperationStats s = m.GetStats("embedding_cache");
  EXPECT_EQ(s.cache_hits, 3u);
  EXPECT_EQ(s.cache_misses, 1u);
  EXPECT_EQ(s.total, 5u);
}

TEST(PerformanceMonitorLatencyTest, SetLatencyTargetValidates) {
  PerformanceMonitor m(Opts());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (const LatencyTarget& bad :
       {LatencyTarget{0, 5}, LatencyTarget{-1, 5}, LatencyTarget{3, 2},
        LatencyTarget{nan, 5}, LatencyTarget{1, nan}, LatencyTarget{1, inf},
        LatencyTarget{inf, inf}}) {
    const absl::Status s = m.SetLatencyTarget("op", bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument)
        << bad.good_below_s << " " << bad.investigate_above_s;
  }
  const absl::Status s = m.SetLatencyTarget("", {3.5, 2.25});
  EXPECT_TRUE(Contains(std::string(s.message()), "3.5")) << s;
  EXPECT_TRUE(Contains(std::string(s.message()), "2.25")) << s;
  // Nothing changed.
  const LatencyTarget t = m.LatencyTargetFor("op");
  EXPECT_EQ(t.good_below_s, 2.0);
  EXPECT_EQ(t.investigate_above_s, 5.0);
  // Equal bounds are allowed (no "acceptable" band).
  EXPECT_TRUE(m.SetLatencyTarget("op", {1, 1}).ok());
}

TEST(PerformanceMonitorLatencyTest, PerOperationAndDefaultTargets) {
  PerformanceMonitor m(Opts());
  EXPECT_EQ(m.LatencyTargetFor("any").good_below_s, 2.0);
  EXPECT_EQ(m.LatencyTargetFor("any").investigate_above_s, 5.0);
  ASSERT_TRUE(m.SetLatencyTarget("llm", {5, 10}).ok());
  ASSERT_TRUE(m.SetLatencyTarget("", {0.5, 1}).ok());  // new default
  EXPECT_EQ(m.LatencyTargetFor("llm").good_below_s, 5);
  EXPECT_EQ(m.LatencyTargetFor("llm").investigate_above_s, 10);
  EXPECT_EQ(m.LatencyTargetFor("retrieval").good_below_s, 0.5);
  EXPECT_EQ(m.LatencyTargetFor("retrieval").investigate_above_s, 1);
  // Stats carry the operation's target.
  const int llm = m.Intern("llm");
  const int retrieval = m.Intern("retrieval");
  m.Record(llm, At(1.0));
  m.Record(retrieval, At(1.0));
  const OperationStats a = m.GetStats("llm");
  EXPECT_EQ(a.latency_good_below_s, 5);
  EXPECT_EQ(a.latency_investigate_above_s, 10);
  EXPECT_EQ(a.latency_good, 1u);
  const OperationStats b = m.GetStats("retrieval");
  EXPECT_EQ(b.latency_good_below_s, 0.5);
  EXPECT_EQ(b.latency_acceptable, 1u);  // 1.0 is at the upper bound
}

TEST(PerformanceMonitorLatencyTest, LatencyClassesCountRecords) {
  PerformanceMonitor m(Opts());
  const int id = m.Intern("llm");
  m.Record(id, At(1.0));
  m.Record(id, At(3.0));
  m.Record(id, At(6.0));
  OperationStats s = m.GetStats("llm");
  EXPECT_EQ(s.latency_good, 1u);
  EXPECT_EQ(s.latency_acceptable, 1u);
  EXPECT_EQ(s.latency_investigate, 1u);
  EXPECT_EQ(s.latency_good_below_s, 2.0);
  EXPECT_EQ(s.latency_investigate_above_s, 5.0);

  for (int i = 0; i < 10; ++i) m.Record(id, At(0.1));
  m.Record(id, At(0.0));  // zero bin: good
  s = m.GetStats("llm");
  EXPECT_EQ(s.latency_good, 12u);
  EXPECT_EQ(s.latency_acceptable, 1u);
  EXPECT_EQ(s.latency_investigate, 1u);
  EXPECT_EQ(s.latency_good + s.latency_acceptable + s.latency_investigate,
            s.total);

  // A new target reclassifies the same records.
  ASSERT_TRUE(m.SetLatencyTarget("llm", {0.5, 2.0}).ok());
  s = m.GetStats("llm");
  EXPECT_EQ(s.latency_good, 11u);
  EXPECT_EQ(s.latency_acceptable, 1u);
  EXPECT_EQ(s.latency_investigate, 2u);

  // Window and all-operation stats are classified too.
  absl::StatusOr<OperationStats> w = m.GetWindowStats("llm", 5, kT0 + 1);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->latency_investigate, 2u);
  const std::vector<OperationStats> all = m.GetAllStats();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].latency_good, 11u);

  // An operation without records has its targets but no counts.
  const OperationStats none = m.GetStats("never");
  EXPECT_EQ(none.latency_good_below_s, 2.0);
  EXPECT_EQ(none.latency_good + none.latency_investigate, 0u);
}

TEST(PerformanceMonitorColdStartTest, ExcludingTheColdStartChangesPercentiles) {
  PerformanceMonitor m(Opts());
  const int id = m.Intern("llm");
  // With 50 records p99 is the largest value (nearest rank 50), so a slow
  // first call shows up as p99 until it is excluded.
  m.Record(id, At(10.0, kT0));
  for (int i = 1; i < 50; ++i) m.Record(id, At(0.1, kT0 + i));
  const OperationStats with = m.GetStats("llm");
  const OperationStats without = m.GetStats("llm", /*exclude_cold_start=*/true);
  EXPECT_DOUBLE_EQ(with.p99_s, 10.0);
  EXPECT_NEAR(without.p99_s, 0.1, 0.1 * 0.005 + 1e-9);
  EXPECT_NEAR(without.p95_s, 0.1, 0.1 * 0.005 + 1e-9);
  EXPECT_NEAR(without.p50_s, with.p50_s, 1e-12);
  // Counts and the rest of the statistics keep every record.
  EXPECT_EQ(without.total, with.total);
  EXPECT_EQ(without.total, 50u);
  EXPECT_DOUBLE_EQ(without.max_s, 10.0);
  EXPECT_DOUBLE_EQ(without.sum_s, with.sum_s);
  EXPECT_EQ(without.latency_investigate, 1u);
  EXPECT_EQ(without.latency_good, 49u);
  EXPECT_TRUE(without.has_cold_start);
  EXPECT_DOUBLE_EQ(without.cold_start_s, 10.0);

  // GetAllStats honours the flag as well.
  const std::vector<OperationStats> all = m.GetAllStats(true);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_NEAR(all[0].p99_s, 0.1, 0.1 * 0.005 + 1e-9);
  EXPECT_DOUBLE_EQ(m.GetAllStats(false)[0].p99_s, 10.0);
}

TEST(PerformanceMonitorColdStartTest, SingleRecordIsNotExcluded) {
  PerformanceMonitor m(Opts());
  const int id = m.Intern("llm");
  m.Record(id, At(4.0));
  const OperationStats s = m.GetStats("llm", true);
  EXPECT_EQ(s.total, 1u);
  EXPECT_DOUBLE_EQ(s.p99_s, 4.0);
  EXPECT_DOUBLE_EQ(s.p50_s, 4.0);
}

TEST(PerformanceMonitorHealthTest, SlowOperationWarns) {
  PerformanceMonitor m(Opts());
  const int slow = m.Intern("slow_op");
  const int fast = m.Intern("fast_op");
  for (int i = 0; i < 20; ++i) {
    m.Record(slow, At(6.0, kT0 + i));
    m.Record(fast, At(0.1, kT0 + i));
  }
  const HealthStatus h = m.GetHealth();
  EXPECT_FALSE(h.healthy);
  int slow_issues = 0;
  for (const std::string& issue : h.issues) {
    if (Contains(issue, "Slow ")) {
      ++slow_issues;
      EXPECT_TRUE(Contains(issue, "Slow slow_op")) << issue;
      EXPECT_TRUE(Contains(issue, "5.000s")) << issue;
    }
  }
  EXPECT_EQ(slow_issues, 1);
  // Report health agrees.
  const Report r = m.GenerateReport();
  EXPECT_FALSE(r.health.healthy);
  // A looser target for that operation clears the issue.
  ASSERT_TRUE(m.SetLatencyTarget("slow_op", {5, 10}).ok());
  for (const std::string& issue : m.GetHealth().issues) {
    EXPECT_FALSE(Contains(issue, "Slow ")) << issue;
  }
}

TEST(PerformanceMonitorReportTest, JsonCarriesTheNewSections) {
  PerformanceMonitor m(Opts());
  ASSERT_TRUE(m.models().SetPrice("gpt-4o-mini", {0.15, 0.60}).ok());
  const int llm = m.Intern("llm_inference");
  OperationRecord stream = At(2.0, kT0);
  stream.model = "gpt-4o-mini";
  stream.prompt_tokens = 1000;
  stream.completion_tokens = 200;
  stream.tokens = 1200;
  stream.has_time_to_first_token = true;
  stream.time_to_first_token_s = 0.5;
  m.Record(llm, stream);
  m.tracker().RecordInterTokenGap(llm, 0.5, 10, kT0);
  OperationRecord failed = At(0.5, kT0 + 1);
  failed.success = false;
  failed.error_type = "RateLimitError";
  failed.error_message = "429 \"slow down\"";
  failed.metadata_json = R"({"user":"u1","tags":["a","b"]})";
  failed.model = "local-llama";
  m.Record(llm, failed);
  const int cache = m.Intern("embedding_cache");
  OperationRecord hit = At(0.001, kT0 + 2);
  hit.cache_hit = 1;
  m.Record(cache, hit);

  const std::string json = PerformanceMonitor::ReportToJson(m.GenerateReport(), 0);
  EXPECT_TRUE(IsValidJson(json)) << json;
  for (absl::string_view key :
       {"\"cost_usd\":", "\"models\":{\"gpt-4o-mini\":{",
        "\"local-llama\":{", "\"price_per_million\":{\"input\":0.15",
        "\"price_per_million\":null", "\"caches\":{\"embedding_cache\":{",
        "\"hits\":1,\"misses\":0,\"hit_rate\":1.0", "\"errors\":{",
        "\"recent\":[", "\"latency_classes\":{", "\"streaming\":{",
        "\"streams\":1", "\"inter_token_latency_s\":{\"samples\":10",
        "\"time_to_first_token_s\":{", "\"output_tokens_per_second\":",
        "\"cold_start\":{\"duration_s\":2.0", "\"requests_per_second\":",
        "\"priced_operations\":1", "\"unpriced_operations\":1",
        "\"RateLimitError\":1", "\"by_type\":{"}) {
    EXPECT_TRUE(Contains(json, key)) << key << " missing in " << json;
  }
  // Metadata is embedded as JSON, not as a string; messages are escaped.
  EXPECT_TRUE(Contains(json, R"("metadata":{"user":"u1","tags":["a","b"]})"))
      << json;
  EXPECT_TRUE(Contains(json, R"("message":"429 \"slow down\"")")) << json;
  EXPECT_TRUE(Contains(json, R"("operation":"llm_inference")"));
  EXPECT_TRUE(Contains(json, R"("model":"local-llama")"));
  // The cache operation never streamed: no streaming block for it.
  const std::string cache_op = ObjectAfter(json, "embedding_cache");
  ASSERT_FALSE(cache_op.empty());
  EXPECT_FALSE(Contains(cache_op, "\"streaming\""));
  EXPECT_TRUE(Contains(cache_op, "\"cost_usd\":null")) << cache_op;
  EXPECT_TRUE(Contains(cache_op, "\"cache\":{\"hits\":1")) << cache_op;
  // The indented export is valid JSON too.
  EXPECT_TRUE(IsValidJson(PerformanceMonitor::ReportToJson(m.GenerateReport(), 2)));
}

TEST(PerformanceMonitorReportTest, CostIsNullWhenNothingWasPriced) {
  PerformanceMonitor m(Opts());
  const int id = m.Intern("llm");
  OperationRecord r = At(1.0);
  r.model = "local-llama";
  r.tokens = 10;
  m.Record(id, r);
  OperationRecord failed = At(1.0);
  failed.success = false;  // no metadata: an empty object
  m.Record(id, failed);
  const Report report = m.GenerateReport();
  EXPECT_FALSE(report.has_cost);
  const std::string json = PerformanceMonitor::ReportToJson(report, 0);
  EXPECT_TRUE(IsValidJson(json)) << json;
  EXPECT_TRUE(Contains(json, "\"cost_usd\":null,\"models\":{")) << json;
  EXPECT_TRUE(Contains(json, "\"price_per_million\":null"));
  EXPECT_TRUE(Contains(json, "\"metadata\":{}"));
  EXPECT_TRUE(Contains(json, "\"model\":null"));
  EXPECT_TRUE(Contains(json, "\"caches\":{}"));
  const std::string op = ObjectAfter(json, "llm");
  EXPECT_TRUE(Contains(op, "\"cost_usd\":null")) << op;
  EXPECT_FALSE(Contains(op, "\"streaming\""));
  EXPECT_FALSE(Contains(op, "\"cache\""));
}

TEST(PerformanceMonitorReportTest, EmptyMonitorReportIsValidJson) {
  PerformanceMonitor m(Opts());
  const std::string json = PerformanceMonitor::ReportToJson(m.GenerateReport(), 0);
  EXPECT_TRUE(IsValidJson(json)) << json;
  for (absl::string_view key :
       {"\"cost_usd\":null", "\"models\":{}", "\"caches\":{}",
        "\"errors\":{\"total\":0,\"by_type\":{},\"recent\":[]}",
        "\"operations\":{}"}) {
    EXPECT_TRUE(Contains(json, key)) << key << " missing in " << json;
  }
}

TEST(PerformanceMonitorClearTest, ClearKeepsPricesAndTargets) {
  PerformanceMonitor m(Opts());
  ASSERT_TRUE(m.models().SetPrice("gpt", {1, 2}).ok());
  ASSERT_TRUE(m.SetLatencyTarget("llm", {0.5, 1}).ok());
  ASSERT_TRUE(m.SetLatencyTarget("", {0.25, 4}).ok());
  const int id = m.Intern("llm");
  OperationRecord r = At(1.0);
  r.model = "gpt";
  r.prompt_tokens = 10;
  r.completion_tokens = 5;
  r.tokens = 15;
  r.cache_hit = 1;
  r.success = false;
  m.Record(id, r);
  ASSERT_FALSE(m.models().GetAll().empty());
  ASSERT_FALSE(m.caches().GetAll().empty());
  ASSERT_FALSE(m.errors().Recent(10).empty());

  m.Clear();
  EXPECT_TRUE(m.models().GetAll().empty());
  EXPECT_TRUE(m.caches().GetAll().empty());
  EXPECT_TRUE(m.errors().Recent(10).empty());
  EXPECT_EQ(m.GetStats("llm").total, 0u);
  EXPECT_FALSE(m.GetStats("llm").has_cold_start);
  const Report report = m.GenerateReport();
  EXPECT_TRUE(report.models.empty());
  EXPECT_TRUE(report.caches.empty());
  EXPECT_TRUE(report.recent_errors.empty());
  EXPECT_FALSE(report.has_cost);

  // Prices and targets survive.
  ASSERT_TRUE(m.models().PriceOf("gpt").has_value());
  EXPECT_EQ(m.models().PriceOf("gpt")->output_per_million, 2);
  EXPECT_EQ(m.LatencyTargetFor("llm").good_below_s, 0.5);
  EXPECT_EQ(m.LatencyTargetFor("other").investigate_above_s, 4);
  r.success = true;
  m.Record(id, r);
  const OperationStats s = m.GetStats("llm");
  EXPECT_TRUE(s.has_cost);
  EXPECT_NEAR(s.cost_usd, (10 * 1 + 5 * 2) / 1e6, 1e-15);
  EXPECT_EQ(s.latency_good_below_s, 0.5);
}

TEST(PerformanceMonitorConcurrencyTest, DetailedRecordsFromManyThreads) {
  PerformanceMonitor m(Opts());
  ASSERT_TRUE(m.models().SetPrice("gpt", {1e6, 1e6}).ok());  // $1 per token
  const int id = m.Intern("llm");
  constexpr int kThreads = 8;
  constexpr int kPerThread = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&m, id, t] {
      for (int i = 0; i < kPerThread; ++i) {
        OperationRecord r = At(0.01, kT0 + i);
        r.model = "gpt";
        r.prompt_tokens = 1;
        r.completion_tokens = 1;
        r.tokens = 2;
        r.cache_hit = i % 2;
        r.success = i % 10 != 0;
        if (!r.success) r.error_type = "ValueError";
        r.span_id = static_cast<uint64_t>(t);
        m.Record(id, r);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  constexpr uint64_t kTotal = uint64_t{kThreads} * kPerThread;
  const OperationStats s = m.GetStats("llm");
  EXPECT_EQ(s.total, kTotal);
  EXPECT_EQ(s.failed, kTotal / 10);
  EXPECT_EQ(s.priced_operations, kTotal);
  EXPECT_DOUBLE_EQ(s.cost_usd, 2.0 * static_cast<double>(kTotal));
  EXPECT_EQ(s.cache_hits, kTotal / 2);
  const std::vector<ModelTotals> models = m.models().GetAll();
  ASSERT_EQ(models.size(), 1u);
  EXPECT_EQ(models[0].operations, kTotal);
  EXPECT_DOUBLE_EQ(models[0].cost_usd, 2.0 * static_cast<double>(kTotal));
  EXPECT_EQ(m.caches().Get("llm").hits, kTotal / 2);
  EXPECT_EQ(m.caches().Get("llm").misses, kTotal / 2);
  EXPECT_EQ(m.errors().Recent(1000).size(), ErrorLog::kDefaultCapacity);
}

}  // namespace
}  // namespace ragperf

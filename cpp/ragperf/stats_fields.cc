// Copyright 2026 The ragperf Authors.

#include "ragperf/stats_fields.h"

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace ragperf {
namespace {

using S = OperationStats;
using K = StatKnown;

constexpr StatField Count(const char* member, const char* attribute,
                          const char* path, const char* unit,
                          uint64_t S::*m, K known = K::kAlways) {
  return {member, attribute, path, unit, StatType::kCount, known, m, nullptr,
          nullptr};
}

constexpr StatField Int(const char* member, const char* attribute,
                        const char* path, const char* unit, int64_t S::*m) {
  return {member, attribute, path,    unit,   StatType::kInt,
          K::kAlways, nullptr, m, nullptr};
}

constexpr StatField Real(const char* member, const char* attribute,
                         const char* path, const char* unit, double S::*m,
                         K known = K::kAlways) {
  return {member, attribute, path,    unit, StatType::kDouble,
          known,  nullptr,   nullptr, m};
}

// The errors_by_type map (error type -> count).
constexpr StatField ErrorsByType() {
  return {"errors_by_type", "errors_by_type", "errors_by_type", "count",
          StatType::kErrorsByType, K::kAlways, nullptr, nullptr, nullptr};
}

// A value computed from others (StatDouble), no member of its own.
constexpr StatField Derived(const char* attribute, const char* path,
                            const char* unit, StatType type, K known) {
  return {"", attribute, path, unit, type, known, nullptr, nullptr, nullptr};
}

// clang-format off
constexpr StatField kFields[] = {
    Count("total", "total_operations", "total", "count", &S::total),
    Count("successful", "successful_operations", "successful", "count", &S::successful),
    Count("failed", "failed_operations", "failed", "count", &S::failed),
    Count("cancelled", "cancelled_operations", "cancelled", "count", &S::cancelled),
    Real("error_rate", "error_rate", "error_rate", "ratio", &S::error_rate),
    Real("min_s", "min_duration", "duration.min", "s", &S::min_s),
    Real("max_s", "max_duration", "duration.max", "s", &S::max_s),
    Real("avg_s", "avg_duration", "duration.avg", "s", &S::avg_s),
    Real("p50_s", "p50_duration", "duration.p50", "s", &S::p50_s),
    Real("p95_s", "p95_duration", "duration.p95", "s", &S::p95_s),
    Real("p99_s", "p99_duration", "duration.p99", "s", &S::p99_s),
    Real("p90_s", "p90_duration", "duration.p90", "s", &S::p90_s),
    Real("sum_s", "total_duration", "duration.total_s", "s", &S::sum_s),
    Int("total_tokens", "total_tokens", "tokens.total", "tokens", &S::total_tokens),
    Real("avg_tokens", "avg_tokens", "tokens.avg", "tokens", &S::avg_tokens),
    Int("prompt_tokens", "prompt_tokens", "tokens.prompt", "tokens", &S::prompt_tokens),
    Int("completion_tokens", "completion_tokens", "tokens.completion", "tokens", &S::completion_tokens),
    Real("tokens_per_second", "tokens_per_second", "tokens.per_second", "tokens/s", &S::tokens_per_second),
    Count("memory_samples", "", "memory.samples", "count", &S::memory_samples),
    Real("total_memory_delta_mb", "total_memory_delta_mb", "memory.total_delta_mb", "mb", &S::total_memory_delta_mb),
    Real("avg_memory_delta_mb", "avg_memory_delta_mb", "memory.avg_delta_mb", "mb", &S::avg_memory_delta_mb),
    Count("gpu_memory_samples", "", "gpu_memory.samples", "count", &S::gpu_memory_samples),
    Real("total_gpu_memory_delta_mb", "total_gpu_memory_delta_mb", "gpu_memory.total_delta_mb", "mb", &S::total_gpu_memory_delta_mb),
    Real("avg_gpu_memory_delta_mb", "avg_gpu_memory_delta_mb", "gpu_memory.avg_delta_mb", "mb", &S::avg_gpu_memory_delta_mb),
    ErrorsByType(),
    Real("first_timestamp_s", "", "first_timestamp_unix_s", "unix_s", &S::first_timestamp_s),
    Real("last_timestamp_s", "", "last_timestamp_unix_s", "unix_s", &S::last_timestamp_s),
    Real("requests_per_second", "requests_per_second", "requests_per_second", "1/s", &S::requests_per_second),
    Real("cost_usd", "cost_usd", "cost_usd", "usd", &S::cost_usd, K::kCost),
    Count("priced_operations", "priced_operations", "priced_operations", "count", &S::priced_operations),
    Count("unpriced_operations", "unpriced_operations", "unpriced_operations", "count", &S::unpriced_operations),
    Count("cache_hits", "cache_hits", "cache.hits", "count", &S::cache_hits),
    Count("cache_misses", "cache_misses", "cache.misses", "count", &S::cache_misses),
    // In the report's cache section only; PerformanceStats.cache_hit_rate is its property.
    Derived("cache_hit_rate", "cache.hit_rate", "ratio", StatType::kHitRate, K::kCacheLookups),
    Count("streams", "streams", "streaming.streams", "count", &S::streams),
    Real("ttft_avg_s", "time_to_first_token_avg_s", "streaming.time_to_first_token_s.avg", "s", &S::ttft_avg_s, K::kStreams),
    Real("ttft_p50_s", "time_to_first_token_p50_s", "streaming.time_to_first_token_s.p50", "s", &S::ttft_p50_s, K::kStreams),
    Real("ttft_p95_s", "time_to_first_token_p95_s", "streaming.time_to_first_token_s.p95", "s", &S::ttft_p95_s, K::kStreams),
    Real("ttft_p99_s", "time_to_first_token_p99_s", "streaming.time_to_first_token_s.p99", "s", &S::ttft_p99_s, K::kStreams),
    Count("inter_token_samples", "inter_token_samples", "streaming.inter_token_latency_s.samples", "count", &S::inter_token_samples),
    Real("itl_avg_s", "inter_token_latency_avg_s", "streaming.inter_token_latency_s.avg", "s", &S::itl_avg_s, K::kInterToken),
    Real("itl_p50_s", "inter_token_latency_p50_s", "streaming.inter_token_latency_s.p50", "s", &S::itl_p50_s, K::kInterToken),
    Real("itl_p95_s", "inter_token_latency_p95_s", "streaming.inter_token_latency_s.p95", "s", &S::itl_p95_s, K::kInterToken),
    Real("itl_p99_s", "inter_token_latency_p99_s", "streaming.inter_token_latency_s.p99", "s", &S::itl_p99_s, K::kInterToken),
    Real("output_tokens_per_second", "output_tokens_per_second", "streaming.output_tokens_per_second", "tokens/s", &S::output_tokens_per_second, K::kStreams),
    Real("cold_start_s", "cold_start_duration", "cold_start.duration_s", "s", &S::cold_start_s, K::kColdStart),
    Real("cold_start_timestamp_s", "", "cold_start.timestamp_unix_s", "unix_s", &S::cold_start_timestamp_s, K::kColdStart),
    Count("latency_good", "latency_good", "latency_classes.good", "count", &S::latency_good),
    Count("latency_acceptable", "latency_acceptable", "latency_classes.acceptable", "count", &S::latency_acceptable),
    Count("latency_investigate", "latency_investigate", "latency_classes.investigate", "count", &S::latency_investigate),
    Real("latency_good_below_s", "latency_good_below_s", "latency_classes.good_below_s", "s", &S::latency_good_below_s),
    Real("latency_investigate_above_s", "latency_investigate_above_s", "latency_classes.investigate_above_s", "s", &S::latency_investigate_above_s),
    // Not in the report: the window's span, the sums behind output_tokens_per_second.
    Real("window_s", "", "", "s", &S::window_s),
    Int("stream_output_tokens", "", "", "tokens", &S::stream_output_tokens),
    Real("stream_generation_s", "", "", "s", &S::stream_generation_s),
};
// clang-format on

// The sections of the report entry written only when they have something:
// inside them every value is written as it is.
struct Section {
  absl::string_view name;
  bool (*present)(const OperationStats&);
};

constexpr Section kSections[] = {
    {"cache", [](const S& s) { return s.cache_hits + s.cache_misses > 0; }},
    {"streaming",
     [](const S& s) { return s.streams > 0 || s.inter_token_samples > 0; }},
    {"cold_start", [](const S& s) { return s.has_cold_start; }},
};

// nullptr: the section (first path component) is always written.
const Section* SectionOf(absl::string_view top) {
  for (const Section& section : kSections) {
    if (section.name == top) return &section;
  }
  return nullptr;
}

// The saved state, in the order it is written (see StateFields()).
constexpr const char* kStateMembers[] = {
    "total", "failed", "cancelled", "sum_s", "min_s", "max_s", "total_tokens",
    "prompt_tokens", "completion_tokens", "memory_samples",
    "total_memory_delta_mb", "gpu_memory_samples", "total_gpu_memory_delta_mb",
    "first_timestamp_s", "last_timestamp_s", "priced_operations",
    "unpriced_operations", "cost_usd", "cache_hits", "cache_misses", "streams",
    "stream_output_tokens", "stream_generation_s", "cold_start_s",
    "cold_start_timestamp_s", "errors_by_type",
};

std::vector<StateField> MakeStateFields() {
  std::vector<StateField> out;
  for (const char* member : kStateMembers) {
    const absl::string_view name = member;
    // Only cold_start_s is null when unknown (its presence says whether
    // there was a cold start); cost_usd is the plain sum.
    out.push_back({FindStatField(name), name == "cold_start_s",
                   name == "cancelled" || name == "cold_start_s"});
  }
  return out;
}

void WriteValue(const StatField& f, const OperationStats& op, bool null,
                JsonWriter& w) {
  if (null) {
    w.Null();
    return;
  }
  switch (f.type) {
    case StatType::kCount:
      w.UInt(op.*f.count_member);
      break;
    case StatType::kInt:
      w.Int(op.*f.int_member);
      break;
    case StatType::kDouble:
    case StatType::kHitRate:
      w.Double(StatDouble(f, op));
      break;
    case StatType::kErrorsByType:
      w.BeginObject();
      for (const auto& [type, count] : op.errors_by_type) {
        w.Key(type).UInt(count);
      }
      w.EndObject();
      break;
  }
}

}  // namespace

absl::Span<const StatField> StatFields() { return kFields; }

const StatField* FindStatField(absl::string_view member) {
  for (const StatField& f : kFields) {
    if (member == f.member) return &f;
  }
  return nullptr;
}

absl::Span<const StateField> StateFields() {
  static const std::vector<StateField>* const fields =
      new std::vector<StateField>(MakeStateFields());
  return *fields;
}

void WriteOperationStateFields(const OperationStats& op, JsonWriter& w) {
  for (const StateField& sf : StateFields()) {
    const StatField& f = *sf.field;
    w.Key(f.member);
    WriteValue(f, op, sf.null_when_unknown && !StatIsKnown(f, op), w);
  }
}

bool StatIsKnown(const StatField& f, const OperationStats& s) {
  switch (f.known) {
    case K::kAlways:
      return true;
    case K::kStreams:
      return s.streams > 0;
    case K::kInterToken:
      return s.inter_token_samples > 0;
    case K::kCost:
      return s.has_cost;
    case K::kColdStart:
      return s.has_cold_start;
    case K::kCacheLookups:
      return s.cache_hits + s.cache_misses > 0;
  }
  return true;
}

double StatDouble(const StatField& f, const OperationStats& s) {
  switch (f.type) {
    case StatType::kCount:
      return static_cast<double>(s.*f.count_member);
    case StatType::kInt:
      return static_cast<double>(s.*f.int_member);
    case StatType::kDouble:
      return s.*f.double_member;
    case StatType::kHitRate: {
      const uint64_t lookups = s.cache_hits + s.cache_misses;
      return lookups > 0 ? static_cast<double>(s.cache_hits) /
                               static_cast<double>(lookups)
                         : 0;
    }
    case StatType::kErrorsByType:
      break;
  }
  return 0;
}

const char* StatKnownIf(StatKnown known) {
  switch (known) {
    case K::kStreams:
      return "streams";
    case K::kInterToken:
      return "inter_token_samples";
    case K::kAlways:
    case K::kCacheLookups:
    case K::kCost:
    case K::kColdStart:
      break;
  }
  return "";
}

void WriteOperationJson(const OperationStats& op, JsonWriter& w) {
  w.BeginObject();
  std::vector<absl::string_view> open;  // the nested objects now open
  for (const StatField& f : kFields) {
    if (*f.report_path == '\0') continue;
    std::vector<absl::string_view> path = absl::StrSplit(f.report_path, '.');
    const absl::string_view key = path.back();
    path.pop_back();
    const Section* section = SectionOf(path.empty() ? key : path.front());
    if (section != nullptr && !section->present(op)) continue;
    size_t common = 0;
    while (common < open.size() && common < path.size() &&
           open[common] == path[common]) {
      ++common;
    }
    for (size_t i = open.size(); i > common; --i) w.EndObject();
    open.resize(common);
    for (size_t i = common; i < path.size(); ++i) {
      w.Key(path[i]).BeginObject();
      open.push_back(path[i]);
    }
    w.Key(key);
    WriteValue(f, op, section == nullptr && !StatIsKnown(f, op), w);
  }
  for (size_t i = open.size(); i > 0; --i) w.EndObject();
  w.EndObject();
}

}  // namespace ragperf

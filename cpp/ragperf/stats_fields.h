// Copyright 2026 The ragperf Authors.
//
// stats_fields.h — the one table of the statistics of an operation.
//
// Every field of OperationStats that leaves the core is named here once,
// with every name it goes by:
//   member       the OperationStats member, also the key of the binding's
//                stats dict (`_core` ... get_stats()), e.g. "p95_s";
//   attribute    the ragperf.PerformanceStats attribute, e.g. "p95_duration"
//                ("" when PerformanceStats has none, e.g. "memory_samples");
//   report_path  where the value stands in the JSON report's
//                operations[<name>] entry, dot-separated, e.g. "duration.p95"
//                ("" when the report has none, e.g. "window_s");
//   unit         "s", "count", "tokens", "tokens/s", "1/s", "mb", "usd",
//                "ratio" or "unix_s";
//   known        when the value is known: an unknown value is None in the
//                dict (and null in the report where its section is always
//                written).
// The report's operations section (WriteOperationJson), the binding's stats
// dict (bindings/convert.cpp StatsToDict) and, through `_core.STATS_FIELDS`,
// every Python reader (ragperf.model.stats_fields) are generated from it.
//
// Example:
//   for (const StatField& f : StatFields()) {
//     if (std::string(f.member) == "p95_s") {
//       // f.attribute == "p95_duration", f.report_path == "duration.p95"
//       double p95 = StatDouble(f, stats);
//     }
//   }

#ifndef RAGPERF_STATS_FIELDS_H_
#define RAGPERF_STATS_FIELDS_H_

#include <cstdint>

#include "absl/strings/string_view.h"

#include "absl/types/span.h"
#include "ragperf/json_writer.h"
#include "ragperf/response_time_tracker.h"

namespace ragperf {

enum class StatType {
  kCount,         // uint64_t member
  kInt,           // int64_t member
  kDouble,        // double member
  kErrorsByType,  // the errors_by_type map (type name -> count)
  kHitRate,       // derived: cache_hits / (cache_hits + cache_misses)
};

enum class StatKnown {
  kAlways,
  kStreams,     // streams > 0
  kInterToken,  // inter_token_samples > 0
  kCost,        // has_cost
  kColdStart,   // has_cold_start
  kCacheLookups,  // cache_hits + cache_misses > 0
};

struct StatField {
  const char* member;
  const char* attribute;
  const char* report_path;
  const char* unit;
  StatType type;
  StatKnown known;
  uint64_t OperationStats::*count_member;
  int64_t OperationStats::*int_member;
  double OperationStats::*double_member;
};

// The fields, in the order of the report's operations[<name>] entry.
absl::Span<const StatField> StatFields();

// Whether `f`'s value is known for `s` (see StatKnown).
bool StatIsKnown(const StatField& f, const OperationStats& s);

// The value of a kCount, kInt, kDouble or kHitRate field as a double.
double StatDouble(const StatField& f, const OperationStats& s);

// The name of the field whose count > 0 makes `known` true ("streams",
// "inter_token_samples"), or "" for kAlways and the flags without a field.
const char* StatKnownIf(StatKnown known);

// Writes the operations[<name>] object of the report for `op`.
void WriteOperationJson(const OperationStats& op, JsonWriter& w);

// A field of an operation's saved state (the report's
// state.operations[<name>], read back by merge_state): the counts and sums
// the all-time statistics are rebuilt from, each a field of the table.
struct StateField {
  const StatField* field;
  bool null_when_unknown;  // written null when !StatIsKnown (cold_start_s)
  bool may_be_absent;      // snapshots of older versions lack it
};

// The state's fields, in the order they are written.
absl::Span<const StateField> StateFields();

// The table's field of a member name, nullptr for another name.
const StatField* FindStatField(absl::string_view member);

// Writes the state fields of `op` as keys of the object being written.
void WriteOperationStateFields(const OperationStats& op, JsonWriter& w);

}  // namespace ragperf

#endif  // RAGPERF_STATS_FIELDS_H_

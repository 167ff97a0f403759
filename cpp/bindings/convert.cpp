// Copyright 2026 The ragperf Authors.

#include "convert.h"

#include <pybind11/stl.h>

#include "ragperf/stats_fields.h"

namespace py = pybind11;

namespace ragperf::bindings {
namespace {

py::object OptionalFloat(bool known, double value) {
  return known ? py::object(py::float_(value)) : py::object(py::none());
}

py::object OptionalStr(bool known, const std::string& value) {
  return known ? py::object(py::str(value)) : py::object(py::none());
}

}  // namespace

// Every field of the table (ragperf/stats_fields.h) under its member name;
// an unknown value (StatIsKnown) is None.
py::dict StatsToDict(const OperationStats& s) {
  py::dict d;
  d["name"] = s.name;
  for (const StatField& f : StatFields()) {
    if (*f.member == '\0') continue;  // derived, not a member
    py::object value;
    if (!StatIsKnown(f, s)) {
      value = py::none();
    } else if (f.type == StatType::kCount) {
      value = py::int_(s.*f.count_member);
    } else if (f.type == StatType::kInt) {
      value = py::int_(s.*f.int_member);
    } else if (f.type == StatType::kDouble) {
      value = py::float_(s.*f.double_member);
    } else {  // kErrorsByType
      py::dict errors;
      for (const auto& [type, count] : s.errors_by_type) {
        errors[py::str(type)] = count;
      }
      value = errors;
    }
    d[f.member] = value;
  }
  return d;
}

py::dict RecentToDict(const RecentRecord& r) {
  py::dict d;
  d["timestamp_s"] = r.timestamp_s;
  d["duration_s"] = r.duration_s;
  d["tokens"] = r.tokens;
  d["prompt_tokens"] = r.prompt_tokens;
  d["completion_tokens"] = r.completion_tokens;
  d["success"] = r.success;
  d["memory_delta_mb"] = OptionalFloat(r.has_memory_delta, r.memory_delta_mb);
  d["error_type"] = OptionalStr(!r.success, r.error_type);
  d["error_message"] = OptionalStr(!r.success, r.error_message);
  d["time_to_first_token_s"] =
      OptionalFloat(r.has_time_to_first_token, r.time_to_first_token_s);
  d["cost_usd"] = OptionalFloat(r.has_cost, r.cost_usd);
  d["cache_hit"] = r.cache_hit < 0 ? py::object(py::none())
                                   : py::object(py::bool_(r.cache_hit > 0));
  d["cold_start"] = r.cold_start;
  d["model"] = OptionalStr(!r.model.empty(), r.model);
  d["response_model"] = OptionalStr(!r.response_model.empty(), r.response_model);
  d["metadata_json"] = r.metadata_json;
  d["span_id"] = r.span_id;
  d["parent_id"] = r.parent_id;
  d["trace_id"] = r.trace_id;
  d["depth"] = r.depth;
  return d;
}

py::dict ModelTotalsToDict(const ModelTotals& m) {
  py::dict d;
  d["model"] = m.model;
  d["operations"] = m.operations;
  d["prompt_tokens"] = m.prompt_tokens;
  d["completion_tokens"] = m.completion_tokens;
  d["total_tokens"] = m.total_tokens;
  d["duration_s"] = m.duration_s;
  d["tokens_per_second"] = m.tokens_per_second;
  d["cost_usd"] = OptionalFloat(m.has_cost, m.cost_usd);
  d["unpriced_operations"] = m.unpriced_operations;
  d["input_price_per_million"] =
      OptionalFloat(m.has_price, m.price.input_per_million);
  d["output_price_per_million"] =
      OptionalFloat(m.has_price, m.price.output_per_million);
  py::list response_models;
  for (const std::string& r : m.response_models) response_models.append(r);
  d["response_models"] = response_models;
  return d;
}

py::dict CacheCountsToDict(const CacheCounts& c) {
  py::dict d;
  d["hits"] = c.hits;
  d["misses"] = c.misses;
  d["lookups"] = c.lookups();
  d["hit_rate"] = OptionalFloat(c.lookups() > 0, c.hit_rate());
  return d;
}

py::dict ErrorEntryToDict(const ErrorEntry& e) {
  py::dict d;
  d["operation"] = e.operation;
  d["error_type"] = e.error_type;
  d["message"] = e.message;
  d["timestamp_s"] = e.timestamp_s;
  d["duration_s"] = e.duration_s;
  d["model"] = OptionalStr(!e.model.empty(), e.model);
  d["metadata_json"] = e.metadata_json;
  d["span_id"] = e.span_id;
  d["trace_id"] = e.trace_id;
  return d;
}

py::dict UsageToDict(const MemoryUsage& u) {
  py::dict d;
  d["rss_mb"] = u.rss_mb;
  d["vms_mb"] = u.vms_mb;
  return d;
}

py::dict MemoryStatsToDict(const MemoryStats& s) {
  py::dict d;
  d["current_rss_mb"] = s.current_rss_mb;
  d["current_vms_mb"] = s.current_vms_mb;
  d["min_rss_mb"] = s.min_rss_mb;
  d["max_rss_mb"] = s.max_rss_mb;
  d["avg_rss_mb"] = s.avg_rss_mb;
  d["samples"] = s.samples;
  return d;
}

py::dict SystemMemoryToDict(const SystemMemory& s) {
  py::dict d;
  d["total_mb"] = s.total_mb;
  d["available_mb"] = s.available_mb;
  d["used_mb"] = s.used_mb;
  d["free_mb"] = s.free_mb;
  d["used_percent"] = s.used_percent;
  return d;
}

py::dict HealthToDict(const HealthStatus& h) {
  py::dict d;
  d["status"] = h.healthy ? "healthy" : "warning";
  d["memory_mb"] = h.memory_mb;
  d["total_operations"] = h.total_operations;
  py::list issues;
  for (const std::string& issue : h.issues) issues.append(issue);
  d["issues"] = issues;
  return d;
}

py::list HistoryToList(const std::vector<MemorySample>& samples) {
  py::list out;
  for (const MemorySample& s : samples) {
    py::dict d;
    d["timestamp_s"] = s.timestamp_s;
    d["rss_mb"] = s.rss_mb;
    d["vms_mb"] = s.vms_mb;
    out.append(d);
  }
  return out;
}

}  // namespace ragperf::bindings

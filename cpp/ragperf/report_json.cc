// Copyright 2026 The ragperf Authors.
//
// The report's JSON form (PerformanceMonitor::ReportToJson): the seed's
// schema first, then every extension under its own key.

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "ragperf/json_writer.h"
#include "ragperf/performance_monitor.h"
#include "ragperf/stats_fields.h"

namespace ragperf {
namespace {

void OptionalDouble(bool known, double value, JsonWriter& w) {
  if (known) {
    w.Double(value);
  } else {
    w.Null();
  }
}

void WriteCacheCounts(uint64_t hits, uint64_t misses, JsonWriter& w) {
  w.BeginObject();
  w.Key("hits").UInt(hits);
  w.Key("misses").UInt(misses);
  w.Key("hit_rate");
  const uint64_t lookups = hits + misses;
  OptionalDouble(lookups > 0,
                 lookups > 0 ? static_cast<double>(hits) /
                                   static_cast<double>(lookups)
                             : 0,
                 w);
  w.EndObject();
}

// The models the responses named (e.g. a dated snapshot of the requested
// model), sorted.
void WriteResponseModels(const ModelTotals& m, JsonWriter& w) {
  w.Key("response_models").BeginArray();
  for (const std::string& r : m.response_models) w.String(r);
  w.EndArray();
}

void WriteModels(const std::vector<ModelTotals>& models, JsonWriter& w) {
  w.Key("models").BeginObject();
  for (const ModelTotals& m : models) {
    w.Key(m.model).BeginObject();
    w.Key("operations").UInt(m.operations);
    w.Key("prompt_tokens").Int(m.prompt_tokens);
    w.Key("completion_tokens").Int(m.completion_tokens);
    w.Key("total_tokens").Int(m.total_tokens);
    w.Key("duration_s").Double(m.duration_s);
    w.Key("tokens_per_second").Double(m.tokens_per_second);
    w.Key("cost_usd");
    OptionalDouble(m.has_cost, m.cost_usd, w);
    w.Key("unpriced_operations").UInt(m.unpriced_operations);
    WriteResponseModels(m, w);
    if (m.has_price) {
      w.Key("price_per_million").BeginObject();
      w.Key("input").Double(m.price.input_per_million);
      w.Key("output").Double(m.price.output_per_million);
      w.EndObject();
    } else {
      w.Key("price_per_million").Null();
    }
    w.EndObject();
  }
  w.EndObject();
}

void WriteErrors(const Report& report, JsonWriter& w) {
  w.Key("errors").BeginObject();
  w.Key("total").UInt(report.total_failed);
  absl::flat_hash_map<std::string, uint64_t> by_type;
  for (const OperationStats& op : report.operations) {
    for (const auto& [type, n] : op.errors_by_type) by_type[type] += n;
  }
  std::vector<std::pair<std::string, uint64_t>> sorted(by_type.begin(),
                                                       by_type.end());
  std::sort(sorted.begin(), sorted.end());
  w.Key("by_type").BeginObject();
  for (const auto& [type, n] : sorted) w.Key(type).UInt(n);
  w.EndObject();
  w.Key("recent").BeginArray();
  for (const ErrorEntry& e : report.recent_errors) {
    w.BeginObject();
    w.Key("operation").String(e.operation);
    w.Key("error_type").String(e.error_type);
    w.Key("message").String(e.message);
    w.Key("timestamp_unix_s").Double(e.timestamp_s);
    w.Key("duration_s").Double(e.duration_s);
    w.Key("model");
    if (e.model.empty()) {
      w.Null();
    } else {
      w.String(e.model);
    }
    w.Key("metadata");
    if (e.metadata_json.empty()) {
      w.BeginObject().EndObject();
    } else {
      w.Raw(e.metadata_json);
    }
    if (e.span_id != 0) {
      w.Key("span_id").UInt(e.span_id);
      w.Key("trace_id").UInt(e.trace_id);
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

void WriteSeries(absl::string_view key, const SeriesStats& s, JsonWriter& w) {
  w.Key(key).BeginObject();
  w.Key("samples").UInt(s.count);
  if (s.count > 0) {
    w.Key("last").Double(s.last);
    w.Key("min").Double(s.min);
    w.Key("max").Double(s.max);
    w.Key("avg").Double(s.avg);
  }
  w.EndObject();
}

void WriteResources(const ResourceStats& r, JsonWriter& w) {
  w.Key("resources").BeginObject();
  w.Key("sampler_running").Bool(r.running);
  w.Key("interval_s").Double(r.interval_s);
  w.Key("samples").UInt(r.samples);
  WriteSeries("rss_mb", r.rss_mb, w);
  WriteSeries("vms_mb", r.vms_mb, w);
  WriteSeries("cpu_percent", r.cpu_percent, w);
  WriteSeries("system_used_percent", r.system_used_percent, w);
  WriteSeries("load1", r.load1, w);
  WriteSeries("gpu_memory_used_mb", r.gpu_memory_used_mb, w);
  WriteSeries("gpu_utilization_percent", r.gpu_utilization_percent, w);
  WriteSeries("gpu_process_memory_mb", r.gpu_process_memory_mb, w);
  w.EndObject();
}

void WriteGpu(const GpuStatus& gpu, JsonWriter& w) {
  w.Key("gpu").BeginObject();
  w.Key("available").Bool(gpu.available);
  if (!gpu.available) w.Key("reason").String(gpu.reason);
  if (!gpu.driver_version.empty()) {
    w.Key("driver_version").String(gpu.driver_version);
  }
  w.Key("devices").BeginArray();
  for (const GpuDevice& d : gpu.devices) {
    w.BeginObject();
    w.Key("index").Int(d.index);
    w.Key("name").String(d.name);
    w.Key("memory_used_mb").Double(d.memory_used_mb);
    w.Key("memory_total_mb").Double(d.memory_total_mb);
    if (d.utilization_percent >= 0) {
      w.Key("utilization_percent").Double(d.utilization_percent);
    } else {
      w.Key("utilization_percent").Null();
    }
    if (d.process_memory_mb >= 0) {
      w.Key("process_memory_mb").Double(d.process_memory_mb);
    } else {
      w.Key("process_memory_mb").Null();
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

void WriteSketch(absl::string_view key, const QuantileSketch& sketch,
                 JsonWriter& w) {
  w.Key(key).String(absl::Base64Escape(sketch.Serialize()));
}

// Everything needed to rebuild the all-time statistics (see MergeState).
void WriteState(const Report& report, JsonWriter& w) {
  w.Key("state").BeginObject();
  w.Key("schema_version").Int(kStateSchemaVersion);
  w.Key("relative_accuracy").Double(report.relative_accuracy);
  w.Key("operations").BeginObject();
  for (const OperationStats& op : report.operations) {
    w.Key(op.name).BeginObject();
    WriteOperationStateFields(op, w);  // from the field table (stats_fields)
    WriteSketch("sketch", op.sketch, w);
    WriteSketch("ttft_sketch", op.ttft_sketch, w);
    WriteSketch("itl_sketch", op.itl_sketch, w);
    w.EndObject();
  }
  w.EndObject();
  w.Key("models").BeginObject();
  for (const ModelTotals& m : report.models) {
    w.Key(m.model).BeginObject();
    w.Key("operations").UInt(m.operations);
    w.Key("prompt_tokens").Int(m.prompt_tokens);
    w.Key("completion_tokens").Int(m.completion_tokens);
    w.Key("total_tokens").Int(m.total_tokens);
    w.Key("duration_s").Double(m.duration_s);
    w.Key("priced_operations").UInt(m.priced_operations);
    w.Key("cost_usd").Double(m.cost_usd);
    w.Key("unpriced_operations").UInt(m.unpriced_operations);
    WriteResponseModels(m, w);
    w.EndObject();
  }
  w.EndObject();
  w.Key("caches").BeginObject();
  for (const CacheCounts& c : report.caches) {
    w.Key(c.name).BeginObject();
    w.Key("hits").UInt(c.hits);
    w.Key("misses").UInt(c.misses);
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
}

}  // namespace

std::string PerformanceMonitor::ReportToJson(const Report& report,
                                             int indent) {
  JsonWriter w(indent);
  w.BeginObject();
  w.Key("timestamp").String(report.timestamp);
  w.Key("total_operations").UInt(report.total_operations);
  w.Key("memory").BeginObject();
  w.Key("current_rss_mb").Double(report.memory.current_rss_mb);
  w.Key("min_rss_mb").Double(report.memory.min_rss_mb);
  w.Key("max_rss_mb").Double(report.memory.max_rss_mb);
  w.Key("avg_rss_mb").Double(report.memory.avg_rss_mb);
  w.Key("current_vms_mb").Double(report.memory.current_vms_mb);
  w.Key("samples").UInt(report.memory.samples);
  w.Key("tracking_enabled").Bool(report.memory_tracking);
  w.EndObject();
  w.Key("operations").BeginObject();
  for (const OperationStats& op : report.operations) {
    w.Key(op.name);
    WriteOperationJson(op, w);  // from the field table (stats_fields)
  }
  w.EndObject();
  w.Key("timestamp_unix_s").Double(report.timestamp_unix_s);
  w.Key("total_failed").UInt(report.total_failed);
  if (report.has_system_memory) {
    w.Key("system_memory").BeginObject();
    w.Key("total_mb").Double(report.system_memory.total_mb);
    w.Key("available_mb").Double(report.system_memory.available_mb);
    w.Key("used_mb").Double(report.system_memory.used_mb);
    w.Key("used_percent").Double(report.system_memory.used_percent);
    w.EndObject();
  }
  WriteResources(report.resources, w);
  WriteGpu(report.gpu, w);
  w.Key("cost_usd");
  OptionalDouble(report.has_cost, report.total_cost_usd, w);
  WriteModels(report.models, w);
  w.Key("caches").BeginObject();
  for (const CacheCounts& c : report.caches) {
    w.Key(c.name);
    WriteCacheCounts(c.hits, c.misses, w);
  }
  w.EndObject();
  WriteErrors(report, w);
  w.Key("schema_version").Int(kStateSchemaVersion);
  WriteState(report, w);
  w.Key("health").BeginObject();
  w.Key("status").String(report.health.healthy ? "healthy" : "warning");
  w.Key("memory_mb").Double(report.health.memory_mb);
  w.Key("total_operations").UInt(report.health.total_operations);
  w.Key("issues").BeginArray();
  for (const std::string& issue : report.health.issues) w.String(issue);
  w.EndArray();
  w.EndObject();
  w.EndObject();
  std::string text = w.Take();
  text.push_back('\n');
  return text;
}

}  // namespace ragperf

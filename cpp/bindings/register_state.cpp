// Copyright 2026 The ragperf Authors.
//
// Merging a saved state (the "state" section of an export, parsed and
// base64-decoded by ragperf/persistence.py) into `_core.Monitor`. Everything
// is converted and validated first, then applied, so a bad snapshot changes
// nothing.

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "gil_release.h"
#include "ragperf/performance_monitor.h"
#include "ragperf/quantile_sketch.h"
#include "ragperf/stats_fields.h"
#include "registers.h"
#include "status.h"

namespace py = pybind11;

namespace ragperf::bindings {
namespace {

template <typename T>
T Field(const py::dict& d, const char* key, const std::string& where) {
  if (!d.contains(key)) {
    throw py::value_error(where + ": missing field '" + key + "'");
  }
  try {
    return d[key].cast<T>();
  } catch (const py::cast_error&) {
    throw py::value_error(where + ": field '" + key + "' has the wrong type: " +
                          py::repr(d[key]).cast<std::string>());
  }
}

// A sketch of a saved state. One written before base-2 buckets (sketch
// format 1) is re-binned into the monitor's layout when its accuracy is at
// least as fine (QuantileSketch::DeserializeInto: error bound
// (1 + a_file)(1 + g_monitor) - 1); otherwise it keeps its own accuracy and
// the parameter check in merge_state refuses it, naming the format.
QuantileSketch SketchFrom(const py::bytes& data, const std::string& where,
                          const QuantileSketch& like) {
  const std::string bytes(data);
  absl::StatusOr<QuantileSketch> s = QuantileSketch::DeserializeInto(bytes, &like);
  if (!s.ok()) {
    throw py::value_error(where + ": " + std::string(s.status().message()));
  }
  return *std::move(s);
}

// " (sketch format 1, written by a ragperf before base-2 buckets)" for an old
// blob, "" otherwise: appended to parameter-mismatch messages.
std::string FormatNote(const py::bytes& data) {
  const int version = QuantileSketch::FormatVersionOf(std::string(data));
  if (version == QuantileSketch::kFormatVersion) return "";
  return " (sketch format " + std::to_string(version) +
         ", written by a ragperf before base-2 buckets; this one writes format " +
         std::to_string(QuantileSketch::kFormatVersion) + ")";
}

OperationStats StateFrom(const std::string& name, const py::dict& d,
                         const py::bytes& sketch, const py::bytes& ttft,
                         const py::bytes& itl, const QuantileSketch& like) {
  const std::string where = "operation '" + name + "'";
  OperationStats s;
  s.name = name;
  for (const StateField& sf : StateFields()) {  // from the field table
    const StatField& f = *sf.field;
    if (sf.may_be_absent && !d.contains(f.member)) continue;
    if (f.known == StatKnown::kColdStart) {  // all or nothing, by cold_start_s
      if (sf.null_when_unknown) {
        if (d[f.member].is_none()) continue;
        s.has_cold_start = true;
      } else if (!s.has_cold_start) {
        continue;
      }
    }
    switch (f.type) {
      case StatType::kCount:
        s.*f.count_member = Field<uint64_t>(d, f.member, where);
        break;
      case StatType::kInt:
        s.*f.int_member = Field<int64_t>(d, f.member, where);
        break;
      case StatType::kDouble:
        s.*f.double_member = Field<double>(d, f.member, where);
        break;
      case StatType::kErrorsByType:
        for (const auto& [type, n] : Field<py::dict>(d, f.member, where)) {
          try {
            s.errors_by_type.emplace_back(type.cast<std::string>(),
                                          n.cast<uint64_t>());
          } catch (const py::cast_error&) {  // as Field's, not a RuntimeError
            throw py::value_error(where + ": field '" + f.member +
                                  "' needs str error types and int >= 0 "
                                  "counts, got " +
                                  py::repr(type).cast<std::string>() + ": " +
                                  py::repr(n).cast<std::string>());
          }
        }
        break;
      case StatType::kHitRate:  // derived, never in a state
        break;
    }
  }
  if (s.failed > s.total) {
    throw py::value_error(where + ": failed > total");
  }
  s.sketch = SketchFrom(sketch, where + " sketch", like);
  s.ttft_sketch = SketchFrom(ttft, where + " ttft_sketch", like);
  s.itl_sketch = SketchFrom(itl, where + " itl_sketch", like);
  if (s.sketch.count() != s.total) {
    throw py::value_error(where + ": sketch holds " +
                          std::to_string(s.sketch.count()) +
                          " values but total is " + std::to_string(s.total));
  }
  return s;
}

}  // namespace

void RegisterState(py::module_& m) {
  // The export schema (top-level and state `schema_version`) this build
  // writes and the newest it reads; ragperf.persistence checks files with it.
  m.attr("STATE_SCHEMA_VERSION") = kStateSchemaVersion;
  using Monitor = PerformanceMonitor;
  auto cls = py::reinterpret_borrow<py::class_<Monitor, std::shared_ptr<Monitor>>>(
      m.attr("Monitor"));
  cls.def(
      "merge_state",
      [](Monitor& self,
         const std::vector<std::tuple<std::string, py::dict, py::bytes,
                                      py::bytes, py::bytes>>& operations,
         const std::vector<std::pair<std::string, py::dict>>& models,
         const std::vector<std::tuple<std::string, uint64_t, uint64_t>>& caches) {
        std::vector<OperationStats> states;
        states.reserve(operations.size());
        // The same test ResponseTimeTracker::MergeState applies, on all
        // three sketches, so that no operation fails after others merged
        // (found by fuzz/fuzz_snapshot.py: a damaged ttft_sketch).
        const QuantileSketch reference(self.tracker().relative_accuracy());
        for (const auto& [name, fields, sketch, ttft, itl] : operations) {
          states.push_back(StateFrom(name, fields, sketch, ttft, itl, reference));
          const OperationStats& st = states.back();
          for (const auto& [key, s, blob] :
               {std::tuple<const char*, const QuantileSketch*, const py::bytes*>{
                    "sketch", &st.sketch, &sketch},
                {"ttft_sketch", &st.ttft_sketch, &ttft},
                {"itl_sketch", &st.itl_sketch, &itl}}) {
            if (s->relative_accuracy() != reference.relative_accuracy() ||
                s->max_bins() != reference.max_bins()) {
              throw py::value_error(
                  "operation '" + name + "': " + key + " has relative accuracy " +
                  std::to_string(s->relative_accuracy()) + " and " +
                  std::to_string(s->max_bins()) +
                  " bins, this monitor uses " +
                  std::to_string(reference.relative_accuracy()) + " and " +
                  std::to_string(reference.max_bins()) + FormatNote(*blob));
            }
          }
        }
        std::vector<ModelTotals> totals;
        for (const auto& [name, hits, misses] : caches) {
          // CacheStats::Record's own check, before anything is applied.
          if (name.empty() || name.size() > CacheStats::kMaxNameLength) {
            throw py::value_error("cache name must be 1 to " +
                                  std::to_string(CacheStats::kMaxNameLength) +
                                  " bytes, got " + std::to_string(name.size()));
          }
          (void)hits;
          (void)misses;
        }
        for (const auto& [model, d] : models) {
          const std::string where = "model '" + model + "'";
          ModelTotals t;
          t.model = model;
          t.operations = Field<uint64_t>(d, "operations", where);
          t.prompt_tokens = Field<int64_t>(d, "prompt_tokens", where);
          t.completion_tokens = Field<int64_t>(d, "completion_tokens", where);
          t.total_tokens = Field<int64_t>(d, "total_tokens", where);
          t.duration_s = Field<double>(d, "duration_s", where);
          t.priced_operations = Field<uint64_t>(d, "priced_operations", where);
          t.cost_usd = Field<double>(d, "cost_usd", where);
          t.unpriced_operations = Field<uint64_t>(d, "unpriced_operations", where);
          if (d.contains("response_models")) {  // absent in older snapshots
            t.response_models = Field<std::vector<std::string>>(
                d, "response_models", where);
          }
          totals.push_back(std::move(t));
        }
        for (const OperationStats& s : states) {
          // Through the name cap: a snapshot with more names than the cap
          // merges its extra operations into "__other__".
          const int id = self.Intern(s.name);
          ThrowIfError(self.tracker().MergeState(self.tracker().NameOf(id), s));
        }
        for (const ModelTotals& t : totals) self.models().MergeTotals(t);
        for (const auto& [name, hits, misses] : caches) {
          ThrowIfError(self.caches().Record(name, true, hits));
          ThrowIfError(self.caches().Record(name, false, misses));
        }
      },
      py::arg("operations"), py::arg("models"), py::arg("caches"),
      "Adds a saved state: [(name, fields, sketch, ttft_sketch, itl_sketch)], "
      "[(model, totals)], [(cache, hits, misses)]. Validates everything first.");
  cls.def(
      "sketches",
      [](const Monitor& self) {
        std::vector<OperationStats> all;
        {
          GilRelease release;
          all = self.GetAllStats(/*exclude_cold_start=*/false);
        }
        py::list out;
        for (OperationStats& s : all) {
          out.append(py::make_tuple(s.name, std::move(s.sketch),
                                    std::move(s.ttft_sketch),
                                    std::move(s.itl_sketch)));
        }
        return out;
      },
      "[(operation, duration sketch, ttft sketch, itl sketch)]: copies of "
      "each operation's all-time sketches (base-2 buckets; see "
      "QuantileSketch.buckets), for exporters.");
}

}  // namespace ragperf::bindings

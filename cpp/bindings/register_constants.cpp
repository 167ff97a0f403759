// Copyright 2026 The ragperf Authors.
//
// Defaults and limits of the core as `_core` module attributes. They are
// defined once, in C++ (PerformanceMonitor::Options and the constants of the
// core headers); the Python facade's signature defaults, _core.pyi and the
// docs read them from here (tests/python/test_constants.py holds them
// together). STATE_SCHEMA_VERSION is registered with the state bindings.
//
// Example (Python):
//   >>> from ragperf import _core
//   >>> _core.DEFAULT_MAX_OPERATIONS, _core.OVERFLOW_NAME
//   (1000, '__other__')

#include <pybind11/pybind11.h>

#include <string>

#include "ragperf/dimension_stats.h"
#include "ragperf/operation_cap.h"
#include "ragperf/performance_monitor.h"
#include "ragperf/quantile_sketch.h"
#include "ragperf/record_validator.h"
#include "ragperf/resource_sampler.h"
#include "ragperf/stats_fields.h"
#include "registers.h"

namespace py = pybind11;

namespace ragperf::bindings {
namespace {

const char* TypeName(StatType type) {
  switch (type) {
    case StatType::kCount:
    case StatType::kInt:
      return "int";
    case StatType::kDouble:
      return "float";
    case StatType::kErrorsByType:
      return "map";
    case StatType::kHitRate:
      return "derived";
  }
  return "";
}

py::object NoneIfEmpty(const char* text) {
  return *text == '\0' ? py::object(py::none()) : py::object(py::str(text));
}

// The field table of the operation statistics (ragperf/stats_fields.h), one
// tuple per field: (core_key, attribute, report_path, unit, type, optional,
// known_if), None where a field has no such name. ragperf.model.stats_fields
// reads it.
py::tuple StatsFields() {
  py::list out;
  for (const StatField& f : StatFields()) {
    out.append(py::make_tuple(NoneIfEmpty(f.member), NoneIfEmpty(f.attribute),
                              NoneIfEmpty(f.report_path), f.unit,
                              TypeName(f.type), f.known != StatKnown::kAlways,
                              NoneIfEmpty(StatKnownIf(f.known))));
  }
  return py::tuple(out);
}

}  // namespace

static_assert(kOverflowOperation == DimensionStats::kOtherValue,
              "one overflow name for operations and dimension values");

void RegisterConstants(py::module_& m) {
  const PerformanceMonitor::Options d;
  // PerformanceMonitor(...) defaults, named DEFAULT_<ARGUMENT>.
  m.attr("DEFAULT_ENABLE_MEMORY_TRACKING") = d.enable_memory_tracking;
  m.attr("DEFAULT_MAX_HISTORY") = d.max_history;
  m.attr("DEFAULT_RELATIVE_ACCURACY") = d.relative_accuracy;
  m.attr("DEFAULT_MEMORY_THRESHOLD_MB") = d.memory_threshold_mb;
  m.attr("DEFAULT_ERROR_RATE_THRESHOLD") = d.error_rate_threshold;
  m.attr("DEFAULT_MEMORY_MAX_AGE_US") = static_cast<double>(d.memory_max_age_ns) / 1e3;
  m.attr("DEFAULT_TRACK_GPU_MEMORY") = d.track_gpu_memory;
  m.attr("DEFAULT_SYSTEM_MEMORY_PERCENT_THRESHOLD") = d.system_memory_percent_threshold;
  m.attr("DEFAULT_GPU_MEMORY_PERCENT_THRESHOLD") = d.gpu_memory_percent_threshold;
  m.attr("DEFAULT_CPU_PERCENT_THRESHOLD") = d.cpu_percent_threshold;
  m.attr("DEFAULT_MAX_RESOURCE_SAMPLES") = d.max_resource_samples;
  m.attr("DEFAULT_MAX_DIMENSION_VALUES") = d.max_dimension_values;
  m.attr("DEFAULT_MAX_OPERATIONS") = d.max_operations;
  // The sketches' bucket layout (quantile_sketch.h): the scale of the default
  // accuracy, the zero bucket's threshold, the serialized format version.
  m.attr("DEFAULT_SKETCH_SCALE") = QuantileSketch::ScaleFor(d.relative_accuracy);
  m.attr("SKETCH_ZERO_THRESHOLD") = QuantileSketch::kMinIndexable;
  m.attr("SKETCH_FORMAT_VERSION") = QuantileSketch::kFormatVersion;
  // Limits.
  m.attr("MAX_MEMORY_MAX_AGE_US") = PerformanceMonitor::kMaxMemoryMaxAgeUs;
  m.attr("MAX_DURATION_S") = kMaxDurationS;
  m.attr("SAMPLER_MIN_INTERVAL_S") = ResourceSampler::kMinIntervalS;
  m.attr("SAMPLER_MAX_INTERVAL_S") = ResourceSampler::kMaxIntervalS;
  // Names (STATE_SCHEMA_VERSION is registered with the state, register_state.cpp).
  m.attr("OVERFLOW_NAME") = std::string(kOverflowName);
  // The statistics of an operation, each field once (stats_fields.h).
  m.attr("STATS_FIELDS") = StatsFields();
}

}  // namespace ragperf::bindings

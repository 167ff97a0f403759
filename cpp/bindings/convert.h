// Copyright 2026 The ragperf Authors.
//
// convert.h — core structs to Python dicts, shared by the binding files.
// Keys say their unit (`_s`, `_mb`).

#ifndef RAGPERF_BINDINGS_CONVERT_H_
#define RAGPERF_BINDINGS_CONVERT_H_

#include <pybind11/pybind11.h>

#include <vector>

#include "ragperf/memory_monitor.h"
#include "ragperf/performance_monitor.h"
#include "ragperf/response_time_tracker.h"

namespace ragperf::bindings {

pybind11::dict StatsToDict(const OperationStats& s);
pybind11::dict RecentToDict(const RecentRecord& r);
pybind11::dict ModelTotalsToDict(const ModelTotals& m);
pybind11::dict CacheCountsToDict(const CacheCounts& c);
pybind11::dict ErrorEntryToDict(const ErrorEntry& e);
pybind11::dict UsageToDict(const MemoryUsage& u);
pybind11::dict MemoryStatsToDict(const MemoryStats& s);
pybind11::dict SystemMemoryToDict(const SystemMemory& s);
pybind11::dict HealthToDict(const HealthStatus& h);
pybind11::list HistoryToList(const std::vector<MemorySample>& samples);

}  // namespace ragperf::bindings

#endif  // RAGPERF_BINDINGS_CONVERT_H_

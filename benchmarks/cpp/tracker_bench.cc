// Copyright 2026 The ragperf Authors.
//
// Concurrency benchmarks of the C++ core (google-benchmark): records/s with
// 1, 2 and 4 threads into the same and into different operations, plus the
// pieces of one record. Each threaded case checks after its timed loop that
// no record was lost (count == iterations x threads) and fails otherwise.
//
// Run: build/bench/tracker_bench --benchmark_out=results.json
//      --benchmark_out_format=json

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "benchmark/benchmark.h"
#include "ragperf/performance_monitor.h"
#include "ragperf/quantile_sketch.h"
#include "ragperf/response_time_tracker.h"

namespace ragperf {
namespace {

OperationRecord SampleRecord(int64_t i) {
  OperationRecord r;
  r.duration_s = 0.001 * static_cast<double>(1 + (i & 1023));
  r.tokens = 10;
  r.timestamp_s = 1.8e9;
  return r;
}

// Shared by the threads of one run; created by thread 0 before the timed
// loop (google-benchmark starts the loop only when every thread reached it).
std::unique_ptr<ResponseTimeTracker> g_tracker;

void CheckNoLostRecords(benchmark::State& state, uint64_t expected) {
  if (state.thread_index() != 0) return;
  const uint64_t counted = g_tracker->Count();
  state.counters["lost"] = static_cast<double>(expected - counted);
  if (counted != expected) {
    state.SkipWithError(("lost records: expected " + std::to_string(expected) +
                         ", counted " + std::to_string(counted))
                            .c_str());
  }
}

void BM_RecordSameOperation(benchmark::State& state) {
  if (state.thread_index() == 0) g_tracker = std::make_unique<ResponseTimeTracker>();
  const int id = 0;
  if (state.thread_index() == 0) g_tracker->Intern("shared");
  int64_t i = 0;
  for (auto _ : state) {
    g_tracker->Record(id, SampleRecord(i++));
  }
  state.SetItemsProcessed(state.iterations());
  CheckNoLostRecords(state, state.iterations() * static_cast<uint64_t>(state.threads()));
}
BENCHMARK(BM_RecordSameOperation)->ThreadRange(1, 4)->UseRealTime();

void BM_RecordDistinctOperations(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_tracker = std::make_unique<ResponseTimeTracker>();
    for (int t = 0; t < state.threads(); ++t) g_tracker->Intern("op_" + std::to_string(t));
  }
  const int id = state.thread_index();  // ids 0..threads-1, interned above
  int64_t i = 0;
  for (auto _ : state) {
    g_tracker->Record(id, SampleRecord(i++));
  }
  state.SetItemsProcessed(state.iterations());
  CheckNoLostRecords(state, state.iterations() * static_cast<uint64_t>(state.threads()));
}
BENCHMARK(BM_RecordDistinctOperations)->ThreadRange(1, 4)->UseRealTime();

void BM_SketchAdd(benchmark::State& state) {
  QuantileSketch sketch;
  int64_t i = 0;
  for (auto _ : state) {
    sketch.Add(0.001 * static_cast<double>(1 + (i++ & 1023)));
  }
  benchmark::DoNotOptimize(sketch.count());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SketchAdd);

void BM_GetAllStats100Operations(benchmark::State& state) {
  ResponseTimeTracker tracker;
  for (int op = 0; op < 100; ++op) {
    const int id = tracker.Intern("operation_" + std::to_string(op));
    for (int i = 0; i < 1000; ++i) tracker.Record(id, SampleRecord(i * 7 + op));
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(tracker.GetAllStats());
  }
}
BENCHMARK(BM_GetAllStats100Operations)->Unit(benchmark::kMicrosecond);

void BM_ReportJson100Operations(benchmark::State& state) {
  PerformanceMonitor::Options options;
  options.enable_memory_tracking = false;
  PerformanceMonitor monitor(options);
  for (int op = 0; op < 100; ++op) {
    const int id = monitor.Intern("operation_" + std::to_string(op));
    for (int i = 0; i < 1000; ++i) monitor.Record(id, SampleRecord(i * 7 + op));
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        PerformanceMonitor::ReportToJson(monitor.GenerateReport(), 0));
  }
}
BENCHMARK(BM_ReportJson100Operations)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ragperf

int main(int argc, char** argv) {
  // As in the Python extension (cpp/bindings/module.cpp): Debian's abseil has
  // deadlock detection on; production ragperf turns it off.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

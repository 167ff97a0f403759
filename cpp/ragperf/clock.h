// Copyright 2026 The ragperf Authors.
//
// clock.h
// -----------------------------------------------------------------------------
// The clocks of the hot path. A clock_gettime costs ~28 ns on these machines
// (vDSO), about a fifth of a tracked block, so a block reads the monotonic
// clock at its start and end and derives its wall-clock timestamp from the
// end reading: wall = steady + offset, where the offset is re-measured with
// one CLOCK_REALTIME read whenever it is more than a second old. The derived
// time is within the clock's slew over that second (NTP slews at most
// 500 ppm, i.e. 0.5 ms) of CLOCK_REALTIME, and picks up a step of the system
// clock within a second.
//
// Example:
//
//   const int64_t start = ragperf::SteadyNowNanos();
//   ... work ...
//   const int64_t end = ragperf::SteadyNowNanos();
//   double duration_s = (end - start) * 1e-9;
//   double timestamp_s = ragperf::WallSecondsAt(end);   // unix seconds

#ifndef RAGPERF_CLOCK_H_
#define RAGPERF_CLOCK_H_

#include <time.h>

#include <cstdint>

namespace ragperf {

// Monotonic clock for durations, nanoseconds.
inline int64_t SteadyNowNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Wall clock, unix seconds (one clock_gettime).
inline double WallNowSeconds() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) +
         static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Unix seconds at the moment the monotonic clock read `steady_ns` (a recent
// SteadyNowNanos() value). Lock-free; usually no clock read.
double WallSecondsAt(int64_t steady_ns);

}  // namespace ragperf

#endif  // RAGPERF_CLOCK_H_

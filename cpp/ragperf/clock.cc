// Copyright 2026 The ragperf Authors.

#include "ragperf/clock.h"

#include <atomic>
#include <limits>

namespace ragperf {
namespace {

constexpr int64_t kRefreshNs = 1000000000;  // re-measure the offset each second

// Offset wall - steady in nanoseconds and when it was measured (steady time).
// Two atomics, published with release/acquire: a reader that sees a new
// measurement time sees its offset or a newer one.
std::atomic<int64_t> g_offset_ns{0};
std::atomic<int64_t> g_measured_at_ns{std::numeric_limits<int64_t>::min() / 2};

int64_t MeasureOffset(int64_t* measured_at) {
  // A thread preempted between the wall and the monotonic read would bake
  // its pause into every timestamp of the next second: bracket the wall read
  // with two monotonic reads and keep the tightest of a few tries.
  constexpr int64_t kTightNs = 20000;
  int64_t best_gap = std::numeric_limits<int64_t>::max();
  int64_t offset = 0;
  int64_t steady = 0;
  for (int attempt = 0; attempt < 4 && best_gap > kTightNs; ++attempt) {
    const int64_t before = SteadyNowNanos();
    timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    const int64_t after = SteadyNowNanos();
    if (after - before < best_gap) {
      best_gap = after - before;
      steady = before + best_gap / 2;
      offset = static_cast<int64_t>(wall.tv_sec) * 1000000000 + wall.tv_nsec -
               steady;
    }
  }
  g_offset_ns.store(offset, std::memory_order_relaxed);
  g_measured_at_ns.store(steady, std::memory_order_release);
  *measured_at = steady;
  return offset;
}

}  // namespace

double WallSecondsAt(int64_t steady_ns) {
  const int64_t measured_at = g_measured_at_ns.load(std::memory_order_acquire);
  int64_t offset = g_offset_ns.load(std::memory_order_relaxed);
  if (steady_ns - measured_at > kRefreshNs || steady_ns < measured_at - kRefreshNs) {
    int64_t now_measured = 0;
    offset = MeasureOffset(&now_measured);
  }
  // Split into seconds and nanoseconds before converting: unix time in ns
  // exceeds the 53-bit mantissa of a double.
  const int64_t wall_ns = steady_ns + offset;
  return static_cast<double>(wall_ns / 1000000000) +
         static_cast<double>(wall_ns % 1000000000) * 1e-9;
}

}  // namespace ragperf

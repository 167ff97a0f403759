// Copyright 2026 The ragperf Authors.

#include "ragperf/clock.h"

#include <atomic>
#include <cmath>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace ragperf {
namespace {

TEST(ClockTest, SteadyIsMonotonic) {
  int64_t last = SteadyNowNanos();
  for (int i = 0; i < 1000; ++i) {
    const int64_t now = SteadyNowNanos();
    EXPECT_GE(now, last);
    last = now;
  }
}

TEST(ClockTest, DerivedWallTimeMatchesRealtime) {
  for (int i = 0; i < 100; ++i) {
    const double before = WallNowSeconds();
    const double derived = WallSecondsAt(SteadyNowNanos());
    const double after = WallNowSeconds();
    // Within the reads' own spacing plus a millisecond of slew.
    EXPECT_GE(derived, before - 1e-3);
    EXPECT_LE(derived, after + 1e-3);
  }
}

TEST(ClockTest, DerivedWallTimeFollowsSteadyDifferences) {
  const int64_t t0 = SteadyNowNanos();
  const double w0 = WallSecondsAt(t0);
  const double w1 = WallSecondsAt(t0 + 250000000);  // +0.25 s, same offset
  EXPECT_NEAR(w1 - w0, 0.25, 1e-6);
}

TEST(ClockTest, KeepsSubMicrosecondResolution) {
  const int64_t t0 = SteadyNowNanos();
  const double a = WallSecondsAt(t0);
  const double b = WallSecondsAt(t0 + 1000);  // +1 us
  EXPECT_NEAR(b - a, 1e-6, 2e-7);
}

TEST(ClockTest, ThreadsAgree) {
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        // Bracketed by two direct readings, so a thread preempted between
        // calls (a loaded machine, a sanitizer) cannot fail the check.
        const double before = WallNowSeconds();
        const double derived = WallSecondsAt(SteadyNowNanos());
        const double after = WallNowSeconds();
        if (derived < before - 5e-3 || derived > after + 5e-3) ++bad;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace ragperf

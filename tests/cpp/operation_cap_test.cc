// Copyright 2026 The ragperf Authors.

#include "ragperf/operation_cap.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "ragperf/performance_monitor.h"

namespace ragperf {
namespace {

TEST(OperationCapTest, NamesBeyondTheCapShareOverflowOperation) {
  ResponseTimeTracker tracker;
  OperationCap cap(2);
  std::vector<std::string> warned;
  cap.SetOverflowCallback([&](absl::string_view name, size_t max) {
    warned.emplace_back(name);
    EXPECT_EQ(max, 2u);
  });
  const int a = cap.Intern(tracker, "a");
  const int b = cap.Intern(tracker, "b");
  EXPECT_NE(a, b);
  EXPECT_EQ(cap.overflow_id(), -1);
  const int c = cap.Intern(tracker, "c");
  const int d = cap.Intern(tracker, "d");
  EXPECT_EQ(c, d);
  EXPECT_EQ(tracker.NameOf(c), kOverflowOperation);
  EXPECT_EQ(cap.overflow_id(), c);
  EXPECT_EQ(cap.Intern(tracker, "a"), a);  // known names keep their id
  EXPECT_EQ(cap.overflow_names(), 2u);
  ASSERT_EQ(warned.size(), 1u);  // one warning, naming the first overflow
  EXPECT_EQ(warned[0], "c");
}

TEST(OperationCapTest, MonitorMemoryStaysBoundedPastTheCap) {
  PerformanceMonitor::Options options;
  options.enable_memory_tracking = false;
  options.max_operations = 100;
  PerformanceMonitor m(options);
  OperationRecord rec;
  rec.duration_s = 0.01;
  for (int i = 0; i < 100; ++i) m.Record(m.Intern("op" + std::to_string(i)), rec);
  const size_t at_cap = m.tracker().MemoryBytes();
  for (int i = 100; i < 20000; ++i) {
    m.Record(m.Intern("op" + std::to_string(i)), rec);
  }
  // 19,900 more names all share "__other__": one more operation's worth.
  EXPECT_LT(m.tracker().MemoryBytes(), at_cap + at_cap / 50 + 65536);
  EXPECT_EQ(m.GetAllStats().size(), 101u);
  EXPECT_EQ(m.GetStats("__other__").total, 19900u);
  EXPECT_EQ(m.tracker().FindId("op150"), -1);
}

TEST(OperationCapTest, ConcurrentNewNamesRespectTheCapExactly) {
  ResponseTimeTracker tracker;
  OperationCap cap(50);
  std::atomic<int> warnings{0};
  cap.SetOverflowCallback([&](absl::string_view, size_t) { ++warnings; });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        cap.Intern(tracker, "t" + std::to_string(t) + "_" + std::to_string(i));
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(cap.overflow_names(), 350u);
  EXPECT_EQ(warnings.load(), 1);
  EXPECT_GE(tracker.FindId(kOverflowOperation), 0);
  int own = 0;
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < 100; ++i) {
      own += tracker.FindId("t" + std::to_string(t) + "_" + std::to_string(i)) >= 0;
    }
  }
  EXPECT_EQ(own, 50);
}

TEST(OperationCapTest, ValidateOptionsRejectsZero) {
  PerformanceMonitor::Options options;
  options.max_operations = 0;
  EXPECT_FALSE(PerformanceMonitor::ValidateOptions(options).ok());
}

}  // namespace
}  // namespace ragperf

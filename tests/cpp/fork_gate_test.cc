// Copyright 2026 The ragperf Authors.
//
// fork() while other threads report, export, clear and sample: the child
// must never inherit a held ragperf lock. Each child uses every part of the
// monitor and must exit 0 within a deadline.

#include "ragperf/fork_gate.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "ragperf/performance_monitor.h"
#include "sanitizer_scale.h"

namespace ragperf {
namespace {

// Waits up to `seconds` for `pid`; kills it on timeout. Returns the wait
// status, or -1 on timeout.
int WaitWithDeadline(pid_t pid, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration<double>(seconds);
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// Everything a child does: each call takes locks the parent's threads were
// using when it forked. Exit code 0 = all as expected.
int ChildBody(PerformanceMonitor& m, uint64_t recorded_before) {
  const int id = m.Intern("child_op");
  OperationRecord rec;
  rec.duration_s = 0.5;
  m.Record(id, rec);
  if (m.GetStats("child_op").total < 1) return 2;
  // Statistics are inherited: the parent's records are still there.
  if (m.tracker().Count("parent_op") < recorded_before) return 3;
  const Report r = m.GenerateReport();
  if (r.operations.empty()) return 4;
  (void)m.GetHealth();
  if (m.sampler().running()) return 5;  // the parent's thread is not ours
  if (!testing::kThreadSanitized) {  // TSan: no new threads after such a fork
    if (!m.StartSampler(0.05).ok()) return 6;
    m.StopSampler();
  }
  m.Clear();
  return m.tracker().Count() == 0 ? 0 : 7;
}

// AddressSanitizer's allocator (GCC 12's libsanitizer) takes no lock
// around fork(): a child can inherit one of its internal mutexes held by a
// parent thread that was allocating (the report, export and stats threads
// below allocate constantly) and then deadlock in its first allocation --
// seen as the child's restarted sampler thread blocked in
// __asan::Allocator (SizeClassAllocator64::GetFromAllocator) while
// AsanThread::Init frees. That is the sanitizer's state, not ragperf's;
// the plain and TSan builds run this test.
#if defined(__SANITIZE_ADDRESS__)
#define RAGPERF_ASAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RAGPERF_ASAN_BUILD 1
#endif
#endif

TEST(ForkGateTest, ForkWhileThreadsReportExportClearAndSample) {
#ifdef RAGPERF_ASAN_BUILD
  GTEST_SKIP() << "ASan's allocator is not fork-safe with allocating threads "
                  "(see the comment above); run by the plain and TSan builds";
#endif
  PerformanceMonitor::Options options;
  options.enable_memory_tracking = true;
  PerformanceMonitor m(options);
  ASSERT_TRUE(m.StartSampler(0.05).ok());
  const int parent_op = m.Intern("parent_op");
  OperationRecord rec;
  rec.duration_s = 0.25;
  for (int i = 0; i < 100; ++i) m.Record(parent_op, rec);

  std::atomic<bool> stop{false};
  const std::string path =
      ::testing::TempDir() + "fork_gate_" + std::to_string(getpid()) + ".json";
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    while (!stop) (void)m.GenerateReport();
  });
  threads.emplace_back([&] {
    while (!stop) (void)m.ExportJson(path);
  });
  threads.emplace_back([&] {
    while (!stop) {
      (void)m.GetAllStats();
      (void)m.GetHealth();
    }
  });
  threads.emplace_back([&] {
    while (!stop) (void)m.sampler().SampleNow();
  });

  const int forks = static_cast<int>(testing::Scaled(200));
  const uint64_t before = ForkGate::forks();
  int failures = 0;
  for (int i = 0; i < forks && failures == 0; ++i) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) _exit(ChildBody(m, 100));
    const int status = WaitWithDeadline(pid, 20);
    if (status == -1) {
      ADD_FAILURE() << "child " << i << " hung (deadlock)";
      ++failures;
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      ADD_FAILURE() << "child " << i << " failed, wait status " << status;
      ++failures;
    }
  }
  stop = true;
  for (std::thread& t : threads) t.join();
  m.StopSampler();
  unlink(path.c_str());
  EXPECT_EQ(ForkGate::forks() - before, static_cast<uint64_t>(forks));
  // The parent is untouched by its children.
  EXPECT_EQ(m.tracker().Count("parent_op"), 100u);
  EXPECT_EQ(m.tracker().Count("child_op"), 0u);
}

TEST(ForkGateTest, ReadersNestAndForkFromInsideAReaderDoesNotWaitForItself) {
  ForkGate::Reader outer;
  {
    ForkGate::Reader inner;  // must not block
  }
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ForkGate::Reader in_child;  // the gate is open in the child
    _exit(0);
  }
  const int status = WaitWithDeadline(pid, 20);
  ASSERT_NE(status, -1) << "child hung";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(ForkGateTest, ChildKnowsTheSamplerWasRunning) {
  ResourceSampler sampler(16);
  ASSERT_TRUE(sampler.Start(0.05).ok());
  EXPECT_FALSE(sampler.was_running_at_fork());
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const bool ok = sampler.was_running_at_fork() && !sampler.running();
    sampler.Stop();  // must not try to join the parent's thread
    _exit(ok && !sampler.was_running_at_fork() ? 0 : 1);
  }
  const int status = WaitWithDeadline(pid, 20);
  ASSERT_NE(status, -1) << "child hung";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_TRUE(sampler.running());
  sampler.Stop();
}

}  // namespace
}  // namespace ragperf

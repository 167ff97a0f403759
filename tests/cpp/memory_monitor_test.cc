// Copyright 2024 The ragperf Authors.

#include "ragperf/memory_monitor.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/config.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace ragperf {
namespace {

constexpr double kMb = 1024.0 * 1024.0;
constexpr size_t kAllocBytes = size_t{64} << 20;

// Upper bound on RSS growth from touching kAllocBytes. Sanitizers map shadow
// memory for every touched page (ASan 1/8 of it, TSan several times it), and
// that shadow is part of our RSS.
#ifdef ABSL_HAVE_THREAD_SANITIZER
constexpr int64_t kMaxGrowthMb = 64 * 5;
#else
constexpr int64_t kMaxGrowthMb = 96;
#endif

// RSS as the kernel reports it in /proc/self/status, in bytes, or -1. Written
// with raw syscalls and no allocation so it is usable in a forked child.
int64_t VmRssFromStatusBytes() {
  const int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[8192];
  size_t len = 0;
  while (len < sizeof(buf) - 1) {
    const ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += static_cast<size_t>(n);
  }
  close(fd);
  buf[len] = '\0';
  const char* line = std::strstr(buf, "\nVmRSS:");
  if (line == nullptr) return -1;
  const char* p = line + std::strlen("\nVmRSS:");
  while (*p == ' ' || *p == '\t') ++p;
  int64_t kib = 0;
  bool any = false;
  for (; *p >= '0' && *p <= '9'; ++p) {
    kib = kib * 10 + (*p - '0');
    any = true;
  }
  return any ? kib * 1024 : -1;
}

// Allocates `bytes` and writes one non-zero byte per page so every page is
// resident. Non-zero so the compiler cannot turn this into calloc().
std::unique_ptr<char[]> AllocateAndTouch(size_t bytes) {
  std::unique_ptr<char[]> p(new char[bytes]);
  const long page = sysconf(_SC_PAGESIZE);
  for (size_t i = 0; i < bytes; i += static_cast<size_t>(page)) {
    p[i] = static_cast<char>((i >> 12) | 1);
  }
  // Keep the stores observable.
  asm volatile("" : : "r"(p.get()) : "memory");
  return p;
}

int CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int n = 0;
  while (readdir(dir) != nullptr) ++n;
  closedir(dir);
  return n;
}

// ---------------------------------------------------------------------------
// StatmReader
// ---------------------------------------------------------------------------

TEST(StatmReaderTest, ReadsPositiveRssAndVmsAtLeastRss) {
  int64_t rss = 0;
  int64_t vms = 0;
  ASSERT_TRUE(StatmReader::Instance().Read(&rss, &vms));
  EXPECT_GT(rss, 0);
  EXPECT_GE(vms, rss);
  EXPECT_EQ(rss % StatmReader::Instance().page_size(), 0);

  int64_t rss_only = 0;
  ASSERT_TRUE(StatmReader::Instance().ReadRss(&rss_only));
  EXPECT_GT(rss_only, 0);
}

TEST(StatmReaderTest, PageSizeMatchesSysconf) {
  EXPECT_EQ(StatmReader::Instance().page_size(), sysconf(_SC_PAGESIZE));
}

TEST(StatmReaderTest, RssAgreesWithProcStatus) {
  int64_t rss = 0;
  int64_t vms = 0;
  ASSERT_TRUE(StatmReader::Instance().Read(&rss, &vms));
  const int64_t status_rss = VmRssFromStatusBytes();
  ASSERT_GT(status_rss, 0);
  EXPECT_NEAR(static_cast<double>(rss) / kMb,
              static_cast<double>(status_rss) / kMb, 4.0);
}

TEST(StatmReaderTest, RepeatedReadsDoNotOpenFiles) {
  int64_t rss = 0;
  ASSERT_TRUE(StatmReader::Instance().ReadRss(&rss));  // Ensure it is open.
  const int before = CountOpenFds();
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(StatmReader::Instance().ReadRss(&rss));
  }
  EXPECT_EQ(CountOpenFds(), before);
}

TEST(StatmReaderTest, ConcurrentReadsSucceed) {
  std::vector<std::thread> threads;
  std::vector<int> failures(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&failures, t] {
      for (int i = 0; i < 2000; ++i) {
        int64_t rss = 0;
        int64_t vms = 0;
        if (!StatmReader::Instance().Read(&rss, &vms) || rss <= 0 ||
            vms < rss) {
          ++failures[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 8; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

TEST(StatmReaderTest, ParseStatmAcceptsKernelFormat) {
  int64_t size = -1;
  int64_t resident = -1;
  ASSERT_TRUE(
      StatmReader::ParseStatm("2893 1105 801 1 0 322 0\n", &size, &resident));
  EXPECT_EQ(size, 2893);
  EXPECT_EQ(resident, 1105);

  // A short read that still contains both fields.
  ASSERT_TRUE(StatmReader::ParseStatm("10 20", &size, &resident));
  EXPECT_EQ(size, 10);
  EXPECT_EQ(resident, 20);

  ASSERT_TRUE(StatmReader::ParseStatm("0 0\n", &size, &resident));
  EXPECT_EQ(size, 0);
  EXPECT_EQ(resident, 0);

  ASSERT_TRUE(StatmReader::ParseStatm("999999999999999999 1 2", &size,
                                      &resident));
  EXPECT_EQ(size, 999999999999999999);
}

TEST(StatmReaderTest, ParseStatmRejectsMalformedInput) {
  int64_t size = 7;
  int64_t resident = 7;
  for (absl::string_view bad :
       {absl::string_view(""), absl::string_view(" 1 2"), absl::string_view("1"),
        absl::string_view("1 "), absl::string_view("1  2"),
        absl::string_view("a 2"), absl::string_view("1 b"),
        absl::string_view("1 2x"), absl::string_view("-1 2"),
        absl::string_view("1\t2"),
        absl::string_view("1000000000000000000 1"),  // 19 digits
        absl::string_view("1 99999999999999999999")}) {
    EXPECT_FALSE(StatmReader::ParseStatm(bad, &size, &resident))
        << "input: '" << bad << "'";
    EXPECT_EQ(size, 7);
    EXPECT_EQ(resident, 7);
  }
}

// A forked child must report its own RSS, not the parent's: the parent's
// descriptor refers to the parent's /proc/<pid>/statm.
TEST(StatmReaderTest, ForkedChildReadsItsOwnStatm) {
  int64_t parent_rss = 0;
  ASSERT_TRUE(StatmReader::Instance().ReadRss(&parent_rss));

  const pid_t pid = fork();
  ASSERT_GE(pid, 0) << std::strerror(errno);
  if (pid == 0) {
    // Child: no gtest assertions here; report through the exit code.
    int64_t before = 0;
    if (!StatmReader::Instance().ReadRss(&before)) _exit(10);
    std::unique_ptr<char[]> block = AllocateAndTouch(kAllocBytes);
    int64_t after = 0;
    if (!StatmReader::Instance().ReadRss(&after)) _exit(11);
    const int64_t status_rss = VmRssFromStatusBytes();
    if (status_rss <= 0) _exit(12);
    // Agrees with the child's own /proc/self/status ...
    if (std::llabs(after - status_rss) > (int64_t{4} << 20)) _exit(13);
    // ... and saw the child's allocation, which the parent never made.
    const int64_t grew = after - before;
    if (grew < (int64_t{56} << 20) || grew > (kMaxGrowthMb << 20)) _exit(14);
    _exit(0);
  }

  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFEXITED(wstatus)) << "child did not exit normally";
  EXPECT_EQ(WEXITSTATUS(wstatus), 0)
      << "10/11: read failed, 12: no VmRSS, 13: disagrees with "
         "/proc/self/status (stale parent descriptor?), 14: allocation not "
         "seen";

  // The parent's reader is unaffected by the child's handler and allocation.
  int64_t parent_after = 0;
  ASSERT_TRUE(StatmReader::Instance().ReadRss(&parent_after));
  EXPECT_LT(parent_after - parent_rss, int64_t{32} << 20);
  EXPECT_NEAR(static_cast<double>(parent_after) / kMb,
              static_cast<double>(VmRssFromStatusBytes()) / kMb, 4.0);
}

// ---------------------------------------------------------------------------
// MemoryMonitor
// ---------------------------------------------------------------------------

TEST(MemoryMonitorTest, ReadUsageIsPositiveAndVmsAtLeastRss) {
  absl::StatusOr<MemoryUsage> usage = MemoryMonitor::ReadUsage();
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_GT(usage->rss_mb, 0.0);
  EXPECT_GE(usage->vms_mb, usage->rss_mb);
  EXPECT_NEAR(usage->rss_mb,
              static_cast<double>(VmRssFromStatusBytes()) / kMb, 4.0);
}

TEST(MemoryMonitorTest, TouchingAllocationRaisesRss) {
  absl::StatusOr<MemoryUsage> before = MemoryMonitor::ReadUsage();
  ASSERT_TRUE(before.ok()) << before.status();
  std::unique_ptr<char[]> block = AllocateAndTouch(kAllocBytes);
  absl::StatusOr<MemoryUsage> after = MemoryMonitor::ReadUsage();
  ASSERT_TRUE(after.ok()) << after.status();
  const double delta = MemoryMonitor::MemoryDeltaMb(*before, *after);
  // 64 MiB of pages; slack for allocator metadata and sanitizer shadow.
  EXPECT_GT(delta, 56.0);
  EXPECT_LT(delta, static_cast<double>(kMaxGrowthMb));
  EXPECT_GE(after->vms_mb, after->rss_mb);
}

TEST(MemoryMonitorTest, MemoryDeltaIsEndMinusStart) {
  MemoryUsage start;
  start.rss_mb = 100.0;
  start.vms_mb = 500.0;
  MemoryUsage end;
  end.rss_mb = 150.5;
  end.vms_mb = 400.0;
  EXPECT_DOUBLE_EQ(MemoryMonitor::MemoryDeltaMb(start, end), 50.5);
  EXPECT_DOUBLE_EQ(MemoryMonitor::MemoryDeltaMb(end, start), -50.5);
}

TEST(MemoryMonitorTest, MaxHistoryZeroIsClampedToOne) {
  MemoryMonitor monitor(0);
  EXPECT_EQ(monitor.max_history(), 1u);
  ASSERT_TRUE(monitor.Sample().ok());
  ASSERT_TRUE(monitor.Sample().ok());
  EXPECT_EQ(monitor.History().size(), 1u);
}

TEST(MemoryMonitorTest, DefaultMaxHistory) {
  MemoryMonitor monitor;
  EXPECT_EQ(monitor.max_history(), 1000u);
  EXPECT_TRUE(monitor.History().empty());
}

TEST(MemoryMonitorTest, HistoryIsBoundedAndOldestFirst) {
  MemoryMonitor monitor(5);
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<MemoryUsage> s = monitor.Sample();
    ASSERT_TRUE(s.ok()) << s.status();
  }
  EXPECT_EQ(monitor.History().size(), 3u);

  for (int i = 0; i < 4; ++i) ASSERT_TRUE(monitor.Sample().ok());
  // Everything from here on must be what the ring keeps once it wraps.
  absl::SleepFor(absl::Milliseconds(2));
  const double cutoff = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(monitor.Sample().ok());
    absl::SleepFor(absl::Microseconds(200));
  }

  const std::vector<MemorySample> history = monitor.History();
  ASSERT_EQ(history.size(), 5u);
  for (size_t i = 0; i < history.size(); ++i) {
    EXPECT_GE(history[i].timestamp_s, cutoff) << i;
    EXPECT_GT(history[i].rss_mb, 0.0);
    EXPECT_GE(history[i].vms_mb, history[i].rss_mb);
    if (i > 0) {
      EXPECT_GT(history[i].timestamp_s, history[i - 1].timestamp_s) << i;
    }
  }
  const double now = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  EXPECT_LE(history.back().timestamp_s, now);
  EXPECT_GT(history.front().timestamp_s, now - 60.0);

  // The aggregates cover all 12 samples, not just the 5 kept, plus the one
  // GetStats takes itself.
  EXPECT_EQ(monitor.GetStats().samples, 13u);
  EXPECT_EQ(monitor.History().size(), 5u);
}

TEST(MemoryMonitorTest, HistoryWrapsRepeatedly) {
  MemoryMonitor monitor(3);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(monitor.Sample().ok());
  const std::vector<MemorySample> history = monitor.History();
  ASSERT_EQ(history.size(), 3u);
  EXPECT_LE(history[0].timestamp_s, history[1].timestamp_s);
  EXPECT_LE(history[1].timestamp_s, history[2].timestamp_s);
}

TEST(MemoryMonitorTest, GetStatsOnFreshMonitorReportsCurrentOnly) {
  MemoryMonitor monitor;
  const MemoryStats stats = monitor.GetStats();
  EXPECT_EQ(stats.samples, 1u);
  EXPECT_GT(stats.current_rss_mb, 0.0);
  EXPECT_GE(stats.current_vms_mb, stats.current_rss_mb);
  EXPECT_DOUBLE_EQ(stats.min_rss_mb, stats.current_rss_mb);
  EXPECT_DOUBLE_EQ(stats.max_rss_mb, stats.current_rss_mb);
  EXPECT_DOUBLE_EQ(stats.avg_rss_mb, stats.current_rss_mb);
  EXPECT_EQ(monitor.History().size(), 1u);  // GetStats records its sample.
}

TEST(MemoryMonitorTest, GetStatsOrdersMinAvgMax) {
  MemoryMonitor monitor;
  monitor.Observe(1.0);
  monitor.Observe(1e6);
  ASSERT_TRUE(monitor.Sample().ok());
  const MemoryStats stats = monitor.GetStats();
  EXPECT_EQ(stats.samples, 4u);
  EXPECT_DOUBLE_EQ(stats.min_rss_mb, 1.0);
  EXPECT_DOUBLE_EQ(stats.max_rss_mb, 1e6);
  EXPECT_LE(stats.min_rss_mb, stats.avg_rss_mb);
  EXPECT_LE(stats.avg_rss_mb, stats.max_rss_mb);
  EXPECT_GT(stats.current_rss_mb, 0.0);
  // Observe() does not touch the history.
  EXPECT_EQ(monitor.History().size(), 2u);
}

TEST(MemoryMonitorTest, ObserveIgnoresNonFinite) {
  MemoryMonitor monitor;
  monitor.Observe(std::numeric_limits<double>::quiet_NaN());
  monitor.Observe(std::numeric_limits<double>::infinity());
  monitor.Observe(-std::numeric_limits<double>::infinity());
  monitor.Observe(2.0);
  const MemoryStats stats = monitor.GetStats();
  EXPECT_EQ(stats.samples, 2u);
  EXPECT_TRUE(std::isfinite(stats.avg_rss_mb));
  EXPECT_DOUBLE_EQ(stats.min_rss_mb, std::min(2.0, stats.current_rss_mb));
}

TEST(MemoryMonitorTest, ConcurrentObserveIsExact) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20000;
  MemoryMonitor monitor;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&monitor, t] {
      // Integers, so every partial sum is exact in a double regardless of
      // the order the CAS loops apply them in.
      for (int k = 0; k < kPerThread; ++k) {
        monitor.Observe(1.0 + t * kPerThread + k);
      }
    });
  }
  for (auto& th : threads) th.join();

  const MemoryStats stats = monitor.GetStats();
  constexpr double kN = double{kThreads} * kPerThread;
  EXPECT_EQ(stats.samples, static_cast<uint64_t>(kN) + 1);
  EXPECT_DOUBLE_EQ(stats.min_rss_mb, 1.0);
  EXPECT_DOUBLE_EQ(stats.max_rss_mb, kN);
  const double expected_sum = kN * (kN + 1) / 2 + stats.current_rss_mb;
  EXPECT_NEAR(stats.avg_rss_mb * (kN + 1), expected_sum, 1e-3);
}

TEST(MemoryMonitorTest, ConcurrentSampleObserveAndStats) {
  MemoryMonitor monitor(16);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&monitor] {
      for (int i = 0; i < 2000; ++i) monitor.Observe(10.0 + i % 7);
    });
  }
  threads.emplace_back([&monitor] {
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(monitor.Sample().ok());
  });
  threads.emplace_back([&monitor] {
    for (int i = 0; i < 200; ++i) {
      const MemoryStats s = monitor.GetStats();
      EXPECT_LE(s.min_rss_mb, s.avg_rss_mb);
      EXPECT_LE(s.avg_rss_mb, s.max_rss_mb);
      EXPECT_LE(monitor.History().size(), 16u);
    }
  });
  for (auto& th : threads) th.join();
  EXPECT_EQ(monitor.GetStats().samples, 4u * 2000 + 200 + 200 + 1);
}

TEST(MemoryMonitorTest, ClearForgetsHistoryAndAggregates) {
  MemoryMonitor monitor(10);
  monitor.Observe(1.0);
  monitor.Observe(1e6);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(monitor.Sample().ok());
  ASSERT_EQ(monitor.History().size(), 4u);

  monitor.Clear();
  EXPECT_TRUE(monitor.History().empty());
  const MemoryStats stats = monitor.GetStats();
  EXPECT_EQ(stats.samples, 1u);
  EXPECT_DOUBLE_EQ(stats.min_rss_mb, stats.current_rss_mb);
  EXPECT_DOUBLE_EQ(stats.max_rss_mb, stats.current_rss_mb);
  EXPECT_DOUBLE_EQ(stats.avg_rss_mb, stats.current_rss_mb);

  // The ring keeps working after a clear.
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(monitor.Sample().ok());
  EXPECT_EQ(monitor.History().size(), 10u);
}

// ---------------------------------------------------------------------------
// System memory
// ---------------------------------------------------------------------------

TEST(SystemMemoryTest, ValuesAreConsistent) {
  absl::StatusOr<SystemMemory> mem = MemoryMonitor::ReadSystemMemory();
  ASSERT_TRUE(mem.ok()) << mem.status();
  EXPECT_GT(mem->total_mb, 0.0);
  EXPECT_GE(mem->available_mb, 0.0);
  EXPECT_LE(mem->available_mb, mem->total_mb);
  EXPECT_LE(mem->free_mb, mem->total_mb);
  EXPECT_GE(mem->used_percent, 0.0);
  EXPECT_LE(mem->used_percent, 100.0);
  EXPECT_NEAR(mem->used_mb, mem->total_mb - mem->available_mb, 1e-6);
  EXPECT_NEAR(mem->used_percent, 100.0 * mem->used_mb / mem->total_mb, 1e-9);
}

TEST(SystemMemoryTest, TotalMatchesPhysicalPages) {
  absl::StatusOr<SystemMemory> mem = MemoryMonitor::ReadSystemMemory();
  ASSERT_TRUE(mem.ok()) << mem.status();
  const double phys_mb = static_cast<double>(sysconf(_SC_PHYS_PAGES)) *
                         static_cast<double>(sysconf(_SC_PAGESIZE)) / kMb;
  ASSERT_GT(phys_mb, 0.0);
  EXPECT_NEAR(mem->total_mb, phys_mb, phys_mb * 0.01);
}

TEST(SystemMemoryTest, ConcurrentReadsSucceed) {
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&failures, t] {
      for (int i = 0; i < 50; ++i) {
        absl::StatusOr<SystemMemory> mem = MemoryMonitor::ReadSystemMemory();
        if (!mem.ok() || mem->total_mb <= 0.0) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace ragperf

// Copyright 2026 The ragperf Authors.
//
// GpuMonitor against tests/cpp/fake_nvml.c, a scripted stand-in for
// libnvidia-ml.so.1. The build defines FAKE_NVML_PATH and
// FAKE_NVML_NO_MEMINFO_PATH (and optionally FAKE_NVML_MINIMAL_PATH, the fake
// built without the optional symbols) as the built libraries' paths. The fake
// reads its FAKE_NVML_* script at nvmlInit_v2, so each test sets the
// environment, then constructs a fresh monitor.
//
// GpuMonitorRealGpuTest runs only where the default library finds a GPU.

#include "ragperf/gpu_monitor.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"

#ifndef FAKE_NVML_PATH
#error "FAKE_NVML_PATH must name the built fake_nvml shared library"
#endif
#ifndef FAKE_NVML_NO_MEMINFO_PATH
#error "FAKE_NVML_NO_MEMINFO_PATH must name the fake built without meminfo"
#endif

namespace ragperf {
namespace {

// For EXPECT_PRED2, which prints both strings on failure.
bool Contains(absl::string_view text, absl::string_view part) {
  return absl::StrContains(text, part);
}

constexpr const char* kScriptVariables[] = {
    "RAGPERF_NVML_LIBRARY",      "FAKE_NVML_INIT_ERROR",
    "FAKE_NVML_DEVICES",         "FAKE_NVML_FAIL_HANDLE",
    "FAKE_NVML_MEM_USED_MB",     "FAKE_NVML_MEM_TOTAL_MB",
    "FAKE_NVML_UTIL",            "FAKE_NVML_FAIL_UTIL",
    "FAKE_NVML_PROCESS_MB",      "FAKE_NVML_PROCESS_NA",
    "FAKE_NVML_OTHER_PROCESSES", "FAKE_NVML_PROCESS_GROWTH",
    "FAKE_NVML_FAIL_PROCESSES",  "FAKE_NVML_DRIVER_VERSION",
};

class GpuMonitorTest : public ::testing::Test {
 protected:
  void SetUp() override { ClearScript(); }
  void TearDown() override { ClearScript(); }

  static void ClearScript() {
    for (const char* name : kScriptVariables) unsetenv(name);
  }
  static void Script(const char* name, const char* value) {
    ASSERT_EQ(setenv(name, value, /*overwrite=*/1), 0) << name;
  }
};

// The fake's call counters. Holding the library open keeps its counters (and
// its code) alive across the monitors a test creates and destroys; dlopen of
// the same path returns the instance the monitor loads.
class FakeCounters {
 public:
  FakeCounters() : handle_(dlopen(FAKE_NVML_PATH, RTLD_NOW | RTLD_LOCAL)) {
    if (handle_ == nullptr) return;
    init_ = reinterpret_cast<Counter>(dlsym(handle_, "fake_nvml_init_calls"));
    shutdown_ =
        reinterpret_cast<Counter>(dlsym(handle_, "fake_nvml_shutdown_calls"));
    process_ =
        reinterpret_cast<Counter>(dlsym(handle_, "fake_nvml_process_calls"));
  }
  ~FakeCounters() {
    if (handle_ != nullptr) dlclose(handle_);
  }
  FakeCounters(const FakeCounters&) = delete;
  FakeCounters& operator=(const FakeCounters&) = delete;

  bool ok() const {
    return init_ != nullptr && shutdown_ != nullptr && process_ != nullptr;
  }
  int init_calls() const { return init_(); }
  int shutdown_calls() const { return shutdown_(); }
  int process_calls() const { return process_(); }

 private:
  using Counter = int (*)();
  void* handle_;
  Counter init_ = nullptr;
  Counter shutdown_ = nullptr;
  Counter process_ = nullptr;
};

TEST_F(GpuMonitorTest, ReadsEveryDevice) {
  Script("FAKE_NVML_DEVICES", "2");
  Script("FAKE_NVML_MEM_USED_MB", "1000,3000");
  Script("FAKE_NVML_MEM_TOTAL_MB", "16384,24576");
  Script("FAKE_NVML_UTIL", "37,80");
  Script("FAKE_NVML_PROCESS_MB", "123,7");
  Script("FAKE_NVML_DRIVER_VERSION", "550.54.15");
  GpuMonitor monitor(FAKE_NVML_PATH);

  GpuStatus status = monitor.Read();
  ASSERT_TRUE(status.available) << status.reason;
  EXPECT_TRUE(status.reason.empty());
  EXPECT_EQ(status.library, FAKE_NVML_PATH);
  EXPECT_EQ(status.driver_version, "550.54.15");
  ASSERT_EQ(status.devices.size(), 2u);

  const GpuDevice& first = status.devices[0];
  EXPECT_EQ(first.index, 0);
  EXPECT_EQ(first.name, "Fake GPU 0");
  EXPECT_DOUBLE_EQ(first.memory_used_mb, 1000);
  EXPECT_DOUBLE_EQ(first.memory_total_mb, 16384);
  EXPECT_DOUBLE_EQ(first.utilization_percent, 37);
  // The fake also lists two other processes (500 MB each): only ours counts.
  EXPECT_DOUBLE_EQ(first.process_memory_mb, 123);

  const GpuDevice& second = status.devices[1];
  EXPECT_EQ(second.index, 1);
  EXPECT_EQ(second.name, "Fake GPU 1");
  EXPECT_DOUBLE_EQ(second.memory_used_mb, 3000);
  EXPECT_DOUBLE_EQ(second.memory_total_mb, 24576);
  EXPECT_DOUBLE_EQ(second.utilization_percent, 80);
  EXPECT_DOUBLE_EQ(second.process_memory_mb, 7);

  EXPECT_TRUE(monitor.available());
}

TEST_F(GpuMonitorTest, ProcessMemorySumsDevices) {
  Script("FAKE_NVML_DEVICES", "2");
  Script("FAKE_NVML_PROCESS_MB", "123,7");
  GpuMonitor monitor(FAKE_NVML_PATH);
  absl::StatusOr<double> mb = monitor.ProcessMemoryMb();
  ASSERT_TRUE(mb.ok()) << mb.status();
  EXPECT_DOUBLE_EQ(*mb, 130);
}

TEST_F(GpuMonitorTest, ProcessWithoutGpuMemoryReadsZero) {
  Script("FAKE_NVML_DEVICES", "2");  // FAKE_NVML_PROCESS_MB unset: not listed
  GpuMonitor monitor(FAKE_NVML_PATH);
  GpuStatus status = monitor.Read();
  ASSERT_TRUE(status.available) << status.reason;
  for (const GpuDevice& device : status.devices) {
    EXPECT_DOUBLE_EQ(device.process_memory_mb, 0) << device.index;
  }
  absl::StatusOr<double> mb = monitor.ProcessMemoryMb();
  ASSERT_TRUE(mb.ok()) << mb.status();
  EXPECT_DOUBLE_EQ(*mb, 0);
}

TEST_F(GpuMonitorTest, InitErrorMakesItUnavailableWithNvmlText) {
  Script("FAKE_NVML_INIT_ERROR", "9");  // NVML_ERROR_DRIVER_NOT_LOADED
  GpuMonitor monitor(FAKE_NVML_PATH);
  GpuStatus status = monitor.Read();
  EXPECT_FALSE(status.available);
  EXPECT_TRUE(status.devices.empty());
  EXPECT_EQ(status.library, FAKE_NVML_PATH);
  EXPECT_PRED2(Contains, status.reason, "nvmlInit_v2");
  EXPECT_PRED2(Contains, status.reason, "Driver Not Loaded");
  EXPECT_PRED2(Contains, status.reason, "NVML error 9");
  EXPECT_FALSE(monitor.available());

  absl::StatusOr<double> mb = monitor.ProcessMemoryMb();
  EXPECT_EQ(mb.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_PRED2(Contains, mb.status().message(), "Driver Not Loaded");
}

TEST_F(GpuMonitorTest, MissingLibraryNamesThePath) {
  const std::string path = "/nonexistent/ragperf-test/libnvidia-ml.so.1";
  GpuMonitor monitor(path);
  EXPECT_FALSE(monitor.available());
  GpuStatus status = monitor.Read();
  EXPECT_FALSE(status.available);
  EXPECT_EQ(status.library, path);
  EXPECT_PRED2(Contains, status.reason, path);
  EXPECT_EQ(monitor.ProcessMemoryMb().status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(GpuMonitorTest, MissingRequiredSymbolIsNamed) {
  GpuMonitor monitor(FAKE_NVML_NO_MEMINFO_PATH);
  GpuStatus status = monitor.Read();
  EXPECT_FALSE(status.available);
  EXPECT_PRED2(Contains, status.reason, "nvmlDeviceGetMemoryInfo");
  EXPECT_PRED2(Contains, status.reason, FAKE_NVML_NO_MEMINFO_PATH);
  // Only the missing one is named.
  EXPECT_FALSE(Contains(status.reason, "nvmlInit_v2")) << status.reason;
}

TEST_F(GpuMonitorTest, UnsupportedUtilizationIsUnknownButAvailable) {
  Script("FAKE_NVML_UTIL", "55");
  Script("FAKE_NVML_FAIL_UTIL", "1");
  Script("FAKE_NVML_MEM_USED_MB", "2048");
  GpuMonitor monitor(FAKE_NVML_PATH);
  GpuStatus status = monitor.Read();
  ASSERT_TRUE(status.available) << status.reason;
  ASSERT_EQ(status.devices.size(), 1u);
  EXPECT_DOUBLE_EQ(status.devices[0].utilization_percent, -1);
  EXPECT_DOUBLE_EQ(status.devices[0].memory_used_mb, 2048);
}

TEST_F(GpuMonitorTest, EnvironmentChoosesLibraryWhenNoneGiven) {
  Script("RAGPERF_NVML_LIBRARY", FAKE_NVML_PATH);
  GpuMonitor monitor;
  EXPECT_EQ(monitor.library(), FAKE_NVML_PATH);
  GpuStatus status = monitor.Read();
  EXPECT_TRUE(status.available) << status.reason;
  EXPECT_EQ(status.library, FAKE_NVML_PATH);
}

TEST_F(GpuMonitorTest, ExplicitLibraryBeatsEnvironment) {
  Script("RAGPERF_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1");
  GpuMonitor monitor(FAKE_NVML_PATH);
  EXPECT_EQ(monitor.library(), FAKE_NVML_PATH);
  EXPECT_TRUE(monitor.available()) << monitor.Read().reason;
}

TEST_F(GpuMonitorTest, DefaultLibraryWithoutEnvironment) {
  EXPECT_EQ(GpuMonitor().library(), GpuMonitor::kDefaultLibrary);
  Script("RAGPERF_NVML_LIBRARY", "");  // empty counts as unset
  EXPECT_EQ(GpuMonitor().library(), GpuMonitor::kDefaultLibrary);
}

TEST_F(GpuMonitorTest, LoadsOnceAndShutsDownOnDestruction) {
  FakeCounters counters;
  ASSERT_TRUE(counters.ok()) << dlerror();
  const int inits = counters.init_calls();
  const int shutdowns = counters.shutdown_calls();
  {
    Script("FAKE_NVML_PROCESS_MB", "1");
    GpuMonitor monitor(FAKE_NVML_PATH);
    EXPECT_EQ(counters.init_calls(), inits);  // construction loads nothing
    for (int i = 0; i < 3; ++i) {
      EXPECT_TRUE(monitor.Read().available);
      EXPECT_TRUE(monitor.ProcessMemoryMb().ok());
      EXPECT_TRUE(monitor.available());
    }
    EXPECT_EQ(counters.init_calls(), inits + 1);
    EXPECT_EQ(counters.shutdown_calls(), shutdowns);
  }
  EXPECT_EQ(counters.shutdown_calls(), shutdowns + 1);
}

TEST_F(GpuMonitorTest, RemembersAFailedLoad) {
  FakeCounters counters;
  ASSERT_TRUE(counters.ok()) << dlerror();
  const int inits = counters.init_calls();
  Script("FAKE_NVML_INIT_ERROR", "18");
  GpuMonitor monitor(FAKE_NVML_PATH);
  const std::string first = monitor.Read().reason;
  // Fixing the cause does not help this monitor: it does not retry.
  unsetenv("FAKE_NVML_INIT_ERROR");
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(monitor.available());
    EXPECT_EQ(monitor.Read().reason, first);
    EXPECT_FALSE(monitor.ProcessMemoryMb().ok());
  }
  EXPECT_EQ(counters.init_calls(), inits + 1);
  // A new monitor tries again.
  EXPECT_TRUE(GpuMonitor(FAKE_NVML_PATH).available());
}

TEST_F(GpuMonitorTest, NoDevicesIsUnavailable) {
  Script("FAKE_NVML_DEVICES", "0");
  GpuMonitor monitor(FAKE_NVML_PATH);
  GpuStatus status = monitor.Read();
  EXPECT_FALSE(status.available);
  EXPECT_PRED2(Contains, status.reason, "no GPUs");
}

TEST_F(GpuMonitorTest, UnreadableDeviceIsLeftOutAndNamed) {
  Script("FAKE_NVML_DEVICES", "3");
  Script("FAKE_NVML_FAIL_HANDLE", "1");
  Script("FAKE_NVML_PROCESS_MB", "10");
  GpuMonitor monitor(FAKE_NVML_PATH);
  GpuStatus status = monitor.Read();
  ASSERT_TRUE(status.available) << status.reason;
  ASSERT_EQ(status.devices.size(), 2u);
  EXPECT_EQ(status.devices[0].index, 0);
  EXPECT_EQ(status.devices[1].index, 2);
  EXPECT_PRED2(Contains, status.reason, "device 1");
  EXPECT_PRED2(Contains, status.reason, "GPU is lost");
  // The sum would be missing a device: no answer rather than a wrong one.
  absl::StatusOr<double> mb = monitor.ProcessMemoryMb();
  EXPECT_EQ(mb.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_PRED2(Contains, mb.status().message(), "device 1");
}

TEST_F(GpuMonitorTest, GrowsTheProcessBufferWhenNvmlAsks) {
  Script("FAKE_NVML_OTHER_PROCESSES", "300");  // more than the first buffer
  Script("FAKE_NVML_PROCESS_MB", "50");
  GpuMonitor monitor(FAKE_NVML_PATH);
  absl::StatusOr<double> mb = monitor.ProcessMemoryMb();
  ASSERT_TRUE(mb.ok()) << mb.status();
  EXPECT_DOUBLE_EQ(*mb, 50);
  EXPECT_DOUBLE_EQ(monitor.Read().devices.at(0).process_memory_mb, 50);
}

TEST_F(GpuMonitorTest, GivesUpWhenTheProcessListKeepsGrowing) {
  FakeCounters counters;
  ASSERT_TRUE(counters.ok()) << dlerror();
  Script("FAKE_NVML_OTHER_PROCESSES", "40");
  Script("FAKE_NVML_PROCESS_GROWTH", "100000");
  Script("FAKE_NVML_PROCESS_MB", "50");
  GpuMonitor monitor(FAKE_NVML_PATH);
  ASSERT_TRUE(monitor.available());
  const int calls = counters.process_calls();
  absl::StatusOr<double> mb = monitor.ProcessMemoryMb();
  EXPECT_EQ(mb.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_PRED2(Contains, mb.status().message(), "kept reporting more");
  EXPECT_LE(counters.process_calls() - calls, 4);
}

TEST_F(GpuMonitorTest, ProcessQueryErrorsAreReported) {
  Script("FAKE_NVML_FAIL_PROCESSES", "4");  // NVML_ERROR_NO_PERMISSION
  GpuMonitor monitor(FAKE_NVML_PATH);
  GpuStatus status = monitor.Read();
  ASSERT_TRUE(status.available) << status.reason;
  EXPECT_DOUBLE_EQ(status.devices.at(0).process_memory_mb, -1);
  absl::StatusOr<double> mb = monitor.ProcessMemoryMb();
  EXPECT_EQ(mb.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_PRED2(Contains, mb.status().message(), "Insufficient Permissions");
}

TEST_F(GpuMonitorTest, UnreportedProcessMemoryIsUnknown) {
  Script("FAKE_NVML_PROCESS_MB", "5");
  Script("FAKE_NVML_PROCESS_NA", "1");  // NVML_VALUE_NOT_AVAILABLE
  GpuMonitor monitor(FAKE_NVML_PATH);
  EXPECT_DOUBLE_EQ(monitor.Read().devices.at(0).process_memory_mb, -1);
  EXPECT_FALSE(monitor.ProcessMemoryMb().ok());
}

TEST_F(GpuMonitorTest, ConcurrentReadersShareOneLoad) {
  FakeCounters counters;
  ASSERT_TRUE(counters.ok()) << dlerror();
  const int inits = counters.init_calls();
  Script("FAKE_NVML_DEVICES", "4");
  Script("FAKE_NVML_PROCESS_MB", "3");
  Script("FAKE_NVML_OTHER_PROCESSES", "40");
  GpuMonitor monitor(FAKE_NVML_PATH);
  std::vector<std::thread> threads;
  std::vector<int> failures(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&monitor, &failures, t] {
      for (int i = 0; i < 200; ++i) {
        GpuStatus status = monitor.Read();
        absl::StatusOr<double> mb = monitor.ProcessMemoryMb();
        if (!status.available || status.devices.size() != 4 || !mb.ok() ||
            *mb != 12) {
          ++failures[t];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < 8; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
  EXPECT_EQ(counters.init_calls(), inits + 1);
}

TEST_F(GpuMonitorTest, DefaultIsOneInstance) {
  EXPECT_EQ(&GpuMonitor::Default(), &GpuMonitor::Default());
}

TEST_F(GpuMonitorTest, MissingOptionalSymbolsLeaveFieldsUnknown) {
#ifndef FAKE_NVML_MINIMAL_PATH
  GTEST_SKIP() << "FAKE_NVML_MINIMAL_PATH (fake built with "
                  "-DFAKE_NVML_OMIT_OPTIONAL) not defined by the build";
#else
  Script("FAKE_NVML_UTIL", "37");
  Script("FAKE_NVML_PROCESS_MB", "123");
  GpuMonitor monitor(FAKE_NVML_MINIMAL_PATH);
  GpuStatus status = monitor.Read();
  ASSERT_TRUE(status.available) << status.reason;
  EXPECT_TRUE(status.driver_version.empty());
  ASSERT_EQ(status.devices.size(), 1u);
  EXPECT_EQ(status.devices[0].name, "Fake GPU 0");
  EXPECT_DOUBLE_EQ(status.devices[0].memory_total_mb, 16384);
  EXPECT_DOUBLE_EQ(status.devices[0].utilization_percent, -1);
  EXPECT_DOUBLE_EQ(status.devices[0].process_memory_mb, -1);
  absl::StatusOr<double> mb = monitor.ProcessMemoryMb();
  EXPECT_EQ(mb.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_PRED2(Contains, mb.status().message(),
               "nvmlDeviceGetComputeRunningProcesses_v2");

  // Without nvmlErrorString, errors still carry the code.
  Script("FAKE_NVML_INIT_ERROR", "9");
  GpuStatus failed = GpuMonitor(FAKE_NVML_MINIMAL_PATH).Read();
  EXPECT_FALSE(failed.available);
  EXPECT_PRED2(Contains, failed.reason, "NVML error 9");
#endif
}

// Compares NVML's view with nvidia-smi's on a machine that has a GPU.
TEST(GpuMonitorRealGpuTest, MatchesNvidiaSmi) {
  GpuMonitor monitor(GpuMonitor::kDefaultLibrary);
  GpuStatus status = monitor.Read();
  if (!status.available) {
    GTEST_SKIP() << "no usable NVIDIA GPU via " << GpuMonitor::kDefaultLibrary
                 << ": " << status.reason;
  }
  ASSERT_TRUE(status.reason.empty()) << "some GPUs could not be read";

  FILE* smi = popen(
      "nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits "
      "2>/dev/null",
      "r");
  if (smi == nullptr) GTEST_SKIP() << "cannot run nvidia-smi";
  std::string output;
  char buffer[256];
  while (std::fgets(buffer, sizeof(buffer), smi) != nullptr) output += buffer;
  const int rc = pclose(smi);
  if (rc != 0) {
    GTEST_SKIP() << "nvidia-smi failed or is not installed (status " << rc
                 << ")";
  }

  std::vector<double> totals_mb;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    double mb = 0;
    ASSERT_TRUE(absl::SimpleAtod(line, &mb)) << "nvidia-smi line: " << line;
    totals_mb.push_back(mb);
  }
  ASSERT_EQ(status.devices.size(), totals_mb.size()) << output;
  for (size_t i = 0; i < totals_mb.size(); ++i) {
    EXPECT_EQ(status.devices[i].index, static_cast<int>(i));
    EXPECT_FALSE(status.devices[i].name.empty());
    EXPECT_NEAR(status.devices[i].memory_total_mb, totals_mb[i], 1.0)
        << "GPU " << i;
    EXPECT_LE(status.devices[i].memory_used_mb,
              status.devices[i].memory_total_mb);
  }
}

}  // namespace
}  // namespace ragperf

// Copyright 2026 The ragperf Authors.

#include "ragperf/gpu_monitor.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ragperf {
namespace {

// The few NVML declarations used, written from NVIDIA's nvml.h documentation
// so that building needs no CUDA or driver headers.

using NvmlReturn = int;  // nvmlReturn_t: a C enum, int-sized.
struct NvmlDeviceOpaque;
using NvmlDevice = NvmlDeviceOpaque*;  // nvmlDevice_t

constexpr NvmlReturn kNvmlSuccess = 0;
constexpr NvmlReturn kNvmlErrorNotSupported = 3;
constexpr NvmlReturn kNvmlErrorNoPermission = 4;
constexpr NvmlReturn kNvmlErrorInsufficientSize = 7;

// nvmlMemory_t (version 1, what nvmlDeviceGetMemoryInfo takes), in bytes.
struct NvmlMemory {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};

// nvmlUtilization_t, percent over the driver's last sample period.
struct NvmlUtilization {
  unsigned int gpu;
  unsigned int memory;
};

// nvmlProcessInfo_v2_t, what nvmlDeviceGetComputeRunningProcesses_v2 writes.
struct NvmlProcessInfoV2 {
  unsigned int pid;
  unsigned long long usedGpuMemory;  // bytes, or kNvmlValueNotAvailable
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
};
static_assert(sizeof(NvmlProcessInfoV2) == 24, "nvmlProcessInfo_v2_t layout");
static_assert(offsetof(NvmlProcessInfoV2, usedGpuMemory) == 8,
              "nvmlProcessInfo_v2_t layout");

// NVML_VALUE_NOT_AVAILABLE as an unsigned long long.
constexpr unsigned long long kNvmlValueNotAvailable = ~0ULL;
// NVML_DEVICE_NAME_V2_BUFFER_SIZE and NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE.
constexpr unsigned int kNameBufferSize = 96;
constexpr unsigned int kDriverVersionBufferSize = 80;

constexpr double kBytesPerMb = 1024.0 * 1024.0;
// More devices than this means a broken library, not a machine.
constexpr unsigned int kMaxDevices = 4096;
// Process-list buffer: initial entries, the most we ever allocate, and how
// many times we retry when NVML says the list grew.
constexpr std::size_t kInitialProcessEntries = 32;
constexpr std::size_t kMaxProcessEntries = 65536;
constexpr int kMaxProcessQueryAttempts = 4;

std::string ChooseLibrary(std::string library) {
  if (!library.empty()) return library;
  const char* env = std::getenv("RAGPERF_NVML_LIBRARY");
  if (env != nullptr && env[0] != '\0') return env;
  return GpuMonitor::kDefaultLibrary;
}

// The status for a failed NVML call, by how a caller would react to it.
absl::Status NvmlCallError(NvmlReturn code, std::string message) {
  switch (code) {
    case kNvmlErrorNotSupported:
      return absl::UnimplementedError(std::move(message));
    case kNvmlErrorNoPermission:
      return absl::PermissionDeniedError(std::move(message));
    default:
      return absl::UnavailableError(std::move(message));
  }
}

template <typename Fn>
Fn Lookup(void* handle, const char* name) {
  // POSIX guarantees a dlsym() result converts to a function pointer.
  return reinterpret_cast<Fn>(dlsym(handle, name));
}

}  // namespace

// The loaded library. Owns the dlopen handle and the NVML session: the
// destructor shuts NVML down (if nvmlInit_v2 succeeded) and closes the handle.
struct GpuMonitor::Nvml {
  Nvml() = default;
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;
  ~Nvml() {
    if (initialized && shutdown != nullptr) shutdown();
    if (handle != nullptr) dlclose(handle);
  }

  // "Driver Not Loaded (NVML error 9)", or "NVML error 9" without
  // nvmlErrorString.
  std::string ErrorText(NvmlReturn code) const {
    const char* text = error_string != nullptr ? error_string(code) : nullptr;
    if (text == nullptr || text[0] == '\0') {
      return absl::StrCat("NVML error ", code);
    }
    return absl::StrCat(text, " (NVML error ", code, ")");
  }

  void* handle = nullptr;
  bool initialized = false;

  // Required.
  NvmlReturn (*init)() = nullptr;
  NvmlReturn (*shutdown)() = nullptr;
  NvmlReturn (*get_count)(unsigned int*) = nullptr;
  NvmlReturn (*get_handle)(unsigned int, NvmlDevice*) = nullptr;
  NvmlReturn (*get_name)(NvmlDevice, char*, unsigned int) = nullptr;
  NvmlReturn (*get_memory)(NvmlDevice, NvmlMemory*) = nullptr;
  // Optional: null when the library lacks them.
  const char* (*error_string)(NvmlReturn) = nullptr;
  NvmlReturn (*get_utilization)(NvmlDevice, NvmlUtilization*) = nullptr;
  NvmlReturn (*get_processes)(NvmlDevice, unsigned int*,
                              NvmlProcessInfoV2*) = nullptr;
  NvmlReturn (*get_driver_version)(char*, unsigned int) = nullptr;

  std::string driver_version;
  // One per NVML index; null where nvmlDeviceGetHandleByIndex_v2 failed, with
  // the reason in `device_errors`.
  std::vector<NvmlDevice> devices;
  std::vector<std::string> device_errors;
  // Reused by every process query so that steady-state polling allocates
  // nothing.
  std::vector<NvmlProcessInfoV2> process_buffer;
};

GpuMonitor::GpuMonitor(std::string library)
    : library_(ChooseLibrary(std::move(library))) {}

GpuMonitor::~GpuMonitor() = default;

GpuMonitor& GpuMonitor::Default() {
  // Never destroyed: may be read during static destruction.
  static GpuMonitor* const monitor = new GpuMonitor();
  return *monitor;
}

void GpuMonitor::LoadLocked() {
  if (load_attempted_) return;
  load_attempted_ = true;

  auto nvml = std::make_unique<Nvml>();
  dlerror();  // Clear any stale error.
  nvml->handle = dlopen(library_.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (nvml->handle == nullptr) {
    const char* why = dlerror();
    failure_ = absl::StrCat("cannot load NVML library '", library_, "': ",
                            why != nullptr ? why : "dlopen failed");
    return;
  }

  std::vector<const char*> missing;
  auto require = [&](auto* slot, const char* name) {
    *slot = Lookup<std::remove_pointer_t<decltype(slot)>>(nvml->handle, name);
    if (*slot == nullptr) missing.push_back(name);
  };
  require(&nvml->init, "nvmlInit_v2");
  require(&nvml->shutdown, "nvmlShutdown");
  require(&nvml->get_count, "nvmlDeviceGetCount_v2");
  require(&nvml->get_handle, "nvmlDeviceGetHandleByIndex_v2");
  require(&nvml->get_name, "nvmlDeviceGetName");
  require(&nvml->get_memory, "nvmlDeviceGetMemoryInfo");
  if (!missing.empty()) {
    failure_ = absl::StrCat("NVML library '", library_, "' lacks required ",
                            missing.size() == 1 ? "symbol " : "symbols ",
                            absl::StrJoin(missing, ", "));
    return;
  }
  using ErrorStringFn = decltype(nvml->error_string);
  using UtilizationFn = decltype(nvml->get_utilization);
  using ProcessesFn = decltype(nvml->get_processes);
  using DriverVersionFn = decltype(nvml->get_driver_version);
  nvml->error_string = Lookup<ErrorStringFn>(nvml->handle, "nvmlErrorString");
  nvml->get_utilization =
      Lookup<UtilizationFn>(nvml->handle, "nvmlDeviceGetUtilizationRates");
  nvml->get_processes = Lookup<ProcessesFn>(
      nvml->handle, "nvmlDeviceGetComputeRunningProcesses_v2");
  nvml->get_driver_version =
      Lookup<DriverVersionFn>(nvml->handle, "nvmlSystemGetDriverVersion");

  const NvmlReturn init = nvml->init();
  if (init != kNvmlSuccess) {
    failure_ = absl::StrCat("nvmlInit_v2 failed: ", nvml->ErrorText(init));
    return;
  }
  nvml->initialized = true;

  if (nvml->get_driver_version != nullptr) {
    char version[kDriverVersionBufferSize] = {};
    if (nvml->get_driver_version(version, sizeof(version)) == kNvmlSuccess) {
      version[sizeof(version) - 1] = '\0';
      nvml->driver_version = version;
    }
  }

  unsigned int count = 0;
  const NvmlReturn counted = nvml->get_count(&count);
  if (counted != kNvmlSuccess) {
    failure_ = absl::StrCat("nvmlDeviceGetCount_v2 failed: ",
                            nvml->ErrorText(counted));
    return;
  }
  if (count == 0) {
    failure_ = "NVML found no GPUs";
    return;
  }
  if (count > kMaxDevices) {
    failure_ = absl::StrCat("nvmlDeviceGetCount_v2 reported an implausible ",
                            count, " devices");
    return;
  }
  nvml->devices.assign(count, nullptr);
  nvml->device_errors.assign(count, std::string());
  unsigned int usable = 0;
  for (unsigned int i = 0; i < count; ++i) {
    const NvmlReturn got = nvml->get_handle(i, &nvml->devices[i]);
    if (got == kNvmlSuccess && nvml->devices[i] != nullptr) {
      ++usable;
    } else {
      nvml->devices[i] = nullptr;
      nvml->device_errors[i] =
          absl::StrCat("device ", i, ": nvmlDeviceGetHandleByIndex_v2 failed: ",
                       nvml->ErrorText(got));
    }
  }
  if (usable == 0) {
    failure_ = absl::StrJoin(nvml->device_errors, "; ");
    return;
  }
  nvml_ = std::move(nvml);
}

absl::StatusOr<double> GpuMonitor::DeviceProcessMemoryMbLocked(
    std::size_t i) {
  Nvml& nvml = *nvml_;
  if (nvml.get_processes == nullptr) {
    return absl::UnimplementedError(absl::StrCat(
        "NVML library '", library_,
        "' lacks nvmlDeviceGetComputeRunningProcesses_v2 (driver too old)"));
  }
  std::vector<NvmlProcessInfoV2>& buffer = nvml.process_buffer;
  if (buffer.size() < kInitialProcessEntries) {
    buffer.resize(kInitialProcessEntries);
  }
  for (int attempt = 0; attempt < kMaxProcessQueryAttempts; ++attempt) {
    unsigned int entries = static_cast<unsigned int>(buffer.size());
    const NvmlReturn got =
        nvml.get_processes(nvml.devices[i], &entries, buffer.data());
    if (got == kNvmlSuccess) {
      const std::size_t n = std::min<std::size_t>(entries, buffer.size());
      const unsigned int self = static_cast<unsigned int>(getpid());
      unsigned long long bytes = 0;
      for (std::size_t k = 0; k < n; ++k) {
        if (buffer[k].pid != self) continue;
        if (buffer[k].usedGpuMemory == kNvmlValueNotAvailable) {
          return absl::UnavailableError(absl::StrCat(
              "device ", i, ": NVML does not report this process's memory"));
        }
        bytes += buffer[k].usedGpuMemory;
      }
      return static_cast<double>(bytes) / kBytesPerMb;
    }
    if (got != kNvmlErrorInsufficientSize) {
      return NvmlCallError(
          got, absl::StrCat("device ", i,
                            ": nvmlDeviceGetComputeRunningProcesses_v2 "
                            "failed: ",
                            nvml.ErrorText(got)));
    }
    // `entries` now holds how many NVML has; leave room for a few more that
    // may start before the next call.
    if (buffer.size() >= kMaxProcessEntries) break;
    std::size_t want = std::max<std::size_t>(
        static_cast<std::size_t>(entries) + entries / 4 + 8, buffer.size() * 2);
    buffer.resize(std::min(want, kMaxProcessEntries));
  }
  return absl::UnavailableError(absl::StrCat(
      "device ", i,
      ": nvmlDeviceGetComputeRunningProcesses_v2 kept reporting more "
      "processes than the buffer holds (",
      buffer.size(), " entries)"));
}

GpuStatus GpuMonitor::Read() {
  absl::MutexLock lock(&mu_);
  LoadLocked();
  GpuStatus status;
  status.library = library_;
  if (nvml_ == nullptr) {
    status.reason = failure_;
    return status;
  }
  Nvml& nvml = *nvml_;
  status.driver_version = nvml.driver_version;
  std::vector<std::string> problems;
  status.devices.reserve(nvml.devices.size());
  for (std::size_t i = 0; i < nvml.devices.size(); ++i) {
    NvmlDevice device = nvml.devices[i];
    if (device == nullptr) {
      problems.push_back(nvml.device_errors[i]);
      continue;
    }
    NvmlMemory memory = {};
    const NvmlReturn got = nvml.get_memory(device, &memory);
    if (got != kNvmlSuccess) {
      problems.push_back(absl::StrCat(
          "device ", i, ": nvmlDeviceGetMemoryInfo failed: ",
          nvml.ErrorText(got)));
      continue;
    }
    GpuDevice out;
    out.index = static_cast<int>(i);
    char name[kNameBufferSize] = {};
    if (nvml.get_name(device, name, sizeof(name)) == kNvmlSuccess) {
      name[sizeof(name) - 1] = '\0';
      out.name = name;
    }
    out.memory_used_mb = static_cast<double>(memory.used) / kBytesPerMb;
    out.memory_total_mb = static_cast<double>(memory.total) / kBytesPerMb;
    NvmlUtilization utilization = {};
    if (nvml.get_utilization != nullptr &&
        nvml.get_utilization(device, &utilization) == kNvmlSuccess) {
      out.utilization_percent = utilization.gpu;
    }
    absl::StatusOr<double> mine = DeviceProcessMemoryMbLocked(i);
    if (mine.ok()) out.process_memory_mb = *mine;
    status.devices.push_back(std::move(out));
  }
  status.available = !status.devices.empty();
  status.reason = absl::StrJoin(problems, "; ");
  return status;
}

absl::StatusOr<double> GpuMonitor::ProcessMemoryMb() {
  absl::MutexLock lock(&mu_);
  LoadLocked();
  if (nvml_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("NVML unavailable: ", failure_));
  }
  double total_mb = 0;
  for (std::size_t i = 0; i < nvml_->devices.size(); ++i) {
    if (nvml_->devices[i] == nullptr) {
      return absl::UnavailableError(nvml_->device_errors[i]);
    }
    absl::StatusOr<double> mb = DeviceProcessMemoryMbLocked(i);
    if (!mb.ok()) return mb.status();
    total_mb += *mb;
  }
  return total_mb;
}

bool GpuMonitor::available() {
  absl::MutexLock lock(&mu_);
  LoadLocked();
  return nvml_ != nullptr;
}

}  // namespace ragperf

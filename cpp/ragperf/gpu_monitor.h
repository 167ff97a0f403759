// Copyright 2026 The ragperf Authors.
//
// gpu_monitor.h
// -----------------------------------------------------------------------------
// NVIDIA GPU memory and utilization through NVML, the management library the
// NVIDIA driver installs (libnvidia-ml.so.1, the library nvidia-smi reads).
//
// NVML is loaded at run time with dlopen(), so ragperf neither links against
// it nor needs CUDA headers to build, and a machine without a GPU or driver
// simply reports `available == false` with the reason. Nothing here throws or
// aborts on a missing or broken library.
//
// Loading happens once per `GpuMonitor`, on the first call that needs it:
// dlopen(RTLD_NOW | RTLD_LOCAL), dlsym of the functions below, nvmlInit_v2(),
// the driver version, and one handle per device. A failure is remembered:
// later calls report the same reason without trying again, so a monitor
// polled in a loop on a GPU-less machine costs nothing. To retry (e.g. after
// installing the driver) construct a new `GpuMonitor`.
//
// NVML functions used:
//   required: nvmlInit_v2, nvmlShutdown, nvmlDeviceGetCount_v2,
//             nvmlDeviceGetHandleByIndex_v2, nvmlDeviceGetName,
//             nvmlDeviceGetMemoryInfo
//   optional: nvmlErrorString (else errors read "NVML error <code>"),
//             nvmlDeviceGetUtilizationRates (else utilization is unknown),
//             nvmlSystemGetDriverVersion (else the version is empty),
//             nvmlDeviceGetComputeRunningProcesses_v2 (else process memory
//             is unknown).
//
// Why `_v2` of the process query and not `_v3`: the struct `_v3` writes has
// changed between drivers without a version bump (the 24-byte
// nvmlProcessInfo_v2_t on R510-era drivers, a 32-byte struct with
// usedGpuCcProtectedMemory on R535-era ones, 24 bytes again later), and the
// library does not say which. `_v2` takes nvmlProcessInfo_v2_t {pid,
// usedGpuMemory, gpuInstanceId, computeInstanceId} everywhere, which is all we
// need. Older drivers without `_v2` report process memory as unknown.
//
// Process memory counts compute contexts only (what CUDA / PyTorch allocate),
// matched by `getpid()`. In a container with its own PID namespace NVML
// usually reports host PIDs, so nothing matches and the process's memory
// reads as 0. Under MIG, a whole-GPU handle lists processes only for
// privileged callers; otherwise the query fails and process memory is unknown.
//
// Units: "MB" means MiB (2^20 bytes), as nvidia-smi and the rest of ragperf.
//
// Thread-safe: one mutex serialises every NVML call of a monitor. Not
// fork-safe: a child must construct its own monitor, not use the parent's.
//
// Example:
//
//   ragperf::GpuStatus gpu = ragperf::GpuMonitor::Default().Read();
//   if (!gpu.available) {
//     std::printf("no GPU metrics: %s\n", gpu.reason.c_str());
//   } else {
//     for (const ragperf::GpuDevice& d : gpu.devices) {
//       std::printf("GPU %d %s: %.0f / %.0f MB\n", d.index, d.name.c_str(),
//                   d.memory_used_mb, d.memory_total_mb);
//     }
//   }
//
//   // Per-operation GPU memory delta of this process:
//   ragperf::GpuMonitor& monitor = ragperf::GpuMonitor::Default();
//   absl::StatusOr<double> before = monitor.ProcessMemoryMb();
//   RunEmbedding();
//   absl::StatusOr<double> after = monitor.ProcessMemoryMb();
//   if (before.ok() && after.ok()) {
//     double grew_mb = *after - *before;
//   }

#ifndef RAGPERF_GPU_MONITOR_H_
#define RAGPERF_GPU_MONITOR_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace ragperf {

// One GPU as NVML reports it. Memory is device-wide (all processes).
struct GpuDevice {
  int index = 0;                    // NVML index (PCI bus order, as nvidia-smi)
  std::string name;                 // "NVIDIA A100-SXM4-40GB"; may be empty
  double memory_used_mb = 0, memory_total_mb = 0;
  double utilization_percent = -1;  // -1 = unknown (NVML error / not supported)
  double process_memory_mb = -1;    // this process's GPU memory on the device,
                                    // 0 = none, -1 = unknown
};

// A snapshot of every GPU. `devices` is empty unless `available`.
struct GpuStatus {
  bool available = false;
  // Why not available (library not found, missing symbol, init error text, no
  // devices...). When available, names any device that could not be read and
  // was left out of `devices`; empty otherwise.
  std::string reason;
  std::string library;              // path/name that was loaded (or tried)
  std::string driver_version;       // may be empty
  std::vector<GpuDevice> devices;
};

class GpuMonitor {
 public:
  static constexpr const char* kDefaultLibrary = "libnvidia-ml.so.1";

  // Library path: `library` if non-empty, else $RAGPERF_NVML_LIBRARY if set
  // and non-empty, else kDefaultLibrary. The environment is read here, not at
  // load time. Does not load anything.
  explicit GpuMonitor(std::string library = "");

  // nvmlShutdown() and dlclose() if loaded.
  ~GpuMonitor();

  GpuMonitor(const GpuMonitor&) = delete;
  GpuMonitor& operator=(const GpuMonitor&) = delete;

  // The process-wide monitor, constructed on first use (so
  // $RAGPERF_NVML_LIBRARY is read then) and never destroyed, so it is safe to
  // use from static destructors and atexit handlers.
  static GpuMonitor& Default();

  // Loads NVML if not yet tried, then reads every device: memory, and where
  // the driver supports it utilization and this process's memory.
  GpuStatus Read();

  // This process's GPU memory summed over all devices, in MB. An error when
  // NVML is unavailable (kUnavailable, with the reason), when the driver lacks
  // the process query (kUnimplemented), or when any device cannot tell
  // (kUnavailable / kPermissionDenied / kUnimplemented with NVML's error
  // text) — a partial sum would make deltas wrong.
  absl::StatusOr<double> ProcessMemoryMb();

  // Whether NVML loaded and got a handle for at least one GPU. Loads if
  // needed. (A later Read() can still fail to read every device.)
  bool available();

  // The library this monitor loads (or tried to).
  const std::string& library() const { return library_; }

 private:
  struct Nvml;  // dlopen handle and resolved functions, see gpu_monitor.cc

  // Loads NVML unless already tried; sets `nvml_` or `failure_`.
  void LoadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // This process's memory on device `i` (which has a handle), in MB.
  absl::StatusOr<double> DeviceProcessMemoryMbLocked(std::size_t i)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string library_;

  absl::Mutex mu_;
  bool load_attempted_ ABSL_GUARDED_BY(mu_) = false;
  // After loading, exactly one is set: `nvml_` (loaded, initialised, at least
  // one device handle) or `failure_` (why not).
  std::string failure_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Nvml> nvml_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ragperf

#endif  // RAGPERF_GPU_MONITOR_H_

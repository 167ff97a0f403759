/* Copyright 2026 The ragperf Authors.
 *
 * fake_nvml.c
 * -----------------------------------------------------------------------------
 * A stand-in for libnvidia-ml.so.1 with scripted behaviour, for testing
 * ragperf::GpuMonitor on machines without a GPU. It exports the NVML functions
 * GpuMonitor resolves, with the same C signatures and struct layouts.
 *
 * Behaviour comes from environment variables read at nvmlInit_v2() time
 * (so set them before the monitor loads). "<list>" is comma-separated
 * per-device values; device i takes the i-th, or the last when the list is
 * shorter ("100,200" gives 100, 200, 200, ...).
 *
 *   FAKE_NVML_INIT_ERROR=<code>      nvmlInit_v2 returns <code>
 *   FAKE_NVML_DEVICES=<n>            device count (default 1, at most 64)
 *   FAKE_NVML_FAIL_HANDLE=<i>        nvmlDeviceGetHandleByIndex_v2(i) fails
 *                                    with NVML_ERROR_GPU_IS_LOST
 *   FAKE_NVML_MEM_USED_MB=<list>     used memory, MiB (default 1024)
 *   FAKE_NVML_MEM_TOTAL_MB=<list>    total memory, MiB (default 16384)
 *   FAKE_NVML_UTIL=<list>            GPU utilization, percent (default 0)
 *   FAKE_NVML_FAIL_UTIL=1            utilization -> NVML_ERROR_NOT_SUPPORTED
 *   FAKE_NVML_PROCESS_MB=<list>      memory of the calling process (getpid()),
 *                                    MiB; unset: the process is not listed
 *   FAKE_NVML_PROCESS_NA=1           ...reported as NVML_VALUE_NOT_AVAILABLE
 *   FAKE_NVML_OTHER_PROCESSES=<n>    other processes listed on every device,
 *                                    500 MiB each (default 2)
 *   FAKE_NVML_PROCESS_GROWTH=<n>     every process query adds <n> other
 *                                    processes (exercises the retry bound)
 *   FAKE_NVML_FAIL_PROCESSES=<code>  process query returns <code>
 *   FAKE_NVML_DRIVER_VERSION=<s>     driver version (default "555.42.06")
 *
 * Device names are "Fake GPU <i>". The calls counted by fake_nvml_*_calls()
 * let tests check how often the library was used.
 *
 * Build variants:
 *   -DFAKE_NVML_OMIT_MEMINFO   no nvmlDeviceGetMemoryInfo (a required symbol)
 *   -DFAKE_NVML_OMIT_OPTIONAL  no nvmlErrorString,
 *                              nvmlDeviceGetUtilizationRates,
 *                              nvmlDeviceGetComputeRunningProcesses_v2,
 *                              nvmlSystemGetDriverVersion
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* nvmlReturn_t values used here. */
enum {
  NVML_SUCCESS = 0,
  NVML_ERROR_UNINITIALIZED = 1,
  NVML_ERROR_INVALID_ARGUMENT = 2,
  NVML_ERROR_NOT_SUPPORTED = 3,
  NVML_ERROR_INSUFFICIENT_SIZE = 7,
  NVML_ERROR_GPU_IS_LOST = 15
};
typedef int nvmlReturn_t;

typedef struct {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
} nvmlMemory_t;

typedef struct {
  unsigned int gpu;
  unsigned int memory;
} nvmlUtilization_t;

typedef struct {
  unsigned int pid;
  unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
} nvmlProcessInfo_v2_t;

#define FAKE_MAX_DEVICES 64
#define FAKE_MIB (1024ULL * 1024ULL)
#define FAKE_OTHER_PROCESS_MIB 500ULL
#define FAKE_NOT_AVAILABLE (~0ULL)

typedef struct {
  unsigned int index;
  unsigned long long used_mib;
  unsigned long long total_mib;
  unsigned int utilization;
  unsigned long long process_mib;
} FakeDevice;
typedef FakeDevice* nvmlDevice_t;

static FakeDevice g_devices[FAKE_MAX_DEVICES];
static unsigned int g_device_count;
static int g_initialized;
static int g_fail_handle = -1;
static int g_fail_util;
static int g_list_self;
static int g_self_not_available;
static unsigned int g_other_processes;
static unsigned int g_process_growth;
static int g_fail_processes;
static char g_driver_version[80];

static int g_init_calls;
static int g_shutdown_calls;
static int g_process_calls;

int fake_nvml_init_calls(void) { return g_init_calls; }
int fake_nvml_shutdown_calls(void) { return g_shutdown_calls; }
int fake_nvml_process_calls(void) { return g_process_calls; }

static long EnvLong(const char* name, long fallback) {
  const char* value = getenv(name);
  if (value == NULL || value[0] == '\0') return fallback;
  return strtol(value, NULL, 10);
}

/* The `index`-th value of comma-separated `name`, or the last one. */
static unsigned long long EnvListItem(const char* name, unsigned int index,
                                      unsigned long long fallback) {
  const char* p = getenv(name);
  if (p == NULL || p[0] == '\0') return fallback;
  unsigned long long value = fallback;
  for (unsigned int i = 0;; ++i) {
    char* end = NULL;
    unsigned long long item = strtoull(p, &end, 10);
    if (end == p) break;
    value = item;
    if (i == index || *end != ',') break;
    p = end + 1;
  }
  return value;
}

static int ValidDevice(nvmlDevice_t device) {
  return device >= &g_devices[0] && device < &g_devices[g_device_count];
}

nvmlReturn_t nvmlInit_v2(void) {
  ++g_init_calls;
  long error = EnvLong("FAKE_NVML_INIT_ERROR", 0);
  if (error != 0) return (nvmlReturn_t)error;

  long count = EnvLong("FAKE_NVML_DEVICES", 1);
  if (count < 0) count = 0;
  if (count > FAKE_MAX_DEVICES) count = FAKE_MAX_DEVICES;
  g_device_count = (unsigned int)count;
  g_list_self = getenv("FAKE_NVML_PROCESS_MB") != NULL;
  for (unsigned int i = 0; i < g_device_count; ++i) {
    FakeDevice* d = &g_devices[i];
    d->index = i;
    d->used_mib = EnvListItem("FAKE_NVML_MEM_USED_MB", i, 1024);
    d->total_mib = EnvListItem("FAKE_NVML_MEM_TOTAL_MB", i, 16384);
    d->utilization = (unsigned int)EnvListItem("FAKE_NVML_UTIL", i, 0);
    d->process_mib = EnvListItem("FAKE_NVML_PROCESS_MB", i, 0);
  }
  g_fail_handle = (int)EnvLong("FAKE_NVML_FAIL_HANDLE", -1);
  g_fail_util = EnvLong("FAKE_NVML_FAIL_UTIL", 0) != 0;
  g_self_not_available = EnvLong("FAKE_NVML_PROCESS_NA", 0) != 0;
  g_other_processes = (unsigned int)EnvLong("FAKE_NVML_OTHER_PROCESSES", 2);
  g_process_growth = (unsigned int)EnvLong("FAKE_NVML_PROCESS_GROWTH", 0);
  g_fail_processes = (int)EnvLong("FAKE_NVML_FAIL_PROCESSES", 0);
  const char* version = getenv("FAKE_NVML_DRIVER_VERSION");
  snprintf(g_driver_version, sizeof(g_driver_version), "%s",
           version != NULL ? version : "555.42.06");
  g_initialized = 1;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlShutdown(void) {
  ++g_shutdown_calls;
  if (!g_initialized) return NVML_ERROR_UNINITIALIZED;
  g_initialized = 0;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* count) {
  if (!g_initialized) return NVML_ERROR_UNINITIALIZED;
  if (count == NULL) return NVML_ERROR_INVALID_ARGUMENT;
  *count = g_device_count;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index,
                                           nvmlDevice_t* device) {
  if (!g_initialized) return NVML_ERROR_UNINITIALIZED;
  if (device == NULL || index >= g_device_count) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  if ((int)index == g_fail_handle) return NVML_ERROR_GPU_IS_LOST;
  *device = &g_devices[index];
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char* name,
                               unsigned int length) {
  if (!g_initialized) return NVML_ERROR_UNINITIALIZED;
  if (!ValidDevice(device) || name == NULL) return NVML_ERROR_INVALID_ARGUMENT;
  int needed = snprintf(name, length, "Fake GPU %u", device->index);
  if (needed < 0 || (unsigned int)needed >= length) {
    return NVML_ERROR_INSUFFICIENT_SIZE;
  }
  return NVML_SUCCESS;
}

#ifndef FAKE_NVML_OMIT_MEMINFO
nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device,
                                     nvmlMemory_t* memory) {
  if (!g_initialized) return NVML_ERROR_UNINITIALIZED;
  if (!ValidDevice(device) || memory == NULL) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  memory->total = device->total_mib * FAKE_MIB;
  memory->used = device->used_mib * FAKE_MIB;
  memory->free = memory->total > memory->used ? memory->total - memory->used
                                              : 0;
  return NVML_SUCCESS;
}
#endif

#ifndef FAKE_NVML_OMIT_OPTIONAL
const char* nvmlErrorString(nvmlReturn_t result) {
  switch (result) {
    case 0: return "Success";
    case 1: return "Uninitialized";
    case 2: return "Invalid Argument";
    case 3: return "Not Supported";
    case 4: return "Insufficient Permissions";
    case 7: return "Insufficient Size";
    case 9: return "Driver Not Loaded";
    case 15: return "GPU is lost";
    case 18: return "RM has detected an NVML/RM version mismatch.";
    default: return "Unknown Error";
  }
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device,
                                           nvmlUtilization_t* utilization) {
  if (!g_initialized) return NVML_ERROR_UNINITIALIZED;
  if (!ValidDevice(device) || utilization == NULL) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  if (g_fail_util) return NVML_ERROR_NOT_SUPPORTED;
  utilization->gpu = device->utilization;
  utilization->memory = device->utilization / 2;
  return NVML_SUCCESS;
}

/* Lists FAKE_NVML_OTHER_PROCESSES other processes, then (if scripted) the
 * caller. Follows NVML's protocol: when *count is too small (or infos is
 * NULL with processes to report), sets *count to the number needed and
 * returns NVML_ERROR_INSUFFICIENT_SIZE. */
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(
    nvmlDevice_t device, unsigned int* count, nvmlProcessInfo_v2_t* infos) {
  ++g_process_calls;
  if (!g_initialized) return NVML_ERROR_UNINITIALIZED;
  if (!ValidDevice(device) || count == NULL) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  if (g_fail_processes != 0) return (nvmlReturn_t)g_fail_processes;
  const unsigned int others = g_other_processes;
  g_other_processes += g_process_growth;
  const unsigned int total = others + (g_list_self ? 1u : 0u);
  if (*count < total || (infos == NULL && total > 0)) {
    *count = total;
    return NVML_ERROR_INSUFFICIENT_SIZE;
  }
  const unsigned int self = (unsigned int)getpid();
  for (unsigned int k = 0; k < others; ++k) {
    infos[k].pid = self + 1000u + k; /* anyone but us */
    infos[k].usedGpuMemory = FAKE_OTHER_PROCESS_MIB * FAKE_MIB;
    infos[k].gpuInstanceId = 0xFFFFFFFFu;
    infos[k].computeInstanceId = 0xFFFFFFFFu;
  }
  if (g_list_self) {
    infos[others].pid = self;
    infos[others].usedGpuMemory =
        g_self_not_available ? FAKE_NOT_AVAILABLE
                             : device->process_mib * FAKE_MIB;
    infos[others].gpuInstanceId = 0xFFFFFFFFu;
    infos[others].computeInstanceId = 0xFFFFFFFFu;
  }
  *count = total;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlSystemGetDriverVersion(char* version, unsigned int length) {
  if (!g_initialized) return NVML_ERROR_UNINITIALIZED;
  if (version == NULL) return NVML_ERROR_INVALID_ARGUMENT;
  int needed = snprintf(version, length, "%s", g_driver_version);
  if (needed < 0 || (unsigned int)needed >= length) {
    return NVML_ERROR_INSUFFICIENT_SIZE;
  }
  return NVML_SUCCESS;
}
#endif

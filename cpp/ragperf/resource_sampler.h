// Copyright 2026 The ragperf Authors.
//
// resource_sampler.h
// -----------------------------------------------------------------------------
//
// Periodic resource sampling for long-running RAG pipelines.
//
// `ResourceSampler` owns one background thread that, every `interval_s`
// seconds, records a `ResourceSample`: this process's RSS, VMS and CPU
// utilisation, machine-wide memory and load average, and (through an optional
// callback) GPU memory and utilisation. Samples go into a bounded ring
// (`History()`), and every sample ever taken feeds running aggregates
// (`GetStats()`), so min/max/avg cover the whole run even after the ring has
// wrapped.
//
// Sources (all Linux procfs, read without a shell-out):
//   - RSS/VMS:        `StatmReader` (one `pread` of /proc/self/statm).
//   - Process CPU:    `getrusage(RUSAGE_SELF)`, user + system time.
//   - System memory:  `MemoryMonitor::ReadSystemMemory()` (libproc2 meminfo).
//   - Load average:   libproc2's `procps_loadavg()` (/proc/loadavg).
//   - GPU:            the caller-supplied `std::function<GpuSnapshot()>`.
//
// Cost (without a GPU callback): one sample is about 50 us of CPU when caches
// are warm and 150-250 us as the periodic thread sees it (cold), most of it
// libproc2's /proc/meminfo parse. Measured: ~0.02% of one core at a 1 s
// interval, ~0.006% at the default 5 s.
//
// Example:
//
//   ragperf::ResourceSampler sampler;           // keeps the last 720 samples
//   absl::Status s = sampler.Start(/*interval_s=*/5.0);
//   if (!s.ok()) return s;
//   RunIndexingJob();
//   sampler.Stop();
//   ragperf::ResourceStats stats = sampler.GetStats();
//   std::printf("peak rss %.1f MiB, mean cpu %.1f%%\n", stats.rss_mb.max,
//               stats.cpu_percent.avg);
//   for (const ragperf::ResourceSample& r : sampler.History(/*limit=*/10)) {
//     std::printf("%.3f rss=%.1f load1=%.2f\n", r.timestamp_s, r.rss_mb,
//                 r.load1);
//   }
//
//   // With a GPU source (adapted from whatever reports the devices):
//   ragperf::ResourceSampler gpu_sampler(
//       ragperf::ResourceSampler::kDefaultMaxSamples,
//       [] { return ReadMyGpus(); });               // returns GpuSnapshot

#ifndef RAGPERF_RESOURCE_SAMPLER_H_
#define RAGPERF_RESOURCE_SAMPLER_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "ragperf/fork_gate.h"

namespace ragperf {

// GPU usage summed over all devices at one instant. Produced by the GPU
// callback given to `ResourceSampler`; the sampler does not talk to any GPU
// library itself.
//
//   - `available`: false when there is no GPU (or no callback); every other
//     field is then meaningless and ignored by the statistics.
//   - `memory_used_mb`, `memory_total_mb`: totals over devices, MiB.
//   - `utilization_percent`: mean over the devices that report one, in
//     [0, 100]; -1 if none does.
//   - `process_memory_mb`: memory this process holds across devices, MiB; -1
//     if unknown.
//
// The sampler normalises the "unknown" fields: any negative or non-finite
// `utilization_percent` / `process_memory_mb` is stored as -1.
struct GpuSnapshot {
  bool available = false;
  double memory_used_mb = 0;
  double memory_total_mb = 0;
  double utilization_percent = -1;
  double process_memory_mb = -1;
};

// One sample. Memory in MiB (2^20 bytes), as everywhere in ragperf.
struct ResourceSample {
  // Wall-clock Unix seconds, for lining samples up with logs.
  double timestamp_s = 0;
  // This process's resident and virtual size.
  double rss_mb = 0;
  double vms_mb = 0;
  // This process's CPU use since the previous sample: (user + system CPU
  // time) / elapsed monotonic time * 100. Above 100 when several cores are
  // busy; never above 100 * (number of CPUs). -1 for the first sample ever
  // taken by the sampler, and for the first sample taken in a forked child.
  double cpu_percent = -1;
  // Machine-wide memory (see `SystemMemory`): total, available, and
  // 100 * (total - available) / total.
  double system_total_mb = 0;
  double system_available_mb = 0;
  double system_used_percent = 0;
  // System load averages over 1, 5 and 15 minutes.
  double load1 = 0;
  double load5 = 0;
  double load15 = 0;
  // `available == false` when there is no GPU callback or no GPU.
  GpuSnapshot gpu;
};

// Aggregates of one quantity over the samples in which it was known
// (`count` of them). All fields are 0 when `count == 0`. `last` is the value
// in the most recent such sample; `min <= avg <= max`.
struct SeriesStats {
  double last = 0;
  double min = 0;
  double max = 0;
  double avg = 0;
  uint64_t count = 0;
};

// Snapshot returned by `ResourceSampler::GetStats()`.
//
// `samples` counts every sample recorded since construction or the last
// `Clear()`, including those beyond the ring's capacity. Which samples count
// towards each series:
//   - `rss_mb`, `vms_mb`, `system_used_percent`, `load1`: every sample once
//     the source has been read successfully at least once (after a failed
//     read, a sample repeats the previous value and still counts).
//   - `cpu_percent`: samples with `cpu_percent >= 0` (not the first).
//   - `gpu_memory_used_mb`: samples with `gpu.available`.
//   - `gpu_utilization_percent`, `gpu_process_memory_mb`: samples with
//     `gpu.available` and that field known (>= 0).
// `running` and `interval_s` mirror `ResourceSampler::running()` and
// `ResourceSampler::interval_s()`.
struct ResourceStats {
  uint64_t samples = 0;
  double interval_s = 0;
  bool running = false;
  SeriesStats rss_mb;
  SeriesStats vms_mb;
  SeriesStats cpu_percent;
  SeriesStats system_used_percent;
  SeriesStats load1;
  SeriesStats gpu_memory_used_mb;
  SeriesStats gpu_utilization_percent;
  SeriesStats gpu_process_memory_mb;
};

// ResourceSampler
//
// Samples process and system resources on a background thread (see the file
// comment for what is read and how). All public methods are thread-safe.
// `History()`, `GetStats()`, `errors()`, `running()` and `interval_s()` never
// wait for a sample in progress (and so never for a slow GPU callback).
//
// Errors: a source that cannot be read (e.g. /proc unmounted, the GPU
// callback throws) never stops the thread. The sample keeps that source's
// previous value (or the struct default if it was never read) and
// `errors()` grows by one per failed source. A GPU callback returning
// `available == false` is a valid reading ("no GPU"), not an error.
//
// The GPU callback runs on the sampling thread, or on the caller's thread
// inside `SampleNow()` / `Start()`, one call at a time per sampler. It must
// not call `Start()`, `Stop()` or `SampleNow()` on the same sampler
// (deadlock); the read-only accessors are fine. Exceptions it throws are
// caught and counted as errors. Its latency delays `Stop()` by at most one
// call.
//
// Fork: the sampling thread does not exist in a child created by `fork()`.
// In the child, `running()` reports false and `Stop()` and the destructor
// return without trying to join it; call `Start()` again to sample the child
// (`was_running_at_fork()` says whether the parent was sampling). The child's
// first sample has `cpu_percent == -1` (its CPU clock restarts at zero). The
// sampler is a ForkParticipant (fork_gate.h): fork() waits until no thread
// holds one of its locks, and the child gets them unlocked with no waiters.
//
// Example:
//
//   ragperf::ResourceSampler sampler(/*max_samples=*/120);
//   if (absl::Status s = sampler.Start(0.5); !s.ok()) return s;
//   ...
//   ragperf::ResourceSample now = sampler.SampleNow();  // also recorded
//   std::vector<ragperf::ResourceSample> last_minute = sampler.History(120);
//   sampler.Stop();
class ResourceSampler : private ForkParticipant {
 public:
  // One hour at the default 5-second interval.
  static constexpr size_t kDefaultMaxSamples = 720;
  // Accepted range for `Start()`'s `interval_s`, in seconds.
  static constexpr double kMinIntervalS = 0.05;
  static constexpr double kMaxIntervalS = 3600.0;

  // Keeps the most recent `max_samples` samples (0 is clamped to 1: a
  // constructor cannot fail, and the Python layer validates input). `gpu`,
  // if non-null, is called once per sample; see the class comment.
  // Does not start sampling.
  explicit ResourceSampler(size_t max_samples = kDefaultMaxSamples,
                           std::function<GpuSnapshot()> gpu = nullptr);

  ResourceSampler(const ResourceSampler&) = delete;
  ResourceSampler& operator=(const ResourceSampler&) = delete;

  // Stops the thread and joins it, as `Stop()`.
  ~ResourceSampler();

  // Starts sampling every `interval_s` seconds on a background thread.
  // Takes the first sample on the calling thread before returning, so
  // `History()` is non-empty once this returns OK. If already running, stops
  // the current thread and restarts with the new interval.
  //
  // Returns `InvalidArgument` (naming the value) unless
  // `kMinIntervalS <= interval_s <= kMaxIntervalS`; a running sampler is
  // then left running at its old interval. Returns `Internal` if the thread
  // cannot be created.
  //
  // Ticks are scheduled on the monotonic clock at fixed multiples of the
  // interval; a sample that overruns (slow GPU callback, suspended machine)
  // skips the missed ticks rather than catching up in a burst.
  absl::Status Start(double interval_s);

  // Stops sampling and joins the thread. Wakes the thread immediately, so it
  // returns as soon as any sample in progress has finished, never after a
  // whole interval. Idempotent; a no-op if not running.
  void Stop();

  // Whether the background thread is sampling (false in a forked child).
  bool running() const;
  // In a fork child: whether the parent was sampling when it forked (false
  // in a process that never forked, and after Start()/Stop() in the child).
  bool was_running_at_fork() const;

  // The interval of the current run, or of the last one if stopped; 0 if
  // `Start()` never succeeded.
  double interval_s() const;

  // The capacity of the history ring.
  size_t max_samples() const { return max_samples_; }

  // Takes one sample on the calling thread, records it exactly as the
  // background thread would (history, statistics, CPU baseline), and returns
  // it. Works whether or not the sampler is running.
  ResourceSample SampleNow();

  // The most recent `limit` samples (all kept samples if `limit` is 0 or
  // exceeds what is kept), oldest first. At most `max_samples()`.
  std::vector<ResourceSample> History(size_t limit = 0) const;

  // Aggregates over every sample since construction or `Clear()` (not only
  // those still in the ring). See `ResourceStats`.
  ResourceStats GetStats() const;

  // Number of failed source reads since construction or `Clear()`.
  uint64_t errors() const;

  // Forgets the history, the statistics and the error count. Sampling (and
  // the CPU baseline, so the next sample still has a `cpu_percent`)
  // continues unaffected.
  void Clear();

 private:
  // ForkParticipant: takes the three locks in their order / releases them /
  // re-initialises them in the child.
  void PrepareFork() override ABSL_NO_THREAD_SAFETY_ANALYSIS;
  void ParentAfterFork() override ABSL_NO_THREAD_SAFETY_ANALYSIS;
  void ChildAfterFork() override ABSL_NO_THREAD_SAFETY_ANALYSIS;

  // Running min/max/sum of one series, under `mu_`.
  struct Aggregate {
    uint64_t count = 0;
    double sum = 0;
    double min = 0;
    double max = 0;
    double last = 0;
    void Add(double v);
    SeriesStats ToStats() const;
  };

  // Reads every source and records the result. Caller holds `sample_mu_`.
  ResourceSample TakeSampleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sample_mu_)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Record(const ResourceSample& sample, uint64_t failed_reads)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(sample_mu_, mu_);
  void StopLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(lifecycle_mu_)
      ABSL_LOCKS_EXCLUDED(mu_, sample_mu_);
  // Body of the background thread: samples at `first_deadline_ns`, then
  // every `period_ns` (monotonic clock), until `stop_requested_`.
  void Loop(int64_t first_deadline_ns, int64_t period_ns)
      ABSL_LOCKS_EXCLUDED(mu_, sample_mu_);

  const size_t max_samples_;
  const std::function<GpuSnapshot()> gpu_;
  // Upper bound for `cpu_percent`: 100 * CPUs configured at construction.
  const double max_cpu_percent_;

  // Lock order: lifecycle_mu_, then sample_mu_, then mu_.

  // Serialises Start()/Stop()/destructor; held across thread creation and
  // join.
  absl::Mutex lifecycle_mu_ ABSL_ACQUIRED_BEFORE(sample_mu_);
  // The thread, or null. Non-null exactly while `running_` in the process
  // that started it; in a fork child it is a stale copy of the parent's.
  std::unique_ptr<std::thread> thread_ ABSL_GUARDED_BY(lifecycle_mu_);

  // Serialises taking samples (the reads, the GPU callback and the CPU
  // baseline), so that samples are recorded in time order and each CPU delta
  // starts where the previous one ended. Readers never take it.
  absl::Mutex sample_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  // CPU baseline: process CPU time and monotonic time of the previous
  // successful reading, and the pid it was taken in (0 = none yet).
  int64_t prev_cpu_ns_ ABSL_GUARDED_BY(sample_mu_) = 0;
  int64_t prev_steady_ns_ ABSL_GUARDED_BY(sample_mu_) = 0;
  pid_t baseline_pid_ ABSL_GUARDED_BY(sample_mu_) = 0;
  // The previous sample, whose values stand in for sources that fail.
  ResourceSample last_ ABSL_GUARDED_BY(sample_mu_);
  // Which sources have been read successfully at least once.
  bool have_statm_ ABSL_GUARDED_BY(sample_mu_) = false;
  bool have_meminfo_ ABSL_GUARDED_BY(sample_mu_) = false;
  bool have_loadavg_ ABSL_GUARDED_BY(sample_mu_) = false;

  // Recorded data and thread control.
  mutable absl::Mutex mu_;
  absl::CondVar wake_;  // Signalled by Stop(); waited on by Loop().
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_requested_ ABSL_GUARDED_BY(mu_) = false;
  pid_t thread_pid_ ABSL_GUARDED_BY(mu_) = 0;  // Process the thread runs in.
  double interval_s_ ABSL_GUARDED_BY(mu_) = 0;
  bool was_running_at_fork_ ABSL_GUARDED_BY(mu_) = false;
  // Grows to `max_samples_`, then is overwritten in place at `next_`.
  std::vector<ResourceSample> ring_ ABSL_GUARDED_BY(mu_);
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t samples_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t errors_ ABSL_GUARDED_BY(mu_) = 0;
  // Running aggregates over every recorded sample; see `ResourceStats`.
  Aggregate rss_ ABSL_GUARDED_BY(mu_);
  Aggregate vms_ ABSL_GUARDED_BY(mu_);
  Aggregate cpu_ ABSL_GUARDED_BY(mu_);
  Aggregate system_used_ ABSL_GUARDED_BY(mu_);
  Aggregate load1_ ABSL_GUARDED_BY(mu_);
  Aggregate gpu_used_ ABSL_GUARDED_BY(mu_);
  Aggregate gpu_util_ ABSL_GUARDED_BY(mu_);
  Aggregate gpu_process_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ragperf

#endif  // RAGPERF_RESOURCE_SAMPLER_H_

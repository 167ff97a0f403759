// Copyright 2026 The ragperf Authors.

#include "ragperf/resource_sampler.h"

#include <libproc2/misc.h>
#include <locale.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ragperf/clock.h"
#include "ragperf/memory_monitor.h"

namespace ragperf {
namespace {

constexpr double kBytesPerMb = 1024.0 * 1024.0;

// Process CPU time (user + system, all threads, including exited ones), in
// nanoseconds.
//
// getrusage(RUSAGE_SELF) rather than utime + stime from /proc/self/stat:
//   - resolution: the kernel derives both from the scheduler's nanosecond
//     runtime, but /proc/self/stat rounds to clock ticks (10 ms at
//     USER_HZ=100), which at the 50 ms minimum interval would quantise
//     cpu_percent in steps of 20%; getrusage reports microseconds;
//   - cost: one syscall with no text to parse (the stat line's `comm` field
//     may itself contain spaces and parentheses);
//   - fork: no descriptor that would go on describing the parent in a child.
bool ReadProcessCpuNanos(int64_t* cpu_ns) {
  rusage usage;
  if (getrusage(RUSAGE_SELF, &usage) != 0) return false;
  const int64_t sec = static_cast<int64_t>(usage.ru_utime.tv_sec) +
                      static_cast<int64_t>(usage.ru_stime.tv_sec);
  const int64_t usec = static_cast<int64_t>(usage.ru_utime.tv_usec) +
                       static_cast<int64_t>(usage.ru_stime.tv_usec);
  *cpu_ns = sec * 1000000000 + usec * 1000;
  return true;
}

// System load averages via libproc2. procps_loadavg() (procps 4.0.x) parses
// under a temporary "C" LC_NUMERIC locale installed with uselocale() and then
// switches the thread to LC_GLOBAL_LOCALE, which would silently drop a
// per-thread locale the caller of SampleNow() had installed; so the thread's
// locale is saved and put back. Reentrant otherwise (no static buffers in
// 4.0.x: it fopen()s /proc/loadavg per call).
bool ReadLoadAverage(double* load1, double* load5, double* load15) {
  const locale_t saved = uselocale(static_cast<locale_t>(nullptr));
  double a1 = 0;
  double a5 = 0;
  double a15 = 0;
  const int rc = procps_loadavg(&a1, &a5, &a15);
  if (saved != static_cast<locale_t>(nullptr)) uselocale(saved);
  if (rc < 0) return false;
  if (!std::isfinite(a1) || !std::isfinite(a5) || !std::isfinite(a15) ||
      a1 < 0 || a5 < 0 || a15 < 0) {
    return false;
  }
  *load1 = a1;
  *load5 = a5;
  *load15 = a15;
  return true;
}

// "Unknown" GPU fields are -1, whatever the callback used for them.
double KnownOrMinusOne(double v) {
  return std::isfinite(v) && v >= 0 ? v : -1.0;
}

double MaxCpuPercent() {
  const long configured = sysconf(_SC_NPROCESSORS_CONF);
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  const long cpus = std::max({configured, online, 1L});
  return 100.0 * static_cast<double>(cpus);
}

}  // namespace

// ---------------------------------------------------------------------------
// Aggregate
// ---------------------------------------------------------------------------

void ResourceSampler::Aggregate::Add(double v) {
  if (count == 0) {
    min = max = v;
  } else {
    min = std::min(min, v);
    max = std::max(max, v);
  }
  sum += v;
  last = v;
  ++count;
}

SeriesStats ResourceSampler::Aggregate::ToStats() const {
  SeriesStats s;
  if (count == 0) return s;
  s.last = last;
  s.min = min;
  s.max = max;
  // Rounding in a long sum can put the mean a hair outside [min, max].
  s.avg = std::clamp(sum / static_cast<double>(count), min, max);
  s.count = count;
  return s;
}

// ---------------------------------------------------------------------------
// ResourceSampler
// ---------------------------------------------------------------------------

ResourceSampler::ResourceSampler(size_t max_samples,
                                 std::function<GpuSnapshot()> gpu)
    : max_samples_(std::max<size_t>(max_samples, 1)),
      gpu_(std::move(gpu)),
      max_cpu_percent_(MaxCpuPercent()) {
  ForkGate::Register(this);
}

ResourceSampler::~ResourceSampler() {
  ForkGate::Unregister(this);
  absl::MutexLock life(&lifecycle_mu_);
  StopLocked();
}

void ResourceSampler::PrepareFork() {
  lifecycle_mu_.Lock();
  sample_mu_.Lock();
  mu_.Lock();
}

void ResourceSampler::ParentAfterFork() {
  mu_.Unlock();
  sample_mu_.Unlock();
  lifecycle_mu_.Unlock();
}

void ResourceSampler::ChildAfterFork() {
  was_running_at_fork_ = running_ && thread_pid_ != getpid();
  // The parent's sampling thread (or a caller of SampleNow) may be queued on
  // these (the CondVar in particular, between samples): the mutexes are
  // released as having no waiters (see ReleaseHeldMutexInChild), the
  // CondVar is a fresh one.
  ReleaseHeldMutexInChild(&mu_);
  ReleaseHeldMutexInChild(&sample_mu_);
  ReleaseHeldMutexInChild(&lifecycle_mu_);
  new (&wake_) absl::CondVar();
}

bool ResourceSampler::was_running_at_fork() const {
  absl::MutexLock lock(&mu_);
  return was_running_at_fork_;
}

absl::Status ResourceSampler::Start(double interval_s) {
  // Written so that NaN fails too.
  if (!(interval_s >= kMinIntervalS && interval_s <= kMaxIntervalS)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("ResourceSampler: interval_s must be in [%g, %g] "
                        "seconds, got %g",
                        kMinIntervalS, kMaxIntervalS, interval_s));
  }
  const int64_t period_ns = std::max<int64_t>(
      1, static_cast<int64_t>(std::llround(interval_s * 1e9)));

  absl::MutexLock life(&lifecycle_mu_);
  StopLocked();

  int64_t first_deadline_ns = 0;
  {
    absl::MutexLock sampling(&sample_mu_);
    (void)TakeSampleLocked();
    first_deadline_ns = SteadyNowNanos() + period_ns;
  }
  {
    absl::MutexLock lock(&mu_);
    stop_requested_ = false;
    was_running_at_fork_ = false;
    running_ = true;
    thread_pid_ = getpid();
    interval_s_ = interval_s;
  }
  try {
    thread_ = std::make_unique<std::thread>(&ResourceSampler::Loop, this,
                                            first_deadline_ns, period_ns);
  } catch (const std::system_error& e) {
    absl::MutexLock lock(&mu_);
    running_ = false;
    return absl::InternalError(absl::StrFormat(
        "ResourceSampler: cannot create the sampling thread: %s", e.what()));
  }
  return absl::OkStatus();
}

void ResourceSampler::Stop() {
  absl::MutexLock life(&lifecycle_mu_);
  StopLocked();
}

void ResourceSampler::StopLocked() {
  if (thread_ == nullptr) return;
  bool same_process = false;
  {
    absl::MutexLock lock(&mu_);
    stop_requested_ = true;
    running_ = false;
    was_running_at_fork_ = false;
    same_process = thread_pid_ == getpid();
    // SignalAll, not Signal: in a fork child the CondVar may still list the
    // parent's (non-existent) sampling thread as a waiter, and Signal() could
    // pick that one instead of a thread started in the child.
    wake_.SignalAll();
  }
  if (same_process) {
    thread_->join();
    thread_.reset();
  } else {
    // Fork child: the thread this object describes lives only in the parent.
    // Joining or detaching it here is undefined, and destroying a joinable
    // std::thread terminates, so the object is deliberately leaked.
    std::thread* stale = thread_.release();
    (void)stale;
  }
}

bool ResourceSampler::running() const {
  absl::MutexLock lock(&mu_);
  return running_ && thread_pid_ == getpid();
}

double ResourceSampler::interval_s() const {
  absl::MutexLock lock(&mu_);
  return interval_s_;
}

void ResourceSampler::Loop(int64_t first_deadline_ns, int64_t period_ns) {
  int64_t deadline_ns = first_deadline_ns;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      for (;;) {
        if (stop_requested_) return;
        const int64_t now = SteadyNowNanos();
        if (now >= deadline_ns) break;
        // Spurious and early wake-ups just go round again: the deadline is
        // on the monotonic clock. (absl::CondVar's timeout runs on the
        // realtime clock, so a backward step of the system clock during the
        // wait lengthens it by the step; Stop() is unaffected because it
        // signals.)
        wake_.WaitWithTimeout(&mu_, absl::Nanoseconds(deadline_ns - now));
      }
    }
    {
      absl::MutexLock sampling(&sample_mu_);
      (void)TakeSampleLocked();
    }
    deadline_ns += period_ns;
    const int64_t now = SteadyNowNanos();
    if (deadline_ns <= now) {
      // Overran one or more ticks: resume on the next future tick of the
      // original grid instead of sampling back-to-back to catch up.
      deadline_ns += ((now - deadline_ns) / period_ns + 1) * period_ns;
    }
  }
}

ResourceSample ResourceSampler::SampleNow() {
  absl::MutexLock sampling(&sample_mu_);
  return TakeSampleLocked();
}

ResourceSample ResourceSampler::TakeSampleLocked() {
  // Sources that fail keep the previous sample's values.
  ResourceSample s = last_;
  uint64_t failed = 0;

  // CPU: read the CPU clock and the monotonic clock back to back so that both
  // deltas cover the same window.
  int64_t cpu_ns = 0;
  const bool cpu_ok = ReadProcessCpuNanos(&cpu_ns);
  const int64_t steady_ns = SteadyNowNanos();
  const pid_t pid = getpid();
  s.timestamp_s = WallSecondsAt(steady_ns);
  if (cpu_ok) {
    if (baseline_pid_ != pid) {
      // First sample ever, or the first in a fork child (whose CPU clock
      // restarted at zero): no window to measure over yet.
      s.cpu_percent = -1;
      prev_cpu_ns_ = cpu_ns;
      prev_steady_ns_ = steady_ns;
      baseline_pid_ = pid;
    } else if (steady_ns > prev_steady_ns_) {
      const double pct = 100.0 * static_cast<double>(cpu_ns - prev_cpu_ns_) /
                         static_cast<double>(steady_ns - prev_steady_ns_);
      // Over very short windows the kernel's lazy accounting of threads
      // running on other CPUs can overshoot; no process can really exceed
      // 100% per CPU.
      s.cpu_percent = std::clamp(pct, 0.0, max_cpu_percent_);
      prev_cpu_ns_ = cpu_ns;
      prev_steady_ns_ = steady_ns;
    }
    // else: same nanosecond as the baseline; keep the previous value and
    // baseline.
  } else {
    ++failed;
    if (baseline_pid_ != pid) s.cpu_percent = -1;
  }

  int64_t rss_bytes = 0;
  int64_t vms_bytes = 0;
  if (StatmReader::Instance().Read(&rss_bytes, &vms_bytes)) {
    s.rss_mb = static_cast<double>(rss_bytes) / kBytesPerMb;
    s.vms_mb = static_cast<double>(vms_bytes) / kBytesPerMb;
    have_statm_ = true;
  } else {
    ++failed;
  }

  const absl::StatusOr<SystemMemory> mem = MemoryMonitor::ReadSystemMemory();
  if (mem.ok()) {
    s.system_total_mb = mem->total_mb;
    s.system_available_mb = mem->available_mb;
    s.system_used_percent = mem->used_percent;
    have_meminfo_ = true;
  } else {
    ++failed;
  }

  if (ReadLoadAverage(&s.load1, &s.load5, &s.load15)) {
    have_loadavg_ = true;
  } else {
    ++failed;
  }

  if (gpu_) {
    try {
      GpuSnapshot g = gpu_();
      g.utilization_percent = KnownOrMinusOne(g.utilization_percent);
      g.process_memory_mb = KnownOrMinusOne(g.process_memory_mb);
      s.gpu = g;
    } catch (...) {
      // A throwing callback must not take the sampling thread down with it.
      ++failed;
    }
  }

  last_ = s;
  absl::MutexLock lock(&mu_);
  Record(s, failed);
  return s;
}

void ResourceSampler::Record(const ResourceSample& s, uint64_t failed_reads) {
  if (ring_.size() < max_samples_) {
    ring_.push_back(s);
  } else {
    ring_[next_] = s;
  }
  next_ = (next_ + 1) % max_samples_;
  ++samples_;
  errors_ += failed_reads;

  if (have_statm_) {
    rss_.Add(s.rss_mb);
    vms_.Add(s.vms_mb);
  }
  if (s.cpu_percent >= 0) cpu_.Add(s.cpu_percent);
  if (have_meminfo_) system_used_.Add(s.system_used_percent);
  if (have_loadavg_) load1_.Add(s.load1);
  if (s.gpu.available) {
    if (std::isfinite(s.gpu.memory_used_mb)) {
      gpu_used_.Add(s.gpu.memory_used_mb);
    }
    if (s.gpu.utilization_percent >= 0) {
      gpu_util_.Add(s.gpu.utilization_percent);
    }
    if (s.gpu.process_memory_mb >= 0) {
      gpu_process_.Add(s.gpu.process_memory_mb);
    }
  }
}

std::vector<ResourceSample> ResourceSampler::History(size_t limit) const {
  absl::MutexLock lock(&mu_);
  const size_t n = ring_.size();
  const size_t take = (limit == 0 || limit > n) ? n : limit;
  // Until the ring is full, storage order is insertion order; after that the
  // oldest sample sits at next_.
  const size_t oldest = n < max_samples_ ? 0 : next_;
  std::vector<ResourceSample> out;
  out.reserve(take);
  for (size_t i = n - take; i < n; ++i) {
    out.push_back(ring_[(oldest + i) % n]);
  }
  return out;
}

ResourceStats ResourceSampler::GetStats() const {
  absl::MutexLock lock(&mu_);
  ResourceStats stats;
  stats.samples = samples_;
  stats.interval_s = interval_s_;
  stats.running = running_ && thread_pid_ == getpid();
  stats.rss_mb = rss_.ToStats();
  stats.vms_mb = vms_.ToStats();
  stats.cpu_percent = cpu_.ToStats();
  stats.system_used_percent = system_used_.ToStats();
  stats.load1 = load1_.ToStats();
  stats.gpu_memory_used_mb = gpu_used_.ToStats();
  stats.gpu_utilization_percent = gpu_util_.ToStats();
  stats.gpu_process_memory_mb = gpu_process_.ToStats();
  return stats;
}

uint64_t ResourceSampler::errors() const {
  absl::MutexLock lock(&mu_);
  return errors_;
}

void ResourceSampler::Clear() {
  absl::MutexLock lock(&mu_);
  ring_.clear();
  next_ = 0;
  samples_ = 0;
  errors_ = 0;
  rss_ = Aggregate();
  vms_ = Aggregate();
  cpu_ = Aggregate();
  system_used_ = Aggregate();
  load1_ = Aggregate();
  gpu_used_ = Aggregate();
  gpu_util_ = Aggregate();
  gpu_process_ = Aggregate();
}

}  // namespace ragperf

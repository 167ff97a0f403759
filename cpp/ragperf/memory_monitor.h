// Copyright 2024 The ragperf Authors.
//
// memory_monitor.h
// -----------------------------------------------------------------------------
//
// Process and system memory measurement for RAG pipeline profiling.
//
// `StatmReader` is the hot-path primitive: one `pread()` of the calling
// process's `/proc/self/statm` per call, no allocation, no locking.
// `MemoryMonitor` builds a bounded sample history and running aggregates on
// top of it, and `MemoryMonitor::ReadSystemMemory()` reports machine-wide
// memory through procps' libproc2.
//
// Units: "MB" throughout means MiB (1024 * 1024 bytes), to match what
// `ps`/`top` and psutil-based tooling report after dividing by 2^20.
//
// Linux only: everything here reads procfs.
//
// Example:
//
//   ragperf::MemoryMonitor monitor(/*max_history=*/500);
//   absl::StatusOr<ragperf::MemoryUsage> before = monitor.Sample();
//   RunRetrieval();
//   absl::StatusOr<ragperf::MemoryUsage> after = monitor.Sample();
//   if (before.ok() && after.ok()) {
//     double grew_mb = ragperf::MemoryMonitor::MemoryDeltaMb(*before, *after);
//   }
//
//   // Hot path, from any thread: measure cheaply, aggregate lock-free.
//   int64_t rss = 0;
//   if (ragperf::StatmReader::Instance().ReadRss(&rss)) {
//     monitor.Observe(rss / (1024.0 * 1024.0));
//   }
//
//   ragperf::MemoryStats stats = monitor.GetStats();  // min/avg/max so far

#ifndef RAGPERF_MEMORY_MONITOR_H_
#define RAGPERF_MEMORY_MONITOR_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace ragperf {

// Resident and virtual size of a process, in MiB.
struct MemoryUsage {
  double rss_mb = 0;
  double vms_mb = 0;
};

// One recorded `MemoryMonitor::Sample()`. `timestamp_s` is wall-clock Unix
// time in seconds, so samples can be lined up with logs and other processes.
struct MemorySample {
  double timestamp_s = 0;
  double rss_mb = 0;
  double vms_mb = 0;
};

// Snapshot returned by `MemoryMonitor::GetStats()`. `min_rss_mb`,
// `max_rss_mb` and `avg_rss_mb` cover every value sampled or observed since
// construction or the last `Clear()`; `samples` counts them.
struct MemoryStats {
  double current_rss_mb = 0;
  double current_vms_mb = 0;
  double min_rss_mb = 0;
  double max_rss_mb = 0;
  double avg_rss_mb = 0;
  uint64_t samples = 0;
};

// Machine-wide memory, in MiB. `used_mb` is `total_mb - available_mb` (memory
// that cannot be reclaimed without swapping), not `total - free`, because page
// cache makes `free` misleadingly small on any busy machine.
// `used_percent` is `100 * used_mb / total_mb`, in [0, 100].
struct SystemMemory {
  double total_mb = 0;
  double available_mb = 0;
  double used_mb = 0;
  double used_percent = 0;
  double free_mb = 0;
};

// StatmReader
//
// Reads the calling process's `/proc/self/statm`. The file is opened once
// (lazily, `O_CLOEXEC`) and re-read with `pread(fd, ..., 0)` on every call, so
// a read costs a single syscall. The kernel regenerates the contents on each
// read at offset 0, so values are always current.
//
// Thread-safe and lock-free; callers on many threads share one descriptor.
// (The kernel serialises concurrent reads of the same open procfs file, so
// extremely hot multi-threaded use contends there, not in this class.)
//
// Fork-safe: the opened file refers to the process that opened it, not to
// whoever reads it later, so a forked child must not keep using the parent's
// descriptor. A `pthread_atfork()` child handler closes it in the child and
// the next `Read()` reopens `/proc/self/statm` for the child. Children
// created without running atfork handlers (`vfork()`, `posix_spawn()`,
// raw `clone()`) must exec or exit before using this class.
//
// Example:
//
//   int64_t rss = 0, vms = 0;
//   if (ragperf::StatmReader::Instance().Read(&rss, &vms)) {
//     std::printf("rss=%lld vms=%lld bytes\n", static_cast<long long>(rss),
//                 static_cast<long long>(vms));
//   }
class StatmReader {
 public:
  // Returns the process-wide reader. It is created on first use and never
  // destroyed, so it is safe to use from static destructors and atexit
  // handlers.
  static StatmReader& Instance();

  StatmReader(const StatmReader&) = delete;
  StatmReader& operator=(const StatmReader&) = delete;

  // Stores the resident set size and the total virtual size of the calling
  // process, in bytes. Returns false, leaving the outputs unchanged, if
  // `/proc` is unavailable or the contents cannot be parsed. Never throws and
  // never allocates.
  bool Read(int64_t* rss_bytes, int64_t* vms_bytes);

  // As `Read()`, for callers that only need RSS.
  bool ReadRss(int64_t* rss_bytes);

  // The page size `statm` counts in, from `sysconf(_SC_PAGESIZE)`.
  int64_t page_size() const { return page_size_; }

  // Parses the first two fields (total program size and resident set size,
  // in pages) of a `statm` line. Returns false, leaving the outputs
  // unchanged, unless the text starts with two decimal integers of at most 18
  // digits separated by one space, the second ending at a space, a newline or
  // the end of the text. Locale-independent. Exposed for testing.
  static bool ParseStatm(absl::string_view text, int64_t* size_pages,
                         int64_t* resident_pages);

 private:
  StatmReader();
  ~StatmReader() = default;

  bool ReadPages(int64_t* size_pages, int64_t* resident_pages);
  int OpenOrGetFd();
  static void AtForkChild();

  const int64_t page_size_;
  // -1 until first use and in a freshly forked child.
  std::atomic<int> fd_{-1};
};

// MemoryMonitor
//
// Records memory samples of the current process into a bounded history and
// keeps running aggregates (count, min, max, sum) over every value recorded
// since construction or the last `Clear()`. The history only holds the most
// recent `max_history()` samples; the aggregates are never truncated.
//
// All methods are thread-safe. `Observe()` is lock-free and meant for hot
// paths on many threads; `Sample()`, `GetStats()`, `History()` and `Clear()`
// take an internal mutex.
//
// Example:
//
//   ragperf::MemoryMonitor monitor;
//   for (const auto& batch : batches) {
//     Embed(batch);
//     (void)monitor.Sample();
//   }
//   ragperf::MemoryStats s = monitor.GetStats();
//   std::vector<ragperf::MemorySample> timeline = monitor.History();
class MemoryMonitor {
 public:
  // `max_history` of 0 is clamped to 1 rather than rejected: a constructor
  // cannot return a status, and the Python layer validates user input before
  // it gets here.
  explicit MemoryMonitor(size_t max_history = 1000);

  MemoryMonitor(const MemoryMonitor&) = delete;
  MemoryMonitor& operator=(const MemoryMonitor&) = delete;

  // Returns the current RSS and VMS of this process. Fails with
  // `absl::StatusCode::kUnavailable` (or the code matching errno, when one is
  // known) if `/proc/self/statm` cannot be read. Does not record anything.
  static absl::StatusOr<MemoryUsage> ReadUsage();

  // `ReadUsage()`, and on success appends the result to the history (evicting
  // the oldest sample once `max_history()` is reached) and to the aggregates.
  absl::StatusOr<MemoryUsage> Sample();

  // Adds an RSS value (MiB) measured elsewhere to the aggregates only; the
  // history is untouched because it has no VMS or timestamp for it. Lock-free.
  // Non-finite values (NaN, +/-inf) are ignored so that one bad measurement
  // cannot poison min/max/avg for the rest of the run.
  //
  // Concurrent `Observe()` calls are all counted exactly. An `Observe()` that
  // races with `Clear()` may count before it, after it, or partly on each
  // side (for example in the mean but not the minimum); callers that need a
  // clean cut should quiesce observers before clearing.
  void Observe(double rss_mb);

  // Takes a sample as `Sample()` does, then returns it as the current usage
  // together with the aggregates. If reading `/proc` fails, the current fields
  // are 0 and the aggregates cover what was recorded before. With nothing
  // recorded at all, every field is 0.
  //
  // The aggregates are read without stopping concurrent `Observe()` calls, so
  // they may reflect part of an in-flight observation; the result is still
  // internally consistent: `min_rss_mb <= avg_rss_mb <= max_rss_mb`.
  MemoryStats GetStats();

  // Returns the history, oldest first.
  std::vector<MemorySample> History() const;

  size_t max_history() const { return max_history_; }

  // Forgets the history and resets the aggregates.
  void Clear();

  // Reads machine-wide memory from `/proc/meminfo` via libproc2. Thread-safe:
  // calls into libproc2 are serialised because its parser is not guaranteed
  // to be reentrant in every shipped version. Not async-signal-safe; as with
  // any locking function, a child forked while another thread is inside it
  // must not call it.
  static absl::StatusOr<SystemMemory> ReadSystemMemory();

  // Returns `end.rss_mb - start.rss_mb`; negative when memory was released.
  static double MemoryDeltaMb(const MemoryUsage& start, const MemoryUsage& end);

 private:
  // Adds to the lock-free aggregates. Caller has filtered NaN.
  void Accumulate(double rss_mb);
  void ResetAggregates();

  const size_t max_history_;

  mutable absl::Mutex mu_;
  // Grows to `max_history_`, then is overwritten in place at `next_`.
  std::vector<MemorySample> ring_ ABSL_GUARDED_BY(mu_);
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;

  // Lock-free aggregates. Kept together on their own cache line: every
  // `Observe()` writes all of them, and they should not false-share with the
  // mutex that `Sample()` holds.
  alignas(64) std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0.0};
  std::atomic<double> min_;
  std::atomic<double> max_;
};

}  // namespace ragperf

#endif  // RAGPERF_MEMORY_MONITOR_H_

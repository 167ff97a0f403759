// Copyright 2024 The ragperf Authors.

#include "ragperf/memory_monitor.h"

#include <fcntl.h>
#include <libproc2/meminfo.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/base/const_init.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace ragperf {
namespace {

constexpr double kBytesPerMb = 1024.0 * 1024.0;
constexpr double kKibPerMb = 1024.0;
constexpr int kMaxStatmDigits = 18;  // Keeps the accumulator below 10^18.

// Set once by the StatmReader constructor. The atfork child handler reads it
// instead of calling Instance(), which could deadlock on the function-local
// static's guard if the fork happened during first construction.
std::atomic<StatmReader*> g_statm_reader{nullptr};

// Parses a run of decimal digits starting at `*p`, advancing `*p` past it.
bool ParseDecimal(const char** p, const char* end, int64_t* out) {
  const char* start = *p;
  int64_t value = 0;
  const char* q = start;
  for (; q < end; ++q) {
    const unsigned digit = static_cast<unsigned char>(*q) - unsigned{'0'};
    if (digit > 9) break;
    if (q - start >= kMaxStatmDigits) return false;
    value = value * 10 + static_cast<int64_t>(digit);
  }
  if (q == start) return false;
  *p = q;
  *out = value;
  return true;
}

// Wall-clock seconds: the samples are for lining up with external logs, not
// for measuring intervals.
double UnixNowSeconds() {
  return absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
}

// Serialises all libproc2 meminfo calls; see ReadSystemMemory() in the header.
ABSL_CONST_INIT absl::Mutex g_meminfo_mu(absl::kConstInit);

// Releases a libproc2 context on every return path.
class MeminfoContext {
 public:
  MeminfoContext() = default;
  MeminfoContext(const MeminfoContext&) = delete;
  MeminfoContext& operator=(const MeminfoContext&) = delete;
  ~MeminfoContext() {
    if (info_ != nullptr) procps_meminfo_unref(&info_);
  }
  meminfo_info** out() { return &info_; }
  meminfo_info* get() { return info_; }

 private:
  meminfo_info* info_ = nullptr;
};

}  // namespace

// ---------------------------------------------------------------------------
// StatmReader
// ---------------------------------------------------------------------------

StatmReader& StatmReader::Instance() {
  // Leaked on purpose: the hot path may run from other static destructors.
  static StatmReader* const instance = new StatmReader();
  return *instance;
}

StatmReader::StatmReader()
    : page_size_([] {
        const long ps = sysconf(_SC_PAGESIZE);
        return ps > 0 ? static_cast<int64_t>(ps) : int64_t{4096};
      }()) {
  // Only one StatmReader exists (the constructor is private), so the handler
  // is registered exactly once per process.
  g_statm_reader.store(this, std::memory_order_release);
  pthread_atfork(nullptr, nullptr, &StatmReader::AtForkChild);
}

void StatmReader::AtForkChild() {
  // Runs in the child, which has a single thread, so no reader can be using
  // the descriptor. close() is async-signal-safe, as required here. Reopening
  // is left to the next Read() so that fork+exec children pay nothing.
  StatmReader* reader = g_statm_reader.load(std::memory_order_acquire);
  if (reader == nullptr) return;
  const int fd = reader->fd_.exchange(-1, std::memory_order_acq_rel);
  if (fd >= 0) close(fd);
}

int StatmReader::OpenOrGetFd() {
  int fd = fd_.load(std::memory_order_acquire);
  if (fd >= 0) return fd;
  const int opened = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (opened < 0) return -1;
  int expected = -1;
  if (fd_.compare_exchange_strong(expected, opened, std::memory_order_acq_rel,
                                  std::memory_order_acquire)) {
    return opened;
  }
  // Another thread won the race to open; use its descriptor.
  close(opened);
  return expected;
}

bool StatmReader::ParseStatm(absl::string_view text, int64_t* size_pages,
                             int64_t* resident_pages) {
  const char* p = text.data();
  const char* const end = p + text.size();
  int64_t size = 0;
  int64_t resident = 0;
  if (!ParseDecimal(&p, end, &size)) return false;
  if (p == end || *p != ' ') return false;
  ++p;
  if (!ParseDecimal(&p, end, &resident)) return false;
  if (p != end && *p != ' ' && *p != '\n') return false;
  *size_pages = size;
  *resident_pages = resident;
  return true;
}

bool StatmReader::ReadPages(int64_t* size_pages, int64_t* resident_pages) {
  const int fd = OpenOrGetFd();
  if (fd < 0) return false;
  // Seven fields of at most 20 digits each fit; we only need the first two,
  // and a short read still contains them.
  char buf[160];
  ssize_t n;
  do {
    n = pread(fd, buf, sizeof(buf), 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    if (n == 0) errno = EIO;
    return false;
  }
  return ParseStatm(absl::string_view(buf, static_cast<size_t>(n)), size_pages,
                    resident_pages);
}

bool StatmReader::Read(int64_t* rss_bytes, int64_t* vms_bytes) {
  int64_t size = 0;
  int64_t resident = 0;
  if (!ReadPages(&size, &resident)) return false;
  const int64_t limit = std::numeric_limits<int64_t>::max() / page_size_;
  if (size > limit || resident > limit) return false;
  *rss_bytes = resident * page_size_;
  *vms_bytes = size * page_size_;
  return true;
}

bool StatmReader::ReadRss(int64_t* rss_bytes) {
  int64_t vms_unused = 0;
  return Read(rss_bytes, &vms_unused);
}

// ---------------------------------------------------------------------------
// MemoryMonitor
// ---------------------------------------------------------------------------

MemoryMonitor::MemoryMonitor(size_t max_history)
    : max_history_(std::max<size_t>(max_history, 1)),
      min_(std::numeric_limits<double>::infinity()),
      max_(-std::numeric_limits<double>::infinity()) {
  static_assert(std::atomic<double>::is_always_lock_free,
                "Observe() must be lock-free");
  static_assert(std::atomic<uint64_t>::is_always_lock_free,
                "Observe() must be lock-free");
}

absl::StatusOr<MemoryUsage> MemoryMonitor::ReadUsage() {
  int64_t rss = 0;
  int64_t vms = 0;
  errno = 0;
  if (!StatmReader::Instance().Read(&rss, &vms)) {
    const int err = errno;
    if (err != 0) return absl::ErrnoToStatus(err, "reading /proc/self/statm");
    return absl::UnavailableError("/proc/self/statm has unexpected contents");
  }
  MemoryUsage usage;
  usage.rss_mb = static_cast<double>(rss) / kBytesPerMb;
  usage.vms_mb = static_cast<double>(vms) / kBytesPerMb;
  return usage;
}

absl::StatusOr<MemoryUsage> MemoryMonitor::Sample() {
  absl::StatusOr<MemoryUsage> usage = ReadUsage();
  if (!usage.ok()) return usage;
  MemorySample sample;
  sample.timestamp_s = UnixNowSeconds();
  sample.rss_mb = usage->rss_mb;
  sample.vms_mb = usage->vms_mb;

  absl::MutexLock lock(&mu_);
  if (ring_.size() < max_history_) {
    ring_.push_back(sample);
  } else {
    ring_[next_] = sample;
  }
  next_ = (next_ + 1) % max_history_;
  // Under the lock so that a concurrent Clear() drops the sample from both
  // the history and the aggregates, or from neither.
  Accumulate(sample.rss_mb);
  return usage;
}

void MemoryMonitor::Observe(double rss_mb) {
  if (!std::isfinite(rss_mb)) return;
  Accumulate(rss_mb);
}

void MemoryMonitor::Accumulate(double rss_mb) {
  // The three CAS loops are independent; relaxed is enough for each. The
  // release on count_ publishes them to GetStats(), which acquires count_
  // first and so sees at least the min/max/sum of every counted value.
  double cur = min_.load(std::memory_order_relaxed);
  while (rss_mb < cur && !min_.compare_exchange_weak(
                             cur, rss_mb, std::memory_order_relaxed)) {
  }
  cur = max_.load(std::memory_order_relaxed);
  while (rss_mb > cur && !max_.compare_exchange_weak(
                             cur, rss_mb, std::memory_order_relaxed)) {
  }
  cur = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(cur, cur + rss_mb,
                                     std::memory_order_relaxed)) {
  }
  count_.fetch_add(1, std::memory_order_release);
}

MemoryStats MemoryMonitor::GetStats() {
  MemoryStats stats;
  const absl::StatusOr<MemoryUsage> usage = Sample();
  if (usage.ok()) {
    stats.current_rss_mb = usage->rss_mb;
    stats.current_vms_mb = usage->vms_mb;
  }
  const uint64_t n = count_.load(std::memory_order_acquire);
  if (n == 0) return stats;
  const double sum = sum_.load(std::memory_order_relaxed);
  double lo = min_.load(std::memory_order_relaxed);
  double hi = max_.load(std::memory_order_relaxed);
  double avg = sum / static_cast<double>(n);
  if (!(lo <= hi) || !std::isfinite(lo) || !std::isfinite(hi) ||
      !std::isfinite(avg)) {
    // Only reachable when a Clear() landed between the loads above: the
    // aggregates are half-reset, so report the one value we know is real.
    const double v = usage.ok() ? usage->rss_mb : 0.0;
    lo = hi = avg = v;
  }
  // An in-flight Observe() can be in `sum` but not yet in `n`, nudging the
  // mean; clamping keeps the documented ordering invariant.
  stats.min_rss_mb = lo;
  stats.max_rss_mb = hi;
  stats.avg_rss_mb = std::clamp(avg, lo, hi);
  stats.samples = n;
  return stats;
}

std::vector<MemorySample> MemoryMonitor::History() const {
  absl::MutexLock lock(&mu_);
  std::vector<MemorySample> out;
  out.reserve(ring_.size());
  if (ring_.size() < max_history_) {
    // Not wrapped yet: insertion order is storage order.
    out = ring_;
  } else {
    out.insert(out.end(), ring_.begin() + static_cast<ptrdiff_t>(next_),
               ring_.end());
    out.insert(out.end(), ring_.begin(),
               ring_.begin() + static_cast<ptrdiff_t>(next_));
  }
  return out;
}

void MemoryMonitor::Clear() {
  absl::MutexLock lock(&mu_);
  ring_.clear();
  next_ = 0;
  ResetAggregates();
}

void MemoryMonitor::ResetAggregates() {
  // count_ first, so a concurrent GetStats() that still sees the old count
  // is the case handled by its fallback, and one that sees 0 returns early.
  count_.store(0, std::memory_order_relaxed);
  sum_.store(0.0, std::memory_order_relaxed);
  min_.store(std::numeric_limits<double>::infinity(),
             std::memory_order_relaxed);
  max_.store(-std::numeric_limits<double>::infinity(),
             std::memory_order_relaxed);
}

absl::StatusOr<SystemMemory> MemoryMonitor::ReadSystemMemory() {
  unsigned long total_kib = 0;
  unsigned long available_kib = 0;
  unsigned long free_kib = 0;
  {
    absl::MutexLock lock(&g_meminfo_mu);
    MeminfoContext ctx;
    const int rc = procps_meminfo_new(ctx.out());
    if (rc < 0) {
      return absl::ErrnoToStatus(-rc, "procps_meminfo_new(/proc/meminfo)");
    }
    // select() rather than one MEMINFO_GET per field: it returns all fields
    // from a single read of /proc/meminfo, so they are mutually consistent.
    enum meminfo_item items[] = {MEMINFO_MEM_TOTAL, MEMINFO_MEM_AVAILABLE,
                                 MEMINFO_MEM_FREE};
    errno = 0;
    meminfo_stack* stack = procps_meminfo_select(
        ctx.get(), items, static_cast<int>(sizeof(items) / sizeof(items[0])));
    if (stack == nullptr) {
      const int err = errno != 0 ? errno : EIO;
      return absl::ErrnoToStatus(err, "procps_meminfo_select(/proc/meminfo)");
    }
    total_kib = stack->head[0].result.ul_int;
    available_kib = stack->head[1].result.ul_int;
    free_kib = stack->head[2].result.ul_int;
  }
  if (total_kib == 0) {
    return absl::UnavailableError("/proc/meminfo reports MemTotal of 0");
  }
  // libproc2 already repairs available > total (seen in containers); the
  // clamp guards older versions so used_percent stays within [0, 100].
  available_kib = std::min(available_kib, total_kib);
  free_kib = std::min(free_kib, total_kib);

  SystemMemory mem;
  mem.total_mb = static_cast<double>(total_kib) / kKibPerMb;
  mem.available_mb = static_cast<double>(available_kib) / kKibPerMb;
  mem.free_mb = static_cast<double>(free_kib) / kKibPerMb;
  mem.used_mb = static_cast<double>(total_kib - available_kib) / kKibPerMb;
  mem.used_percent = 100.0 * static_cast<double>(total_kib - available_kib) /
                     static_cast<double>(total_kib);
  return mem;
}

double MemoryMonitor::MemoryDeltaMb(const MemoryUsage& start,
                                    const MemoryUsage& end) {
  return end.rss_mb - start.rss_mb;
}

}  // namespace ragperf

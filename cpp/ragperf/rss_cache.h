// Copyright 2026 The ragperf Authors.
//
// rss_cache.h
// -----------------------------------------------------------------------------
// The process's RSS as of at most `max_age_ns` ago. A read of
// /proc/self/statm costs 1.2–1.7 µs on these machines — more than a whole
// tracked block — so blocks that start or end within `max_age_ns` of the
// last read reuse it instead of reading again.
//
// Accuracy: a block's end is read afresh whenever the block (or the gap
// since the last read) lasted longer than `max_age_ns`, so a block of that
// length or more measures its own RSS change exactly, except that its start
// value may miss RSS changes of the `max_age_ns` before it began. Blocks
// shorter than `max_age_ns` may report 0. `max_age_ns == 0` reads every time
// (two reads per block: exact mode).
//
// Thread-safe and lock-free: RSS is a process-wide value and any recent
// reading is as good as another; the time of a reading is published with
// release/acquire so a fresh time never pairs with an older value. Reset in a
// fork child.
//
// Example:
//
//   int64_t rss = 0;
//   if (ragperf::RssCache::Instance().Get(ragperf::SteadyNowNanos(),
//                                          /*max_age_ns=*/100000, &rss)) {
//     ... rss is in bytes ...
//   }

#ifndef RAGPERF_RSS_CACHE_H_
#define RAGPERF_RSS_CACHE_H_

#include <atomic>
#include <cstdint>

namespace ragperf {

class RssCache {
 public:
  static RssCache& Instance();
  RssCache(const RssCache&) = delete;
  RssCache& operator=(const RssCache&) = delete;

  // Stores the RSS in bytes, reading /proc/self/statm only when the last read
  // happened more than `max_age_ns` before `now_ns` (steady clock). Returns
  // false when /proc cannot be read.
  bool Get(int64_t now_ns, int64_t max_age_ns, int64_t* rss_bytes);

  // Reads now regardless of age (and refreshes the cache).
  bool Refresh(int64_t now_ns, int64_t* rss_bytes);

  // How many times Get/Refresh actually read /proc (for tests and the
  // self-observability report).
  uint64_t reads() const { return reads_.load(std::memory_order_relaxed); }

  // Forgets the cached value (next Get reads).
  void Invalidate();

 private:
  RssCache();
  static void AtForkChild();

  std::atomic<int64_t> rss_bytes_{0};
  std::atomic<int64_t> read_at_ns_;
  std::atomic<uint64_t> reads_{0};
};

}  // namespace ragperf

#endif  // RAGPERF_RSS_CACHE_H_

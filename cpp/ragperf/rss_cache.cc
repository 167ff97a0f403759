// Copyright 2026 The ragperf Authors.

#include "ragperf/rss_cache.h"

#include <pthread.h>

#include <limits>

#include "ragperf/memory_monitor.h"

namespace ragperf {
namespace {
constexpr int64_t kNever = std::numeric_limits<int64_t>::min() / 2;
}  // namespace

RssCache::RssCache() : read_at_ns_(kNever) {
  // A child's RSS is not its parent's: force a fresh read after fork().
  pthread_atfork(nullptr, nullptr, &RssCache::AtForkChild);
}

RssCache& RssCache::Instance() {
  // Never destroyed: tracked blocks may end during static destruction.
  static RssCache* const instance = new RssCache();
  return *instance;
}

void RssCache::AtForkChild() { Instance().Invalidate(); }

void RssCache::Invalidate() {
  read_at_ns_.store(kNever, std::memory_order_relaxed);
}

bool RssCache::Refresh(int64_t now_ns, int64_t* rss_bytes) {
  int64_t rss = 0;
  if (!StatmReader::Instance().ReadRss(&rss)) return false;
  reads_.fetch_add(1, std::memory_order_relaxed);
  // Release/acquire pairs the value with its time: whoever sees the new time
  // sees this value or a newer one.
  rss_bytes_.store(rss, std::memory_order_relaxed);
  read_at_ns_.store(now_ns, std::memory_order_release);
  *rss_bytes = rss;
  return true;
}

bool RssCache::Get(int64_t now_ns, int64_t max_age_ns, int64_t* rss_bytes) {
  const int64_t read_at = read_at_ns_.load(std::memory_order_acquire);
  if (max_age_ns > 0 && now_ns - read_at <= max_age_ns && now_ns >= read_at) {
    *rss_bytes = rss_bytes_.load(std::memory_order_relaxed);
    return true;
  }
  return Refresh(now_ns, rss_bytes);
}

}  // namespace ragperf

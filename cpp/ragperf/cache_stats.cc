// Copyright 2026 The ragperf Authors.

#include "ragperf/cache_stats.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ragperf/utf8.h"

namespace ragperf {

absl::Status CacheStats::Record(absl::string_view name, bool hit,
                                uint64_t count) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("cache name must be 1 to ", kMaxNameLength,
                     " bytes, got '", Utf8Prefix(name, 40), "' (",
                     name.size(), ")"));
  }
  absl::MutexLock lock(&mu_);
  Counts& c = caches_[name];
  (hit ? c.hits : c.misses) += count;
  return absl::OkStatus();
}

CacheCounts CacheStats::Get(absl::string_view name) const {
  CacheCounts out;
  out.name = std::string(name);
  absl::MutexLock lock(&mu_);
  if (auto it = caches_.find(name); it != caches_.end()) {
    out.hits = it->second.hits;
    out.misses = it->second.misses;
  }
  return out;
}

std::vector<CacheCounts> CacheStats::GetAll() const {
  std::vector<CacheCounts> out;
  {
    absl::MutexLock lock(&mu_);
    out.reserve(caches_.size());
    for (const auto& [name, c] : caches_) {
      out.push_back(CacheCounts{name, c.hits, c.misses});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const CacheCounts& a, const CacheCounts& b) {
              return a.name < b.name;
            });
  return out;
}

void CacheStats::Clear() {
  absl::MutexLock lock(&mu_);
  caches_.clear();
}

}  // namespace ragperf

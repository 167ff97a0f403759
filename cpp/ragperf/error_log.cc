// Copyright 2026 The ragperf Authors.

#include "ragperf/error_log.h"

#include <utility>

#include "ragperf/utf8.h"

namespace ragperf {
namespace {

// Cuts `s` to at most `max_bytes` (plus "...") without splitting a
// UTF-8 sequence.
void TruncateUtf8(std::string& s, size_t max_bytes) {
  if (s.size() <= max_bytes) return;
  s.resize(Utf8Prefix(s, max_bytes).size());
  s += "...";
}

}  // namespace

void ErrorLog::Add(ErrorEntry entry) {
  TruncateUtf8(entry.message, kMaxMessageBytes);
  absl::MutexLock lock(&mu_);
  ring_.Push(std::move(entry));
}

std::vector<ErrorEntry> ErrorLog::Recent(size_t limit) const {
  absl::MutexLock lock(&mu_);
  return ring_.Newest(limit);
}

void ErrorLog::Clear() {
  absl::MutexLock lock(&mu_);
  ring_.Clear();
}

}  // namespace ragperf

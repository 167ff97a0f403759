// Copyright 2026 The ragperf Authors.

#include "ragperf/error_log.h"

#include <utility>

namespace ragperf {
namespace {

// Cuts `s` to at most `max_bytes` without splitting a UTF-8 sequence.
void TruncateUtf8(std::string& s, size_t max_bytes) {
  if (s.size() <= max_bytes) return;
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  s.resize(end);
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

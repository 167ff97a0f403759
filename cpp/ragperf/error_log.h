// Copyright 2026 The ragperf Authors.
//
// error_log.h
// -----------------------------------------------------------------------------
// The most recent failed operations (default 50): operation, exception type,
// message, wall-clock time, the operation's metadata (as JSON text) and its
// span ids. Messages are cut to kMaxMessageBytes so one huge exception text
// cannot hold memory. Thread-safe.
//
// Example:
//
//   ragperf::ErrorLog log(/*capacity=*/50);
//   ragperf::ErrorEntry e;
//   e.operation = "llm_inference";
//   e.error_type = "TimeoutError";
//   e.message = "upstream timed out";
//   log.Add(std::move(e));
//   log.Recent(10);  // oldest first

#ifndef RAGPERF_ERROR_LOG_H_
#define RAGPERF_ERROR_LOG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "ragperf/ring_buffer.h"

namespace ragperf {

struct ErrorEntry {
  std::string operation;
  std::string error_type;
  std::string message;
  double timestamp_s = 0;
  double duration_s = 0;
  std::string model;
  std::string metadata_json;  // a JSON object, or empty for none
  uint64_t span_id = 0;
  uint64_t trace_id = 0;
};

class ErrorLog {
 public:
  static constexpr size_t kDefaultCapacity = 50;
  static constexpr size_t kMaxMessageBytes = 1000;

  explicit ErrorLog(size_t capacity = kDefaultCapacity) : ring_(capacity) {}
  ErrorLog(const ErrorLog&) = delete;
  ErrorLog& operator=(const ErrorLog&) = delete;

  void Add(ErrorEntry entry) ABSL_LOCKS_EXCLUDED(mu_);
  // Up to `limit` newest entries, oldest first.
  std::vector<ErrorEntry> Recent(size_t limit) const ABSL_LOCKS_EXCLUDED(mu_);
  size_t capacity() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return ring_.capacity();
  }
  void Clear() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  RingBuffer<ErrorEntry> ring_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ragperf

#endif  // RAGPERF_ERROR_LOG_H_

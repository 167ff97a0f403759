// Copyright 2026 The ragperf Authors.
//
// operation_cap.h
// -----------------------------------------------------------------------------
// Bounds the number of distinct operation names a monitor keeps statistics
// for. Every name costs a few kilobytes per shard that touches it (sketch,
// windows, recent ring), so a program that builds names from unbounded data
// (a user id, a URL) would grow without limit. The first `max_operations`
// distinct names get their own statistics; every later new name is recorded
// as the single operation `__other__` (kOverflowOperation), and the first
// such name triggers the overflow callback once per cap (the Python binding
// logs one warning on the `ragperf` logger).
//
// Only the first use of a name reaches this class (the Python hot path caches
// name -> id), so a known name never pays for the cap. The count covers the
// monitor's lifetime: names, like ids, survive Clear().
//
// Example:
//
//   ragperf::ResponseTimeTracker tracker;
//   ragperf::OperationCap cap(/*max_operations=*/2);
//   cap.Intern(tracker, "a");                 // own id
//   cap.Intern(tracker, "b");                 // own id
//   int id = cap.Intern(tracker, "c");        // the id of "__other__"
//   // cap.overflow_names() == 1

#ifndef RAGPERF_OPERATION_CAP_H_
#define RAGPERF_OPERATION_CAP_H_

#include <cstddef>
#include <cstdint>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "ragperf/overflow_name.h"
#include "ragperf/response_time_tracker.h"

namespace ragperf {

inline constexpr absl::string_view kOverflowOperation = kOverflowName;

class OperationCap {
 public:
  static constexpr size_t kDefaultMaxOperations = 1000;
  // Called once, with the first name that overflowed and the cap, outside
  // every ragperf lock.
  using OverflowCallback = std::function<void(absl::string_view, size_t)>;

  explicit OperationCap(size_t max_operations = kDefaultMaxOperations)
      : max_operations_(max_operations) {}

  // The id `name` records under: its own, or kOverflowOperation's.
  int Intern(ResponseTimeTracker& tracker, absl::string_view name)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The id of kOverflowOperation once a name overflowed, else -1.
  int overflow_id() const ABSL_LOCKS_EXCLUDED(mu_);
  // New names sent to kOverflowOperation so far.
  uint64_t overflow_names() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t max_operations() const { return max_operations_; }
  void SetOverflowCallback(OverflowCallback callback) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const size_t max_operations_;
  mutable absl::Mutex mu_;
  size_t own_names_ ABSL_GUARDED_BY(mu_) = 0;
  int overflow_id_ ABSL_GUARDED_BY(mu_) = -1;
  uint64_t overflow_names_ ABSL_GUARDED_BY(mu_) = 0;
  OverflowCallback callback_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ragperf

#endif  // RAGPERF_OPERATION_CAP_H_

// Copyright 2026 The ragperf Authors.

#include "ragperf/operation_cap.h"

#include <utility>

namespace ragperf {

int OperationCap::Intern(ResponseTimeTracker& tracker, absl::string_view name) {
  const int known = tracker.FindId(name);
  if (known >= 0) return known;
  OverflowCallback notify;
  int id = -1;
  {
    absl::MutexLock lock(&mu_);
    // Another thread may have added it since FindId.
    id = tracker.FindId(name);
    if (id >= 0) return id;
    if (own_names_ < max_operations_) {
      ++own_names_;
      return tracker.Intern(name);
    }
    if (overflow_id_ < 0) overflow_id_ = tracker.Intern(kOverflowOperation);
    id = overflow_id_;
    if (overflow_names_++ == 0) notify = callback_;
  }
  // Outside the lock: the callback may take the GIL, which another thread
  // holding it could be waiting on this lock with.
  if (notify) notify(name, max_operations_);
  return id;
}

int OperationCap::overflow_id() const {
  absl::MutexLock lock(&mu_);
  return overflow_id_;
}

uint64_t OperationCap::overflow_names() const {
  absl::MutexLock lock(&mu_);
  return overflow_names_;
}

void OperationCap::SetOverflowCallback(OverflowCallback callback) {
  absl::MutexLock lock(&mu_);
  callback_ = std::move(callback);
}

}  // namespace ragperf

// Copyright 2026 The ragperf Authors.
//
// fork_gate.h
// -----------------------------------------------------------------------------
// Makes fork() safe while other threads are inside ragperf: a child must
// never inherit a lock held by a thread that does not exist in it.
//
// Two mechanisms, both driven by one set of pthread_atfork handlers:
//
//  * The gate. Every PerformanceMonitor call that reads or clears the shared
//    statistics (stats, reports, exports, health, Clear) runs inside a
//    `ForkGate::Reader`. The prepare handler closes the gate and waits until
//    no reader is inside, so no such call holds a shard or table lock while
//    the process forks. Readers nest (a thread-local depth), so a report that
//    calls GetAllStats() does not wait for itself.
//  * Participants. An object with locks of its own that a background thread
//    takes (ResourceSampler) registers a `ForkParticipant`; prepare locks it
//    after closing the gate, the parent unlocks it, and the child unlocks
//    and re-initialises its locks (waiters queued on them in the parent are
//    threads that do not exist in the child).
//
// Not covered: a thread recording (PerformanceMonitor::Record) at the instant
// of fork() in a C++ program that records without any outer lock. In Python
// every record runs under the GIL, which os.fork() holds, so no other thread
// can be inside Record when the process forks. docs/reliability.md says more.
//
// Example:
//
//   ragperf::OperationStats Read(const ragperf::ResponseTimeTracker& t) {
//     ragperf::ForkGate::Reader reader;  // fork() waits until this returns
//     return t.GetStats("llm_inference");
//   }

#ifndef RAGPERF_FORK_GATE_H_
#define RAGPERF_FORK_GATE_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace ragperf {

// Something with locks that fork() must not split. Lock order: participants
// are prepared in registration order and released in reverse.
class ForkParticipant {
 public:
  virtual ~ForkParticipant() = default;
  // Takes every lock of the object (the process is about to fork).
  virtual void PrepareFork() = 0;
  // Releases them in the parent.
  virtual void ParentAfterFork() = 0;
  // In the child: leaves every lock unlocked with no waiters, and forgets
  // threads that only exist in the parent.
  virtual void ChildAfterFork() = 0;
};

// For ChildAfterFork (the child has one thread): unlocks `mu`, which this
// thread locked in PrepareFork, as a mutex with no waiters. Threads queued
// on `mu` in the parent do not exist in the child, and one of them may have
// held the mutex word's spin bit when fork() ran, which no thread of the
// child will ever clear: a plain Unlock() would spin on it forever (seen in
// about 1 fork in 1,000 of ForkGateTest.ForkWhileThreadsReportExportClearAndSample).
// The word is first set to "held by a writer, nothing else" (the value a
// lone Lock() leaves, read once in the parent), so Unlock() takes its fast
// path and abseil's per-thread record of held locks stays right.
//
// Example (in a participant's ChildAfterFork):
//   ReleaseHeldMutexInChild(&mu_);
void ReleaseHeldMutexInChild(absl::Mutex* mu) ABSL_UNLOCK_FUNCTION(mu);

class ForkGate {
 public:
  // RAII: a section that fork() waits for. Cheap (one uncontended lock) and
  // re-entrant on the same thread.
  class Reader {
   public:
    Reader();
    ~Reader();
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;
  };

  // `p` must stay valid until Unregister; registration installs the
  // pthread_atfork handlers on first use.
  static void Register(ForkParticipant* p);
  static void Unregister(ForkParticipant* p);

  // How many fork()s the prepare handler has seen (tests and diagnostics).
  static uint64_t forks();
};

}  // namespace ragperf

#endif  // RAGPERF_FORK_GATE_H_

// Copyright 2026 The ragperf Authors.

#include "ragperf/fork_gate.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"


namespace ragperf {
namespace {

struct GateState {
  absl::Mutex mu;
  int active ABSL_GUARDED_BY(mu) = 0;  // threads inside a Reader
  bool forking ABSL_GUARDED_BY(mu) = false;
  std::vector<ForkParticipant*> participants ABSL_GUARDED_BY(mu);
  std::atomic<uint64_t> forks{0};

  int forker_reads ABSL_GUARDED_BY(mu) = 0;  // 1 if fork() runs in a Reader

  bool Open() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return !forking; }
  bool Drained() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return active <= forker_reads;
  }
};

// Readers nested on this thread; only the outermost one counts in `active`.
thread_local int tl_depth = 0;

void Prepare();
void Parent();
void Child();

// The word of an absl::Mutex held by one writer with no waiters, read from
// a lone Lock() (in the parent: never computed in a fork child).
intptr_t ReadHeldWord() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  absl::Mutex probe;
  probe.Lock();
  const intptr_t word =
      reinterpret_cast<std::atomic<intptr_t>*>(&probe)->load(std::memory_order_relaxed);
  probe.Unlock();
  return word;
}

intptr_t HeldWord() {
  static const intptr_t word = ReadHeldWord();
  return word;
}

GateState& State() {
  // Never destroyed: a fork or a report may happen during static destruction.
  static GateState* const state = [] {
    auto* s = new GateState();
    (void)HeldWord();  // before any fork
    pthread_atfork(&Prepare, &Parent, &Child);
    return s;
  }();
  return *state;
}

// The gate's mutex is held from Prepare to Parent/Child, across fork().
void Prepare() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  GateState& s = State();
  s.mu.Lock();
  s.forking = true;
  // A fork from inside a Reader (a callback) must not wait for itself.
  s.forker_reads = tl_depth > 0 ? 1 : 0;
  s.mu.Await(absl::Condition(&s, &GateState::Drained));
  for (ForkParticipant* p : s.participants) p->PrepareFork();
  s.forks.fetch_add(1, std::memory_order_relaxed);
}

void Parent() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  GateState& s = State();
  for (auto it = s.participants.rbegin(); it != s.participants.rend(); ++it) {
    (*it)->ParentAfterFork();
  }
  s.forking = false;
  s.mu.Unlock();
}

void Child() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  GateState& s = State();
  for (auto it = s.participants.rbegin(); it != s.participants.rend(); ++it) {
    (*it)->ChildAfterFork();
  }
  // Only this thread exists now: readers of other threads are gone.
  s.active = s.forker_reads;
  s.forking = false;
  // Threads queued on the gate in the parent are still listed as waiters in
  // the mutex word (and one may have held its spin bit).
  ReleaseHeldMutexInChild(&s.mu);
}

}  // namespace

void ReleaseHeldMutexInChild(absl::Mutex* mu) {
  static_assert(sizeof(absl::Mutex) == sizeof(std::atomic<intptr_t>),
                "absl::Mutex is expected to be one atomic word");
  reinterpret_cast<std::atomic<intptr_t>*>(mu)->store(HeldWord(),
                                                      std::memory_order_relaxed);
  mu->Unlock();
}

ForkGate::Reader::Reader() {
  if (tl_depth++ > 0) return;
  GateState& s = State();
  s.mu.LockWhen(absl::Condition(&s, &GateState::Open));
  ++s.active;
  s.mu.Unlock();
}

ForkGate::Reader::~Reader() {
  if (--tl_depth > 0) return;
  GateState& s = State();
  absl::MutexLock lock(&s.mu);
  --s.active;
}

void ForkGate::Register(ForkParticipant* p) {
  GateState& s = State();
  absl::MutexLock lock(&s.mu);
  s.participants.push_back(p);
}

void ForkGate::Unregister(ForkParticipant* p) {
  GateState& s = State();
  absl::MutexLock lock(&s.mu);
  auto& v = s.participants;
  v.erase(std::remove(v.begin(), v.end(), p), v.end());
}

uint64_t ForkGate::forks() {
  return State().forks.load(std::memory_order_relaxed);
}

}  // namespace ragperf

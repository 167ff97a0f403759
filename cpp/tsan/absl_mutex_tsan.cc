// Copyright 2026 The ragperf Authors.
//
// absl_mutex_tsan.cc — compiled only into ThreadSanitizer builds.
// -----------------------------------------------------------------------------
// Debian's libabsl_synchronization.so is not built with -fsanitize=thread, so
// TSan never sees absl::Mutex being locked and reports every access to data
// the mutex guards as a race. A TSan build of abseil announces each lock and
// unlock with the __tsan_mutex_* annotations; this file does the same from
// outside: it defines the absl::Mutex / absl::CondVar entry points ragperf
// uses, so the executable's definitions interpose the shared library's (ELF
// symbol interposition), announces the operation to TSan, and calls the real
// function found with dlsym(RTLD_NEXT).
//
// Nothing is suppressed: TSan still checks every access in ragperf and the
// tests; it now knows which mutex each thread holds. Inside the real absl
// call TSan ignores memory accesses (pre_lock/pre_unlock begin an ignore
// region), exactly as abseil's own TSan build does, because absl evaluates
// Conditions (ragperf code) while it holds the lock internally.
//
// Waits that release the mutex inside (Await*, CondVar::Wait*) are announced
// as unlock before the call and lock after it.

#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace {

#define RAGPERF_STR2(x) #x
#define RAGPERF_STR(x) RAGPERF_STR2(x)

// "_ZN4absl" plus abseil's inline namespace (Debian: "debian3"), so the
// names below follow whatever abseil this is built against.
std::string AbslPrefix() {
  std::string prefix = "_ZN4absl";
#if ABSL_OPTION_USE_INLINE_NAMESPACE
  const std::string ns = RAGPERF_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  prefix += std::to_string(ns.size()) + ns;
#endif
  return prefix;
}

// The next definition after this executable of the absl function whose
// mangled name is AbslPrefix() + `suffix`: the real one.
template <typename Fn>
Fn RealFn(const char* suffix) {
  const std::string mangled = AbslPrefix() + suffix;
  void* f = dlsym(RTLD_NEXT, mangled.c_str());
  if (f == nullptr) {
    std::fprintf(stderr, "absl_mutex_tsan: %s not found\n", mangled.c_str());
    std::abort();
  }
  return reinterpret_cast<Fn>(f);
}

using MutexFn = void (*)(absl::Mutex*);
using MutexBoolFn = bool (*)(absl::Mutex*);
using CondFn = void (*)(absl::Mutex*, const absl::Condition&);
using CondTimeoutFn = bool (*)(absl::Mutex*, const absl::Condition&,
                               absl::Duration);
using CondDeadlineFn = bool (*)(absl::Mutex*, const absl::Condition&,
                                absl::Time);
using WaitFn = void (*)(absl::CondVar*, absl::Mutex*);
using WaitTimeoutFn = bool (*)(absl::CondVar*, absl::Mutex*, absl::Duration);
using WaitDeadlineFn = bool (*)(absl::CondVar*, absl::Mutex*, absl::Time);

// > 0 while this thread is inside a real absl call: absl's own calls to its
// public functions (WaitWithTimeout calls WaitWithDeadline) reach the
// definitions below too, and must not be announced twice.
thread_local int tl_inside_absl = 0;

struct InsideAbsl {
  InsideAbsl() { ++tl_inside_absl; }
  ~InsideAbsl() { --tl_inside_absl; }
};

// Declares `real`; calls from inside abseil go straight to it.
#define RAGPERF_REAL(type, name, ...)                  \
  static const type real = RealFn<type>(name);         \
  if (tl_inside_absl > 0) return real(__VA_ARGS__);    \
  InsideAbsl inside_absl

template <typename Body>
void Acquire(void* mu, unsigned flags, const Body& body) {
  __tsan_mutex_pre_lock(mu, flags);
  body();
  __tsan_mutex_post_lock(mu, flags, 0);
}

template <typename Body>
void Release(void* mu, unsigned flags, const Body& body) {
  __tsan_mutex_pre_unlock(mu, flags);
  body();
  __tsan_mutex_post_unlock(mu, flags);
}

// A call that releases `mu` inside and holds it again when it returns.
template <typename R, typename Body>
R ReleaseAround(void* mu, unsigned flags, const Body& body) {
  __tsan_mutex_pre_unlock(mu, flags);
  R r = body();
  __tsan_mutex_post_unlock(mu, flags);
  __tsan_mutex_pre_lock(mu, flags);
  __tsan_mutex_post_lock(mu, flags, 0);
  return r;
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

Mutex::~Mutex() {
  static const MutexFn real = RealFn<MutexFn>("5MutexD1Ev");
  __tsan_mutex_destroy(this, 0);
  real(this);
}

void Mutex::Lock() {
  RAGPERF_REAL(MutexFn, "5Mutex4LockEv", this);
  Acquire(this, 0, [&] { real(this); });
}

void Mutex::ReaderLock() {
  RAGPERF_REAL(MutexFn, "5Mutex10ReaderLockEv", this);
  Acquire(this, __tsan_mutex_read_lock, [&] { real(this); });
}

void Mutex::Unlock() {
  RAGPERF_REAL(MutexFn, "5Mutex6UnlockEv", this);
  Release(this, 0, [&] { real(this); });
}

void Mutex::ReaderUnlock() {
  RAGPERF_REAL(MutexFn, "5Mutex12ReaderUnlockEv", this);
  Release(this, __tsan_mutex_read_lock, [&] { real(this); });
}

bool Mutex::TryLock() {
  RAGPERF_REAL(MutexBoolFn, "5Mutex7TryLockEv", this);
  __tsan_mutex_pre_lock(this, __tsan_mutex_try_lock);
  const bool ok = real(this);
  __tsan_mutex_post_lock(
      this, __tsan_mutex_try_lock | (ok ? 0 : __tsan_mutex_try_lock_failed), 0);
  return ok;
}

void Mutex::LockWhen(const Condition& cond) {
  RAGPERF_REAL(CondFn,
               "5Mutex8LockWhenERKNS0_9ConditionE", this, cond);
  Acquire(this, 0, [&] { real(this, cond); });
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  RAGPERF_REAL(CondFn,
               "5Mutex14ReaderLockWhenERKNS0_9ConditionE", this, cond);
  Acquire(this, __tsan_mutex_read_lock, [&] { real(this, cond); });
}

void Mutex::Await(const Condition& cond) {
  RAGPERF_REAL(CondFn, "5Mutex5AwaitERKNS0_9ConditionE", this, cond);
  ReleaseAround<int>(this, 0, [&] {
    real(this, cond);
    return 0;
  });
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  RAGPERF_REAL(
      CondTimeoutFn,
      "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE", this, cond, timeout);
  return ReleaseAround<bool>(this, 0, [&] { return real(this, cond, timeout); });
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  RAGPERF_REAL(
      CondDeadlineFn,
      "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE", this, cond, deadline);
  return ReleaseAround<bool>(this, 0,
                             [&] { return real(this, cond, deadline); });
}

void CondVar::Wait(Mutex* mu) {
  RAGPERF_REAL(WaitFn, "7CondVar4WaitEPNS0_5MutexE", this, mu);
  ReleaseAround<int>(mu, 0, [&] {
    real(this, mu);
    return 0;
  });
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  RAGPERF_REAL(WaitTimeoutFn,
               "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_"
               "8DurationE", this, mu, timeout);
  return ReleaseAround<bool>(mu, 0, [&] { return real(this, mu, timeout); });
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  RAGPERF_REAL(WaitDeadlineFn,
               "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_"
               "4TimeE", this, mu, deadline);
  return ReleaseAround<bool>(mu, 0, [&] { return real(this, mu, deadline); });
}

ABSL_NAMESPACE_END
}  // namespace absl

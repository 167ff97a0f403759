// Copyright 2026 The ragperf Authors.
//
// Stress sizes for tests that also run under sanitizers: the plain build runs
// the full size, an instrumented build (5-20x slower per record) a tenth.

#ifndef RAGPERF_TESTS_SANITIZER_SCALE_H_
#define RAGPERF_TESTS_SANITIZER_SCALE_H_

namespace ragperf::testing {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

#if defined(__SANITIZE_THREAD__)
inline constexpr bool kThreadSanitized = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool kThreadSanitized = true;
#else
inline constexpr bool kThreadSanitized = false;
#endif
#else
inline constexpr bool kThreadSanitized = false;
#endif

// `full` in a plain build, full / 10 under ASan or TSan.
constexpr long Scaled(long full) { return kSanitized ? full / 10 : full; }

}  // namespace ragperf::testing

#endif  // RAGPERF_TESTS_SANITIZER_SCALE_H_

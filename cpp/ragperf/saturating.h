// Copyright 2026 The ragperf Authors.
//
// saturating.h — integer addition that saturates instead of overflowing:
// token totals must never wrap to a negative number (signed overflow is
// undefined behaviour, and a wrapped total would be a silent wrong number).
//
// Example:
//
//   int64_t total = ragperf::SaturatingAdd(prompt_tokens, completion_tokens);

#ifndef RAGPERF_SATURATING_H_
#define RAGPERF_SATURATING_H_

#include <cstdint>
#include <limits>

namespace ragperf {

inline int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t sum;
  if (__builtin_add_overflow(a, b, &sum)) {
    return b > 0 ? std::numeric_limits<int64_t>::max()
                 : std::numeric_limits<int64_t>::min();
  }
  return sum;
}

}  // namespace ragperf

#endif  // RAGPERF_SATURATING_H_

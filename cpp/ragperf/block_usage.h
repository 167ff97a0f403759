// Copyright 2026 The ragperf Authors.
//
// block_usage.h
// -----------------------------------------------------------------------------
// The token bookkeeping of one timed block: the counts its code sets
// (op.tokens, op.prompt_tokens, op.completion_tokens), the counts a response
// reports (op.set_usage(response): sets, never adds), and a stream's tokens
// as they arrive (op.add_tokens(n): completion tokens, the time to the first
// token and the gap since the previous call). The total is what was set, or
// prompt + completion when it never was.
//
// A plain value type (no allocation, trivially copyable), embedded in the
// binding's tracker object; thread-compatible.
//
// Example:
//
//   ragperf::BlockUsage usage;
//   usage.prompt_tokens = 100;
//   usage.AddTokens(1, /*now_ns=*/5'000);       // first token at 5 us
//   double gap = usage.AddTokens(2, 9'000);     // 4e-6 s since the last
//   // usage.completion_tokens == 3, usage.Total() == 103

#ifndef RAGPERF_BLOCK_USAGE_H_
#define RAGPERF_BLOCK_USAGE_H_

#include <algorithm>
#include <cstdint>

#include "ragperf/saturating.h"

namespace ragperf {

struct BlockUsage {
  int64_t tokens = 0;  // meaningful when tokens_set
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  bool tokens_set = false;
  int64_t first_token_ns = 0;  // steady clock; 0 = no token yet
  int64_t last_token_ns = 0;   // the previous AddTokens() call; 0 = none

  // The block's total: the one set, else prompt + completion (saturating).
  int64_t Total() const {
    return tokens_set ? tokens : SaturatingAdd(prompt_tokens, completion_tokens);
  }
  void SetTotal(int64_t total) {
    tokens = total;
    tokens_set = true;
  }
  // A response's usage: replaces all three counts.
  void SetUsage(int64_t prompt, int64_t completion, int64_t total) {
    prompt_tokens = prompt;
    completion_tokens = completion;
    SetTotal(total);
  }

  // The first token arrived at `now_ns` (a later call keeps the first).
  void MarkFirstToken(int64_t now_ns) {
    if (first_token_ns == 0) first_token_ns = now_ns;
  }
  // `n` completion tokens arrived at `now_ns`; the total follows when it was
  // set. Returns the seconds since the previous call with n > 0, or -1 for
  // the first (and for n == 0, which changes nothing).
  double AddTokens(int64_t n, int64_t now_ns) {
    if (n == 0) return -1;
    MarkFirstToken(now_ns);
    const double gap = last_token_ns != 0
                           ? static_cast<double>(now_ns - last_token_ns) * 1e-9
                           : -1;
    last_token_ns = now_ns;
    completion_tokens = SaturatingAdd(completion_tokens, n);
    if (tokens_set) tokens = SaturatingAdd(tokens, n);
    return gap;
  }
  bool has_first_token() const { return first_token_ns != 0; }
  // Seconds from `start_ns` to the first token (0 if it came "before").
  double TimeToFirstTokenS(int64_t start_ns) const {
    return static_cast<double>(std::max<int64_t>(0, first_token_ns - start_ns)) *
           1e-9;
  }
  // A block entered again starts a new stream (the counts stay).
  void RestartStream() { first_token_ns = last_token_ns = 0; }
};

}  // namespace ragperf

#endif  // RAGPERF_BLOCK_USAGE_H_

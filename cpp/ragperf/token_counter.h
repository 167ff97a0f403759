// Copyright 2024 The ragperf Authors.
//
// token_counter.h
// -----------------------------------------------------------------------------
//
// Cheap, tokenizer-free token estimates for RAG prompts and completions. The
// estimate follows the common "about four characters per token" rule of thumb
// for English text. It deliberately does not depend on any model's vocabulary,
// so it is only useful for relative comparisons and rough budgeting, not for
// billing or context-window enforcement.
//
// "Characters" are Unicode code points, so multibyte text (accented Latin,
// CJK, emoji) is not over-counted the way a byte count would be.
//
// Example:
//
//   int64_t cp = ragperf::CountCodePoints("h\xc3\xa9llo");      // 5
//   int64_t t = ragperf::EstimateTokens("Hello world");         // 3
//   std::vector<absl::string_view> docs = {"abcd", "abcde"};
//   int64_t total = ragperf::EstimateTokensBatch(docs);         // 1 + 2 = 3
//
// All functions are pure and thread-safe.

#ifndef RAGPERF_TOKEN_COUNTER_H_
#define RAGPERF_TOKEN_COUNTER_H_

#include <cstdint>
#include <vector>

#include "absl/strings/string_view.h"

namespace ragperf {

// The rule-of-thumb ratio used by `EstimateTokens()`.
inline constexpr int kCharsPerToken = 4;

// CountCodePoints()
//
// Returns the number of Unicode code points in `utf8`, computed as the number
// of bytes that are not UTF-8 continuation bytes (0b10xxxxxx). The input is
// not validated, and malformed input never crashes; it is counted as follows:
//
//   * a stray continuation byte (0x80-0xBF) adds 0;
//   * any other byte (including invalid lead bytes 0xC0, 0xC1, 0xF5-0xFF and
//     the lead byte of a truncated sequence) adds 1;
//   * overlong encodings and encoded surrogates count as one code point each.
//
// For valid UTF-8 this equals Python's `len(s)` on the decoded string.
int64_t CountCodePoints(absl::string_view utf8);

// EstimateTokens()
//
// Returns 0 for empty input, otherwise
// `ceil(CountCodePoints(utf8) / kCharsPerToken)`. Note that non-empty input
// consisting only of stray continuation bytes has 0 code points and so also
// estimates to 0 tokens.
int64_t EstimateTokens(absl::string_view utf8);

// EstimateTokensBatch()
//
// Returns the sum of `EstimateTokens()` over `texts` (each text is rounded up
// separately, so this is not the estimate of the concatenation).
int64_t EstimateTokensBatch(const std::vector<absl::string_view>& texts);

}  // namespace ragperf

#endif  // RAGPERF_TOKEN_COUNTER_H_

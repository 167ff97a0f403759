// Copyright 2024 The ragperf Authors.

#include "ragperf/token_counter.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/strings/string_view.h"

namespace ragperf {
namespace {

constexpr uint64_t kHighBits = 0x8080808080808080ULL;
constexpr uint64_t kLowBits = 0x0101010101010101ULL;

// Number of continuation bytes (0b10xxxxxx) in the 8 bytes of `w`. The test is
// done for all eight bytes at once: shifting left by one moves each byte's
// bit 6 into its bit 7 position, so `w & ~(w << 1)` has bit 7 set exactly
// where bit 7 is 1 and bit 6 is 0. The bit carried across a byte boundary
// lands in bit 0 and is masked off, which also makes this endian-neutral.
inline uint64_t ContinuationBytesInWord(uint64_t w) {
  const uint64_t cont = w & ~(w << 1) & kHighBits;
  // Each byte of (cont >> 7) is 0 or 1; the multiply sums all bytes into the
  // top byte (at most 8, so no carry between bytes). This avoids relying on a
  // hardware popcount, which the baseline x86-64 target does not have.
  return ((cont >> 7) * kLowBits) >> 56;
}

inline bool IsContinuationByte(unsigned char c) { return (c & 0xC0) == 0x80; }

}  // namespace

int64_t CountCodePoints(absl::string_view utf8) {
  const char* p = utf8.data();
  size_t n = utf8.size();
  // Counting what to subtract keeps the hot loop to a load, four ALU ops and
  // an add, and the result is exact for any byte sequence.
  uint64_t continuation = 0;
  while (n >= sizeof(uint64_t)) {
    uint64_t w;
    std::memcpy(&w, p, sizeof(w));  // No alignment or aliasing assumptions.
    continuation += ContinuationBytesInWord(w);
    p += sizeof(w);
    n -= sizeof(w);
  }
  for (; n > 0; ++p, --n) {
    continuation += IsContinuationByte(static_cast<unsigned char>(*p)) ? 1 : 0;
  }
  return static_cast<int64_t>(utf8.size() - continuation);
}

int64_t EstimateTokens(absl::string_view utf8) {
  if (utf8.empty()) return 0;
  const int64_t cp = CountCodePoints(utf8);
  return (cp + kCharsPerToken - 1) / kCharsPerToken;
}

int64_t EstimateTokensBatch(const std::vector<absl::string_view>& texts) {
  int64_t total = 0;
  for (absl::string_view text : texts) total += EstimateTokens(text);
  return total;
}

}  // namespace ragperf

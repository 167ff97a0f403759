// Copyright 2024 The ragperf Authors.

#include "ragperf/token_counter.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace ragperf {
namespace {

// Byte-at-a-time definition the word-at-a-time implementation must agree with.
int64_t NaiveCodePoints(absl::string_view s) {
  int64_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

TEST(CountCodePointsTest, Ascii) {
  EXPECT_EQ(CountCodePoints(""), 0);
  EXPECT_EQ(CountCodePoints("a"), 1);
  EXPECT_EQ(CountCodePoints("Hello world"), 11);
}

TEST(CountCodePointsTest, MultibyteCountsCodePointsNotBytes) {
  const std::string e_acute = "h\xC3\xA9llo";  // héllo
  EXPECT_EQ(e_acute.size(), 6u);
  EXPECT_EQ(CountCodePoints(e_acute), 5);

  const std::string chinese = "\xE4\xBD\xA0\xE5\xA5\xBD\xE4\xB8\x96\xE7\x95\x8C";  // 你好世界
  EXPECT_EQ(chinese.size(), 12u);
  EXPECT_EQ(CountCodePoints(chinese), 4);

  const std::string emoji = "\xF0\x9F\x98\x80\xF0\x9F\x9A\x80";  // 😀🚀
  EXPECT_EQ(emoji.size(), 8u);
  EXPECT_EQ(CountCodePoints(emoji), 2);

  const std::string mixed = "a\xC3\xA9\xE4\xBD\xA0\xF0\x9F\x98\x80z";  // aé你😀z
  EXPECT_EQ(CountCodePoints(mixed), 5);
}

TEST(CountCodePointsTest, InvalidUtf8IsCountedAsDocumented) {
  // Stray continuation bytes count 0.
  EXPECT_EQ(CountCodePoints("\x80"), 0);
  EXPECT_EQ(CountCodePoints("\x80\xBF\x80\xBF\x80\xBF\x80\xBF\x80"), 0);
  // Truncated sequence: the lead byte counts 1.
  EXPECT_EQ(CountCodePoints("a\xE4\xBD"), 2);
  // Invalid lead bytes count 1 each.
  EXPECT_EQ(CountCodePoints("\xC0\xC1\xF5\xFE\xFF"), 5);
  // Embedded NUL is an ordinary code point.
  EXPECT_EQ(CountCodePoints(absl::string_view("a\0b", 3)), 3);
}

TEST(CountCodePointsTest, MatchesNaiveOnRandomBytesAtEveryLengthAndOffset) {
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> byte(0, 255);
  std::string buf(200, '\0');
  for (char& c : buf) c = static_cast<char>(byte(rng));
  // Every (offset, length) pair exercises misaligned starts and every tail
  // length of the word loop.
  for (size_t off = 0; off < 16; ++off) {
    for (size_t len = 0; off + len <= buf.size(); ++len) {
      absl::string_view s(buf.data() + off, len);
      ASSERT_EQ(CountCodePoints(s), NaiveCodePoints(s))
          << "off=" << off << " len=" << len;
    }
  }
}

TEST(CountCodePointsTest, AllByteValues) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  EXPECT_EQ(CountCodePoints(all), 256 - 64);
}

TEST(EstimateTokensTest, RoundsUpFourCharsPerToken) {
  EXPECT_EQ(kCharsPerToken, 4);
  EXPECT_EQ(EstimateTokens(""), 0);
  EXPECT_EQ(EstimateTokens("a"), 1);
  EXPECT_EQ(EstimateTokens("abcd"), 1);
  EXPECT_EQ(EstimateTokens("abcde"), 2);
  EXPECT_EQ(EstimateTokens("abcdefgh"), 2);
  EXPECT_EQ(EstimateTokens("Hello world"), 3);
}

TEST(EstimateTokensTest, MultibyteUsesCodePoints) {
  EXPECT_EQ(EstimateTokens("h\xC3\xA9llo"), 2);  // 5 code points, 6 bytes
  // 4 CJK code points = 12 bytes; by bytes this would be 3 tokens.
  EXPECT_EQ(EstimateTokens("\xE4\xBD\xA0\xE5\xA5\xBD\xE4\xB8\x96\xE7\x95\x8C"), 1);
  // 2 emoji = 8 bytes; by bytes this would be 2 tokens.
  EXPECT_EQ(EstimateTokens("\xF0\x9F\x98\x80\xF0\x9F\x9A\x80"), 1);
}

TEST(EstimateTokensTest, OnlyContinuationBytesIsZero) {
  EXPECT_EQ(EstimateTokens("\x80\x80\x80"), 0);
}

TEST(EstimateTokensTest, LongText) {
  const std::string ascii(1000001, 'x');
  EXPECT_EQ(CountCodePoints(ascii), 1000001);
  EXPECT_EQ(EstimateTokens(ascii), 250001);

  std::string cjk;
  for (int i = 0; i < 100000; ++i) cjk += "\xE4\xBD\xA0";
  EXPECT_EQ(CountCodePoints(cjk), 100000);
  EXPECT_EQ(EstimateTokens(cjk), 25000);
}

TEST(EstimateTokensBatchTest, SumsPerTextEstimates) {
  EXPECT_EQ(EstimateTokensBatch({}), 0);
  const std::vector<absl::string_view> texts = {"", "abcd", "abcde",
                                                "Hello world", "h\xC3\xA9llo"};
  int64_t expected = 0;
  for (absl::string_view t : texts) expected += EstimateTokens(t);
  EXPECT_EQ(expected, 0 + 1 + 2 + 3 + 2);
  EXPECT_EQ(EstimateTokensBatch(texts), expected);
  // Rounding is per text, not of the concatenation.
  EXPECT_EQ(EstimateTokensBatch({"a", "a", "a", "a"}), 4);
}

}  // namespace
}  // namespace ragperf

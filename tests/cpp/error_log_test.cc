// Copyright 2026 The ragperf Authors.

#include "ragperf/error_log.h"

#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace ragperf {
namespace {

ErrorEntry Entry(const std::string& operation, const std::string& message,
                 double timestamp_s = 0) {
  ErrorEntry e;
  e.operation = operation;
  e.error_type = "TimeoutError";
  e.message = message;
  e.timestamp_s = timestamp_s;
  return e;
}

// True when `s` is well-formed UTF-8 (no split or stray sequences).
bool IsValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len;
    if (c < 0x80) {
      len = 1;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

TEST(ErrorLogTest, DefaultCapacityIsFifty) {
  ErrorLog log;
  EXPECT_EQ(ErrorLog::kDefaultCapacity, 50u);
  EXPECT_EQ(log.capacity(), 50u);
  EXPECT_TRUE(log.Recent(100).empty());
  EXPECT_EQ(ErrorLog(7).capacity(), 7u);
  EXPECT_EQ(ErrorLog(0).capacity(), 1u);
}

TEST(ErrorLogTest, KeepsEveryFieldOldestFirst) {
  ErrorLog log;
  ErrorEntry e;
  e.operation = "llm_inference";
  e.error_type = "RateLimitError";
  e.message = "429 too many requests";
  e.timestamp_s = 1.8e9;
  e.duration_s = 0.25;
  e.model = "gpt-4o-mini";
  e.metadata_json = R"({"user":"u1","attempt":3})";
  e.span_id = 42;
  e.trace_id = 7;
  log.Add(e);
  log.Add(Entry("retrieval", "second", 1.8e9 + 1));
  log.Add(Entry("rerank", "third", 1.8e9 + 2));

  const std::vector<ErrorEntry> recent = log.Recent(10);
  ASSERT_EQ(recent.size(), 3u);
  EXPECT_EQ(recent[0].operation, "llm_inference");
  EXPECT_EQ(recent[0].error_type, "RateLimitError");
  EXPECT_EQ(recent[0].message, "429 too many requests");
  EXPECT_DOUBLE_EQ(recent[0].timestamp_s, 1.8e9);
  EXPECT_DOUBLE_EQ(recent[0].duration_s, 0.25);
  EXPECT_EQ(recent[0].model, "gpt-4o-mini");
  EXPECT_EQ(recent[0].metadata_json, R"({"user":"u1","attempt":3})");
  EXPECT_EQ(recent[0].span_id, 42u);
  EXPECT_EQ(recent[0].trace_id, 7u);
  EXPECT_EQ(recent[1].message, "second");
  EXPECT_EQ(recent[2].message, "third");

  // A limit keeps the newest, still oldest first.
  const std::vector<ErrorEntry> two = log.Recent(2);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].message, "second");
  EXPECT_EQ(two[1].message, "third");
  EXPECT_TRUE(log.Recent(0).empty());
}

TEST(ErrorLogTest, OverflowDropsTheOldest) {
  ErrorLog log;
  for (int i = 0; i < 120; ++i) {
    log.Add(Entry("op", "error " + std::to_string(i), i));
  }
  const std::vector<ErrorEntry> recent = log.Recent(1000);
  ASSERT_EQ(recent.size(), ErrorLog::kDefaultCapacity);
  for (size_t i = 0; i < recent.size(); ++i) {
    EXPECT_EQ(recent[i].message, "error " + std::to_string(70 + i));
  }
  ErrorLog small(3);
  for (int i = 0; i < 5; ++i) small.Add(Entry("op", std::to_string(i)));
  const std::vector<ErrorEntry> three = small.Recent(10);
  ASSERT_EQ(three.size(), 3u);
  EXPECT_EQ(three[0].message, "2");
  EXPECT_EQ(three[2].message, "4");
}

TEST(ErrorLogTest, MessagesUpToTheLimitAreKept) {
  ErrorLog log;
  const std::string exact(ErrorLog::kMaxMessageBytes, 'x');
  log.Add(Entry("op", exact));
  log.Add(Entry("op", ""));
  const std::vector<ErrorEntry> recent = log.Recent(2);
  ASSERT_EQ(recent.size(), 2u);
  EXPECT_EQ(recent[0].message, exact);
  EXPECT_EQ(recent[1].message, "");
}

TEST(ErrorLogTest, LongMessagesAreCut) {
  ErrorLog log;
  const std::string huge(1000000, 'x');
  log.Add(Entry("op", huge));
  log.Add(Entry("op", std::string(ErrorLog::kMaxMessageBytes + 1, 'y')));
  const std::vector<ErrorEntry> recent = log.Recent(2);
  ASSERT_EQ(recent.size(), 2u);
  for (const ErrorEntry& e : recent) {
    EXPECT_TRUE(EndsWith(e.message, "...")) << e.message.substr(0, 20);
    EXPECT_EQ(e.message.size(), ErrorLog::kMaxMessageBytes + 3);
  }
  EXPECT_EQ(recent[0].message.substr(0, ErrorLog::kMaxMessageBytes),
            huge.substr(0, ErrorLog::kMaxMessageBytes));
  EXPECT_EQ(recent[1].message,
            std::string(ErrorLog::kMaxMessageBytes, 'y') + "...");
}

TEST(ErrorLogTest, CutNeverSplitsAUtf8Sequence) {
  const size_t limit = ErrorLog::kMaxMessageBytes;
  // Each multi-byte character straddles the limit at every possible offset.
  for (const std::string& ch : {std::string("\xC3\xA9"),          // é, 2 bytes
                               std::string("\xE2\x82\xAC"),      // €, 3 bytes
                               std::string("\xF0\x9F\x98\x80")}) {  // 😀, 4
    for (size_t start = limit - ch.size() + 1; start <= limit; ++start) {
      std::string message(start, 'a');
      message += ch;
      message += std::string(500, 'b');
      ErrorLog log;
      log.Add(Entry("op", message));
      const std::string got = log.Recent(1).at(0).message;
      ASSERT_TRUE(EndsWith(got, "...")) << ch.size() << " at " << start;
      const std::string body = got.substr(0, got.size() - 3);
      EXPECT_LE(body.size(), limit);
      EXPECT_TRUE(IsValidUtf8(body)) << ch.size() << " at " << start;
      EXPECT_EQ(message.compare(0, body.size(), body), 0);
      if (start + ch.size() <= limit) {
        // The character fits entirely.
        EXPECT_EQ(body.size(), limit);
      } else {
        // The character is dropped whole, not cut in the middle.
        EXPECT_EQ(body, std::string(start, 'a'));
      }
    }
  }
  // All multi-byte text: cut on a character boundary.
  std::string accents;
  for (int i = 0; i < 700; ++i) accents += "\xC3\xA9";
  ErrorLog log;
  log.Add(Entry("op", accents));
  const std::string got = log.Recent(1).at(0).message;
  EXPECT_EQ(got, accents.substr(0, limit) + "...");
  EXPECT_TRUE(IsValidUtf8(got));
}

TEST(ErrorLogTest, ClearForgetsEverything) {
  ErrorLog log(5);
  for (int i = 0; i < 8; ++i) log.Add(Entry("op", std::to_string(i)));
  log.Clear();
  EXPECT_TRUE(log.Recent(10).empty());
  EXPECT_EQ(log.capacity(), 5u);
  log.Add(Entry("op", "after"));
  const std::vector<ErrorEntry> recent = log.Recent(10);
  ASSERT_EQ(recent.size(), 1u);
  EXPECT_EQ(recent[0].message, "after");
}

TEST(ErrorLogTest, ConcurrentAddsKeepTheNewestOfEachThreadInOrder) {
  ErrorLog log;  // 50
  constexpr int kThreads = 8;
  constexpr int kPerThread = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&log, t] {
      for (int i = 0; i < kPerThread; ++i) {
        ErrorEntry e = Entry("op_" + std::to_string(t), std::to_string(i));
        e.span_id = static_cast<uint64_t>(i);
        e.trace_id = static_cast<uint64_t>(t);
        log.Add(std::move(e));
      }
    });
  }
  for (int i = 0; i < 100; ++i) EXPECT_LE(log.Recent(1000).size(), 50u);
  for (std::thread& th : threads) th.join();
  const std::vector<ErrorEntry> recent = log.Recent(1000);
  ASSERT_EQ(recent.size(), 50u);
  // Entries are intact, and within one thread they keep the order they were
  // added in; the newest entry of all is some thread's final one.
  std::map<uint64_t, uint64_t> last_seq;
  for (const ErrorEntry& e : recent) {
    EXPECT_EQ(e.operation, "op_" + std::to_string(e.trace_id));
    EXPECT_EQ(e.message, std::to_string(e.span_id));
    auto it = last_seq.find(e.trace_id);
    if (it != last_seq.end()) {
      EXPECT_GT(e.span_id, it->second);
    }
    last_seq[e.trace_id] = e.span_id;
  }
  EXPECT_EQ(recent.back().span_id, static_cast<uint64_t>(kPerThread - 1));
}

}  // namespace
}  // namespace ragperf

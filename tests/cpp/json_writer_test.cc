// Copyright 2026 The ragperf Authors.

#include "ragperf/json_writer.h"

#include <cmath>
#include <limits>
#include <string>

#include "gtest/gtest.h"

namespace ragperf {
namespace {

std::string Quoted(absl::string_view s) {
  std::string out;
  AppendJsonString(s, &out);
  return out;
}

TEST(JsonWriterTest, CompactObjectAndArray) {
  JsonWriter w;
  w.BeginObject();
  w.Key("a").Int(-3);
  w.Key("b").BeginArray().UInt(1).Bool(true).Null().EndArray();
  w.Key("c").BeginObject().EndObject();
  w.Key("d").String("x");
  w.EndObject();
  EXPECT_EQ(w.Take(), R"({"a":-3,"b":[1,true,null],"c":{},"d":"x"})");
}

TEST(JsonWriterTest, PrettyPrintIndents) {
  JsonWriter w(2);
  w.BeginObject();
  w.Key("a").Int(1);
  w.Key("b").BeginArray().Int(2).EndArray();
  w.EndObject();
  EXPECT_EQ(w.Take(), "{\n  \"a\": 1,\n  \"b\": [\n    2\n  ]\n}");
}

TEST(JsonWriterTest, TakeResets) {
  JsonWriter w;
  w.BeginArray().EndArray();
  EXPECT_EQ(w.Take(), "[]");
  w.BeginObject().EndObject();
  EXPECT_EQ(w.Take(), "{}");
}

TEST(JsonWriterTest, DoublesRoundTripAndStayFloats) {
  EXPECT_EQ(FormatJsonDouble(0.1), "0.1");
  EXPECT_EQ(FormatJsonDouble(2.0), "2.0");
  EXPECT_EQ(FormatJsonDouble(-0.5), "-0.5");
  EXPECT_EQ(FormatJsonDouble(1e300), "1e+300");
  const double x = 0.1 + 0.2;
  EXPECT_EQ(std::stod(FormatJsonDouble(x)), x);
  EXPECT_EQ(FormatJsonDouble(std::nan("")), "null");
  EXPECT_EQ(FormatJsonDouble(std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(FormatJsonDouble(-std::numeric_limits<double>::infinity()), "null");
}

TEST(JsonWriterTest, EscapesQuotesControlAndBackslash) {
  EXPECT_EQ(Quoted("a\"b"), R"("a\"b")");
  EXPECT_EQ(Quoted("a\\b"), R"("a\\b")");
  EXPECT_EQ(Quoted("line\nnext\ttab"), R"("line\nnext\ttab")");
  EXPECT_EQ(Quoted(std::string("\x01\x1f", 2)), R"("\u0001\u001f")");
  EXPECT_EQ(Quoted(std::string("nul\0x", 5)), R"("nul\u0000x")");
}

TEST(JsonWriterTest, KeepsValidUtf8AndReplacesInvalid) {
  EXPECT_EQ(Quoted("h\xC3\xA9llo \xE6\x97\xA5 \xF0\x9F\x98\x80"),
            "\"h\xC3\xA9llo \xE6\x97\xA5 \xF0\x9F\x98\x80\"");
  // Lone continuation byte, truncated sequence, overlong form, surrogate.
  EXPECT_EQ(Quoted("a\x80z"), "\"a\xEF\xBF\xBDz\"");
  EXPECT_EQ(Quoted("a\xE6\x97"), "\"a\xEF\xBF\xBD\xEF\xBF\xBD\"");
  EXPECT_EQ(Quoted("\xC0\xAF"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
  EXPECT_EQ(Quoted("\xED\xA0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

}  // namespace
}  // namespace ragperf

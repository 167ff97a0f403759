// Copyright 2026 The ragperf Authors.
//
// json_writer.h
// -----------------------------------------------------------------------------
// A small streaming JSON emitter for reports: objects, arrays, strings with
// full escaping, integers, and doubles printed as the shortest text that reads
// back to the same double. Non-finite doubles become `null`, because JSON has
// no NaN or Infinity and a report must always parse.
//
// The writer does not validate nesting; callers emit well-formed sequences.
//
// Example:
//
//   ragperf::JsonWriter w(/*indent=*/2);
//   w.BeginObject();
//   w.Key("p95").Double(0.125);
//   w.Key("name").String("llm \"inference\"");
//   w.EndObject();
//   std::string text = w.Take();   // {"p95": 0.125, "name": "llm \"inference\""}

#ifndef RAGPERF_JSON_WRITER_H_
#define RAGPERF_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace ragperf {

// Appends `text` to `out` as a quoted JSON string (control characters,
// quotes and backslashes escaped; invalid UTF-8 bytes become U+FFFD so the
// output is always valid UTF-8).
void AppendJsonString(absl::string_view text, std::string* out);

// Shortest round-trip decimal form of `value`; "null" when not finite.
std::string FormatJsonDouble(double value);

class JsonWriter {
 public:
  // `indent` 0 writes compact JSON; > 0 pretty-prints with that many spaces.
  explicit JsonWriter(int indent = 0);

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(absl::string_view key);
  JsonWriter& String(absl::string_view value);
  JsonWriter& Double(double value);
  JsonWriter& Int(int64_t value);
  JsonWriter& UInt(uint64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  // Inserts `json`, which the caller guarantees is one valid JSON value
  // (e.g. metadata serialised earlier), as the next value.
  JsonWriter& Raw(absl::string_view json);

  // Returns the text and resets the writer.
  std::string Take();

 private:
  void BeforeValue();
  void Open(char bracket);
  void Close(char bracket);
  void NewLine();

  const int indent_;
  std::string out_;
  // Per open container: whether it already holds an element.
  std::vector<bool> has_element_;
  bool after_key_ = false;
};

}  // namespace ragperf

#endif  // RAGPERF_JSON_WRITER_H_

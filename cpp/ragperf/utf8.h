// Copyright 2026 The ragperf Authors.
//
// utf8.h — cutting UTF-8 text at a byte budget without splitting a
// character, so names and messages shortened in C++ stay valid str in Python.
//
// Example:
//
//   ragperf::Utf8Prefix("h\xC3\xA9llo", 2);  // "h": the 2-byte 'é' does not fit

#ifndef RAGPERF_UTF8_H_
#define RAGPERF_UTF8_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace ragperf {

// The longest prefix of `text` of at most `max_bytes` bytes that ends on a
// character boundary.
inline absl::string_view Utf8Prefix(absl::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t end = max_bytes;
  // Back up over continuation bytes (10xxxxxx) to the start of a character.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
    --end;
  }
  return text.substr(0, end);
}

}  // namespace ragperf

#endif  // RAGPERF_UTF8_H_

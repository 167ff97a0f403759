// Copyright 2026 The ragperf Authors.

#include "ragperf/record_validator.h"

#include <charconv>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"

namespace ragperf {

std::string PythonFloatRepr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value < 0 ? "-inf" : "inf";
  // Shortest round-trip digits, as CPython's repr: d.ddd e<exp>.
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value,
                                    std::chars_format::scientific);
  const std::string sci(buf, result.ptr);
  const size_t e = sci.find('e');
  std::string mantissa = sci.substr(0, e);
  const int exponent = std::atoi(sci.c_str() + e + 1);
  std::string sign;
  if (!mantissa.empty() && mantissa[0] == '-') {
    sign = "-";
    mantissa.erase(0, 1);
  }
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits.push_back(c);
  }
  // CPython switches to exponent notation when the decimal point would sit
  // more than 4 places before the first digit or 16 after it.
  const int point = exponent + 1;  // digits before the decimal point
  if (point <= -4 || point > 16) {
    std::string out = sign + digits.substr(0, 1);
    if (digits.size() > 1) absl::StrAppend(&out, ".", digits.substr(1));
    const int magnitude = exponent < 0 ? -exponent : exponent;
    absl::StrAppend(&out, exponent < 0 ? "e-" : "e+", magnitude < 10 ? "0" : "",
                    magnitude);
    return out;
  }
  if (point <= 0) {
    return absl::StrCat(sign, "0.", std::string(static_cast<size_t>(-point), '0'),
                        digits);
  }
  const size_t whole = static_cast<size_t>(point);
  if (digits.size() <= whole) {
    return absl::StrCat(sign, digits, std::string(whole - digits.size(), '0'),
                        ".0");
  }
  return absl::StrCat(sign, digits.substr(0, whole), ".", digits.substr(whole));
}

absl::Status CheckDuration(double seconds) {
  if (seconds >= 0 && seconds <= kMaxDurationS) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "duration_s must be a finite number of seconds between 0 and 1e+09, got ",
      PythonFloatRepr(seconds)));
}

absl::Status TokenCountOutOfRange(absl::string_view field,
                                  absl::string_view shown) {
  return absl::InvalidArgumentError(absl::StrCat(
      field, " must be a non-negative int below 2**63, got ", shown));
}

absl::Status CheckTokenCount(absl::string_view field, int64_t count) {
  if (count >= 0) return absl::OkStatus();
  return TokenCountOutOfRange(field, absl::StrCat(count));
}

absl::Status CheckTimestamp(double unix_s) {
  if (std::isfinite(unix_s) && unix_s >= 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("timestamp_s must be finite unix seconds >= 0, got ",
                   PythonFloatRepr(unix_s)));
}

absl::Status CheckMemoryDelta(double mb) {
  if (std::isfinite(mb)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "memory_delta_mb must be finite, got ", PythonFloatRepr(mb)));
}

absl::Status CheckOperationName(size_t chars, absl::string_view shown) {
  if (IsValidNameLength(chars)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "operation name must be 1 to ", kMaxNameChars, " characters, got ",
      shown));
}

absl::Status ModelNameError(absl::string_view field, absl::string_view shown) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, " must be a str of 1 to ", kMaxNameChars,
                   " characters or None, got ", shown));
}

absl::Status ValidateRecord(OperationRecord& record) {
  if (absl::Status s = CheckDuration(record.duration_s); !s.ok()) return s;
  if (absl::Status s = CheckTokenCount("prompt_tokens", record.prompt_tokens);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          CheckTokenCount("completion_tokens", record.completion_tokens);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckTokenCount("tokens", record.tokens); !s.ok()) {
    return s;
  }
  if (record.has_memory_delta) {
    if (absl::Status s = CheckMemoryDelta(record.memory_delta_mb); !s.ok()) {
      return s;
    }
  }
  if (!record.success) record.error_type = ErrorTypeOrDefault(record.error_type);
  return absl::OkStatus();
}

}  // namespace ragperf

// Copyright 2026 The ragperf Authors.
//
// record_validator.h
// -----------------------------------------------------------------------------
// The value rules of one operation record, written once: `monitor.record()`
// and the tracker's setters (op.tokens = ..., op.model = ...) both check
// through these functions. Each returns OK or an InvalidArgument status whose
// message names the field and shows the bad value the way Python's repr()
// would (the binding raises it as ValueError, or TypeError where the Python
// API always did). Type checks (is it an int? a str?) stay with the binding,
// which converts Python objects; these see the converted C++ values.
//
// Stateless; thread-safe.
//
// Example:
//
//   absl::Status s = ragperf::CheckDuration(-1.0);
//   // s.message() == "duration_s must be a finite number of seconds between
//   //                 0 and 1e+09, got -1.0"
//   ragperf::CheckTokenCount("prompt_tokens", 12);         // OK
//   ragperf::CheckOperationName(/*chars=*/0, "''");        // InvalidArgument

#ifndef RAGPERF_RECORD_VALIDATOR_H_
#define RAGPERF_RECORD_VALIDATOR_H_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "ragperf/response_time_tracker.h"

namespace ragperf {

// The longest duration a record may carry (about 31.7 years); as
// ragperf._validate.MAX_DURATION_S (exported as _core.MAX_DURATION_S).
inline constexpr double kMaxDurationS = 1e9;
// Operation and model names: 1 to kMaxNameChars characters (code points).
inline constexpr size_t kMaxNameChars = 200;
// The error type of a failed record that named none.
inline constexpr absl::string_view kDefaultErrorType = "Error";

// `value` as Python's repr() of a float prints it: "1.0", "-0.001", "1e-05",
// "1e+16", "nan", "inf".
std::string PythonFloatRepr(double value);

// duration_s: finite, 0 <= seconds <= kMaxDurationS.
absl::Status CheckDuration(double seconds);
// Token counts (tokens, prompt_tokens, completion_tokens, add_tokens()'s
// count): >= 0. `field` names the value in the message.
absl::Status CheckTokenCount(absl::string_view field, int64_t count);
// The same error for a count the binding could not even convert to int64
// (|value| >= 2**63); `shown` is its repr().
absl::Status TokenCountOutOfRange(absl::string_view field,
                                  absl::string_view shown);
// timestamp_s (the wall-clock end of a replayed record): finite, >= 0.
absl::Status CheckTimestamp(double unix_s);
// memory_delta_mb: finite (negative deltas are real: memory was freed).
absl::Status CheckMemoryDelta(double mb);

// Names: 1 to kMaxNameChars characters. Inline because the model setters
// run per block; the *Error functions build the message on failure only.
inline bool IsValidNameLength(size_t chars) {
  return chars >= 1 && chars <= kMaxNameChars;
}
// An operation name of `chars` characters; `shown` is its repr().
absl::Status CheckOperationName(size_t chars, absl::string_view shown);
// A model field (`field`: "model", "response_model") that is not a str of
// 1 to kMaxNameChars characters; `shown` is the value's repr().
absl::Status ModelNameError(absl::string_view field, absl::string_view shown);

// The error type a failed record is counted under: `given`, or
// kDefaultErrorType when empty.
inline absl::string_view ErrorTypeOrDefault(absl::string_view given) {
  return given.empty() ? kDefaultErrorType : given;
}

// Every value rule of a record built by `monitor.record()`: duration, the
// three token counts, the memory delta (when present), and the error type
// of a failed record (filled with kDefaultErrorType when empty; the view
// must outlive the record, as OperationRecord's views do).
absl::Status ValidateRecord(OperationRecord& record);

}  // namespace ragperf

#endif  // RAGPERF_RECORD_VALIDATOR_H_

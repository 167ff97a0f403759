// Copyright 2026 The ragperf Authors.

#include "ragperf/record_validator.h"

#include <cmath>
#include <limits>
#include <string>

#include "gtest/gtest.h"

namespace ragperf {
namespace {

TEST(PythonFloatReprTest, MatchesCpythonRepr) {
  EXPECT_EQ(PythonFloatRepr(1.0), "1.0");
  EXPECT_EQ(PythonFloatRepr(-1.0), "-1.0");
  EXPECT_EQ(PythonFloatRepr(-0.001), "-0.001");
  EXPECT_EQ(PythonFloatRepr(0.1), "0.1");
  EXPECT_EQ(PythonFloatRepr(0.0001), "0.0001");
  EXPECT_EQ(PythonFloatRepr(0.00001), "1e-05");
  EXPECT_EQ(PythonFloatRepr(1.5e-7), "1.5e-07");
  EXPECT_EQ(PythonFloatRepr(1e15), "1000000000000000.0");
  EXPECT_EQ(PythonFloatRepr(1e16), "1e+16");
  EXPECT_EQ(PythonFloatRepr(1.2345e20), "1.2345e+20");
  EXPECT_EQ(PythonFloatRepr(1e100), "1e+100");
  EXPECT_EQ(PythonFloatRepr(123.456), "123.456");
  EXPECT_EQ(PythonFloatRepr(0.0), "0.0");
  EXPECT_EQ(PythonFloatRepr(-0.0), "-0.0");
  EXPECT_EQ(PythonFloatRepr(std::nan("")), "nan");
  EXPECT_EQ(PythonFloatRepr(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(PythonFloatRepr(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(PythonFloatRepr(0.1 + 0.2), "0.30000000000000004");
}

TEST(RecordValidatorTest, DurationRange) {
  EXPECT_TRUE(CheckDuration(0).ok());
  EXPECT_TRUE(CheckDuration(kMaxDurationS).ok());
  for (double bad : {-1.0, -0.001, kMaxDurationS * 1.0000001, std::nan(""),
                     std::numeric_limits<double>::infinity(),
                     -std::numeric_limits<double>::infinity()}) {
    const absl::Status s = CheckDuration(bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("duration_s must be a finite number of seconds "
                               "between 0 and 1e+09, got " +
                               PythonFloatRepr(bad)),
              std::string::npos)
        << s;
  }
}

TEST(RecordValidatorTest, TokenCountsNameFieldAndValue) {
  EXPECT_TRUE(CheckTokenCount("tokens", 0).ok());
  EXPECT_TRUE(CheckTokenCount("tokens", std::numeric_limits<int64_t>::max()).ok());
  const absl::Status s = CheckTokenCount("prompt_tokens", -5);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "prompt_tokens must be a non-negative int below 2**63, got -5");
  EXPECT_EQ(TokenCountOutOfRange("tokens", "9223372036854775808").message(),
            "tokens must be a non-negative int below 2**63, got "
            "9223372036854775808");
}

TEST(RecordValidatorTest, TimestampAndMemoryDelta) {
  EXPECT_TRUE(CheckTimestamp(0).ok());
  EXPECT_TRUE(CheckTimestamp(1.7e9).ok());
  EXPECT_EQ(CheckTimestamp(-1).message(),
            "timestamp_s must be finite unix seconds >= 0, got -1.0");
  EXPECT_FALSE(CheckTimestamp(std::nan("")).ok());
  EXPECT_TRUE(CheckMemoryDelta(-3.5).ok());  // freed memory is real
  EXPECT_EQ(CheckMemoryDelta(std::numeric_limits<double>::infinity()).message(),
            "memory_delta_mb must be finite, got inf");
}

TEST(RecordValidatorTest, Names) {
  EXPECT_FALSE(IsValidNameLength(0));
  EXPECT_TRUE(IsValidNameLength(1));
  EXPECT_TRUE(IsValidNameLength(kMaxNameChars));
  EXPECT_FALSE(IsValidNameLength(kMaxNameChars + 1));
  EXPECT_TRUE(CheckOperationName(5, "'query'").ok());
  EXPECT_EQ(CheckOperationName(0, "''").message(),
            "operation name must be 1 to 200 characters, got ''");
  EXPECT_EQ(ModelNameError("response_model", "3").message(),
            "response_model must be a str of 1 to 200 characters or None, got 3");
}

TEST(RecordValidatorTest, ValidateRecordChecksEveryFieldAndDefaultsErrorType) {
  OperationRecord ok;
  ok.duration_s = 0.1;
  ok.tokens = 3;
  EXPECT_TRUE(ValidateRecord(ok).ok());
  EXPECT_TRUE(ok.error_type.empty());  // a success keeps no error type

  OperationRecord failed;
  failed.success = false;
  EXPECT_TRUE(ValidateRecord(failed).ok());
  EXPECT_EQ(failed.error_type, kDefaultErrorType);
  failed.error_type = "TimeoutError";
  EXPECT_TRUE(ValidateRecord(failed).ok());
  EXPECT_EQ(failed.error_type, "TimeoutError");

  OperationRecord bad_completion;
  bad_completion.completion_tokens = -1;
  EXPECT_NE(ValidateRecord(bad_completion).message().find("completion_tokens"),
            std::string::npos);

  OperationRecord bad_memory;
  bad_memory.has_memory_delta = true;
  bad_memory.memory_delta_mb = std::nan("");
  EXPECT_NE(ValidateRecord(bad_memory).message().find("memory_delta_mb"),
            std::string::npos);
  bad_memory.has_memory_delta = false;  // an absent delta is not checked
  EXPECT_TRUE(ValidateRecord(bad_memory).ok());

  OperationRecord bad_duration;
  bad_duration.duration_s = -2;
  bad_duration.tokens = -1;  // the duration is reported first
  EXPECT_NE(ValidateRecord(bad_duration).message().find("duration_s"),
            std::string::npos);
}

}  // namespace
}  // namespace ragperf

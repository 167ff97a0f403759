// Copyright 2026 The ragperf Authors.
//
// atomic_file.h
// -----------------------------------------------------------------------------
// Writes a whole file so that readers, and a crash at any moment, see either
// the previous contents or the new ones — never a half-written file: the text
// goes to a temporary file in the same directory, is fsync'ed, then renamed
// over the target (rename is atomic within one file system), and the
// directory is fsync'ed so the rename itself survives a power cut.
//
// On failure the target is untouched and the temporary file removed; the
// status message names the path and the failing step with strerror.
//
// Example:
//
//   absl::Status s = ragperf::WriteFileAtomically("metrics.json", json_text);
//   if (!s.ok()) LOG(ERROR) << s;

#ifndef RAGPERF_ATOMIC_FILE_H_
#define RAGPERF_ATOMIC_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace ragperf {

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents);

}  // namespace ragperf

#endif  // RAGPERF_ATOMIC_FILE_H_

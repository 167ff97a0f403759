// Copyright 2026 The ragperf Authors.
//
// metadata_json.h — an operation's metadata dict as JSON object text, so the
// C++ core can keep it in recent records and errors without holding Python
// objects. str/int/float/bool/None values map to JSON; anything else is
// stored as its str() (non-finite floats as null). Keys become str(key).
// Output is capped at kMaxMetadataJsonBytes: entries past the cap are dropped
// and "_truncated": true is added.
//
// Example (C++ inside the extension, GIL held):
//
//   std::string json;
//   if (MetadataToJson(metadata_dict, &json) == 0) ...  // {"model": "qwen"}

#ifndef RAGPERF_BINDINGS_METADATA_JSON_H_
#define RAGPERF_BINDINGS_METADATA_JSON_H_

#include <Python.h>

#include <cstddef>
#include <string>

namespace ragperf::bindings {

constexpr size_t kMaxMetadataJsonBytes = 4096;

// Writes `dict` (a dict) into `out` as a JSON object. Returns 0; never
// leaves a Python error set (values whose str() fails are written as their
// type name in angle brackets).
int MetadataToJson(PyObject* dict, std::string* out);
// The same for `count` (key, value) pairs, in that order.
void PairsToJson(PyObject* const* keys, PyObject* const* values, int count,
                 std::string* out);

}  // namespace ragperf::bindings

#endif  // RAGPERF_BINDINGS_METADATA_JSON_H_

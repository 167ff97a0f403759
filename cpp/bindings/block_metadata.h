// Copyright 2026 The ragperf Authors.
//
// block_metadata.h
// -----------------------------------------------------------------------------
// One block's metadata, kept as the (key, value) pairs it was given and turned
// into a dict only when Python asks for one (`op.metadata`).
//
// Why: every realistic block is given a little metadata (`model="qwen",
// tenant="acme"`), but Python reads it back rarely (exit hooks, traces). A
// dict per block, and its JSON text for the recent-records ring, cost ~1,000
// instructions: more than the whole empty block (issue #20). Up to
// kInlinePairs pairs whose keys are exact str stay inline in the tracker;
// more pairs, other keys or a mapping that is not a dict go to a dict at once.
// The rules are a dict's: keys are distinct (a later key replaces an earlier
// equal one, in its place), order is insertion order, `op.metadata` returns
// the same dict every time and edits through it are what gets recorded.
//
// MetadataJsonCache remembers the JSON of the last metadata serialised by the
// identity of its keys and values. Immutable values (str, int, float, bool,
// None) that are the same objects give the same text, so a call site that
// passes literals (`model="qwen", k=3`: the same objects every call) is
// serialised once. The cache holds strong references, so an address it
// compares can never belong to a new object.
//
// Everything here runs with the GIL held.
//
// Example (inside the extension):
//
//   BlockMetadata md;
//   MetadataInit(&md);
//   if (MetadataSet(&md, key, value) < 0) ...       // a keyword argument
//   PyObject* model = MetadataGet(&md, ModelKey());  // borrowed or NULL
//   absl::string_view json = cache->Json(md, &scratch);  // {"model": "qwen"}
//   MetadataClear(&md);

#ifndef RAGPERF_BINDINGS_BLOCK_METADATA_H_
#define RAGPERF_BINDINGS_BLOCK_METADATA_H_

#include <Python.h>

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace ragperf::bindings {

struct BlockMetadata {
  static constexpr int kInlinePairs = 4;
  PyObject* dict;  // strong; NULL while the metadata (if any) is inline
  int count;       // inline pairs; 0 whenever `dict` is set
  PyObject* keys[kInlinePairs];    // strong, exact str, distinct
  PyObject* values[kInlinePairs];  // strong
};

// "model" (interned; created by InitBlockMetadata).
PyObject* ModelKey();
// Creates ModelKey(); -1 with an exception on failure (module init).
int InitBlockMetadata();

// Empty metadata (no references held).
void MetadataInit(BlockMetadata* m);
// No metadata was ever given or read (no pairs, no dict): most blocks.
inline bool MetadataUnset(const BlockMetadata* m) {
  return m->count == 0 && m->dict == nullptr;
}
// Drops every reference; `m` is empty afterwards.
void MetadataClearPairs(BlockMetadata* m);
inline void MetadataClear(BlockMetadata* m) {
  if (!MetadataUnset(m)) MetadataClearPairs(m);
}
int MetadataTraverse(const BlockMetadata* m, visitproc visit, void* arg);
// Whether there are no pairs.
inline bool MetadataEmpty(const BlockMetadata* m) {
  return m->dict == nullptr ? m->count == 0 : PyDict_GET_SIZE(m->dict) == 0;
}

// Fills the empty `m` with the pairs of `mapping` (a dict or another
// mapping; copied: later edits of the caller's object are not seen). -1 with
// a TypeError naming the value when it is not a mapping (`m` stays empty).
int MetadataFill(BlockMetadata* m, PyObject* mapping);
// metadata[key] = value. -1 with an exception on failure.
int MetadataSet(BlockMetadata* m, PyObject* key, PyObject* value);
// metadata[kwnames[i]] = values[i] for every keyword of a call except
// indices `skip_a` and `skip_b` (-1: none). -1 with an exception on failure.
int MetadataSetKeywords(BlockMetadata* m, PyObject* kwnames,
                        PyObject* const* values, Py_ssize_t skip_a,
                        Py_ssize_t skip_b);
// metadata.get(key) for an exact str `key`: borrowed, or NULL when missing
// (never leaves an exception set).
PyObject* MetadataGetSlow(const BlockMetadata* m, PyObject* key);
inline PyObject* MetadataGet(const BlockMetadata* m, PyObject* key) {
  if (m->dict == nullptr) {  // the same (interned) key object: no compare
    for (int i = 0; i < m->count; ++i) {
      if (m->keys[i] == key) return m->values[i];
    }
  }
  return MetadataGetSlow(m, key);
}
// The dict itself (borrowed), built from the inline pairs on first use;
// NULL with an exception on failure.
PyObject* MetadataDict(BlockMetadata* m);
// Replaces the metadata with a copy of `mapping` (None: none). On failure
// (-1 with an exception) `m` is unchanged.
int MetadataReplace(BlockMetadata* m, PyObject* mapping);
// `*to` (empty) becomes a copy of `from` with its own dict. -1 on failure.
int MetadataCopy(const BlockMetadata* from, BlockMetadata* to);

class MetadataJsonCache {
 public:
  MetadataJsonCache();
  ~MetadataJsonCache();
  MetadataJsonCache(const MetadataJsonCache&) = delete;
  MetadataJsonCache& operator=(const MetadataJsonCache&) = delete;

  // Metadata texts remembered: a query's blocks each pass their own
  // metadata, so one entry would miss on every block of a nested query.
  static constexpr int kEntries = 8;

  // The JSON object text of `m` (see metadata_json.h), from the cache when
  // its keys and values are the objects of a remembered text; else written to
  // `*scratch` (and remembered when every value is immutable). The view
  // stays valid until the next call or `*scratch` changes.
  // `*key` (optional) gets a nonzero number shared by every call that
  // returned the same cached text (never reused), or 0 when the text was
  // written to `*scratch`: see OperationRecord::text_key.
  //
  // Writing a value that is not immutable calls its str(), which runs Python
  // code; `before_python_code(arg)` (optional) is called once just before.
  using Hook = void (*)(void* arg);
  absl::string_view Json(const BlockMetadata& m, std::string* scratch,
                         uint64_t* key = nullptr,
                         Hook before_python_code = nullptr, void* arg = nullptr);

  int Traverse(visitproc visit, void* arg) const;
  void Clear();

 private:
  struct Entry {
    PyObject* keys[BlockMetadata::kInlinePairs];    // strong
    PyObject* values[BlockMetadata::kInlinePairs];  // strong
    int count = -1;    // -1: empty
    uint64_t key = 0;  // unique per cached text (process-wide)
    std::string json;
  };
  // The entry holding exactly these pairs (by identity), or NULL.
  Entry* Find(PyObject* const* keys, PyObject* const* values, int count);
  static void Drop(Entry* e);

  Entry entries_[kEntries];
  int last_ = 0;  // the entry of the last hit, tested first
  int next_ = 0;  // the entry replaced next (round robin)
};

}  // namespace ragperf::bindings

#endif  // RAGPERF_BINDINGS_BLOCK_METADATA_H_

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
// A call site passing literals also passes the same metadata every time, so
// the cache hands such blocks one shared, immutable InternedMetadata (its
// pairs, JSON text and model) at entry: the block then holds one reference
// instead of a reference per key and value, and its exit neither looks the
// text up nor searches for the model. Reading `op.metadata` (or editing the
// block's metadata) turns the block's copy back into its own pairs.
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

#include "absl/base/attributes.h"
#include "absl/strings/string_view.h"

namespace ragperf::bindings {

inline constexpr int kInlineMetadataPairs = 4;

// Metadata shared, never edited, by every block given these very keys and
// values (MetadataJsonCache::Intern). Keys are exact str, values are
// immutable (str, int, float, bool, None): nothing here can be part of a
// reference cycle, and releasing it runs no Python code.
struct InternedMetadata {
  int refs = 1;  // the cache's and the blocks'; deleted at 0 (GIL)
  int count = 0;
  PyObject* keys[kInlineMetadataPairs];    // strong
  PyObject* values[kInlineMetadataPairs];  // strong
  // Strong, optional: a call's keyword-name tuple whose items are `keys`
  // (comparing it stands for comparing every key).
  PyObject* kwnames = nullptr;
  PyObject* model = nullptr;  // values[i] of the key "model" when a str
  absl::string_view model_text;  // its UTF-8 text (valid while this lives)
  uint64_t key = 0;           // unique per text (OperationRecord::text_key)
  std::string json;
};
// Frees `shared` (its last reference was dropped).
void DeleteInterned(InternedMetadata* shared);
// Takes / drops one reference to `shared`.
inline void RetainInterned(InternedMetadata* shared) { ++shared->refs; }
inline void ReleaseInterned(InternedMetadata* shared) {
  if (--shared->refs == 0) DeleteInterned(shared);
}

struct BlockMetadata {
  static constexpr int kInlinePairs = kInlineMetadataPairs;
  PyObject* dict;  // strong; NULL while the metadata (if any) is inline
  int count;       // inline pairs; 0 whenever `dict` or `interned` is set
  // A reference to shared metadata; NULL when the block has its own (in
  // `dict` or inline), which it gets before any edit or dict read.
  InternedMetadata* interned;
  PyObject* keys[kInlinePairs];    // strong, exact str, distinct
  PyObject* values[kInlinePairs];  // strong
};

class MetadataJsonCache;

// "model" (interned; created by InitBlockMetadata).
PyObject* ModelKey();
// Creates ModelKey(); -1 with an exception on failure (module init).
int InitBlockMetadata();

// Empty metadata (no references held).
void MetadataInit(BlockMetadata* m);
// No metadata was ever given or read (no pairs, no dict): most blocks.
inline bool MetadataUnset(const BlockMetadata* m) {
  return m->count == 0 && m->dict == nullptr && m->interned == nullptr;
}
// Drops every reference; `m` is empty afterwards.
void MetadataClearPairs(BlockMetadata* m);
// Drops the reference to shared metadata, if any.
inline void MetadataDropShared(BlockMetadata* m) {
  if (InternedMetadata* shared = m->interned) {
    m->interned = nullptr;
    ReleaseInterned(shared);
  }
}
inline void MetadataClear(BlockMetadata* m) {
  if (m->count == 0 && m->dict == nullptr) {
    MetadataDropShared(m);  // shared only: no pairs
    return;
  }
  MetadataClearPairs(m);
}
int MetadataTraverse(const BlockMetadata* m, visitproc visit, void* arg);
// Whether there are no pairs.
inline bool MetadataEmpty(const BlockMetadata* m) {
  if (m->interned != nullptr) return false;  // never interned empty
  return m->dict == nullptr ? m->count == 0 : PyDict_GET_SIZE(m->dict) == 0;
}

// Fills the empty `m` with the pairs of `mapping` (a dict or another
// mapping; copied: later edits of the caller's object are not seen). -1 with
// a TypeError naming the value when it is not a mapping (`m` stays empty).
// With `cache`, a small dict of immutable values shares interned metadata.
int MetadataFill(BlockMetadata* m, PyObject* mapping,
                 MetadataJsonCache* cache = nullptr);
// metadata[key] = value. -1 with an exception on failure.
int MetadataSet(BlockMetadata* m, PyObject* key, PyObject* value);
// metadata[kwnames[i]] = values[i] for every keyword of a call except
// indices `skip_a` and `skip_b` (-1: none). -1 with an exception on failure.
// With `cache`, an empty `m` given immutable values shares interned metadata.
int MetadataSetKeywords(BlockMetadata* m, PyObject* kwnames,
                        PyObject* const* values, Py_ssize_t skip_a,
                        Py_ssize_t skip_b, MetadataJsonCache* cache = nullptr);
// metadata.get(key) for an exact str `key`: borrowed, or NULL when missing
// (never leaves an exception set).
PyObject* MetadataGetSlow(const BlockMetadata* m, PyObject* key);
inline PyObject* MetadataGet(const BlockMetadata* m, PyObject* key) {
  if (m->dict == nullptr) {  // the same (interned) key object: no compare
    // (shared metadata has count 0 here: MetadataGetSlow reads it)
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
  // Interned metadata (with its text written) has its text and key at hand.
  absl::string_view Json(const BlockMetadata& m, std::string* scratch,
                         uint64_t* key = nullptr,
                         Hook before_python_code = nullptr, void* arg = nullptr);

  // The shared metadata of exactly these pairs (keys distinct exact str),
  // borrowed (take a reference to keep it), when every value is immutable
  // and there are 1..kInlinePairs of them; else NULL. Never runs Python
  // code; NULL also when out of memory (the caller keeps its own pairs).
  ABSL_ATTRIBUTE_ALWAYS_INLINE InternedMetadata* Intern(
      PyObject* const* keys, PyObject* const* values, int count) {
    // A loop of one block passes what it passed last time: tested inline.
    InternedMetadata* last = entries_[last_];
    if (last != nullptr && last->count == count) {
      int i = 0;
      while (i < count && keys[i] == last->keys[i] && values[i] == last->values[i]) ++i;
      if (i == count) return last;
    }
    return InternSlow(keys, values, count);
  }

  // Intern() for a call whose keywords (kwnames, 1..kInlinePairs of them)
  // are all metadata pairs, with their values.
  ABSL_ATTRIBUTE_ALWAYS_INLINE InternedMetadata* InternKeywords(
      PyObject* kwnames, PyObject* const* values) {
    InternedMetadata* last = entries_[last_];
    if (last != nullptr && last->kwnames == kwnames) {  // the same keys
      int i = 0;
      while (i < last->count && values[i] == last->values[i]) ++i;
      if (i == last->count) return last;
    }
    return InternKeywordsSlow(kwnames, values);
  }

  int Traverse(visitproc visit, void* arg) const;
  void Clear();

 private:
  InternedMetadata* InternKeywordsSlow(PyObject* kwnames, PyObject* const* values);
  InternedMetadata* InternSlow(PyObject* const* keys, PyObject* const* values,
                               int count);
  // The entry holding exactly these pairs (by identity), or NULL.
  InternedMetadata* Find(PyObject* const* keys, PyObject* const* values,
                         int count);
  // Remembers a new entry of these pairs (immutable values), or NULL when
  // out of memory.
  InternedMetadata* Add(PyObject* const* keys, PyObject* const* values,
                        int count);

  InternedMetadata* entries_[kEntries] = {};  // a reference each; NULL: empty
  int last_ = 0;  // the entry of the last hit, tested first
  int next_ = 0;  // the entry replaced next (round robin)
};

}  // namespace ragperf::bindings

#endif  // RAGPERF_BINDINGS_BLOCK_METADATA_H_

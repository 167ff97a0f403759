// Copyright 2026 The ragperf Authors.

#include "block_metadata.h"

#include <cstring>
#include <utility>

#include "metadata_json.h"
#include "py_args.h"

namespace ragperf::bindings {
namespace {

PyObject* g_model_key = nullptr;  // "model", interned, kept for life
// The last MetadataJsonCache key handed out: keys of different caches (one
// per monitor) never collide. Guarded by the GIL.
uint64_t g_json_keys = 0;

// a == b for two exact str: the same object (interned names, literals) or
// the same text.
bool SameKey(PyObject* a, PyObject* b) {
  if (a == b) return true;
  const Py_ssize_t n = PyUnicode_GET_LENGTH(a);
  return n == PyUnicode_GET_LENGTH(b) && PyUnicode_KIND(a) == PyUnicode_KIND(b) &&
         std::memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b),
                     static_cast<size_t>(n) * PyUnicode_KIND(a)) == 0;
}

// The block's own copy of its shared metadata, as inline pairs (the shared
// pairs are distinct exact str keys, at most kInlinePairs).
void Unshare(BlockMetadata* m) {
  const InternedMetadata* shared = m->interned;
  if (shared == nullptr) return;
  for (int i = 0; i < shared->count; ++i) {
    m->keys[i] = Py_NewRef(shared->keys[i]);
    m->values[i] = Py_NewRef(shared->values[i]);
  }
  m->count = shared->count;
  MetadataDropShared(m);
}

// `m` (empty) holds a reference to `shared`.
void Share(BlockMetadata* m, InternedMetadata* shared) {
  RetainInterned(shared);
  m->interned = shared;
}

// The inline pairs as a new dict in `m->dict`; the pairs' references move
// into it.
int Spill(BlockMetadata* m) {
  Unshare(m);
  PyObject* dict = PyDict_New();
  if (dict == nullptr) return -1;
  for (int i = 0; i < m->count; ++i) {
    if (PyDict_SetItem(dict, m->keys[i], m->values[i]) < 0) {
      Py_DECREF(dict);
      return -1;
    }
  }
  for (int i = 0; i < m->count; ++i) {
    Py_DECREF(m->keys[i]);
    Py_DECREF(m->values[i]);
  }
  m->count = 0;
  m->dict = dict;
  return 0;
}

// Values whose JSON text cannot change while the same object lives.
bool IsImmutableValue(PyObject* v) {
  return v == Py_None || PyUnicode_CheckExact(v) || PyLong_CheckExact(v) ||
         PyFloat_CheckExact(v) || PyBool_Check(v);
}

// Pairs the cache may remember and share: exact str keys and values whose
// text cannot change while the same object lives.
bool Shareable(PyObject* const* keys, PyObject* const* values, int count) {
  for (int i = 0; i < count; ++i) {
    if (!PyUnicode_CheckExact(keys[i]) || !IsImmutableValue(values[i])) return false;
  }
  return true;
}

}  // namespace

PyObject* ModelKey() { return g_model_key; }

int InitBlockMetadata() {
  if (g_model_key == nullptr) g_model_key = PyUnicode_InternFromString("model");
  return g_model_key == nullptr ? -1 : 0;
}

void MetadataInit(BlockMetadata* m) {
  m->dict = nullptr;
  m->count = 0;
  m->interned = nullptr;
}

void DeleteInterned(InternedMetadata* shared) {
  // Dropping str/int/float/bool/None references (and a tuple of str) runs
  // no Python code.
  Py_XDECREF(shared->kwnames);
  for (int i = 0; i < shared->count; ++i) {
    Py_DECREF(shared->keys[i]);
    Py_DECREF(shared->values[i]);
  }
  delete shared;
}

void MetadataClearPairs(BlockMetadata* m) {
  MetadataDropShared(m);
  // Fields first, references after: releasing a value can run arbitrary
  // code (a __del__) that edits this metadata. Keys are exact str, whose
  // release runs none, so they are released in place.
  const int count = m->count;
  m->count = 0;
  PyObject* values[BlockMetadata::kInlinePairs];
  for (int i = 0; i < count; ++i) {
    values[i] = m->values[i];
    Py_DECREF(m->keys[i]);
  }
  Py_CLEAR(m->dict);
  for (int i = 0; i < count; ++i) Py_DECREF(values[i]);
}

int MetadataTraverse(const BlockMetadata* m, visitproc visit, void* arg) {
  // Shared metadata holds immutable values only: no cycle runs through it.
  Py_VISIT(m->dict);
  for (int i = 0; i < m->count; ++i) {
    Py_VISIT(m->keys[i]);
    Py_VISIT(m->values[i]);
  }
  return 0;
}

int MetadataSet(BlockMetadata* m, PyObject* key, PyObject* value) {
  Unshare(m);
  if (m->dict == nullptr && PyUnicode_CheckExact(key)) {
    for (int i = 0; i < m->count; ++i) {
      if (SameKey(m->keys[i], key)) {
        Py_INCREF(value);
        Py_SETREF(m->values[i], value);
        return 0;
      }
    }
    if (m->count < BlockMetadata::kInlinePairs) {
      Py_INCREF(key);
      Py_INCREF(value);
      m->keys[m->count] = key;
      m->values[m->count] = value;
      ++m->count;
      return 0;
    }
  }
  if (m->dict == nullptr && Spill(m) < 0) return -1;
  return PyDict_SetItem(m->dict, key, value);
}

int MetadataSetKeywords(BlockMetadata* m, PyObject* kwnames,
                        PyObject* const* values, Py_ssize_t skip_a,
                        Py_ssize_t skip_b, MetadataJsonCache* cache) {
  const Py_ssize_t n = PyTuple_GET_SIZE(kwnames);
  const Py_ssize_t pairs = n - (skip_a >= 0) - (skip_b >= 0);
  if (cache != nullptr && pairs == n && MetadataUnset(m) &&
      n <= BlockMetadata::kInlinePairs) {
    // Every keyword is a pair: the names (a tuple's items) and the values
    // are already two arrays.
    InternedMetadata* shared = n > 0 ? cache->InternKeywords(kwnames, values) : nullptr;
    if (shared != nullptr) {
      Share(m, shared);
      return 0;
    }
  }
  Unshare(m);
  if (m->dict == nullptr && m->count == 0 &&
      pairs <= BlockMetadata::kInlinePairs) {
    // A call's keyword names are distinct exact str (CPython checks): the
    // common case stores them without comparing.
    int count = 0;
    for (Py_ssize_t i = 0; i < n; ++i) {
      if (i == skip_a || i == skip_b) continue;
      PyObject* key = PyTuple_GET_ITEM(kwnames, i);
      Py_INCREF(key);
      Py_INCREF(values[i]);
      m->keys[count] = key;
      m->values[count] = values[i];
      ++count;
    }
    m->count = count;
    return 0;
  }
  for (Py_ssize_t i = 0; i < n; ++i) {
    if (i == skip_a || i == skip_b) continue;
    if (MetadataSet(m, PyTuple_GET_ITEM(kwnames, i), values[i]) < 0) return -1;
  }
  return 0;
}

int MetadataFill(BlockMetadata* m, PyObject* mapping, MetadataJsonCache* cache) {
  if (PyDict_CheckExact(mapping) &&
      PyDict_GET_SIZE(mapping) <= BlockMetadata::kInlinePairs) {
    // A small dict with exact str keys (distinct, being a dict's) is taken
    // pair by pair in one pass; at the first other key the pairs are
    // dropped and the dict is copied below. Nothing here runs Python code,
    // so PyDict_Next's borrowed pairs stay valid.
    Py_ssize_t pos = 0;
    PyObject* key = nullptr;
    PyObject* value = nullptr;
    bool all_str = true;
    while (PyDict_Next(mapping, &pos, &key, &value)) {
      if (!PyUnicode_CheckExact(key)) {
        all_str = false;
        break;
      }
      m->keys[m->count] = key;
      m->values[m->count] = value;
      ++m->count;
    }
    if (all_str) {
      InternedMetadata* shared =
          cache != nullptr ? cache->Intern(m->keys, m->values, m->count) : nullptr;
      if (shared != nullptr) {
        m->count = 0;  // no references were taken
        Share(m, shared);
        return 0;
      }
      for (int i = 0; i < m->count; ++i) {
        Py_INCREF(m->keys[i]);
        Py_INCREF(m->values[i]);
      }
      return 0;
    }
    m->count = 0;  // no references were taken
  }
  m->dict = CopyMetadata(mapping);  // TypeError for non-mappings
  return m->dict == nullptr ? -1 : 0;
}

PyObject* MetadataGetSlow(const BlockMetadata* m, PyObject* key) {
  if (m->interned != nullptr) {
    for (int i = 0; i < m->interned->count; ++i) {
      if (SameKey(m->interned->keys[i], key)) return m->interned->values[i];
    }
    return nullptr;
  }
  if (m->dict != nullptr) {
    PyObject* v = PyDict_GetItemWithError(m->dict, key);
    if (v == nullptr) PyErr_Clear();
    return v;
  }
  for (int i = 0; i < m->count; ++i) {
    if (SameKey(m->keys[i], key)) return m->values[i];
  }
  return nullptr;
}

PyObject* MetadataDict(BlockMetadata* m) {
  if (m->dict == nullptr && Spill(m) < 0) return nullptr;
  return m->dict;
}

int MetadataReplace(BlockMetadata* m, PyObject* mapping) {
  if (mapping == nullptr || mapping == Py_None) {
    MetadataClear(m);
    return 0;
  }
  BlockMetadata fresh;
  MetadataInit(&fresh);
  if (MetadataFill(&fresh, mapping) < 0) {
    MetadataClear(&fresh);
    return -1;
  }
  MetadataClear(m);
  *m = fresh;
  return 0;
}

int MetadataCopy(const BlockMetadata* from, BlockMetadata* to) {
  MetadataInit(to);
  if (from->interned != nullptr) {  // never edited: shared by the copy too
    Share(to, from->interned);
    return 0;
  }
  if (from->dict != nullptr) {
    to->dict = PyDict_Copy(from->dict);
    return to->dict == nullptr ? -1 : 0;
  }
  for (int i = 0; i < from->count; ++i) {
    Py_INCREF(from->keys[i]);
    Py_INCREF(from->values[i]);
    to->keys[i] = from->keys[i];
    to->values[i] = from->values[i];
  }
  to->count = from->count;
  return 0;
}

// ------------------------------------------------------------ JSON cache ----

MetadataJsonCache::MetadataJsonCache() = default;

MetadataJsonCache::~MetadataJsonCache() { Clear(); }

int MetadataJsonCache::Traverse(visitproc visit, void* arg) const {
  for (const InternedMetadata* e : entries_) {
    if (e == nullptr) continue;
    for (int i = 0; i < e->count; ++i) {
      Py_VISIT(e->keys[i]);
      Py_VISIT(e->values[i]);
    }
  }
  return 0;
}

void MetadataJsonCache::Clear() {
  for (InternedMetadata*& e : entries_) {
    if (e != nullptr) ReleaseInterned(std::exchange(e, nullptr));
  }
}

InternedMetadata* MetadataJsonCache::Find(PyObject* const* keys,
                                          PyObject* const* values, int count) {
  auto holds = [&](const InternedMetadata* e) {
    if (e == nullptr || e->count != count) return false;
    for (int j = 0; j < count; ++j) {
      if (keys[j] != e->keys[j] || values[j] != e->values[j]) return false;
    }
    return true;
  };
  if (holds(entries_[last_])) return entries_[last_];  // a loop of one block
  for (int i = 0; i < kEntries; ++i) {
    if (i != last_ && holds(entries_[i])) {
      last_ = i;
      return entries_[i];
    }
  }
  return nullptr;
}

InternedMetadata* MetadataJsonCache::Add(PyObject* const* keys,
                                         PyObject* const* values, int count) {
  InternedMetadata* e = nullptr;
  try {
    e = new InternedMetadata();
    for (int i = 0; i < count; ++i) {
      e->keys[i] = Py_NewRef(keys[i]);
      e->values[i] = Py_NewRef(values[i]);
      e->count = i + 1;
      if (e->model == nullptr && PyUnicode_CheckExact(values[i]) &&
          SameKey(keys[i], g_model_key)) {
        e->model = values[i];
        e->model_text = Utf8View(values[i]);
      }
    }
    PairsToJson(e->keys, e->values, count, &e->json);
  } catch (...) {  // out of memory: the caller writes the text itself
    if (e != nullptr) ReleaseInterned(e);
    return nullptr;
  }
  e->key = ++g_json_keys;
  if (entries_[next_] != nullptr) ReleaseInterned(entries_[next_]);
  entries_[next_] = e;
  last_ = next_;
  next_ = (next_ + 1) % kEntries;
  return e;
}

InternedMetadata* MetadataJsonCache::InternSlow(PyObject* const* keys,
                                                PyObject* const* values,
                                                int count) {
  if (count <= 0 || count > BlockMetadata::kInlinePairs) return nullptr;
  if (InternedMetadata* hit = Find(keys, values, count)) return hit;
  return Shareable(keys, values, count) ? Add(keys, values, count) : nullptr;
}

InternedMetadata* MetadataJsonCache::InternKeywordsSlow(PyObject* kwnames,
                                                        PyObject* const* values) {
  InternedMetadata* e =
      InternSlow(&PyTuple_GET_ITEM(kwnames, 0), values,
                 static_cast<int>(PyTuple_GET_SIZE(kwnames)));
  if (e != nullptr && e->kwnames == nullptr) e->kwnames = Py_NewRef(kwnames);
  return e;
}

absl::string_view MetadataJsonCache::Json(const BlockMetadata& m,
                                          std::string* scratch, uint64_t* key,
                                          Hook before_python_code, void* arg) {
  if (m.interned != nullptr) {
    if (key != nullptr) *key = m.interned->key;
    return m.interned->json;
  }
  if (key != nullptr) *key = 0;
  // The pairs to write: inline, or a small dict's (borrowed while the GIL
  // is held and nothing runs Python code).
  PyObject* const* keys = m.keys;
  PyObject* const* values = m.values;
  int count = m.count;
  PyObject* dict_keys[BlockMetadata::kInlinePairs];
  PyObject* dict_values[BlockMetadata::kInlinePairs];
  if (m.dict != nullptr) {
    if (PyDict_GET_SIZE(m.dict) > BlockMetadata::kInlinePairs) {
      if (before_python_code != nullptr) before_python_code(arg);
      MetadataToJson(m.dict, scratch);
      return *scratch;
    }
    Py_ssize_t pos = 0;
    count = 0;
    while (PyDict_Next(m.dict, &pos, &dict_keys[count], &dict_values[count])) {
      ++count;
    }
    keys = dict_keys;
    values = dict_values;
  }
  if (Shareable(keys, values, count)) {
    if (InternedMetadata* e = count > 0 ? Intern(keys, values, count) : nullptr) {
      if (key != nullptr) *key = e->key;
      return e->json;
    }
    PairsToJson(keys, values, count, scratch);  // empty, or out of memory
    return *scratch;
  }
  // str() of such a value (or key) runs Python code, which may edit this
  // very metadata (`op.metadata = ...` in a __str__): write from pairs
  // held here, not from the borrowed ones.
  PyObject* held_keys[BlockMetadata::kInlinePairs];
  PyObject* held_values[BlockMetadata::kInlinePairs];
  for (int i = 0; i < count; ++i) {
    held_keys[i] = Py_NewRef(keys[i]);
    held_values[i] = Py_NewRef(values[i]);
  }
  if (before_python_code != nullptr) before_python_code(arg);
  PairsToJson(held_keys, held_values, count, scratch);
  for (int i = 0; i < count; ++i) {
    Py_DECREF(held_keys[i]);
    Py_DECREF(held_values[i]);
  }
  return *scratch;
}

}  // namespace ragperf::bindings

// Copyright 2026 The ragperf Authors.
//
// _core.HotPath: one per monitor. Resolves operation names to ids (cached by
// the name object), creates OperationTracker objects (track_operation),
// records measured operations (record, in hot_path_record.cpp) and answers
// the per-monitor hot-path questions: in-flight blocks, recent root traces,
// internal errors. See tracker_type.h.

#include <string>
#include <utility>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "py_error.h"
#include "ragperf/record_validator.h"
#include "tracker_objects.h"
#include "tracker_type.h"

// CPython's type and method tables are designed to be partially initialised.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace ragperf::bindings {
namespace {

PyTypeObject HotPathType = {PyVarObject_HEAD_INIT(nullptr, 0)};

HotPathObject* H(PyObject* self) { return reinterpret_cast<HotPathObject*>(self); }

// A new (id, name) tuple, added to hot->ids under `key` unless an entry is
// there already; returns the entry kept (borrowed) or NULL.
PyObject* AddEntry(HotPathObject* hot, PyObject* key, int id, PyObject* name) {
  PyObject* id_obj = PyLong_FromLong(id);
  PyObject* fresh = id_obj != nullptr ? PyTuple_Pack(2, id_obj, name) : nullptr;
  Py_XDECREF(id_obj);
  PyObject* entry =
      fresh != nullptr ? PyDict_SetDefault(hot->ids, key, fresh) : nullptr;
  Py_XDECREF(fresh);  // the dict holds it now
  return entry;
}

// The shared (id, "__other__") entry of names past the operation cap,
// borrowed from hot->ids (kept under the key "__other__").
PyObject* OverflowEntry(HotPathObject* hot, int id) {
  PyObject* name = PyUnicode_FromStringAndSize(
      kOverflowOperation.data(),
      static_cast<Py_ssize_t>(kOverflowOperation.size()));
  if (name == nullptr) return nullptr;
  PyObject* entry = PyDict_GetItemWithError(hot->ids, name);
  if (entry == nullptr && !PyErr_Occurred()) entry = AddEntry(hot, name, id, name);
  Py_DECREF(name);
  return entry;
}

// The exact str naming the operation `op` (a str, a str subclass or an Enum
// with a str value), new reference; NULL with TypeError otherwise.
PyObject* OperationText(PyObject* op) {
  if (PyUnicode_Check(op)) {
    return PyUnicode_Substring(op, 0, PyUnicode_GET_LENGTH(op));
  }
  const int is_enum = PyObject_IsInstance(op, EnumType());
  if (is_enum < 0) return nullptr;
  if (is_enum == 0) {
    PyErr_Format(PyExc_TypeError,
                 "operation must be a str or OperationType, got %R (%s)", op,
                 Py_TYPE(op)->tp_name);
    return nullptr;
  }
  PyObject* v = PyObject_GetAttrString(op, "value");
  if (v == nullptr) return nullptr;
  if (!PyUnicode_Check(v)) {
    PyErr_Format(PyExc_TypeError,
                 "operation must be a str or an Enum with a str value "
                 "(e.g. OperationType), got %R with value %R",
                 op, v);
    Py_DECREF(v);
    return nullptr;
  }
  PyObject* text = PyUnicode_Substring(v, 0, PyUnicode_GET_LENGTH(v));
  Py_DECREF(v);
  return text;
}

// Resolves an operation to its borrowed (id, plain str) entry, caching by
// the object given; NULL with an exception.
PyObject* ResolveOperation(HotPathObject* hot, PyObject* op) {
  if (PyUnicode_Check(op)) {
    PyObject* hit = PyDict_GetItemWithError(hot->ids, op);
    if (hit != nullptr) return hit;
    if (PyErr_Occurred()) return nullptr;
  }
  PyObject* value = OperationText(op);
  if (value == nullptr) return nullptr;
  Py_ssize_t size = 0;
  const char* utf8 = PyUnicode_AsUTF8AndSize(value, &size);  // exact str
  if (utf8 == nullptr) {
    Py_DECREF(value);
    return nullptr;
  }
  const size_t chars = static_cast<size_t>(PyUnicode_GET_LENGTH(value));
  if (!IsValidNameLength(chars)) {
    SetPyError(CheckOperationName(chars, ReprText(value)));
    Py_DECREF(value);
    return nullptr;
  }
  // The plain name may be known already (e.g. first seen as a str, now as an
  // enum): reuse its entry. Entries are never replaced, so references to
  // them stay valid.
  PyObject* entry = PyDict_GetItemWithError(hot->ids, value);  // borrowed
  if (entry == nullptr) {
    if (PyErr_Occurred()) {
      Py_DECREF(value);
      return nullptr;
    }
    const int id = hot->monitor->Intern(absl::string_view(utf8, size));
    if (id == hot->monitor->operation_cap().overflow_id()) {
      // Past the operation cap: every new name shares one "__other__"
      // entry and none is cached, so this dict stays bounded too.
      Py_DECREF(value);
      return OverflowEntry(hot, id);
    }
    entry = AddEntry(hot, value, id, value);
    if (entry == nullptr) {
      Py_DECREF(value);
      return nullptr;
    }
  }
  // Cache under the object given too, when it hashes as a str.
  if (PyUnicode_Check(op) && op != value &&
      PyDict_SetDefault(hot->ids, op, entry) == nullptr) {
    Py_DECREF(value);
    return nullptr;
  }
  Py_DECREF(value);
  return entry;  // borrowed from hot->ids, which never drops entries
}

ABSL_ATTRIBUTE_NOINLINE const KeywordSet* FindKeywordsSlow(HotPathObject* hot,
                                                           PyObject* kwnames) {
  for (int i = 0; i < HotPathObject::kKeywordSets; ++i) {
    if (hot->keyword_sets[i].kwnames == kwnames) {
      hot->keyword_last = i;
      return &hot->keyword_sets[i];
    }
  }
  return nullptr;
}

// The remembered KeywordSet of `kwnames`, or NULL. The last call site's is
// tested inline: a loop of blocks from one call site pays one compare.
inline const KeywordSet* FindKeywords(HotPathObject* hot, PyObject* kwnames) {
  const KeywordSet* last = &hot->keyword_sets[hot->keyword_last];
  if (ABSL_PREDICT_TRUE(last->kwnames == kwnames)) return last;
  return FindKeywordsSlow(hot, kwnames);
}

// Which keywords of a track_operation call name the operation
// ("operation"/"operation_type", unless given positionally) and the metadata
// dict ("metadata", unless given positionally); -1 when none. Remembered per
// keyword tuple (FindKeywords).
void ClassifyKeywords(HotPathObject* hot, PyObject* kwnames, Py_ssize_t nargs,
                      Py_ssize_t* op_kw, Py_ssize_t* metadata_kw) {
  const KeywordSet* known = FindKeywords(hot, kwnames);
  if (known == nullptr) {
    Py_ssize_t op = -1;
    Py_ssize_t metadata = -1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); ++i) {
      PyObject* key = PyTuple_GET_ITEM(kwnames, i);
      if (op < 0 &&
          (KeywordIs(key, "operation") || KeywordIs(key, "operation_type"))) {
        op = i;
      } else if (metadata < 0 && KeywordIs(key, "metadata")) {
        metadata = i;
      }
    }
    const int slot = hot->keyword_next;
    hot->keyword_next = (slot + 1) % HotPathObject::kKeywordSets;
    hot->keyword_last = slot;
    KeywordSet* set = &hot->keyword_sets[slot];
    Py_INCREF(kwnames);
    Py_XSETREF(set->kwnames, kwnames);
    set->operation = op;
    set->metadata = metadata;
    set->all_pairs = op < 0 && metadata < 0 &&
                     PyTuple_GET_SIZE(kwnames) <= BlockMetadata::kInlinePairs;
    known = set;
  }
  // Given positionally, the keyword is a metadata pair like any other.
  *op_kw = nargs >= 1 ? -1 : known->operation;
  *metadata_kw = nargs >= 2 ? -1 : known->metadata;
}

// track_operation(operation, metadata=None, /, **metadata_kwargs)
// track_operation(...) with metadata or keywords (see HotTrackOperation).
// Out of line: the plain block's path above stays short.
ABSL_ATTRIBUTE_NOINLINE PyObject* TrackWithArguments(PyObject* self,
                                                     PyObject* const* args,
                                                     Py_ssize_t nargs,
                                                     PyObject* kwnames) {
  HotPathObject* hot = H(self);
  PyObject* op = nargs >= 1 ? args[0] : nullptr;
  PyObject* metadata_arg = nargs >= 2 ? args[1] : nullptr;
  if (nargs > 2) {
    PyErr_Format(PyExc_TypeError,
                 "track_operation() takes an operation and an optional "
                 "metadata dict, got %zd positional arguments",
                 nargs);
    return nullptr;
  }
  // The keywords that name the operation or the metadata dict; every other
  // keyword is a metadata pair.
  Py_ssize_t op_kw = -1;
  Py_ssize_t metadata_kw = -1;
  if (kwnames != nullptr) ClassifyKeywords(hot, kwnames, nargs, &op_kw, &metadata_kw);
  if (op_kw >= 0) op = args[nargs + op_kw];
  if (metadata_kw >= 0) metadata_arg = args[nargs + metadata_kw];
  if (op == nullptr) {
    PyErr_SetString(PyExc_TypeError,
                    "track_operation() missing the operation (an "
                    "OperationType or a str)");
    return nullptr;
  }
  int id = -1;
  PyObject* entry = ResolveCached(hot, op, &id);
  if (entry == nullptr) return nullptr;
  PyObject* tracker = NewTracker(hot, entry, id);
  if (tracker == nullptr) return nullptr;
  // The block's metadata is its own: later edits of the caller's dict are
  // not shared. Keyword metadata wins over the dict. Filled in place.
  BlockMetadata* metadata = &reinterpret_cast<TrackerObject*>(tracker)->metadata;
  if ((metadata_arg != nullptr && metadata_arg != Py_None &&
       MetadataFill(metadata, metadata_arg, kwnames == nullptr ? hot->metadata_json : nullptr) < 0) ||
      (kwnames != nullptr && MetadataSetKeywords(metadata, kwnames, args + nargs,
                                                 op_kw, metadata_kw, hot->metadata_json) < 0)) {
    Py_DECREF(tracker);
    return nullptr;
  }
  return tracker;
}

// track_operation(op, model="qwen", k=3) again from the same call site (its
// keywords all metadata pairs): its literals share the metadata of the last
// such block. Else, or when the values cannot be shared, TrackWithArguments.
ABSL_ATTRIBUTE_NOINLINE PyObject* TrackWithKnownKeywords(PyObject* self,
                                                         PyObject* const* args,
                                                         Py_ssize_t nargs,
                                                         PyObject* kwnames) {
  HotPathObject* hot = H(self);
  const KeywordSet* known = nargs == 1 && kwnames != nullptr &&
                                    hot->metadata_json != nullptr
                                ? FindKeywords(hot, kwnames)
                                : nullptr;
  if (known != nullptr && known->all_pairs) {
    InternedMetadata* shared = hot->metadata_json->InternKeywords(kwnames, args + 1);
    if (shared != nullptr) {
      // Ours before anything below can run Python code (a collection's
      // finalizer may track blocks that replace the cache's entries).
      RetainInterned(shared);
      int id = -1;
      PyObject* entry = ResolveCached(hot, args[0], &id);
      PyObject* tracker = entry != nullptr ? NewTracker(hot, entry, id) : nullptr;
      if (tracker == nullptr) {
        ReleaseInterned(shared);
        return nullptr;
      }
      reinterpret_cast<TrackerObject*>(tracker)->metadata.interned = shared;
      return tracker;
    }
  }
  return TrackWithArguments(self, args, nargs, kwnames);
}

PyObject* HotTrackOperation(PyObject* self, PyObject* const* args,
                            Py_ssize_t nargs, PyObject* kwnames) {
  if (nargs == 1 && kwnames == nullptr) {  // track_operation(op): the plain block
    HotPathObject* hot = H(self);
    int id = -1;
    PyObject* entry = ResolveCached(hot, args[0], &id);
    return entry != nullptr ? NewTracker(hot, entry, id) : nullptr;
  }
  return TrackWithKnownKeywords(self, args, nargs, kwnames);
}

// resolve(operation) -> (id, name)
PyObject* HotResolve(PyObject* self, PyObject* op) {
  PyObject* entry = ResolveOperation(H(self), op);
  Py_XINCREF(entry);
  return entry;
}

// set_exit_hook(fn | None): fn(tracker) runs after every block.
PyObject* HotSetExitHook(PyObject* self, PyObject* hook) {
  HotPathObject* hot = H(self);
  if (hook == Py_None) {
    Py_CLEAR(hot->exit_hook);
    Py_RETURN_NONE;
  }
  if (!PyCallable_Check(hook)) {
    PyErr_Format(PyExc_TypeError, "exit hook must be callable or None, got %R",
                 hook);
    return nullptr;
  }
  Py_INCREF(hook);
  Py_XSETREF(hot->exit_hook, hook);
  Py_RETURN_NONE;
}

// set_exit_hook_roots_only(bool): the exit hook runs only for root blocks
// and blocks finishing after their root.
PyObject* HotSetExitHookRootsOnly(PyObject* self, PyObject* flag) {
  const int on = PyObject_IsTrue(flag);
  if (on < 0) return nullptr;
  H(self)->exit_hook_roots_only = on != 0;
  Py_RETURN_NONE;
}

// in_flight() -> {operation: active blocks} (operations with any).
PyObject* HotInFlight(PyObject* self, PyObject*) {
  HotPathObject* hot = H(self);
  PyObject* out = PyDict_New();
  if (out == nullptr) return nullptr;
  for (const auto& [id, count] : hot->in_flight->Active()) {
    const std::string name = hot->monitor->tracker().NameOf(id);
    PyObject* n = PyLong_FromLong(count);
    if (n == nullptr || PyDict_SetItemString(out, name.c_str(), n) < 0) {
      Py_XDECREF(n);
      Py_DECREF(out);
      return nullptr;
    }
    Py_DECREF(n);
  }
  return out;
}

// recent_roots() -> [tracker, ...]: finished root blocks, oldest first.
PyObject* HotRecentRoots(PyObject* self, PyObject*) {
  HotPathObject* hot = H(self);
  PyObject* out = PyList_New(0);
  if (out == nullptr) return nullptr;
  constexpr int kRing = static_cast<int>(SpanTree::kRecentRoots);
  for (int i = 0; i < kRing; ++i) {
    PyObject* t = hot->traces[(hot->trace_next + i) % kRing];
    if (t != nullptr && PyList_Append(out, t) < 0) {
      Py_DECREF(out);
      return nullptr;
    }
  }
  return out;
}

PyObject* HotClearTraces(PyObject* self, PyObject*) {
  HotPathObject* hot = H(self);
  for (PyObject*& t : hot->traces) Py_CLEAR(t);
  hot->trace_next = 0;
  Py_RETURN_NONE;
}

PyObject* HotInternalErrors(PyObject* self, PyObject*) {
  return PyLong_FromUnsignedLongLong(H(self)->internal_errors);
}

int HotTraverse(PyObject* self, visitproc visit, void* arg) {
  HotPathObject* hot = H(self);
  Py_VISIT(hot->ids);
  for (const ResolvedOperation& r : hot->resolved) {
    Py_VISIT(r.op);
    Py_VISIT(r.entry);
  }
  Py_VISIT(hot->current);
  Py_VISIT(hot->exit_hook);
  Py_VISIT(hot->dimensions);
  for (const KeywordSet& k : hot->keyword_sets) Py_VISIT(k.kwnames);
  for (const ModelHandleEntry& e : hot->model_handles) Py_VISIT(e.model);
  for (PyObject* t : hot->traces) Py_VISIT(t);
  return hot->metadata_json != nullptr ? hot->metadata_json->Traverse(visit, arg) : 0;
}

int HotClear(PyObject* self) {
  HotPathObject* hot = H(self);
  for (ResolvedOperation& r : hot->resolved) {
    Py_CLEAR(r.op);
    Py_CLEAR(r.entry);
  }
  Py_CLEAR(hot->ids);
  Py_CLEAR(hot->current);
  Py_CLEAR(hot->exit_hook);
  Py_CLEAR(hot->dimensions);
  for (KeywordSet& k : hot->keyword_sets) Py_CLEAR(k.kwnames);
  for (ModelHandleEntry& e : hot->model_handles) Py_CLEAR(e.model);
  if (hot->metadata_json != nullptr) hot->metadata_json->Clear();
  if (hot->cached_stack != nullptr) {
    ForgetCachedStack(reinterpret_cast<SpanStackObject*>(hot->cached_stack));
  }
  for (PyObject*& t : hot->traces) Py_CLEAR(t);
  return 0;
}

void HotDealloc(PyObject* self) {
  HotPathObject* hot = H(self);
  PyObject_GC_UnTrack(self);
  HotClear(self);
  delete hot->resolver;
  hot->resolver = nullptr;
  delete hot->metadata_json;
  hot->metadata_json = nullptr;
  delete hot->in_flight;
  hot->in_flight = nullptr;
  delete hot->owner;
  hot->owner = nullptr;
  PyObject_GC_Del(self);
}

PyMethodDef HotMethods[] = {
    {"track_operation",
     reinterpret_cast<PyCFunction>(
         reinterpret_cast<void (*)()>(HotTrackOperation)),
     METH_FASTCALL | METH_KEYWORDS,
     "track_operation(operation, metadata=None, /, **metadata) -> "
     "OperationTracker"},
    {"record",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(HotRecord)),
     METH_FASTCALL | METH_KEYWORDS,
     "record(operation, duration_s, tokens=None, success=True, *, "
     "prompt_tokens=0, completion_tokens=0, memory_delta_mb=None, "
     "error_type=None, timestamp_s=None)"},
    {"resolve", HotResolve, METH_O,
     "resolve(operation) -> (id, name); validates the operation."},
    {"set_exit_hook", HotSetExitHook, METH_O,
     "set_exit_hook(fn | None): fn(tracker) after every block."},
    {"set_exit_hook_roots_only", HotSetExitHookRootsOnly, METH_O,
     "set_exit_hook_roots_only(bool): the exit hook runs only for root "
     "blocks and blocks that finish after their root."},
    {"in_flight", HotInFlight, METH_NOARGS,
     "in_flight() -> {operation: number of active blocks}."},
    {"recent_roots", HotRecentRoots, METH_NOARGS,
     "recent_roots() -> the last 100 finished root blocks, oldest first."},
    {"clear_traces", HotClearTraces, METH_NOARGS, "Forgets recent_roots()."},
    {"set_dimensions", HotSetDimensions, METH_O,
     "set_dimensions(tuple of str | None): metadata keys whose values split "
     "each operation's statistics (see Monitor.dimension_stats)."},
    {"internal_errors", HotInternalErrors, METH_NOARGS,
     "internal_errors() -> problems of the monitor itself on the hot path "
     "(failing exit hooks, allocation failures), counted since creation."},
    {nullptr, nullptr, 0, nullptr}};

}  // namespace

HotPathObject* HotPathOfTrackOperation(PyObject* callable) {
  if (!PyCFunction_Check(callable) ||
      PyCFunction_GET_FUNCTION(callable) !=
          reinterpret_cast<PyCFunction>(
              reinterpret_cast<void (*)()>(HotTrackOperation))) {
    return nullptr;
  }
  PyObject* self = PyCFunction_GET_SELF(callable);
  return self != nullptr && Py_TYPE(self) == &HotPathType ? H(self) : nullptr;
}

PyObject* ResolveSlow(HotPathObject* hot, PyObject* op, int* id) {
  for (int i = 0; i < HotPathObject::kResolvedCacheSize; ++i) {
    const ResolvedOperation& r = hot->resolved[i];
    if (r.op == op) {
      hot->resolved_last = i;
      *id = r.id;
      return r.entry;
    }
  }
  PyObject* entry = ResolveOperation(hot, op);
  if (entry == nullptr) return nullptr;
  *id = static_cast<int>(PyLong_AsLong(PyTuple_GET_ITEM(entry, 0)));
  // str-like names only: the cache must never hold an object whose name
  // could change.
  if (PyUnicode_Check(op)) {
    hot->resolved_last = hot->resolved_next;
    ResolvedOperation& slot = hot->resolved[hot->resolved_next];
    hot->resolved_next = (hot->resolved_next + 1) % HotPathObject::kResolvedCacheSize;
    PyObject* old_op = slot.op;
    PyObject* old_entry = slot.entry;
    Py_INCREF(op);
    Py_INCREF(entry);
    slot = ResolvedOperation{op, entry, *id};
    Py_XDECREF(old_op);  // str objects: no code runs
    Py_XDECREF(old_entry);
  }
  return entry;
}

int RegisterOperationTrackerTypes(PyObject* module) {
  if (InitPyArgs() < 0 || InitBlockMetadata() < 0 || ReadySpanStackType() < 0 ||
      ReadyTrackerTypes(module) < 0 || RegisterUsageExtractor(module) < 0) {
    return -1;
  }
  HotPathType.tp_name = "ragperf._core.HotPath";
  HotPathType.tp_basicsize = sizeof(HotPathObject);
  HotPathType.tp_dealloc = HotDealloc;
  HotPathType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC;
  HotPathType.tp_traverse = HotTraverse;
  HotPathType.tp_clear = HotClear;
  HotPathType.tp_methods = HotMethods;
  HotPathType.tp_doc = "Creates OperationTracker objects for one monitor.";
  return AddType(module, &HotPathType, "HotPath");
}

PyObject* NewHotPath(std::shared_ptr<PerformanceMonitor> monitor) {
  HotPathObject* hot = PyObject_GC_New(HotPathObject, &HotPathType);
  if (hot == nullptr) return nullptr;
  for (ResolvedOperation& r : hot->resolved) r = ResolvedOperation{nullptr, nullptr, -1};
  hot->resolved_next = 0;
  hot->resolved_last = 0;
  hot->exit_hook = nullptr;
  hot->exit_hook_roots_only = false;
  hot->cached_context = nullptr;
  hot->cached_stack = nullptr;
  hot->internal_errors = 0;
  hot->dimensions = nullptr;
  for (KeywordSet& k : hot->keyword_sets) k = KeywordSet{nullptr, -1, -1, false};
  hot->keyword_last = hot->keyword_next = 0;
  for (ModelHandleEntry& e : hot->model_handles) e = ModelHandleEntry{nullptr, ModelUsageHandle()};
  hot->model_last = hot->model_next = 0;
  hot->monitor = monitor.get();
  hot->owner = new std::shared_ptr<PerformanceMonitor>(std::move(monitor));
  hot->in_flight = new InFlightCounts();
  for (PyObject*& t : hot->traces) t = nullptr;
  hot->trace_next = 0;
  hot->resolver = new DimensionResolver(&hot->monitor->dimensions());
  hot->metadata_json = new MetadataJsonCache();
  hot->ids = PyDict_New();
  hot->current = PyContextVar_New("ragperf_current_operation", nullptr);
  PyObject_GC_Track(reinterpret_cast<PyObject*>(hot));
  if (hot->ids == nullptr || hot->current == nullptr) {
    Py_DECREF(hot);
    return nullptr;
  }
  return reinterpret_cast<PyObject*>(hot);
}

}  // namespace ragperf::bindings

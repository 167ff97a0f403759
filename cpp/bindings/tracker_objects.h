// Copyright 2026 The ragperf Authors.
//
// tracker_objects.h
// -----------------------------------------------------------------------------
// The object layouts of the hot path's plain CPython types, shared by the
// files that implement them (internal to cpp/bindings):
//
//   HotPathObject    _core.HotPath: one per monitor (hot_path_type.cpp,
//                    hot_path_record.cpp)
//   TrackerObject    _core.OperationTracker: one per block (tracker_type.cpp
//                    for its life cycle, tracker_properties.cpp for its
//                    attributes and stream methods)
//   SpanStackObject  the innermost active block of one context
//                    (span_stack.cpp)
//
// The domain rules these objects follow live in the core: span nesting in
// ragperf/span_tree.h (SpanNode is embedded in TrackerObject), token
// bookkeeping in ragperf/block_usage.h, in-flight counts in
// ragperf/in_flight.h, dimension series in ragperf/dimension_resolver.h and
// value checks in ragperf/record_validator.h. Everything here is guarded by
// the GIL.
//
// Example (what `with monitor.track_operation("x") as op:` runs):
//
//   int id;
//   PyObject* t = NewTracker(hot, ResolveCached(hot, op, &id), id);
//   TrackerEnterImpl(...);  ...  TrackerExitImpl(...);   // tracker_type.cpp

#ifndef RAGPERF_BINDINGS_TRACKER_OBJECTS_H_
#define RAGPERF_BINDINGS_TRACKER_OBJECTS_H_

#include <Python.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "block_metadata.h"
#include "py_args.h"
#include "ragperf/block_usage.h"
#include "ragperf/dimension_resolver.h"
#include "ragperf/in_flight.h"
#include "ragperf/performance_monitor.h"
#include "ragperf/span_tree.h"

namespace ragperf::bindings {

enum TrackerState : int { kNew = 0, kEntered = 1, kExited = 2 };

// An operation object (str, or a str subclass such as OperationType) and
// the (id, name) entry it resolved to.
struct ResolvedOperation {
  PyObject* op;     // strong: its address cannot be reused while cached
  PyObject* entry;  // strong
  int id;           // the id in entry, read without PyLong_AsLong
};

// A model str (strong) and the usage handle kept for it.
struct ModelHandleEntry {
  PyObject* model;
  ModelUsageHandle handle;
};

// One keyword-name tuple of track_operation and which of its keywords name
// the operation ("operation"/"operation_type") and the metadata dict
// ("metadata"); -1: none.
struct KeywordSet {
  PyObject* kwnames;  // strong, or NULL for an unused entry
  Py_ssize_t operation;
  Py_ssize_t metadata;
  // All its keywords are metadata pairs, at most BlockMetadata::kInlinePairs
  // (`track_operation(op, model=..., tenant=...)`: the LLM block's call).
  bool all_pairs;
};

struct HotPathObject {
  PyObject_HEAD
  std::shared_ptr<PerformanceMonitor>* owner;  // keeps the monitor alive
  PerformanceMonitor* monitor;
  // name object (str, str subclass such as OperationType) -> (id, plain str)
  PyObject* ids;
  // The operation objects resolved last, found by address: a query that
  // alternates a few OperationType members would otherwise hash an Enum
  // (a Python-level __hash__) on every block. Round-robin replacement.
  static constexpr int kResolvedCacheSize = 8;
  ResolvedOperation resolved[kResolvedCacheSize];
  int resolved_next;
  int resolved_last;  // the slot of the last hit, tested first
  PyObject* current;     // ContextVar holding the context's SpanStackObject
  PyObject* exit_hook;   // callable(tracker) after each block, or NULL
  // Call exit_hook only for root blocks and for blocks that finish after
  // their root (span export needs no more: a root carries its finished tree).
  bool exit_hook_roots_only;
  InFlightCounts* in_flight;
  // Finished root trackers (strong), a ring of SpanTree::kRecentRoots;
  // traces[trace_next] is the oldest once full.
  PyObject* traces[SpanTree::kRecentRoots];
  int trace_next;
  // The last context seen and its span stack, borrowed: skips the
  // ContextVar lookup while blocks keep running in one context. A hit also
  // checks the stack's weak reference to its owner, so a new context at a
  // dead one's address never matches; the stack clears this cache when it
  // is cleared or freed (SpanStackObject::cached_by).
  PyObject* cached_context;
  PyObject* cached_stack;
  // Problems of the monitor itself on the hot path (see NoteInternalError).
  uint64_t internal_errors;
  // Declared dimensions: a tuple of metadata keys (str), NULL when none, so
  // undeclared metadata costs one pointer test per block. `resolver` holds
  // the same names and the series cache.
  PyObject* dimensions;
  DimensionResolver* resolver;
  // The JSON of the last metadata recorded (see block_metadata.h).
  MetadataJsonCache* metadata_json;
  // The model (str, strong) whose usage handle is kept: blocks naming the
  // same str object record its usage without a lookup or lock.
  static constexpr int kModelHandles = 8;
  ModelHandleEntry model_handles[kModelHandles];
  int model_last;  // the entry of the last hit, tested first
  int model_next;  // the entry replaced next (round robin)
  // The keyword-name tuples of the last few track_operation call sites
  // (strong; a call site passes the same constant tuple every time): a
  // query's blocks pass different keywords, so one entry would miss on each.
  static constexpr int kKeywordSets = 8;
  KeywordSet keyword_sets[kKeywordSets];
  int keyword_last;  // the entry of the last hit, tested first
  int keyword_next;  // the entry replaced next (round robin)
};

struct TrackerObject {
  PyObject_HEAD
  vectorcallfunc vectorcall;  // TrackerVectorcall: see fast_with_slots.h
  HotPathObject* hot;  // strong reference
  PyObject* name;      // plain str
  BlockMetadata metadata;  // inline pairs or a dict (block_metadata.h)
  int op_id;
  int state;
  int64_t start_ns;
  int64_t rss_start_bytes;  // -1 when memory was not measured
  BlockUsage usage;
  bool success;
  bool cancelled;  // ended by a cancellation (see IsCancellation)
  double duration_s;
  double memory_delta_mb;
  bool has_memory_delta;
  double gpu_start_mb;  // < 0 when GPU memory was not measured
  double gpu_memory_delta_mb;
  bool has_gpu_memory_delta;
  // Nesting. While active, span.parent and span.root point into trackers
  // this one holds a strong reference to (taken on entry, released on exit);
  // `stack` is the SpanStack it was pushed on; `spans` (on a root) holds its
  // finished descendants.
  SpanNode span;
  PyObject* stack;
  PyObject* spans;
  bool after_root;  // finished after its root had (set by ExitSpan)
  double end_wall_s;
  int cache_hit;             // -1 unset, 0 miss, 1 hit
  PyObject* model;           // explicit (requested) model (str) or NULL
  PyObject* response_model;  // the model the response named (str) or NULL
  PyObject* error_type;      // str after a failed block, else NULL
  PyObject* error_message;   // str after a failed block, else NULL
};

struct SpanStackObject {
  PyObject_HEAD
  PyObject* owner_ref;  // weak reference to the Context this stack belongs to
  PyObject* top;        // innermost active TrackerObject, or NULL
  HotPathObject* cached_by;  // the HotPath caching this stack, or NULL
};

extern PyTypeObject TrackerType;
extern PyTypeObject SpanStackType;

// The tracker a SpanNode is embedded in.
inline TrackerObject* TrackerOfSpan(SpanNode* node) {
  return reinterpret_cast<TrackerObject*>(reinterpret_cast<char*>(node) -
                                          offsetof(TrackerObject, span));
}
inline PyObject* AsObject(TrackerObject* t) {
  return reinterpret_cast<PyObject*>(t);
}

// ---- tracker_type.cpp
// Readies _Ready and OperationTracker and adds them to `module`.
int ReadyTrackerTypes(PyObject* module);
// A new tracker of operation `id` whose (id, name) entry is `entry`, with
// no metadata yet (the caller fills tracker->metadata).
PyObject* NewTracker(HotPathObject* hot, PyObject* entry, int id);
// The with statement's __enter__ / __exit__ for C callers (the ASGI
// middleware, http_exchange.cpp), without the method calls. `read_memory`
// false: this block reads no RSS, whatever the monitor's memory tracking.
// `exc_type` NULL or None: the block succeeded. 0, or -1 with an exception
// set (enter: the tracker is active already; exit: an exit hook raised
// KeyboardInterrupt/SystemExit, the block is recorded).
int EnterTracker(TrackerObject* tracker, bool read_memory);
int ExitTracker(TrackerObject* tracker, PyObject* exc_type, PyObject* exc);
// Counts (and logs the first) internal error; consumes the pending exception.
void NoteInternalError(HotPathObject* hot, const char* where);
// Imports the logging module NoteInternalError logs with (at module init);
// -1 with a Python exception set on failure.
int ImportLoggingOnce();

// The async forms of __enter__/__exit__ (listed in kTrackerMethods).
PyObject* TrackerAEnterMethod(PyObject* self, PyObject* args);
PyObject* TrackerAExitMethod(PyObject* self, PyObject* const* args,
                             Py_ssize_t nargs);

// ---- ready_type.cpp
// Readies _core._Ready and adds it to `module`.
int ReadyReadyType(PyObject* module);
// An awaitable that completes at once with `value` (new reference).
PyObject* NewReady(PyObject* value);

// ---- hot_path_dimensions.cpp
// The objects a record's text views (model, response model, error type and
// message), held once Python code may run while the block is recorded
// (str() of a metadata or dimension value), so that code cannot free them.
// A block whose values are all immutable holds nothing.
struct HeldText {
  bool held = false;
  PyObject* model = nullptr;
  PyObject* response_model = nullptr;
  PyObject* error_type = nullptr;
  PyObject* error_message = nullptr;
  // Takes references to these (each may be NULL); once only.
  void Hold(PyObject* m, PyObject* r, PyObject* t, PyObject* e) {
    if (held) return;
    held = true;
    model = Py_XNewRef(m);
    response_model = Py_XNewRef(r);
    error_type = Py_XNewRef(t);
    error_message = Py_XNewRef(e);
  }
  void Release() {
    held = false;
    Py_CLEAR(model);
    Py_CLEAR(response_model);
    Py_CLEAR(error_type);
    Py_CLEAR(error_message);
  }
};

// Records `rec` once more per declared dimension the block has a value for.
// `held`: what the record's text views, held by the caller (this holds it
// before running any Python code if the caller has not).
void RecordDimensions(TrackerObject* self, const OperationRecord& rec,
                      HeldText* held);
// HotPath.set_dimensions(tuple of str | None).
PyObject* HotSetDimensions(PyObject* self, PyObject* dims);

// ---- tracker_record_text.cpp
// The model this block asked for: op.model, else a str metadata["model"],
// else the model the response named; NULL when none (borrowed).
PyObject* ModelOf(TrackerObject* self);
// Holds the objects a record of `self` views (once; see HeldText).
void HoldRecordText(TrackerObject* self, HeldText* held);
// Fills rec's model, response model, model usage handle, metadata text and
// text key for a block that has any of them (`scratch` holds the text when
// the JSON cache cannot). May run Python code; holds what rec views first.
void DescribeModelAndMetadata(TrackerObject* self, OperationRecord* rec,
                              std::string* scratch, HeldText* held);

// ---- tracker_properties.cpp
extern PyGetSetDef kTrackerGetSet[];
extern PyMethodDef kTrackerMethods[];
// Interns the attribute names TrackerSetAttr tests; -1 on failure.
int InitTrackerAttributeNames();
// tp_setattro: the token counts directly, everything else generically
// (the getset table above is the one definition of what is settable).
int TrackerSetAttr(PyObject* self, PyObject* name, PyObject* value);
// Adds _core._set_usage_extractor to `module`.
int RegisterUsageExtractor(PyObject* module);

// ---- span_stack.cpp
int ReadySpanStackType();
// The current context's stack (borrowed from the context), creating it on
// the context's first block; NULL with an exception on failure.
SpanStackObject* CurrentStack(HotPathObject* hot);
// Drops `st` from its HotPath's one-entry cache.
void ForgetCachedStack(SpanStackObject* st);

// ---- hot_path_type.cpp
// ResolveOperation plus the cache by address: the borrowed (id, name) entry
// of an operation (str or str-valued Enum) and its id in `*id`; NULL with an
// exception.
PyObject* ResolveSlow(HotPathObject* hot, PyObject* op, int* id);
// The HotPath whose bound track_operation `callable` is (borrowed), or NULL
// for any other callable (a monitor subclass overriding track_operation).
HotPathObject* HotPathOfTrackOperation(PyObject* callable);
inline PyObject* ResolveCached(HotPathObject* hot, PyObject* op, int* id) {
  const ResolvedOperation& last = hot->resolved[hot->resolved_last];
  if (last.op == op) {  // a loop tracking one name
    *id = last.id;
    return last.entry;
  }
  return ResolveSlow(hot, op, id);
}

// ---- hot_path_record.cpp
// HotPath.record(operation, duration_s, ...): METH_FASTCALL | METH_KEYWORDS.
PyObject* HotRecord(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                    PyObject* kwnames);

}  // namespace ragperf::bindings

#endif  // RAGPERF_BINDINGS_TRACKER_OBJECTS_H_

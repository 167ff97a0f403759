// Copyright 2026 The ragperf Authors.
//
// Plain CPython types for the per-block hot path; see the header for why.

#include "operation_tracker_type.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <cstddef>
#include <new>
#include <limits>
#include <string>
#include <utility>

#include <vector>

#include "absl/base/attributes.h"
#include "fast_with_slots.h"
#include "metadata_json.h"
#include "ragperf/gpu_monitor.h"
#include "ragperf/rss_cache.h"
#include "ragperf/saturating.h"

// CPython's type and method tables are designed to be partially initialised
// (unset slots are zero); spelling out every slot would hide the ones we set.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace ragperf::bindings {
namespace {

constexpr double kBytesPerMb = 1024.0 * 1024.0;

enum TrackerState : int { kNew = 0, kEntered = 1, kExited = 2 };

constexpr int kTraceRingSize = 100;      // recent root operations kept
constexpr Py_ssize_t kMaxSpansPerTrace = 1000;  // descendants kept per root

struct HotPathObject {
  PyObject_HEAD
  std::shared_ptr<PerformanceMonitor>* owner;  // keeps the monitor alive
  PerformanceMonitor* monitor;
  // name object (str, str subclass such as OperationType) -> (id, plain str)
  PyObject* ids;
  PyObject* last_op;     // strong; the last operation object resolved
  PyObject* last_entry;  // strong; its (id, name) entry
  PyObject* current;     // ContextVar: the innermost active tracker
  PyObject* exit_hook;   // callable(tracker) after each block, or NULL
  std::vector<int32_t>* in_flight;  // active blocks per operation id
  PyObject* traces[kTraceRingSize];  // strong; finished root trackers
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
  // undeclared metadata costs one pointer test per block.
  PyObject* dimensions;
  // operation name -> dimension -> value (str) -> series id (int); values
  // mapped to "__other__" are not cached, so this stays bounded.
  PyObject* dimension_ids;
};

struct TrackerObject {
  PyObject_HEAD
  vectorcallfunc vectorcall;  // TrackerVectorcall: see fast_with_slots.h
  HotPathObject* hot;  // strong reference
  PyObject* name;      // plain str
  PyObject* metadata;  // dict, created lazily; NULL when none
  int op_id;
  int state;
  int64_t start_ns;
  int64_t rss_start_bytes;  // -1 when memory was not measured
  int64_t tokens;
  int64_t prompt_tokens;
  int64_t completion_tokens;
  bool tokens_set;
  bool success;
  bool cancelled;  // ended by a cancellation (see IsCancellation)
  double duration_s;
  double memory_delta_mb;
  bool has_memory_delta;
  double gpu_start_mb;  // < 0 when GPU memory was not measured
  double gpu_memory_delta_mb;
  bool has_gpu_memory_delta;
  // Nesting. `parent` and `root` are held only while active; `spans` (on a
  // root) holds its finished descendants.
  PyObject* stack;      // the SpanStack this block was pushed on, while active
  PyObject* parent;
  PyObject* root;
  PyObject* spans;
  uint64_t span_id;
  uint64_t parent_id;
  uint64_t trace_id;
  int depth;
  int64_t dropped_spans;
  double end_wall_s;
  // Streams.
  int64_t first_token_ns;  // 0 = no token yet
  int64_t last_token_ns;   // the previous add_tokens() call
  int cache_hit;           // -1 unset, 0 miss, 1 hit
  PyObject* model;         // explicit (requested) model (str) or NULL
  PyObject* response_model;  // the model the response named (str) or NULL
  PyObject* error_type;    // str after a failed block, else NULL
  PyObject* error_message; // str after a failed block, else NULL
};

struct ReadyObject {
  PyObject_HEAD
  PyObject* value;  // delivered once through StopIteration, then NULL
};

PyTypeObject HotPathType = {PyVarObject_HEAD_INIT(nullptr, 0)};
PyTypeObject TrackerType = {PyVarObject_HEAD_INIT(nullptr, 0)};
PyTypeObject ReadyType = {PyVarObject_HEAD_INIT(nullptr, 0)};

// ---------------------------------------------------------------- Ready ----
// The awaitable that __aenter__/__aexit__ return: completes at once.

PyObject* NewReady(PyObject* value) {
  ReadyObject* r = PyObject_New(ReadyObject, &ReadyType);
  if (r == nullptr) return nullptr;
  Py_INCREF(value);
  r->value = value;
  return reinterpret_cast<PyObject*>(r);
}

void ReadyDealloc(PyObject* self) {
  Py_XDECREF(reinterpret_cast<ReadyObject*>(self)->value);
  PyObject_Free(self);
}

PyObject* ReadyAwait(PyObject* self) {
  Py_INCREF(self);
  return self;
}

PyObject* ReadyNext(PyObject* self) {
  ReadyObject* r = reinterpret_cast<ReadyObject*>(self);
  if (r->value == nullptr) return nullptr;  // exhausted
  // Wrap the value in an instance so tuples/exceptions are not unpacked.
  PyObject* stop = PyObject_CallOneArg(PyExc_StopIteration, r->value);
  Py_CLEAR(r->value);
  if (stop == nullptr) return nullptr;
  PyErr_SetObject(PyExc_StopIteration, stop);
  Py_DECREF(stop);
  return nullptr;
}

PyAsyncMethods ReadyAsync = {ReadyAwait, nullptr, nullptr, nullptr};

// -------------------------------------------------------------- helpers ----

// Reads a non-negative int token count; -1 with an exception set otherwise.
int ParseTokenCount(PyObject* value, const char* field, int64_t* out) {
  if (value == nullptr) {
    PyErr_Format(PyExc_AttributeError, "cannot delete %s", field);
    return -1;
  }
  if (PyBool_Check(value) || !PyIndex_Check(value)) {
    PyErr_Format(PyExc_TypeError, "%s must be a non-negative int, got %R (%s)",
                 field, value, Py_TYPE(value)->tp_name);
    return -1;
  }
  // PyNumber_Index accepts int subclasses and integer-like types (numpy).
  PyObject* as_int = PyNumber_Index(value);
  if (as_int == nullptr) return -1;
  int overflow = 0;
  const long long n = PyLong_AsLongLongAndOverflow(as_int, &overflow);
  Py_DECREF(as_int);
  if (n == -1 && PyErr_Occurred()) return -1;
  if (overflow != 0 || n < 0) {
    PyErr_Format(PyExc_ValueError,
                 "%s must be a non-negative int below 2**63, got %R", field,
                 value);
    return -1;
  }
  *out = n;
  return 0;
}

// A new dict copied from `mapping` (any object with keys(), e.g. a dict or
// MappingProxyType), or NULL with a TypeError naming the value.
PyObject* CopyMetadata(PyObject* mapping) {
  if (PyDict_Check(mapping)) return PyDict_Copy(mapping);
  if (PyUnicode_Check(mapping) || PyBytes_Check(mapping) ||
      !PyMapping_Check(mapping) || !PyObject_HasAttrString(mapping, "keys")) {
    PyErr_Format(PyExc_TypeError,
                 "metadata must be a dict (or another mapping), got %R (%s)",
                 mapping, Py_TYPE(mapping)->tp_name);
    return nullptr;
  }
  PyObject* copy = PyDict_New();
  if (copy == nullptr) return nullptr;
  if (PyDict_Merge(copy, mapping, 1) != 0) {
    Py_DECREF(copy);
    return nullptr;
  }
  return copy;
}

// Name of an exception type without its module ("ValueError"). Points into
// tp_name, which outlives the call: no allocation on the exit path.
absl::string_view ExceptionTypeName(PyObject* exc_type) {
  if (!PyType_Check(exc_type)) return "Error";
  const char* full = reinterpret_cast<PyTypeObject*>(exc_type)->tp_name;
  const char* dot = std::strrchr(full, '.');
  return dot != nullptr ? absl::string_view(dot + 1) : absl::string_view(full);
}

bool ReadRssBytes(const PerformanceMonitor& monitor, int64_t now_ns,
                  int64_t* rss) {
  return RssCache::Instance().Get(now_ns, monitor.memory_max_age_ns(), rss);
}

PyObject* g_enum_type = nullptr;  // enum.Enum, for operations given as enums

// Resolves an operation (str, str-valued enum) to (id, plain str), caching
// by the object given. Returns a borrowed tuple or NULL with an exception.
// The shared (id, "__other__") entry of names past the operation cap,
// borrowed from hot->ids (kept under the key "__other__").
PyObject* OverflowEntry(HotPathObject* hot, int id) {
  PyObject* name = PyUnicode_FromString("__other__");
  if (name == nullptr) return nullptr;
  PyObject* entry = PyDict_GetItemWithError(hot->ids, name);
  if (entry == nullptr && !PyErr_Occurred()) {
    PyObject* id_obj = PyLong_FromLong(id);
    PyObject* fresh = id_obj != nullptr ? PyTuple_Pack(2, id_obj, name) : nullptr;
    Py_XDECREF(id_obj);
    entry = fresh != nullptr ? PyDict_SetDefault(hot->ids, name, fresh) : nullptr;
    Py_XDECREF(fresh);  // the dict holds it now
  }
  Py_DECREF(name);
  return entry;
}

PyObject* ResolveOperation(HotPathObject* hot, PyObject* op) {
  if (PyUnicode_Check(op)) {
    PyObject* hit = PyDict_GetItemWithError(hot->ids, op);
    if (hit != nullptr) return hit;
    if (PyErr_Occurred()) return nullptr;
  }
  PyObject* value = nullptr;  // the str that names the operation (new ref)
  if (PyUnicode_Check(op)) {
    value = PyUnicode_Substring(op, 0, PyUnicode_GET_LENGTH(op));  // exact str
  } else if (const int is_enum = PyObject_IsInstance(op, g_enum_type);
             is_enum != 0) {
    if (is_enum < 0) return nullptr;
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
    value = PyUnicode_Substring(v, 0, PyUnicode_GET_LENGTH(v));
    Py_DECREF(v);
  } else {
    PyErr_Format(PyExc_TypeError,
                 "operation must be a str or OperationType, got %R (%s)", op,
                 Py_TYPE(op)->tp_name);
    return nullptr;
  }
  if (value == nullptr) return nullptr;
  Py_ssize_t size = 0;
  const char* utf8 = PyUnicode_AsUTF8AndSize(value, &size);  // exact str
  if (utf8 == nullptr) {
    Py_DECREF(value);
    return nullptr;
  }
  if (size == 0 || PyUnicode_GET_LENGTH(value) > 200) {
    PyErr_Format(PyExc_ValueError,
                 "operation name must be 1 to 200 characters, got %R", value);
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
    PyObject* id_obj = PyLong_FromLong(id);
    PyObject* fresh =
        id_obj != nullptr ? PyTuple_Pack(2, id_obj, value) : nullptr;
    Py_XDECREF(id_obj);
    entry = fresh != nullptr ? PyDict_SetDefault(hot->ids, value, fresh)
                             : nullptr;
    Py_XDECREF(fresh);  // the dict holds it now
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

// ResolveOperation plus the one-entry cache update (str-like names only: the
// cache must never hold an object whose name could change).
PyObject* ResolveCached(HotPathObject* hot, PyObject* op) {
  if (op == hot->last_op) return hot->last_entry;
  PyObject* entry = ResolveOperation(hot, op);
  if (entry != nullptr && PyUnicode_Check(op)) {
    Py_INCREF(op);
    Py_XSETREF(hot->last_op, op);
    Py_INCREF(entry);
    Py_XSETREF(hot->last_entry, entry);
  }
  return entry;
}

// -------------------------------------------------------------- Tracker ----

uint64_t g_next_span_id = 0;  // guarded by the GIL

// ------------------------------------------------------------ SpanStack ----
// The innermost active tracker of one context (contextvars.Context: each
// asyncio task and each thread has its own). ContextVar.set() costs two
// allocations per call, so the variable holds a mutable stack instead, set
// once per context; a stack found in a context that does not own it (a task's
// copy of its creator's context) is replaced by a fresh one, so tasks never
// share a stack.
//
// The owner is held by a weak reference: the context holds the stack (as the
// variable's value), so a strong reference back would make every context
// that ran a block a reference cycle, freed only by the cyclic GC. Under an
// ASGI server each request's task context (and all its variables' values)
// then outlived the request, reached the old generation and made full
// collections several times more frequent. A dead owner's weak reference
// answers None, so a new context at the same address is never taken for it.

struct SpanStackObject {
  PyObject_HEAD
  PyObject* owner_ref;  // weak reference to the Context this stack belongs to
  PyObject* top;    // innermost active TrackerObject, or NULL
  HotPathObject* cached_by;  // the HotPath caching this stack, or NULL
};

void ForgetCachedStack(SpanStackObject* st) {
  if (st->cached_by == nullptr) return;
  st->cached_by->cached_context = nullptr;
  st->cached_by->cached_stack = nullptr;
  st->cached_by = nullptr;
}

PyTypeObject SpanStackType = {PyVarObject_HEAD_INIT(nullptr, 0)};

// True when `context` is alive and the stack's owner. Compares addresses
// only, so the referent is never used after the reference is dropped.
inline bool OwnedBy(const SpanStackObject* st, PyObject* context) {
  if (st->owner_ref == nullptr) return false;
#if PY_VERSION_HEX >= 0x030D0000
  PyObject* owner = nullptr;
  if (PyWeakref_GetRef(st->owner_ref, &owner) < 0) {
    PyErr_Clear();
    return false;
  }
  const bool same = owner != nullptr && owner == context;
  Py_XDECREF(owner);
  return same;
#else
  return PyWeakref_GET_OBJECT(st->owner_ref) == context;
#endif
}

int SpanStackTraverse(PyObject* self, visitproc visit, void* arg) {
  SpanStackObject* st = reinterpret_cast<SpanStackObject*>(self);
  Py_VISIT(st->owner_ref);
  Py_VISIT(st->top);
  return 0;
}

int SpanStackClear(PyObject* self) {
  SpanStackObject* st = reinterpret_cast<SpanStackObject*>(self);
  ForgetCachedStack(st);
  Py_CLEAR(st->owner_ref);
  Py_CLEAR(st->top);
  return 0;
}

void SpanStackDealloc(PyObject* self) {
  PyObject_GC_UnTrack(self);
  SpanStackClear(self);
  PyObject_GC_Del(self);
}

// The current context's stack (borrowed from the context), creating it on
// the context's first block. NULL with an exception on failure.
SpanStackObject* LookUpStack(HotPathObject* hot);

// CurrentStack with the one-entry cache: a context's stack never changes
// once set (only this file sets the variable, once per context).
SpanStackObject* CurrentStack(HotPathObject* hot) {
  PyObject* context = PyThreadState_Get()->context;
  if (context != nullptr && context == hot->cached_context &&
      OwnedBy(reinterpret_cast<SpanStackObject*>(hot->cached_stack),
              context)) {
    return reinterpret_cast<SpanStackObject*>(hot->cached_stack);
  }
  SpanStackObject* st = LookUpStack(hot);
  if (st != nullptr && st->owner_ref != nullptr) {
    if (hot->cached_stack != nullptr) {
      ForgetCachedStack(reinterpret_cast<SpanStackObject*>(hot->cached_stack));
    }
    hot->cached_context = PyThreadState_Get()->context;
    hot->cached_stack = reinterpret_cast<PyObject*>(st);
    st->cached_by = hot;
  }
  return st;
}

SpanStackObject* LookUpStack(HotPathObject* hot) {
  PyObject* value = nullptr;
  if (PyContextVar_Get(hot->current, nullptr, &value) < 0) return nullptr;
  // PyContextVar_Get made sure the thread has a current context.
  PyObject* context = PyThreadState_Get()->context;
  if (value != nullptr &&
      OwnedBy(reinterpret_cast<SpanStackObject*>(value), context)) {
    Py_DECREF(value);  // the context keeps it alive
    return reinterpret_cast<SpanStackObject*>(value);
  }
  SpanStackObject* st = PyObject_GC_New(SpanStackObject, &SpanStackType);
  if (st == nullptr) {
    Py_XDECREF(value);
    return nullptr;
  }
  st->owner_ref = nullptr;
  st->cached_by = nullptr;
  // A copied context (a new asyncio task) starts under the block that is
  // innermost in the context it was copied from.
  st->top = value != nullptr
                ? reinterpret_cast<SpanStackObject*>(value)->top
                : nullptr;
  Py_XINCREF(st->top);
  Py_XDECREF(value);
  PyObject_GC_Track(reinterpret_cast<PyObject*>(st));
  PyObject* token =
      PyContextVar_Set(hot->current, reinterpret_cast<PyObject*>(st));
  if (token == nullptr) {
    Py_DECREF(st);
    return nullptr;
  }
  Py_DECREF(token);
  // The thread's context exists now even if it did not before the set.
  context = PyThreadState_Get()->context;
  st->owner_ref = PyWeakref_NewRef(context, nullptr);
  Py_DECREF(st);  // the context holds it
  if (st->owner_ref == nullptr) return nullptr;  // MemoryError set
  return st;
}

// Links `self` under the innermost active tracker of the current context and
// makes it the innermost. Returns -1 with an exception set on failure.
int EnterSpan(TrackerObject* self) {
  SpanStackObject* st = CurrentStack(self->hot);
  if (st == nullptr) return -1;
  PyObject* parent = st->top;
  if (parent != nullptr &&
      reinterpret_cast<TrackerObject*>(parent)->state != kEntered) {
    parent = nullptr;  // an exited tracker left behind by out-of-order exits
  }
  self->span_id = ++g_next_span_id;
  if (parent != nullptr) {
    TrackerObject* p = reinterpret_cast<TrackerObject*>(parent);
    self->parent_id = p->span_id;
    self->trace_id = p->trace_id;
    self->depth = p->depth + 1;
    PyObject* root = p->root != nullptr ? p->root : parent;
    Py_INCREF(root);
    Py_XSETREF(self->root, root);
    Py_INCREF(parent);
    Py_XSETREF(self->parent, parent);
  } else {
    self->parent_id = 0;
    self->trace_id = self->span_id;
    self->depth = 0;
  }
  Py_INCREF(self);
  Py_XSETREF(st->top, reinterpret_cast<PyObject*>(self));
  Py_INCREF(st);
  Py_XSETREF(self->stack, reinterpret_cast<PyObject*>(st));
  return 0;
}

// Pops `self` when it is still the innermost block of its stack (an
// out-of-order exit leaves the later block in place), and hands the finished
// span to its root or, for a root, to the traces ring.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void ExitSpan(TrackerObject* self) {
  HotPathObject* hot = self->hot;
  if (self->stack != nullptr) {
    SpanStackObject* st = reinterpret_cast<SpanStackObject*>(self->stack);
    if (st->top == reinterpret_cast<PyObject*>(self)) {
      PyObject* parent = self->parent;
      Py_XINCREF(parent);
      Py_XSETREF(st->top, parent);
    }
    Py_CLEAR(self->stack);
  }
  PyObject* me = reinterpret_cast<PyObject*>(self);
  if (self->root != nullptr) {
    TrackerObject* root = reinterpret_cast<TrackerObject*>(self->root);
    if (root->spans == nullptr) root->spans = PyList_New(0);
    if (root->spans != nullptr &&
        PyList_GET_SIZE(root->spans) < kMaxSpansPerTrace) {
      if (PyList_Append(root->spans, me) < 0) PyErr_Clear();
    } else {
      PyErr_Clear();
      ++root->dropped_spans;
    }
    Py_CLEAR(self->parent);
    Py_CLEAR(self->root);
  } else {
    Py_INCREF(me);
    Py_XSETREF(hot->traces[hot->trace_next], me);
    if (++hot->trace_next == kTraceRingSize) hot->trace_next = 0;
  }
}

// A finished tracker entered again would rewrite the tree it heads in the
// recent-roots ring: the ring gets a frozen copy (with the old spans and a
// copy of the metadata) first. Rare, so the copy costs nothing per block.
int FreezeInTraceRing(TrackerObject* self) {
  HotPathObject* hot = self->hot;
  for (PyObject*& slot : hot->traces) {
    if (slot != reinterpret_cast<PyObject*>(self)) continue;
    TrackerObject* copy = PyObject_GC_New(TrackerObject, &TrackerType);
    if (copy == nullptr) return -1;
    PyObject* metadata = nullptr;
    if (self->metadata != nullptr &&
        (metadata = PyDict_Copy(self->metadata)) == nullptr) {
      Py_DECREF(copy);
      return -1;
    }
    // Plain fields by copy, then the references one by one.
    std::memcpy(reinterpret_cast<char*>(copy) + sizeof(PyObject),
                reinterpret_cast<char*>(self) + sizeof(PyObject),
                sizeof(TrackerObject) - sizeof(PyObject));
    Py_INCREF(copy->hot);
    Py_INCREF(copy->name);
    Py_XINCREF(copy->model);
    Py_XINCREF(copy->response_model);
    Py_XINCREF(copy->error_type);
    Py_XINCREF(copy->error_message);
    copy->metadata = metadata;
    copy->spans = self->spans;  // moved: the new life starts without spans
    self->spans = nullptr;
    copy->stack = copy->parent = copy->root = nullptr;
    PyObject_GC_Track(reinterpret_cast<PyObject*>(copy));
    Py_SETREF(slot, reinterpret_cast<PyObject*>(copy));
    return 0;
  }
  return 0;
}

PyObject* TrackerEnterImpl(TrackerObject* self) {
  if (self->state == kEntered) {
    PyErr_Format(PyExc_RuntimeError,
                 "the tracker of operation %R is already active; call "
                 "track_operation() again for a nested or concurrent block",
                 self->name);
    return nullptr;
  }
  if (self->state == kExited) {
    // A tracker entered again starts a new life (NewTracker set up the first).
    if (self->depth == 0 && FreezeInTraceRing(self) < 0) return nullptr;
    Py_CLEAR(self->spans);
    self->dropped_spans = 0;
    Py_CLEAR(self->error_type);
    Py_CLEAR(self->error_message);
    self->first_token_ns = 0;
    self->last_token_ns = 0;
  }
  if (EnterSpan(self) < 0) return nullptr;
  self->rss_start_bytes = -1;
  self->gpu_start_mb = -1;
  self->state = kEntered;
  std::vector<int32_t>& in_flight = *self->hot->in_flight;
  if (static_cast<size_t>(self->op_id) >= in_flight.size()) {
    in_flight.resize(static_cast<size_t>(self->op_id) + 1);
  }
  ++in_flight[static_cast<size_t>(self->op_id)];
  if (self->hot->monitor->track_gpu_memory()) {
    // Opt-in and slow (an NVML call that may wait for the sampler's read):
    // before the clock, so it is not timed, and without the GIL.
    absl::StatusOr<double> gpu;
    Py_BEGIN_ALLOW_THREADS
    gpu = GpuMonitor::Default().ProcessMemoryMb();
    Py_END_ALLOW_THREADS
    if (gpu.ok()) self->gpu_start_mb = *gpu;
  }
  int64_t now = SteadyNowNanos();
  if (self->hot->monitor->memory_tracking()) {
    const uint64_t reads = RssCache::Instance().reads();
    int64_t rss = 0;
    if (ReadRssBytes(*self->hot->monitor, now, &rss)) {
      self->rss_start_bytes = rss;
    }
    // A /proc read just happened: restart the clock so it is not timed.
    if (RssCache::Instance().reads() != reads) now = SteadyNowNanos();
  }
  self->start_ns = now;
  return reinterpret_cast<PyObject*>(self);
}

// The model this block asked for: op.model, else a str metadata["model"],
// else (nothing requested) the model the response named; NULL when none
// (borrowed).
PyObject* ModelOf(TrackerObject* self) {
  if (self->model != nullptr) return self->model;
  if (self->metadata == nullptr) return self->response_model;
  PyObject* m = PyDict_GetItemString(self->metadata, "model");
  return m != nullptr && PyUnicode_Check(m) ? m : self->response_model;
}

absl::string_view Utf8View(PyObject* str) {
  Py_ssize_t size = 0;
  const char* utf8 = PyUnicode_AsUTF8AndSize(str, &size);
  if (utf8 == nullptr) {
    PyErr_Clear();
    return {};
  }
  return absl::string_view(utf8, static_cast<size_t>(size));
}

// Fills the failure fields from the exception being propagated.
void NoteFailure(TrackerObject* self, PyObject* exc_type, PyObject* exc) {
  const absl::string_view type = ExceptionTypeName(exc_type);
  Py_XSETREF(self->error_type,
             PyUnicode_FromStringAndSize(type.data(),
                                         static_cast<Py_ssize_t>(type.size())));
  PyObject* message = nullptr;
  if (exc != nullptr && exc != Py_None) message = PyObject_Str(exc);
  if (message == nullptr) {
    PyErr_Clear();
    message = PyUnicode_FromString("");
  }
  Py_XSETREF(self->error_message, message);
  PyErr_Clear();
}

// The monitor's own trouble on the hot path (a failing exit hook such as the
// logging or OpenTelemetry one, an allocation failure while recording) never
// reaches the user's block: it is counted, and the first one per monitor is
// logged on the `ragperf` logger, so a broken exporter cannot flood the log
// once per block. Consumes the pending Python exception, if any.
ABSL_ATTRIBUTE_NOINLINE void NoteInternalError(HotPathObject* hot,
                                               const char* where) {
  PyObject* type = nullptr;
  PyObject* value = nullptr;
  PyObject* traceback = nullptr;
  PyErr_Fetch(&type, &value, &traceback);
  if (hot->internal_errors++ == 0) {
    PyObject* detail = value != nullptr ? PyObject_Repr(value) : nullptr;
    if (detail == nullptr) PyErr_Clear();
    PyObject* message = PyUnicode_FromFormat(
        "ragperf: internal error while %s: %s; the tracked code was not "
        "affected. Later internal errors are only counted "
        "(monitor.get_internal_error_count()).",
        where, detail != nullptr ? PyUnicode_AsUTF8(detail) : "C++ exception");
    PyObject* logging = PyImport_ImportModule("logging");
    PyObject* logger = logging != nullptr
                           ? PyObject_CallMethod(logging, "getLogger", "s",
                                                 "ragperf")
                           : nullptr;
    PyObject* r = logger != nullptr && message != nullptr
                      ? PyObject_CallMethod(logger, "error", "O", message)
                      : nullptr;
    if (r == nullptr) PyErr_Clear();
    Py_XDECREF(r);
    Py_XDECREF(logger);
    Py_XDECREF(logging);
    Py_XDECREF(message);
    Py_XDECREF(detail);
  }
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(traceback);
}

// Calls the monitor's exit hook (if any). Its failures are internal errors, except a
// KeyboardInterrupt/SystemExit raised inside it, which must not be lost:
// then -1 with that exception set (the block is recorded already).
ABSL_ATTRIBUTE_NOINLINE int CallExitHook(TrackerObject* self) {
  PyObject* hook = self->hot->exit_hook;
  Py_INCREF(hook);
  PyObject* r = PyObject_CallOneArg(hook, reinterpret_cast<PyObject*>(self));
  Py_DECREF(hook);
  if (r != nullptr) {
    Py_DECREF(r);
    return 0;
  }
  if (!PyErr_ExceptionMatches(PyExc_Exception)) return -1;
  NoteInternalError(self->hot, "running an exit hook (logging, OpenTelemetry)");
  return 0;
}

// KeyboardInterrupt, SystemExit, GeneratorExit, asyncio.CancelledError: every
// BaseException that is not an Exception ends a block without it failing.
bool IsCancellation(PyObject* exc_type) {
  return PyType_Check(exc_type) &&
         !PyType_IsSubtype(reinterpret_cast<PyTypeObject*>(exc_type),
                           reinterpret_cast<PyTypeObject*>(PyExc_Exception));
}

// A cancelled block counts as cancelled only: no duration, no failure.
ABSL_ATTRIBUTE_NOINLINE int FinishCancelled(TrackerObject* self,
                                            int64_t end_ns) {
  self->cancelled = true;
  self->success = false;
  self->duration_s = static_cast<double>(end_ns - self->start_ns) * 1e-9;
  self->end_wall_s = WallSecondsAt(end_ns);
  try {
    self->hot->monitor->tracker().RecordCancelled(self->op_id,
                                                  self->end_wall_s);
  } catch (...) {
    NoteInternalError(self->hot, "recording a cancelled block");
  }
  ExitSpan(self);
  return self->hot->exit_hook == nullptr ? 0 : CallExitHook(self);
}

// dimension_ids[a][b], created on first use (borrowed), or NULL.
PyObject* SubDict(PyObject* dict, PyObject* key) {
  PyObject* sub = PyDict_GetItemWithError(dict, key);
  if (sub != nullptr || PyErr_Occurred()) return sub;
  sub = PyDict_New();
  if (sub == nullptr) return nullptr;
  const int rc = PyDict_SetItem(dict, key, sub);
  Py_DECREF(sub);  // the dict holds it
  return rc == 0 ? sub : nullptr;
}

// The series id of (operation, dimension, value), -1 with an exception set
// on failure. `value` is a str.
int DimensionSeries(TrackerObject* self, PyObject* dimension, PyObject* value) {
  HotPathObject* hot = self->hot;
  PyObject* per_op = SubDict(hot->dimension_ids, self->name);
  PyObject* per_dim = per_op != nullptr ? SubDict(per_op, dimension) : nullptr;
  if (per_dim == nullptr) return -1;
  PyObject* cached = PyDict_GetItemWithError(per_dim, value);
  if (cached != nullptr) return static_cast<int>(PyLong_AsLong(cached));
  if (PyErr_Occurred()) return -1;
  bool overflowed = false;
  const int id = hot->monitor->dimensions().Intern(
      Utf8View(self->name), Utf8View(dimension), Utf8View(value), &overflowed);
  if (!overflowed) {
    PyObject* id_obj = PyLong_FromLong(id);
    if (id_obj == nullptr || PyDict_SetItem(per_dim, value, id_obj) < 0) {
      Py_XDECREF(id_obj);
      return -1;
    }
    Py_DECREF(id_obj);
  }
  return id;
}

// Records the block once more per declared dimension it has a value for:
// metadata[dimension] (op.model or metadata["model"] for "model"); None or
// missing = not recorded for that dimension. Non-str values count as str().
ABSL_ATTRIBUTE_NOINLINE void RecordDimensions(TrackerObject* self,
                                              const OperationRecord& rec) {
  PyObject* dims = self->hot->dimensions;
  for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(dims); ++i) {
    PyObject* dimension = PyTuple_GET_ITEM(dims, i);
    PyObject* value = nullptr;
    if (PyUnicode_CompareWithASCIIString(dimension, "model") == 0) {
      value = ModelOf(self);
    } else if (self->metadata != nullptr) {
      value = PyDict_GetItemWithError(self->metadata, dimension);
    }
    if (value == nullptr || value == Py_None) {
      if (PyErr_Occurred()) NoteInternalError(self->hot, "reading a dimension");
      continue;
    }
    PyObject* text = PyUnicode_CheckExact(value) ? Py_NewRef(value)
                                                  : PyObject_Str(value);
    const int id = text != nullptr ? DimensionSeries(self, dimension, text) : -1;
    Py_XDECREF(text);
    if (id < 0) {
      NoteInternalError(self->hot, "recording a dimension");
      continue;
    }
    try {
      self->hot->monitor->RecordDimension(id, rec);
    } catch (...) {
      NoteInternalError(self->hot, "recording a dimension");
    }
  }
}

// Records the block. Never raises into user code for internal trouble.
int TrackerExitImpl(TrackerObject* self, PyObject* exc_type, PyObject* exc) {
  const int64_t end_ns = SteadyNowNanos();  // first, so our work is not timed
  if (self->state != kEntered) {
    PyErr_Format(PyExc_RuntimeError,
                 "__exit__ called on the tracker of operation %R without "
                 "__enter__",
                 self->name);
    return -1;
  }
  self->state = kExited;
  --(*self->hot->in_flight)[static_cast<size_t>(self->op_id)];
  OperationRecord rec;
  rec.duration_s = static_cast<double>(end_ns - self->start_ns) * 1e-9;
  double rss_end_mb = -1;
  self->has_memory_delta = false;
  if (self->rss_start_bytes >= 0) {
    int64_t rss_end = 0;
    if (ReadRssBytes(*self->hot->monitor, end_ns, &rss_end)) {
      rss_end_mb = static_cast<double>(rss_end) / kBytesPerMb;
      rec.has_memory_delta = true;
      rec.memory_delta_mb =
          static_cast<double>(rss_end - self->rss_start_bytes) / kBytesPerMb;
      self->has_memory_delta = true;
      self->memory_delta_mb = rec.memory_delta_mb;
    }
  }
  self->has_gpu_memory_delta = false;
  if (self->gpu_start_mb >= 0) {
    absl::StatusOr<double> gpu;
    Py_BEGIN_ALLOW_THREADS
    gpu = GpuMonitor::Default().ProcessMemoryMb();
    Py_END_ALLOW_THREADS
    if (gpu.ok()) {
      rec.has_gpu_memory_delta = true;
      rec.gpu_memory_delta_mb = *gpu - self->gpu_start_mb;
      self->has_gpu_memory_delta = true;
      self->gpu_memory_delta_mb = rec.gpu_memory_delta_mb;
    }
  }
  rec.success = exc_type == nullptr || exc_type == Py_None;
  self->cancelled = false;
  if (!rec.success) {
    NoteFailure(self, exc_type, exc);
    if (IsCancellation(exc_type)) return FinishCancelled(self, end_ns);
    rec.error_type = Utf8View(self->error_type);
    rec.error_message = Utf8View(self->error_message);
  }
  if (self->first_token_ns != 0) {
    rec.has_time_to_first_token = true;
    rec.time_to_first_token_s =
        static_cast<double>(std::max<int64_t>(0, self->first_token_ns -
                                                     self->start_ns)) *
        1e-9;
  }
  if (PyObject* model = ModelOf(self)) {
    rec.model = Utf8View(model);
    if (self->response_model != nullptr) {
      rec.response_model = Utf8View(self->response_model);
    }
  }
  std::string metadata_json;
  if (self->metadata != nullptr && PyDict_GET_SIZE(self->metadata) > 0) {
    MetadataToJson(self->metadata, &metadata_json);
    rec.metadata_json = metadata_json;
  }
  rec.cache_hit = self->cache_hit;
  rec.span_id = self->span_id;
  rec.parent_id = self->parent_id;
  rec.trace_id = self->trace_id;
  rec.depth = self->depth;
  rec.prompt_tokens = self->prompt_tokens;
  rec.completion_tokens = self->completion_tokens;
  rec.tokens = self->tokens_set
                   ? self->tokens
                   : SaturatingAdd(self->prompt_tokens, self->completion_tokens);
  rec.timestamp_s = WallSecondsAt(end_ns);
  self->end_wall_s = rec.timestamp_s;
  self->success = rec.success;
  self->duration_s = rec.duration_s;
  try {
    self->hot->monitor->Record(self->op_id, rec, rss_end_mb);
  } catch (...) {
    // Out of memory inside the monitor: drop this record rather than
    // replacing the user's exception or result with ours.
    NoteInternalError(self->hot, "recording a block");
  }
  if (self->hot->dimensions != nullptr) RecordDimensions(self, rec);
  ExitSpan(self);
  return self->hot->exit_hook == nullptr ? 0 : CallExitHook(self);
}

PyObject* TrackerEnter(PyObject* self, PyObject*) {
  PyObject* r = TrackerEnterImpl(reinterpret_cast<TrackerObject*>(self));
  Py_XINCREF(r);
  return r;
}

PyObject* TrackerExit(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 3) {
    PyErr_Format(PyExc_TypeError, "__exit__ takes 3 arguments, got %zd",
                 nargs);
    return nullptr;
  }
  if (TrackerExitImpl(reinterpret_cast<TrackerObject*>(self), args[0],
                      args[1]) != 0) {
    return nullptr;
  }
  Py_RETURN_FALSE;  // never swallow the user's exception
}

PyObject* TrackerAEnter(PyObject* self, PyObject*) {
  PyObject* r = TrackerEnterImpl(reinterpret_cast<TrackerObject*>(self));
  return r == nullptr ? nullptr : NewReady(r);
}

PyObject* TrackerAExit(PyObject* self, PyObject* const* args,
                       Py_ssize_t nargs) {
  if (nargs != 3) {
    PyErr_Format(PyExc_TypeError, "__aexit__ takes 3 arguments, got %zd",
                 nargs);
    return nullptr;
  }
  if (TrackerExitImpl(reinterpret_cast<TrackerObject*>(self), args[0],
                      args[1]) != 0) {
    return nullptr;
  }
  return NewReady(Py_False);
}

// The with statement's calls of the instance-bound __enter__ (no arguments)
// and __exit__ (type, value, traceback); see fast_with_slots.h.
PyObject* TrackerVectorcall(PyObject* self, PyObject* const* args,
                            size_t nargsf, PyObject* kwnames) {
  const Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
  if (kwnames == nullptr || PyTuple_GET_SIZE(kwnames) == 0) {
    if (nargs == 0) return TrackerEnter(self, nullptr);
    if (nargs == 3) return TrackerExit(self, args, nargs);
  }
  PyErr_Format(PyExc_TypeError,
               "an OperationTracker is called only as its own __enter__() "
               "(no arguments) or __exit__(exc_type, exc, traceback); got %zd "
               "positional and %zd keyword arguments",
               nargs, kwnames == nullptr ? Py_ssize_t{0} : PyTuple_GET_SIZE(kwnames));
  return nullptr;
}

int TrackerTraverse(PyObject* self, visitproc visit, void* arg) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  Py_VISIT(reinterpret_cast<PyObject*>(t->hot));
  Py_VISIT(t->metadata);
  Py_VISIT(t->stack);
  Py_VISIT(t->parent);
  Py_VISIT(t->root);
  Py_VISIT(t->spans);
  Py_VISIT(t->model);
  Py_VISIT(t->response_model);
  return 0;
}

int TrackerClear(PyObject* self) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  Py_CLEAR(t->metadata);
  Py_CLEAR(t->stack);
  Py_CLEAR(t->parent);
  Py_CLEAR(t->root);
  Py_CLEAR(t->spans);
  Py_CLEAR(t->model);
  Py_CLEAR(t->response_model);
  return 0;
}

// Trackers live for one block; reusing a few freed ones skips the GC
// allocator on every block (as CPython does for floats and tuples). Guarded
// by the GIL, like every access to these objects.
constexpr int kFreeListMax = 32;
TrackerObject* g_free_list[kFreeListMax];
int g_free_count = 0;

void TrackerDealloc(PyObject* self) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  PyObject_GC_UnTrack(self);
  if (t->state == kEntered && t->hot != nullptr) {
    // Abandoned while active: no longer in flight.
    --(*t->hot->in_flight)[static_cast<size_t>(t->op_id)];
  }
  TrackerClear(self);
  Py_CLEAR(t->error_type);
  Py_CLEAR(t->error_message);
  Py_CLEAR(t->name);
  Py_CLEAR(t->hot);
  if (Py_TYPE(self) == &TrackerType && g_free_count < kFreeListMax) {
    g_free_list[g_free_count++] = t;
    return;
  }
  PyObject_GC_Del(self);
}

PyObject* TrackerRepr(PyObject* self) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  static const char* kStates[] = {"new", "active", "done"};
  return PyUnicode_FromFormat("<ragperf OperationTracker %R %s>", t->name,
                              kStates[t->state]);
}

#define RAGPERF_TOKEN_PROPERTY(field)                                        \
  PyObject* Get_##field(PyObject* self, void*) {                            \
    TrackerObject* t = reinterpret_cast<TrackerObject*>(self);              \
    return PyLong_FromLongLong(t->field);                                   \
  }                                                                          \
  int Set_##field(PyObject* self, PyObject* value, void*) {                 \
    return ParseTokenCount(value, #field,                                   \
                           &reinterpret_cast<TrackerObject*>(self)->field); \
  }

RAGPERF_TOKEN_PROPERTY(prompt_tokens)
RAGPERF_TOKEN_PROPERTY(completion_tokens)
#undef RAGPERF_TOKEN_PROPERTY

PyObject* GetTokens(PyObject* self, void*) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  return PyLong_FromLongLong(
      t->tokens_set ? t->tokens
                    : SaturatingAdd(t->prompt_tokens, t->completion_tokens));
}

int SetTokens(PyObject* self, PyObject* value, void*) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  if (ParseTokenCount(value, "tokens", &t->tokens) != 0) return -1;
  t->tokens_set = true;
  return 0;
}

PyObject* GetMetadata(PyObject* self, void*) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  if (t->metadata == nullptr) {
    t->metadata = PyDict_New();
    if (t->metadata == nullptr) return nullptr;
  }
  Py_INCREF(t->metadata);
  return t->metadata;
}

int SetMetadata(PyObject* self, PyObject* value, void*) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  if (value == nullptr || value == Py_None) {
    Py_CLEAR(t->metadata);
    return 0;
  }
  PyObject* copy = CopyMetadata(value);
  if (copy == nullptr) return -1;
  Py_XSETREF(t->metadata, copy);
  return 0;
}

PyObject* GetOperation(PyObject* self, void*) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  Py_INCREF(t->name);
  return t->name;
}

PyObject* GetDuration(PyObject* self, void*) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  if (t->state != kExited) Py_RETURN_NONE;
  return PyFloat_FromDouble(t->duration_s);
}

PyObject* GetSuccess(PyObject* self, void*) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  if (t->state != kExited) Py_RETURN_NONE;
  return PyBool_FromLong(t->success);
}

PyObject* GetCancelled(PyObject* self, void*) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  return PyBool_FromLong(t->state == kExited && t->cancelled);
}

PyObject* GetMemoryDelta(PyObject* self, void*) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  if (t->state != kExited || !t->has_memory_delta) Py_RETURN_NONE;
  return PyFloat_FromDouble(t->memory_delta_mb);
}

PyObject* GetGpuMemoryDelta(PyObject* self, void*) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  if (t->state != kExited || !t->has_gpu_memory_delta) Py_RETURN_NONE;
  return PyFloat_FromDouble(t->gpu_memory_delta_mb);
}

PyObject* GetActive(PyObject* self, void*) {
  return PyBool_FromLong(reinterpret_cast<TrackerObject*>(self)->state ==
                         kEntered);
}

// --------------------------------------------------- streams and usage ----

int RequireActive(TrackerObject* t, const char* what) {
  if (t->state == kEntered) return 0;
  PyErr_Format(PyExc_RuntimeError,
               "%s() needs an active block: call it inside `with "
               "monitor.track_operation(%R) as op:`",
               what, t->name);
  return -1;
}

PyObject* TrackerMarkFirstToken(PyObject* self, PyObject*) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  if (RequireActive(t, "mark_first_token") < 0) return nullptr;
  if (t->first_token_ns == 0) t->first_token_ns = SteadyNowNanos();
  Py_RETURN_NONE;
}

// add_tokens(n=1): n completion tokens arrived now.
PyObject* TrackerAddTokens(PyObject* self, PyObject* const* args,
                           Py_ssize_t nargs) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  if (nargs > 1) {
    PyErr_Format(PyExc_TypeError, "add_tokens() takes at most 1 argument (%zd given)",
                 nargs);
    return nullptr;
  }
  int64_t n = 1;
  if (nargs == 1 && ParseTokenCount(args[0], "add_tokens() count", &n) != 0) {
    return nullptr;
  }
  if (RequireActive(t, "add_tokens") < 0) return nullptr;
  if (n == 0) Py_RETURN_NONE;
  const int64_t now = SteadyNowNanos();
  if (t->first_token_ns == 0) t->first_token_ns = now;
  if (t->last_token_ns != 0) {
    try {
      t->hot->monitor->tracker().RecordInterTokenGap(
          t->op_id, static_cast<double>(now - t->last_token_ns) * 1e-9, n,
          WallSecondsAt(now));
    } catch (...) {
      // Out of memory: lose this gap, not the user's stream.
    }
  }
  t->last_token_ns = now;
  t->completion_tokens = SaturatingAdd(t->completion_tokens, n);
  if (t->tokens_set) t->tokens = SaturatingAdd(t->tokens, n);
  Py_RETURN_NONE;
}

PyObject* g_extract_usage = nullptr;  // ragperf.usage.extract_usage, lazily

// set_usage(response) -> bool: token counts (and the response's model) from
// an OpenAI-style response or streamed chunk. Sets, never adds. The model
// the response names becomes response_model; op.model (the requested one)
// is not changed, and reads the response's model only when none was asked
// for (see ModelOf).
PyObject* TrackerSetUsage(PyObject* self, PyObject* response) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  if (g_extract_usage == nullptr) {
    PyObject* module = PyImport_ImportModule("ragperf.usage");
    if (module == nullptr) return nullptr;
    g_extract_usage = PyObject_GetAttrString(module, "extract_usage");
    Py_DECREF(module);
    if (g_extract_usage == nullptr) return nullptr;
  }
  PyObject* usage = PyObject_CallOneArg(g_extract_usage, response);
  if (usage == nullptr) return nullptr;
  if (usage == Py_None) {
    Py_DECREF(usage);
    Py_RETURN_FALSE;
  }
  int64_t prompt = 0, completion = 0, total = 0;
  PyObject* p = PyObject_GetAttrString(usage, "prompt_tokens");
  PyObject* c = p ? PyObject_GetAttrString(usage, "completion_tokens") : nullptr;
  PyObject* tot = c ? PyObject_GetAttrString(usage, "total_tokens") : nullptr;
  PyObject* model = tot ? PyObject_GetAttrString(usage, "model") : nullptr;
  const bool ok = model != nullptr &&
                  ParseTokenCount(p, "prompt_tokens", &prompt) == 0 &&
                  ParseTokenCount(c, "completion_tokens", &completion) == 0 &&
                  ParseTokenCount(tot, "total_tokens", &total) == 0;
  if (ok) {
    t->prompt_tokens = prompt;
    t->completion_tokens = completion;
    t->tokens = total;
    t->tokens_set = true;
    if (PyUnicode_Check(model) && PyUnicode_GET_LENGTH(model) > 0) {
      Py_INCREF(model);
      Py_XSETREF(t->response_model, model);
    }
  }
  Py_XDECREF(p);
  Py_XDECREF(c);
  Py_XDECREF(tot);
  Py_XDECREF(model);
  Py_DECREF(usage);
  if (!ok) return nullptr;
  Py_RETURN_TRUE;
}

PyObject* OptionalDouble(bool known, double value) {
  if (!known) Py_RETURN_NONE;
  return PyFloat_FromDouble(value);
}

PyObject* OptionalObject(PyObject* value) {
  if (value == nullptr) Py_RETURN_NONE;
  Py_INCREF(value);
  return value;
}

PyObject* GetTimeToFirstToken(PyObject* self, void*) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  return OptionalDouble(
      t->first_token_ns != 0,
      static_cast<double>(t->first_token_ns - t->start_ns) * 1e-9);
}

PyObject* GetModel(PyObject* self, void*) {
  return OptionalObject(ModelOf(reinterpret_cast<TrackerObject*>(self)));
}

// Sets a model field (op.model, op.response_model): a str of 1 to 200
// characters, or None/del to clear.
int SetModelField(PyObject** field, const char* name, PyObject* value) {
  if (value == nullptr || value == Py_None) {
    Py_CLEAR(*field);
    return 0;
  }
  if (!PyUnicode_Check(value) || PyUnicode_GET_LENGTH(value) == 0 ||
      PyUnicode_GET_LENGTH(value) > 200) {
    PyErr_Format(PyExc_TypeError,
                 "%s must be a str of 1 to 200 characters or None, got %R",
                 name, value);
    return -1;
  }
  Py_INCREF(value);
  Py_XSETREF(*field, value);
  return 0;
}

int SetModel(PyObject* self, PyObject* value, void*) {
  return SetModelField(&reinterpret_cast<TrackerObject*>(self)->model, "model",
                       value);
}

PyObject* GetResponseModel(PyObject* self, void*) {
  return OptionalObject(reinterpret_cast<TrackerObject*>(self)->response_model);
}

int SetResponseModel(PyObject* self, PyObject* value, void*) {
  return SetModelField(
      &reinterpret_cast<TrackerObject*>(self)->response_model, "response_model",
      value);
}

PyObject* GetCacheHit(PyObject* self, void*) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  if (t->cache_hit < 0) Py_RETURN_NONE;
  return PyBool_FromLong(t->cache_hit);
}

int SetCacheHit(PyObject* self, PyObject* value, void*) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  if (value == nullptr || value == Py_None) {
    t->cache_hit = -1;
    return 0;
  }
  if (!PyBool_Check(value)) {
    PyErr_Format(PyExc_TypeError, "cache_hit must be True, False or None, got %R",
                 value);
    return -1;
  }
  t->cache_hit = value == Py_True ? 1 : 0;
  return 0;
}

PyObject* GetErrorType(PyObject* self, void*) {
  return OptionalObject(reinterpret_cast<TrackerObject*>(self)->error_type);
}

PyObject* GetErrorMessage(PyObject* self, void*) {
  return OptionalObject(reinterpret_cast<TrackerObject*>(self)->error_message);
}

PyObject* GetSpanId(PyObject* self, void*) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  if (t->span_id == 0) Py_RETURN_NONE;
  return PyLong_FromUnsignedLongLong(t->span_id);
}

PyObject* GetParentId(PyObject* self, void*) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  if (t->parent_id == 0) Py_RETURN_NONE;
  return PyLong_FromUnsignedLongLong(t->parent_id);
}

PyObject* GetTraceId(PyObject* self, void*) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  if (t->trace_id == 0) Py_RETURN_NONE;
  return PyLong_FromUnsignedLongLong(t->trace_id);
}

PyObject* GetDepth(PyObject* self, void*) {
  return PyLong_FromLong(reinterpret_cast<TrackerObject*>(self)->depth);
}

PyObject* GetEndTime(PyObject* self, void*) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  return OptionalDouble(t->state == kExited, t->end_wall_s);
}

PyObject* GetStartTime(PyObject* self, void*) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  return OptionalDouble(t->state == kExited, t->end_wall_s - t->duration_s);
}

PyObject* GetCost(PyObject* self, void*) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  PyObject* model = ModelOf(t);
  if (model == nullptr) Py_RETURN_NONE;
  const absl::string_view response_model =
      t->response_model != nullptr ? Utf8View(t->response_model)
                                   : absl::string_view();
  const std::optional<double> cost = t->hot->monitor->models().CostOf(
      Utf8View(model), response_model, t->prompt_tokens, t->completion_tokens,
      t->tokens_set ? t->tokens
                    : SaturatingAdd(t->prompt_tokens, t->completion_tokens));
  return OptionalDouble(cost.has_value(), cost.value_or(0));
}

PyObject* GetSpans(PyObject* self, void*) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  if (t->spans == nullptr) return PyList_New(0);
  return PyList_GetSlice(t->spans, 0, PyList_GET_SIZE(t->spans));
}

PyObject* GetDroppedSpans(PyObject* self, void*) {
  return PyLong_FromLongLong(reinterpret_cast<TrackerObject*>(self)->dropped_spans);
}

PyGetSetDef TrackerGetSet[] = {
    {"time_to_first_token_s", GetTimeToFirstToken, nullptr,
     "Seconds from the start of the block to its first token "
     "(mark_first_token() or the first add_tokens()), else None.",
     nullptr},
    {"model", GetModel, SetModel,
     "The model this block asked for: set explicitly or metadata['model']; "
     "when none was, the response's model (response_model). Dimensions, "
     "per-model totals and pricing use it. None when unknown.",
     nullptr},
    {"response_model", GetResponseModel, SetResponseModel,
     "The model the response named (e.g. 'gpt-4o-mini-2024-07-18' for a "
     "request of 'gpt-4o-mini'): set by set_usage() or an integration; None "
     "when unknown. Pricing falls back to it when the requested model has no "
     "price.",
     nullptr},
    {"cache_hit", GetCacheHit, SetCacheHit,
     "True/False records a hit/miss of the cache named after the operation; "
     "None (default) = not a cache lookup.",
     nullptr},
    {"error_type", GetErrorType, nullptr,
     "Exception type name after a failed block, else None.", nullptr},
    {"error_message", GetErrorMessage, nullptr,
     "str(exception) after a failed block, else None.", nullptr},
    {"span_id", GetSpanId, nullptr,
     "This block's span id (set on entry), else None.", nullptr},
    {"parent_id", GetParentId, nullptr,
     "The enclosing block's span id, None for a root.", nullptr},
    {"trace_id", GetTraceId, nullptr,
     "The root block's span id (shared by a whole tree).", nullptr},
    {"depth", GetDepth, nullptr, "Nesting depth: 0 for a root.", nullptr},
    {"start_time_s", GetStartTime, nullptr,
     "Wall-clock start (unix seconds) once ended, else None.", nullptr},
    {"end_time_s", GetEndTime, nullptr,
     "Wall-clock end (unix seconds) once ended, else None.", nullptr},
    {"cost_usd", GetCost, nullptr,
     "Cost of this block's tokens at its model's price, None when unknown.",
     nullptr},
    {"_spans", GetSpans, nullptr,
     "Finished descendants of a root block (list of trackers).", nullptr},
    {"dropped_spans", GetDroppedSpans, nullptr,
     "Descendants not kept because the tree exceeded 1000 spans.", nullptr},
    {"tokens", GetTokens, SetTokens,
     "Total tokens of this operation (int >= 0). Defaults to prompt_tokens + "
     "completion_tokens when not set.",
     nullptr},
    {"prompt_tokens", Get_prompt_tokens, Set_prompt_tokens,
     "Prompt (input) tokens, int >= 0.", nullptr},
    {"completion_tokens", Get_completion_tokens, Set_completion_tokens,
     "Completion (output) tokens, int >= 0.", nullptr},
    {"metadata", GetMetadata, SetMetadata,
     "Metadata dict of this operation (created on first access).", nullptr},
    {"operation", GetOperation, nullptr, "The operation name (str).", nullptr},
    {"duration_s", GetDuration, nullptr,
     "Duration in seconds once the block has ended, else None.", nullptr},
    {"success", GetSuccess, nullptr,
     "False if the block raised, True if not; None while active.", nullptr},
    {"cancelled", GetCancelled, nullptr,
     "True after a block ended by KeyboardInterrupt, SystemExit, "
     "GeneratorExit or asyncio.CancelledError (counted as cancelled, not "
     "failed; success is False).",
     nullptr},
    {"memory_delta_mb", GetMemoryDelta, nullptr,
     "RSS change over the block in MB (memory tracking on), else None.",
     nullptr},
    {"gpu_memory_delta_mb", GetGpuMemoryDelta, nullptr,
     "This process's GPU memory change over the block in MB (track_gpu_memory "
     "on and NVML available), else None.",
     nullptr},
    {"active", GetActive, nullptr, "True between __enter__ and __exit__.",
     nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

// Installed by InstallFastWithSlots: looked up on an instance they return
// the instance, whose vectorcall (TrackerVectorcall) runs them.
PyMethodDef TrackerEnterDef = {"__enter__", TrackerEnter, METH_NOARGS,
                               "Start timing; returns self."};
PyMethodDef TrackerExitDef = {
    "__exit__",
    reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(TrackerExit)),
    METH_FASTCALL, "Stop timing and record; never suppresses exceptions."};

PyMethodDef TrackerMethods[] = {
    {"__aenter__", TrackerAEnter, METH_NOARGS, "async form of __enter__."},
    {"__aexit__", reinterpret_cast<PyCFunction>(
                      reinterpret_cast<void (*)()>(TrackerAExit)),
     METH_FASTCALL, "async form of __exit__."},
    {"mark_first_token", TrackerMarkFirstToken, METH_NOARGS,
     "mark_first_token(): the first token arrived now (time to first token). "
     "Optional: the first add_tokens() marks it too."},
    {"add_tokens", reinterpret_cast<PyCFunction>(
                       reinterpret_cast<void (*)()>(TrackerAddTokens)),
     METH_FASTCALL,
     "add_tokens(n=1): n completion tokens arrived now; records the "
     "inter-token gap since the previous call."},
    {"set_usage", TrackerSetUsage, METH_O,
     "set_usage(response) -> bool: prompt/completion/total tokens (and "
     "response_model) from an OpenAI-style response, chunk or dict; False "
     "when it carries no usage. Sets the counts, never adds; op.model (the "
     "requested model) is kept."},
    {nullptr, nullptr, 0, nullptr}};

// -------------------------------------------------------------- HotPath ----

PyObject* NewTracker(HotPathObject* hot, PyObject* entry, PyObject* metadata) {
  TrackerObject* t;
  if (g_free_count > 0) {
    t = g_free_list[--g_free_count];
    // Untracked and fully cleared in TrackerDealloc; give it a new life.
    PyObject_Init(reinterpret_cast<PyObject*>(t), &TrackerType);
  } else {
    t = PyObject_GC_New(TrackerObject, &TrackerType);
    if (t == nullptr) {
      Py_XDECREF(metadata);
      return nullptr;
    }
  }
  t->vectorcall = TrackerVectorcall;
  Py_INCREF(hot);
  t->hot = hot;
  t->op_id = static_cast<int>(PyLong_AsLong(PyTuple_GET_ITEM(entry, 0)));
  t->name = PyTuple_GET_ITEM(entry, 1);
  Py_INCREF(t->name);
  t->metadata = metadata;  // steals
  t->state = kNew;
  t->start_ns = 0;
  t->rss_start_bytes = -1;
  t->tokens = t->prompt_tokens = t->completion_tokens = 0;
  t->tokens_set = false;
  t->success = true;
  t->cancelled = false;
  t->duration_s = 0;
  t->memory_delta_mb = 0;
  t->has_memory_delta = false;
  t->gpu_start_mb = -1;
  t->gpu_memory_delta_mb = 0;
  t->has_gpu_memory_delta = false;
  t->stack = t->parent = t->root = t->spans = nullptr;
  t->span_id = t->parent_id = t->trace_id = 0;
  t->depth = 0;
  t->dropped_spans = 0;
  t->end_wall_s = 0;
  t->first_token_ns = t->last_token_ns = 0;
  t->cache_hit = -1;
  t->model = t->response_model = t->error_type = t->error_message = nullptr;
  PyObject_GC_Track(reinterpret_cast<PyObject*>(t));
  return reinterpret_cast<PyObject*>(t);
}

bool KeywordIs(PyObject* key, const char* name) {
  return PyUnicode_CompareWithASCIIString(key, name) == 0;
}

// track_operation(operation, metadata=None, /, **metadata_kwargs)
PyObject* HotTrackOperation(PyObject* self, PyObject* const* args,
                            Py_ssize_t nargs, PyObject* kwnames) {
  HotPathObject* hot = reinterpret_cast<HotPathObject*>(self);
  PyObject* op = nargs >= 1 ? args[0] : nullptr;
  PyObject* metadata_arg = nargs >= 2 ? args[1] : nullptr;
  if (nargs > 2) {
    PyErr_Format(PyExc_TypeError,
                 "track_operation() takes an operation and an optional "
                 "metadata dict, got %zd positional arguments",
                 nargs);
    return nullptr;
  }
  const Py_ssize_t nkw = kwnames == nullptr ? 0 : PyTuple_GET_SIZE(kwnames);
  PyObject* metadata = nullptr;  // new reference once created
  for (Py_ssize_t i = 0; i < nkw; ++i) {
    PyObject* key = PyTuple_GET_ITEM(kwnames, i);
    PyObject* value = args[nargs + i];
    if (op == nullptr &&
        (KeywordIs(key, "operation") || KeywordIs(key, "operation_type"))) {
      op = value;
      continue;
    }
    if (metadata_arg == nullptr && KeywordIs(key, "metadata")) {
      metadata_arg = value;  // validated below like the positional dict
      continue;
    }
    if (metadata == nullptr && (metadata = PyDict_New()) == nullptr) {
      return nullptr;
    }
    if (PyDict_SetItem(metadata, key, value) != 0) {
      Py_DECREF(metadata);
      return nullptr;
    }
  }
  if (op == nullptr) {
    Py_XDECREF(metadata);
    PyErr_SetString(PyExc_TypeError,
                    "track_operation() missing the operation (an "
                    "OperationType or a str)");
    return nullptr;
  }
  if (metadata_arg != nullptr && metadata_arg != Py_None) {
    // The block's metadata is its own: later edits of either dict are not
    // shared. Keyword metadata wins over the positional dict.
    PyObject* merged = CopyMetadata(metadata_arg);
    if (merged == nullptr ||
        (metadata != nullptr && PyDict_Update(merged, metadata) != 0)) {
      Py_XDECREF(merged);
      Py_XDECREF(metadata);
      return nullptr;
    }
    Py_XSETREF(metadata, merged);
  }
  // Most code tracks the same few names: remember the last one. The strong
  // reference held in last_op keeps its address from being reused.
  PyObject* entry = ResolveCached(hot, op);
  if (entry == nullptr) {
    Py_XDECREF(metadata);
    return nullptr;
  }
  return NewTracker(hot, entry, metadata);
}

// -------------------------------------------------------------- record ----

PyObject* g_real_type = nullptr;  // numbers.Real, for the slow type check

// A real number (not bool) as double; -1 with TypeError naming the value.
int ParseReal(PyObject* value, const char* field, const char* what,
              double* out) {
  if (PyFloat_CheckExact(value)) {
    *out = PyFloat_AS_DOUBLE(value);
    return 0;
  }
  if (!PyBool_Check(value)) {
    int is_real = PyLong_Check(value) || PyFloat_Check(value);
    if (!is_real && g_real_type != nullptr) {
      is_real = PyObject_IsInstance(value, g_real_type);
      if (is_real < 0) return -1;
    }
    if (is_real) {
      *out = PyFloat_AsDouble(value);
      return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
    }
  }
  PyErr_Format(PyExc_TypeError, "%s must be %s, got %R (%s)", field, what,
               value, Py_TYPE(value)->tp_name);
  return -1;
}

constexpr double kMaxDurationS = 1e9;  // as MAX_DURATION_S in _validate.py

// record(timestamp_s=...): the wall-clock end of a record measured elsewhere
// (unix seconds, finite, >= 0). `rec.timestamp_s` holds "now" on entry. A
// time in a later minute than now, or older than the longest window, counts
// all-time only: windows hold minutes up to the current one, and a slot
// written from the future would erase a minute still inside the range.
int ApplyRecordTimestamp(PyObject* value, OperationRecord& rec) {
  double ts = 0;
  if (ParseReal(value, "timestamp_s", "a number of unix seconds or None",
                &ts) != 0) {
    return -1;
  }
  if (!(std::isfinite(ts) && ts >= 0)) {
    PyErr_Format(PyExc_ValueError,
                 "timestamp_s must be finite unix seconds >= 0, got %R", value);
    return -1;
  }
  rec.skip_windows = !ResponseTimeTracker::InWindowRange(ts, rec.timestamp_s);
  rec.timestamp_s = ts;
  return 0;
}

// record(operation, duration_s, tokens=None, success=True, *,
//        prompt_tokens=0, completion_tokens=0, memory_delta_mb=None,
//        error_type=None, timestamp_s=None)
PyObject* HotRecord(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                    PyObject* kwnames) {
  static const char* const kNames[] = {
      "operation",       "duration_s",        "tokens",
      "success",         "prompt_tokens",     "completion_tokens",
      "memory_delta_mb", "error_type",        "timestamp_s"};
  constexpr int kPositional = 4;
  constexpr int kCount = 9;
  PyObject* values[kCount] = {nullptr};
  if (nargs > kPositional) {
    PyErr_Format(PyExc_TypeError,
                 "record() takes at most %d positional arguments (%zd given)",
                 kPositional, nargs);
    return nullptr;
  }
  for (Py_ssize_t i = 0; i < nargs; ++i) values[i] = args[i];
  const Py_ssize_t nkw = kwnames == nullptr ? 0 : PyTuple_GET_SIZE(kwnames);
  for (Py_ssize_t k = 0; k < nkw; ++k) {
    PyObject* key = PyTuple_GET_ITEM(kwnames, k);
    int slot = -1;
    for (int i = 0; i < kCount; ++i) {
      if (KeywordIs(key, kNames[i])) slot = i;
    }
    if (slot < 0) {
      PyErr_Format(PyExc_TypeError,
                   "record() got an unexpected keyword argument %R", key);
      return nullptr;
    }
    if (values[slot] != nullptr) {
      PyErr_Format(PyExc_TypeError,
                   "record() got multiple values for argument '%s'",
                   kNames[slot]);
      return nullptr;
    }
    values[slot] = args[nargs + k];
  }
  for (int i = 0; i < 2; ++i) {
    if (values[i] == nullptr) {
      PyErr_Format(PyExc_TypeError,
                   "record() missing required argument '%s'", kNames[i]);
      return nullptr;
    }
  }
  OperationRecord rec;
  if (ParseReal(values[1], "duration_s", "a number of seconds",
                &rec.duration_s) != 0) {
    return nullptr;
  }
  if (!(rec.duration_s >= 0 && rec.duration_s <= kMaxDurationS)) {
    PyErr_Format(PyExc_ValueError,
                 "duration_s must be a finite number of seconds between 0 "
                 "and 1e+09, got %R",
                 values[1]);
    return nullptr;
  }
  if (values[4] != nullptr &&
      ParseTokenCount(values[4], "prompt_tokens", &rec.prompt_tokens) != 0) {
    return nullptr;
  }
  if (values[5] != nullptr &&
      ParseTokenCount(values[5], "completion_tokens",
                      &rec.completion_tokens) != 0) {
    return nullptr;
  }
  if (values[2] != nullptr && values[2] != Py_None) {
    if (ParseTokenCount(values[2], "tokens", &rec.tokens) != 0) return nullptr;
  } else {
    rec.tokens = SaturatingAdd(rec.prompt_tokens, rec.completion_tokens);
  }
  if (values[3] != nullptr) {
    if (!PyBool_Check(values[3])) {
      PyErr_Format(PyExc_TypeError, "success must be a bool, got %R (%s)",
                   values[3], Py_TYPE(values[3])->tp_name);
      return nullptr;
    }
    rec.success = values[3] == Py_True;
  }
  if (values[6] != nullptr && values[6] != Py_None) {
    if (ParseReal(values[6], "memory_delta_mb", "a number or None",
                  &rec.memory_delta_mb) != 0) {
      return nullptr;
    }
    if (!std::isfinite(rec.memory_delta_mb)) {
      PyErr_Format(PyExc_ValueError, "memory_delta_mb must be finite, got %R",
                   values[6]);
      return nullptr;
    }
    rec.has_memory_delta = true;
  }
  std::string error_type;
  if (values[7] != nullptr && values[7] != Py_None) {
    if (!PyUnicode_Check(values[7])) {
      PyErr_Format(PyExc_TypeError, "error_type must be a str or None, got %R",
                   values[7]);
      return nullptr;
    }
    Py_ssize_t size = 0;
    const char* utf8 = PyUnicode_AsUTF8AndSize(values[7], &size);
    if (utf8 == nullptr) return nullptr;
    error_type.assign(utf8, static_cast<size_t>(size));
  }
  if (!rec.success) {
    if (error_type.empty()) error_type = "Error";
    rec.error_type = error_type;
  }
  HotPathObject* hot = reinterpret_cast<HotPathObject*>(self);
  PyObject* entry = ResolveCached(hot, values[0]);
  if (entry == nullptr) return nullptr;
  const int op_id = static_cast<int>(PyLong_AsLong(PyTuple_GET_ITEM(entry, 0)));
  rec.timestamp_s = WallSecondsAt(SteadyNowNanos());
  if (values[8] != nullptr && values[8] != Py_None &&
      ApplyRecordTimestamp(values[8], rec) != 0) {
    return nullptr;
  }
  try {
    hot->monitor->Record(op_id, rec);
  } catch (const std::bad_alloc&) {
    return PyErr_NoMemory();
  } catch (...) {
    // Never let a C++ exception unwind through CPython's C frames.
    PyErr_SetString(PyExc_RuntimeError, "ragperf could not record the operation");
    return nullptr;
  }
  Py_RETURN_NONE;
}

// resolve(operation) -> (id, name)
PyObject* HotResolve(PyObject* self, PyObject* op) {
  PyObject* entry = ResolveOperation(reinterpret_cast<HotPathObject*>(self), op);
  Py_XINCREF(entry);
  return entry;
}

// set_exit_hook(fn | None): fn(tracker) runs after every block.
PyObject* HotSetExitHook(PyObject* self, PyObject* hook) {
  HotPathObject* hot = reinterpret_cast<HotPathObject*>(self);
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

// set_dimensions(tuple of str | None): the metadata keys to split by.
PyObject* HotSetDimensions(PyObject* self, PyObject* dims) {
  HotPathObject* hot = reinterpret_cast<HotPathObject*>(self);
  if (dims == Py_None || (PyTuple_Check(dims) && PyTuple_GET_SIZE(dims) == 0)) {
    Py_CLEAR(hot->dimensions);
    Py_RETURN_NONE;
  }
  if (!PyTuple_Check(dims)) {
    PyErr_Format(PyExc_TypeError, "dimensions must be a tuple of str, got %R",
                 dims);
    return nullptr;
  }
  for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(dims); ++i) {
    if (!PyUnicode_CheckExact(PyTuple_GET_ITEM(dims, i))) {
      PyErr_Format(PyExc_TypeError, "dimension names must be str, got %R",
                   PyTuple_GET_ITEM(dims, i));
      return nullptr;
    }
  }
  Py_INCREF(dims);
  Py_XSETREF(hot->dimensions, dims);
  Py_RETURN_NONE;
}

// in_flight() -> {operation: active blocks} (operations with any).
PyObject* HotInFlight(PyObject* self, PyObject*) {
  HotPathObject* hot = reinterpret_cast<HotPathObject*>(self);
  PyObject* out = PyDict_New();
  if (out == nullptr) return nullptr;
  const std::vector<int32_t>& counts = *hot->in_flight;
  for (size_t id = 0; id < counts.size(); ++id) {
    if (counts[id] <= 0) continue;
    const std::string name = hot->monitor->tracker().NameOf(static_cast<int>(id));
    PyObject* n = PyLong_FromLong(counts[id]);
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
  HotPathObject* hot = reinterpret_cast<HotPathObject*>(self);
  PyObject* out = PyList_New(0);
  if (out == nullptr) return nullptr;
  for (int i = 0; i < kTraceRingSize; ++i) {
    PyObject* t = hot->traces[(hot->trace_next + i) % kTraceRingSize];
    if (t != nullptr && PyList_Append(out, t) < 0) {
      Py_DECREF(out);
      return nullptr;
    }
  }
  return out;
}

PyObject* HotClearTraces(PyObject* self, PyObject*) {
  HotPathObject* hot = reinterpret_cast<HotPathObject*>(self);
  for (PyObject*& t : hot->traces) Py_CLEAR(t);
  hot->trace_next = 0;
  Py_RETURN_NONE;
}

int HotTraverse(PyObject* self, visitproc visit, void* arg) {
  HotPathObject* hot = reinterpret_cast<HotPathObject*>(self);
  Py_VISIT(hot->ids);
  Py_VISIT(hot->last_op);
  Py_VISIT(hot->last_entry);
  Py_VISIT(hot->current);
  Py_VISIT(hot->exit_hook);
  Py_VISIT(hot->dimensions);
  Py_VISIT(hot->dimension_ids);
  for (PyObject* t : hot->traces) Py_VISIT(t);
  return 0;
}

int HotClear(PyObject* self) {
  HotPathObject* hot = reinterpret_cast<HotPathObject*>(self);
  Py_CLEAR(hot->last_op);
  Py_CLEAR(hot->last_entry);
  Py_CLEAR(hot->ids);
  Py_CLEAR(hot->current);
  Py_CLEAR(hot->exit_hook);
  Py_CLEAR(hot->dimensions);
  Py_CLEAR(hot->dimension_ids);
  if (hot->cached_stack != nullptr) {
    ForgetCachedStack(reinterpret_cast<SpanStackObject*>(hot->cached_stack));
  }
  for (PyObject*& t : hot->traces) Py_CLEAR(t);
  return 0;
}

void HotDealloc(PyObject* self) {
  HotPathObject* hot = reinterpret_cast<HotPathObject*>(self);
  PyObject_GC_UnTrack(self);
  HotClear(self);
  delete hot->in_flight;
  hot->in_flight = nullptr;
  delete hot->owner;
  hot->owner = nullptr;
  PyObject_GC_Del(self);
}

PyObject* HotInternalErrors(PyObject* self, PyObject*) {
  return PyLong_FromUnsignedLongLong(
      reinterpret_cast<HotPathObject*>(self)->internal_errors);
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

int ReadyType_(PyObject* module, PyTypeObject* type, const char* name) {
  if (PyType_Ready(type) < 0) return -1;
  Py_INCREF(type);
  if (PyModule_AddObject(module, name, reinterpret_cast<PyObject*>(type)) < 0) {
    Py_DECREF(type);
    return -1;
  }
  return 0;
}

}  // namespace

int RegisterOperationTrackerTypes(PyObject* module) {
  PyObject* numbers = PyImport_ImportModule("numbers");
  if (numbers == nullptr) return -1;
  g_real_type = PyObject_GetAttrString(numbers, "Real");  // kept for life
  Py_DECREF(numbers);
  if (g_real_type == nullptr) return -1;
  PyObject* enum_module = PyImport_ImportModule("enum");
  if (enum_module == nullptr) return -1;
  g_enum_type = PyObject_GetAttrString(enum_module, "Enum");  // kept for life
  Py_DECREF(enum_module);
  if (g_enum_type == nullptr) return -1;

  ReadyType.tp_name = "ragperf._core._Ready";
  ReadyType.tp_basicsize = sizeof(ReadyObject);
  ReadyType.tp_dealloc = ReadyDealloc;
  ReadyType.tp_flags = Py_TPFLAGS_DEFAULT;
  ReadyType.tp_as_async = &ReadyAsync;
  ReadyType.tp_iter = PyObject_SelfIter;
  ReadyType.tp_iternext = ReadyNext;
  ReadyType.tp_doc = "An awaitable that completes immediately.";

  TrackerType.tp_name = "ragperf._core.OperationTracker";
  TrackerType.tp_basicsize = sizeof(TrackerObject);
  TrackerType.tp_dealloc = TrackerDealloc;
  TrackerType.tp_flags =
      Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL;
  TrackerType.tp_vectorcall_offset = offsetof(TrackerObject, vectorcall);
  TrackerType.tp_call = PyVectorcall_Call;
  TrackerType.tp_traverse = TrackerTraverse;
  TrackerType.tp_clear = TrackerClear;
  TrackerType.tp_repr = TrackerRepr;
  TrackerType.tp_methods = TrackerMethods;
  TrackerType.tp_getset = TrackerGetSet;
  TrackerType.tp_doc =
      "Times one block: `with monitor.track_operation(...) as op:` (or "
      "`async with`). Set op.tokens / op.prompt_tokens / op.completion_tokens "
      "and op.metadata inside the block.";

  HotPathType.tp_name = "ragperf._core.HotPath";
  HotPathType.tp_basicsize = sizeof(HotPathObject);
  HotPathType.tp_dealloc = HotDealloc;
  HotPathType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC;
  HotPathType.tp_traverse = HotTraverse;
  HotPathType.tp_clear = HotClear;
  HotPathType.tp_methods = HotMethods;
  HotPathType.tp_doc = "Creates OperationTracker objects for one monitor.";

  SpanStackType.tp_name = "ragperf._core._SpanStack";
  SpanStackType.tp_basicsize = sizeof(SpanStackObject);
  SpanStackType.tp_dealloc = SpanStackDealloc;
  SpanStackType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC;
  SpanStackType.tp_traverse = SpanStackTraverse;
  SpanStackType.tp_clear = SpanStackClear;
  SpanStackType.tp_doc = "The innermost active block of one context.";
  if (PyType_Ready(&SpanStackType) < 0) return -1;

  if (ReadyType_(module, &ReadyType, "_Ready") < 0) return -1;
  if (ReadyType_(module, &TrackerType, "OperationTracker") < 0 ||
      InstallFastWithSlots(&TrackerType, &TrackerEnterDef, &TrackerExitDef) <
          0) {
    return -1;
  }
  if (ReadyType_(module, &HotPathType, "HotPath") < 0) return -1;
  return 0;
}

PyObject* NewHotPath(std::shared_ptr<PerformanceMonitor> monitor) {
  HotPathObject* hot = PyObject_GC_New(HotPathObject, &HotPathType);
  if (hot == nullptr) return nullptr;
  hot->last_op = nullptr;
  hot->last_entry = nullptr;
  hot->exit_hook = nullptr;
  hot->cached_context = nullptr;
  hot->cached_stack = nullptr;
  hot->internal_errors = 0;
  hot->dimensions = nullptr;
  for (PyObject*& t : hot->traces) t = nullptr;
  hot->trace_next = 0;
  hot->monitor = monitor.get();
  hot->owner = new std::shared_ptr<PerformanceMonitor>(std::move(monitor));
  hot->in_flight = new std::vector<int32_t>();
  hot->ids = PyDict_New();
  hot->dimension_ids = PyDict_New();
  hot->current = PyContextVar_New("ragperf_current_operation", nullptr);
  PyObject_GC_Track(reinterpret_cast<PyObject*>(hot));
  if (hot->ids == nullptr || hot->current == nullptr ||
      hot->dimension_ids == nullptr) {
    Py_DECREF(hot);
    return nullptr;
  }
  return reinterpret_cast<PyObject*>(hot);
}

}  // namespace ragperf::bindings

// Copyright 2026 The ragperf Authors.
//
// _core.OperationTracker's life cycle: __enter__/__exit__ (and the async
// forms), linking into the span tree, recording into the C++ monitor, the
// free list. Its attributes and stream methods are in tracker_properties.cpp;
// see tracker_type.h for why these are plain CPython types.

#include <cstdint>
#include <cstring>
#include <cstddef>
#include <string>

#include "absl/base/attributes.h"
#include "fast_with_slots.h"
#include "metadata_json.h"
#include "ragperf/gpu_monitor.h"
#include "ragperf/rss_cache.h"
#include "tracker_objects.h"
#include "tracker_type.h"

// CPython's type and method tables are designed to be partially initialised
// (unset slots are zero); spelling out every slot would hide the ones we set.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace ragperf::bindings {

PyTypeObject TrackerType = {PyVarObject_HEAD_INIT(nullptr, 0)};

namespace {

constexpr double kBytesPerMb = 1024.0 * 1024.0;

SpanTree g_span_tree;            // span ids are unique per process; GIL

// ---------------------------------------------------------------- spans ----

bool ReadRssBytes(const PerformanceMonitor& monitor, int64_t now_ns,
                  int64_t* rss) {
  return RssCache::Instance().Get(now_ns, monitor.memory_max_age_ns(), rss);
}

SpanNode* TopNode(const SpanStackObject* st) {
  return st->top != nullptr
             ? &reinterpret_cast<TrackerObject*>(st->top)->span
             : nullptr;
}


// Releases the references span.parent/span.root stand for.
void ReleaseSpanLinks(SpanNode* parent, SpanNode* root) {
  if (parent != nullptr) Py_DECREF(AsObject(TrackerOfSpan(parent)));
  if (root != nullptr) Py_DECREF(AsObject(TrackerOfSpan(root)));
}

// Links `self` under the innermost active tracker of the current context
// (SpanTree's rule) and makes it the innermost. -1 with an exception set.
int EnterSpan(TrackerObject* self) {
  SpanStackObject* st = CurrentStack(self->hot);
  if (st == nullptr) return -1;
  if (g_span_tree.Enter(TopNode(st), &self->span) != nullptr) {
    Py_INCREF(AsObject(TrackerOfSpan(self->span.parent)));
    Py_INCREF(AsObject(TrackerOfSpan(self->span.root)));
  }
  Py_INCREF(self);
  Py_XSETREF(st->top, AsObject(self));
  Py_INCREF(st);
  Py_XSETREF(self->stack, reinterpret_cast<PyObject*>(st));
  return 0;
}

// Ends `self` in the span tree: the stack's innermost block moves back to
// the parent, and the finished span goes to its root's list or, for a root,
// to the recent-roots ring.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void ExitSpan(TrackerObject* self) {
  SpanNode* parent = self->span.parent;
  SpanNode* root = self->span.root;
  self->after_root = root != nullptr && !root->active;
  SpanStackObject* st = reinterpret_cast<SpanStackObject*>(self->stack);
  const bool innermost = st != nullptr && st->top == AsObject(self);
  SpanNode* top = &self->span;
  const SpanTree::Finished where =
      SpanTree::Exit(&self->span, innermost ? &top : nullptr);
  if (st != nullptr) {
    if (innermost) {
      PyObject* next = top != nullptr ? AsObject(TrackerOfSpan(top)) : nullptr;
      Py_XINCREF(next);
      Py_XSETREF(st->top, next);
    }
    Py_CLEAR(self->stack);
  }
  if (where == SpanTree::Finished::kRoot) {  // no parent or root to release
    HotPathObject* hot = self->hot;
    Py_INCREF(self);
    Py_XSETREF(hot->traces[hot->trace_next], AsObject(self));
    if (++hot->trace_next == static_cast<int>(SpanTree::kRecentRoots)) {
      hot->trace_next = 0;
    }
    return;
  }
  if (where == SpanTree::Finished::kKept) {
    TrackerObject* r = TrackerOfSpan(root);
    if (r->spans == nullptr) r->spans = PyList_New(0);
    if (r->spans == nullptr || PyList_Append(r->spans, AsObject(self)) < 0) {
      PyErr_Clear();
      SpanTree::Unkeep(root);
    } else if (!self->success) {
      SpanTree::NoteUnsuccessful(root);
    }
  }
  ReleaseSpanLinks(parent, root);
}

// A finished tracker entered again would rewrite the tree it heads in the
// recent-roots ring: the ring gets a frozen copy (with the old spans and a
// copy of the metadata) first. Rare, so the copy costs nothing per block.
int FreezeInTraceRing(TrackerObject* self) {
  for (PyObject*& slot : self->hot->traces) {
    if (slot != AsObject(self)) continue;
    TrackerObject* copy = PyObject_GC_New(TrackerObject, &TrackerType);
    if (copy == nullptr) return -1;
    BlockMetadata metadata;
    if (MetadataCopy(&self->metadata, &metadata) < 0) {
      PyObject_GC_Del(copy);  // nothing in it is initialised yet
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
    copy->stack = nullptr;
    copy->span.parent = copy->span.root = nullptr;
    PyObject_GC_Track(AsObject(copy));
    Py_SETREF(slot, AsObject(copy));
    return 0;
  }
  return 0;
}

// ----------------------------------------------------------- enter/exit ----

// kMayReadMemory false: the block reads no RSS whatever the monitor's
// setting (a C caller's choice, EnterTracker); the with statement's enter is
// the <true> form, compiled as before.
template <bool kMayReadMemory>
PyObject* EnterImpl(TrackerObject* self) {
  if (self->state == kEntered) {
    PyErr_Format(PyExc_RuntimeError,
                 "the tracker of operation %R is already active; call "
                 "track_operation() again for a nested or concurrent block",
                 self->name);
    return nullptr;
  }
  if (self->state == kExited) {
    // A tracker entered again starts a new life (NewTracker set up the first).
    if (self->span.ids.depth == 0 && FreezeInTraceRing(self) < 0) {
      return nullptr;
    }
    Py_CLEAR(self->spans);
    Py_CLEAR(self->error_type);
    Py_CLEAR(self->error_message);
    self->usage.RestartStream();
  }
  if (EnterSpan(self) < 0) return nullptr;
  self->rss_start_bytes = -1;
  self->gpu_start_mb = -1;
  self->state = kEntered;
  self->hot->in_flight->Enter(self->op_id);
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
  if (kMayReadMemory && self->hot->monitor->memory_tracking()) {
    const uint64_t reads = RssCache::Instance().reads();
    int64_t rss = 0;
    if (ReadRssBytes(*self->hot->monitor, now, &rss)) {
      self->rss_start_bytes = rss;
    }
    // A /proc read just happened: restart the clock so it is not timed.
    if (RssCache::Instance().reads() != reads) now = SteadyNowNanos();
  }
  self->start_ns = now;
  return AsObject(self);
}

PyObject* TrackerEnterImpl(TrackerObject* self) {
  return EnterImpl<true>(self);
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

// Calls the monitor's exit hook. Its failures are internal errors, except a
// KeyboardInterrupt/SystemExit raised inside it, which must not be lost:
// then -1 with that exception set (the block is recorded already).
ABSL_ATTRIBUTE_NOINLINE int CallExitHook(TrackerObject* self) {
  PyObject* hook = self->hot->exit_hook;
  Py_INCREF(hook);
  PyObject* r = PyObject_CallOneArg(hook, AsObject(self));
  Py_DECREF(hook);
  if (r != nullptr) {
    Py_DECREF(r);
    return 0;
  }
  if (!PyErr_ExceptionMatches(PyExc_Exception)) return -1;
  NoteInternalError(self->hot, "running an exit hook (logging, OpenTelemetry)");
  return 0;
}

// Whether the exit hook runs for this just-finished block (after ExitSpan).
ABSL_ATTRIBUTE_ALWAYS_INLINE inline bool WantsExitHook(
    const TrackerObject* self) {
  const HotPathObject* hot = self->hot;
  return hot->exit_hook != nullptr &&
         (!hot->exit_hook_roots_only || self->span.ids.depth == 0 ||
          self->after_root);
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
  return WantsExitHook(self) ? CallExitHook(self) : 0;
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
  self->hot->in_flight->Exit(self->op_id);
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
  const BlockUsage& usage = self->usage;
  if (usage.has_first_token()) {
    rec.has_time_to_first_token = true;
    rec.time_to_first_token_s = usage.TimeToFirstTokenS(self->start_ns);
  }
  std::string metadata_json;  // used only when the cache cannot answer
  HeldText held;
  if (self->model != nullptr || self->response_model != nullptr ||
      !MetadataUnset(&self->metadata)) {
    DescribeModelAndMetadata(self, &rec, &metadata_json, &held);
  }
  rec.cache_hit = self->cache_hit;
  rec.span_id = self->span.ids.span_id;
  rec.parent_id = self->span.ids.parent_id;
  rec.trace_id = self->span.ids.trace_id;
  rec.depth = self->span.ids.depth;
  rec.prompt_tokens = usage.prompt_tokens;
  rec.completion_tokens = usage.completion_tokens;
  rec.tokens = usage.Total();
  rec.timestamp_s = WallSecondsAt(end_ns);
  self->end_wall_s = rec.timestamp_s;
  self->success = rec.success;
  self->duration_s = rec.duration_s;
  try {
    self->hot->monitor->Record(self->op_id, &rec, rss_end_mb);
  } catch (...) {
    // Out of memory inside the monitor: drop this record rather than
    // replacing the user's exception or result with ours.
    NoteInternalError(self->hot, "recording a block");
  }
  if (self->hot->dimensions != nullptr) RecordDimensions(self, rec, &held);
  if (held.held) held.Release();
  ExitSpan(self);
  return WantsExitHook(self) ? CallExitHook(self) : 0;
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

// ---------------------------------------------------------- object slots ----

int TrackerTraverse(PyObject* self, visitproc visit, void* arg) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  Py_VISIT(AsObject(reinterpret_cast<TrackerObject*>(t->hot)));
  if (int r = MetadataTraverse(&t->metadata, visit, arg)) return r;
  Py_VISIT(t->stack);
  if (t->span.parent != nullptr) Py_VISIT(AsObject(TrackerOfSpan(t->span.parent)));
  if (t->span.root != nullptr) Py_VISIT(AsObject(TrackerOfSpan(t->span.root)));
  Py_VISIT(t->spans);
  Py_VISIT(t->model);
  Py_VISIT(t->response_model);
  return 0;
}

int TrackerClear(PyObject* self) {
  TrackerObject* t = reinterpret_cast<TrackerObject*>(self);
  MetadataClear(&t->metadata);
  Py_CLEAR(t->stack);
  if (t->span.parent != nullptr) {  // active child (a root has neither link)
    SpanNode* parent = t->span.parent;
    SpanNode* root = t->span.root;
    t->span.parent = t->span.root = nullptr;
    ReleaseSpanLinks(parent, root);
  }
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
    t->hot->in_flight->Exit(t->op_id);  // abandoned while active
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

// Installed by InstallFastWithSlots: looked up on an instance they return
// the instance, whose vectorcall (TrackerVectorcall) runs them.
PyMethodDef TrackerEnterDef = {"__enter__", TrackerEnter, METH_NOARGS,
                               "Start timing; returns self."};
PyMethodDef TrackerExitDef = {
    "__exit__",
    reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(TrackerExit)),
    METH_FASTCALL, "Stop timing and record; never suppresses exceptions."};

}  // namespace

PyObject* TrackerAEnterMethod(PyObject* self, PyObject* args) {
  return TrackerAEnter(self, args);
}
PyObject* TrackerAExitMethod(PyObject* self, PyObject* const* args,
                             Py_ssize_t nargs) {
  return TrackerAExit(self, args, nargs);
}

int EnterTracker(TrackerObject* tracker, bool read_memory) {
  PyObject* r = read_memory ? EnterImpl<true>(tracker) : EnterImpl<false>(tracker);
  return r != nullptr ? 0 : -1;
}

int ExitTracker(TrackerObject* tracker, PyObject* exc_type, PyObject* exc) {
  return TrackerExitImpl(tracker, exc_type, exc);
}

PyObject* NewTracker(HotPathObject* hot, PyObject* entry, int id) {
  TrackerObject* t;
  if (g_free_count > 0) {
    t = g_free_list[--g_free_count];
    // Untracked and fully cleared in TrackerDealloc; give it a new life.
    PyObject_Init(AsObject(t), &TrackerType);
  } else {
    t = PyObject_GC_New(TrackerObject, &TrackerType);
    if (t == nullptr) return nullptr;
  }
  t->vectorcall = TrackerVectorcall;
  Py_INCREF(hot);
  t->hot = hot;
  t->op_id = id;
  t->name = PyTuple_GET_ITEM(entry, 1);
  Py_INCREF(t->name);
  MetadataInit(&t->metadata);
  t->state = kNew;
  t->start_ns = 0;
  t->rss_start_bytes = -1;
  t->usage = BlockUsage{};
  t->success = true;
  t->cancelled = false;
  t->duration_s = 0;
  t->memory_delta_mb = 0;
  t->has_memory_delta = false;
  t->gpu_start_mb = -1;
  t->gpu_memory_delta_mb = 0;
  t->has_gpu_memory_delta = false;
  t->span = SpanNode{};
  t->stack = t->spans = nullptr;
  t->after_root = false;
  t->end_wall_s = 0;
  t->cache_hit = -1;
  t->model = t->response_model = t->error_type = t->error_message = nullptr;
  PyObject_GC_Track(AsObject(t));
  return AsObject(t);
}

int ReadyTrackerTypes(PyObject* module) {
  if (ImportLoggingOnce() < 0 || InitTrackerAttributeNames() < 0) return -1;
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
  TrackerType.tp_methods = kTrackerMethods;
  TrackerType.tp_getset = kTrackerGetSet;
  TrackerType.tp_setattro = TrackerSetAttr;
  TrackerType.tp_doc =
      "Times one block: `with monitor.track_operation(...) as op:` (or "
      "`async with`). Set op.tokens / op.prompt_tokens / op.completion_tokens "
      "and op.metadata inside the block.";

  if (ReadyReadyType(module) < 0) return -1;
  if (AddType(module, &TrackerType, "OperationTracker") < 0 ||
      InstallFastWithSlots(&TrackerType, &TrackerEnterDef, &TrackerExitDef) <
          0) {
    return -1;
  }
  return 0;
}

}  // namespace ragperf::bindings

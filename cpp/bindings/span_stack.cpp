// Copyright 2026 The ragperf Authors.
//
// The span stack: the innermost active tracker of one context
// (contextvars.Context: each asyncio task and each thread has its own).
// ContextVar.set() costs two allocations per call, so the variable holds a
// mutable stack instead, set once per context; a stack found in a context
// that does not own it (a task's copy of its creator's context) is replaced
// by a fresh one, so tasks never share a stack. The nesting rules themselves
// (who is whose parent) are the core's SpanTree.
//
// The owner is held by a weak reference: the context holds the stack (as the
// variable's value), so a strong reference back would make every context
// that ran a block a reference cycle, freed only by the cyclic GC. Under an
// ASGI server each request's task context (and all its variables' values)
// then outlived the request, reached the old generation and made full
// collections several times more frequent. A dead owner's weak reference
// answers None, so a new context at the same address is never taken for it.

#include "tracker_objects.h"

// CPython's type tables are designed to be partially initialised.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace ragperf::bindings {

PyTypeObject SpanStackType = {PyVarObject_HEAD_INIT(nullptr, 0)};

namespace {

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

// The current context's stack through the ContextVar, creating it on the
// context's first block.
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

}  // namespace

void ForgetCachedStack(SpanStackObject* st) {
  if (st->cached_by == nullptr) return;
  st->cached_by->cached_context = nullptr;
  st->cached_by->cached_stack = nullptr;
  st->cached_by = nullptr;
}

// With the one-entry cache: a context's stack never changes once set (only
// this file sets the variable, once per context).
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

int ReadySpanStackType() {
  SpanStackType.tp_name = "ragperf._core._SpanStack";
  SpanStackType.tp_basicsize = sizeof(SpanStackObject);
  SpanStackType.tp_dealloc = SpanStackDealloc;
  SpanStackType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC;
  SpanStackType.tp_traverse = SpanStackTraverse;
  SpanStackType.tp_clear = SpanStackClear;
  SpanStackType.tp_doc = "The innermost active block of one context.";
  return PyType_Ready(&SpanStackType);
}

}  // namespace ragperf::bindings

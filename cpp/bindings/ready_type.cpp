// Copyright 2026 The ragperf Authors.
//
// _core._Ready: the awaitable that OperationTracker.__aenter__/__aexit__
// return. It completes at once (delivers its value through StopIteration),
// so `async with monitor.track_operation(...)` costs no event-loop round
// trip.

#include "tracker_objects.h"

// CPython's type tables are designed to be partially initialised.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace ragperf::bindings {
namespace {

struct ReadyObject {
  PyObject_HEAD
  PyObject* value;  // delivered once through StopIteration, then NULL
};

PyTypeObject ReadyType = {PyVarObject_HEAD_INIT(nullptr, 0)};

}  // namespace

PyObject* NewReady(PyObject* value) {
  ReadyObject* r = PyObject_New(ReadyObject, &ReadyType);
  if (r == nullptr) return nullptr;
  Py_INCREF(value);
  r->value = value;
  return reinterpret_cast<PyObject*>(r);
}

namespace {

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

}  // namespace

int ReadyReadyType(PyObject* module) {
  ReadyType.tp_name = "ragperf._core._Ready";
  ReadyType.tp_basicsize = sizeof(ReadyObject);
  ReadyType.tp_dealloc = ReadyDealloc;
  ReadyType.tp_flags = Py_TPFLAGS_DEFAULT;
  ReadyType.tp_as_async = &ReadyAsync;
  ReadyType.tp_iter = PyObject_SelfIter;
  ReadyType.tp_iternext = ReadyNext;
  ReadyType.tp_doc = "An awaitable that completes immediately.";
  return AddType(module, &ReadyType, "_Ready");
}

}  // namespace ragperf::bindings

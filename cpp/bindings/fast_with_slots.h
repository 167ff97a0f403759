// Copyright 2026 The ragperf Authors.
//
// fast_with_slots.h
// -----------------------------------------------------------------------------
// `with obj:` looks up type(obj).__enter__ and __exit__ and binds each to
// obj: for methods of a C type that is two bound-method objects allocated,
// GC-tracked and freed per block, about 400 CPU instructions, more than the
// whole C++ record. A type whose instances are themselves callable (vectorcall)
// can skip that: its __enter__/__exit__ become descriptors that, looked up on
// an instance, return the instance itself, and the instance's vectorcall runs
// enter for 0 arguments and exit for 3. Looked up on the class they return the
// ordinary method descriptors, so `Type.__exit__(obj, None, None, None)`
// (contextlib.ExitStack), help() and inspect behave as for plain methods.
//
// Contract: `type` is ready, has Py_TPFLAGS_HAVE_VECTORCALL and a
// tp_vectorcall_offset; its vectorcall must dispatch on the argument count as
// above. `enter` and `exit` are METH_NOARGS / METH_FASTCALL definitions that
// outlive the type (static storage).
//
// Example:
//
//   PyMethodDef kEnter = {"__enter__", MyEnter, METH_NOARGS, "doc"};
//   PyMethodDef kExit = {"__exit__", MyExitFastcall, METH_FASTCALL, "doc"};
//   if (PyType_Ready(&MyType) < 0 ||
//       InstallFastWithSlots(&MyType, &kEnter, &kExit) < 0) return -1;

#ifndef RAGPERF_BINDINGS_FAST_WITH_SLOTS_H_
#define RAGPERF_BINDINGS_FAST_WITH_SLOTS_H_

#include <Python.h>

namespace ragperf::bindings {

// Adds __enter__/__exit__ to `type` as described above. Returns -1 with a
// Python error set on failure.
int InstallFastWithSlots(PyTypeObject* type, PyMethodDef* enter,
                         PyMethodDef* exit);

}  // namespace ragperf::bindings

#endif  // RAGPERF_BINDINGS_FAST_WITH_SLOTS_H_

// Copyright 2026 The ragperf Authors.
//
// _core._AsgiMiddleware: the base class of RagperfMiddleware. Its call,
// middleware(scope, receive, send), is a C slot that returns
// `_exchange.serve(app, scope, receive, send)` (http_exchange.h), so a
// request enters ragperf without a Python frame: the one-line Python
// __call__ it replaces cost ~500 instructions and, under uvicorn, ~100
// first-level instruction-cache misses per request (callgrind --cache-sim),
// a sixth of what the middleware added.
//
// `app` and `_exchange` are the instance's slots (set by the subclass's
// __init__; `_exchange` must be a _core._HttpTiming). A subclass may add
// attributes freely (it has a __dict__); it must not define __call__ in its
// class body, or Python routes calls through that instead.
//
// Example (what ragperf.integrations.fastapi does):
//
//   class RagperfMiddleware(_core._AsgiMiddleware):
//       def __init__(self, app, ...):
//           self.app = app
//           self._exchange = _core._HttpTiming(...)
//   awaitable = RagperfMiddleware(app)(scope, receive, send)

#include <Python.h>
#include <structmember.h>

#include <cstddef>

#include "http_exchange.h"
#include "py_args.h"

// CPython's type tables are designed to be partially initialised.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace ragperf::bindings {
namespace {

struct AsgiMiddlewareObject {
  PyObject_HEAD
  vectorcallfunc vectorcall;
  PyObject* app;
  PyObject* exchange;  // a _HttpTiming, or NULL before __init__ set it
};

PyTypeObject AsgiMiddlewareType = {PyVarObject_HEAD_INIT(nullptr, 0)};

PyObject* MiddlewareCall(PyObject* self, PyObject* const* args, size_t nargsf,
                         PyObject* kwnames) {
  auto* mw = reinterpret_cast<AsgiMiddlewareObject*>(self);
  if (PyVectorcall_NARGS(nargsf) != 3 ||
      (kwnames != nullptr && PyTuple_GET_SIZE(kwnames) != 0)) {
    PyErr_SetString(PyExc_TypeError,
                    "an ASGI middleware takes 3 positional arguments (scope, "
                    "receive, send)");
    return nullptr;
  }
  if (mw->app == nullptr || mw->exchange == nullptr) {
    PyErr_Format(PyExc_TypeError,
                 "%s is not initialised: its __init__ must set app and "
                 "_exchange",
                 Py_TYPE(self)->tp_name);
    return nullptr;
  }
  PyObject* serve_args[] = {mw->app, args[0], args[1], args[2]};
  return HttpServe(mw->exchange, serve_args, 4);
}

PyObject* MiddlewareNew(PyTypeObject* type, PyObject*, PyObject*) {
  auto* mw = reinterpret_cast<AsgiMiddlewareObject*>(type->tp_alloc(type, 0));
  if (mw == nullptr) return nullptr;
  mw->vectorcall = MiddlewareCall;
  mw->app = nullptr;
  mw->exchange = nullptr;
  return reinterpret_cast<PyObject*>(mw);
}

int MiddlewareTraverse(PyObject* self, visitproc visit, void* arg) {
  auto* mw = reinterpret_cast<AsgiMiddlewareObject*>(self);
  Py_VISIT(mw->app);
  Py_VISIT(mw->exchange);
  return 0;
}

int MiddlewareClear(PyObject* self) {
  auto* mw = reinterpret_cast<AsgiMiddlewareObject*>(self);
  Py_CLEAR(mw->app);
  Py_CLEAR(mw->exchange);
  return 0;
}

void MiddlewareDealloc(PyObject* self) {
  PyObject_GC_UnTrack(self);
  MiddlewareClear(self);
  Py_TYPE(self)->tp_free(self);
}

PyObject* GetApp(PyObject* self, void*) {
  PyObject* app = reinterpret_cast<AsgiMiddlewareObject*>(self)->app;
  if (app == nullptr) {
    PyErr_SetString(PyExc_AttributeError, "app");
    return nullptr;
  }
  return Py_NewRef(app);
}

int SetApp(PyObject* self, PyObject* value, void*) {
  if (value != nullptr && !PyCallable_Check(value)) {
    PyErr_Format(PyExc_TypeError,
                 "app must be an ASGI app (a callable), got %R", value);
    return -1;
  }
  Py_XINCREF(value);
  Py_XSETREF(reinterpret_cast<AsgiMiddlewareObject*>(self)->app, value);
  return 0;
}

PyObject* GetExchange(PyObject* self, void*) {
  PyObject* ex = reinterpret_cast<AsgiMiddlewareObject*>(self)->exchange;
  if (ex == nullptr) {
    PyErr_SetString(PyExc_AttributeError, "_exchange");
    return nullptr;
  }
  return Py_NewRef(ex);
}

int SetExchange(PyObject* self, PyObject* value, void*) {
  if (value != nullptr && !IsHttpTiming(value)) {
    PyErr_Format(PyExc_TypeError, "_exchange must be a _core._HttpTiming, got %R",
                 value);
    return -1;
  }
  Py_XINCREF(value);
  Py_XSETREF(reinterpret_cast<AsgiMiddlewareObject*>(self)->exchange, value);
  return 0;
}

PyGetSetDef kMiddlewareGetSet[] = {
    {"app", GetApp, SetApp, "The wrapped ASGI app.", nullptr},
    {"_exchange", GetExchange, SetExchange,
     "The _HttpTiming that serves each request.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

}  // namespace

int RegisterAsgiMiddlewareType(PyObject* module) {
  AsgiMiddlewareType.tp_name = "ragperf._core._AsgiMiddleware";
  AsgiMiddlewareType.tp_basicsize = sizeof(AsgiMiddlewareObject);
  AsgiMiddlewareType.tp_dealloc = MiddlewareDealloc;
  AsgiMiddlewareType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE |
                                Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL;
  AsgiMiddlewareType.tp_vectorcall_offset =
      offsetof(AsgiMiddlewareObject, vectorcall);
  AsgiMiddlewareType.tp_call = PyVectorcall_Call;
  AsgiMiddlewareType.tp_traverse = MiddlewareTraverse;
  AsgiMiddlewareType.tp_clear = MiddlewareClear;
  AsgiMiddlewareType.tp_new = MiddlewareNew;
  AsgiMiddlewareType.tp_getset = kMiddlewareGetSet;
  AsgiMiddlewareType.tp_doc =
      "Base of RagperfMiddleware: calling it with (scope, receive, send) "
      "returns _exchange.serve(app, scope, receive, send), without a Python "
      "frame.";
  return AddType(module, &AsgiMiddlewareType, "_AsgiMiddleware");
}

}  // namespace ragperf::bindings

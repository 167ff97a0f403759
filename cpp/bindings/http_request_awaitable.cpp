// Copyright 2026 The ragperf Authors.
//
// _HttpTiming.serve() and _core._HttpRequest: see http_exchange.h.
//
// The middleware's own coroutine frame was the largest single cost a request
// paid to ragperf after the block itself (~1,200-3,000 instructions: the
// frame, its coroutine object, and one more level of send() on every
// resumption). _HttpRequest passes each send/throw/close straight to the
// app's awaitable and finishes the request's block when that ends.

#include "http_exchange.h"
#include "py_args.h"

// CPython's type tables are designed to be partially initialised.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace ragperf::bindings {
namespace {

PyObject* g_type_key;   // "type"
PyObject* g_http;       // "http"
PyObject* g_throw;      // "throw"
PyObject* g_close;      // "close"

struct HttpRequestObject {
  PyObject_HEAD
  PyObject* exchange;  // the request's _HttpExchange
  PyObject* inner;     // the app's awaitable's iterator; NULL once it ended
  bool finished;       // the exchange is finished
  bool running;        // inside a send/throw/close of `inner`
};

PyTypeObject HttpRequestType = {PyVarObject_HEAD_INIT(nullptr, 0)};

HttpRequestObject* R(PyObject* self) {
  return reinterpret_cast<HttpRequestObject*>(self);
}

// A send/throw/close from inside the app's own step (as a coroutine's).
bool Running(HttpRequestObject* r) {
  if (!r->running) return false;
  PyErr_SetString(PyExc_ValueError, "HTTP request already executing");
  return true;
}

// Finishes the request: successfully (`error` NULL) or failed by `error`.
// Once; 0, or -1 with an exception.
int Finish(HttpRequestObject* r, PyObject* error) {
  if (r->finished) return 0;
  r->finished = true;
  return FinishExchange(r->exchange, error);
}

// Finishes the request as failed by the pending exception, which stays
// pending: the app's exception is the one the server sees.
void FinishWithPending(HttpRequestObject* r) {
  PyObject* error = TakeRaisedException();
  if (Finish(r, error) < 0) PyErr_Clear();
  RestoreRaisedException(error);
}

// The iterator `await awaitable` drives: a coroutine itself, else its
// __await__(). New reference, or NULL with a TypeError naming it.
PyObject* AwaitIterator(PyObject* awaitable) {
  if (PyCoro_CheckExact(awaitable)) return Py_NewRef(awaitable);
  PyAsyncMethods* am = Py_TYPE(awaitable)->tp_as_async;
  if (am == nullptr || am->am_await == nullptr) {
    PyErr_Format(PyExc_TypeError,
                 "the ASGI app returned %R, which cannot be awaited",
                 awaitable);
    return nullptr;
  }
  return am->am_await(awaitable);
}

// await's step (am_send): one send() to the app's awaitable; when that
// ends, the request's block ends with it.
PySendResult RequestSend(PyObject* self, PyObject* arg, PyObject** result) {
  HttpRequestObject* r = R(self);
  if (r->inner == nullptr) {
    PyErr_SetString(PyExc_RuntimeError,
                    "cannot reuse an already awaited HTTP request");
    *result = nullptr;
    return PYGEN_ERROR;
  }
  if (Running(r)) {
    *result = nullptr;
    return PYGEN_ERROR;
  }
  r->running = true;
  const PySendResult status = PyIter_Send(r->inner, arg, result);
  r->running = false;
  if (status == PYGEN_NEXT) return status;
  Py_CLEAR(r->inner);
  if (status == PYGEN_ERROR) {
    FinishWithPending(r);
    return PYGEN_ERROR;
  }
  if (Finish(r, nullptr) < 0) {
    Py_CLEAR(*result);
    return PYGEN_ERROR;
  }
  return PYGEN_RETURN;
}

// Raises StopIteration(value) (stealing `value`); returns NULL.
PyObject* StopWith(PyObject* value) {
  if (value == Py_None) {
    Py_DECREF(value);
    PyErr_SetNone(PyExc_StopIteration);
    return nullptr;
  }
  PyObject* stop = PyObject_CallOneArg(PyExc_StopIteration, value);
  Py_DECREF(value);
  if (stop != nullptr) {
    PyErr_SetObject(PyExc_StopIteration, stop);
    Py_DECREF(stop);
  }
  return nullptr;
}

PyObject* SendValue(PyObject* self, PyObject* value) {
  PyObject* result = nullptr;
  switch (RequestSend(self, value, &result)) {
    case PYGEN_NEXT:
      return result;
    case PYGEN_RETURN:
      return StopWith(result);
    default:
      return nullptr;
  }
}

PyObject* RequestNext(PyObject* self) { return SendValue(self, Py_None); }

PyObject* RequestAwait(PyObject* self) { return Py_NewRef(self); }

// throw(exc) / throw(type[, value[, traceback]]): into the app's awaitable.
PyObject* RequestThrow(PyObject* self, PyObject* const* args,
                       Py_ssize_t nargs) {
  HttpRequestObject* r = R(self);
  if (nargs < 1 || nargs > 3) {
    PyErr_Format(PyExc_TypeError, "throw() takes 1 to 3 arguments, got %zd",
                 nargs);
    return nullptr;
  }
  if (r->inner == nullptr) {  // ended: the exception goes to the caller
    if (PyExceptionInstance_Check(args[0])) {
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(args[0])), args[0]);
    } else if (PyExceptionClass_Check(args[0])) {
      PyErr_SetObject(args[0], nargs > 1 ? args[1] : Py_None);
    } else {
      PyErr_Format(PyExc_TypeError,
                   "exceptions must derive from BaseException, got %R",
                   args[0]);
    }
    return nullptr;
  }
  if (Running(r)) return nullptr;
  PyObject* call_args[] = {r->inner, args[0], nargs > 1 ? args[1] : nullptr,
                           nargs > 2 ? args[2] : nullptr};
  r->running = true;
  PyObject* yielded = PyObject_VectorcallMethod(
      g_throw, call_args, static_cast<size_t>(nargs) + 1, nullptr);
  r->running = false;
  if (yielded != nullptr) return yielded;
  Py_CLEAR(r->inner);
  if (!PyErr_ExceptionMatches(PyExc_StopIteration)) {
    FinishWithPending(r);
    return nullptr;
  }
  PyObject* stop = TakeRaisedException();  // the app returned
  if (Finish(r, nullptr) < 0) {
    Py_XDECREF(stop);
    return nullptr;
  }
  RestoreRaisedException(stop);
  return nullptr;
}

// Ends the request as cancelled (GeneratorExit), as a coroutine's close().
int FinishClosed(HttpRequestObject* r) {
  if (r->finished) return 0;
  PyObject* closed = PyObject_CallNoArgs(PyExc_GeneratorExit);
  if (closed == nullptr) return -1;
  const int rc = Finish(r, closed);
  Py_DECREF(closed);
  return rc;
}

PyObject* RequestClose(PyObject* self, PyObject*) {
  HttpRequestObject* r = R(self);
  if (Running(r)) return nullptr;
  if (r->inner != nullptr) {
    PyObject* inner = r->inner;
    r->inner = nullptr;
    r->running = true;
    PyObject* done = PyObject_CallMethodNoArgs(inner, g_close);
    r->running = false;
    Py_DECREF(inner);
    if (done == nullptr) {
      FinishWithPending(r);
      return nullptr;
    }
    Py_DECREF(done);
  }
  if (FinishClosed(r) < 0) return nullptr;
  Py_RETURN_NONE;
}

// Dropped before it ended (never awaited, or its task was collected): the
// app's awaitable is closed and the request counted as cancelled.
void RequestFinalize(PyObject* self) {
  HttpRequestObject* r = R(self);
  if (r->finished && r->inner == nullptr) return;
  PyObject* pending = TakeRaisedException();
  PyObject* done = RequestClose(self, nullptr);
  if (done == nullptr) {
    PyErr_WriteUnraisable(self);
  } else {
    Py_DECREF(done);
  }
  RestoreRaisedException(pending);
}

int RequestTraverse(PyObject* self, visitproc visit, void* arg) {
  Py_VISIT(R(self)->exchange);
  Py_VISIT(R(self)->inner);
  return 0;
}

int RequestClear(PyObject* self) {
  Py_CLEAR(R(self)->exchange);
  Py_CLEAR(R(self)->inner);
  return 0;
}

void RequestDealloc(PyObject* self) {
  if (PyObject_CallFinalizerFromDealloc(self) < 0) return;  // resurrected
  PyObject_GC_UnTrack(self);
  RequestClear(self);
  PyObject_GC_Del(self);
}

PyAsyncMethods kRequestAsync = {
    RequestAwait,  // am_await
    nullptr,       // am_aiter
    nullptr,       // am_anext
    RequestSend,   // am_send
};

PyMethodDef kRequestMethods[] = {
    {"send", SendValue, METH_O,
     "send(value): resumes the request (the app's awaitable); StopIteration "
     "when it has ended."},
    {"throw",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(RequestThrow)),
     METH_FASTCALL, "throw(exc): raises `exc` inside the app's awaitable."},
    {"close", RequestClose, METH_NOARGS,
     "close(): closes the app's awaitable; the request counts as cancelled."},
    {nullptr, nullptr, 0, nullptr},
};

}  // namespace

PyObject* HttpServe(PyObject* timing, PyObject* const* args,
                    Py_ssize_t nargs) {
  if (nargs != 4) {
    PyErr_Format(PyExc_TypeError,
                 "serve() takes 4 positional arguments (app, scope, receive, "
                 "send), got %zd",
                 nargs);
    return nullptr;
  }
  PyObject* app = args[0];
  PyObject* scope = args[1];
  PyObject* type = GetRequired(scope, g_type_key);
  if (type == nullptr) return nullptr;
  const int is_http = PyObject_RichCompareBool(type, g_http, Py_EQ);
  Py_DECREF(type);
  if (is_http < 0) return nullptr;
  // WebSocket and lifespan traffic: the app's own awaitable, untouched.
  if (is_http == 0) return PyObject_Vectorcall(app, args + 1, 3, nullptr);
  auto* r = PyObject_GC_New(HttpRequestObject, &HttpRequestType);
  if (r == nullptr) return nullptr;
  r->inner = nullptr;
  r->finished = false;
  r->running = false;
  r->exchange = OpenExchange(timing, scope, args[3]);  // the block opens
  if (r->exchange == nullptr) {
    r->finished = true;
    Py_DECREF(reinterpret_cast<PyObject*>(r));
    return nullptr;
  }
  PyObject* call_args[] = {scope, args[2], r->exchange};
  PyObject* awaitable = PyObject_Vectorcall(app, call_args, 3, nullptr);
  if (awaitable != nullptr) {
    r->inner = AwaitIterator(awaitable);
    Py_DECREF(awaitable);
  }
  if (r->inner == nullptr) {
    FinishWithPending(r);
    Py_DECREF(reinterpret_cast<PyObject*>(r));
    return nullptr;
  }
  PyObject_GC_Track(r);
  return reinterpret_cast<PyObject*>(r);
}

int RegisterHttpRequestType(PyObject* module) {
  if (InternNames({{&g_type_key, "type"},
                   {&g_http, "http"},
                   {&g_throw, "throw"},
                   {&g_close, "close"}}) < 0) {
    return -1;
  }
  HttpRequestType.tp_name = "ragperf._core._HttpRequest";
  HttpRequestType.tp_basicsize = sizeof(HttpRequestObject);
  HttpRequestType.tp_dealloc = RequestDealloc;
  HttpRequestType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC;
  HttpRequestType.tp_traverse = RequestTraverse;
  HttpRequestType.tp_clear = RequestClear;
  HttpRequestType.tp_finalize = RequestFinalize;
  HttpRequestType.tp_as_async = &kRequestAsync;
  HttpRequestType.tp_iternext = RequestNext;
  HttpRequestType.tp_methods = kRequestMethods;
  HttpRequestType.tp_doc =
      "One HTTP request served by RagperfMiddleware: awaiting it awaits the "
      "app, then records the request (a coroutine-like object: send, throw, "
      "close).";
  return AddType(module, &HttpRequestType, "_HttpRequest");
}

}  // namespace ragperf::bindings

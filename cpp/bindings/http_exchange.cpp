// Copyright 2026 The ragperf Authors.
//
// _core._HttpTiming and _core._HttpExchange: see http_exchange.h.

#include "http_exchange.h"

#include <cstdint>

#include "http_request_fields.h"
#include "py_args.h"
#include "ragperf/clock.h"
#include "tracker_objects.h"

// CPython's type tables are designed to be partially initialised.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace ragperf::bindings {
namespace {

// Interned names (RegisterHttpExchangeTypes).
PyObject* g_type_key;
PyObject* g_status_key;
PyObject* g_headers_key;
PyObject* g_metadata;
PyObject* g_enter;
PyObject* g_exit;
PyObject* g_response_start;
PyObject* g_method_kwnames;  // ("method",)

struct HttpTimingObject {
  PyObject_HEAD
  vectorcallfunc vectorcall;
  PyObject* track;      // track_operation
  // track's HotPath (strong) when it is a monitor's own track_operation:
  // the block is then opened and closed without Python calls. NULL: through
  // track(...), __enter__ and __exit__ (a monitor overriding track_operation).
  PyObject* hot;
  PyObject* operation;  // its first argument
  PyObject* header;     // bytes, or Py_None for no header
  PyObject* failure;    // callable(status) -> exception instance (5xx)
  PyObject* joined;     // RequestRoute's joined_routes for this middleware
  bool read_memory;     // the request's block reads RSS (if the monitor does)
};

struct HttpExchangeObject {
  PyObject_HEAD
  vectorcallfunc vectorcall;
  HttpTimingObject* timing;
  PyObject* tracker;    // entered by _HttpTiming, exited by finish()
  PyObject* send;       // the server's
  PyObject* scope;
  PyObject* method;
  PyObject* root_path;  // scope["root_path"] when the request arrived
  PyObject* status;     // from http.response.start, or NULL
  int64_t started_ns;
  bool finished;
};

PyTypeObject HttpTimingType = {PyVarObject_HEAD_INIT(nullptr, 0)};
PyTypeObject HttpExchangeType = {PyVarObject_HEAD_INIT(nullptr, 0)};

// ------------------------------------------------------------ _HttpTiming --

int TimingTraverse(PyObject* self, visitproc visit, void* arg) {
  auto* t = reinterpret_cast<HttpTimingObject*>(self);
  Py_VISIT(t->track);
  Py_VISIT(t->hot);
  Py_VISIT(t->operation);
  Py_VISIT(t->header);
  Py_VISIT(t->failure);
  Py_VISIT(t->joined);
  return 0;
}

int TimingClear(PyObject* self) {
  auto* t = reinterpret_cast<HttpTimingObject*>(self);
  Py_CLEAR(t->track);
  Py_CLEAR(t->hot);
  Py_CLEAR(t->operation);
  Py_CLEAR(t->header);
  Py_CLEAR(t->failure);
  Py_CLEAR(t->joined);
  return 0;
}

void TimingDealloc(PyObject* self) {
  PyObject_GC_UnTrack(self);
  TimingClear(self);
  Py_TYPE(self)->tp_free(self);
}

PyObject* TimingCall(PyObject* callable, PyObject* const* args, size_t nargsf,
                     PyObject* kwnames);
PyObject* ExchangeCall(PyObject* callable, PyObject* const* args,
                       size_t nargsf, PyObject* kwnames);

PyObject* TimingNew(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  static const char* kNames[] = {"track_operation", "operation", "header",
                                 "failure", "read_memory", nullptr};
  PyObject *track, *operation, *header, *failure;
  int read_memory = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOO|$p:_HttpTiming",
                                   const_cast<char**>(kNames), &track,
                                   &operation, &header, &failure,
                                   &read_memory)) {
    return nullptr;
  }
  if (!PyCallable_Check(track) || !PyCallable_Check(failure)) {
    PyErr_Format(PyExc_TypeError,
                 "_HttpTiming: track_operation and failure must be callable, "
                 "got %R and %R", track, failure);
    return nullptr;
  }
  if (!PyUnicode_Check(operation)) {
    PyErr_Format(PyExc_TypeError, "_HttpTiming: operation must be a str, got %R",
                 operation);
    return nullptr;
  }
  if (header != Py_None && !PyBytes_Check(header)) {
    PyErr_Format(PyExc_TypeError,
                 "_HttpTiming: header must be bytes or None, got %R", header);
    return nullptr;
  }
  PyObject* joined = PyDict_New();
  if (joined == nullptr) return nullptr;
  auto* t = reinterpret_cast<HttpTimingObject*>(type->tp_alloc(type, 0));
  if (t == nullptr) {
    Py_DECREF(joined);
    return nullptr;
  }
  t->vectorcall = TimingCall;
  t->track = Py_NewRef(track);
  t->hot = reinterpret_cast<PyObject*>(HotPathOfTrackOperation(track));
  Py_XINCREF(t->hot);
  t->read_memory = read_memory != 0;
  t->operation = Py_NewRef(operation);
  t->header = Py_NewRef(header);
  t->failure = Py_NewRef(failure);
  t->joined = joined;
  return reinterpret_cast<PyObject*>(t);
}

// The request's block, entered: track_operation(operation, method=method).
PyObject* OpenBlock(HttpTimingObject* timing, PyObject* method) {
  if (timing->hot != nullptr) {
    auto* hot = reinterpret_cast<HotPathObject*>(timing->hot);
    int id = -1;
    PyObject* entry = ResolveCached(hot, timing->operation, &id);
    PyObject* tracker = entry != nullptr ? NewTracker(hot, entry, id) : nullptr;
    if (tracker == nullptr) return nullptr;
    auto* t = reinterpret_cast<TrackerObject*>(tracker);
    if (MetadataSet(&t->metadata, HttpMethodKey(), method) < 0 ||
        EnterTracker(t, timing->read_memory) < 0) {
      Py_DECREF(tracker);
      return nullptr;
    }
    return tracker;
  }
  PyObject* call_args[] = {timing->operation, method};
  PyObject* tracker =
      PyObject_Vectorcall(timing->track, call_args, 1, g_method_kwnames);
  if (tracker == nullptr) return nullptr;
  PyObject* entered = PyObject_CallMethodNoArgs(tracker, g_enter);
  if (entered == nullptr) {
    Py_DECREF(tracker);
    return nullptr;
  }
  Py_DECREF(entered);
  return tracker;
}

}  // namespace

PyObject* OpenExchange(PyObject* callable, PyObject* scope, PyObject* send) {
  auto* timing = reinterpret_cast<HttpTimingObject*>(callable);
  PyObject* root_path = RequestRootPath(scope);
  PyObject* method = root_path != nullptr ? RequestMethod(scope) : nullptr;
  if (method == nullptr) {
    Py_XDECREF(root_path);
    return nullptr;
  }
  // Allocated before the block opens: a block once entered must be exited.
  auto* ex = PyObject_GC_New(HttpExchangeObject, &HttpExchangeType);
  if (ex == nullptr) {
    Py_DECREF(method);
    Py_DECREF(root_path);
    return nullptr;
  }
  ex->vectorcall = ExchangeCall;
  ex->timing = reinterpret_cast<HttpTimingObject*>(Py_NewRef(callable));
  ex->tracker = nullptr;
  ex->send = Py_NewRef(send);
  ex->scope = Py_NewRef(scope);
  ex->method = method;
  ex->root_path = root_path;
  ex->status = nullptr;
  ex->finished = false;
  ex->started_ns = SteadyNowNanos();
  ex->tracker = OpenBlock(timing, method);
  if (ex->tracker == nullptr) {
    Py_DECREF(reinterpret_cast<PyObject*>(ex));
    return nullptr;
  }
  PyObject_GC_Track(ex);
  return reinterpret_cast<PyObject*>(ex);
}

namespace {

PyObject* TimingCall(PyObject* callable, PyObject* const* args, size_t nargsf,
                     PyObject* kwnames) {
  if (PyVectorcall_NARGS(nargsf) != 2 ||
      (kwnames != nullptr && PyTuple_GET_SIZE(kwnames) != 0)) {
    PyErr_SetString(PyExc_TypeError,
                    "_HttpTiming takes 2 positional arguments (scope, send)");
    return nullptr;
  }
  return OpenExchange(callable, args[0], args[1]);
}

// ---------------------------------------------------------- _HttpExchange --

int ExchangeTraverse(PyObject* self, visitproc visit, void* arg) {
  auto* ex = reinterpret_cast<HttpExchangeObject*>(self);
  Py_VISIT(reinterpret_cast<PyObject*>(ex->timing));
  Py_VISIT(ex->tracker);
  Py_VISIT(ex->send);
  Py_VISIT(ex->scope);
  Py_VISIT(ex->method);
  Py_VISIT(ex->root_path);
  Py_VISIT(ex->status);
  return 0;
}

int ExchangeClear(PyObject* self) {
  auto* ex = reinterpret_cast<HttpExchangeObject*>(self);
  Py_CLEAR(ex->timing);
  Py_CLEAR(ex->tracker);
  Py_CLEAR(ex->send);
  Py_CLEAR(ex->scope);
  Py_CLEAR(ex->method);
  Py_CLEAR(ex->root_path);
  Py_CLEAR(ex->status);
  return 0;
}

void ExchangeDealloc(PyObject* self) {
  PyObject_GC_UnTrack(self);
  ExchangeClear(self);
  PyObject_GC_Del(self);
}

// The "http.response.start" message with the response-time header added
// (a new dict; the app's message and its header list are left as they were).
PyObject* WithResponseTime(HttpExchangeObject* ex, PyObject* message) {
  char text[32];
  const int n = FormatMillis(SteadyNowNanos() - ex->started_ns, text);
  PyObject* headers = nullptr;
  if (GetOptional(message, g_headers_key, &headers) < 0) return nullptr;
  PyObject* list = headers != nullptr ? PySequence_List(headers) : PyList_New(0);
  Py_XDECREF(headers);
  if (list == nullptr) return nullptr;
  PyObject* value = PyBytes_FromStringAndSize(text, n);
  PyObject* pair = value != nullptr ? PyTuple_Pack(2, ex->timing->header, value)
                                    : nullptr;
  Py_XDECREF(value);
  PyObject* copy = nullptr;
  if (pair != nullptr && PyList_Append(list, pair) == 0) {
    if (PyDict_CheckExact(message)) {
      copy = PyDict_Copy(message);
    } else if ((copy = PyDict_New()) != nullptr &&
               PyDict_Update(copy, message) < 0) {
      Py_CLEAR(copy);
    }
    if (copy != nullptr && PyDict_SetItem(copy, g_headers_key, list) < 0) {
      Py_CLEAR(copy);
    }
  }
  Py_XDECREF(pair);
  Py_DECREF(list);
  return copy;
}

// The app's send(message): notes the status of the response start and adds
// the header, then returns what the server's send returns (its awaitable).
PyObject* ExchangeCall(PyObject* callable, PyObject* const* args,
                       size_t nargsf, PyObject* kwnames) {
  auto* ex = reinterpret_cast<HttpExchangeObject*>(callable);
  if (PyVectorcall_NARGS(nargsf) != 1 ||
      (kwnames != nullptr && PyTuple_GET_SIZE(kwnames) != 0)) {
    PyErr_SetString(PyExc_TypeError, "send() takes 1 positional argument (message)");
    return nullptr;
  }
  PyObject* message = args[0];
  PyObject* type = GetRequired(message, g_type_key);
  if (type == nullptr) return nullptr;
  const int is_start = PyObject_RichCompareBool(type, g_response_start, Py_EQ);
  Py_DECREF(type);
  if (is_start < 0) return nullptr;
  if (is_start == 0) return PyObject_Vectorcall(ex->send, &message, 1, nullptr);
  PyObject* status = GetRequired(message, g_status_key);
  if (status == nullptr) return nullptr;
  Py_XSETREF(ex->status, status);
  if (ex->timing->header == Py_None) {
    return PyObject_Vectorcall(ex->send, &message, 1, nullptr);
  }
  PyObject* timed = WithResponseTime(ex, message);
  if (timed == nullptr) return nullptr;
  PyObject* r = PyObject_Vectorcall(ex->send, &timed, 1, nullptr);
  Py_DECREF(timed);
  return r;
}

// Exits the block: successfully when `error` is NULL, else failed by
// `error` (an exception instance). 0, or -1 with its exception.
int ExitBlock(HttpExchangeObject* ex, PyObject* error) {
  PyObject* type = error != nullptr
                       ? reinterpret_cast<PyObject*>(Py_TYPE(error))
                       : Py_None;
  PyObject* value = error != nullptr ? error : Py_None;
  if (ex->timing->hot != nullptr) {
    return ExitTracker(reinterpret_cast<TrackerObject*>(ex->tracker), type,
                       value);
  }
  PyObject* traceback =
      error != nullptr ? PyException_GetTraceback(error) : nullptr;
  PyObject* call_args[] = {ex->tracker, type, value,
                           traceback != nullptr ? traceback : Py_None};
  PyObject* r = PyObject_VectorcallMethod(g_exit, call_args, 4, nullptr);
  Py_XDECREF(traceback);
  if (r == nullptr) return -1;
  Py_DECREF(r);
  return 0;
}

// Exits the block as failed by the exception pending (a failure of ours),
// which stays pending. Returns -1.
int ExitWithPendingError(HttpExchangeObject* ex) {
  PyObject* error = TakeRaisedException();
  if (error != nullptr && ExitBlock(ex, error) < 0) {
    PyErr_Clear();  // the first error is the one to report
  }
  RestoreRaisedException(error);
  return -1;
}

// metadata["route"] and metadata["status_code"], set in place: keys the
// endpoint added to the request's metadata are kept.
int SetRequestFields(HttpExchangeObject* ex, PyObject* route,
                     PyObject* status) {
  if (ex->timing->hot != nullptr) {
    BlockMetadata* md =
        &reinterpret_cast<TrackerObject*>(ex->tracker)->metadata;
    if (MetadataSet(md, HttpRouteKey(), route) < 0) return -1;
    return MetadataSet(md, HttpStatusCodeKey(), status);
  }
  PyObject* md = PyObject_GetAttr(ex->tracker, g_metadata);
  if (md == nullptr) return -1;
  int r = PyObject_SetItem(md, HttpRouteKey(), route);
  if (r == 0) r = PyObject_SetItem(md, HttpStatusCodeKey(), status);
  Py_DECREF(md);
  return r;
}

}  // namespace

int FinishExchange(PyObject* exchange, PyObject* exc) {
  auto* ex = reinterpret_cast<HttpExchangeObject*>(exchange);
  if (ex->finished) {
    PyErr_SetString(PyExc_RuntimeError,
                    "the request's block is finished already");
    return -1;
  }
  ex->finished = true;
  const bool raised = exc != nullptr;
  long code = -1;
  PyObject* status = RecordedStatus(ex->status, raised, &code);
  PyObject* route =
      status != nullptr
          ? RequestRoute(ex->scope, ex->root_path, ex->timing->joined)
          : nullptr;
  const int set = route != nullptr ? SetRequestFields(ex, route, status) : -1;
  Py_XDECREF(route);
  Py_XDECREF(status);
  if (set < 0) return ExitWithPendingError(ex);
  if (raised) return ExitBlock(ex, exc);
  // A 5xx response fails the request (the raw status, as the app sent it;
  // compared in C when it is a code in 100..599).
  const int failed =
      ex->status == nullptr ? 0
      : code >= 0           ? code >= 500
                            : PyObject_RichCompareBool(ex->status, HttpStatus500(), Py_GE);
  if (failed < 0) return ExitWithPendingError(ex);
  if (failed == 0) return ExitBlock(ex, nullptr);
  PyObject* error = PyObject_CallOneArg(ex->timing->failure, ex->status);
  if (error != nullptr && !PyExceptionInstance_Check(error)) {
    PyErr_Format(PyExc_TypeError,
                 "the failure callable must return an exception, got %R",
                 error);
    Py_CLEAR(error);
  }
  if (error == nullptr) return ExitWithPendingError(ex);
  const int r = ExitBlock(ex, error);
  Py_DECREF(error);
  return r;
}

namespace {

PyObject* ExchangeFinish(PyObject* self, PyObject* exc) {
  if (exc != Py_None && !PyExceptionInstance_Check(exc)) {
    PyErr_Format(PyExc_TypeError,
                 "finish() takes an exception instance or None, got %R", exc);
    return nullptr;
  }
  if (FinishExchange(self, exc == Py_None ? nullptr : exc) < 0) return nullptr;
  Py_RETURN_NONE;
}

PyObject* ExchangeGetTracker(PyObject* self, void*) {
  return Py_NewRef(reinterpret_cast<HttpExchangeObject*>(self)->tracker);
}

PyMethodDef kExchangeMethods[] = {
    {"finish", ExchangeFinish, METH_O,
     "finish(exc): records the request (metadata, then the block's exit: "
     "failed by `exc` if not None, by the failure of a 5xx status, else "
     "successful). Once only."},
    {nullptr, nullptr, 0, nullptr},
};

PyMethodDef kTimingMethods[] = {
    {"serve",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(HttpServe)),
     METH_FASTCALL,
     "serve(app, scope, receive, send): the middleware's call; returns the "
     "awaitable (an _HttpRequest for HTTP, else the app's own)."},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef kExchangeGetSet[] = {
    {"tracker", ExchangeGetTracker, nullptr, "The request's OperationTracker.",
     nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

int InitNames() {
  if (InternNames({{&g_type_key, "type"},
                   {&g_status_key, "status"},
                   {&g_headers_key, "headers"},
                   {&g_metadata, "metadata"},
                   {&g_enter, "__enter__"},
                   {&g_exit, "__exit__"},
                   {&g_response_start, "http.response.start"}}) < 0) {
    return -1;
  }
  if (g_method_kwnames == nullptr &&
      (g_method_kwnames = PyTuple_Pack(1, HttpMethodKey())) == nullptr) {
    return -1;
  }
  return 0;
}

}  // namespace

bool IsHttpTiming(PyObject* obj) {
  return PyObject_TypeCheck(obj, &HttpTimingType);
}

int RegisterHttpExchangeTypes(PyObject* module) {
  if (InitHttpRequestFields() < 0 || InitNames() < 0) return -1;
  HttpTimingType.tp_name = "ragperf._core._HttpTiming";
  HttpTimingType.tp_basicsize = sizeof(HttpTimingObject);
  HttpTimingType.tp_dealloc = TimingDealloc;
  HttpTimingType.tp_flags =
      Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL;
  HttpTimingType.tp_vectorcall_offset = offsetof(HttpTimingObject, vectorcall);
  HttpTimingType.tp_call = PyVectorcall_Call;
  HttpTimingType.tp_traverse = TimingTraverse;
  HttpTimingType.tp_clear = TimingClear;
  HttpTimingType.tp_new = TimingNew;
  HttpTimingType.tp_methods = kTimingMethods;
  HttpTimingType.tp_doc =
      "_HttpTiming(track_operation, operation, header, failure, *, "
      "read_memory=False): the per-request work of RagperfMiddleware; "
      "serve(app, scope, receive, send) is the middleware's call, and "
      "calling it with (scope, send) opens the request's block and returns "
      "its _HttpExchange.";

  HttpExchangeType.tp_name = "ragperf._core._HttpExchange";
  HttpExchangeType.tp_basicsize = sizeof(HttpExchangeObject);
  HttpExchangeType.tp_dealloc = ExchangeDealloc;
  HttpExchangeType.tp_flags =
      Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL;
  HttpExchangeType.tp_vectorcall_offset =
      offsetof(HttpExchangeObject, vectorcall);
  HttpExchangeType.tp_call = PyVectorcall_Call;
  HttpExchangeType.tp_traverse = ExchangeTraverse;
  HttpExchangeType.tp_clear = ExchangeClear;
  HttpExchangeType.tp_methods = kExchangeMethods;
  HttpExchangeType.tp_getset = kExchangeGetSet;
  HttpExchangeType.tp_doc =
      "One HTTP request: the send() given to the app (notes the status, adds "
      "the response-time header) and finish(exc).";
  if (AddType(module, &HttpTimingType, "_HttpTiming") < 0 ||
      AddType(module, &HttpExchangeType, "_HttpExchange") < 0 ||
      RegisterHttpRequestType(module) < 0 ||
      RegisterAsgiMiddlewareType(module) < 0) {
    return -1;
  }
  return 0;
}

}  // namespace ragperf::bindings

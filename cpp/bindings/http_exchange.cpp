// Copyright 2026 The ragperf Authors.
//
// _core._HttpTiming and _core._HttpExchange: see http_exchange.h.

#include "http_exchange.h"

#include <cstdint>

#include "py_args.h"
#include "ragperf/clock.h"

// CPython's type tables are designed to be partially initialised.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace ragperf::bindings {
namespace {

// Interned names and the one object per value (RegisterHttpExchangeTypes).
PyObject* g_type_key;
PyObject* g_status_key;
PyObject* g_headers_key;
PyObject* g_route_key;
PyObject* g_root_path_key;
PyObject* g_method_key;
PyObject* g_status_code_key;
PyObject* g_path_format;
PyObject* g_path;
PyObject* g_metadata;
PyObject* g_enter;
PyObject* g_exit;
PyObject* g_response_start;
PyObject* g_method_kwnames;  // ("method",)
PyObject* g_methods;         // dict: an HTTP method -> the one str for it
PyObject* g_empty_str;
PyObject* g_500;
constexpr long kFirstStatus = 100;
constexpr long kEndStatus = 600;
PyObject* g_statuses[kEndStatus - kFirstStatus];
// Mounts whose prefix holds a path parameter give one joined route per
// value: the table of joined routes stops growing here.
constexpr Py_ssize_t kMaxJoinedRoutes = 1024;

struct HttpTimingObject {
  PyObject_HEAD
  vectorcallfunc vectorcall;
  PyObject* track;      // track_operation
  PyObject* operation;  // its first argument
  PyObject* header;     // bytes, or Py_None for no header
  PyObject* failure;    // callable(status) -> exception instance (5xx)
  PyObject* joined;     // dict: (mount prefix, template) -> joined route
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
  Py_VISIT(t->operation);
  Py_VISIT(t->header);
  Py_VISIT(t->failure);
  Py_VISIT(t->joined);
  return 0;
}

int TimingClear(PyObject* self) {
  auto* t = reinterpret_cast<HttpTimingObject*>(self);
  Py_CLEAR(t->track);
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
                                 "failure", nullptr};
  PyObject *track, *operation, *header, *failure;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOO:_HttpTiming",
                                   const_cast<char**>(kNames), &track,
                                   &operation, &header, &failure)) {
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
  t->operation = Py_NewRef(operation);
  t->header = Py_NewRef(header);
  t->failure = Py_NewRef(failure);
  t->joined = joined;
  return reinterpret_cast<PyObject*>(t);
}

// The request's block: track_operation(operation, method=method), entered.
PyObject* OpenBlock(HttpTimingObject* timing, PyObject* method) {
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

PyObject* TimingCall(PyObject* callable, PyObject* const* args, size_t nargsf,
                     PyObject* kwnames) {
  auto* timing = reinterpret_cast<HttpTimingObject*>(callable);
  if (PyVectorcall_NARGS(nargsf) != 2 ||
      (kwnames != nullptr && PyTuple_GET_SIZE(kwnames) != 0)) {
    PyErr_SetString(PyExc_TypeError,
                    "_HttpTiming takes 2 positional arguments (scope, send)");
    return nullptr;
  }
  PyObject* scope = args[0];
  PyObject* send = args[1];
  PyObject* root_path = nullptr;
  PyObject* method = nullptr;
  if (GetOptional(scope, g_root_path_key, &root_path) < 0 ||
      GetOptional(scope, g_method_key, &method) < 0) {
    Py_XDECREF(root_path);
    return nullptr;
  }
  if (root_path == nullptr) root_path = Py_NewRef(g_empty_str);
  if (method == nullptr) {
    method = Py_NewRef(Py_None);
  } else if (PyUnicode_CheckExact(method)) {
    PyObject* one = PyDict_GetItemWithError(g_methods, method);
    if (one != nullptr) {
      Py_SETREF(method, Py_NewRef(one));
    } else if (PyErr_Occurred()) {
      Py_DECREF(method);
      Py_DECREF(root_path);
      return nullptr;
    }
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

// `ns` as milliseconds with three decimals and the unit ("12.345ms", rounded
// to the microsecond) in `out` (at least 32 chars); returns the length.
// Integer digits: glibc's printf("%.3f") costs ~1,000 instructions.
int FormatMillis(int64_t ns, char* out) {
  const int64_t us = (ns < 0 ? 0 : ns + 500) / 1000;
  int64_t whole = us / 1000;
  const int frac = static_cast<int>(us % 1000);
  char reversed[24];
  int n = 0;
  do {
    reversed[n++] = static_cast<char>('0' + whole % 10);
    whole /= 10;
  } while (whole != 0);
  int len = 0;
  while (n > 0) out[len++] = reversed[--n];
  out[len++] = '.';
  out[len++] = static_cast<char>('0' + frac / 100);
  out[len++] = static_cast<char>('0' + frac / 10 % 10);
  out[len++] = static_cast<char>('0' + frac % 10);
  out[len++] = 'm';
  out[len++] = 's';
  return len;
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

// The route template of the matched route (FastAPI's router leaves it in
// scope["route"]) with the prefix of any mount it went through (a mount
// extends scope["root_path"]); None when no route matched. New reference.
PyObject* RouteTemplate(HttpExchangeObject* ex) {
  PyObject* route = nullptr;
  if (GetOptional(ex->scope, g_route_key, &route) < 0) return nullptr;
  if (route == nullptr) return Py_NewRef(Py_None);
  PyObject* tmpl = GetAttrOrNone(route, g_path_format);
  int truthy = tmpl != nullptr ? PyObject_IsTrue(tmpl) : -1;
  if (truthy == 0) {
    Py_SETREF(tmpl, GetAttrOrNone(route, g_path));
    truthy = tmpl != nullptr ? 1 : -1;
  }
  Py_DECREF(route);
  if (truthy < 0) {
    Py_XDECREF(tmpl);
    return nullptr;
  }
  if (!PyUnicode_Check(tmpl)) {
    Py_DECREF(tmpl);
    return Py_NewRef(Py_None);
  }
  PyObject* prefix = nullptr;
  if (GetOptional(ex->scope, g_root_path_key, &prefix) < 0) {
    Py_DECREF(tmpl);
    return nullptr;
  }
  PyObject* root = PyUnicode_Check(ex->root_path) ? ex->root_path : g_empty_str;
  const Py_ssize_t root_len = PyUnicode_GET_LENGTH(root);
  if (prefix == nullptr || !PyUnicode_Check(prefix) ||
      PyUnicode_GET_LENGTH(prefix) <= root_len ||
      PyUnicode_Tailmatch(prefix, root, 0, root_len, -1) != 1) {
    Py_XDECREF(prefix);
    return tmpl;  // no mount (a Tailmatch error cannot happen: both are str)
  }
  PyObject* mount =
      PyUnicode_Substring(prefix, root_len, PyUnicode_GET_LENGTH(prefix));
  Py_DECREF(prefix);
  PyObject* key = mount != nullptr ? PyTuple_Pack(2, mount, tmpl) : nullptr;
  PyObject* joined = nullptr;
  if (key != nullptr) {
    joined = PyDict_GetItemWithError(ex->timing->joined, key);
    if (joined != nullptr) {
      Py_INCREF(joined);
    } else if (!PyErr_Occurred() &&
               (joined = PyUnicode_Concat(mount, tmpl)) != nullptr &&
               PyDict_GET_SIZE(ex->timing->joined) < kMaxJoinedRoutes &&
               PyDict_SetItem(ex->timing->joined, key, joined) < 0) {
      Py_CLEAR(joined);
    }
  }
  Py_XDECREF(key);
  Py_XDECREF(mount);
  Py_DECREF(tmpl);
  return joined;
}

// tracker.__exit__(type, value, traceback); 0, or -1 with its exception.
int ExitBlock(HttpExchangeObject* ex, PyObject* type, PyObject* value,
              PyObject* traceback) {
  PyObject* call_args[] = {ex->tracker, type, value, traceback};
  PyObject* r = PyObject_VectorcallMethod(g_exit, call_args, 4, nullptr);
  if (r == nullptr) return -1;
  Py_DECREF(r);
  return 0;
}

// Exits the block as failed by `error` (an exception instance).
int ExitFailed(HttpExchangeObject* ex, PyObject* error) {
  PyObject* traceback = PyException_GetTraceback(error);
  const int r = ExitBlock(ex, reinterpret_cast<PyObject*>(Py_TYPE(error)),
                          error, traceback != nullptr ? traceback : Py_None);
  Py_XDECREF(traceback);
  return r;
}

// Exits the block as failed by the exception pending (a failure of ours),
// which stays pending. Returns -1.
int ExitWithPendingError(HttpExchangeObject* ex) {
  PyObject *type, *value, *traceback;
  PyErr_Fetch(&type, &value, &traceback);
  PyErr_NormalizeException(&type, &value, &traceback);
  if (value != nullptr && traceback != nullptr) {
    PyException_SetTraceback(value, traceback);
  }
  if (value != nullptr && ExitFailed(ex, value) < 0) {
    PyErr_Clear();  // the first error is the one to report
  }
  PyErr_Restore(type, value, traceback);
  return -1;
}

// The metadata of the finished request: method, route, status code.
PyObject* RequestMetadata(HttpExchangeObject* ex, PyObject* status) {
  PyObject* route = RouteTemplate(ex);
  if (route == nullptr) return nullptr;
  PyObject* metadata = PyDict_New();
  if (metadata == nullptr ||
      PyDict_SetItem(metadata, g_method_key, ex->method) < 0 ||
      PyDict_SetItem(metadata, g_route_key, route) < 0 ||
      PyDict_SetItem(metadata, g_status_code_key, status) < 0) {
    Py_CLEAR(metadata);
  }
  Py_DECREF(route);
  return metadata;
}

// The status code to record: the response's (for an int in 100..599, of any
// int type such as HTTPStatus, the one plain int object for it), else 500
// when an exception escaped, else None.
PyObject* RecordedStatus(HttpExchangeObject* ex, bool raised) {
  PyObject* status = ex->status;
  const int truthy = status != nullptr ? PyObject_IsTrue(status) : 0;
  if (truthy < 0) return nullptr;
  if (truthy == 0) return Py_NewRef(raised ? g_500 : Py_None);
  if (PyLong_Check(status) && !PyBool_Check(status)) {
    int overflow = 0;
    const long code = PyLong_AsLongAndOverflow(status, &overflow);
    if (overflow == 0 && code >= kFirstStatus && code < kEndStatus) {
      return Py_NewRef(g_statuses[code - kFirstStatus]);
    }
  }
  return Py_NewRef(status);
}

PyObject* ExchangeFinish(PyObject* self, PyObject* exc) {
  auto* ex = reinterpret_cast<HttpExchangeObject*>(self);
  if (ex->finished) {
    PyErr_SetString(PyExc_RuntimeError, "the request's block is finished already");
    return nullptr;
  }
  const bool raised = exc != Py_None;
  if (raised && !PyExceptionInstance_Check(exc)) {
    PyErr_Format(PyExc_TypeError,
                 "finish() takes an exception instance or None, got %R", exc);
    return nullptr;
  }
  ex->finished = true;
  PyObject* status = RecordedStatus(ex, raised);
  PyObject* metadata = status != nullptr ? RequestMetadata(ex, status) : nullptr;
  const int set = metadata != nullptr
                      ? PyObject_SetAttr(ex->tracker, g_metadata, metadata)
                      : -1;
  Py_XDECREF(metadata);
  if (set < 0) {
    Py_XDECREF(status);
    ExitWithPendingError(ex);
    return nullptr;
  }
  int r;
  if (raised) {
    r = ExitFailed(ex, exc);
  } else {
    // A 5xx response fails the request (the raw status, as the app sent it).
    const int failed = ex->status != nullptr
                           ? PyObject_RichCompareBool(ex->status, g_500, Py_GE)
                           : 0;
    if (failed < 0) {
      r = ExitWithPendingError(ex);
    } else if (failed > 0) {
      PyObject* error = PyObject_CallOneArg(ex->timing->failure, ex->status);
      if (error != nullptr && !PyExceptionInstance_Check(error)) {
        PyErr_Format(PyExc_TypeError,
                     "the failure callable must return an exception, got %R",
                     error);
        Py_CLEAR(error);
      }
      r = error != nullptr ? ExitFailed(ex, error) : ExitWithPendingError(ex);
      Py_XDECREF(error);
    } else {
      r = ExitBlock(ex, Py_None, Py_None, Py_None);
    }
  }
  Py_DECREF(status);
  if (r < 0) return nullptr;
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

PyGetSetDef kExchangeGetSet[] = {
    {"tracker", ExchangeGetTracker, nullptr, "The request's OperationTracker.",
     nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

int InitNames() {
  struct Name {
    PyObject** slot;
    const char* text;
  };
  const Name names[] = {
      {&g_type_key, "type"},         {&g_status_key, "status"},
      {&g_headers_key, "headers"},   {&g_route_key, "route"},
      {&g_root_path_key, "root_path"}, {&g_method_key, "method"},
      {&g_status_code_key, "status_code"}, {&g_path_format, "path_format"},
      {&g_path, "path"},             {&g_metadata, "metadata"},
      {&g_enter, "__enter__"},       {&g_exit, "__exit__"},
      {&g_response_start, "http.response.start"}, {&g_empty_str, ""},
  };
  for (const Name& n : names) {
    if (*n.slot == nullptr && (*n.slot = PyUnicode_InternFromString(n.text)) == nullptr) {
      return -1;
    }
  }
  if (g_method_kwnames == nullptr &&
      (g_method_kwnames = PyTuple_Pack(1, g_method_key)) == nullptr) {
    return -1;
  }
  if (g_methods == nullptr) {
    if ((g_methods = PyDict_New()) == nullptr) return -1;
    for (const char* m : {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH",
                          "OPTIONS", "TRACE", "CONNECT"}) {
      PyObject* s = PyUnicode_InternFromString(m);
      const int r = s != nullptr ? PyDict_SetItem(g_methods, s, s) : -1;
      Py_XDECREF(s);
      if (r < 0) return -1;
    }
  }
  for (long code = kFirstStatus; code < kEndStatus; ++code) {
    PyObject*& slot = g_statuses[code - kFirstStatus];
    if (slot == nullptr && (slot = PyLong_FromLong(code)) == nullptr) return -1;
  }
  g_500 = g_statuses[500 - kFirstStatus];
  return 0;
}

}  // namespace

int RegisterHttpExchangeTypes(PyObject* module) {
  if (InitNames() < 0) return -1;
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
  HttpTimingType.tp_doc =
      "_HttpTiming(track_operation, operation, header, failure): the "
      "per-request work of RagperfMiddleware; calling it with (scope, send) "
      "opens the request's block and returns its _HttpExchange.";

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
      AddType(module, &HttpExchangeType, "_HttpExchange") < 0) {
    return -1;
  }
  return 0;
}

}  // namespace ragperf::bindings

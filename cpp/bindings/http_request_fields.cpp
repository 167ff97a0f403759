// Copyright 2026 The ragperf Authors.
//
// What an HTTP request is recorded as: see http_request_fields.h.

#include "http_request_fields.h"

#include "py_args.h"

namespace ragperf::bindings {
namespace {

PyObject* g_method_key;
PyObject* g_route_key;
PyObject* g_root_path_key;
PyObject* g_status_code_key;
PyObject* g_path_format;
PyObject* g_path;
PyObject* g_empty_str;
PyObject* g_methods;  // dict: an HTTP method -> the one str for it
constexpr long kFirstStatus = 100;
constexpr long kEndStatus = 600;
PyObject* g_statuses[kEndStatus - kFirstStatus];

// The template of the route in scope["route"] ("path_format", else "path"),
// or None when there is none or it is not a str.
PyObject* TemplateOf(PyObject* scope) {
  PyObject* route = nullptr;
  if (GetOptional(scope, g_route_key, &route) < 0) return nullptr;
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
  return tmpl;
}

}  // namespace

PyObject* RequestRoute(PyObject* scope, PyObject* root_path_at_start,
                       PyObject* joined_routes) {
  PyObject* tmpl = TemplateOf(scope);
  if (tmpl == nullptr || tmpl == Py_None) return tmpl;
  PyObject* prefix = nullptr;
  if (GetOptional(scope, g_root_path_key, &prefix) < 0) {
    Py_DECREF(tmpl);
    return nullptr;
  }
  PyObject* root =
      PyUnicode_Check(root_path_at_start) ? root_path_at_start : g_empty_str;
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
    joined = PyDict_GetItemWithError(joined_routes, key);
    if (joined != nullptr) {
      Py_INCREF(joined);
    } else if (!PyErr_Occurred() &&
               (joined = PyUnicode_Concat(mount, tmpl)) != nullptr &&
               PyDict_GET_SIZE(joined_routes) < kMaxJoinedRoutes &&
               PyDict_SetItem(joined_routes, key, joined) < 0) {
      Py_CLEAR(joined);
    }
  }
  Py_XDECREF(key);
  Py_XDECREF(mount);
  Py_DECREF(tmpl);
  return joined;
}

int InitHttpRequestFields() {
  if (InternNames({{&g_method_key, "method"},
                   {&g_route_key, "route"},
                   {&g_root_path_key, "root_path"},
                   {&g_status_code_key, "status_code"},
                   {&g_path_format, "path_format"},
                   {&g_path, "path"},
                   {&g_empty_str, ""}}) < 0) {
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
  return 0;
}

PyObject* HttpMethodKey() { return g_method_key; }

PyObject* HttpStatus500() { return g_statuses[500 - kFirstStatus]; }

PyObject* RequestMethod(PyObject* scope) {
  PyObject* method = nullptr;
  if (GetOptional(scope, g_method_key, &method) < 0) return nullptr;
  if (method == nullptr) return Py_NewRef(Py_None);
  if (PyUnicode_CheckExact(method)) {
    PyObject* one = PyDict_GetItemWithError(g_methods, method);
    if (one != nullptr) {
      Py_SETREF(method, Py_NewRef(one));
    } else if (PyErr_Occurred()) {
      Py_CLEAR(method);
    }
  }
  return method;
}

PyObject* RequestRootPath(PyObject* scope) {
  PyObject* root_path = nullptr;
  if (GetOptional(scope, g_root_path_key, &root_path) < 0) return nullptr;
  return root_path != nullptr ? root_path : Py_NewRef(g_empty_str);
}

PyObject* RecordedStatus(PyObject* sent, bool raised, long* code) {
  *code = -1;
  // The usual case first: an int code (no truth test needed, it is not 0).
  if (sent != nullptr && PyLong_Check(sent) && !PyBool_Check(sent)) {
    int overflow = 0;
    const long c = PyLong_AsLongAndOverflow(sent, &overflow);
    if (overflow == 0 && c >= kFirstStatus && c < kEndStatus) {
      *code = c;
      return Py_NewRef(g_statuses[c - kFirstStatus]);
    }
    if (c == -1 && PyErr_Occurred()) return nullptr;
  }
  const int truthy = sent != nullptr ? PyObject_IsTrue(sent) : 0;
  if (truthy < 0) return nullptr;
  if (truthy == 0) {
    if (!raised) return Py_NewRef(Py_None);
    *code = 500;
    return Py_NewRef(HttpStatus500());
  }
  return Py_NewRef(sent);
}

PyObject* HttpRouteKey() { return g_route_key; }
PyObject* HttpStatusCodeKey() { return g_status_code_key; }

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

}  // namespace ragperf::bindings

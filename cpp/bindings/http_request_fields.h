// Copyright 2026 The ragperf Authors.
//
// http_request_fields.h
// -----------------------------------------------------------------------------
// What an HTTP request is recorded as (the ASGI middleware's operation, see
// http_exchange.h): its method, route template and status code, and the
// value of its response-time header. Values that name the same thing are
// handed over as the same object (one str per HTTP method, one int per
// status code, one str per joined mount route), because the monitor's
// metadata cache compares keys and values by identity: a route's metadata is
// then serialised once, not twice per request. Everything here runs with the
// GIL held; functions returning PyObject* give a new reference, or NULL with
// a Python exception set.
//
// Example (inside the extension):
//
//   PyObject* method = RequestMethod(scope);            // "GET", interned
//   long code;
//   PyObject* status = RecordedStatus(sent, /*raised=*/false, &code);
//   PyObject* route = RequestRoute(scope, root_path, joined);
//   // method "GET", route "/items/{item_id}", status 200: recorded under
//   // HttpMethodKey(), HttpRouteKey() and HttpStatusCodeKey()

#ifndef RAGPERF_BINDINGS_HTTP_REQUEST_FIELDS_H_
#define RAGPERF_BINDINGS_HTTP_REQUEST_FIELDS_H_

#include <Python.h>

#include <cstdint>

namespace ragperf::bindings {

// Interns the names and creates the one object per value. -1 on failure.
int InitHttpRequestFields();

// The interned str "method" (borrowed): the keyword a request's block is
// opened with.
PyObject* HttpMethodKey();
// The interned str "route" and "status_code" (borrowed): the metadata keys
// set when the request finishes.
PyObject* HttpRouteKey();
PyObject* HttpStatusCodeKey();
// The int 500 (borrowed): the status a 5xx failure starts at.
PyObject* HttpStatus500();

// scope.get("method"), the one str of a standard HTTP method (else as
// given; None when missing).
PyObject* RequestMethod(PyObject* scope);
// scope.get("root_path", "").
PyObject* RequestRootPath(PyObject* scope);

// The status code to record: `sent` (the response's; NULL when none
// started) as the one plain int of a code in 100..599 (of any int type,
// such as HTTPStatus), else 500 when an exception escaped (`raised`), else
// None. `*code` is the code for a result in 100..599, else -1.
PyObject* RecordedStatus(PyObject* sent, bool raised, long* code);

// The route of a finished request: the template of scope["route"]
// (FastAPI's router leaves the matched route there) with the prefix of any
// mount it went through (the part of scope["root_path"] beyond
// `root_path_at_start`), or None when no route matched. Joined routes are
// remembered in `joined_routes` (a dict, up to kMaxJoinedRoutes entries) so
// that each is one object.
PyObject* RequestRoute(PyObject* scope, PyObject* root_path_at_start,
                       PyObject* joined_routes);
// Mounts whose prefix holds a path parameter give one joined route per
// value: the table of joined routes stops growing here.
inline constexpr Py_ssize_t kMaxJoinedRoutes = 1024;

// `ns` as milliseconds with three decimals and the unit ("12.345ms", rounded
// to the microsecond) in `out` (at least 32 chars); returns the length.
int FormatMillis(int64_t ns, char* out);

}  // namespace ragperf::bindings

#endif  // RAGPERF_BINDINGS_HTTP_REQUEST_FIELDS_H_

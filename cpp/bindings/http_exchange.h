// Copyright 2026 The ragperf Authors.
//
// http_exchange.h
// -----------------------------------------------------------------------------
// The per-request work of the ASGI middleware (ragperf.integrations.fastapi)
// as plain CPython types, so that a request runs no Python code of ragperf
// at all (the middleware's call is _AsgiMiddleware's C slot; issue #20
// item 4: under uvicorn the Python form cost ~26,000 instructions per
// request):
//
//   _core._HttpTiming(track_operation, operation, header, failure,
//                     *, read_memory=False)
//       one per middleware. Its serve(app, scope, receive, send) is the
//       middleware: for an HTTP request it opens the request's block
//       (`track_operation(operation, method=...)`, entered in the caller's
//       context, so blocks the endpoint opens nest under it), calls the app
//       with an _HttpExchange as its `send`, and returns an _HttpRequest;
//       for any other scope it returns the app's own awaitable. Calling the
//       timing with (scope, send) opens the block and returns the exchange
//       alone. When track_operation is a monitor's own, the block is opened
//       and closed in C (no method lookups); `read_memory` False (the
//       middleware's default) skips the RSS reads for the request's block.
//   _core._HttpRequest
//       the awaitable: every send/throw/close goes to the app's awaitable;
//       when that ends the exchange is finished (failed by the exception
//       that escaped it, if any; a close() or a request dropped unfinished
//       counts as cancelled). A coroutine-like object, registered as a
//       collections.abc.Coroutine by the middleware's module.
//   _core._HttpExchange
//       the `send` the app is given: it notes the response status and adds
//       the response-time header (`header`, bytes or None) to the
//       `http.response.start` message (a copy; the app's message is left as
//       it was), then returns the server's send(message) awaitable. Its
//       finish(exc) sets the block's metadata keys "route" (template with
//       any mount prefix) and "status_code" (in place: keys the endpoint
//       added stay) and exits it: with `exc` when one escaped the app
//       (status 500 unless a response had started), with `failure(status)`
//       for a 5xx response, else successfully.
//
// What the request is recorded as (method, route, status, the header's
// value) is http_request_fields.h.
//
// Example (Python; what the middleware's call does is the first line):
//
//   timing = _core._HttpTiming(monitor.track_operation, "http_request",
//                              b"x-response-time", failure_for_status)
//   await timing.serve(app, scope, receive, send)
//   # or, by hand:
//   exchange = timing(scope, send)
//   try:
//       await app(scope, receive, exchange)
//   except BaseException as e:
//       exchange.finish(e)
//       raise
//   exchange.finish(None)

#ifndef RAGPERF_BINDINGS_HTTP_EXCHANGE_H_
#define RAGPERF_BINDINGS_HTTP_EXCHANGE_H_

#include <Python.h>

namespace ragperf::bindings {

// Readies _HttpTiming, _HttpExchange, _HttpRequest and _AsgiMiddleware and
// adds them to `module`. -1 with a Python exception set on failure.
int RegisterHttpExchangeTypes(PyObject* module);

// ---- between http_exchange.cpp and http_request_awaitable.cpp
// `timing(scope, send)`: the request's block opened, its _HttpExchange (new
// reference), or NULL with an exception.
PyObject* OpenExchange(PyObject* timing, PyObject* scope, PyObject* send);
// exchange.finish(exc): `exc` NULL for none. 0, or -1 with an exception
// (the block is exited in any case).
int FinishExchange(PyObject* exchange, PyObject* exc);
// _HttpTiming.serve(app, scope, receive, send) (METH_FASTCALL).
PyObject* HttpServe(PyObject* timing, PyObject* const* args, Py_ssize_t nargs);
// Readies _HttpRequest and adds it to `module`.
int RegisterHttpRequestType(PyObject* module);
// Whether `obj` is a _HttpTiming.
bool IsHttpTiming(PyObject* obj);

// ---- asgi_middleware_type.cpp
// Readies _AsgiMiddleware (RagperfMiddleware's base: its call is
// HttpServe(_exchange, app, scope, receive, send) without a Python frame)
// and adds it to `module`.
int RegisterAsgiMiddlewareType(PyObject* module);

}  // namespace ragperf::bindings

#endif  // RAGPERF_BINDINGS_HTTP_EXCHANGE_H_

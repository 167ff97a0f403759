// Copyright 2026 The ragperf Authors.
//
// http_exchange.h
// -----------------------------------------------------------------------------
// The per-request work of the ASGI middleware (ragperf.integrations.fastapi)
// as plain CPython types, so that a request runs a handful of bytecodes of
// ragperf instead of ~300 (issue #20 item 4: under uvicorn the Python form
// cost ~26,000 instructions per request, a block ~5,000 of them):
//
//   _core._HttpTiming(track_operation, operation, header, failure)
//       one per middleware. Calling it with (scope, send) opens the request's
//       block (`track_operation(operation, method=...)`, entered in the
//       caller's context) and returns an _HttpExchange.
//   _core._HttpExchange
//       the `send` the app is given: it notes the response status and adds
//       the response-time header (`header`, bytes or None) to the
//       `http.response.start` message (a copy; the app's message is left as
//       it was), then returns the server's send(message) awaitable. Its
//       finish(exc) sets the block's metadata (method, route template with
//       any mount prefix, status code) and exits it: with `exc` when one
//       escaped the app (status 500 unless a response had started), with
//       `failure(status)` for a 5xx response, else successfully.
//
// What the request is recorded as (method, route, status, the header's
// value) is http_request_fields.h.
//
// Example (Python; the middleware does exactly this):
//
//   timing = _core._HttpTiming(monitor.track_operation, "http_request",
//                              b"x-response-time", failure_for_status)
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

// Readies _HttpTiming and _HttpExchange and adds them to `module`. -1 with a
// Python exception set on failure.
int RegisterHttpExchangeTypes(PyObject* module);

}  // namespace ragperf::bindings

#endif  // RAGPERF_BINDINGS_HTTP_EXCHANGE_H_

// Copyright 2026 The ragperf Authors.
//
// The monitor's own errors on the hot path: counted per HotPath, the first
// one logged on the `ragperf` logger (see NoteInternalError in
// tracker_objects.h). Cold code, kept out of the tracker's life cycle.

#include "absl/base/attributes.h"
#include "tracker_objects.h"

namespace ragperf::bindings {
namespace {

PyObject* g_logging = nullptr;  // the logging module, imported at init

}  // namespace

int ImportLoggingOnce() {
  if (g_logging == nullptr &&
      (g_logging = PyImport_ImportModule("logging")) == nullptr) {
    return -1;
  }
  return 0;
}

// The monitor's own trouble on the hot path (a failing exit hook such as the
// logging or OpenTelemetry one, an allocation failure while recording) never
// reaches the user's block: it is counted, and the first one per monitor is
// logged on the `ragperf` logger, so a broken exporter cannot flood the log
// once per block. Consumes the pending Python exception, if any.
ABSL_ATTRIBUTE_NOINLINE void NoteInternalError(HotPathObject* hot,
                                               const char* where) {
  PyObject* type = nullptr;
  PyObject* value = nullptr;
  PyObject* traceback = nullptr;
  PyErr_Fetch(&type, &value, &traceback);
  if (hot->internal_errors++ == 0) {
    PyObject* detail = value != nullptr ? PyObject_Repr(value) : nullptr;
    if (detail == nullptr) PyErr_Clear();
    PyObject* message = PyUnicode_FromFormat(
        "ragperf: internal error while %s: %s; the tracked code was not "
        "affected. Later internal errors are only counted "
        "(monitor.get_internal_error_count()).",
        where, detail != nullptr ? PyUnicode_AsUTF8(detail) : "C++ exception");
    PyObject* logger = g_logging != nullptr
                           ? PyObject_CallMethod(g_logging, "getLogger", "s",
                                                 "ragperf")
                           : nullptr;
    PyObject* r = logger != nullptr && message != nullptr
                      ? PyObject_CallMethod(logger, "error", "O", message)
                      : nullptr;
    if (r == nullptr) PyErr_Clear();
    Py_XDECREF(r);
    Py_XDECREF(logger);
    Py_XDECREF(message);
    Py_XDECREF(detail);
  }
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(traceback);
}

}  // namespace ragperf::bindings

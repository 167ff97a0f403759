// Copyright 2026 The ragperf Authors.
//
// _core.OperationTracker's attributes (op.tokens, op.model, op.span_id, ...)
// and its stream methods (mark_first_token, add_tokens, set_usage). Values
// are converted here and checked by the core (record_validator.h); the token
// bookkeeping itself is the core's BlockUsage.

#include <optional>

#include "py_error.h"
#include "ragperf/record_validator.h"
#include "tracker_objects.h"

// CPython's tables are designed to be partially initialised.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace ragperf::bindings {
namespace {

TrackerObject* T(PyObject* self) { return reinterpret_cast<TrackerObject*>(self); }

PyObject* OptionalDouble(bool known, double value) {
  if (!known) Py_RETURN_NONE;
  return PyFloat_FromDouble(value);
}

PyObject* OptionalObject(PyObject* value) {
  if (value == nullptr) Py_RETURN_NONE;
  Py_INCREF(value);
  return value;
}

PyObject* OptionalId(uint64_t id) {
  if (id == 0) Py_RETURN_NONE;
  return PyLong_FromUnsignedLongLong(id);
}

// ---------------------------------------------------------------- tokens ----

PyObject* GetPromptTokens(PyObject* self, void*) {
  return PyLong_FromLongLong(T(self)->usage.prompt_tokens);
}
int SetPromptTokens(PyObject* self, PyObject* value, void*) {
  return ParseTokenCount(value, "prompt_tokens", &T(self)->usage.prompt_tokens);
}
PyObject* GetCompletionTokens(PyObject* self, void*) {
  return PyLong_FromLongLong(T(self)->usage.completion_tokens);
}
int SetCompletionTokens(PyObject* self, PyObject* value, void*) {
  return ParseTokenCount(value, "completion_tokens",
                         &T(self)->usage.completion_tokens);
}
PyObject* GetTokens(PyObject* self, void*) {
  return PyLong_FromLongLong(T(self)->usage.Total());
}
int SetTokens(PyObject* self, PyObject* value, void*) {
  int64_t n = 0;
  if (ParseTokenCount(value, "tokens", &n) != 0) return -1;
  T(self)->usage.SetTotal(n);
  return 0;
}

// --------------------------------------------------------------- metadata ----

// The block's own dict (the same object on every read; edits are recorded).
PyObject* GetMetadata(PyObject* self, void*) {
  PyObject* dict = MetadataDict(&T(self)->metadata);
  Py_XINCREF(dict);
  return dict;
}

int SetMetadata(PyObject* self, PyObject* value, void*) {
  return MetadataReplace(&T(self)->metadata, value);
}

// ------------------------------------------------------------- the result ----

PyObject* GetOperation(PyObject* self, void*) {
  Py_INCREF(T(self)->name);
  return T(self)->name;
}

PyObject* GetDuration(PyObject* self, void*) {
  return OptionalDouble(T(self)->state == kExited, T(self)->duration_s);
}

PyObject* GetSuccess(PyObject* self, void*) {
  if (T(self)->state != kExited) Py_RETURN_NONE;
  return PyBool_FromLong(T(self)->success);
}

PyObject* GetCancelled(PyObject* self, void*) {
  return PyBool_FromLong(T(self)->state == kExited && T(self)->cancelled);
}

PyObject* GetMemoryDelta(PyObject* self, void*) {
  TrackerObject* t = T(self);
  return OptionalDouble(t->state == kExited && t->has_memory_delta,
                        t->memory_delta_mb);
}

PyObject* GetGpuMemoryDelta(PyObject* self, void*) {
  TrackerObject* t = T(self);
  return OptionalDouble(t->state == kExited && t->has_gpu_memory_delta,
                        t->gpu_memory_delta_mb);
}

PyObject* GetActive(PyObject* self, void*) {
  return PyBool_FromLong(T(self)->state == kEntered);
}

PyObject* GetErrorType(PyObject* self, void*) {
  return OptionalObject(T(self)->error_type);
}

PyObject* GetErrorMessage(PyObject* self, void*) {
  return OptionalObject(T(self)->error_message);
}

PyObject* GetEndTime(PyObject* self, void*) {
  return OptionalDouble(T(self)->state == kExited, T(self)->end_wall_s);
}

PyObject* GetStartTime(PyObject* self, void*) {
  TrackerObject* t = T(self);
  return OptionalDouble(t->state == kExited, t->end_wall_s - t->duration_s);
}

// ------------------------------------------------------------------ spans ----

PyObject* GetSpanId(PyObject* self, void*) {
  return OptionalId(T(self)->span.ids.span_id);
}
PyObject* GetParentId(PyObject* self, void*) {
  return OptionalId(T(self)->span.ids.parent_id);
}
PyObject* GetTraceId(PyObject* self, void*) {
  return OptionalId(T(self)->span.ids.trace_id);
}
PyObject* GetDepth(PyObject* self, void*) {
  return PyLong_FromLong(T(self)->span.ids.depth);
}
PyObject* GetSpans(PyObject* self, void*) {
  TrackerObject* t = T(self);
  if (t->spans == nullptr) return PyList_New(0);
  return PyList_GetSlice(t->spans, 0, PyList_GET_SIZE(t->spans));
}
PyObject* GetDroppedSpans(PyObject* self, void*) {
  return PyLong_FromLongLong(T(self)->span.dropped_spans);
}
PyObject* GetUnsuccessfulSpans(PyObject* self, void*) {
  return PyLong_FromLongLong(T(self)->span.unsuccessful_spans);
}

// ------------------------------------------------- models, cost and caches ----

PyObject* GetModel(PyObject* self, void*) { return OptionalObject(ModelOf(T(self))); }

// Sets a model field (op.model, op.response_model): a str of 1 to 200
// characters, or None/del to clear. A bad value is a TypeError, as always.
int SetModelField(PyObject** field, const char* name, PyObject* value) {
  if (value == nullptr || value == Py_None) {
    Py_CLEAR(*field);
    return 0;
  }
  if (!PyUnicode_Check(value) ||
      !IsValidNameLength(static_cast<size_t>(PyUnicode_GET_LENGTH(value)))) {
    return SetPyError(ModelNameError(name, ReprText(value)), PyExc_TypeError);
  }
  Py_INCREF(value);
  Py_XSETREF(*field, value);
  return 0;
}

int SetModel(PyObject* self, PyObject* value, void*) {
  return SetModelField(&T(self)->model, "model", value);
}

PyObject* GetResponseModel(PyObject* self, void*) {
  return OptionalObject(T(self)->response_model);
}

int SetResponseModel(PyObject* self, PyObject* value, void*) {
  return SetModelField(&T(self)->response_model, "response_model", value);
}

PyObject* GetCost(PyObject* self, void*) {
  TrackerObject* t = T(self);
  PyObject* model = ModelOf(t);
  if (model == nullptr) Py_RETURN_NONE;
  const absl::string_view response_model =
      t->response_model != nullptr ? Utf8View(t->response_model)
                                   : absl::string_view();
  const std::optional<double> cost = t->hot->monitor->models().CostOf(
      Utf8View(model), response_model, t->usage.prompt_tokens,
      t->usage.completion_tokens, t->usage.Total());
  return OptionalDouble(cost.has_value(), cost.value_or(0));
}

PyObject* GetCacheHit(PyObject* self, void*) {
  if (T(self)->cache_hit < 0) Py_RETURN_NONE;
  return PyBool_FromLong(T(self)->cache_hit);
}

int SetCacheHit(PyObject* self, PyObject* value, void*) {
  TrackerObject* t = T(self);
  if (value == nullptr || value == Py_None) {
    t->cache_hit = -1;
    return 0;
  }
  if (!PyBool_Check(value)) {
    PyErr_Format(PyExc_TypeError, "cache_hit must be True, False or None, got %R",
                 value);
    return -1;
  }
  t->cache_hit = value == Py_True ? 1 : 0;
  return 0;
}

// ---------------------------------------------------------------- streams ----

PyObject* GetTimeToFirstToken(PyObject* self, void*) {
  TrackerObject* t = T(self);
  return OptionalDouble(t->usage.has_first_token(),
                        t->usage.TimeToFirstTokenS(t->start_ns));
}

int RequireActive(TrackerObject* t, const char* what) {
  if (t->state == kEntered) return 0;
  PyErr_Format(PyExc_RuntimeError,
               "%s() needs an active block: call it inside `with "
               "monitor.track_operation(%R) as op:`",
               what, t->name);
  return -1;
}

PyObject* TrackerMarkFirstToken(PyObject* self, PyObject*) {
  TrackerObject* t = T(self);
  if (RequireActive(t, "mark_first_token") < 0) return nullptr;
  t->usage.MarkFirstToken(SteadyNowNanos());
  Py_RETURN_NONE;
}

// add_tokens(n=1): n completion tokens arrived now.
PyObject* TrackerAddTokens(PyObject* self, PyObject* const* args,
                           Py_ssize_t nargs) {
  TrackerObject* t = T(self);
  if (nargs > 1) {
    PyErr_Format(PyExc_TypeError, "add_tokens() takes at most 1 argument (%zd given)",
                 nargs);
    return nullptr;
  }
  int64_t n = 1;
  if (nargs == 1 && ParseTokenCount(args[0], "add_tokens() count", &n) != 0) {
    return nullptr;
  }
  if (RequireActive(t, "add_tokens") < 0) return nullptr;
  if (n == 0) Py_RETURN_NONE;
  const int64_t now = SteadyNowNanos();
  const double gap = t->usage.AddTokens(n, now);
  if (gap >= 0) {
    try {
      t->hot->monitor->tracker().RecordInterTokenGap(t->op_id, gap, n,
                                                     WallSecondsAt(now));
    } catch (...) {
      // Out of memory: lose this gap, not the user's stream.
    }
  }
  Py_RETURN_NONE;
}

// The Python package's usage extractor (ragperf.usage.extract_usage), passed
// in once at import through _core._set_usage_extractor: the extension never
// imports the package back.
PyObject* g_usage_extractor = nullptr;

// set_usage(response) -> bool: token counts (and the response's model) from
// an OpenAI-style response or streamed chunk. Sets, never adds. The model
// the response names becomes response_model; op.model (the requested one)
// is not changed, and reads the response's model only when none was asked
// for (see ModelOf).
PyObject* TrackerSetUsage(PyObject* self, PyObject* response) {
  TrackerObject* t = T(self);
  if (g_usage_extractor == nullptr) {
    PyErr_SetString(PyExc_RuntimeError,
                    "set_usage() needs the usage extractor, which `import "
                    "ragperf` registers (ragperf._core._set_usage_extractor); "
                    "import ragperf before using ragperf._core directly");
    return nullptr;
  }
  PyObject* usage = PyObject_CallOneArg(g_usage_extractor, response);
  if (usage == nullptr) return nullptr;
  if (usage == Py_None) {
    Py_DECREF(usage);
    Py_RETURN_FALSE;
  }
  int64_t prompt = 0, completion = 0, total = 0;
  PyObject* p = PyObject_GetAttrString(usage, "prompt_tokens");
  PyObject* c = p ? PyObject_GetAttrString(usage, "completion_tokens") : nullptr;
  PyObject* tot = c ? PyObject_GetAttrString(usage, "total_tokens") : nullptr;
  PyObject* model = tot ? PyObject_GetAttrString(usage, "model") : nullptr;
  const bool ok = model != nullptr &&
                  ParseTokenCount(p, "prompt_tokens", &prompt) == 0 &&
                  ParseTokenCount(c, "completion_tokens", &completion) == 0 &&
                  ParseTokenCount(tot, "total_tokens", &total) == 0;
  if (ok) {
    t->usage.SetUsage(prompt, completion, total);
    if (PyUnicode_Check(model) && PyUnicode_GET_LENGTH(model) > 0) {
      Py_INCREF(model);
      Py_XSETREF(t->response_model, model);
    }
  }
  Py_XDECREF(p);
  Py_XDECREF(c);
  Py_XDECREF(tot);
  Py_XDECREF(model);
  Py_DECREF(usage);
  if (!ok) return nullptr;
  Py_RETURN_TRUE;
}

// _core._set_usage_extractor(fn): fn(response) -> Usage | None.
PyObject* SetUsageExtractor(PyObject*, PyObject* fn) {
  if (!PyCallable_Check(fn)) {
    PyErr_Format(PyExc_TypeError, "the usage extractor must be callable, got %R",
                 fn);
    return nullptr;
  }
  Py_INCREF(fn);
  Py_XSETREF(g_usage_extractor, fn);
  Py_RETURN_NONE;
}

PyMethodDef kModuleFunctions[] = {
    {"_set_usage_extractor", SetUsageExtractor, METH_O,
     "_set_usage_extractor(fn): the function OperationTracker.set_usage() "
     "reads a response's usage with (fn(response) -> Usage | None); "
     "ragperf.usage registers extract_usage at import."},
    {nullptr, nullptr, 0, nullptr}};

// The token attributes' names (interned), for TrackerSetAttr.
PyObject* g_tokens_name = nullptr;
PyObject* g_prompt_tokens_name = nullptr;
PyObject* g_completion_tokens_name = nullptr;

}  // namespace

int InitTrackerAttributeNames() {
  return InternNames({{&g_tokens_name, "tokens"},
                      {&g_prompt_tokens_name, "prompt_tokens"},
                      {&g_completion_tokens_name, "completion_tokens"}});
}

int TrackerSetAttr(PyObject* self, PyObject* name, PyObject* value) {
  // Token counts are set in most LLM blocks. STORE_ATTR passes the interned
  // name: an address test finds the setter without the type lookup and
  // descriptor call of the generic path (~150 instructions each).
  BlockUsage& usage = T(self)->usage;
  if (name == g_prompt_tokens_name) {
    return ParseTokenCount(value, "prompt_tokens", &usage.prompt_tokens);
  }
  if (name == g_completion_tokens_name) {
    return ParseTokenCount(value, "completion_tokens", &usage.completion_tokens);
  }
  if (name == g_tokens_name) return SetTokens(self, value, nullptr);
  return PyObject_GenericSetAttr(self, name, value);
}

int RegisterUsageExtractor(PyObject* module) {
  return PyModule_AddFunctions(module, kModuleFunctions);
}

PyGetSetDef kTrackerGetSet[] = {
    {"time_to_first_token_s", GetTimeToFirstToken, nullptr,
     "Seconds from the start of the block to its first token "
     "(mark_first_token() or the first add_tokens()), else None.",
     nullptr},
    {"model", GetModel, SetModel,
     "The model this block asked for: set explicitly or metadata['model']; "
     "when none was, the response's model (response_model). Dimensions, "
     "per-model totals and pricing use it. None when unknown.",
     nullptr},
    {"response_model", GetResponseModel, SetResponseModel,
     "The model the response named (e.g. 'gpt-4o-mini-2024-07-18' for a "
     "request of 'gpt-4o-mini'): set by set_usage() or an integration; None "
     "when unknown. Pricing falls back to it when the requested model has no "
     "price.",
     nullptr},
    {"cache_hit", GetCacheHit, SetCacheHit,
     "True/False records a hit/miss of the cache named after the operation; "
     "None (default) = not a cache lookup.",
     nullptr},
    {"error_type", GetErrorType, nullptr,
     "Exception type name after a failed block, else None.", nullptr},
    {"error_message", GetErrorMessage, nullptr,
     "str(exception) after a failed block, else None.", nullptr},
    {"span_id", GetSpanId, nullptr,
     "This block's span id (set on entry), else None.", nullptr},
    {"parent_id", GetParentId, nullptr,
     "The enclosing block's span id, None for a root.", nullptr},
    {"trace_id", GetTraceId, nullptr,
     "The root block's span id (shared by a whole tree).", nullptr},
    {"depth", GetDepth, nullptr, "Nesting depth: 0 for a root.", nullptr},
    {"start_time_s", GetStartTime, nullptr,
     "Wall-clock start (unix seconds) once ended, else None.", nullptr},
    {"end_time_s", GetEndTime, nullptr,
     "Wall-clock end (unix seconds) once ended, else None.", nullptr},
    {"cost_usd", GetCost, nullptr,
     "Cost of this block's tokens at its model's price, None when unknown.",
     nullptr},
    {"_spans", GetSpans, nullptr,
     "Finished descendants of a root block (list of trackers).", nullptr},
    {"dropped_spans", GetDroppedSpans, nullptr,
     "Descendants not kept because the tree exceeded 1000 spans.", nullptr},
    {"unsuccessful_spans", GetUnsuccessfulSpans, nullptr,
     "Kept descendants (see _spans) that ended unsuccessfully: raised or "
     "were cancelled. 0 means none of them failed, so a trace sampler need "
     "not look through them.",
     nullptr},
    {"tokens", GetTokens, SetTokens,
     "Total tokens of this operation (int >= 0). Defaults to prompt_tokens + "
     "completion_tokens when not set.",
     nullptr},
    {"prompt_tokens", GetPromptTokens, SetPromptTokens,
     "Prompt (input) tokens, int >= 0.", nullptr},
    {"completion_tokens", GetCompletionTokens, SetCompletionTokens,
     "Completion (output) tokens, int >= 0.", nullptr},
    {"metadata", GetMetadata, SetMetadata,
     "Metadata dict of this operation (created on first access).", nullptr},
    {"operation", GetOperation, nullptr, "The operation name (str).", nullptr},
    {"duration_s", GetDuration, nullptr,
     "Duration in seconds once the block has ended, else None.", nullptr},
    {"success", GetSuccess, nullptr,
     "False if the block raised, True if not; None while active.", nullptr},
    {"cancelled", GetCancelled, nullptr,
     "True after a block ended by KeyboardInterrupt, SystemExit, "
     "GeneratorExit or asyncio.CancelledError (counted as cancelled, not "
     "failed; success is False).",
     nullptr},
    {"memory_delta_mb", GetMemoryDelta, nullptr,
     "RSS change over the block in MB (memory tracking on), else None.",
     nullptr},
    {"gpu_memory_delta_mb", GetGpuMemoryDelta, nullptr,
     "This process's GPU memory change over the block in MB (track_gpu_memory "
     "on and NVML available), else None.",
     nullptr},
    {"active", GetActive, nullptr, "True between __enter__ and __exit__.",
     nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyMethodDef kTrackerMethods[] = {
    {"__aenter__", TrackerAEnterMethod, METH_NOARGS, "async form of __enter__."},
    {"__aexit__", reinterpret_cast<PyCFunction>(
                      reinterpret_cast<void (*)()>(TrackerAExitMethod)),
     METH_FASTCALL, "async form of __exit__."},
    {"mark_first_token", TrackerMarkFirstToken, METH_NOARGS,
     "mark_first_token(): the first token arrived now (time to first token). "
     "Optional: the first add_tokens() marks it too."},
    {"add_tokens", reinterpret_cast<PyCFunction>(
                       reinterpret_cast<void (*)()>(TrackerAddTokens)),
     METH_FASTCALL,
     "add_tokens(n=1): n completion tokens arrived now; records the "
     "inter-token gap since the previous call."},
    {"set_usage", TrackerSetUsage, METH_O,
     "set_usage(response) -> bool: prompt/completion/total tokens (and "
     "response_model) from an OpenAI-style response, chunk or dict; False "
     "when it carries no usage. Sets the counts, never adds; op.model (the "
     "requested model) is kept."},
    {nullptr, nullptr, 0, nullptr}};

}  // namespace ragperf::bindings

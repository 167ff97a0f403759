// Copyright 2026 The ragperf Authors.
//
// py_args.h
// -----------------------------------------------------------------------------
// Python -> C++ conversions shared by the plain CPython types of the hot path
// (tracker_type.cpp, tracker_properties.cpp, hot_path_type.cpp,
// hot_path_record.cpp, http_exchange.cpp). Type problems raise TypeError here; the value rules
// (ranges, finiteness) are the core's (ragperf/record_validator.h), raised
// through py_error.h. Every function returns -1 / NULL with a Python
// exception set on failure.
//
// Example:
//
//   int64_t n = 0;
//   if (ParseTokenCount(value, "prompt_tokens", &n) < 0) return -1;

#ifndef RAGPERF_BINDINGS_PY_ARGS_H_
#define RAGPERF_BINDINGS_PY_ARGS_H_

#include <Python.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>

#include "absl/base/attributes.h"
#include "absl/strings/string_view.h"

namespace ragperf::bindings {

// Readies `type` and adds it to `module` as `name`.
int AddType(PyObject* module, PyTypeObject* type, const char* name);

// Caches the stdlib types the conversions test against (numbers.Real,
// enum.Enum) once at module init. -1 with an exception on failure.
int InitPyArgs();
// enum.Enum (borrowed; set by InitPyArgs).
PyObject* EnumType();

// A non-negative int token count (int subclasses and integer-like types such
// as numpy ints; not bool). `field` names it in the message.
int ParseTokenCountSlow(PyObject* value, const char* field, int64_t* out);
inline int ParseTokenCount(PyObject* value, const char* field, int64_t* out) {
  // A plain int that fits one digit (< 2**30), the usual count, is read
  // directly; everything else, errors included, takes the full path.
  if (value != nullptr && PyLong_CheckExact(value)) {
#if PY_VERSION_HEX >= 0x030C0000
    PyLongObject* n = reinterpret_cast<PyLongObject*>(value);
    if (PyUnstable_Long_IsCompact(n)) {
      const Py_ssize_t v = PyUnstable_Long_CompactValue(n);
      if (v >= 0) {
        *out = v;
        return 0;
      }
    }
#else
    const Py_ssize_t size = Py_SIZE(value);
    if (size == 0 || size == 1) {
      *out = size == 0 ? 0 : reinterpret_cast<PyLongObject*>(value)->ob_digit[0];
      return 0;
    }
#endif
  }
  return ParseTokenCountSlow(value, field, out);
}
// A real number (not bool) as a double; TypeError "`field` must be `what`".
int ParseReal(PyObject* value, const char* field, const char* what,
              double* out);
// A new dict copied from a mapping, or NULL with a TypeError naming it.
PyObject* CopyMetadata(PyObject* mapping);
// repr(value) as UTF-8, for messages ("<unprintable>" when repr fails).
std::string ReprText(PyObject* value);

// The UTF-8 text of a str (empty, with the error cleared, on failure such as
// a lone surrogate). Points into the str's cached UTF-8 buffer.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline absl::string_view Utf8View(PyObject* str) {
  if (PyUnicode_IS_COMPACT_ASCII(str)) {  // ASCII is its own UTF-8
    return absl::string_view(static_cast<const char*>(PyUnicode_DATA(str)),
                             static_cast<size_t>(PyUnicode_GET_LENGTH(str)));
  }
  Py_ssize_t size = 0;
  const char* utf8 = PyUnicode_AsUTF8AndSize(str, &size);
  if (utf8 == nullptr) {
    PyErr_Clear();
    return {};
  }
  return absl::string_view(utf8, static_cast<size_t>(size));
}

// `key` (a str keyword name) == the ASCII `name`. The length test first:
// most metadata keywords differ in length from the few names looked for, and
// PyUnicode_CompareWithASCIIString costs ~35 instructions per call.
inline bool KeywordIs(PyObject* key, const char* name) {
  return static_cast<size_t>(PyUnicode_GET_LENGTH(key)) == std::strlen(name) &&
         PyUnicode_CompareWithASCIIString(key, name) == 0;
}

// Name of an exception type without its module ("ValueError"). Points into
// tp_name: no allocation on the exit path.
absl::string_view ExceptionTypeName(PyObject* exc_type);

// A module-level interned str and its text.
struct InternedName {
  PyObject** slot;
  const char* text;
};
// Interns each name not interned yet into its slot (kept for the process).
// -1 with a Python exception on failure.
//
// Example:
//   if (InternNames({{&g_type_key, "type"}, {&g_status_key, "status"}}) < 0) ...
int InternNames(std::initializer_list<InternedName> names);

// The pending exception as one normalised instance with its traceback
// attached (new reference), cleared; NULL when none is pending. Restore puts
// it back (stealing the reference). Python 3.12's PyErr_GetRaisedException
// and PyErr_SetRaisedException, also on 3.11.
PyObject* TakeRaisedException();
void RestoreRaisedException(PyObject* exc);

// mapping.get(key): 1 with a new reference in *out, 0 (no error, *out NULL)
// when missing, -1 with an exception. A dict is read directly; any other
// mapping through __getitem__ (KeyError means missing).
int GetOptional(PyObject* mapping, PyObject* key, PyObject** out);
// mapping[key] as a new reference; KeyError(key) when missing.
PyObject* GetRequired(PyObject* mapping, PyObject* key);
// getattr(obj, name, None) as a new reference (NULL only with an exception
// other than AttributeError).
PyObject* GetAttrOrNone(PyObject* obj, PyObject* name);

}  // namespace ragperf::bindings

#endif  // RAGPERF_BINDINGS_PY_ARGS_H_

// Copyright 2026 The ragperf Authors.
//
// Python binding of the token estimate (token_counter.h).

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "ragperf/token_counter.h"
#include "registers.h"

namespace py = pybind11;

namespace ragperf::bindings {
namespace {

absl::string_view Utf8Of(const py::handle& text, Py_ssize_t index) {
  if (!PyUnicode_Check(text.ptr())) {
    std::string where =
        index < 0 ? std::string("text") : "texts[" + std::to_string(index) + "]";
    throw py::type_error(where + " must be a str, got " +
                         py::repr(text).cast<std::string>() + " (" +
                         Py_TYPE(text.ptr())->tp_name + ")");
  }
  Py_ssize_t size = 0;
  // surrogatepass-free: lone surrogates raise UnicodeEncodeError here.
  const char* data = PyUnicode_AsUTF8AndSize(text.ptr(), &size);
  if (data == nullptr) throw py::error_already_set();
  return absl::string_view(data, static_cast<size_t>(size));
}

}  // namespace

void RegisterTokens(py::module_& m) {
  m.attr("CHARS_PER_TOKEN") = kCharsPerToken;
  m.def(
      "estimate_tokens",
      [](const py::handle& text) { return EstimateTokens(Utf8Of(text, -1)); },
      py::arg("text"),
      R"doc(Estimated tokens of `text`: ceil(characters / 4), 0 for "".

Counts Unicode characters, not bytes. Example: estimate_tokens("Hello world") == 3)doc");
  m.def(
      "estimate_tokens_batch",
      [](const py::sequence& texts) {
        int64_t total = 0;
        Py_ssize_t i = 0;
        for (const py::handle text : texts) {
          total += EstimateTokens(Utf8Of(text, i++));
        }
        return total;
      },
      py::arg("texts"), "Sum of estimate_tokens over a sequence of str.");
}

}  // namespace ragperf::bindings

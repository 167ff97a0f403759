// Copyright 2026 The ragperf Authors.
//
// Python binding of ragperf::QuantileSketch.

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <string>
#include <vector>

#include "ragperf/quantile_sketch.h"
#include "registers.h"
#include "status.h"

namespace py = pybind11;

namespace ragperf::bindings {
namespace {

void AddChecked(QuantileSketch& sketch, double value) {
  if (!sketch.Add(value)) {
    throw py::value_error(
        "QuantileSketch values must be finite and >= 0, got " +
        py::repr(py::float_(value)).cast<std::string>());
  }
}

}  // namespace

void RegisterSketch(py::module_& m) {
  py::class_<QuantileSketch>(m, "QuantileSketch", R"doc(
Relative-error, mergeable quantile sketch (DDSketch family).

Every quantile it returns is within ``relative_accuracy`` (default 0.5%) of
the exact quantile of the values added. Merging adds bins exactly, so sketches
from threads, windows or processes combine without losing accuracy.

Example:
    >>> s = QuantileSketch()
    >>> for v in (0.1, 0.2, 0.3): s.add(v)
    >>> round(s.quantile(0.5), 2)
    0.2
)doc")
      .def(py::init([](double relative_accuracy, int max_bins) {
             return ValueOrThrow(
                 QuantileSketch::Create(relative_accuracy, max_bins));
           }),
           py::arg("relative_accuracy") = QuantileSketch::kDefaultRelativeAccuracy,
           py::arg("max_bins") = QuantileSketch::kDefaultMaxBins)
      .def("add", &AddChecked, py::arg("value"),
           "Adds a value (finite, >= 0); ValueError otherwise.")
      .def(
          "add_many",
          [](QuantileSketch& s, const std::vector<double>& values) {
            // All or nothing: validate every value before adding any.
            for (double v : values) {
              if (!(v >= 0 && v <= QuantileSketch::kMaxIndexable)) {
                throw py::value_error(
                    "QuantileSketch values must be finite and >= 0, got " +
                    py::repr(py::float_(v)).cast<std::string>());
              }
            }
            for (double v : values) s.Add(v);
          },
          py::arg("values"),
          "Adds every value of a sequence; if any is invalid (ValueError), "
          "none is added.")
      .def(
          "merge",
          [](QuantileSketch& s, const QuantileSketch& other) {
            ThrowIfError(s.Merge(other));
          },
          py::arg("other"),
          "Adds `other` into this sketch, bin by bin (same accuracy needed).")
      .def(
          "quantile",
          [](const QuantileSketch& s, double q) {
            if (!(q >= 0 && q <= 1)) {
              throw py::value_error("quantile q must be in [0, 1], got " +
                                    py::repr(py::float_(q)).cast<std::string>());
            }
            return s.Quantile(q);
          },
          py::arg("q"), "Value at quantile q in [0, 1]; NaN when empty.")
      .def(
          "count_at_most",
          [](const QuantileSketch& s, double x) {
            return static_cast<uint64_t>(s.CountAtMost(x));
          },
          py::arg("x"),
          "Number of values <= x, to the sketch's resolution (values in the "
          "bin holding x count as <= x); 0 for NaN or negative x.")
      .def_property_readonly("count", &QuantileSketch::count)
      .def_property_readonly("sum", &QuantileSketch::sum)
      .def_property_readonly("min", &QuantileSketch::min)
      .def_property_readonly("max", &QuantileSketch::max)
      .def_property_readonly("mean", &QuantileSketch::mean)
      .def_property_readonly("relative_accuracy",
                             &QuantileSketch::relative_accuracy)
      .def_property_readonly("max_bins", &QuantileSketch::max_bins)
      .def_property_readonly("num_bins", &QuantileSketch::num_bins)
      .def("memory_bytes", &QuantileSketch::MemoryBytes,
           "Bytes held by the sketch.")
      .def("clear", &QuantileSketch::Clear)
      .def("__len__",
           [](const QuantileSketch& s) { return static_cast<size_t>(s.count()); })
      .def(
          "serialize",
          [](const QuantileSketch& s) { return py::bytes(s.Serialize()); },
          "Compact binary form; see deserialize().")
      .def_static(
          "deserialize",
          [](py::bytes data) {
            return ValueOrThrow(
                QuantileSketch::Deserialize(std::string(data)));
          },
          py::arg("data"),
          "Rebuilds a sketch from serialize() output; ValueError if corrupt.")
      .def("same_contents", &QuantileSketch::SameContents, py::arg("other"),
           "True when both hold identical bins, count, min and max.")
      .def("__repr__", [](const QuantileSketch& s) {
        return "<QuantileSketch count=" + std::to_string(s.count()) +
               " relative_accuracy=" + std::to_string(s.relative_accuracy()) +
               ">";
      });
}

}  // namespace ragperf::bindings

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

py::tuple BucketsOf(const QuantileSketch& s) {
  std::vector<uint64_t> counts(static_cast<size_t>(s.num_bins()));
  const int lo = s.num_bins() > 0 ? s.lowest_index() : 0;
  for (size_t k = 0; k < counts.size(); ++k) {
    counts[k] = s.bin_count(lo + static_cast<int>(k));
  }
  return py::make_tuple(s.scale(), s.zero_count(), lo, std::move(counts));
}

}  // namespace

void RegisterSketch(py::module_& m) {
  py::class_<QuantileSketch>(m, "QuantileSketch", R"doc(
Relative-error, mergeable quantile sketch (DDSketch family).

Every quantile it returns is within ``relative_accuracy`` (default 0.5416%,
the guarantee of scale 6) of the exact quantile of the values added. Its bins
are base-2 exponential buckets: bin ``i`` holds ``(gamma**(i-1), gamma**i]``
with ``gamma = 2**(2**-scale)``, i.e. bucket ``i`` of a Prometheus native
histogram of schema ``scale`` (OpenTelemetry exponential histogram bucket
``i - 1``). Merging adds bins exactly, so sketches from threads, windows or
processes combine without losing accuracy.

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
      .def_property_readonly("scale", &QuantileSketch::scale,
                             "Bucket scale s: gamma = 2**(2**-s) (Prometheus "
                             "schema, OpenTelemetry scale).")
      .def_property_readonly("guaranteed_accuracy",
                             &QuantileSketch::guaranteed_accuracy,
                             "(gamma - 1) / (gamma + 1): the relative error "
                             "bound met, <= relative_accuracy.")
      .def_property_readonly("zero_count", &QuantileSketch::zero_count,
                             "Values below 1e-9 (the zero bucket).")
      .def("buckets", &BucketsOf, R"doc(
The bins as exponential-histogram buckets: ``(scale, zero_count, offset,
counts)``, where ``counts[k]`` is the count of bin ``offset + k``, holding
``(gamma**(offset+k-1), gamma**(offset+k)]`` (Prometheus index; OpenTelemetry
index ``offset + k - 1``). ``counts`` is empty when every value is in the zero
bucket (below ``SKETCH_ZERO_THRESHOLD``, 1e-9); ``count`` and ``sum`` are the exact totals.

Example:
    >>> s = QuantileSketch()
    >>> s.add(1.0); s.add(1.0); s.add(0.0)
    >>> s.buckets()
    (6, 1, 0, [2])
)doc")
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
               " scale=" + std::to_string(s.scale()) + ">";
      });
}

}  // namespace ragperf::bindings

// Copyright 2026 The ragperf Authors.
//
// Models and cost, caches, recent errors and latency targets: methods added
// to `_core.Monitor` (wrapped by ragperf.PerformanceMonitor).

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "convert.h"
#include "ragperf/performance_monitor.h"
#include "registers.h"
#include "status.h"

namespace py = pybind11;

namespace ragperf::bindings {

void RegisterUsage(py::module_& m) {
  using Monitor = PerformanceMonitor;
  auto cls = py::reinterpret_borrow<py::class_<Monitor, std::shared_ptr<Monitor>>>(
      m.attr("Monitor"));
  cls.def(
         "set_model_price",
         [](Monitor& self, const std::string& model, double input, double output) {
           ThrowIfError(self.models().SetPrice(model, ModelPrice{input, output}));
         },
         py::arg("model"), py::arg("input_per_million"),
         py::arg("output_per_million"),
         "Sets one model's price in USD per 1M input/output tokens.")
      .def(
          "set_model_prices",
          [](Monitor& self,
             const std::vector<std::tuple<std::string, double, double>>& rows) {
            std::vector<std::pair<std::string, ModelPrice>> prices;
            prices.reserve(rows.size());
            for (const auto& [model, input, output] : rows) {
              prices.emplace_back(model, ModelPrice{input, output});
            }
            ThrowIfError(self.models().SetPrices(prices));
          },
          py::arg("rows"),
          "Replaces the price table with (model, input, output) rows.")
      .def("model_prices",
           [](const Monitor& self) {
             py::dict out;
             for (const auto& [model, p] : self.models().Prices()) {
               out[py::str(model)] =
                   py::make_tuple(p.input_per_million, p.output_per_million);
             }
             return out;
           })
      .def("model_stats",
           [](const Monitor& self) {
             py::list out;
             for (const ModelTotals& t : self.models().GetAll()) {
               out.append(ModelTotalsToDict(t));
             }
             return out;
           })
      .def(
          "record_cache",
          [](Monitor& self, const std::string& name, bool hit, uint64_t count) {
            ThrowIfError(self.caches().Record(name, hit, count));
          },
          py::arg("name"), py::arg("hit"), py::arg("count") = 1)
      .def("cache_stats",
           [](const Monitor& self) {
             py::dict out;
             for (const CacheCounts& c : self.caches().GetAll()) {
               out[py::str(c.name)] = CacheCountsToDict(c);
             }
             return out;
           })
      .def(
          "recent_errors",
          [](const Monitor& self, size_t limit) {
            py::list out;
            for (const ErrorEntry& e : self.errors().Recent(limit)) {
              out.append(ErrorEntryToDict(e));
            }
            return out;
          },
          py::arg("limit"))
      .def(
          "set_latency_target",
          [](Monitor& self, const std::string& name, double good_below_s,
             double investigate_above_s) {
            ThrowIfError(self.SetLatencyTarget(
                name, LatencyTarget{good_below_s, investigate_above_s}));
          },
          py::arg("operation"), py::arg("good_below_s"),
          py::arg("investigate_above_s"),
          "Latency classes of one operation ('' = the default).")
      .def(
          "latency_target",
          [](const Monitor& self, const std::string& name) {
            const LatencyTarget t = self.LatencyTargetFor(name);
            return py::make_tuple(t.good_below_s, t.investigate_above_s);
          },
          py::arg("operation"));
}

}  // namespace ragperf::bindings

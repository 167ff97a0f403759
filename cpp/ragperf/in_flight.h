// Copyright 2026 The ragperf Authors.
//
// in_flight.h
// -----------------------------------------------------------------------------
// Blocks active right now, per operation id: +1 when a block is entered, -1
// when it ends (or is abandoned while active). Feeds
// `monitor.get_in_flight_operations()` and the queue/overhead watchers.
//
// Thread-compatible: the caller serialises Enter/Exit/Active (the binding
// calls them under the GIL). Memory: 4 bytes per operation id seen.
//
// Example:
//
//   ragperf::InFlightCounts in_flight;
//   in_flight.Enter(3);
//   in_flight.Enter(3);
//   in_flight.Exit(3);
//   in_flight.Active();   // {{3, 1}}

#ifndef RAGPERF_IN_FLIGHT_H_
#define RAGPERF_IN_FLIGHT_H_

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace ragperf {

class InFlightCounts {
 public:
  InFlightCounts() = default;
  InFlightCounts(const InFlightCounts&) = delete;
  InFlightCounts& operator=(const InFlightCounts&) = delete;

  // A block of operation `id` (>= 0) started.
  void Enter(int id) {
    const size_t i = static_cast<size_t>(id);
    if (i >= counts_.size()) counts_.resize(i + 1);
    ++counts_[i];
  }
  // A block of operation `id` that was Enter()ed ended.
  void Exit(int id) { --counts_[static_cast<size_t>(id)]; }

  // Active blocks of `id` (0 for an id never entered).
  int32_t count(int id) const {
    const size_t i = static_cast<size_t>(id);
    return i < counts_.size() ? counts_[i] : 0;
  }
  // (id, active blocks) of every operation with at least one, by id.
  std::vector<std::pair<int, int32_t>> Active() const {
    std::vector<std::pair<int, int32_t>> out;
    for (size_t i = 0; i < counts_.size(); ++i) {
      if (counts_[i] > 0) out.emplace_back(static_cast<int>(i), counts_[i]);
    }
    return out;
  }

 private:
  std::vector<int32_t> counts_;
};

}  // namespace ragperf

#endif  // RAGPERF_IN_FLIGHT_H_

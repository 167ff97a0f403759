// Copyright 2026 The ragperf Authors.
//
// overflow_name.h
// -----------------------------------------------------------------------------
// The one name that values past a cardinality cap are recorded under:
// operation names past `max_operations` (OperationCap), dimension values past
// `max_dimension_values` (DimensionStats) and model names past the model cap
// (ModelUsage). One name everywhere, so a dashboard filters one label value.
//
// Example:
//
//   if (names_seen >= cap) name = ragperf::kOverflowName;  // "__other__"

#ifndef RAGPERF_OVERFLOW_NAME_H_
#define RAGPERF_OVERFLOW_NAME_H_

#include "absl/strings/string_view.h"

namespace ragperf {

inline constexpr absl::string_view kOverflowName = "__other__";

}  // namespace ragperf

#endif  // RAGPERF_OVERFLOW_NAME_H_

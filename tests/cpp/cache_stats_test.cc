// Copyright 2026 The ragperf Authors.

#include "ragperf/cache_stats.h"

#include "gtest/gtest.h"

// Copyright 2026 The ragperf Authors.

#include "ragperf/model_usage.h"

#include "gtest/gtest.h"

// Copyright 2026 The ragperf Authors.

#include "ragperf/error_log.h"

#include "gtest/gtest.h"

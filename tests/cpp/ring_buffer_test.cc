// Copyright 2026 The ragperf Authors.

#include "ragperf/ring_buffer.h"

#include "gtest/gtest.h"

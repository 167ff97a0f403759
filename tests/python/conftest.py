"""Fixtures shared by the Python tests.

``monitor``: a fresh ``PerformanceMonitor`` without memory tracking (RSS
reads would make counts depend on the machine). A test file that needs other
settings defines its own ``monitor`` fixture, which takes precedence.
"""

from __future__ import annotations

import pytest

from ragperf import PerformanceMonitor


@pytest.fixture
def monitor() -> PerformanceMonitor:
    return PerformanceMonitor(enable_memory_tracking=False)

"""The checks of the snapshot fuzz target, without atheris, so that the test
suite can replay the corpus (tests/python/test_fuzz_corpus.py) and
fuzz_snapshot.py can run them under libFuzzer. See fuzz_snapshot.py for what
is checked."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile

from ragperf import PerformanceMonitor, QuantileSketch
from ragperf.persistence import StateError

_DIR = tempfile.mkdtemp(prefix="ragperf-fuzz-")
atexit.register(shutil.rmtree, _DIR, ignore_errors=True)
_PATH = os.path.join(_DIR, "snapshot.json")


def _fuzz_snapshot(data: bytes) -> None:
    with open(_PATH, "wb") as f:
        f.write(data)
    monitor = PerformanceMonitor(enable_memory_tracking=False)
    try:
        monitor.merge_from(_PATH)
    except StateError as exc:
        if "snapshot.json" not in str(exc):
            raise AssertionError(f"StateError does not name the file: {exc}") from exc
        if monitor.get_operation_count() != 0 or monitor.get_all_stats():
            raise AssertionError("a rejected snapshot changed the monitor") from exc
        return
    # Accepted: the state's operation totals are what the monitor now holds.
    state = json.loads(data.decode("utf-8"))["state"]
    expected = sum(int(op["total"]) for op in state["operations"].values())
    if monitor.get_operation_count() != expected:
        raise AssertionError(f"merged {monitor.get_operation_count()} records, state lists {expected}")
    monitor.generate_report()  # a merged state must also report and export
    monitor.export_metrics_json(os.path.join(_DIR, "out.json"))


def _fuzz_sketch(data: bytes) -> None:
    try:
        sketch = QuantileSketch.deserialize(data)
    except ValueError:
        return
    again = QuantileSketch.deserialize(sketch.serialize())
    if not again.same_contents(sketch):
        raise AssertionError("serialize(deserialize(x)) does not round-trip")
    if sketch.count > 0:
        for q in (0.0, 0.5, 0.99, 1.0):
            sketch.quantile(q)


def test_one_input(data: bytes) -> None:
    if not data:
        return
    if data[0] % 2 == 0:
        _fuzz_snapshot(data[1:])
    else:
        _fuzz_sketch(data[1:])

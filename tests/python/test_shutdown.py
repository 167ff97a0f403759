"""Issue #8 item 6: the interpreter exits while daemon threads record and
read (some inside GIL-released C++ sections), the resource sampler runs and
a periodic exporter is active: exit code 0, no crash or fatal error, no
hang, and the exporter's final flush is on disk with every record made
before the exit began."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent(
    """
    import sys, threading, time
    from ragperf import PerformanceMonitor

    path, how = sys.argv[1], sys.argv[2]
    m = PerformanceMonitor(enable_memory_tracking=True)
    m.start_periodic_export(path, interval_s=0.05)
    m.start_sampler(interval_s=0.05)

    def recorder(i):
        while True:
            with m.track_operation("bg", {"i": i}) as op:
                op.tokens = 1
            m.record("bg_record", 0.001)

    def reader():
        while True:  # merges shards with the GIL released
            m.generate_report()
            m.get_all_stats()

    for i in range(4):
        threading.Thread(target=recorder, args=(i,), daemon=True).start()
    for _ in range(2):
        threading.Thread(target=reader, daemon=True).start()
    time.sleep(0.3)
    main_op = m.track_operation("main")
    with main_op:
        pass
    print(m.get_operation_count(), flush=True)
    if how == "sys.exit":
        sys.exit(0)
    if how == "exception":
        raise SystemExit(0)
    # "return": the main module simply ends
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["return", "sys.exit", "exception"])
def test_exit_with_busy_threads_and_exporter(tmp_path: Path, how: str) -> None:
    for run in range(3):  # exit races differ from run to run
        path = tmp_path / f"final-{run}.json"
        proc = subprocess.run(
            [sys.executable, "-c", SCRIPT, str(path), how], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        for bad in ("Fatal Python error", "Traceback", "Segmentation", "terminate called", "Aborted"):
            assert bad not in proc.stderr, proc.stderr
        counted = int(proc.stdout.strip())
        report = json.loads(path.read_text(encoding="utf-8"))
        # The final flush ran after the count was printed.
        assert report["total_operations"] >= counted
        assert report["operations"]["main"]["total"] == 1

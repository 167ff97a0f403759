"""CPU instructions per tracked block instrumented by ragperf.otel (valgrind).

Wall-clock figures of an OpenTelemetry-instrumented block move by 2x on a
shared machine; instruction counts do not. Each case runs a loop of blocks
(``op.prompt_tokens = 10; op.completion_tokens = 5``, model and provider
set) instrumented with an SDK ``TracerProvider`` (no span processor) and a
``MeterProvider`` with an ``InMemoryMetricReader``, under ``valgrind
--tool=callgrind`` with N and 2N blocks, and reports ``(I(2N) - I(N)) / N``
(start-up and import cost cancel out). PYTHONHASHSEED is fixed.

Cases: an ``llm_inference`` block (a GenAI operation: CLIENT span and
``gen_ai.client.*`` metrics), the same with
``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental``, and a
``reranking`` block (no GenAI convention), all on the per-block metric path
(``meter_provider``); an ``llm_inference`` block uninstrumented; and with
``instrument(metric_exporter=..., trace_sample_ratio=r)`` (statistics pushed,
nothing per block for metrics; the exporter keeps what it is given, the
push at the end is counted) for r = 1 and r = 0.01. ``--baseline-otel FILE``
also measures another version of ``ragperf/export/otel.py`` (e.g. ``git
show main:python/ragperf/export/otel.py > /tmp/otel_main.py``), loaded into
the current package as ``ragperf.export._otel_baseline``, which is how the
cost of a change to the hook is measured.

Usage::

    python benchmarks/bench_otel_instructions.py [--blocks 300] [--baseline-otel /tmp/otel_main.py]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional

from common import RESULTS_DIR, callgrind_total, environment, finish, log, run_start

LOOP = """
import importlib.util, os, sys
import ragperf
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
otel_file, operation, mode, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
opt_in = mode == "1"
if otel_file == "-":
    import ragperf.export.otel as otel
else:  # another version of ragperf/export/otel.py, inside the installed package
    spec = importlib.util.spec_from_file_location("ragperf.export._otel_baseline", otel_file)
    otel = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = otel
    spec.loader.exec_module(otel)
if opt_in:
    os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
m = ragperf.PerformanceMonitor(enable_memory_tracking=False)
reader = InMemoryMetricReader()
if mode in ("0", "1"):  # the per-block metric path
    otel.instrument(m, tracer_provider=TracerProvider(), meter_provider=MeterProvider(metric_readers=[reader]))
    reader_data = reader.get_metrics_data
elif mode.startswith("push"):  # statistics pushed, spans sampled at the root
    from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult

    class Keep(MetricExporter):
        def export(self, data, timeout_millis=10_000, **kw):
            self.data = data
            return MetricExportResult.SUCCESS

        def force_flush(self, timeout_millis=10_000):
            return True

        def shutdown(self, timeout_millis=30_000, **kw):
            pass

    keep = Keep()
    handle = otel.instrument(m, tracer_provider=TracerProvider(), metric_exporter=keep,
                             metric_export_interval_s=3600, trace_sample_ratio=float(mode[4:]))

    def reader_data():
        handle.force_flush()
        return keep.data
else:  # "none": the monitor alone
    reader_data = lambda: True
t = m.track_operation
for _ in range(n):
    with t(operation, model="gpt-4o-mini", provider="openai") as op:
        op.prompt_tokens = 10
        op.completion_tokens = 5
assert m.get_operation_count(operation) == n
assert reader_data() is not None
"""

CASES = (
    ("llm_inference", "0"),
    ("llm_inference", "1"),
    ("reranking", "0"),
    ("llm_inference", "none"),
    ("llm_inference", "push1.0"),
    ("llm_inference", "push0.01"),
)
#: How each mode reads in the output.
MODE_LABELS = {"0": "", "1": " opt-in", "none": " uninstrumented",
               "push1.0": " pushed metrics, r=1", "push0.01": " pushed metrics, r=0.01"}


def instructions(otel_file: str, operation: str, opt_in: str, n: int, workdir: Path) -> int:
    """Total instructions of one run of LOOP (callgrind's summary line)."""
    script = workdir / "loop.py"
    script.write_text(LOOP)
    out = workdir / f"cg.{operation}.{opt_in}.{n}"
    env = dict(os.environ, PYTHONHASHSEED="0")
    env.pop("OTEL_SEMCONV_STABILITY_OPT_IN", None)
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
         str(script), otel_file, operation, opt_in, str(n)],
        check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    return callgrind_total(out)


def per_block(otel_file: str, operation: str, opt_in: str, n: int, workdir: Path) -> float:
    return (
        instructions(otel_file, operation, opt_in, 2 * n, workdir)
        - instructions(otel_file, operation, opt_in, n, workdir)
    ) / n


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--blocks", type=int, default=300, help="N (default 300)")
    p.add_argument("--baseline-otel", default=None, help="another version of ragperf/export/otel.py to compare with")
    p.add_argument("--json", type=Path, default=RESULTS_DIR / "otel_instructions.json")
    args = p.parse_args(argv)
    if shutil.which("valgrind") is None:
        p.error("valgrind is not installed (apt-get install valgrind)")
    if args.blocks < 1:
        p.error(f"--blocks must be >= 1, got {args.blocks}")
    start = run_start()
    rows: List[Dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, otel_file in (("current", "-"), ("baseline", args.baseline_otel)):
            if otel_file is None:
                continue
            for operation, opt_in in CASES:
                if label == "baseline" and opt_in != "0":
                    continue  # the opt-in and the pushed path are new
                case = operation + MODE_LABELS[opt_in]
                log(f"{label} {case}")
                rows.append({"build": label, "case": case,
                             "instructions_per_block": per_block(otel_file, operation, opt_in,
                                                                 args.blocks, Path(tmp))})
    print(f"{'build':<10} {'case':<22} {'instructions/block':>20}")
    for r in rows:
        print(f"{r['build']:<10} {r['case']:<22} {r['instructions_per_block']:>20,.0f}")
    result = {"context": environment(blocks=args.blocks, baseline_otel=args.baseline_otel, **start),
              "benchmarks": rows}
    return finish(args.json, result)


if __name__ == "__main__":
    sys.exit(main())

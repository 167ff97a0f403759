"""What ``track_stream`` adds per streamed chunk.

Iterates the same list of chunks bare (``for c in iter(chunks)``) and
through ``ragperf.track_stream`` (a sync stream, one ``llm_inference``
operation per pass), and reports the CPU time per chunk of each and their
difference. Chunk shapes:

* ``openai`` -- the official SDK's ``ChatCompletionChunk`` objects (pydantic
  models, as ``client.chat.completions.create(..., stream=True)`` yields),
  each with a few characters of ``delta.content`` and ``usage=None``;
* ``dict`` -- the same chunks as plain dicts (raw JSON of an SSE stream);
* ``str`` -- text pieces (a generator of str, e.g. from a local model).

The chunks carry no usage: the last chunk of an OpenAI stream with
``include_usage`` does, once per stream, and is not what a per-chunk cost
is about. Target (issue 20 item 5): at most 1.5 us added per chunk.

CPU time is ``time.process_time_ns`` (this process only); each figure is the
median over repetitions of one pass, min and max reported too.

Usage::

    .venv/bin/python benchmarks/bench_stream.py [--chunks 2000] [--repetitions 31]
        [--json benchmarks/results/stream.json] [--quick] [--check]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import common

TARGET_US = 1.5


def openai_chunks(n: int) -> List[Any]:
    from openai.types.chat import ChatCompletionChunk

    return [
        ChatCompletionChunk.model_validate(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": 1_700_000_000,
                "model": "gpt-4o-mini-2024-07-18",
                "choices": [{"index": 0, "delta": {"content": f" tok{i % 10}"}, "finish_reason": None}],
                "usage": None,
            }
        )
        for i in range(n)
    ]


def dict_chunks(n: int) -> List[Any]:
    return [c.model_dump() for c in openai_chunks(n)]


def str_chunks(n: int) -> List[Any]:
    return [f" tok{i % 10}" for i in range(n)]


SHAPES: Dict[str, Callable[[int], List[Any]]] = {"openai": openai_chunks, "dict": dict_chunks, "str": str_chunks}


def cpu_per_chunk_ns(fn: Callable[[], None], chunks: int, repetitions: int) -> List[float]:
    fn()  # warm-up
    out = []
    for _ in range(repetitions):
        t0 = time.process_time_ns()
        fn()
        out.append((time.process_time_ns() - t0) / chunks)
    return out


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chunks", type=int, default=2000)
    p.add_argument("--repetitions", type=int, default=31)
    common.add_output_args(p, common.RESULTS_DIR / "stream.json", quick_help="200 chunks, 5 repetitions",
                           check_help="exit 1 when a target is missed")
    args = p.parse_args(argv)
    if args.quick:
        args.chunks, args.repetitions = 200, 5
    if args.chunks < 1 or args.repetitions < 1:
        p.error("--chunks and --repetitions must be >= 1")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    start = common.run_start()
    from ragperf import PerformanceMonitor
    from ragperf.measure.streaming import track_stream

    monitor = PerformanceMonitor(enable_memory_tracking=False)
    shapes: Dict[str, Any] = {}
    targets = []
    for shape, make in SHAPES.items():
        chunks = make(args.chunks)

        def bare() -> None:
            for _ in iter(chunks):
                pass

        def tracked() -> None:
            for _ in track_stream(monitor, iter(chunks), "llm_inference"):
                pass

        # Alternate the two so drifting machine load hits both alike.
        b: List[float] = []
        t: List[float] = []
        for _ in range(args.repetitions):
            b += cpu_per_chunk_ns(bare, args.chunks, 1)
            t += cpu_per_chunk_ns(tracked, args.chunks, 1)
        added = [y - x for x, y in zip(b, t)]
        shapes[shape] = {
            "bare_ns_per_chunk": common.summarize(b),
            "tracked_ns_per_chunk": common.summarize(t),
            "added_ns_per_chunk": common.summarize(added),
        }
        targets.append(common.target(f"track_stream added CPU per {shape} chunk", statistics.median(added) / 1e3,
                                     "<=", TARGET_US, unit="us"))
        common.log(f"{shape}: bare {statistics.median(b):.0f} ns, tracked {statistics.median(t):.0f} ns, "
                   f"added {statistics.median(added) / 1e3:.2f} us per chunk")
    expected = args.repetitions * 2 * args.chunks * len(SHAPES)  # every tracked pass, warm-ups included
    recorded = monitor.get_operation_stats("llm_inference")
    result = {
        "benchmark": "stream",
        "context": common.environment(**start, chunks=args.chunks, repetitions=args.repetitions,
                                      openai=common.dist_version("openai"), timer="time.process_time_ns"),
        "shapes": shapes,
        "operations_recorded": recorded.total_operations,
        "tokens_recorded": recorded.total_tokens,
        "tracked_passes": args.repetitions * 2 * len(SHAPES),
        "chunks_streamed": expected,
        "targets": targets,
    }
    for t_ in targets:
        print(f"target: {t_['name']}: {t_['value']:.2f} {t_['op']} {t_['threshold']} us: {t_['status']}")
    return common.finish(Path(args.json), result, check=args.check)


if __name__ == "__main__":
    sys.exit(main())

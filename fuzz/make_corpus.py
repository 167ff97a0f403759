"""Writes the seed corpus of fuzz_snapshot.py into fuzz/corpus/snapshot/.

Each seed is one selector byte (0 = snapshot file, 1 = sketch bytes, see
fuzz_snapshot.py) followed by a real ragperf export or sketch, so the fuzzer
starts from inputs that pass every check and mutates towards the edges.
Run again only to refresh the seeds: ``python fuzz/make_corpus.py``. The
``format1_*`` seeds were written by this script before the sketch's bins
became base-2 buckets (sketch format 1, ragperf 57b35c5); they stay, so the
fuzzer also mutates the re-binning path of old files.
"""

from __future__ import annotations

import json
from pathlib import Path

from ragperf import PerformanceMonitor, QuantileSketch

OUT = Path(__file__).parent / "corpus" / "snapshot"


def _compact_export(monitor: PerformanceMonitor) -> bytes:
    # Only the parts the loader reads, so seeds stay small and mutations hit
    # the state instead of the report around it.
    report = monitor.generate_report()
    return json.dumps({"schema_version": 1, "state": report["state"]}).encode()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    seeds: dict[str, bytes] = {}

    m = PerformanceMonitor(enable_memory_tracking=False)
    seeds["snapshot_empty"] = b"\x00" + _compact_export(m)
    m.record("llm_inference", 0.25, tokens=12, prompt_tokens=8, completion_tokens=4)
    seeds["snapshot_one"] = b"\x00" + _compact_export(m)
    for i in range(20):
        m.record("document_retrieval", 0.001 * (i + 1))
        m.record("llm_inference", 0.1 * (i + 1), success=i % 7 != 0, error_type="TimeoutError")
    m.record_cache("embeddings", hit=True, count=3)
    seeds["snapshot_two_ops"] = b"\x00" + _compact_export(m)
    for _chunk in m.track_stream(iter(["a", "b", "c"]), "llm_inference"):  # TTFT, inter-token
        pass
    seeds["snapshot_stream"] = b"\x00" + _compact_export(m)

    s = QuantileSketch()
    seeds["sketch_empty"] = b"\x01" + s.serialize()
    s.add_many([0.001 * (i + 1) for i in range(100)] + [0.0, 5.0])
    seeds["sketch_values"] = b"\x01" + s.serialize()
    wide = QuantileSketch(relative_accuracy=0.05, max_bins=16)
    wide.add_many([10.0**k for k in range(-9, 9)])
    seeds["sketch_collapsed"] = b"\x01" + wide.serialize()

    for name, data in seeds.items():
        (OUT / name).write_bytes(data)
    print(f"wrote {len(seeds)} seeds to {OUT}")


if __name__ == "__main__":
    main()

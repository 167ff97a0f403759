"""atheris fuzz target: the snapshot loader and sketch deserialisation.

The first input byte picks the target:

* even: the bytes are a snapshot file given to ``PerformanceMonitor.merge_from``
  (ragperf.persistence: file read, UTF-8, JSON, schema checks, base64, the
  C++ sketch deserialiser and ``Monitor.merge_state``).
* odd: the bytes go to ``QuantileSketch.deserialize`` directly.

Invariants checked (a violation raises, which libFuzzer reports as a crash):
a bad snapshot raises ``StateError`` (a ValueError) naming the file and
changes nothing; a good one adds exactly the operations it lists; a sketch
either fails with ValueError or round-trips through serialize() unchanged.
Any other exception, an abort or a sanitizer report is a finding.

Run: ``make fuzz`` (FUZZ_SECONDS=60). Seeds: fuzz/corpus/snapshot.
"""

from __future__ import annotations

import os
import sys

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

with atheris.instrument_imports():
    import ragperf  # noqa: F401 - instrumented for coverage feedback
    from snapshot_target import test_one_input


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

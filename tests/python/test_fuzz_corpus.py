"""Replays the fuzzing corpus (fuzz/corpus/snapshot, seeds and inputs that
once broke an invariant) through the fuzz target's checks, so a regression
fails the ordinary test run, not only `make fuzz`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

FUZZ_DIR = Path(__file__).resolve().parents[2] / "fuzz"
CORPUS = sorted((FUZZ_DIR / "corpus" / "snapshot").iterdir()) if FUZZ_DIR.is_dir() else []


@pytest.fixture(scope="module")
def target() -> Iterator[Callable[[bytes], None]]:
    sys.path.insert(0, str(FUZZ_DIR))
    try:
        import snapshot_target  # type: ignore[import-not-found]

        yield snapshot_target.test_one_input
    finally:
        sys.path.remove(str(FUZZ_DIR))


def test_corpus_is_present() -> None:
    assert len(CORPUS) >= 7, "fuzz/corpus/snapshot holds the seeds"
    assert any(p.name.startswith("regress_") for p in CORPUS)


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_corpus_input_holds_the_invariants(target: Callable[[bytes], None], path: Path) -> None:
    target(path.read_bytes())  # raises AssertionError on a broken invariant

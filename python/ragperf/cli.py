"""The ``ragperf`` command (also ``python -m ragperf``).

Subcommands::

    ragperf --version                      print "ragperf <version>"
    ragperf report FILE                    print a metrics JSON as a readable table
    ragperf compare BEFORE AFTER [--threshold 10%] [--min-count N] [--json]
                                           compare two metrics JSONs; exit 1 on a
                                           regression beyond the threshold (a CI gate)
    ragperf demo [--metrics PATH] [--csv PATH] [--repeat N] [--quiet] [--question TEXT]
                 [--embedder minilm|hashing] [--llm-url URL] [--llm-model NAME]
                                           run the bundled instrumented RAG demo
    ragperf dashboard FILE [--port 8501] [--host 127.0.0.1] [--no-browser] [--refresh S]
                                           open the Streamlit panel on a metrics JSON,
                                           reloading it when the file changes
                                           (needs ragperf[streamlit])

``ragperf <subcommand> --help`` describes each one.

Exit codes:
    0  success (for ``compare``: no regression beyond the threshold)
    1  unexpected error (the message names the exception); for ``compare``
       also: a regression beyond the threshold was found (the table says which);
       for ``demo`` / ``dashboard``: a missing optional dependency (the message
       says what to pip install), or the Streamlit server failed
    2  usage error, or a file that cannot be read or written
       (not found, a directory, no permission); for ``dashboard`` also: the
       port cannot be listened on (in use, or no permission)
    3  a corrupt metrics file: not valid JSON, or not a ragperf report
       (lacks the ``operations`` / ``total_operations`` keys, or an operation
       entry is not an object)

``ragperf dashboard`` runs until interrupted (Ctrl-C), then exits 0.

Error messages go to stderr as ``ragperf: error: ...`` and name the file.

Example:
    >>> from ragperf.cli import main
    >>> main(["report", "metrics.json"])  # doctest: +SKIP
    ================================================================================
    ragperf performance report  2026-11-23T22:21:26.816693
    ...
    0
    >>> main(["report", "missing.json"])  # doctest: +SKIP
    ragperf: error: cannot read missing.json: file not found
    2
    >>> main(["compare", "before.json", "after.json", "--threshold", "10%"])  # doctest: +SKIP
    ragperf compare: before.json -> after.json (threshold 10%)
    ...
    REGRESSION: 1 metric of 1 operation worse by more than 10%: llm_inference (p95 ms)
    1
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import runpy
import sys
import warnings
from collections.abc import Sequence
from typing import Any, Final

from . import __version__
from .model.compare import ReportFormatError, compare_reports, format_comparison, parse_threshold
from .model.report_file import StateError
from .model.report_file import load_report as _load_report
from .watch.significance import format_significance, report_significance
from .model.report import format_report

__all__ = [
    "EXIT_OK",
    "EXIT_ERROR",
    "EXIT_USAGE",
    "EXIT_CORRUPT",
    "EXIT_REGRESSION",
    "REPORT_KEYS",
    "DEFAULT_DASHBOARD_PORT",
    "CliError",
    "build_parser",
    "load_report",
    "main",
]

EXIT_OK: Final = 0
EXIT_ERROR: Final = 1
EXIT_USAGE: Final = 2
EXIT_CORRUPT: Final = 3
#: ``ragperf compare`` found a regression beyond the threshold (same value as EXIT_ERROR).
EXIT_REGRESSION: Final = 1

#: Where ``ragperf dashboard`` listens unless ``--port`` says otherwise (Streamlit's default).
DEFAULT_DASHBOARD_PORT: Final = 8501

#: The demo program that ``ragperf demo`` runs, and the name it runs under.
DEMO_MODULE: Final = "ragperf.demo"
DEMO_PROG: Final = "ragperf demo"

#: Keys every metrics JSON written by ``export_metrics_json`` has at its top level.
REPORT_KEYS: Final = ("operations", "total_operations")

_EPILOG: Final = """\
exit codes:
  0  success (compare: no regression beyond the threshold)
  1  unexpected error; for compare: a regression beyond the threshold;
     for demo/dashboard: a missing optional dependency, or the server failed
  2  usage error, or a file that cannot be read or written (not found, ...);
     for dashboard: the port cannot be listened on
  3  corrupt metrics file (not valid JSON, or lacks 'operations'/'total_operations')

examples:
  ragperf report metrics.json
  ragperf compare before.json after.json --threshold 10%
  ragperf demo --repeat 20 --metrics /tmp/metrics.json
  ragperf dashboard /tmp/metrics.json --port 8502
"""


class CliError(Exception):
    """An error the command reports as one line on stderr, with an exit code.

    Example:
        >>> CliError("cannot read x.json: file not found", 2).exit_code
        2
    """

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _threshold(value: str) -> float:
    try:
        return parse_threshold(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _port(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {value!r}") from None
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 1 and 65535, got {number}")
    return number


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {value!r}") from None
    if not (number == 0 or 0.5 <= number <= 86400):  # also rejects NaN
        raise argparse.ArgumentTypeError(f"must be 0 (off) or between 0.5 and 86400, got {value}")
    return number


def build_parser() -> argparse.ArgumentParser:
    """The ``ragperf`` argument parser (subcommands ``report``, ``compare``,
    ``demo`` and ``dashboard``).

    Example:
        >>> args = build_parser().parse_args(["report", "metrics.json"])
        >>> args.command, args.file
        ('report', 'metrics.json')
    """
    parser = argparse.ArgumentParser(
        prog="ragperf",
        description="ragperf: a low-overhead performance monitor for RAG pipelines.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"ragperf {__version__}", help="print the version and exit"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    report = sub.add_parser(
        "report",
        help="print a metrics JSON (from export_metrics_json) as a table",
        description="Print a metrics JSON written by PerformanceMonitor.export_metrics_json\n"
        "(or by `ragperf demo`) as a readable table: count, failures, p50/p95/p99/avg\n"
        "latency, tokens and tokens/s per operation, memory and health.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("file", metavar="FILE", help="the metrics JSON file")

    compare = sub.add_parser(
        "compare",
        help="compare two metrics JSONs; exit 1 on a regression (a CI gate)",
        description="Compare two metrics JSONs (export_metrics_json / `ragperf demo`):\n"
        "per operation the change in p50/p95/p99 latency, error rate, tokens/s and\n"
        "cost per call, with regressions marked. Exits 1 when any regression exceeds\n"
        "the threshold, 0 otherwise, so it can gate CI.\n\n"
        "regressions (threshold T):\n"
        "  latency p50/p95/p99, cost/call  after > before * (1 + T)\n"
        "  tokens/s                        after < before * (1 - T)\n"
        "  error rate                      after - before > T * max(before, 1%)\n"
        "Cost missing or null in a file shows as n/a and never regresses.\n"
        "Operations in only one file are listed as added/removed, not regressions.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compare.add_argument("before", metavar="BEFORE", help="the baseline metrics JSON")
    compare.add_argument("after", metavar="AFTER", help="the metrics JSON to check")
    compare.add_argument(
        "--threshold",
        type=_threshold,
        default=0.10,
        metavar="T",
        help="relative change that counts as a regression: a percentage (10%%) "
        "or a fraction (0.1); default 10%%",
    )
    compare.add_argument(
        "--min-count",
        type=_positive_int,
        default=1,
        metavar="N",
        help="do not judge operations with fewer than N records in either file (default: %(default)s)",
    )
    compare.add_argument("--json", action="store_true", help="print the comparison as JSON")

    # Listed here for `ragperf --help`; `ragperf demo ...` itself is dispatched
    # by main() before parsing, to the demo program (python -m ragperf.demo),
    # which owns its options: the library never imports the demo.
    sub.add_parser(
        "demo",
        help="run the bundled instrumented RAG demo (needs numpy: ragperf[demo])",
        add_help=False,
    )

    dashboard = sub.add_parser(
        "dashboard",
        help="open the Streamlit panel on a metrics JSON (needs ragperf[streamlit])",
        description="Serve the ragperf Streamlit panel (ragperf.streamlit.show_metrics) for a\n"
        "metrics JSON written by export_metrics_json, a PeriodicExporter or\n"
        "`ragperf demo`, and open it in the browser. The page checks the file every\n"
        "--refresh seconds and reloads it when it changed, so it follows a service's\n"
        "periodic export. Runs until Ctrl-C. Needs Streamlit:\n"
        "pip install 'ragperf[streamlit]'.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dashboard.add_argument("file", metavar="FILE", help="the metrics JSON file")
    dashboard.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_DASHBOARD_PORT,
        metavar="PORT",
        help="TCP port to serve on (default: %(default)s)",
    )
    dashboard.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="ADDR",
        help="address to listen on (default: %(default)s, this machine only; "
        "0.0.0.0 for every interface)",
    )
    dashboard.add_argument(
        "--no-browser",
        action="store_true",
        help="do not open a browser (headless servers, SSH sessions)",
    )
    dashboard.add_argument(
        "--refresh",
        type=_seconds,
        default=2.0,
        metavar="S",
        help="check the file for changes every S seconds; 0 turns auto-refresh off "
        "(default: %(default)s)",
    )
    return parser


def load_report(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Reads a metrics JSON written by ``export_metrics_json``.

    Raises :class:`CliError` with exit code 2 if the file cannot be read
    (not found, a directory, no permission) and 3 if it is not valid JSON,
    not a ragperf report (a JSON object with ``operations`` and
    ``total_operations``) or written with a newer ``schema_version`` than
    this ragperf reads. Messages name the file (and both versions).

    Example:
        >>> load_report("metrics.json")["total_operations"]  # doctest: +SKIP
        100
    """
    name = os.fspath(path)
    try:
        return _load_report(name, required=REPORT_KEYS)
    except FileNotFoundError:
        raise CliError(f"cannot read {name}: file not found", EXIT_USAGE) from None
    except IsADirectoryError:
        raise CliError(f"cannot read {name}: is a directory", EXIT_USAGE) from None
    except OSError as e:
        raise CliError(f"cannot read {name}: {e.strerror or e}", EXIT_USAGE) from None
    except StateError as e:  # ReportFileError, SchemaVersionError: the message names the file
        raise CliError(str(e), EXIT_CORRUPT) from None


def _cmd_report(args: argparse.Namespace) -> int:
    report = load_report(args.file)
    try:
        text = format_report(report)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        # Well-formed JSON with the top-level keys, but an entry of the wrong shape.
        detail = f"an operation entry lacks key {e}" if isinstance(e, KeyError) else str(e)
        raise CliError(f"{args.file} is not a ragperf metrics file: {detail}", EXIT_CORRUPT) from None
    print(text)
    return EXIT_OK


def _cmd_compare(args: argparse.Namespace) -> int:
    before = load_report(args.before)
    after = load_report(args.after)
    try:
        comparison = compare_reports(
            before,
            after,
            args.threshold,
            min_count=args.min_count,
            before_name=args.before,
            after_name=args.after,
        )
    except ReportFormatError as e:
        # Well-formed JSON with the top-level keys, but an entry of the wrong
        # shape; the message names the file and the operation.
        raise CliError(str(e), EXIT_CORRUPT) from None
    if args.json:
        print(json.dumps(comparison.to_dict(), indent=2))
    else:
        print(format_comparison(comparison))
        _print_significance(before, after)
    return EXIT_REGRESSION if comparison.has_regressions else EXIT_OK


def _print_significance(before: dict[str, Any], after: dict[str, Any]) -> None:
    """The A/B significance of each operation of both reports (issue #21;
    reports with sketches only). Informational: never changes the exit code."""
    try:
        results = report_significance(before, after)
    except ValueError:  # a corrupt sketch: the comparison above stands
        return
    if results:
        print("\nIs the difference significant? (Mann-Whitney U on the sketch bins, alpha 0.05)")
        for result in results:
            print("  " + format_significance(result))


def _cmd_demo(argv: Sequence[str]) -> int:
    """Run the demo program (``python -m ragperf.demo``) in this process with
    ``argv``, named ``ragperf demo`` in its usage and messages and with this
    command's epilog (exit codes, examples) in its help; its exit code."""
    if importlib.util.find_spec("numpy") is None:  # the demo's one dependency
        raise CliError("the demo needs numpy: pip install 'ragperf[demo]'", EXIT_ERROR)
    saved_argv = sys.argv
    sys.argv = [DEMO_PROG, *argv]
    try:
        with warnings.catch_warnings():
            # runpy warns when ragperf.demo.__main__ was imported as a module
            # before (it only defines main(): running it again is harmless).
            warnings.filterwarnings("ignore", "'ragperf.demo.__main__' found in sys.modules", RuntimeWarning)
            runpy.run_module(
                DEMO_MODULE,
                run_name="__main__",
                alter_sys=True,
                init_globals={"RAGPERF_PROG": DEMO_PROG, "RAGPERF_EPILOG": _EPILOG},
            )
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (EXIT_OK if e.code is None else EXIT_ERROR)
    finally:
        sys.argv = saved_argv
    return EXIT_OK


def _cmd_dashboard(args: argparse.Namespace) -> int:
    report = load_report(args.file)
    from .panel._panel_data import PanelSource  # late: --help stays fast
    from .panel.dashboard import run_dashboard

    try:
        PanelSource.from_report(report)
    except (TypeError, ValueError) as e:
        raise CliError(f"{args.file} is not a ragperf metrics file: {e}", EXIT_CORRUPT) from None
    try:
        code = run_dashboard(
            args.file,
            port=args.port,
            host=args.host,
            open_browser=not args.no_browser,
            refresh_s=args.refresh,
        )
    except ImportError as e:
        raise CliError(str(e), EXIT_ERROR) from None
    except OSError as e:
        raise CliError(str(e), EXIT_USAGE) from None
    if code != 0:
        raise CliError(f"the Streamlit server exited with status {code} (its messages are above)", EXIT_ERROR)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the ``ragperf`` command with ``argv`` (default ``sys.argv[1:]``)
    and returns the exit code (see the module docstring); never raises
    SystemExit, so it can be called in-process.

    Example:
        >>> main(["--version"])  # doctest: +SKIP
        ragperf 0.1.0
        0
    """
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv[:1] == ["demo"]:
            return _cmd_demo(argv[1:])
        try:
            args = parser.parse_args(argv)
        except SystemExit as e:  # --help/--version (0) and usage errors (2) print, then exit
            if e.code is None:
                return EXIT_OK
            return e.code if isinstance(e.code, int) else EXIT_USAGE
        if args.command == "report":
            return _cmd_report(args)
        if args.command == "compare":
            return _cmd_compare(args)
        if args.command == "dashboard":
            return _cmd_dashboard(args)
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    except CliError as e:
        print(f"ragperf: error: {e}", file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:
        # `ragperf report m.json | head`: the reader left; not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as e:  # noqa: BLE001 - the documented exit code 1
        print(f"ragperf: error: unexpected {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())

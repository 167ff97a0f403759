"""The one model of ragperf's statistics and report files.

* :mod:`ragperf.model.stats_fields` — the table of an operation's statistics
  (defined once in the C++ core, ``_core.STATS_FIELDS``) and the readers and
  writers generated from it: PerformanceStats from the core or from a report
  entry, CSV rows, report-shaped summaries, the duration quantiles.
* :mod:`ragperf.model.report_file` — the one loader of metrics JSON files,
  :func:`load_report`, and its error, :class:`ReportFileError`.

Example:
    >>> from ragperf.model import STATS_FIELDS, load_report
    >>> [f.report_path for f in STATS_FIELDS if f.attribute == "p95_duration"]
    ['duration.p95']
"""

from __future__ import annotations

from .report_file import ReportFileError, load_report
from .stats_fields import STATS_FIELDS, StatField

__all__ = ["STATS_FIELDS", "StatField", "ReportFileError", "load_report"]

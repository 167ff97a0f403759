"""How :class:`~ragperf.PerformanceMonitor` is composed: components, the
report/health protocol, and typed delegates.

A *component* is an object the monitor holds (``monitor.alerts``,
``monitor.dimensions``, ...) with its own state and methods. It takes part in
the report and the health through :class:`Component`'s three methods:

- ``contribute_report(section)``: writes the report keys it owns through a
  :class:`ReportSection` (top-level keys and per-operation extras such as
  ``operations.<op>.dimensions``) and may add health issues. Each key has
  exactly one writer: the C++ core owns the keys of its JSON report, and a
  second writer of a key raises :class:`ReportConflictError`.
- ``health_issues(now_s)``: its issues for ``get_health_status()``.
- ``clear()``: forgets what ``clear_metrics()`` forgets.

:func:`compose_health` is the one place health is composed: the core's
health (memory, error rate, system memory, GPU, CPU thresholds) plus the
components' issues. :func:`delegate` keeps the monitor's historical method
names (``monitor.add_alert_rule``) as thin, typed forwards to a component.

Example:
    >>> report = ReportAssembly({"operations": {}, "health": {"status": "healthy", "issues": []}}, now_s=0.0)
    >>> report.section("queues").add("queues", {})
    >>> report.section("other").add("queues", {})
    Traceback (most recent call last):
    ...
    ragperf._component.ReportConflictError: report key 'queues' is written by 'queues'; 'other' cannot write it too
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Concatenate, Final, Literal, NamedTuple, ParamSpec, TypeVar

__all__ = [
    "CORE",
    "Component",
    "HealthIssue",
    "ReportAssembly",
    "ReportConflictError",
    "ReportSection",
    "compose_health",
    "delegate",
    "name_delegates",
]

P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C")

#: The owner of the keys of the C++ core's report.
CORE: Final = "core"

Severity = Literal["warning", "critical"]


class ReportConflictError(RuntimeError):
    """A report key (or per-operation extra) was written by a second
    component: every key has exactly one writer."""


class HealthIssue(NamedTuple):
    """One health issue of a component: its text and how bad it is.

    Example:
        >>> HealthIssue("alert slow_llm firing", "critical").severity
        'critical'
    """

    text: str
    severity: Severity = "warning"


def compose_health(core_health: Mapping[str, Any], issues: Iterable[HealthIssue]) -> dict[str, Any]:
    """The health: the core's (``status``, ``memory_mb``,
    ``total_operations``, ``issues`` from its thresholds) plus the
    components' issues. Any critical issue makes the status ``"critical"``;
    any issue makes a ``"healthy"`` core status ``"warning"``.

    Example:
        >>> compose_health({"status": "healthy", "issues": []}, [HealthIssue("p95 regressed")])
        {'status': 'warning', 'issues': ['p95 regressed']}
    """
    health = dict(core_health)
    extra = list(issues)
    all_issues = list(health.get("issues", [])) + [issue.text for issue in extra]
    health["issues"] = all_issues
    if any(issue.severity == "critical" for issue in extra):
        health["status"] = "critical"
    elif all_issues and health.get("status") == "healthy":
        health["status"] = "warning"
    return health


class ReportAssembly:
    """A report being assembled: the core's report dict, who owns which key,
    the health issues added so far and the ``now_s`` of this report.

    Example:
        >>> assembly = ReportAssembly({"operations": {"op": {}}, "health": {}}, now_s=1.0)
        >>> assembly.section("dimensions").add_to_operation("op", "dimensions", {})
        True
        >>> sorted(assembly.finish()["operations"]["op"])
        ['dimensions']
    """

    def __init__(self, core_report: dict[str, Any], *, now_s: float) -> None:
        self.report = core_report
        self.now_s = now_s
        self._owners: dict[str, str] = {key: CORE for key in core_report}
        self._extra_owners: dict[tuple[str, str], str] = {}
        self._issues: list[HealthIssue] = []

    @property
    def owners(self) -> dict[str, str]:
        """``{top-level key: its writer}`` so far (``"core"`` for the core's keys)."""
        return dict(self._owners)

    def section(self, owner: str) -> ReportSection:
        """The writer through which component ``owner`` contributes."""
        return ReportSection(self, owner)

    def _add(self, owner: str, key: str, value: Any) -> None:
        taken = self._owners.get(key)
        if taken is not None:
            raise ReportConflictError(f"report key {key!r} is written by {taken!r}; {owner!r} cannot write it too")
        self._owners[key] = owner
        self.report[key] = value

    def _add_to_operation(self, owner: str, operation: str, key: str, value: Any) -> bool:
        entry = self.report.get("operations", {}).get(operation)
        if entry is None:
            return False
        if key in entry:
            taken = self._extra_owners.get((operation, key), CORE)
            raise ReportConflictError(
                f"report key operations.{operation}.{key} is written by {taken!r}; {owner!r} cannot write it too"
            )
        self._extra_owners[(operation, key)] = owner
        entry[key] = value
        return True

    def finish(self) -> dict[str, Any]:
        """The report, its ``health`` composed (:func:`compose_health`) from
        the core's and the issues the components added."""
        if "health" in self.report:
            self.report["health"] = compose_health(self.report["health"], self._issues)
        return self.report


class ReportSection:
    """What one component may do to a report being assembled: add the keys
    it owns and health issues. ``now_s`` is the report's evaluation time.

    Example:
        >>> section = ReportAssembly({}, now_s=5.0).section("queues")
        >>> section.add("queues", {"requests": {}})
        >>> section.now_s
        5.0
    """

    __slots__ = ("_assembly", "owner")

    def __init__(self, assembly: ReportAssembly, owner: str) -> None:
        self._assembly = assembly
        self.owner = owner

    @property
    def now_s(self) -> float:
        """The time (unix seconds) this report evaluates alerts and regressions at."""
        return self._assembly.now_s

    def add(self, key: str, value: Any) -> None:
        """Writes the top-level key ``key``; :class:`ReportConflictError`
        when another component (or the core) already wrote it."""
        self._assembly._add(self.owner, key, value)

    def add_to_operation(self, operation: str, key: str, value: Any) -> bool:
        """Writes ``operations.<operation>.<key>`` when the report has that
        operation (returns whether it has); :class:`ReportConflictError` for
        a second writer."""
        return self._assembly._add_to_operation(self.owner, operation, key, value)

    def add_health_issues(self, issues: Iterable[HealthIssue]) -> None:
        """Adds issues to the report's health."""
        self._assembly._issues.extend(issues)


class Component:
    """Base of the monitor's components: the report/health protocol with
    defaults that do nothing (a component overrides what it takes part in).

    Example:
        >>> class Counter(Component):
        ...     def __init__(self) -> None:
        ...         self.n = 0
        ...     def contribute_report(self, section: ReportSection) -> None:
        ...         section.add("counter", self.n)
        >>> assembly = ReportAssembly({}, now_s=0.0)
        >>> Counter().contribute_report(assembly.section("counter"))
        >>> assembly.report
        {'counter': 0}
    """

    __slots__ = ()

    def contribute_report(self, section: ReportSection) -> None:
        """Writes this component's report keys (default: none)."""

    def health_issues(self, now_s: float) -> list[HealthIssue]:
        """This component's health issues at ``now_s`` (default: none)."""
        return []

    def clear(self) -> None:
        """Forgets what ``clear_metrics()`` forgets (default: nothing)."""


def delegate(component: str, method: Callable[Concatenate[C, P], R]) -> Callable[Concatenate[Any, P], R]:
    """A monitor method that forwards to ``getattr(monitor, component)``'s
    ``method``, with its signature (mypy sees it through ParamSpec) and its
    docstring. :func:`name_delegates` then gives it the monitor's name.

    Example:
        >>> class Alerts:
        ...     def check(self, now: float | None = None) -> list[str]:
        ...         '''Checks the rules.'''
        ...         return []
        >>> class Monitor:
        ...     def __init__(self) -> None:
        ...         self.alerts = Alerts()
        ...     check_alerts = delegate("alerts", Alerts.check)
        >>> Monitor().check_alerts(), Monitor.check_alerts.__doc__
        ([], 'Checks the rules.')
    """
    get_component = operator.attrgetter(component)
    name = method.__name__

    def forward(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
        result: R = getattr(get_component(self), name)(*args, **kwargs)
        return result

    functools.update_wrapper(forward, method)
    forward.__ragperf_delegate__ = (component, name)  # type: ignore[attr-defined]
    return forward


def name_delegates(cls: type) -> dict[str, tuple[str, str]]:
    """Names every :func:`delegate` of ``cls`` after its attribute
    (``__name__``/``__qualname__``) and returns ``{name: (component,
    method)}``.

    Example:
        >>> name_delegates(object)
        {}
    """
    mapping = {}
    for attr, value in vars(cls).items():
        target = getattr(value, "__ragperf_delegate__", None)
        if target is not None:
            value.__name__ = attr
            value.__qualname__ = f"{cls.__qualname__}.{attr}"
            mapping[attr] = target
    return mapping

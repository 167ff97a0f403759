"""Where the time goes: each stage's share of its root operation, by
exclusive ("self") time, from the nested traces (``monitor.get_bottlenecks``).

**Exclusive time.** The wall-clock time of a root block (e.g.
``query_processing``) is split among the blocks of its tree: at every
instant, the time goes to the *innermost* blocks running then — those with
no child running at that instant. A parent's time with no child running is
its own (``self``) time; a child's time with no grandchild running is the
child's.

**Concurrent children.** When several innermost blocks run at the same
instant (three retrievals in parallel under ``asyncio.gather``), that
instant is divided equally among them: three 1 s retrievals running side by
side in a 1.2 s query get 1/3 s each plus the query's own 0.2 s, so the
shares of a root always add up to exactly 1 and a stage's share is the
wall-clock time it is responsible for (not the sum of its durations, which
can exceed the root's). A child is clipped to its parent's interval (a task
that outlives its parent counts only while the parent runs).

The traces are the monitor's last 100 finished roots (``get_recent_traces``);
``window_minutes`` keeps the roots that ended in the last minutes.

Example:
    >>> tree = {"operation": "query", "start_time_s": 0.0, "duration_s": 1.0, "children": [
    ...     {"operation": "retrieval", "start_time_s": 0.0, "duration_s": 0.2, "children": []},
    ...     {"operation": "llm", "start_time_s": 0.25, "duration_s": 0.7, "children": []}]}
    >>> [(b["operation"], round(b["share"], 2)) for b in bottlenecks([tree])]
    [('llm', 0.7), ('retrieval', 0.2), ('query', 0.1)]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["TraceTimes", "bottlenecks", "bottlenecks_of", "exclusive_times", "format_bottlenecks", "trace_times"]

#: One trace as :func:`bottlenecks` needs it: (root operation, end time
#: (unix s), duration (s), ``[(operation, exclusive_s, duration_s), ...]``).
TraceTimes = tuple[str, float, float, list[tuple[str, float, float]]]


def _flatten(tree: Mapping[str, Any]) -> list[tuple[str, float, float, int, float]]:
    """Nodes as ``(operation, start, end, parent index, duration)``, each
    clipped to its parent's interval; nodes without a time (and their
    subtrees) or with nothing left after clipping are left out."""
    nodes: list[tuple[str, float, float, int, float]] = []
    # Times relative to the root's start: unix times near 1.8e9 would cost
    # the sums most of their precision.
    base = float(tree.get("start_time_s") or 0.0)
    stack: list[tuple[Mapping[str, Any], int, float, float]] = [(tree, -1, -math.inf, math.inf)]
    while stack:
        node, parent, lo, hi = stack.pop()
        start, duration = node.get("start_time_s"), node.get("duration_s")
        if start is None or duration is None:
            continue
        s = max(float(start) - base, lo)
        e = min(float(start) - base + float(duration), hi)
        if e < s or (parent >= 0 and e == s and float(duration) > 0):
            continue
        index = len(nodes)
        nodes.append((str(node["operation"]), s, e, parent, float(duration)))
        for child in node.get("children", ()):
            stack.append((child, index, s, e))
    return nodes


def exclusive_times(tree: Mapping[str, Any]) -> list[tuple[str, float, float]]:
    """``(operation, exclusive_s, duration_s)`` of every block of one trace
    tree (a ``get_recent_traces`` dict), the root first; the exclusive times
    add up to the root's duration (see the module for concurrent children).

    Example:
        >>> tree = {"operation": "q", "start_time_s": 0.0, "duration_s": 1.2, "children": [
        ...     {"operation": "r", "start_time_s": 0.1, "duration_s": 1.0, "children": []},
        ...     {"operation": "r", "start_time_s": 0.1, "duration_s": 1.0, "children": []}]}
        >>> [(op, round(t, 2)) for op, t, _ in exclusive_times(tree)]
        [('q', 0.2), ('r', 0.5), ('r', 0.5)]
    """
    nodes = _flatten(tree)
    if not nodes:
        return []
    events: list[tuple[float, int, int]] = []
    for i, (_, s, e, _, _) in enumerate(nodes):
        events.append((s, 0, i))
        events.append((e, 1, i))
    events.sort()
    exclusive = [0.0] * len(nodes)
    active_children = [0] * len(nodes)
    active: set[int] = set()
    leaves: set[int] = set()
    k = 0
    while k < len(events):
        t = events[k][0]
        while k < len(events) and events[k][0] == t:
            _, kind, i = events[k]
            parent = nodes[i][3]
            if kind == 0:
                active.add(i)
                if active_children[i] == 0:
                    leaves.add(i)
                if parent >= 0:
                    active_children[parent] += 1
                    leaves.discard(parent)
            else:
                active.discard(i)
                leaves.discard(i)
                if parent >= 0:
                    active_children[parent] -= 1
                    if active_children[parent] == 0 and parent in active:
                        leaves.add(parent)
            k += 1
        if k < len(events) and leaves:
            share = (events[k][0] - t) / len(leaves)
            for i in leaves:
                exclusive[i] += share
    # Sorted by start so the output order is stable (root first).
    order = sorted(range(len(nodes)), key=lambda i: (nodes[i][1], i))
    return [(nodes[i][0], exclusive[i], nodes[i][4]) for i in order]


def _p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def bottlenecks(
    trees: Iterable[Mapping[str, Any]],
    root: str | None = None,
    *,
    since_s: float | None = None,
    min_children: int = 0,
) -> list[dict[str, Any]]:
    """Each operation's share of each root operation's time, largest self
    time first: ``{"root", "operation", "share", "self_time_s",
    "avg_self_time_s", "p95_s", "count", "calls_per_root", "roots",
    "is_root"}``. ``share`` is the operation's exclusive time in the roots
    named ``root`` over their total duration (the shares of one root add up
    to 1; ``is_root`` marks the root's own time); ``p95_s`` is the 95th
    percentile of the operation's (inclusive) durations in those traces,
    ``count`` its number of blocks. ``root=None``: every root operation
    whose traces have at least ``min_children`` child blocks. ``since_s``
    keeps the roots that ended at or after it.

    Example:
        >>> bottlenecks([])
        []
    """
    summaries = (trace_times(tree) for tree in trees)
    return bottlenecks_of((t for t in summaries if t is not None), root, since_s=since_s, min_children=min_children)


def trace_times(tree: Mapping[str, Any]) -> TraceTimes | None:
    """What :func:`bottlenecks` needs of one trace tree: ``(root operation,
    end time, duration, exclusive_times(tree))``; None for a tree without
    times. A finished tree never changes, so callers may keep this.

    Example:
        >>> trace_times({"operation": "q", "start_time_s": 1.0, "duration_s": 2.0, "children": []})
        ('q', 3.0, 2.0, [('q', 2.0, 2.0)])
    """
    start, duration = tree.get("start_time_s"), tree.get("duration_s")
    if start is None or duration is None:
        return None
    return (str(tree.get("operation")), float(start) + float(duration), float(duration), exclusive_times(tree))


def bottlenecks_of(
    summaries: Iterable[TraceTimes],
    root: str | None = None,
    *,
    since_s: float | None = None,
    min_children: int = 0,
) -> list[dict[str, Any]]:
    """:func:`bottlenecks` from :func:`trace_times` of the trees.

    Example:
        >>> bottlenecks_of([("q", 3.0, 2.0, [("q", 0.5, 2.0), ("llm", 1.5, 1.5)])])[0]["share"]
        0.75
    """
    per_root: dict[str, dict[str, Any]] = {}
    for name, end_s, duration, times in summaries:
        if root is not None and name != root:
            continue
        if since_s is not None and end_s < since_s:
            continue
        entry = per_root.setdefault(name, {"total": 0.0, "roots": 0, "children": 0, "ops": {}})
        entry["total"] += duration
        entry["roots"] += 1
        entry["children"] += len(times) - 1
        for op, self_s, op_duration in times:
            acc = entry["ops"].setdefault(op, {"self": 0.0, "durations": []})
            acc["self"] += self_s
            acc["durations"].append(op_duration)
    out: list[dict[str, Any]] = []
    for name, entry in per_root.items():
        if root is None and entry["children"] < max(min_children, 1):
            continue
        total, roots = entry["total"], entry["roots"]
        for op, acc in entry["ops"].items():
            count = len(acc["durations"])
            out.append(
                {
                    "root": name,
                    "operation": op,
                    "share": acc["self"] / total if total > 0 else 0.0,
                    "self_time_s": acc["self"],
                    "avg_self_time_s": acc["self"] / roots,
                    "p95_s": _p95(acc["durations"]),
                    "count": count,
                    "calls_per_root": count / roots,
                    "roots": roots,
                    "is_root": op == name,
                }
            )
    out.sort(key=lambda b: (-b["self_time_s"], b["root"], b["operation"]))
    return out


def format_bottlenecks(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The "where the time goes" table of ``print_report`` (no lines when
    there is nothing to show).

    Example:
        >>> format_bottlenecks([{"root": "q", "operation": "llm", "share": 0.7,
        ...     "avg_self_time_s": 0.7, "p95_s": 0.9, "calls_per_root": 1.0, "is_root": False}])[3]
        'q                       llm                       70.0%        700.00        900.00      1.0'
    """
    if not rows:
        return []
    header = f"{'root':<24}{'stage':<24}{'share':>7}{'self ms/root':>14}{'p95 ms':>14}{'calls':>9}"
    lines = ["Where the time goes (exclusive time per root, from recent traces):", header]
    lines.append("-" * len(header))
    for r in rows:
        stage = f"{r['operation']} (self)" if r["is_root"] else str(r["operation"])
        lines.append(
            f"{str(r['root']):<24}{stage:<24}{r['share'] * 100:>6.1f}%"
            f"{r['avg_self_time_s'] * 1e3:>14.2f}{r['p95_s'] * 1e3:>14.2f}{r['calls_per_root']:>9.1f}"
        )
    return lines

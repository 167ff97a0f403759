"""Components that watch a monitor's statistics, each held by
:class:`~ragperf.PerformanceMonitor` and contributing its report sections
and health issues through :class:`ragperf._component.Component`:

- :class:`~ragperf.watch.alerts.Alerts` (``monitor.alerts``): alert rules,
  their checks and the background evaluator; report key ``alerts``.
- :class:`~ragperf.watch.regressions.Regressions` (``monitor.regressions``):
  live p95 regression detection against a baseline; ``regressions``,
  ``regression_baseline``.
- :class:`~ragperf.watch.overhead.Overhead` (``monitor.overhead``): what
  monitoring costs; ``monitoring``.
- :class:`~ragperf.watch.queues.Queues` (``monitor.queues``): queue
  monitors; ``queues``.
- :class:`~ragperf.watch.slo.Slos` (``monitor.slos``): SLOs, burn rates
  and their fast-burn alerts (through the alert engine); ``slos``.
- :class:`~ragperf.watch.insights.Insights` (``monitor.insights``): where
  the time goes (bottlenecks), suggestions, latency prediction;
  ``insights``. :mod:`ragperf.watch.significance` is the A/B test of
  ``ragperf.compare.significance``.
- :class:`~ragperf.watch.clock.EvaluationClock` (``monitor.clock``): the
  "now" of alert checks and regression detection.

Nothing here runs on the ``track_operation`` hot path.

Example:
    >>> from ragperf import PerformanceMonitor
    >>> monitor = PerformanceMonitor()
    >>> monitor.alerts.check()
    []
"""

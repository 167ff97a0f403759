"""The Prometheus metrics endpoint: :func:`start_http_server` serves a
monitor's families over HTTP — the text format, or protobuf with native
histograms when the scraper negotiates it — and returns a
:class:`MetricsServer`.

Example:
    >>> server = start_http_server(9464, monitor=monitor)   # doctest: +SKIP
    >>> server.stop()                                       # doctest: +SKIP
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from socketserver import ThreadingMixIn
from types import TracebackType
from typing import Any, cast
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

try:
    import prometheus_client
    from prometheus_client.registry import CollectorRegistry
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"ragperf.prometheus needs prometheus_client ({e}): pip install 'ragperf[prometheus]'"
    ) from e

from ..monitor import PerformanceMonitor
from .prometheus_collector import MonitorLike, RagperfCollector

__all__ = ["MetricsServer", "start_http_server"]


def _client_version() -> tuple[int, ...]:
    try:
        text = version("prometheus-client")
    except PackageNotFoundError:  # pragma: no cover - vendored copy
        return (0,)
    parts: list[int] = []
    for piece in text.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _returns_server() -> bool:
    """prometheus_client >= 0.20 returns (server, thread) from start_http_server."""
    return _client_version() >= (0, 20)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        pass


def _negotiating_app(registry: CollectorRegistry, collector: RagperfCollector) -> Any:
    """prometheus_client's WSGI app, except that a scrape asking for the
    delimited protobuf format (Prometheus with native histograms enabled)
    gets ``collector.collect_protobuf()`` plus the registry's other
    collectors in protobuf form."""
    from . import prom_native

    text_app = prometheus_client.make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if not prom_native.accepts_protobuf(str(environ.get("HTTP_ACCEPT", ""))):
            return cast(Iterable[bytes], text_app(environ, start_response))
        families = collector.collect_protobuf()
        collector._local.suppress = True  # the registry's other collectors only
        try:
            families += [prom_native.client_family(m) for m in registry.collect()]
        finally:
            collector._local.suppress = False
        body = prom_native.encode_delimited(families)
        start_response(
            "200 OK",
            [("Content-Type", prom_native.PROTOBUF_CONTENT_TYPE), ("Content-Length", str(len(body)))],
        )
        return [body]

    return app


def _own_server(port: int, addr: str, app: Any) -> tuple[WSGIServer, threading.Thread]:
    """The metrics endpoint: a threading WSGI server serving ``app`` from a
    daemon thread, kept so :meth:`MetricsServer.stop` can close it."""

    class Server(_ThreadingServer):
        address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET

    httpd = make_server(addr, port, app, Server, _QuietHandler)
    thread = threading.Thread(target=httpd.serve_forever, name="ragperf-prometheus", daemon=True)
    thread.start()
    return httpd, thread


class MetricsServer:
    """A running metrics endpoint started by :func:`start_http_server`.

    ``port`` is the port actually bound (useful with port 0); ``url`` the
    metrics address. ``stop()`` (idempotent; also on leaving a ``with``
    block) shuts the server down, closes its socket and unregisters the
    collector from the registry.

    Example:
        >>> with start_http_server(0, monitor=monitor) as server:   # doctest: +SKIP
        ...     urllib.request.urlopen(server.url).read()[:6]
        b'# HELP'
    """

    def __init__(
        self,
        server: WSGIServer,
        thread: threading.Thread,
        registry: CollectorRegistry,
        collector: RagperfCollector,
        addr: str,
    ) -> None:
        self._server = server
        self._thread = thread
        self._lock = threading.Lock()
        self._stopped = False
        self.registry = registry
        self.collector = collector
        self.addr = addr
        self.port: int = int(server.server_address[1])

    @property
    def url(self) -> str:
        """``http://<addr>:<port>/metrics`` (IPv6 addresses in brackets).

        Example:
            >>> start_http_server(0).url  # doctest: +SKIP
            'http://127.0.0.1:41237/metrics'
        """
        host = f"[{self.addr}]" if ":" in self.addr else self.addr
        return f"http://{host}:{self.port}/metrics"

    @property
    def running(self) -> bool:
        """True until :meth:`stop`.

        Example:
            >>> server.running  # doctest: +SKIP
            True
        """
        return not self._stopped

    def stop(self) -> None:
        """Stops serving, closes the socket, joins the thread and unregisters
        the collector. Safe to call more than once.

        Example:
            >>> server.stop()  # doctest: +SKIP
        """
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        try:
            self.registry.unregister(self.collector)
        except KeyError:  # already unregistered by the caller
            pass

    def close(self) -> None:
        """:meth:`stop` (the close of ragperf's exporter interface)."""
        self.stop()

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<ragperf.prometheus.MetricsServer {self.url} {state}>"


def start_http_server(
    port: int,
    addr: str = "127.0.0.1",
    monitor: PerformanceMonitor | MonitorLike | None = None,
    registry: CollectorRegistry | None = None,
    *,
    multiprocess_dir: str | os.PathLike[str] | None = None,
) -> MetricsServer:
    """Serves ``monitor``'s metrics at ``http://addr:port/metrics`` from a
    daemon thread and returns a handle. A scrape negotiating the delimited
    protobuf format (Prometheus with ``--enable-feature=native-histograms``)
    gets durations as native histograms (:meth:`RagperfCollector.collect_protobuf`);
    any other scrape gets prometheus_client's text format.

    Args:
        port: TCP port, 0..65535; 0 picks a free port (see ``handle.port``).
        addr: address to bind; the default serves this host only (use
            ``"0.0.0.0"`` to let other hosts scrape).
        monitor: the monitor to export (default: the process-wide one).
        registry: register the collector here; default a fresh
            ``CollectorRegistry`` holding only it (not prometheus_client's
            global ``REGISTRY``, whose process metrics would then be mixed in).
        multiprocess_dir: serve the merged snapshots of this directory
            instead of one monitor (see :class:`RagperfCollector`).

    Raises:
        TypeError: a port that is not an int, an addr that is not a str, a
            registry that is not a CollectorRegistry, or a monitor that is not
            monitor-like.
        ValueError: a port outside 0..65535 or an empty addr; also a
            registry that already holds a collector with these metric names.
        OSError: the address cannot be bound (e.g. the port is in use).

    Example:
        >>> server = start_http_server(0, monitor=monitor)  # doctest: +SKIP
        >>> server.port > 0, server.url                     # doctest: +SKIP
        (True, 'http://127.0.0.1:40127/metrics')
        >>> server.stop()                                   # doctest: +SKIP
    """
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"port must be an int, got {port!r} ({type(port).__name__})")
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be between 0 and 65535, got {port!r}")
    if not isinstance(addr, str):
        raise TypeError(f"addr must be a str, got {addr!r} ({type(addr).__name__})")
    if not addr:
        raise ValueError("addr must not be empty (use '0.0.0.0' for all interfaces)")
    if registry is not None and not isinstance(registry, CollectorRegistry):
        raise TypeError(f"registry must be a prometheus_client CollectorRegistry, got {registry!r}")
    collector = (
        RagperfCollector(monitor)
        if multiprocess_dir is None
        else RagperfCollector(monitor, multiprocess_dir=multiprocess_dir)
    )
    target = registry if registry is not None else CollectorRegistry()
    target.register(collector)
    try:
        httpd, thread = _own_server(port, addr, _negotiating_app(target, collector))
    except BaseException:
        target.unregister(collector)
        raise
    return MetricsServer(httpd, thread, target, collector, addr)

"""A local OTLP/HTTP receiver for the OpenTelemetry tests: a stdlib HTTP
server on 127.0.0.1 (ephemeral port) that decodes what it is sent as the
OTLP protobuf messages of opentelemetry-proto (``ExportTraceServiceRequest``
/ ``ExportMetricsServiceRequest``) and answers like a collector does."""

from __future__ import annotations

import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span


class Receiver:
    """An OTLP/HTTP receiver: POST /v1/traces and /v1/metrics, protobuf."""

    def __init__(self) -> None:
        self.traces: list[ExportTraceServiceRequest] = []
        self.metrics: list[ExportMetricsServiceRequest] = []
        self.content_types: set[str] = set()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                reply: bytes
                with receiver._lock:
                    receiver.content_types.add(self.headers.get("Content-Type", ""))
                    if self.path == "/v1/traces":
                        receiver.traces.append(ExportTraceServiceRequest.FromString(body))
                        reply = ExportTraceServiceResponse().SerializeToString()
                    elif self.path == "/v1/metrics":
                        receiver.metrics.append(ExportMetricsServiceRequest.FromString(body))
                        reply = ExportMetricsServiceResponse().SerializeToString()
                    else:
                        self.send_error(404)
                        return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

    def spans(self) -> dict[str, list[tuple[Any, Any, Span]]]:
        """span name -> [(resource, scope, span)]."""
        out: dict[str, list[tuple[Any, Any, Span]]] = {}
        for request in self.traces:
            for rs in request.resource_spans:
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        out.setdefault(span.name, []).append((rs.resource, ss.scope, span))
        return out

    def last_metrics(self) -> dict[str, Any]:
        """metric name -> the Metric of the ragperf scope, from the last
        export (cumulative temporality: the last one has everything)."""
        out: dict[str, Any] = {}
        for rm in self.metrics[-1].resource_metrics:
            for sm in rm.scope_metrics:
                if sm.scope.name == "ragperf":
                    for metric in sm.metrics:
                        out[metric.name] = metric
        return out


def value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind is not None else None


def attrs(kvs: Any) -> dict[str, Any]:
    return {kv.key: value(kv.value) for kv in kvs if isinstance(kv, KeyValue)}

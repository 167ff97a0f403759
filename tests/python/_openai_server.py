"""A small OpenAI-compatible HTTP server on 127.0.0.1 for the integration
tests: the real client packages (``openai``, ``langchain_openai``,
LlamaIndex's ``OpenAILike``) talk to it over the real wire protocol.

* HTTP/1.1 with keep-alive, one thread per connection, an ephemeral port.
* ``POST /v1/chat/completions``: answers a *dated* model
  (``gpt-4o-mini`` -> ``gpt-4o-mini-2024-07-18``, as OpenAI does). With
  ``"stream": true`` the body is ``text/event-stream`` in chunked transfer
  encoding, one ``data:`` event per chunk (role, then one content chunk per
  entry of ``chunks``, then ``finish_reason``), the usage in a last chunk
  with empty ``choices`` when ``stream_options.include_usage``, then
  ``data: [DONE]``. ``delay_s`` between chunks makes a stream last long
  enough for an unclosed one to be seen; ``fail_after`` sends OpenAI's
  mid-stream ``{"error": ...}`` event after that many content chunks.
* ``POST /v1/embeddings``: float or base64 (float32) vectors, usage.
* Every request is an :class:`Exchange` in ``server.exchanges``: what was
  asked, what was sent, whether the whole response went out or the client
  closed the connection first (checked before every chunk), and the usage
  it reported, so a test can compare ragperf's figures with the server's.

Example:
    >>> with OpenAIServer(chunks=["Hel", "lo"]) as server:   # doctest: +SKIP
    ...     client = openai.OpenAI(base_url=server.url, api_key="test")
"""

from __future__ import annotations

import base64
import json
import select
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["DATED_MODELS", "Exchange", "OpenAIServer"]

# Requested model -> the dated snapshot the server says it ran.
DATED_MODELS = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-08-06",
}
EMBEDDING_DIMENSIONS = 8


@dataclass
class Exchange:
    """One request and what the server did with it."""

    path: str
    body: dict[str, Any]
    stream: bool = False
    response_model: str | None = None
    chunks_total: int = 0  # content chunks it meant to send
    chunks_sent: int = 0  # content chunks written
    usage: dict[str, int] | None = None  # the usage it reported (or would have)
    completed: bool = False  # the whole response was written
    client_closed: bool = False  # the client closed the connection before the end
    done: threading.Event = field(default_factory=threading.Event)


def _prompt_tokens(body: dict[str, Any]) -> int:
    """A deterministic prompt token count (words + 3 per message)."""
    n = 0
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        n += 3 + (len(content.split()) if isinstance(content, str) else 0)
    return max(n, 1)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: OpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # a client that went away (reset, closed at shutdown)
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # idle keep-alive connections end
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def setup(self) -> None:
        super().setup()
        self.server.owner._connections.add(self.connection)

    def finish(self) -> None:
        self.server.owner._connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    # ---------------------------------------------------------- plumbing

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _peer_closed(self) -> bool:
        """True when the client has closed its end (nothing else can arrive
        on a keep-alive connection while its response is being written)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _event(self, payload: dict[str, Any] | str) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        self._chunk(b"data: " + text.encode() + b"\n\n")

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._json(400, {"error": {"message": "invalid JSON", "type": "invalid_request_error"}})
            return
        owner = self.server.owner
        exchange = Exchange(path=self.path, body=body)
        owner._add(exchange)
        try:
            if self.path.endswith("/chat/completions"):
                self._chat(owner, exchange, body)
            elif self.path.endswith("/embeddings"):
                self._embeddings(exchange, body)
            else:
                self._json(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
                exchange.completed = True
        except OSError:  # BrokenPipe / ConnectionReset: the client went away
            exchange.client_closed = True
            self.close_connection = True
        finally:
            exchange.done.set()

    # -------------------------------------------------------------- routes

    def _chat(self, owner: OpenAIServer, exchange: Exchange, body: dict[str, Any]) -> None:
        requested = str(body.get("model") or "")
        model = DATED_MODELS.get(requested, requested)
        chunks = list(owner.chunks)
        usage = {
            "prompt_tokens": _prompt_tokens(body),
            "completion_tokens": len(chunks),
            "total_tokens": _prompt_tokens(body) + len(chunks),
        }
        exchange.response_model = model
        exchange.usage = usage
        exchange.chunks_total = len(chunks)
        created = int(time.time())
        ident = f"chatcmpl-{len(owner.exchanges)}"
        if not body.get("stream"):
            exchange.chunks_sent = len(chunks)
            self._json(
                200,
                {
                    "id": ident,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "system_fingerprint": "fp_ragperf",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "".join(chunks), "refusal": None},
                            "logprobs": None,
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                },
            )
            exchange.completed = True
            return
        exchange.stream = True
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            payload: dict[str, Any] = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_ragperf",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
            if include_usage:
                payload["usage"] = None
            return payload

        self._event(chunk({"role": "assistant", "content": "", "refusal": None}))
        for i, text in enumerate(chunks):
            if owner.fail_after is not None and i == owner.fail_after:
                self._event({"error": {"message": "The server had an error while processing your request.",
                                       "type": "server_error", "param": None, "code": None}})
                self._chunk(b"")
                return
            if owner.delay_s:
                time.sleep(owner.delay_s)
            if self._peer_closed():
                exchange.client_closed = True
                self.close_connection = True
                return
            self._event(chunk({"content": text}))
            exchange.chunks_sent += 1
        self._event(chunk({}, "stop"))
        if include_usage:
            self._event({"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                         "system_fingerprint": "fp_ragperf", "choices": [], "usage": usage})
        self._event("[DONE]")
        self._chunk(b"")
        exchange.completed = True

    def _embeddings(self, exchange: Exchange, body: dict[str, Any]) -> None:
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts or [])
        requested = str(body.get("model") or "")
        exchange.response_model = requested
        tokens = sum(len(t.split()) if isinstance(t, str) else len(t) for t in texts)
        exchange.usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        data = []
        for i, _ in enumerate(texts):
            vector = [float(i + 1) / (d + 1) for d in range(EMBEDDING_DIMENSIONS)]
            if body.get("encoding_format") == "base64":
                encoded: Any = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            else:
                encoded = vector
            data.append({"object": "embedding", "index": i, "embedding": encoded})
        self._json(200, {"object": "list", "data": data, "model": requested, "usage": exchange.usage})
        exchange.completed = True


class OpenAIServer:
    """The server (see the module docstring); a context manager that starts
    and stops it. ``chunks``, ``delay_s`` and ``fail_after`` may be changed
    between requests.

    Example:
        >>> with OpenAIServer() as server:   # doctest: +SKIP
        ...     server.url
        'http://127.0.0.1:40123/v1'
    """

    def __init__(
        self,
        *,
        chunks: list[str] | None = None,
        delay_s: float = 0.0,
        fail_after: int | None = None,
    ) -> None:
        self.chunks = chunks if chunks is not None else ["Retrieval", "-augmented", " generation", " grounds", " answers", "."]
        self.delay_s = delay_s
        self.fail_after = fail_after
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="openai-test-server", daemon=True)

    @property
    def url(self) -> str:
        """The client's ``base_url``."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def _add(self, exchange: Exchange) -> None:
        with self._lock:
            self.exchanges.append(exchange)

    def wait_done(self, timeout: float = 5.0) -> bool:
        """Waits until every response has ended (written or abandoned by the
        client); False if one is still being generated after ``timeout``."""
        deadline = time.monotonic() + timeout
        for exchange in list(self.exchanges):
            if not exchange.done.wait(max(0.0, deadline - time.monotonic())):
                return False
        return True

    def start(self) -> OpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        for conn in list(self._connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

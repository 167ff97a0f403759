"""The demo's OpenAI-compatible generator against a real HTTP server on 127.0.0.1.

The server speaks the chat-completions wire format with ``stream: true``:
server-sent events, one content delta per event, a final chunk carrying
``usage`` (as OpenAI sends with ``stream_options.include_usage``), then
``data: [DONE]``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ragperf import PerformanceMonitor, get_performance_monitor
from ragperf.demo.__main__ import main
from ragperf.demo.openai_chat import ENV_API_KEY, LLMEndpointError, OpenAIChatGenerator
from ragperf.demo.pipeline import HashingEmbedder, RAGPipeline, load_documents

DELTAS = ["The warranty", " lasts three", " years", "."]
USAGE = {"prompt_tokens": 321, "completion_tokens": 7, "total_tokens": 328}
FIRST_TOKEN_DELAY_S = 0.05


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(
            {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
        )
        if self.server.status != 200:
            self.send_response(self.server.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "invalid api key"}}')
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        time.sleep(FIRST_TOKEN_DELAY_S)
        self._event({"choices": [{"index": 0, "delta": {"role": "assistant"}}]})
        self.wfile.write(b": keep-alive comment\n\n")
        for delta in DELTAS:
            self._event({"choices": [{"index": 0, "delta": {"content": delta}}], "usage": None})
        self._event({"choices": [], "usage": USAGE, "model": body["model"]})
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _event(self, chunk: dict[str, Any]) -> None:
        chunk.setdefault("object", "chat.completion.chunk")
        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict[str, Any]] = []
        self.status = 200

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def pipeline_parts() -> tuple[list[Any], HashingEmbedder]:
    return load_documents(monitor=PerformanceMonitor()), HashingEmbedder()


def test_streams_deltas_and_sends_the_openai_request(server: _Server) -> None:
    gen = OpenAIChatGenerator(server.url, "tiny-model", api_key="sk-test")
    pieces = list(gen.generate("How long is the warranty?", []))
    assert pieces == DELTAS
    assert gen.last_usage == USAGE
    (request,) = server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == "Bearer sk-test"
    body = request["body"]
    assert body["model"] == "tiny-model" and body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "Question: How long is the warranty?" in body["messages"][1]["content"]


def test_pipeline_records_ttft_and_server_usage(
    server: _Server, pipeline_parts: tuple[list[Any], HashingEmbedder]
) -> None:
    documents, embedder = pipeline_parts
    monitor = PerformanceMonitor()
    gen = OpenAIChatGenerator(server.url + "/chat/completions", "tiny-model")
    p = RAGPipeline(monitor=monitor, embedder=embedder, generator=gen)
    p.index(documents)
    answer = p.answer("How long is the warranty on the Halyard weather station?")

    assert answer.text == "The warranty lasts three years."
    assert (answer.prompt_tokens, answer.completion_tokens) == (321, 7)  # the server's usage
    # the server waits before its first event: a lower bound, not a speed claim
    assert answer.time_to_first_token_s >= FIRST_TOKEN_DELAY_S * 0.9
    assert server.requests[0]["auth"] is None  # no key given, no header
    context = server.requests[0]["body"]["messages"][1]["content"]
    assert "(15_warranty)" in context  # the reranked chunks are in the prompt

    stats = monitor.get_operation_stats("llm_inference")
    assert stats.total_operations == 1 and stats.total_tokens == 328
    assert stats.streams == 1
    assert stats.time_to_first_token_p50_s is not None
    assert stats.time_to_first_token_p50_s >= FIRST_TOKEN_DELAY_S * 0.9
    models = monitor.generate_report()["models"]
    assert models["tiny-model"]["prompt_tokens"] == 321
    assert models["tiny-model"]["completion_tokens"] == 7

    (trace,) = monitor.get_recent_traces(1)
    assert trace["operation"] == "query_processing"
    children = [c["operation"] for c in trace["children"]]
    assert children == ["embedding_generation", "document_retrieval", "reranking", "llm_inference"]


def test_http_error_names_the_status_and_fails_the_block(
    server: _Server, pipeline_parts: tuple[list[Any], HashingEmbedder]
) -> None:
    server.status = 401
    monitor = PerformanceMonitor()
    p = RAGPipeline(
        monitor=monitor,
        embedder=pipeline_parts[1],
        generator=OpenAIChatGenerator(server.url, "m", api_key="wrong"),
    )
    p.index(pipeline_parts[0])
    with pytest.raises(LLMEndpointError, match=r"HTTP 401.*invalid api key"):
        p.answer("How long is the warranty?")
    stats = monitor.get_operation_stats("llm_inference")
    assert (stats.total_operations, stats.failed_operations) == (1, 1)
    assert stats.errors_by_type == {"LLMEndpointError": 1}


def test_unreachable_endpoint_is_a_clear_error(server: _Server) -> None:
    url = server.url
    server.shutdown()
    server.server_close()
    with pytest.raises(LLMEndpointError, match="cannot reach http://127.0.0.1"):
        list(OpenAIChatGenerator(url, "m", timeout_s=5).generate("q", []))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base_url": "ftp://host/v1", "model": "m"}, "'ftp://host/v1'"),
        ({"base_url": "localhost:8000", "model": "m"}, "'localhost:8000'"),
        ({"base_url": "http://h/v1", "model": " "}, "model name"),
        ({"base_url": "http://h/v1", "model": "m", "timeout_s": 0}, "timeout_s"),
        ({"base_url": "http://h/v1", "model": "m", "max_tokens": 0}, "max_tokens"),
    ],
)
def test_bad_arguments_name_the_value(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OpenAIChatGenerator(**kwargs)


def test_command_line_uses_the_endpoint_and_env_key(
    server: _Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_API_KEY, "sk-from-env")
    get_performance_monitor().clear_metrics()  # the command records into the default monitor
    metrics = tmp_path / "m.json"
    argv = ["--quiet", "--embedder", "hashing", "--metrics", str(metrics)]
    argv += ["--llm-url", server.url, "--llm-model", "tiny-model"]
    assert main([*argv, "--question", "How long is the warranty?"]) == 0
    assert [r["auth"] for r in server.requests] == ["Bearer sk-from-env"]
    report = json.loads(metrics.read_text(encoding="utf-8"))
    assert report["operations"]["llm_inference"]["tokens"]["total"] == 328
    assert "tiny-model" in report["models"]


def test_command_line_needs_a_model_with_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RAGPERF_DEMO_LLM_MODEL", raising=False)
    code = main(["--quiet", "--embedder", "hashing", "--metrics", str(tmp_path / "m.json"),
                 "--llm-url", "http://127.0.0.1:9/v1"])
    assert code == 2
    assert "--llm-model" in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()


def test_command_line_reports_endpoint_failure(
    server: _Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.status = 500
    code = main(["--quiet", "--embedder", "hashing", "--metrics", str(tmp_path / "m.json"),
                 "--llm-url", server.url, "--llm-model", "m", "--question", "Why?"])
    assert code == 1
    assert "LLM endpoint failed" in capsys.readouterr().err

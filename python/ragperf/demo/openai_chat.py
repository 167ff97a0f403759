"""A :class:`~ragperf.demo.generation.Generator` for any OpenAI-compatible chat endpoint.

Plain :mod:`urllib` (no SDK): one ``POST {base_url}/chat/completions`` with
``"stream": true`` and ``stream_options.include_usage``; the answer arrives as
server-sent events (``data: {json}`` lines, ending with ``data: [DONE]``). Each
content delta is yielded as it arrives, so the pipeline's ``llm_inference``
block records the real time to first token; the usage the server reports in
its last chunk is kept in :attr:`OpenAIChatGenerator.last_usage` for
``op.set_usage``. Works with OpenAI, vLLM, llama.cpp's server, Ollama's
``/v1``, LM Studio and the like.

Example:
    >>> gen = OpenAIChatGenerator("http://127.0.0.1:8000/v1", "qwen2.5-0.5b")
    >>> gen.endpoint
    'http://127.0.0.1:8000/v1/chat/completions'
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from .retrieval import ScoredChunk

__all__ = ["ENV_API_KEY", "ENV_MODEL", "ENV_URL", "LLMEndpointError", "OpenAIChatGenerator"]

ENV_URL: Final = "RAGPERF_DEMO_LLM_URL"
"""Environment variable: base URL of an OpenAI-compatible API (e.g. ``http://localhost:8000/v1``)."""

ENV_MODEL: Final = "RAGPERF_DEMO_LLM_MODEL"
"""Environment variable: the model name sent to that API."""

ENV_API_KEY: Final = "RAGPERF_DEMO_LLM_API_KEY"
"""Environment variable: the API key (sent as ``Authorization: Bearer``); optional."""

SYSTEM_PROMPT: Final = (
    "You answer questions about the Alderbank Instruments handbook. Use only the numbered "
    "context passages. Answer in one or two sentences. If they do not contain the answer, "
    "say that you could not find it in the handbook."
)


class LLMEndpointError(RuntimeError):
    """The endpoint could not be reached, answered with an HTTP error, or sent
    something that is not an OpenAI-style event stream. The message names the URL.

    Example:
        >>> raise LLMEndpointError("http://x/v1/chat/completions: HTTP 401")  # doctest: +SKIP
    """


class OpenAIChatGenerator:
    """Streams an answer from ``{base_url}/chat/completions``.

    ``base_url`` is the API root (``.../v1``); a URL that already ends in
    ``/chat/completions`` is used as it is. ``api_key`` is sent as a bearer
    token when given. The prompt is :func:`~ragperf.demo.generation.build_prompt`
    under a short system message.

    Raises:
        ValueError: ``base_url`` is not an http(s) URL, ``model`` is empty, or
            ``timeout_s``/``max_tokens`` is not positive (the message names the value).

    Example:
        >>> gen = OpenAIChatGenerator("https://api.openai.com/v1", "gpt-4o-mini", api_key="sk-...")
        >>> gen.model_name
        'gpt-4o-mini'
    """

    separator: Final = ""
    """Deltas already carry their spaces: the pipeline joins them with ``""``."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_tokens: int = 256,
        temperature: float = 0.0,
    ) -> None:
        parsed = urllib.parse.urlparse(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"LLM URL must be an http:// or https:// URL, got {base_url!r}")
        if not isinstance(model, str) or not model.strip():
            raise ValueError(f"LLM model name must be a non-empty string, got {model!r}")
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise ValueError(f"max_tokens must be a positive integer, got {max_tokens!r}")
        root = base_url.rstrip("/")
        self.endpoint = root if root.endswith("/chat/completions") else f"{root}/chat/completions"
        self._model = model
        self._api_key = api_key
        self.timeout_s = timeout_s
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.last_usage: dict[str, Any] | None = None
        """The ``usage`` object of the last stream (None if the server sent none)."""

    @property
    def model_name(self) -> str:
        """The model name sent to the endpoint (and recorded as the block's model)."""
        return self._model

    def request_body(self, question: str, contexts: Sequence[ScoredChunk]) -> dict[str, Any]:
        """The JSON body that :meth:`generate` posts.

        Example:
            >>> OpenAIChatGenerator("http://h/v1", "m").request_body("Why?", [])["stream"]
            True
        """
        from .generation import build_prompt

        return {
            "model": self._model,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": build_prompt(question, contexts)},
            ],
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }

    def generate(self, question: str, contexts: Sequence[ScoredChunk]) -> Iterator[str]:
        """Yield the answer's content deltas as the server streams them.

        Raises:
            LLMEndpointError: connection failure, HTTP error status, an
                ``error`` event, or a body that is not an event stream.
        """
        self.last_usage = None
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(
            self.endpoint,
            data=json.dumps(self.request_body(question, contexts)).encode("utf-8"),
            headers=headers,
            method="POST",
        )
        try:
            response = urllib.request.urlopen(request, timeout=self.timeout_s)  # noqa: S310 - http(s) checked
        except urllib.error.HTTPError as e:
            detail = e.read(500).decode("utf-8", "replace").strip()
            raise LLMEndpointError(f"{self.endpoint}: HTTP {e.code} {e.reason}: {detail}") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise LLMEndpointError(f"cannot reach {self.endpoint}: {reason}") from None
        with response:
            yield from self._read_events(response)

    def _read_events(self, response: Any) -> Iterator[str]:
        saw_event = False
        for raw in response:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not line.startswith("data:"):
                continue  # blank separators, ": keep-alive" comments, "event:" names
            payload = line[5:].strip()
            if payload == "[DONE]":
                return
            saw_event = True
            try:
                chunk = json.loads(payload)
            except json.JSONDecodeError:
                raise LLMEndpointError(
                    f"{self.endpoint}: not an OpenAI event stream (bad JSON: {payload[:80]!r})"
                ) from None
            if not isinstance(chunk, dict):
                continue
            if "error" in chunk:
                raise LLMEndpointError(f"{self.endpoint}: the server reported {chunk['error']!r}")
            usage = chunk.get("usage")
            if isinstance(usage, dict):
                self.last_usage = usage
            for choice in chunk.get("choices") or []:
                content = (choice.get("delta") or {}).get("content")
                if isinstance(content, str) and content:
                    yield content
        if not saw_event:
            raise LLMEndpointError(f"{self.endpoint}: the response had no 'data:' events")

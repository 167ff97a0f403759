"""One-line instrumentation of RAG frameworks and clients.

Each integration is its own module and imports its framework only when you
import that module, so ``import ragperf`` (and this package) never pulls a
framework in:

* :mod:`ragperf.integrations.langchain` — ``RagperfCallbackHandler`` and
  ``instrument_embeddings`` (``pip install ragperf[langchain]``);
* :mod:`ragperf.integrations.llamaindex` — ``instrument`` (an
  instrumentation span and event handler; ``pip install ragperf[llamaindex]``);
* :mod:`ragperf.integrations.openai` — ``instrument(client)`` for any client
  with the OpenAI ``chat.completions.create`` shape (no package needed);
* :mod:`ragperf.integrations.fastapi` — ``RagperfMiddleware``, a pure ASGI
  middleware (works with any ASGI app; ``pip install ragperf[fastapi]`` for
  route templates from FastAPI/Starlette routing).

See docs/integrations.md for examples and the measured cost per call.

Example:
    >>> from ragperf.integrations import openai as ragperf_openai   # doctest: +SKIP
    >>> handle = ragperf_openai.instrument(client)                   # doctest: +SKIP
"""

from __future__ import annotations

__all__: list[str] = []

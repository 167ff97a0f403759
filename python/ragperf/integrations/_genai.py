"""GenAI provider names for ``metadata["provider"]``, as OpenTelemetry's
GenAI semantic conventions spell them (``gen_ai.provider.name``).

Integrations name the provider of the client they instrument: ``"openai"``
for the OpenAI SDK and ``ChatOpenAI`` (also when it talks to an
OpenAI-compatible server: the conventions name the client's API, not the
host), ``"azure.ai.openai"`` for Azure OpenAI, and so on. A plain block may
set ``provider=`` in its metadata itself.

Example:
    >>> provider_name("google_vertexai")
    'gcp.vertex_ai'
    >>> provider_name("ollama") is None, provider_name("ollama", known_only=False)
    (True, 'ollama')
"""

from __future__ import annotations

__all__ = ["provider_name"]

# Hints (LangChain's ls_provider, LlamaIndex class names, SDK names,
# lower-cased, "-" as "_") -> the well-known gen_ai.provider.name value.
_WELL_KNOWN: dict[str, str] = {
    "openai": "openai",
    "openailike": "openai",
    "azure": "azure.ai.openai",
    "azure_openai": "azure.ai.openai",
    "azureopenai": "azure.ai.openai",
    "azure_ai": "azure.ai.inference",
    "azure_ai_inference": "azure.ai.inference",
    "anthropic": "anthropic",
    "aws": "aws.bedrock",
    "bedrock": "aws.bedrock",
    "amazon_bedrock": "aws.bedrock",
    "bedrockconverse": "aws.bedrock",
    "google_vertexai": "gcp.vertex_ai",
    "vertexai": "gcp.vertex_ai",
    "vertex": "gcp.vertex_ai",
    "google_genai": "gcp.gemini",
    "googlegenai": "gcp.gemini",
    "gemini": "gcp.gemini",
    "mistral": "mistral_ai",
    "mistralai": "mistral_ai",
    "cohere": "cohere",
    "groq": "groq",
    "deepseek": "deepseek",
    "perplexity": "perplexity",
    "xai": "x_ai",
    "ibm": "ibm.watsonx.ai",
    "watsonx": "ibm.watsonx.ai",
    "ibm_watsonx": "ibm.watsonx.ai",
}


def provider_name(hint: object, *, known_only: bool = True) -> str | None:
    """The ``gen_ai.provider.name`` value for ``hint`` (a provider or class
    name such as ``"openai"``, ``"azure"``, ``"OpenAILike"``,
    ``"OpenAIEmbedding"``); for an unknown hint None, or the hint itself
    (lower-cased) when ``known_only`` is False (a value the framework gave
    as the provider's name, e.g. LangChain's ``ls_provider``).

    Example:
        >>> provider_name("OpenAIEmbedding"), provider_name("AzureOpenAI")
        ('openai', 'azure.ai.openai')
    """
    if not isinstance(hint, str) or not hint.strip():
        return None
    key = hint.strip().lower().replace("-", "_")
    for suffix in ("embeddings", "embedding"):
        if key.endswith(suffix) and len(key) > len(suffix):
            key = key[: -len(suffix)].rstrip("_")
            break
    found = _WELL_KNOWN.get(key)
    if found is not None or known_only:
        return found
    return key[:200]

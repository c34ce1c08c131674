"""The one mapping table from span attribute names to audit step columns.

OpenTelemetry GenAI semantic conventions (current names and the deprecated ones still emitted by
older instrumentations) and OpenInference (Arize Phoenix) name the same facts differently. Every
importer that reads attributes (OTLP spans, Langfuse metadata) resolves them through ``ATTRIBUTES``
below, so a new alias is one line here. First match wins: current names come before deprecated ones.
Attributes in the ``tokenomy.*`` namespace carry the prices and labels logs do not (V, λ, ρ, quality,
confirmation); see ``LABEL_ATTRIBUTES``. Nothing here reads files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["ATTRIBUTES", "LABEL_ATTRIBUTES", "OPERATION_KIND", "SPAN_KIND_KIND", "resolve"]

# step column -> attribute names, most current first.
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "operation": ("gen_ai.operation.name",),
    "provider": ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"),
    "model": ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name", "embedding.model_name"),
    "input_tokens": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"),
    "output_tokens": (
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",
        "llm.token_count.completion",
    ),
    "cache_read_tokens": (
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_read_input_tokens",
        "llm.token_count.prompt_details.cache_read",
    ),
    "cache_write_tokens": (
        "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.cache_creation_input_tokens",
        "llm.token_count.prompt_details.cache_write",
    ),
    "reasoning_tokens": (
        "gen_ai.usage.reasoning.output_tokens",
        "gen_ai.usage.reasoning_tokens",
        "llm.token_count.completion_details.reasoning",
    ),
    "reported_cost_usd": ("gen_ai.usage.cost", "llm.cost.total", "tokenomy.cost_usd"),
    # OpenInference's cost parts: their sum is the reported cost when no total is given
    "reported_cost_prompt_usd": ("llm.cost.prompt",),
    "reported_cost_completion_usd": ("llm.cost.completion",),
    "tool": ("gen_ai.tool.name", "tool.name"),
    # a tool call's arguments (read on tool spans only): GenAI's, then OpenInference's parameters / input
    "tool_args": ("gen_ai.tool.call.arguments", "tool.parameters", "input.value"),
    "span_kind": ("openinference.span.kind",),
    "action_class": ("tokenomy.action_class",),
    "autonomy_class": ("tokenomy.autonomy_class",),
    "confirmed": ("tokenomy.confirmed",),
    "correct": ("tokenomy.correct",),
    "malformed": ("tokenomy.malformed",),
}

# request label -> attribute names, most current first (read from any span of the trace; the root
# span wins on conflict). Sessions, users and tags group requests in the audit's views: GenAI's
# conversation id, OpenTelemetry's session and user attributes, OpenInference's and Langfuse's names.
LABEL_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "v_usd": ("tokenomy.v_usd",),
    "lam_usd_per_s": ("tokenomy.lam_usd_per_s",),
    "rho_usd": ("tokenomy.rho_usd",),
    "rho_irr_usd": ("tokenomy.rho_irr_usd",),
    "quality": ("tokenomy.quality",),
    "harm": ("tokenomy.harm",),
    "harm_irr": ("tokenomy.harm_irr",),
    "group": ("tokenomy.group",),
    "session": ("gen_ai.conversation.id", "session.id", "langfuse.session.id", "tokenomy.session"),
    "user": ("user.id", "enduser.id", "langfuse.user.id", "tokenomy.user"),
    "tags": ("tokenomy.tags", "tag.tags", "langfuse.trace.tags"),
}

# gen_ai.operation.name -> step kind. Anything not listed is a "group" span (agent, workflow, HTTP).
OPERATION_KIND: dict[str, str] = {
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "embeddings": "llm",
    "completion": "llm",
    "execute_tool": "tool",
    "invoke_agent": "group",
    "create_agent": "group",
    "invoke_workflow": "group",
}

# openinference.span.kind -> step kind.
SPAN_KIND_KIND: dict[str, str] = {
    "LLM": "llm",
    "EMBEDDING": "llm",
    "TOOL": "tool",
    "AGENT": "group",
    "CHAIN": "group",
    "RETRIEVER": "tool",
    "RERANKER": "llm",
    "GUARDRAIL": "group",
    "EVALUATOR": "group",
}


def resolve(attrs: Mapping[str, Any], column: str) -> Any:
    """The value of ``column`` from the first attribute name in ``ATTRIBUTES[column]`` present, else None."""
    for name in ATTRIBUTES[column]:
        v = attrs.get(name)
        if v is not None:
            return v
    return None

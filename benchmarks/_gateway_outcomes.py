"""The measured-answers file of ``bench_gateway_models.py --outcomes``, read and checked in one place.

Both ``bench_gateway_models.py`` (which writes it and reads it back) and ``bench_gateway_features.py``
read it here. Every field is checked; a bad file raises one ``ValidationError`` naming the file, the
part (``key``, ``train`` or ``held_out``), the row, the model and the field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tokenomy.core._checks import real, text, whole
from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import MAX_PRICE_USD
from tokenomy.interfaces.gateway.workload import MAX_QUESTIONS
from tokenomy.interfaces.loaders.reader import one_key_once

FIELDS = ("quality", "cost_usd", "latency_s", "text", "prompt_tokens", "completion_tokens")
"""One model's answer to one question, in the file's order."""
MAX_SECONDS = 1e9


def _row(entry: Any, where: str) -> tuple[Any, ...]:
    if not isinstance(entry, list) or len(entry) != len(FIELDS):
        raise ValidationError(
            f"{where}: expected a list of {len(FIELDS)} fields {list(FIELDS)}, got {entry!r:.80}"
        )
    q, cost, lat, answer, p_tok, c_tok = entry
    return (
        real("quality", q, low=0.0, high=1.0, where=where),
        real("cost_usd", cost, low=0.0, high=MAX_PRICE_USD, where=where),
        real("latency_s", lat, low=0.0, high=MAX_SECONDS, where=where),
        text("text", answer, where=where),
        whole("prompt_tokens", p_tok, where=where),
        whole("completion_tokens", c_tok, where=where),
    )


def read_outcomes(path: Path) -> dict[str, Any]:
    """The file's ``key`` (seed, n, models, kinds), ``train`` and ``held_out`` rows (per question, one
    tuple of ``FIELDS`` per model), ``when``, ``start_s`` and ``wall_s``.

    Raises:
        ValidationError: the file cannot be read, is not JSON (a repeated key included), or any field
            is outside its form, naming where.
    """
    try:
        doc = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=one_key_once)
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{path}: cannot be read as UTF-8 text ({type(exc).__name__}: {exc})") from None
    except ValueError as exc:
        raise ValidationError(f"{path}: not a JSON outcomes file ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("key"), dict):
        raise ValidationError(
            f"{path}: expected a JSON object with a 'key' object, as bench_gateway_models.py writes"
        )
    key, at = doc["key"], f"{path}: key"
    whole("seed", key.get("seed"), where=at)
    whole("n", key.get("n"), low=2, high=MAX_QUESTIONS, where=at)
    models = key.get("models")
    if not isinstance(models, list) or len(models) != 2:
        raise ValidationError(f"{at}: models must be a list of two model names, got {models!r:.80}")
    for m in models:
        text("models entry", m, where=at, blank=False)
    kinds = key.get("kinds", [])
    if not isinstance(kinds, list):
        raise ValidationError(f"{at}: kinds must be a list of question kinds, got {kinds!r:.80}")
    for k in kinds:
        text("kinds entry", k, where=at, blank=False)
    out: dict[str, Any] = {"key": key}
    for part in ("train", "held_out"):
        rows = doc.get(part)
        if not isinstance(rows, list):
            raise ValidationError(f"{path}: {part} must be a list of rows, one per question")
        checked = []
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != len(models):
                raise ValidationError(
                    f"{path}: {part} row {i}: expected one answer per model ({len(models)})"
                )
            checked.append(
                [_row(e, f"{path}: {part} row {i}, model {models[k]!r}") for k, e in enumerate(row)]
            )
        out[part] = checked
    out["when"] = text("when", doc.get("when", ""), where=str(path))
    for f in ("start_s", "wall_s"):
        out[f] = real(f, doc.get(f, 0.0), low=0.0, high=MAX_SECONDS, where=str(path))
    return out

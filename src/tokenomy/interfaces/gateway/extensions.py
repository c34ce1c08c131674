"""Attach the gateway's optional parts when their modules are present: tool-call gate, spans, metrics.

Each part lives in its own module of this package and is attached through the app's hooks
(``response_filters``, ``on_request``, ``extra_routes``); a part whose module or package is missing
is skipped and named in the returned notes, so the gateway serves without it.
"""

from __future__ import annotations

import importlib.util

from tokenomy.interfaces.gateway.app import Gateway

__all__ = ["attach_extensions"]


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def attach_extensions(app: Gateway) -> list[str]:
    """Attach what is installed; return one note per part (attached or why not)."""
    notes: list[str] = []
    for name in ("actions", "telemetry", "metrics"):
        mod = f"tokenomy.interfaces.gateway.{name}"
        if not _has(mod):
            notes.append(f"{name}: not available (module missing)")
            continue
        hook = getattr(importlib.import_module(mod), "attach", None)
        if hook is None:
            notes.append(f"{name}: present, no attach(app) hook yet")
            continue
        notes.append(f"{name}: {hook(app)}")
    return notes

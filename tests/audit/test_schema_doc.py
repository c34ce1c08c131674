"""docs/audit.md documents every key that ``tokenomy audit --json`` writes (the doc cannot drift)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_otlp import write_agent_trace

from tokenomy.interfaces.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "audit.md"


def schema_block() -> str:
    text = DOC.read_text(encoding="utf-8")
    m = re.search(r"## JSON schema.*?```text\n(.*?)```", text, re.S)
    assert m, "docs/audit.md has no JSON schema block"
    return m.group(1)


def keys(obj: Any) -> set[str]:
    """Field names of an object, recursively (the caller leaves out maps keyed by data: modes, models)."""
    out: set[str] = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.add(k)
            out |= keys(v)
    elif isinstance(obj, list):
        for x in obj[:3]:
            out |= keys(x)
    return out


def undocumented(payload: dict[str, Any]) -> set[str]:
    block = schema_block()
    payload = dict(payload, schedule=dict(payload["schedule"], levels={}))  # keyed by class names
    found = keys({k: v for k, v in payload.items() if k not in ("failure_modes", "pricing", "prices")})
    for f in payload["failure_modes"].values():  # examples and details are mode-specific ("...")
        found |= set(f)
    found |= set(payload["pricing"]) | {k for card in payload["pricing"]["rate_cards"].values() for k in card}
    found |= {k for p in payload["prices"].values() for k in p if k != "sources"}
    return {k for k in found if f'"{k}"' not in block}


def test_every_key_of_an_otlp_audit_is_documented(tmp_path: Path) -> None:
    src = tmp_path / "t.jsonl"
    write_agent_trace(src)
    out = tmp_path / "a.json"
    assert main(["audit", str(src), "--json", str(out), "--report", str(tmp_path / "a.html")]) == 0
    payload = json.loads(out.read_text())
    assert undocumented(payload) == set()
    assert set(payload["failure_modes"]) <= set(re.findall(r"^\| (\w+) \|", DOC.read_text(), re.M))


@pytest.mark.data
def test_every_key_of_the_miniswe_audit_is_documented(tmp_path: Path, need_data: Callable[..., Path]) -> None:
    folder = need_data("agent", "miniswe_gemini3pro_swebv")
    out = tmp_path / "m.json"
    assert main(["audit", str(folder), "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    vc = payload["verification_curve"]
    vc["fit"]["k_star_by_v"] = {}  # keyed by V values, not field names
    assert undocumented(payload) == set()

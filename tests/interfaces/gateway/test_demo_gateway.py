"""The gateway demo section says clearly that it is skipped when the real models are not installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenomy.interfaces import demo_gateway
from tokenomy.interfaces.cmd_demo import SECTIONS, DemoContext
from tokenomy.interfaces.gateway import local_models


def test_demo_section_is_listed_last_and_skips_with_the_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert SECTIONS[-1] == "tokenomy.interfaces.demo_gateway"
    monkeypatch.setattr(local_models, "missing_packages", lambda: ["llama_cpp"])
    lines: list[str] = []
    out = demo_gateway.section(DemoContext(None, tmp_path, lines.append))
    assert "skipped" in out
    assert any("not installed" in line and "gateway-deps.sh" in line for line in lines)
    assert not (tmp_path / "gateway").exists()

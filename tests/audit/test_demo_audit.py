"""The audit demo section: the synthetic OTLP sample without data, the real agent logs with it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tokenomy.interfaces.cmd_demo import DemoContext
from tokenomy.interfaces.demo_audit import SYNTHETIC_NOTE, section


def test_without_data_audits_the_synthetic_sample_and_labels_it(tmp_path: Path) -> None:
    lines: list[str] = []
    out = section(DemoContext(None, tmp_path, lines.append))
    assert set(out) == {"otlp_sample"} and out["otlp_sample"]["label"] == "synthetic"
    od = out["otlp_sample"]["failure_modes"]["over_delegation"]
    assert od["applicable"] and od["count"] == 5  # book_flight unconfirmed in the 5 odd traces
    text = "\n".join(lines)
    assert SYNTHETIC_NOTE in text
    html = Path(out["otlp_sample"]["report"]).read_text()
    assert 'class="note synthetic"' in html and "synthetic: the OTLP sample" in html
    payload = json.loads(Path(out["otlp_sample"]["json"]).read_text())
    assert payload["totals"]["requests"] == 10 and payload["totals"]["llm_calls"] == 20


@pytest.mark.data
def test_with_data_audits_miniswe_and_taubench(tmp_path: Path, need_data: Callable[..., Path]) -> None:
    data = need_data("agent").parent
    lines: list[str] = []
    out = section(DemoContext(data, tmp_path, lines.append))
    assert set(out) == {"miniswe", "taubench"}
    assert out["miniswe"]["totals"]["llm_calls"] == 20163
    assert out["miniswe"]["totals"]["resolved_or_quality_sum"] == 371
    vc = out["miniswe"]["verification_curve"]
    assert "observational" in vc["label"] and vc["fit"]["k_star"] >= 0
    assert out["taubench"]["failure_modes"]["over_delegation"]["count"] == 55
    text = "\n".join(lines)
    assert "prediction 1" in text and "observational" in text
    assert Path(out["miniswe"]["report"]).is_file() and Path(out["taubench"]["json"]).is_file()

"""``route eval`` output: latency labelled by what the data has, repairs and anchors in the terminal,
regret CIs, the drawn Pareto front, and a ledger rerun refused."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest
from routing_data import synthetic_rows

from tokenomy.interfaces.cli import main
from tokenomy.routing.metrics import pareto_front


def _csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def _eval(tmp_path: Path, rows: list[dict[str, Any]], *extra: str) -> tuple[int, dict[str, Any], str]:
    data, out, html = _csv(tmp_path / "d.csv", rows), tmp_path / "o.json", tmp_path / "r.html"
    argv = ["route", "eval", "--data", str(data), "--format", "long", "--prices", "none", "--V", "0.002,0.05"]
    argv += [
        "--boot",
        "40",
        "--estimator",
        "prior",
        "--no-longtail",
        "--json",
        str(out),
        "--report",
        str(html),
    ]
    rc = main([*argv, *extra])
    payload = json.loads(out.read_text()) if out.is_file() else {}
    return rc, payload, html.read_text() if html.is_file() else ""


def test_real_latency_is_labelled_real_in_terminal_json_and_html(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = synthetic_rows(80)
    for k, r in enumerate(rows):
        r["latency_s"] = 0.5 + (k % 3)
    rc, payload, page = _eval(tmp_path, rows)
    text = capsys.readouterr().out
    assert rc == 0 and payload["labels"] == {"latency": "real", "risk": "synthetic"}
    assert "latency REAL, risk SYNTHETIC" in text and "latency is REAL" in text
    assert "latency is SYNTHETIC" not in text + page + json.dumps(payload)
    assert not any("latency" in n for n in payload["synthetic"])  # only risk's note is synthetic
    assert re.search(r'class="note info"><span class="tag">info</span>latency is REAL', page)
    assert re.search(r'class="note synthetic"><span class="tag">synthetic</span>risk is SYNTHETIC', page)


def test_missing_latency_is_labelled_synthetic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, payload, page = _eval(tmp_path, synthetic_rows(80))
    text = capsys.readouterr().out
    assert rc == 0 and payload["labels"]["latency"] == "synthetic"
    assert "latency SYNTHETIC, risk SYNTHETIC" in text and "latency is SYNTHETIC" in page


def test_terminal_prints_the_anchors_and_json_has_regret_cis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, payload, page = _eval(tmp_path, synthetic_rows(80))
    text = capsys.readouterr().out
    assert rc == 0
    for name in ("APGR", "CPT(50%)", "CPT(80%)", "RouterBench AIQ"):
        assert name in text
    a = payload["anchors"]
    line = next(x for x in text.splitlines() if x.split()[:1] == ["threshold"])
    assert [float(t) for t in line.split()[1:]] == pytest.approx(
        [a["apgr"]["threshold"], a["cpt50"]["threshold"], a["cpt80"]["threshold"]], abs=5e-4
    )
    for r in payload["results"]:
        lo, hi = r["regret_ci95"]
        assert lo <= r["regret_mean"] + 1e-12 and r["regret_mean"] <= hi + 1e-12
    assert 'class="front"' in page and "the points on the Pareto front" in page


def test_repairs_are_printed_in_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tokenomy.interfaces.cmd_route as cmd
    from tokenomy.interfaces.loaders.routing import load_long

    monkeypatch.setattr(cmd, "load_dataset", lambda path, fmt: load_long(path, drop_incomplete=True))
    rows = [r for r in synthetic_rows(80) if not (r["prompt_id"] == "p5" and r["model"] == "large")]
    rc, payload, _ = _eval(tmp_path, rows)
    text = capsys.readouterr().out
    assert rc == 0 and payload["repairs"] == {"dropped_incomplete_prompts": 1}
    assert "repairs while loading (counted, nothing else dropped): dropped_incomplete_prompts 1" in text


def test_a_second_ledger_write_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    led = tmp_path / "l.duckdb"
    rc, _, _ = _eval(tmp_path, synthetic_rows(60), "--ledger", str(led))
    assert rc == 0
    capsys.readouterr()
    rc, _, _ = _eval(tmp_path, synthetic_rows(60), "--ledger", str(led))
    cap = capsys.readouterr()
    assert rc != 0 and "already holds route decisions" in cap.err and "new --ledger path" in cap.err
    assert "route eval on" not in cap.out  # refused before any work


def test_pareto_front_by_hand() -> None:
    cost = [1.0, 2.0, 2.0, 3.0, 0.5, 4.0]
    acc = [0.6, 0.7, 0.65, 0.65, 0.6, 0.9]
    # 0.5/0.6 dominates 1.0/0.6; 2.0/0.7 dominates 2.0/0.65 and 3.0/0.65
    assert pareto_front(cost, acc).tolist() == [4, 1, 5]

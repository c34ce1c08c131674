"""``tokenomy route eval`` end to end on a small long-format file: JSON fields, the report, clear errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from routing_data import synthetic_rows

from tokenomy.interfaces.cli import build_parser, main


def _csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_route_eval_writes_results_report_and_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _csv(tmp_path / "d.csv", synthetic_rows(120))
    out, html, led = tmp_path / "o.json", tmp_path / "r.html", tmp_path / "l.duckdb"
    argv = ["route", "eval", "--data", str(data), "--format", "long", "--prices", "none", "--V", "0.002,0.05"]
    argv += [
        "--boot",
        "50",
        "--estimator",
        "prior",
        "--json",
        str(out),
        "--report",
        str(html),
        "--ledger",
        str(led),
    ]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "tokenomy" in text and "SYNTHETIC" in text
    payload = json.loads(out.read_text())
    rows = payload["results"]
    assert {r["policy"] for r in rows} >= {
        "tokenomy",
        "best-fixed",
        "oracle",
        "cascade",
        "threshold",
        "random",
    }
    assert {r["V"] for r in rows} == {0.002, 0.05}
    for key in (
        "V",
        "policy",
        "welfare_per_query",
        "accuracy",
        "cost_per_query_usd",
        "regret_mean",
        "gap_recovered",
    ):
        assert all(key in r for r in rows)
    assert set(payload["anchors"]) >= {"apgr", "cpt50", "cpt80", "aiq", "pair"}
    assert payload["longtail"]["by_decile"] and payload["cost_model"] == "usd_regression"
    page = html.read_text()
    assert page.count("<svg") >= 5 and "synthetic" in page and "Pareto" in page and "Calibration" in page
    assert led.is_file()


def test_route_is_a_group_with_eval(tmp_path: Path) -> None:
    parser = build_parser()
    args = parser.parse_args(["route", "eval", "--data", "x.csv", "--json", str(tmp_path / "o.json")])
    assert args.route_command == "eval" and args.json


def test_bad_input_exits_2_naming_file_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = synthetic_rows(20)
    rows[7]["cost_usd"] = -1.0
    bad = _csv(tmp_path / "bad.csv", rows)
    assert main(["route", "eval", "--data", str(bad), "--format", "long", "--prices", "none"]) == 2
    err = capsys.readouterr().err
    assert "bad.csv: row 8: cost_usd must be a finite number ≥ 0" in err
    good = _csv(tmp_path / "good.csv", synthetic_rows(20))
    assert main(["route", "eval", "--data", str(good), "--format", "long"]) == 2
    assert "absent from the price table" in capsys.readouterr().err
    assert main(["route", "eval", "--data", str(good), "--format", "long", "--V", "0.1,x"]) == 2
    assert "--V must be" in capsys.readouterr().err

"""``route eval --split lobo|cross``, ``route save`` and ``route eval --router`` end to end on small files."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from routing_data import synthetic_rows

from tokenomy.core.errors import ValidationError
from tokenomy.interfaces.cli import main


def _csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


BASE = ["--format", "long", "--prices", "none", "--V", "0.002,0.05", "--boot", "40"]


def test_route_eval_lobo_pools_held_out_rows_with_the_prior_and_apgr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _csv(tmp_path / "d.csv", synthetic_rows(90))
    out = tmp_path / "o.json"
    argv = ["route", "eval", "--data", str(data), *BASE, "--split", "lobo", "--estimator", "logistic"]
    assert main([*argv, "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "--split lobo" in text and "apgr" in text
    payload = json.loads(out.read_text())
    assert payload["split"] == "lobo" and len(payload["folds"]) == 3 * 2  # 3 categories × (logistic, prior)
    rows = payload["results"]
    assert {r["estimator"] for r in rows if r["policy"] == "tokenomy"} == {"logistic", "prior"}
    assert all(r["split"] == "lobo" and "tie_with_best_fixed" in r and "apgr_ci95" in r for r in rows)


def test_route_eval_cross_without_shared_models_says_which_each_has(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _csv(tmp_path / "a.csv", synthetic_rows(30))
    b = _csv(tmp_path / "b.csv", [{**r, "model": r["model"] + "-x"} for r in synthetic_rows(30)])
    argv = ["route", "eval", "--data", str(a), *BASE, "--split", "cross", "--cross-data", str(b)]
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert "shared: []" in err and "Traceback" not in err


def test_route_save_then_eval_router_gives_the_same_tokenomy_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _csv(tmp_path / "d.csv", synthetic_rows(90))
    saved = tmp_path / "router"
    common = ["--data", str(data), "--format", "long", "--prices", "none", "--estimator", "prior"]
    assert main(["route", "save", *common, "--out", str(saved)]) == 0
    assert (saved / "router.json").is_file() and "saved the router" in capsys.readouterr().out
    o1, o2 = tmp_path / "1.json", tmp_path / "2.json"
    ev = ["route", "eval", *common[:4], "--V", "0.002,0.05", "--boot", "40", "--no-longtail"]
    assert (
        main([*ev, *common[4:], "--json", str(o1)]) == 0
    )  # the saved router brings its own prices, estimator
    assert main([*ev, "--router", str(saved), "--json", str(o2)]) == 0
    r1, r2 = (json.loads(p.read_text())["results"] for p in (o1, o2))
    pick = [(r["V"], r["policy"], r["welfare_per_query"]) for r in r1 if r["policy"] == "tokenomy"]
    assert pick == [(r["V"], r["policy"], r["welfare_per_query"]) for r in r2 if r["policy"] == "tokenomy"]
    assert all({"apgr", "cpt50", "cpt80", "split"} <= set(r) for r in r2)


def test_route_eval_with_an_unknown_encoder_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _csv(tmp_path / "d.csv", synthetic_rows(30))
    assert main(["route", "eval", "--data", str(data), *BASE, "--encoder", "nope"]) != 0
    err = capsys.readouterr().err
    assert "unknown encoder 'nope'" in err and "Traceback" not in err


def test_route_eval_with_an_unknown_encoder_backend_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _csv(tmp_path / "d.csv", synthetic_rows(30))
    args = ["--encoder", "all-MiniLM-L6-v2", "--encoder-backend", "gpu"]
    assert main(["route", "eval", "--data", str(data), *BASE, *args]) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "unknown encoder backend 'gpu'" in err or "embeddings extra" in err


@pytest.mark.parametrize(("backend", "int8"), [("numpy", False), ("onnx-int8", True)])
def test_route_save_records_the_encoder_backend_it_was_told(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], backend: str, int8: bool
) -> None:
    from tokenomy.interfaces.loaders.routing_embeddings import load_encoder

    try:  # the embeddings extra (and onnxruntime for int8): skipped without it, required under CI
        load_encoder("all-MiniLM-L6-v2", backend=backend, cache_dir=tmp_path / "models")
    except ValidationError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{exc} — CI=true requires it")
        pytest.skip(str(exc))
    data = _csv(tmp_path / "d.csv", synthetic_rows(60))
    saved = tmp_path / "router"
    args = ["--data", str(data), "--format", "long", "--prices", "none", "--estimator", "logistic-embed"]
    enc = [
        "--encoder",
        "all-MiniLM-L6-v2",
        "--encoder-backend",
        backend,
        "--cache-dir",
        str(tmp_path / "emb"),
    ]
    assert main(["route", "save", *args, *enc, "--out", str(saved)]) == 0
    model = json.loads((saved / "router.json").read_text())
    text = json.dumps(model)
    assert "all-MiniLM-L6-v2@" in text
    assert ("+int8" in text) == int8

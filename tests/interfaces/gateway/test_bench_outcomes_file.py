"""The real-model benchmarks' outcomes file (``benchmarks/_gateway_outcomes.py``): bad files get one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "benchmarks" / "bench_gateway_features.py"


def _good(n: int = 40) -> dict[str, Any]:
    """A file of the form bench_gateway_models.py writes, with made-up answers (no model is run)."""
    half = n // 2
    row = lambda i: [[float(i % 2), 1e-6, 0.5, "7", 30, 1], [1.0, 3e-6, 0.9, "7", 30, 1]]  # noqa: E731
    return {
        "key": {"seed": 0, "n": n, "models": ["cheap", "strong"]},
        "when": "2026-12-06 00:00 UTC",
        "start_s": 1.0,
        "wall_s": 2.0,
        "train": [row(i) for i in range(half)],
        "held_out": [row(i) for i in range(n - half)],
    }


def _run(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(path)], capture_output=True, text=True, timeout=120
    )


def test_a_good_file_is_scored(tmp_path: Path) -> None:
    f = tmp_path / "o.json"
    f.write_text(json.dumps(_good()))
    r = _run(f)
    assert r.returncode == 0, r.stderr
    assert "mean regret" in r.stdout and "shapes" in r.stdout


def _edit(doc: dict[str, Any], how: str) -> str:
    if how == "truncated":
        return json.dumps(doc)[:300]
    if how == "repeated key":
        return '{"key": {"seed": 0}, "key": {"seed": 1}}'
    if how == "huge n":
        doc["key"]["n"] = 10**12
    elif how == "negative seed":
        doc["key"]["seed"] = -1
    elif how == "unknown kind":
        doc["key"]["kinds"] = ["nope"]
    elif how == "quality 1e308":
        doc["train"][0][0][0] = 1e308
    elif how == "latency NaN":
        doc["train"][0][1][2] = float("nan")
    elif how == "string cost":
        doc["train"][0][0][1] = "0.1"
    elif how == "short row":
        doc["train"][0][0] = doc["train"][0][0][:4]
    elif how == "rows missing":
        doc["train"] = doc["train"][:-2]
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("how", "says"),
    [
        ("truncated", "not a JSON outcomes file"),
        ("repeated key", "repeated in one object"),
        ("huge n", "n must be a whole number in [2, "),
        ("negative seed", "seed must be a whole number ≥ 0"),
        ("unknown kind", "unknown question kinds ['nope']"),
        ("quality 1e308", "train row 0, model 'cheap': quality must be a finite number in [0, 1]"),
        ("latency NaN", "train row 0, model 'strong': latency_s must be a finite number"),
        ("string cost", "cost_usd must be a finite number"),
        ("short row", "expected a list of 6 fields"),
        ("rows missing", "18 train rows, but its key makes 20 train questions"),
    ],
)
def test_a_bad_file_gets_one_line(tmp_path: Path, how: str, says: str) -> None:
    f = tmp_path / "o.json"
    f.write_text(_edit(_good(), how))
    r = _run(f)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout
    assert says in r.stdout, r.stdout
    assert len(r.stdout.strip().splitlines()) == 1

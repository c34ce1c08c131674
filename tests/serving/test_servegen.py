"""ServeGen loader and generator: a tiny archive built here, rates and length PMFs reproduced, bad input."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from tokenomy.core.errors import SchemaError, ValidationError
from tokenomy.interfaces.loaders.servegen import load_servegen
from tokenomy.serving.servegen import WINDOW_S, servegen_workload


def _archive(tmp_path: Path, members: dict[str, str]) -> Path:
    p = tmp_path / "sg.tar.xz"
    with tarfile.open(p, "w:xz") as tf:
        for name, text in members.items():
            b = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(b)
            tf.addfile(info, io.BytesIO(b))
    return p


def _client(rate: float, pattern: str, p1: float, p2: float, windows: int = 3) -> str:
    return "".join(f"{w * 600},{rate},2.0,{pattern},{p1},{p2}\n" for w in range(windows))


PMF_IN = "{100: 0.5, 300: 0.5}"
PMF_OUT = "{10: 0.25, 20: 0.75}"


def _dataset(pmf_in: str = PMF_IN, pmf_out: str = PMF_OUT) -> str:
    return json.dumps({"0": {"input_tokens": pmf_in, "output_tokens": pmf_out}})


def test_top_clients_by_requests_with_missing_length_files_reported(tmp_path: Path) -> None:
    p = _archive(
        tmp_path,
        {
            "data/language/x/chunk-1-trace.csv": _client(2.0, "Gamma", 0.25, 2.0),
            "data/language/x/chunk-1-dataset.json": _dataset(),
            "data/language/x/chunk-2-trace.csv": _client(5.0, "Weibull", 0.5, 1.0),
            "data/language/x/chunk-3-trace.csv": _client(1.0, "", 0.0, 0.0),
            "data/language/x/chunk-3-dataset.json": _dataset(),
        },
    )
    clients, notes = load_servegen(p, category="language/x", top=5)
    assert [c.name for c in clients] == ["client-1", "client-3"]  # client 2 has no length file
    assert any("client 2" in n and "no length file" in n for n in notes)
    assert clients[0].expected_requests == pytest.approx(3 * 600 * 2.0)


def test_generated_rates_and_lengths_follow_the_statistics(tmp_path: Path) -> None:
    p = _archive(
        tmp_path,
        {
            "data/c/chunk-1-trace.csv": _client(4.0, "Gamma", 0.25, 2.0, windows=6),
            "data/c/chunk-1-dataset.json": _dataset(),
            "data/c/chunk-2-trace.csv": _client(1.0, "Weibull", 0.6, 3.0, windows=6),
            "data/c/chunk-2-dataset.json": _dataset("{50: 1.0}", "{5: 1.0}"),
        },
    )
    clients, _ = load_servegen(p, category="c", top=2)
    wl = servegen_workload(clients, start_s=0.0, duration_s=6 * WINDOW_S, seed=3)
    n = np.bincount(wl.tenant, minlength=2)
    assert n[0] == pytest.approx(4.0 * 3600, rel=0.08)
    assert n[1] == pytest.approx(1.0 * 3600, rel=0.15)
    a = wl.tenant == 0
    assert set(np.unique(wl.prompt_tokens[a])) == {100, 300}
    assert np.mean(wl.output_tokens[a] == 20) == pytest.approx(0.75, abs=0.03)
    assert set(np.unique(wl.prompt_tokens[~a])) == {50}
    assert "arrivals" in wl.synthetic and "lengths" in wl.synthetic
    again = servegen_workload(clients, start_s=0.0, duration_s=6 * WINDOW_S, seed=3)
    assert np.array_equal(again.arrival_s, wl.arrival_s)
    half = servegen_workload(clients, start_s=0.0, duration_s=6 * WINDOW_S, rate_factor=0.5, seed=3)
    assert len(half) == pytest.approx(len(wl) / 2, rel=0.1)


def test_bad_archive_and_rows_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "x.tar.xz"
    bad.write_text("not a tar")
    with pytest.raises(SchemaError, match="not a readable ServeGen archive"):
        load_servegen(bad)
    p = _archive(tmp_path, {"data/c/chunk-1-trace.csv": "0,1.0,2.0,Gamma,0.5\n"})
    with pytest.raises(SchemaError, match=r"chunk-1-trace\.csv: line 1: expected 6 fields"):
        load_servegen(p, category="c")
    p = _archive(tmp_path, {"data/c/chunk-1-trace.csv": "0,-1,2.0,Gamma,0.5,1\n"})
    with pytest.raises(SchemaError, match="rate_rps"):
        load_servegen(p, category="c")
    with pytest.raises(SchemaError, match="no client traces under 'data/zzz/'"):
        load_servegen(p, category="zzz")
    with pytest.raises(ValidationError, match="needs clients"):
        servegen_workload([], duration_s=10.0)

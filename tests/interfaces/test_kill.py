"""Writing commands stopped at random points (SIGKILL, Ctrl-C): every output whole or absent.

Each command runs once to the end for reference, then again into a ledger that already holds another
run, killed at seeded random times across its run. After each stop: the ledger still holds the earlier
run untouched and either none or all of the stopped run's rows; a JSON or HTML output is absent or
complete; and a rerun then succeeds (nothing half-recorded blocks it) or is refused as a duplicate
(when the stopped run had landed whole).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tokenomy.ledger import Ledger

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "tokenomy.interfaces.cli"]


def _route_data(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(120):
        hard = bool(rng.random() < 0.4)
        for model, p, usd in (("small", 0.2 if hard else 0.8, 1e-4), ("large", 0.9, 1e-3)):
            q = float(rng.random() < p)
            split = "test" if i % 4 == 0 else "train"
            rows.append(
                {
                    "prompt_id": f"p{i}",
                    "prompt": f"q {i}",
                    "model": model,
                    "quality": q,
                    "cost_usd": usd,
                    "split": split,
                }
            )
    path = folder / "d.csv"
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def _route(folder: Path, v: str) -> list[str]:
    data = _route_data(folder)
    return [*CLI, "route", "eval", "--data", str(data), "--format", "long", "--prices", "none", "--V", v]


def _serve(folder: Path, tag: str) -> list[str]:
    rng = np.random.default_rng(1)
    t = np.cumsum(rng.exponential(0.02, 400))
    lines = ["arrival_s,prompt_tokens,output_tokens"]
    lines += [f"{t[i]:.5f},{rng.integers(50, 900)},{rng.integers(5, 80)}" for i in range(400)]
    trace = folder / f"trace-{tag}.csv"  # a run is named by its trace: two runs, two names
    trace.write_text("\n".join(lines) + "\n")
    return [*CLI, "serve", "simulate", "--trace", str(trace), "--scheduler", "fcfs,priced"]


def _rl(folder: Path, tag: str) -> list[str]:
    if tag == "a":  # every rl run records uniform at lag 0 from seed 0: the earlier run is another command's
        return _route(folder, "0.003")
    argv = ["rl", "run", "--seeds", "2", "--staleness", "0,1", "--policy", "uniform", "--max-tokens", "20000"]
    return [*CLI, *argv]


def _economy(folder: Path, tag: str) -> list[str]:
    load = "1" if tag == "a" else "2"  # a run is named by its configuration and load
    argv = [
        "economy",
        "run",
        "--data",
        DATA[0],
        "--requests",
        "10",
        "--load",
        load,
        "--configs",
        "local,shared",
    ]
    return [*CLI, *argv]


DATA: list[str] = [""]  # the real-data folder, set by the test from the need_data fixture
BUILDERS = {"route": _route, "serve": _serve, "rl": _rl, "economy": _economy}


def _counts(ledger: Path) -> tuple[int, int]:
    if not ledger.exists():
        return (0, 0)
    with Ledger(ledger, read_only=True) as led:
        return (led.count("decisions"), led.count("outcomes"))


def _run(argv: list[str], *, stop: signal.Signals | None = None, after_s: float = 0.0) -> tuple[int, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    if stop is not None:
        try:
            proc.wait(timeout=after_s)
        except subprocess.TimeoutExpired:
            proc.send_signal(stop)
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err, err
    return proc.returncode, err[-500:]  # the status, and the stderr tail for assertion messages


@pytest.mark.parametrize("command", sorted(BUILDERS))
def test_a_writing_command_stopped_anywhere_leaves_whole_outputs_and_the_ledger_as_it_was(
    tmp_path: Path, command: str, need_data: Any
) -> None:
    if command == "economy":
        DATA[0] = str(need_data())
    build = BUILDERS[command]
    first, second = {"route": ("0.003", "0.03"), "serve": ("1", "2")}.get(command, ("a", "b"))
    ledger, js, html = tmp_path / "l.duckdb", tmp_path / "o.json", tmp_path / "r.html"
    outs = ["--ledger", str(ledger), "--json", str(js), "--report", str(html)]

    t0 = time.perf_counter()
    rc, err = _run([*build(tmp_path, first), *outs])
    assert rc == 0, err  # reference: the earlier run, whole
    full_s = time.perf_counter() - t0
    before = _counts(ledger)
    assert before[0] > 0 and (before[1] > 0 or command == "rl")  # rl records decisions only
    ref = tmp_path / "ref.duckdb"
    assert _run([*build(tmp_path, second), "--ledger", str(ref)])[0] == 0
    whole = _counts(ref)

    rng = np.random.default_rng(7)
    for k, after_s in enumerate(sorted(rng.uniform(0.3, 1.1 * full_s, 4))):
        js.unlink(missing_ok=True)
        html.unlink(missing_ok=True)
        stop = signal.SIGKILL if k % 2 == 0 else signal.SIGINT
        _run([*build(tmp_path, second), *outs], stop=stop, after_s=float(after_s))
        now = _counts(ledger)
        landed = (now[0] - before[0], now[1] - before[1])
        assert landed in {(0, 0), whole}, (stop, after_s, landed)
        if js.exists():
            json.loads(js.read_text())  # whole, or absent
        if html.exists():
            assert html.read_text().rstrip().endswith("</html>")
        if landed != (0, 0):
            before = now
            assert _run([*build(tmp_path, second), *outs])[0] == 2  # refused: it is recorded already
            assert _counts(ledger) == now
            return
    # never landed in the stops: a rerun completes and adds the run once
    rc, err = _run([*build(tmp_path, second), *outs])
    assert rc == 0, err
    assert _counts(ledger) == (before[0] + whole[0], before[1] + whole[1])

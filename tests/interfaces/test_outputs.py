"""Outputs all or nothing: bad paths fail before the work, reruns are refused, ledgers written last.

Every command with ``--json``, ``--report``, ``--out`` or ``--ledger``: a path that cannot be written
fails at once with exit 2 and one line, leaving nothing behind; a rerun into the same ledger is refused
and leaves it unchanged; an interrupted writer leaves no temporary file and no partial output.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tokenomy.core.errors import LedgerError, ValidationError
from tokenomy.interfaces.cli import main
from tokenomy.interfaces.outputs import atomic_write, check_output_path, ledger_step, write_json
from tokenomy.ledger import Ledger, Outcome


def _routing_rows(n: int) -> list[dict[str, Any]]:
    """n prompts × 2 models (long format): the small one right on easy prompts, the large one mostly."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        hard = bool(rng.random() < 0.4)
        for model, p, usd in (("small", 0.2 if hard else 0.8, 1e-4), ("large", 0.9, 1e-3)):
            rows.append(
                {
                    "prompt_id": f"p{i}",
                    "prompt": f"question {i} {'tricky' if hard else 'plain'}",
                    "model": model,
                    "quality": float(rng.random() < p),
                    "cost_usd": usd,
                    "split": "test" if i % 4 == 0 else "train",
                }
            )
    return rows


def _err_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("tokenomy: error:")]
    assert len(lines) == 1 and err.rstrip().endswith(lines[0]), err  # one line, after any progress bar
    return lines[0]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or p.suffix == ".part")


# -- the helpers ---------------------------------------------------------------------------------


def test_check_output_path_names_the_option_and_the_path(tmp_path: Path) -> None:
    check_output_path(None, "--json")
    check_output_path(tmp_path / "a.json", "--json")
    check_output_path(tmp_path / "new", "--out", kind="dir")
    for path, kind, words in (
        (tmp_path, "file", "is a folder"),
        (tmp_path / "no" / "a.json", "file", "does not exist"),
        (tmp_path / "a.json", "dir", "is a file"),
    ):
        if kind == "dir":
            (tmp_path / "a.json").write_text("{}")
        with pytest.raises(ValidationError, match="--opt") as e:
            check_output_path(path, "--opt", kind=kind)  # type: ignore[arg-type]
        assert words in str(e.value) and str(path) in str(e.value)


@pytest.mark.parametrize("exc", [RuntimeError("disk"), KeyboardInterrupt()])
def test_a_writer_that_raises_midway_leaves_no_temp_and_the_old_file(
    tmp_path: Path, exc: BaseException
) -> None:
    target = tmp_path / "r.html"
    target.write_text("old")

    def half(tmp: Path) -> None:
        tmp.write_text("half a pa")
        raise exc

    with pytest.raises(type(exc)):
        atomic_write(target, half)
    assert target.read_text() == "old" and _leftovers(tmp_path) == []
    with pytest.raises(type(exc)):
        atomic_write(tmp_path / "new.html", half)
    assert not (tmp_path / "new.html").exists() and _leftovers(tmp_path) == []


def test_write_json_replaces_the_file_whole(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", {"x": float("nan")})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": None}
    with pytest.raises(TypeError):
        write_json(tmp_path / "a.json", {"x": object()})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": None} and _leftovers(tmp_path) == []


def test_ledger_step_leaves_the_ledger_as_it_was_when_a_later_append_fails(tmp_path: Path) -> None:
    path = tmp_path / "l.duckdb"
    with Ledger(path):
        pass
    before = path.read_bytes()

    def write(ledger: Ledger) -> None:
        ledger.append_outcomes([])
        ledger.append_outcomes([Outcome("never-decided", 1.0, 0.0)])  # refused: unknown request

    with pytest.raises(LedgerError):
        ledger_step(path, write)
    assert path.read_bytes() == before and _leftovers(tmp_path) == []
    with pytest.raises(KeyboardInterrupt):
        ledger_step(tmp_path / "new.duckdb", lambda _l: (_ for _ in ()).throw(KeyboardInterrupt()))
    assert not (tmp_path / "new.duckdb").exists() and _leftovers(tmp_path) == []


# -- route eval ----------------------------------------------------------------------------------


def _route_argv(tmp_path: Path) -> list[str]:
    data = tmp_path / "d.csv"
    rows = _routing_rows(80)
    with data.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return [
        "route",
        "eval",
        "--data",
        str(data),
        "--format",
        "long",
        "--prices",
        "none",
        "--V",
        "0.01",
        "--boot",
        "40",
        "--estimator",
        "prior",
        "--no-longtail",
    ]


def test_route_eval_bad_report_fails_first_and_writes_no_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    led = tmp_path / "l.duckdb"
    argv = [*_route_argv(tmp_path), "--ledger", str(led)]
    assert main([*argv, "--report", str(tmp_path / "missing" / "r.html")]) == 2
    assert "--report" in _err_line(capsys) and not led.exists()
    assert main([*argv, "--json", str(tmp_path)]) == 2
    assert "--json" in _err_line(capsys) and not led.exists()
    assert capsys.readouterr().out == ""  # nothing ran


def test_route_eval_rerun_into_the_same_ledger_is_refused_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    led, js = tmp_path / "l.duckdb", tmp_path / "o.json"
    argv = [*_route_argv(tmp_path), "--ledger", str(led), "--json", str(js)]
    assert main(argv) == 0
    with Ledger(led, read_only=True) as ledger:
        counts = (ledger.count("decisions"), ledger.count("outcomes"))
    assert counts[0] > 0 and counts[1] > 0 and json.loads(js.read_text())["ledger"] == str(led)
    capsys.readouterr()
    assert main(argv) == 2
    err = _err_line(capsys)
    assert str(led) in err and "already" in err
    with Ledger(led, read_only=True) as ledger:
        assert (ledger.count("decisions"), ledger.count("outcomes")) == counts
    assert _leftovers(tmp_path) == []


# -- serve simulate ------------------------------------------------------------------------------


def _serve_argv(tmp_path: Path) -> list[str]:
    rng = np.random.default_rng(1)
    trace = tmp_path / "t.csv"
    lines = ["arrival_s,prompt_tokens,output_tokens"]
    t = np.cumsum(rng.exponential(0.02, 150))
    lines += [f"{t[i]:.5f},{rng.integers(50, 900)},{rng.integers(5, 80)}" for i in range(150)]
    trace.write_text("\n".join(lines) + "\n")
    return ["serve", "simulate", "--trace", str(trace), "--scheduler", "fcfs,priced", "--ledger-sample", "2"]


def test_serve_simulate_bad_paths_fail_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    led = tmp_path / "l.duckdb"
    argv = [*_serve_argv(tmp_path), "--ledger", str(led)]
    assert main([*argv, "--report", str(tmp_path)]) == 2
    assert "--report" in _err_line(capsys) and not led.exists()
    assert main([*argv, "--json", str(tmp_path / "no" / "o.json")]) == 2
    assert "--json" in _err_line(capsys) and not led.exists()
    assert main([*argv[:-2], "--ledger", str(tmp_path)]) == 2
    assert "--ledger" in _err_line(capsys)
    assert capsys.readouterr().out == "" and _leftovers(tmp_path) == []


def test_serve_simulate_records_outcomes_and_refuses_a_rerun(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    led, js, html = tmp_path / "l.duckdb", tmp_path / "o.json", tmp_path / "r.html"
    argv = [*_serve_argv(tmp_path), "--ledger", str(led), "--json", str(js), "--report", str(html)]
    assert main(argv) == 0
    payload = json.loads(js.read_text())
    with Ledger(led, read_only=True) as ledger:
        counts = (ledger.count("decisions"), ledger.count("outcomes"))
        outcomes = list(ledger.outcomes())
    assert counts == (sum(payload["ledger_rows"].values()), payload["ledger_outcomes"])
    assert counts[1] > 0 and {o.quality for o in outcomes} <= {0.0, 1.0}
    assert all("/priced/" in o.request_id for o in outcomes)
    capsys.readouterr()
    assert main(["ledger", "summary", str(led)]) == 0
    summary = capsys.readouterr().out
    assert f"{counts[1]} outcomes" in summary
    totals_row = summary.split("totals (USD)")[1].splitlines()[3].split()
    assert len(totals_row) == 8 and "-" not in totals_row  # realised value, cost, latency, welfare

    html.unlink()
    js.unlink()
    assert main(argv) == 2
    err = _err_line(capsys)
    assert str(led) in err and "already records this run" in err
    with Ledger(led, read_only=True) as ledger:
        assert (ledger.count("decisions"), ledger.count("outcomes")) == counts
    assert _leftovers(tmp_path) == []


# -- economy run ---------------------------------------------------------------------------------


def _economy_argv(need_data: Any) -> list[str]:
    data = need_data()
    for part in (("routing", "routerbench_slice"), ("agent", "miniswe_gemini3pro_swebv")):
        need_data(*part)
    need_data("serving", "azure_llm_2023")
    argv = ["economy", "run", "--data", str(data), "--requests", "10", "--load", "1"]
    return [*argv, "--configs", "local,shared", "--agent-share", "0.1"]


def test_economy_bad_report_fails_first_and_a_rerun_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], need_data: Any
) -> None:
    led, js = tmp_path / "l.duckdb", tmp_path / "o.json"
    argv = [*_economy_argv(need_data), "--ledger", str(led)]
    assert main([*argv, "--report", str(tmp_path / "no" / "r.html")]) == 2
    assert "--report" in _err_line(capsys) and not led.exists() and list(tmp_path.iterdir()) == []
    assert main([*argv, "--json", str(js)]) == 0
    with Ledger(led, read_only=True) as ledger:
        counts = (ledger.count("decisions"), ledger.count("outcomes"))
    assert counts[0] > 0 and counts[1] > 0 and js.is_file()
    capsys.readouterr()
    assert main(argv) == 2
    err = _err_line(capsys)
    assert str(led) in err and "already records this run" in err
    assert capsys.readouterr().out == ""  # refused before the data loaded
    with Ledger(led, read_only=True) as ledger:
        assert (ledger.count("decisions"), ledger.count("outcomes")) == counts


# -- the other commands: a bad output path is the first thing refused -----------------------------


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["audit", "{tmp}/absent.jsonl", "--report", "{tmp}/no/r.html"], "--report"),
        (["agent", "eval", "--data", "{tmp}/absent", "--report", "{tmp}"], "--report"),
        (["agent", "tau", "--data", "{tmp}/absent", "--report", "{tmp}/no/r.html"], "--report"),
        (["route", "menu", "--data", "{tmp}/absent.csv", "--report", "{tmp}"], "--report"),
        (["economy", "equilibrium", "--data", "{tmp}/absent", "--json", "{tmp}"], "--json"),
        (["ledger", "summary", "{tmp}/absent.duckdb", "--json", "{tmp}/no/o.json"], "--json"),
        (["ledger", "export", "{tmp}/absent.duckdb", "--out", "{tmp}/file.txt"], "--out"),
        (["demo", "--only", "core", "--out", "{tmp}/file.txt/x"], "--out"),
    ],
)
def test_a_bad_output_path_fails_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], option: str
) -> None:
    (tmp_path / "file.txt").write_text("keep")
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = _err_line(capsys)
    assert option in err and str(tmp_path) in err  # the output is named, not the absent input
    assert capsys.readouterr().out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]
    assert (tmp_path / "file.txt").read_text() == "keep"


def test_ledger_export_and_summary_write_whole_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    led = tmp_path / "l.duckdb"
    assert main([*_route_argv(tmp_path), "--ledger", str(led)]) == 0
    out = tmp_path / "pq"
    assert main(["ledger", "export", str(led), "--out", str(out)]) == 0
    assert main(["ledger", "export", str(led), "--out", str(out)]) == 0  # replaces, whole
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{t}.parquet" for t in ("candidates", "decisions", "outcomes", "resource_prices")
    )
    js = tmp_path / "s.json"
    assert main(["ledger", "summary", str(led), "--json", str(js)]) == 0
    assert json.loads(js.read_text())["outcomes"] > 0 and _leftovers(tmp_path) == []
    capsys.readouterr()


def test_write_json_turns_only_non_finite_numbers_into_null_never_strings(tmp_path: Path) -> None:
    out = tmp_path / "x.json"
    write_json(
        out,
        {
            "model": "NaN-Infinity-model",
            "x": float("nan"),
            "a": np.array([1.0, np.inf]),
            "s": np.float64(2.5),
        },
    )
    assert json.loads(out.read_text()) == {
        "model": "NaN-Infinity-model",
        "x": None,
        "a": [1.0, None],
        "s": 2.5,
    }

"""CLI-wide bad inputs: special files given as inputs, empty output paths, unbounded flags.

An input path that exists but is neither a regular file nor a folder (a FIFO stands in for a device
or socket; no real device is touched) is refused by one check before any work, instead of hanging on
open; an empty output path (``--json ''``) is refused instead of silently writing nothing or writing
into the current folder; out-of-range numeric flags fail at parse time with one line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tokenomy.interfaces.cli import main


def _err_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("tokenomy")]
    assert len(lines) == 1, err
    return lines[0]


def _trace(tmp_path: Path, n: int = 60) -> Path:
    rng = np.random.default_rng(1)
    trace = tmp_path / "t.csv"
    t = np.cumsum(rng.exponential(0.02, n))
    lines = ["arrival_s,prompt_tokens,output_tokens"]
    lines += [f"{t[i]:.5f},{rng.integers(50, 900)},{rng.integers(5, 80)}" for i in range(n)]
    trace.write_text("\n".join(lines) + "\n")
    return trace


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from tokenomy.interfaces.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=20, check=False
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["audit", "{fin}", "--format", "litellm"],
        ["agent", "schedule", "--schedule", "{fin}"],
        ["gateway", "serve", "--config", "{fin}"],
    ],
)
def test_a_fifo_input_is_refused_before_any_work(tmp_path: Path, argv: list[str]) -> None:
    fin = tmp_path / "fin"
    os.mkfifo(fin)
    proc = _cli(*[a.format(fin=fin) for a in argv])
    assert proc.returncode == 2, proc
    assert "Traceback" not in proc.stderr
    assert "is a FIFO" in proc.stderr and str(fin) in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.mark.parametrize("option", ["--json", "--ledger"])
def test_an_empty_output_path_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    trace = _trace(tmp_path)
    argv = ["serve", "simulate", "--trace", str(trace), "--scheduler", "fcfs", option, ""]
    assert main(argv) == 2
    assert f"{option}: empty path" in _err_line(capsys)


def test_an_empty_out_folder_is_refused_and_nothing_lands_in_the_cwd(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tokenomy.ledger import Ledger

    with Ledger(tmp_path / "l.duckdb"):
        pass
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    assert main(["ledger", "export", str(tmp_path / "l.duckdb"), "--out", ""]) == 2
    assert "--out: empty path" in _err_line(capsys)
    assert list(cwd.iterdir()) == []


def test_serve_simulate_writes_no_json_or_report_when_the_ledger_already_records_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = _trace(tmp_path)
    ledger = tmp_path / "sv.duckdb"
    base = ["serve", "simulate", "--trace", str(trace), "--scheduler", "fcfs", "--ledger", str(ledger)]
    assert main(base) == 0
    capsys.readouterr()
    out_json, out_html = tmp_path / "svx.json", tmp_path / "svx.html"
    assert main([*base, "--json", str(out_json), "--report", str(out_html)]) == 2
    assert "already records this run" in _err_line(capsys)
    assert not out_json.exists() and not out_html.exists()


def test_rl_run_writes_no_json_or_report_when_the_ledger_already_records_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "rl.duckdb"
    base = ["rl", "run", "--seeds", "2", "--max-tokens", "10000", "--staleness", "0", "--ledger", str(ledger)]
    assert main(base) == 0
    capsys.readouterr()
    out_json, out_html = tmp_path / "rlx.json", tmp_path / "rlx.html"
    assert main([*base, "--json", str(out_json), "--report", str(out_html)]) == 2
    assert "already records this run" in _err_line(capsys)
    assert not out_json.exists() and not out_html.exists()


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["economy", "equilibrium", "--tenants", "3", "--seed", "-1"], "--seed"),
        (["economy", "run", "--seed", "-1"], "--seed"),
        (["serve", "prediction3", "--base-rate-scale", "1e-300"], "--base-rate-scale"),
        (["serve", "simulate", "--trace", "x.csv", "--kv-bandwidth-gb-s", "1e-300"], "--kv-bandwidth-gb-s"),
        (["gateway", "selftest", "--requests", "99999999"], "--requests"),
    ],
)
def test_an_out_of_range_flag_fails_at_parse_time(
    capsys: pytest.CaptureFixture[str], argv: list[str], option: str
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    line = _err_line(capsys)
    assert option in line and "expected" in line, line


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["serve", "prediction3", "--long-rates", "1e9"], "--long-rates"),
        (["economy", "run", "--load", "1e-300"], "--load"),
        (["economy", "run", "--load", "1e300"], "--load"),
        (["economy", "equilibrium", "--capacity-frac", "1e-300"], "--capacity-frac"),
    ],
)
def test_an_out_of_range_list_flag_is_one_line_before_any_work(
    capsys: pytest.CaptureFixture[str], argv: list[str], option: str
) -> None:
    assert main(argv) == 2
    line = _err_line(capsys)
    assert option in line and ("≤" in line or "100]" in line), line


def test_a_negative_v_is_refused_with_the_v_above_zero_message(tmp_path: Path) -> None:
    from tokenomy.core.errors import ValidationError
    from tokenomy.interfaces.args import v_values

    with pytest.raises(ValidationError, match="V must be > 0 USD"):
        v_values("-1")


def test_stdout_closed_early_is_a_quiet_exit(tmp_path: Path) -> None:
    trace = _trace(tmp_path)
    code = "import sys; from tokenomy.interfaces.cli import main; sys.exit(main(sys.argv[1:]))"
    argv = ["serve", "simulate", "--trace", str(trace), "--scheduler", "fcfs,priced", "--rate-scale", "1,2"]
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader goes away before the table is printed
    err = proc.stderr.read()
    proc.wait(timeout=60)
    assert "Broken pipe" not in err and "Traceback" not in err, err
    assert "error" not in err, err


def test_audit_ledger_format_names_a_csv_and_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tokenomy.ledger import Ledger

    csv = tmp_path / "ll1.csv"
    csv.write_text("request_id,spend\nr1,0.01\n")
    assert main(["audit", str(csv), "--format", "ledger"]) == 2
    assert "not a tokenomy DuckDB ledger" in _err_line(capsys)
    assert main(["audit", str(tmp_path), "--format", "ledger"]) == 2
    assert "is a folder" in _err_line(capsys)
    with Ledger(tmp_path / "ok.duckdb"):
        pass
    assert main(["audit", str(tmp_path / "ok.duckdb"), "--format", "ledger"]) in (0, 2)
    assert "not a DuckDB ledger" not in capsys.readouterr().err

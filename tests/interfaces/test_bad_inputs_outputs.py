"""Bad output and ledger paths, damaged ledgers and bad list/count flags: one line, nothing destroyed.

An output or ledger path that is not a regular file (a FIFO, a folder, a symlink loop) is refused before
anything is opened, and never replaced or deleted; an output that is the same file as an input or the
ledger is refused before any work; a ledger missing a table or a column is named at open time; comma
lists with empty or repeated items, and count flags that would size memory without bound, fail at
parse time. FIFOs stand in for device files (no real device is touched).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tokenomy.core.errors import LedgerError, ValidationError
from tokenomy.interfaces.cli import main
from tokenomy.interfaces.outputs import atomic_write, check_output_path, ledger_step
from tokenomy.ledger import Ledger


def _err_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("tokenomy: error:")]
    assert len(lines) == 1 and err.rstrip().endswith(lines[0]), err
    return lines[0]


def _trace(tmp_path: Path, n: int = 60) -> Path:
    rng = np.random.default_rng(1)
    trace = tmp_path / "t.csv"
    t = np.cumsum(rng.exponential(0.02, n))
    lines = ["arrival_s,prompt_tokens,output_tokens"]
    lines += [f"{t[i]:.5f},{rng.integers(50, 900)},{rng.integers(5, 80)}" for i in range(n)]
    trace.write_text("\n".join(lines) + "\n")
    return trace


def _serve(trace: Path, *extra: str) -> list[str]:
    return ["serve", "simulate", "--trace", str(trace), "--scheduler", "fcfs", *extra]


def _ledger(path: Path) -> Path:
    with Ledger(path):
        pass
    return path


def _loop(tmp_path: Path) -> Path:
    a, b = tmp_path / "loop_a", tmp_path / "loop_b"
    a.symlink_to(b)
    b.symlink_to(a)
    return a


# -- #1 a ledger path that is not a regular file -------------------------------------------------


@pytest.mark.timeout(60)
def test_a_fifo_ledger_is_refused_before_opening_and_kept(tmp_path: Path) -> None:
    fifo = tmp_path / "led"
    os.mkfifo(fifo)
    with pytest.raises(LedgerError, match="not a regular file"):
        Ledger(fifo)
    with pytest.raises(LedgerError, match="not a regular file"):
        ledger_step(fifo, lambda ledger: None)
    assert fifo.is_fifo()


@pytest.mark.timeout(60)
def test_a_folder_or_symlink_loop_ledger_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="folder"):
        Ledger(tmp_path)
    loop = _loop(tmp_path)
    with pytest.raises(LedgerError, match="symbolic link"):
        Ledger(loop)
    with pytest.raises(LedgerError):
        ledger_step(loop, lambda ledger: None)
    assert loop.is_symlink()


@pytest.mark.timeout(60)
def test_serve_simulate_refuses_a_fifo_ledger_and_keeps_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "led"
    os.mkfifo(fifo)
    assert main(_serve(_trace(tmp_path), "--ledger", str(fifo))) == 2
    err = _err_line(capsys)
    assert "--ledger" in err and str(fifo) in err and "not a regular file" in err
    assert fifo.is_fifo()


def test_ledger_step_removes_only_a_ledger_it_created(tmp_path: Path) -> None:
    led = tmp_path / "l.duckdb"

    def fail(ledger: Ledger) -> None:
        raise LedgerError("refused")

    with pytest.raises(LedgerError):
        ledger_step(led, fail)
    assert not led.exists()
    empty = tmp_path / "empty.duckdb"
    empty.write_bytes(b"")  # an existing (empty) file the run did not create stays, as it was
    with pytest.raises(LedgerError):
        ledger_step(empty, fail)
    assert empty.is_file() and empty.stat().st_size == 0


# -- #2 an output path that is not a regular file ------------------------------------------------


@pytest.mark.timeout(60)
def test_check_output_path_refuses_a_fifo_and_a_symlink_loop(tmp_path: Path) -> None:
    fifo = tmp_path / "out"
    os.mkfifo(fifo)
    with pytest.raises(ValidationError, match=r"--json: .*not a regular file"):
        check_output_path(fifo, "--json")
    with pytest.raises(ValidationError, match=r"--out: .*not a folder"):
        check_output_path(fifo, "--out", kind="dir")
    with pytest.raises(ValidationError, match="symbolic link"):
        check_output_path(_loop(tmp_path), "--report")


@pytest.mark.timeout(60)
def test_atomic_write_never_replaces_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "out"
    os.mkfifo(fifo)
    with pytest.raises(ValidationError, match="not a regular file"):
        atomic_write(fifo, lambda tmp: tmp.write_text("x"))
    assert fifo.is_fifo() and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.timeout(60)
def test_ledger_summary_json_to_a_fifo_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    led = _ledger(tmp_path / "l.duckdb")
    fifo = tmp_path / "out"
    os.mkfifo(fifo)
    assert main(["ledger", "summary", str(led), "--json", str(fifo)]) == 2
    assert "--json" in _err_line(capsys)
    assert fifo.is_fifo()


# -- #3-#6 an output that is an input or the ledger ----------------------------------------------


def test_ledger_summary_json_onto_the_ledger_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    led = _ledger(tmp_path / "l.duckdb")
    before = led.read_bytes()
    assert main(["ledger", "summary", str(led), "--json", str(led)]) == 2
    err = _err_line(capsys)
    assert "--json" in err and "same file" in err
    assert led.read_bytes() == before


def test_serve_simulate_json_onto_its_trace_or_ledger_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = _trace(tmp_path)
    before = trace.read_text()
    assert main(_serve(trace, "--json", str(trace))) == 2
    assert "--trace" in _err_line(capsys) and trace.read_text() == before
    link = tmp_path / "link.csv"
    link.symlink_to(trace)
    assert main(_serve(trace, "--report", str(link))) == 2
    assert "--report" in _err_line(capsys) and trace.read_text() == before
    led = tmp_path / "new.duckdb"  # not there yet: the paths themselves are compared
    assert main(_serve(trace, "--ledger", str(led), "--json", str(led))) == 2
    assert "--ledger" in _err_line(capsys) and not led.exists()
    out = tmp_path / "o.html"
    assert main(_serve(trace, "--json", str(out), "--report", str(out))) == 2
    assert "--report" in _err_line(capsys) and not out.exists()
    assert capsys.readouterr().out == ""


def test_an_existing_file_inside_an_input_folder_is_refused_as_an_output(tmp_path: Path) -> None:
    from argparse import Namespace

    from tokenomy.interfaces.outputs import check_outputs_apart

    data = tmp_path / "data"
    data.mkdir()
    (data / "x.csv.gz").write_bytes(b"keep")
    with pytest.raises(ValidationError, match=r"--json: .*inside --data"):
        check_outputs_apart(Namespace(data=str(data), json=str(data / "x.csv.gz"), report=None))
    check_outputs_apart(Namespace(data=str(data), json=str(tmp_path / "o.json"), report=None))
    with pytest.raises(ValidationError, match=r"--out: .*same folder as --data"):
        check_outputs_apart(Namespace(data=str(data), out=str(data)))
    assert (data / "x.csv.gz").read_bytes() == b"keep"


# -- #7 #8 a ledger missing a table or a column ---------------------------------------------------


def _damaged(tmp_path: Path, sql: str) -> Path:
    import duckdb

    led = _ledger(tmp_path / "damaged.duckdb")
    con = duckdb.connect(str(led))
    con.execute(sql)
    con.close()
    return led


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("DROP TABLE outcomes", "table outcomes"),
        ("ALTER TABLE decisions DROP COLUMN layer", "decisions.layer"),
    ],
)
def test_a_ledger_missing_a_table_or_column_is_named_at_open(tmp_path: Path, sql: str, named: str) -> None:
    led = _damaged(tmp_path, sql)
    for read_only in (True, False):
        with pytest.raises(LedgerError, match=f"{named} missing") as err:
            Ledger(led, read_only=read_only)
        assert str(led) in str(err.value) and "\n" not in str(err.value)


def test_commands_name_a_damaged_ledger_in_one_line_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    led = _damaged(tmp_path, "DROP TABLE outcomes")
    assert main(["ledger", "summary", str(led)]) == 2
    assert "table outcomes missing" in _err_line(capsys)
    exp = tmp_path / "exp"
    assert main(["ledger", "export", str(led), "--out", str(exp)]) == 2
    assert "table outcomes missing" in _err_line(capsys) and not exp.exists()
    js = tmp_path / "o.json"
    assert main(_serve(_trace(tmp_path), "--ledger", str(led), "--json", str(js))) == 2
    assert "table outcomes missing" in _err_line(capsys) and not js.exists()
    assert capsys.readouterr().out == ""


def test_ledger_summary_says_a_folder_or_a_link_loop_is_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ledger", "summary", str(tmp_path)]) == 2
    assert "is a folder" in _err_line(capsys)
    assert main(["ledger", "summary", str(_loop(tmp_path))]) == 2
    assert "symbolic link loop" in _err_line(capsys)


# -- #10 #22 count flags that size memory or work -----------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["route", "eval", "--boot", "99999999999"],
        ["agent", "tau", "--folds", "100000"],
        ["route", "menu", "--samples", "99999999999"],
    ],
)
def test_count_flags_have_an_upper_bound_at_parse_time(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "expected a whole number in [" in err and len(err.splitlines()) == 1


def test_agent_eval_folds_beyond_the_instances_is_refused_before_work(
    capsys: pytest.CaptureFixture[str], need_data: object
) -> None:
    data: Path = need_data("agent")  # type: ignore[operator]
    assert main(["agent", "eval", "--data", str(data.parent), "--folds", "100000"]) == 2
    assert "--folds must be a whole number in [1, " in _err_line(capsys)
    assert main(["agent", "eval", "--data", str(data.parent), "--folds", "5000"]) == 2
    assert "--folds must be ≤ the number of instances" in _err_line(capsys)


# -- #20 #30 comma lists -------------------------------------------------------------------------


def test_the_shared_list_parser_refuses_empty_lists_items_and_repeats() -> None:
    from tokenomy.interfaces.args import floats, items

    assert items(" fcfs , priced ", "--scheduler") == ["fcfs", "priced"]
    for text, why in (("", "empty list"), (" ", "empty list"), (",fcfs", "empty"), ("a,,b", "empty")):
        with pytest.raises(ValidationError, match=f"--scheduler: .*{why}"):
            items(text, "--scheduler")
    with pytest.raises(ValidationError, match="twice"):
        items("fcfs,fcfs", "--scheduler")
    with pytest.raises(ValidationError, match="empty"):
        floats("0.01,,0.1", "--V")
    with pytest.raises(ValidationError, match="twice"):
        floats("0.01,0.010", "--V")
    assert floats("0,0", "β", allow_zero=True, distinct=False) == [0.0, 0.0]


@pytest.mark.parametrize(
    "extra",
    [
        ["--scheduler", ""],
        ["--scheduler", ",fcfs,,fcfs"],
        ["--scheduler", "fcfs,fcfs"],
        ["--rate-scale", "1,,2"],
    ],
)
def test_serve_simulate_bad_lists_are_one_line(
    tmp_path: Path, extra: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["serve", "simulate", "--trace", str(_trace(tmp_path))]
    argv += extra if extra[0] == "--scheduler" else ["--scheduler", "fcfs", *extra]
    assert main(argv) == 2
    assert extra[0] in _err_line(capsys)
    assert capsys.readouterr().out == ""


# -- #24 serve simulate --rate-scale bounds -------------------------------------------------------


@pytest.mark.parametrize("scale", ["1e-300", "1e7", "0"])
def test_serve_simulate_rate_scale_is_bounded(
    tmp_path: Path, scale: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*_serve(_trace(tmp_path)), "--rate-scale", scale]) == 2
    assert "--rate-scale" in _err_line(capsys)


# -- #21 demo --data that does not exist ----------------------------------------------------------


def test_demo_with_a_missing_data_folder_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "d3"
    assert main(["demo", "--data", str(tmp_path / "nope"), "--only", "route", "--out", str(out)]) == 2
    assert "--data" in _err_line(capsys) and not out.exists()


# -- #23 route eval --V 0 -------------------------------------------------------------------------


def _route(tmp_path: Path, v: str) -> list[str]:
    import csv

    rng = np.random.default_rng(0)
    data = tmp_path / "d.csv"
    with data.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["prompt_id", "prompt", "model", "quality", "cost_usd", "split"])
        for i in range(60):
            hard = bool(rng.random() < 0.4)
            for model, p, usd in (("small", 0.2 if hard else 0.8, 1e-4), ("large", 0.9, 1e-3)):
                split = "test" if i % 4 == 0 else "train"
                w.writerow(
                    [
                        f"p{i}",
                        f"q {i} {'tricky' if hard else 'plain'}",
                        model,
                        float(rng.random() < p),
                        usd,
                        split,
                    ]
                )
    return [
        "route", "eval", "--data", str(data), "--format", "long", "--prices", "none", "--V", v,
        "--boot", "40", "--estimator", "prior", "--no-longtail",
    ]  # fmt: skip


@pytest.mark.parametrize("v", ["0", "-0", "1e-320", "0.01,0"])
def test_route_eval_refuses_a_zero_or_subnormal_v(
    tmp_path: Path, v: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_route(tmp_path, v)) == 2
    assert "V must be > 0 USD" in _err_line(capsys)
    assert capsys.readouterr().out == ""


def test_route_eval_at_a_tiny_v_prints_no_runtime_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # pytest would hide one from stderr otherwise
        assert main(_route(tmp_path, "1e-300,0.01")) == 0
    assert "Warning" not in capsys.readouterr().err


def test_a_demo_removes_only_a_regular_stale_ledger(tmp_path: Path) -> None:
    from tokenomy.interfaces.demo_core import ledger_demo
    from tokenomy.interfaces.outputs import remove_stale

    fifo = tmp_path / "ledger.duckdb"
    os.mkfifo(fifo)
    with pytest.raises(ValidationError, match="FIFO"):
        ledger_demo(str(fifo))
    assert fifo.is_fifo()
    old = tmp_path / "old.duckdb"
    old.write_text("stale")
    remove_stale(old, tmp_path / "absent.wal")
    assert not old.exists()

"""``tokenomy serve``: flags that only act with another one, undefined figures, flag ranges.

A flag that would be silently ignored (``--spec-alpha`` without ``--spec-k``, ``--handoff-limit``
without ``--disaggregate`` …) is refused with one line naming both flags, before any data is read
(the tests give a data folder that does not exist: a data error would come first otherwise). A figure
that is undefined for a run (NaN or infinite: no second token, every request rejected, no exposure
at an age) is shown as "-" in the terminal with one note line saying why, and as null in JSON.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tokenomy.interfaces.cli import main


def _err_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("tokenomy")]
    assert len(lines) == 1, err
    return lines[0]


def _csv(tmp_path: Path, rows: list[tuple[float, int, int]], name: str = "t.csv") -> Path:
    p = tmp_path / name
    p.write_text("arrival_s,prompt_tokens,output_tokens\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    return p


SIM = ["serve", "simulate", "--trace", "{trace}", "--scheduler", "fcfs"]
P3 = ["serve", "prediction3", "--trace", "{trace}", "--scheduler", "fcfs,priced", "--long-rates", "0.5"]


@pytest.mark.parametrize(
    ("base", "extra", "needs"),
    [
        (SIM, ["--spec-alpha", "0.8"], "--spec-alpha needs --spec-k"),
        (SIM, ["--spec-k", "0", "--spec-alpha", "0.8"], "--spec-alpha needs --spec-k"),
        (SIM, ["--spec-rule", "request"], "--spec-rule needs --spec-k"),
        (SIM, ["--spec-alpha-halving-tokens", "2000"], "--spec-alpha-halving-tokens needs --spec-k"),
        (
            SIM,
            ["--spec-k", "4", "--spec-alpha", "0.8", "--spec-alpha-halving-tokens", "2000"],
            "--spec-alpha-halving-tokens needs a per-request --spec-rule",
        ),
        (SIM, ["--handoff-limit", "4"], "--handoff-limit needs --disaggregate"),
        (SIM, ["--kv-bandwidth-gb-s", "10"], "--kv-bandwidth-gb-s needs --disaggregate"),
        (SIM, ["--ledger-sample", "5"], "--ledger-sample needs --ledger"),
        (SIM, ["--servegen-top", "3"], "--servegen-top needs a servegen --trace"),
        (SIM, ["--servegen-duration-s", "60"], "--servegen-duration-s needs a servegen --trace"),
        (SIM, ["--cache-train-share", "0.3"], "--cache-train-share needs --eviction value"),
        (SIM, ["--no-value-weight"], "--no-value-weight needs --eviction value"),
        (SIM, ["--no-cache-admission"], "--no-cache-admission needs --eviction value"),
        (SIM, ["--eviction", "lfu", "--no-prefix-cache"], "--eviction needs the prefix cache"),
        (SIM, ["--like", "splitwise-sim", "--step-model", "linear:0.01,0,0"], "--step-model"),
        (SIM, ["--like", "splitwise-sim", "--max-num-seqs", "8"], "--max-num-seqs"),
        (SIM, ["--like", "splitwise-sim", "--kv-blocks", "100"], "--kv-blocks"),
        (SIM, ["--like", "splitwise-sim", "--disaggregate"], "--disaggregate"),
        (SIM, ["--like", "splitwise-sim", "--spec-k", "4"], "--spec-k"),
        (SIM, ["--disaggregate", "--eviction", "lru,lfu"], "--eviction lists need the plain engine"),
        (SIM, ["--disaggregate", "--kv-blocks", "100,200"], "--kv-blocks lists need the plain engine"),
        (P3, ["--spec-alpha", "0.5"], "--spec-alpha needs --spec-k"),
        (P3, ["--handoff-limit", "2"], "--handoff-limit needs --disaggregate"),
        (P3, ["--kv-blocks", "100,200"], "serve prediction3 takes one --kv-blocks value"),
        (P3, ["--eviction", "lru,lfu"], "serve prediction3 takes one --eviction value"),
    ],
)
def test_a_flag_that_would_be_ignored_is_refused_before_the_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], base: list[str], extra: list[str], needs: str
) -> None:
    missing = tmp_path / "no-data"  # the trace name needs it: a data lookup would fail differently
    argv = [a.format(trace="azure-conv") for a in base]
    assert main([*argv, *extra, "--data", str(missing)]) == 2
    line = _err_line(capsys)
    assert needs in line, line


def test_the_companion_flags_still_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    trace = _csv(tmp_path, [(0.1 * i, int(rng.integers(20, 300)), 20) for i in range(30)])
    argv = [a.format(trace=trace) for a in SIM]
    out = tmp_path / "ok.json"
    assert main([*argv, "--spec-k", "4", "--spec-alpha", "0.8", "--json", str(out)]) == 0
    assert main([*argv, "--disaggregate", "--kv-bandwidth-gb-s", "10", "--handoff-limit", "4"]) == 0
    led = ["--ledger", str(tmp_path / "l.duckdb"), "--ledger-sample", "5"]
    assert main([*argv, "--eviction", "lfu", "--prefixes", "synthetic", *led]) == 0
    capsys.readouterr()


@pytest.mark.parametrize(
    ("flag", "value", "want"),
    [
        ("--spec-alpha", "1", "[0, 1)"),
        ("--spec-alpha", "1.0", "[0, 1)"),
        ("--spec-alpha", "-0.1", "[0, 1)"),
        ("--spec-alpha", "nan", "[0, 1)"),
        ("--kv-bandwidth-gb-s", "1e-300", "≥ 0.001"),
        ("--kv-bandwidth-gb-s", "0", "≥ 0.001"),
        ("--kv-bandwidth-gb-s", "inf", "≥ 0.001"),
    ],
)
def test_a_flag_out_of_the_engines_range_is_refused_at_parse_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, want: str
) -> None:
    argv = ["serve", "simulate", "--trace", "azure-conv", "--spec-k", "4", "--disaggregate"]
    with pytest.raises(SystemExit) as e:
        main([*argv, flag, value, "--data", str(tmp_path / "no-data")])
    assert e.value.code == 2
    line = _err_line(capsys)
    assert flag in line and want in line, line


def _shown(text: str) -> list[str]:
    """The lines of ``text`` with no printed NaN or infinity; the note lines about "-"."""
    assert not re.search(r"\b(nan|inf|NaN|Infinity)\b", text), text
    return [line for line in text.splitlines() if line.startswith("note: '-'")]


def test_tpot_without_a_second_token_is_a_dash_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = _csv(tmp_path, [(0, 10, 1), (1, 10, 1)])
    out = tmp_path / "o.json"
    assert main(["serve", "simulate", "--trace", str(trace), "--scheduler", "fcfs", "--json", str(out)]) == 0
    notes = _shown(capsys.readouterr().out)
    assert len(notes) == 1 and "tpot_mean_s" in notes[0] and "second token" in notes[0], notes
    text = out.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text)["runs"][0]["tpot_mean_s"] is None


def test_every_request_rejected_shows_dashes_with_one_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = _csv(tmp_path, [(0, 100, 5), (1, 100, 5)])
    out = tmp_path / "o.json"
    argv = ["serve", "simulate", "--trace", str(trace), "--scheduler", "fcfs,priced", "--kv-blocks", "1"]
    assert main([*argv, "--json", str(out)]) == 0
    notes = _shown(capsys.readouterr().out)
    assert len(notes) == 1 and "ttft_p50_s" in notes[0] and "no request completed" in notes[0], notes
    run = json.loads(out.read_text())["runs"][0]
    assert run["ttft_p50_s"] is None and run["tpot_mean_s"] is None and run["completed"] == 0


def _mooncake(tmp_path: Path) -> Path:
    """A small Mooncake-format trace: shared first blocks demanded again within seconds only."""
    lines = []
    for i in range(40):
        ids = [0, 1 + i % 3, 100 + i]
        lines.append(
            json.dumps({"timestamp": 500 * i, "input_length": 48, "output_length": 4, "hash_ids": ids})
        )
    p = tmp_path / "m.jsonl"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_reuse_shows_undefined_hazards_and_half_life_as_dashes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    assert main(["serve", "reuse", "--trace", str(_mooncake(tmp_path)), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    notes = _shown(text)
    assert " - " in text or "  -\n" in text or text.count("  -") > 0, text
    assert len(notes) == 1 and "exposure" in notes[0], notes
    doc = out.read_text()
    assert "NaN" not in doc and "Infinity" not in doc


def test_prediction3_removed_share_is_a_dash_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(2)
    trace = _csv(tmp_path, [(0.25 * i, int(rng.integers(50, 900)), 30) for i in range(200)])
    out = tmp_path / "p.json"
    argv = ["serve", "prediction3", "--trace", str(trace), "--window-s", "60", "--scheduler", "fcfs,priced"]
    assert main([*argv, "--long-rates", "0.5", "--json", str(out)]) == 0
    notes = _shown(capsys.readouterr().out)
    assert len(notes) == 1 and "removed_share" in notes[0] and "reference" in notes[0], notes
    rows = json.loads(out.read_text())["rows"]
    assert rows[0]["removed_share"] is None


@pytest.mark.parametrize(
    ("argv", "needs"),
    [
        (["serve", "simulate", "--trace", "{csv}", "--eviction", "lfu"], "--eviction has no effect"),
        (["serve", "simulate", "--trace", "{csv}", "--eviction", "lru,fifo"], "--eviction has no effect"),
        (["serve", "prediction3", "--trace", "{csv}", "--eviction", "lfu"], "--eviction has no effect"),
        (
            ["serve", "simulate", "--trace", "{jsonl}", "--prefixes", "synthetic"],
            "--prefixes synthetic has no effect",
        ),
        (
            ["serve", "reuse", "--trace", "{jsonl}", "--prefixes", "synthetic"],
            "--prefixes synthetic has no effect",
        ),
    ],
)
def test_a_prefix_flag_on_traces_it_cannot_act_on_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], needs: str
) -> None:
    csv = _csv(tmp_path, [(0.5 * i, 200, 5) for i in range(20)])  # no prefix hashes
    jsonl = _mooncake(tmp_path)  # its own prefix hashes
    assert main([a.format(csv=csv, jsonl=jsonl) for a in argv]) == 2
    line = _err_line(capsys)
    assert needs in line, line


def test_reuse_refuses_a_generated_trace_before_the_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["serve", "reuse", "--trace", "mooncake,servegen", "--data", str(tmp_path / "no-data")]
    assert main(argv) == 2
    line = _err_line(capsys)
    assert "servegen" in line and "serve reuse" in line, line


def test_limit_applies_to_a_servegen_trace(
    need_data: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = need_data("serving", "servegen")
    out = tmp_path / "o.json"
    argv = ["serve", "simulate", "--trace", "servegen", "--scheduler", "fcfs", "--limit", "5"]
    assert (
        main([*argv, "--servegen-duration-s", "60", "--data", str(data.parents[1]), "--json", str(out)]) == 0
    )
    capsys.readouterr()
    assert json.loads(out.read_text())["runs"][0]["requests"] == 5

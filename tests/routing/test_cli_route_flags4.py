"""route eval / save: a bootstrap too small for a 95% interval, and --test-share on data that has a split."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from routing_data import synthetic_rows

from tokenomy.interfaces.cli import main


def _csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def _code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:
        return int(str(exc.code))


BASE = ["--format", "long", "--prices", "none", "--V", "0.01", "--estimator", "prior", "--no-longtail"]


@pytest.mark.parametrize("boot", ["1", "10", "39"])
def test_too_few_resamples_for_a_95_percent_interval_are_refused(
    boot: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _csv(tmp_path / "d.csv", synthetic_rows(60))
    out = tmp_path / "o.json"
    assert _code(["route", "eval", "--data", str(data), *BASE, "--boot", boot, "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--boot" in err and "40" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    "command", [["route", "eval", *BASE, "--boot", "40"], ["route", "save", "--format", "long"]]
)
def test_test_share_on_data_with_its_own_split_is_refused(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _csv(tmp_path / "d.csv", synthetic_rows(60, split=True))
    extra = ["--out", str(tmp_path / "r")] if command[1] == "save" else []
    assert _code([*command[:2], "--data", str(data), *command[2:], "--test-share", "0.5", *extra]) == 2
    err = capsys.readouterr().err
    assert "--test-share applies only to data without a train/test split" in err
    assert not (tmp_path / "r").exists()


def test_test_share_draws_the_split_of_data_without_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _csv(tmp_path / "d.csv", synthetic_rows(60, split=False))
    argv = ["route", "eval", "--data", str(data), *BASE, "--boot", "40", "--test-share", "0.5"]
    assert _code(argv) == 0

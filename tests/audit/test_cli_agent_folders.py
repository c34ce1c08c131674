"""``audit DIR --format miniswe|taubench`` takes a folder of any name that holds the dataset's files."""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tokenomy.interfaces.cli import main


def _slice(src: Path, dst: Path, key: tuple[str, ...], first: int) -> None:
    """Copy the first ``first`` rows of ``src/{episodes|instances}.csv`` and their steps into ``dst``."""
    dst.mkdir()
    listing = "instances.csv" if (src / "instances.csv").is_file() else "episodes.csv"
    with (src / listing).open(newline="") as f:
        lines = f.readlines()
    (dst / listing).write_text("".join(lines[: first + 1]))
    keep = {tuple(r[k] for k in key) for r in csv.DictReader(lines[: first + 1])}
    with gzip.open(src / "steps.csv.gz", "rt", newline="") as f:
        reader = csv.DictReader(f)
        rows = [r for r in reader if tuple(r[k] for k in key) in keep]
        fields = reader.fieldnames
    assert rows and fields
    with gzip.open(dst / "steps.csv.gz", "wt", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


@pytest.mark.parametrize(
    ("fmt", "dataset", "key"),
    [
        ("miniswe", "miniswe_gemini3pro_swebv", ("instance_id",)),
        ("taubench", "taubench_gpt4o_airline", ("task_id", "trial")),
    ],
)
def test_audit_reads_a_renamed_folder(
    tmp_path: Path, need_data: Callable[..., Path], fmt: str, dataset: str, key: tuple[str, ...]
) -> None:
    src = need_data("agent", dataset)
    runs = tmp_path / "my_runs"
    _slice(src, runs, key, 3)
    out = tmp_path / "a.json"
    assert main(["audit", str(runs), "--format", fmt, "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert payload["format"] == fmt and payload["inputs"] == [str(runs)]
    # the format is also guessed from the files, whatever the folder is called
    assert main(["audit", str(runs), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["format"] == fmt


@pytest.mark.parametrize(
    ("fmt", "files"),
    [("miniswe", "instances.csv and steps.csv.gz"), ("taubench", "episodes.csv and steps.csv.gz")],
)
def test_a_folder_without_the_files_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str, files: str
) -> None:
    empty = tmp_path / "not_runs"
    empty.mkdir()
    (empty / "notes.txt").write_text("nothing here")
    assert main(["audit", str(empty), "--format", fmt]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(empty) in err and files in err

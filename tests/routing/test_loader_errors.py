"""Bad routing input names the file, the line, the field and the expected form (RouterBench, RouterArena)."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from tokenomy.core.errors import SchemaError, ValidationError
from tokenomy.interfaces.loaders.routing import ROUTERBENCH_TASKS, load_routerarena, load_routerbench
from tokenomy.routing.dataset import RoutingDataset
from tokenomy.routing.evaluation import require_two_models

MODELS = ("m-small", "m-big")


def _arena_line(gid: str, score: Any = 1.0, cost: Any = 1e-4) -> str:
    return json.dumps(
        {
            "global_index": gid,
            "question": f"question {gid}",
            "evaluation_result": {"score": score, "inference_cost": cost},
            "token_usage": {"input_tokens": 10, "output_tokens": 5},
        }
    )


def _arena(tmp_path: Path, bad_line: str | None = None) -> Path:
    for model in MODELS:
        lines = [_arena_line(f"MMLU_{i}") for i in range(4)]
        if bad_line is not None and model == "m-big":
            lines[2] = bad_line  # line 3 of m-big's file
        with gzip.open(tmp_path / f"{model}.jsonl.gz", "wt") as fh:
            fh.write("\n".join(lines) + "\n")
    return tmp_path


def test_routerarena_clean_files_load(tmp_path: Path) -> None:
    ds = load_routerarena(_arena(tmp_path))
    assert len(ds) == 4 and set(ds.models) == set(MODELS)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (_arena_line("MMLU_2", score=float("nan")), r"evaluation_result\.score must be a finite number"),
        (_arena_line("MMLU_2", score=None), r"evaluation_result\.score must be a finite number"),
        (
            _arena_line("MMLU_2", cost=float("nan")),
            r"evaluation_result\.inference_cost must be a finite number ≥ 0",
        ),
        (_arena_line("MMLU_2", cost=-1.0), r"evaluation_result\.inference_cost must be a finite number ≥ 0"),
        ('{"global_index": "MMLU_2", "question": ', r"not JSON \("),
        ("[1, 2]", r"expected a JSON object per line"),
        (
            json.dumps({"global_index": "MMLU_2", "question": "q"}),
            r"missing field 'evaluation_result\.score'",
        ),
    ],
)
def test_routerarena_bad_line_names_file_line_and_field(tmp_path: Path, bad: str, match: str) -> None:
    with pytest.raises(SchemaError, match=r"m-big\.jsonl\.gz: line 3: " + match):
        load_routerarena(_arena(tmp_path, bad))


def test_routerarena_duplicate_global_index_names_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match=r"m-big\.jsonl\.gz: line 3: duplicate row for prompt_id 'MMLU_1'"):
        load_routerarena(_arena(tmp_path, _arena_line("MMLU_1")))


def test_routerarena_score_below_zero_is_clipped_and_counted(tmp_path: Path) -> None:
    ds = load_routerarena(_arena(tmp_path, _arena_line("MMLU_2", score=-0.03)))
    assert ds.repairs["clipped_scores_to_0_1"] == 1 and ds.quality.min() == 0.0


def _routerbench(tmp_path: Path, drop: str | None = None, value: tuple[str, str] | None = None) -> Path:
    fields = ["", "sample_id", "prompt", "eval_name", *MODELS, *(f"{m}|total_cost" for m in MODELS)]
    for task in ROUTERBENCH_TASKS:
        for split in ("train", "test"):
            rows = [
                {
                    "": str(i),
                    "sample_id": f"{task}.{split}.{i}",
                    "prompt": f"['{task} question {i}']",
                    "eval_name": task,
                    **dict.fromkeys(MODELS, "1.0"),
                    **{f"{m}|total_cost": "0.001" for m in MODELS},
                }
                for i in range(3)
            ]
            cols = fields
            if task == "mbpp" and split == "test":
                if drop:
                    cols = [c for c in fields if c != drop]
                if value:
                    rows[1][value[0]] = value[1]  # line 3 of mbpp_test
            with gzip.open(tmp_path / f"{task}_{split}.csv.gz", "wt", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
                w.writeheader()
                w.writerows(rows)
    return tmp_path


def test_routerbench_clean_files_load(tmp_path: Path) -> None:
    ds = load_routerbench(_routerbench(tmp_path))
    assert len(ds) == 18 and ds.models == MODELS


def test_routerbench_without_one_files_cost_column_names_file_and_column(tmp_path: Path) -> None:
    with pytest.raises(
        SchemaError, match=r"mbpp_test\.csv\.gz: missing column 'm-big\|total_cost'; every model"
    ):
        load_routerbench(_routerbench(tmp_path, drop="m-big|total_cost"))


def test_routerbench_without_one_files_correctness_column_names_it(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match=r"mbpp_test\.csv\.gz: missing column 'm-big'; every model"):
        load_routerbench(_routerbench(tmp_path, drop="m-big"))


def test_routerbench_files_with_different_models_name_both_files(tmp_path: Path) -> None:
    _routerbench(tmp_path)
    with gzip.open(tmp_path / "mbpp_test.csv.gz", "rt", newline="") as fh:
        rows = list(csv.DictReader(fh))
    keep = [c for c in rows[0] if not c.startswith("m-big")]
    with gzip.open(tmp_path / "mbpp_test.csv.gz", "wt", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keep, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    with pytest.raises(SchemaError, match=r"mbpp_test\.csv\.gz: models \['m-big'\] are in only one of"):
        load_routerbench(tmp_path)


@pytest.mark.parametrize(
    ("col", "val", "want"),
    [
        ("m-big", "nan", r"m-big must be a number in \[0, 1\], got 'nan'"),
        ("m-big", "1.5", r"m-big must be a number in \[0, 1\], got '1.5'"),
        ("m-big|total_cost", "nan", r"m-big\|total_cost must be a finite number ≥ 0"),
        ("m-big|total_cost", "-1", r"m-big\|total_cost must be a finite number ≥ 0"),
    ],
)
def test_routerbench_bad_value_names_file_line_field_and_form(
    tmp_path: Path, col: str, val: str, want: str
) -> None:
    with pytest.raises(SchemaError, match=r"mbpp_test\.csv\.gz: line 3: " + want):
        load_routerbench(_routerbench(tmp_path, value=(col, val)))


def test_a_one_model_dataset_is_rejected_naming_the_source() -> None:
    rows = [
        {"prompt_id": f"p{i}", "prompt": "q", "model": "only", "quality": 1.0, "cost_usd": 0.1}
        for i in range(3)
    ]
    ds = RoutingDataset.from_long(rows, source="one.csv")
    with pytest.raises(
        ValidationError, match=r"one\.csv: routing needs at least two models .*found \['only'\]"
    ):
        require_two_models(ds)

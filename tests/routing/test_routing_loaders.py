"""Loaders on the real data (facts from ../shared/data/README.md) and bad input, each with a clear error."""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from routing_data import synthetic_rows

from tokenomy.core.errors import SchemaError, ValidationError
from tokenomy.interfaces.loaders.routing import load_dataset, load_long, load_price_table, load_routerbench
from tokenomy.routing.dataset import RoutingDataset

GPT4, MIXTRAL = "gpt-4-1106-preview", "mistralai/mixtral-8x7b-chat"


_CACHE: dict[Path, RoutingDataset] = {}


@pytest.fixture
def routerbench(need_data: Callable[..., Path]) -> RoutingDataset:
    path = need_data("routing", "routerbench_slice")
    if path not in _CACHE:
        _CACHE[path] = load_routerbench(path)
    return _CACHE[path]


def test_routerbench_slice_matches_the_readme_facts(routerbench: RoutingDataset) -> None:
    ds = routerbench
    assert len(ds) == 3150 and ds.n_models == 11
    assert (ds.splits == "train").sum() == 2205 and (ds.splits == "test").sum() == 945
    assert ds.repairs == {"dropped_split_prompts": 14, "dropped_split_rows": 28}
    g, x = ds.models.index(GPT4), ds.models.index(MIXTRAL)
    assert ds.quality[:, g].mean() == pytest.approx(0.879, abs=5e-4)
    assert ds.cost_usd[:, g].mean() == pytest.approx(0.00502, abs=5e-6)
    assert ds.quality[:, x].mean() == pytest.approx(0.741, abs=5e-4)
    assert ds.cost_usd[:, x].mean() == pytest.approx(0.00025, abs=5e-6)
    correct = ds.quality.max(axis=1) > 0
    cheapest_correct = np.where(ds.quality > 0, ds.cost_usd, np.inf).min(axis=1)
    assert correct.mean() == pytest.approx(0.976, abs=5e-4)
    assert np.where(correct, cheapest_correct, 0.0).mean() == pytest.approx(0.00021, abs=5e-6)
    best = {
        v: ds.models[int((v * ds.quality - ds.cost_usd).mean(axis=0).argmax())]
        for v in (0.001, 0.01, 0.1, 1.0)
    }
    assert best == {0.001: "mistralai/mistral-7b-chat", 0.01: "zero-one-ai/Yi-34B-Chat", 0.1: GPT4, 1.0: GPT4}


def test_the_packaged_price_table_reproduces_routerbench_costs(routerbench: RoutingDataset) -> None:
    table = load_price_table()
    table.require(routerbench.models)
    assert table.date == "2024-03-01"
    pin, pout = table.per_token([GPT4])
    assert 530 * pin[0] + 1 * pout[0] == pytest.approx(0.00533)


def test_routerarena_runs_match_the_readme_facts(need_data: Callable[..., Path]) -> None:
    ds = load_dataset(need_data("routing", "routerarena_cached"), "routerarena")
    assert len(ds) == 809 and set(ds.models) == {"claude-3-haiku-20240307", "gemini-2.0-flash-001"}
    assert ds.input_tokens is not None and ds.output_tokens is not None
    g, h = ds.models.index("gemini-2.0-flash-001"), ds.models.index("claude-3-haiku-20240307")
    assert ds.quality[:, g].mean() == pytest.approx(0.690, abs=5e-4)
    assert ds.quality[:, h].mean() == pytest.approx(0.523, abs=5e-4)
    assert ds.cost_usd[:, g].mean() * 1000 == pytest.approx(0.047, abs=5e-4)
    assert ds.cost_usd[:, h].mean() * 1000 == pytest.approx(0.176, abs=5e-4)
    assert ds.repairs["clipped_scores_to_0_1"] == 1
    # tokens × the packaged prices give back the reported cost (gemini: $0.10 / $0.40 per M)
    t = load_price_table()
    est = t.cost_usd(ds.models, ds.input_tokens, ds.output_tokens)
    assert np.median(np.abs(est[:, g] - ds.cost_usd[:, g]) / np.maximum(ds.cost_usd[:, g], 1e-12)) < 0.01


def _write_csv(path: Path, rows: list[dict[str, object]], fields: list[str] | None = None) -> Path:
    fields = fields or list(rows[0])
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def test_long_format_round_trips_through_csv_jsonl_and_parquet(tmp_path: Path) -> None:
    rows = synthetic_rows(30)
    ds = RoutingDataset.from_long(rows)
    a = load_long(_write_csv(tmp_path / "d.csv", rows))
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    b = load_long(tmp_path / "d.jsonl")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "d.parquet")
    c = load_long(tmp_path / "d.parquet")
    for x in (a, b, c):
        assert x.models == ds.models and np.array_equal(x.quality, ds.quality)
        assert np.allclose(x.cost_usd, ds.cost_usd) and list(x.prompt_ids) == list(ds.prompt_ids)


def test_a_missing_model_row_is_an_error_or_a_counted_repair(tmp_path: Path) -> None:
    rows = [r for r in synthetic_rows(30) if not (r["prompt_id"] == "p3" and r["model"] == "large")]
    path = _write_csv(tmp_path / "d.csv", rows)
    with pytest.raises(SchemaError, match=r"prompt_id 'p3' has no row for model\(s\) \['large'\]"):
        load_long(path)
    ds = load_long(path, drop_incomplete=True)
    assert len(ds) == 29 and ds.repairs == {"dropped_incomplete_prompts": 1}


def test_a_missing_column_names_the_file_and_the_column(tmp_path: Path) -> None:
    rows = synthetic_rows(6)
    path = _write_csv(tmp_path / "d.csv", rows, ["prompt_id", "prompt", "model", "quality"])
    with pytest.raises(SchemaError, match=r"d.csv: missing column\(s\) \['cost_usd'\]"):
        load_long(path)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("nan", "a finite number ≥ 0, got nan"),
        ("-0.01", "a finite number ≥ 0, got -0.01"),
        ("cheap", "a number"),
    ],
)
def test_nan_negative_or_text_costs_are_rejected_with_the_row(tmp_path: Path, value: str, why: str) -> None:
    rows = synthetic_rows(6)
    rows[4]["cost_usd"] = value
    with pytest.raises(SchemaError, match=rf"row 5: cost_usd must be {why}"):
        load_long(_write_csv(tmp_path / "d.csv", rows))


def test_duplicate_prompt_ids_are_rejected(tmp_path: Path) -> None:
    rows = synthetic_rows(6)
    dup = dict(rows[0])
    rows.append(dup)
    with pytest.raises(SchemaError, match=r"duplicate row for prompt_id 'p0', model 'small'"):
        load_long(_write_csv(tmp_path / "d.csv", rows))
    rows = synthetic_rows(6)
    rows[3]["prompt"] = "a different question under the same id"  # p1's first row
    with pytest.raises(SchemaError, match=r"prompt_id 'p1' has a different prompt"):
        load_long(_write_csv(tmp_path / "d.csv", rows))


def test_routerbench_without_a_cost_column_names_it(tmp_path: Path, need_data: Callable[..., Path]) -> None:
    src = need_data("routing", "routerbench_slice")
    for f in src.glob("*.csv.gz"):
        with gzip.open(f, "rt", newline="") as fh:
            reader = csv.DictReader(fh)
            fields = [c for c in (reader.fieldnames or []) if c != "claude-v2"]
            rows = list(reader)[:3]
        with gzip.open(tmp_path / f.name, "wt", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
    with pytest.raises(SchemaError, match=r"missing column 'claude-v2'"):
        load_routerbench(tmp_path)


def test_a_price_table_with_a_negative_price_or_an_unknown_format_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "p.toml"
    bad.write_text(
        'date = "2024-01-01"\n[models."m"]\ninput_usd_per_mtok = -1.0\noutput_usd_per_mtok = 2.0\n'
    )
    with pytest.raises(SchemaError, match=r"p.toml: model 'm' has a negative"):
        load_price_table(bad)
    with pytest.raises(ValidationError, match="unknown format"):
        load_dataset(tmp_path, "csv")

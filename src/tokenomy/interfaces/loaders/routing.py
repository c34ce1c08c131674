"""Loaders for routing data: the generic long format (CSV / Parquet / JSONL), RouterBench and RouterArena.

Each returns a ``tokenomy.routing.RoutingDataset``. RouterBench (RouterDC's ``routerbench_zs`` slice):
three tasks × train/test CSVs (gzip) with one correctness and one ``|total_cost`` column per model;
14 ARC ``sample_id``s are split over two rows, one of which holds only gpt-3.5's label. We *drop*
both rows of each such prompt: the two rows' costs disagree (one is about twice the other), so no
merge is faithful. The drops are counted in ``repairs`` (``dropped_split_prompts``: 14,
``dropped_split_rows``: 28), leaving 3,150 prompts (2,205 train, 945 test). RouterArena:
one JSONL per model (``evaluation_result.score``, ``inference_cost``, provider token counts); prompts
are kept only when every model has a row (the rest counted). Prices live in a dated TOML table
shipped as package data (``resources/routing_prices_2024.toml``) or RouterArena's ``cost.json``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from tokenomy.core.errors import SchemaError, ValidationError
from tokenomy.interfaces.loaders import reader
from tokenomy.routing.dataset import REQUIRED_COLUMNS, RoutingDataset
from tokenomy.routing.prices import PriceTable

__all__ = ["load_dataset", "load_long", "load_price_table", "load_routerarena", "load_routerbench"]

ROUTERBENCH_TASKS = ("arc_challenge", "mbpp", "winograde")
PRICE_TABLE = "routing_prices_2024.toml"
SCORE_SLACK = 0.05
"""How far outside [0, 1] a RouterArena score may be and still be clipped (METEOR's rounding)."""
MAX_TOKENS = 2**31 - 1
"""The largest token count a RouterArena line may give (a larger one is a corrupt field)."""


def _iter_long(path: Path) -> Iterator[dict[str, Any]]:
    name = path.name.removesuffix(".gz").removesuffix(".xz")
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        yield from table.to_pylist()
    elif name.endswith((".jsonl", ".json")):
        for _, rec in reader.json_lines(path):
            yield rec
    elif name.endswith(".csv"):
        with reader.CsvFile(path) as fh:
            missing = [c for c in REQUIRED_COLUMNS if c not in fh.fieldnames]
            if missing:
                raise SchemaError(
                    f"{path}: missing column(s) {missing}; the long format needs {REQUIRED_COLUMNS}"
                )
            for _, rec in fh:
                yield rec
    else:
        raise ValidationError(
            f"{path}: unknown file type; expected .csv, .jsonl or .parquet (optionally .gz)"
        )


def load_long(path: str | Path, *, drop_incomplete: bool = False) -> RoutingDataset:
    """Read a long-format file (CSV, JSONL or Parquet; ``.gz`` allowed).

    Raises:
        SchemaError: a column is missing or a row is malformed (names the file, row and field).
    """
    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"no such file: {p}")
    return RoutingDataset.from_long(_iter_long(p), source=str(p), drop_incomplete=drop_incomplete)


def _rb_models(fieldnames: list[str]) -> list[str]:
    """Every model the header mentions (by a correctness, ``|model_response`` or ``|total_cost`` column)."""
    meta = {"", "sample_id", "prompt", "eval_name", "oracle_model_to_route_to"}
    named = [c.split("|", 1)[0] for c in fieldnames if c not in meta]
    return list(dict.fromkeys(named))


def _prompt_text(raw: str) -> str:
    try:
        parts = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw
    return "\n".join(str(p) for p in parts) if isinstance(parts, list) else str(parts)


def load_routerbench(folder: str | Path) -> RoutingDataset:
    """Read the RouterBench slice (``<task>_{train,test}.csv.gz``) into the long format.

    Returns:
        A dataset with split "train"/"test" and category = ``eval_name``; ``repairs`` counts the
        prompts and rows dropped because a ``sample_id`` occurs on more than one row.

    Raises:
        SchemaError: a file or column is missing or a value is malformed.
    """
    base = reader.path_arg(folder, "load_routerbench", "folder")
    rows: list[dict[str, Any]] = []
    dropped_rows = 0
    dropped_ids: set[str] = set()
    first_models: list[str] | None = None
    first_path = base
    for task in ROUTERBENCH_TASKS:
        for split in ("train", "test"):
            path = base / f"{task}_{split}.csv.gz"
            if not path.is_file():
                raise SchemaError(
                    f"{path}: missing RouterBench file (expected {task}_{split}.csv.gz in {base})"
                )
            by_id: dict[str, list[dict[str, Any]]] = {}  # sample_id -> its rows
            with reader.CsvFile(path) as fh:
                fields = fh.fieldnames
                models = _rb_models(fields)
                for col in ("sample_id", "prompt", "eval_name"):
                    if col not in fields:
                        raise SchemaError(f"{path}: missing column {col!r}")
                for mdl in models:
                    for col in (mdl, f"{mdl}|total_cost"):
                        if col not in fields:
                            raise SchemaError(
                                f"{path}: missing column {col!r}; every model needs a correctness "
                                "column (a score in [0, 1]) and a '<model>|total_cost' column (USD ≥ 0)"
                            )
                if first_models is None:
                    first_models, first_path = models, path
                elif sorted(models) != sorted(first_models):
                    raise SchemaError(
                        f"{path}: models {sorted(set(models) ^ set(first_models))} are in only one of "
                        f"{path.name} and {first_path.name}; every RouterBench file needs the same models"
                    )
                for line_no, row in fh:
                    by_id.setdefault(row["sample_id"], []).append({**row, "_line": line_no})
            if not by_id:
                raise SchemaError(f"{path}: no rows after the header; expected one row per prompt")
            for sid, recs in by_id.items():
                for rec in recs:
                    lineno = rec["_line"]
                    if any(rec[mdl].strip() == "" for mdl in models):
                        # one half of a prompt split over two rows (labels AND costs disagree): drop it
                        dropped_rows += 1
                        dropped_ids.add(sid)
                        continue
                    if len(recs) > 1:
                        raise SchemaError(
                            f"{path}: line {lineno}: sample_id {sid!r} repeats with full labels"
                        )
                    prompt = _prompt_text(rec["prompt"])
                    for mdl in models:
                        q = _float(rec[mdl], mdl, path, lineno, unit=True)
                        c = _float(rec[f"{mdl}|total_cost"], f"{mdl}|total_cost", path, lineno)
                        rows.append(
                            {
                                "prompt_id": sid,
                                "prompt": prompt,
                                "model": mdl,
                                "quality": q,
                                "cost_usd": c,
                                "category": rec["eval_name"],
                                "split": split,
                                "_where": f"{path}: line {lineno}",
                            }
                        )
    repairs = {"dropped_split_prompts": len(dropped_ids), "dropped_split_rows": dropped_rows}
    return RoutingDataset.from_long(rows, source=str(base), repairs=repairs)


def _float(value: Any, name: str, path: Path, lineno: int, *, unit: bool = False) -> float:
    """``value`` as a finite float ≥ 0 (in [0, 1] when ``unit``), else an error naming file:line and field."""
    want = "a number in [0, 1]" if unit else "a finite number ≥ 0 (USD or tokens)"
    try:
        return reader.float_field(value, f"{path}: line {lineno}", name, lo=0.0, hi=1.0 if unit else None)
    except SchemaError:
        raise SchemaError(f"{path}: line {lineno}: {name} must be {want}, got {value!r}") from None


def load_routerarena(folder: str | Path) -> RoutingDataset:
    """Read RouterArena cached runs (``*.jsonl.gz``, one per model) into the long format.

    Category = the benchmark prefix of ``global_index``; no split (callers draw one with a seed).
    Prompts without a row for every model are dropped and counted (``dropped_incomplete_prompts``);
    a repeated ``global_index`` within one model's file is an error. Scores at most
    ``SCORE_SLACK`` outside [0, 1] (one METEOR score of −0.033) are clipped and counted
    (``clipped_scores_to_0_1``); a score further out is an error (a corrupt or foreign field).

    Raises:
        SchemaError: a file has no runs, a line is not JSON, or a line misses ``global_index`` (or
            has a null or empty one), the score or the cost, or has a NaN score or one outside
            [−SCORE_SLACK, 1 + SCORE_SLACK], a NaN / negative cost, or a token count that is not a
            whole number in [0, 2,147,483,647] (each names the file, the line and the field).
    """
    base = Path(folder)
    files = sorted(base.glob("*.jsonl.gz")) + sorted(base.glob("*.jsonl"))
    if not files:
        raise SchemaError(f"{base}: no RouterArena *.jsonl(.gz) files")
    rows: list[dict[str, Any]] = []
    clipped = 0
    for path in files:
        model = path.name.removesuffix(".gz").removesuffix(".jsonl")
        for lineno, line in reader.iter_lines(path):
            if line.strip():
                row, was_clipped = _arena_row(line, model, path, lineno)
                rows.append(row)
                clipped += was_clipped
    return RoutingDataset.from_long(
        rows, source=str(base), drop_incomplete=True, repairs={"clipped_scores_to_0_1": clipped}
    )


def _arena_row(line: str, model: str, path: Path, lineno: int) -> tuple[dict[str, Any], bool]:
    """One RouterArena JSONL line as a long row, and whether its score was clipped into [0, 1].

    A NaN or missing score is an error, not a repair: the run did not evaluate that prompt, and
    scoring it 0 (or dropping it from one model only) would bias that model's accuracy.
    """
    where = f"{path}: line {lineno}"
    rec = reader.parse_json(line, where)
    if not isinstance(rec, dict):
        raise SchemaError(f"{where}: expected a JSON object per line, got {type(rec).__name__}")

    def get(*keys: str) -> Any:
        cur: Any = rec
        for k in keys:
            if not isinstance(cur, dict) or k not in cur:
                raise SchemaError(f"{where}: missing field {'.'.join(keys)!r}")
            cur = cur[k]
        return cur

    raw_gid = get("global_index")
    if isinstance(raw_gid, bool) or not isinstance(raw_gid, str | int) or str(raw_gid).strip() == "":
        raise SchemaError(
            f"{where}: field 'global_index'={raw_gid!r}; expected a non-empty prompt id (text or integer)"
        )
    gid = str(raw_gid)
    raw = get("evaluation_result", "score")
    try:
        if isinstance(raw, str | bool):  # JSON text or true/false: not a score (never coerced)
            raise SchemaError(where)
        score = reader.float_field(raw, where, "evaluation_result.score")
    except SchemaError:
        raise SchemaError(
            f"{where}: evaluation_result.score must be a finite number (a score in [0, 1]), got {raw!r}"
        ) from None
    if not -SCORE_SLACK <= score <= 1.0 + SCORE_SLACK:
        raise SchemaError(f"{where}: evaluation_result.score must be a number in [0, 1], got {raw!r}")
    clipped = not 0.0 <= score <= 1.0  # METEOR can come out slightly below 0: clip, count
    cost = _float(
        get("evaluation_result", "inference_cost"), "evaluation_result.inference_cost", path, lineno
    )
    tin, tout = (
        float(reader.int_field(get("token_usage", k), where, f"token_usage.{k}", lo=0, hi=MAX_TOKENS))
        for k in ("input_tokens", "output_tokens")
    )
    row = {
        "prompt_id": gid,
        "prompt": str(get("question")),
        "model": model,
        "quality": min(1.0, max(0.0, score)),
        "cost_usd": cost,
        "category": gid.rsplit("_", 1)[0],
        "split": "",
        "input_tokens": tin,
        "output_tokens": tout,
        "_where": where,
    }
    return row, clipped


def load_dataset(path: str | Path, fmt: str = "auto") -> RoutingDataset:
    """Read ``path`` as ``routerbench``, ``routerarena`` or ``long``; ``auto`` guesses from the contents.

    Raises:
        ValidationError: unknown format or path.
    """
    if not isinstance(path, str | Path):
        raise ValidationError(f"load_dataset: path={path!r}; expected a file or folder path")
    p = Path(path)
    if fmt == "auto":
        if p.is_dir() and (p / "routerbench_slice").is_dir():
            p = p / "routerbench_slice"
        fmt = (
            ("routerbench" if (p / "arc_challenge_train.csv.gz").exists() else "routerarena")
            if p.is_dir()
            else "long"
        )
    if fmt == "routerbench":
        return load_routerbench(p / "routerbench_slice" if (p / "routerbench_slice").is_dir() else p)
    if fmt == "routerarena":
        return load_routerarena(p / "routerarena_cached" if (p / "routerarena_cached").is_dir() else p)
    if fmt == "long":
        return load_long(p)
    raise ValidationError(f"unknown format {fmt!r}; valid: auto, routerbench, routerarena, long")


def load_price_table(path: str | Path | None = None) -> PriceTable:
    """A dated price table: the packaged 2024 table by default, a TOML file, or RouterArena ``cost.json``.

    Raises:
        SchemaError: a model lacks a price or a price is negative (names the file and model).
    """
    if path is None:
        text = resources.files("tokenomy.interfaces").joinpath("resources", PRICE_TABLE).read_text()
        where = f"tokenomy/interfaces/resources/{PRICE_TABLE}"
        data = reader.parse_toml(text, where)
    else:
        p = reader.path_arg(path, "load_price_table")
        where, text = str(p), reader.read_text(p)
        data = reader.parse_json(text, where) if p.suffix == ".json" else reader.parse_toml(text, where)
    if not isinstance(data, dict):
        raise SchemaError(f"{where}: expected a mapping of model name -> prices, got {type(data).__name__}")
    if "models" in data:
        models, dated = data["models"], str(data.get("date", ""))
    else:  # RouterArena cost.json: {model: {input_token_price_per_million, output_token_price_per_million}}
        models, dated = data, ""
    if not isinstance(models, dict):
        raise SchemaError(f"{where}: 'models' must be a mapping of model name -> prices")
    table: dict[str, tuple[float, float]] = {}
    for name, rec in models.items():
        if not isinstance(rec, dict):
            raise SchemaError(f"{where}: model {name!r} needs input and output prices per million tokens")
        try:
            pin = reader.float_field(
                rec.get("input_usd_per_mtok", rec.get("input_token_price_per_million")), where, "input", lo=0
            )
            pout = reader.float_field(
                rec.get("output_usd_per_mtok", rec.get("output_token_price_per_million")),
                where,
                "output",
                lo=0,
            )
        except SchemaError:
            raise SchemaError(
                f"{where}: model {name!r} has a negative or non-finite price; expected input and output "
                "prices per million tokens, finite numbers ≥ 0"
            ) from None
        table[name] = (pin, pout)
    return PriceTable(table, date=dated, source=where)

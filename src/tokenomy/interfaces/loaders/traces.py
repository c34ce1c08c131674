"""Loaders for serving traces and step-time data into ``tokenomy.serving`` objects.

Trace formats (all give arrival time, prompt tokens, output tokens; more columns are ignored):

* Azure LLM inference 2023 CSV: ``TIMESTAMP`` (wall clock), ``ContextTokens``, ``GeneratedTokens``.
* Mooncake JSONL (optionally .gz): ``timestamp`` (ms from start), ``input_length``, ``output_length``,
  ``hash_ids`` (prefix blocks of 512 tokens).
* Generic CSV or JSONL (optionally .gz): ``arrival_s`` (seconds), ``prompt_tokens``, ``output_tokens``,
  optional ``tenant`` (a name), ``hash_ids`` (JSONL list, or space-separated in CSV), ``v_usd`` and
  ``lam_usd_per_s`` (per-request value and latency price; when present they replace the synthetic draws).

Bad input raises ``SchemaError`` naming the file, the line and the field (missing columns, a header
holding the columns of two formats, a non-number or a JSON number given as text, negative or zero
lengths, an Azure TIMESTAMP with a time zone or not a date). Unsorted arrival times are *sorted* and reported in
``LoadedTrace.notes``. Step-time data: BLIS ``defaults.yaml`` (β in µs → seconds, with the KV block
count) and Splitwise ``perf_model.csv`` (medians per point, ms → seconds).
Named traces (``azure-conv``, ``azure-code``, ``mooncake``) resolve under ``<data>/serving``.
ServeGen's archive has its own loader (``loaders.servegen``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from tokenomy.core.errors import SchemaError, ValidationError
from tokenomy.interfaces.loaders import reader
from tokenomy.serving.entities import EngineConfig, Workload
from tokenomy.serving.steptime import (
    SPLITWISE_DGX_H100_KV_BLOCKS,
    LinearStepTime,
    TableStepTime,
    attention_s_per_pair,
)
from tokenomy.serving.workloads import ValueModel, make_workload

__all__ = [
    "BLIS_FILE",
    "NAMED_TRACES",
    "SPLITWISE_FILE",
    "LoadedTrace",
    "load_blis",
    "load_splitwise",
    "load_trace",
    "resolve_trace",
    "splitwise_sim_setup",
]

NAMED_TRACES = {
    "azure-conv": "serving/azure_llm_2023/AzureLLMInferenceTrace_conv.csv",
    "azure-code": "serving/azure_llm_2023/AzureLLMInferenceTrace_code.csv",
    "mooncake": "serving/mooncake_fast25/conversation_trace.jsonl.gz",
}
BLIS_FILE = "serving/blis_vllm_step_coefficients/defaults_1a6eb353.yaml"
SPLITWISE_FILE = "serving/splitwise_perf_model/perf_model.csv"

_AZURE = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
_MOONCAKE = ("timestamp", "input_length", "output_length")
MAX_TOKENS = 2**31 - 1
"""The longest prompt or output a trace row may name (a longer one is a corrupt field, not a request)."""
_GENERIC = ("arrival_s", "prompt_tokens", "output_tokens")
_AZURE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?")
"""An Azure TIMESTAMP: wall-clock date and time without a zone (the trace's own clock)."""


@dataclass(frozen=True, slots=True)
class LoadedTrace:
    """A workload plus what the loader had to do (``notes``: sorted rows, dropped fields)."""

    workload: Workload
    path: Path
    notes: list[str] = field(default_factory=list)


def resolve_trace(name_or_path: str, data_dir: Path | None) -> Path:
    """The file of a named trace under ``data_dir``, or ``name_or_path`` as a path.

    Raises:
        ValidationError: neither a known name (with a data folder) nor an existing file.
    """
    if name_or_path in NAMED_TRACES:
        if data_dir is None:
            raise ValidationError(f"trace {name_or_path!r} needs the data folder (--data or TOKENOMY_DATA)")
        path = data_dir / NAMED_TRACES[name_or_path]
    else:
        path = Path(name_or_path)
    if not path.is_file():
        raise ValidationError(
            f"trace {name_or_path!r}: no file {path}; known names: {', '.join(NAMED_TRACES)}"
        )
    return path


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    name = path.name.removesuffix(".gz").removesuffix(".xz")
    if name.endswith((".jsonl", ".json")):
        yield from reader.json_lines(path)
    else:
        yield from reader.csv_rows(path)


def _num(path: Path, lineno: int, col: str, v: Any) -> float:
    """``v`` as a finite float, or an error naming the file, line and field (the serving tests' wording)."""
    try:
        return reader.float_field(v, f"{path}: line {lineno}", col)
    except SchemaError:
        what = "finite" if isinstance(v, int | float | str) and _is_float(v) else "a number"
        raise SchemaError(f"{path}: line {lineno}: field {col!r} must be {what}, got {v!r}") from None


def _is_float(v: Any) -> bool:
    try:
        float(v)
    except (TypeError, ValueError, OverflowError):
        return False
    return not isinstance(v, bool)


def load_trace(
    path: str | Path,
    *,
    seed: int = 0,
    values: ValueModel | None = None,
    limit: int | None = None,
    name: str | None = None,
) -> LoadedTrace:
    """Parse a trace file into a ``Workload`` with synthetic V, λ and predicted lengths (``seed``).

    Args:
        path: Azure CSV, Mooncake JSONL(.gz) or generic CSV/JSONL (module docstring).
        seed: seed of the synthetic draws.
        values: the synthetic value model (default ``ValueModel()``).
        limit: keep only the first ``limit`` rows (in file order; ≥ 1).
        name: the workload's label (default: the file name).

    Raises:
        SchemaError: missing columns (or the columns of two formats), non-numbers (a JSON number given
            as text), lengths < 1, an Azure TIMESTAMP that is not a zone-less date and time; with file
            and line.
        ValidationError: ``limit`` < 1 or ``seed`` < 0.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValidationError(f"load_trace: limit={limit!r}; expected a whole number ≥ 1 or None")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValidationError(f"load_trace: seed={seed!r}; expected a whole number ≥ 0")
    path = reader.path_arg(path, "load_trace")
    it = _rows(path)
    first = next(it, None)
    if first is None:
        raise SchemaError(f"{path}: empty trace (expected a header and rows)")
    keys = set(first[1])
    found = [
        (c, k)
        for c, k in ((_AZURE, "azure"), (_MOONCAKE, "mooncake"), (_GENERIC, "generic"))
        if set(c) <= keys
    ]
    if not found:
        raise SchemaError(
            f"{path}: missing columns; expected one of {list(_AZURE)} (Azure), {list(_MOONCAKE)} "
            f"(Mooncake) or {list(_GENERIC)} (generic); found {sorted(keys)}"
        )
    if len(found) > 1:
        raise SchemaError(
            f"{path}: line 1: ambiguous header: it holds the columns of {len(found)} formats "
            f"({'; '.join(f'{k}: {list(c)}' for c, k in found)}); expected the columns of one format only"
        )
    cols, kind = found[0]
    from_json = path.name.removesuffix(".gz").removesuffix(".xz").endswith((".jsonl", ".json"))
    c_t, c_p, c_o = cols
    times: list[Any] = []
    lines: list[int] = []
    prompt: list[float] = []
    out: list[float] = []
    tenants: list[str] = []
    hashes: list[np.ndarray[Any, Any]] | None = [] if "hash_ids" in keys else None
    given: dict[str, list[float]] = {c: [] for c in ("v_usd", "lam_usd_per_s") if c in keys}
    for k, (lineno, rec) in enumerate([first, *it]):
        if limit is not None and k >= limit:
            break
        for col in cols:
            if rec.get(col) in (None, ""):
                raise SchemaError(f"{path}: line {lineno}: field {col!r} is missing")
        for col in cols if from_json else ():
            if not isinstance(rec[col], int | float) or isinstance(rec[col], bool):
                raise SchemaError(
                    f"{path}: line {lineno}: field {col!r} must be a number, got {rec[col]!r}; expected a JSON number, not text"
                )
        if kind == "azure" and not _AZURE_TIME.fullmatch(str(rec[c_t])):
            raise SchemaError(
                f"{path}: line {lineno}: field {c_t!r}={rec[c_t]!r}; expected 'YYYY-MM-DD hh:mm:ss.fffffff' "
                "(wall clock, no time zone)"
            )
        times.append(rec[c_t] if kind == "azure" else _num(path, lineno, c_t, rec[c_t]))
        lines.append(lineno)
        for col, dest in ((c_p, prompt), (c_o, out)):
            x = _num(path, lineno, col, rec[col])
            if x < 1 or x > MAX_TOKENS or x != int(x):
                raise SchemaError(
                    f"{path}: line {lineno}: field {col!r} must be a whole number ≥ 1 and ≤ {MAX_TOKENS:,}, "
                    f"got {rec[col]!r}"
                )
            dest.append(x)
        tenants.append(str(rec.get("tenant", "") or "default"))
        for col, dest in given.items():
            if rec.get(col) in (None, ""):
                raise SchemaError(f"{path}: line {lineno}: field {col!r} is missing (it is set on line 1)")
            x = _num(path, lineno, col, rec[col])
            if x < 0:
                raise SchemaError(f"{path}: line {lineno}: field {col!r} must be ≥ 0, got {rec[col]!r}")
            dest.append(x)
        if hashes is not None:
            hashes.append(_hash_ids(path, lineno, rec.get("hash_ids", [])))
    if kind == "azure":
        try:
            stamps = np.array(times, dtype="datetime64[ns]")
        except ValueError:
            raise _bad_stamp(path, times, lines) from None
        t = (stamps - stamps.min()).astype(np.float64) / 1e9
    else:
        t = np.asarray(times, dtype=np.float64) / (1000.0 if kind == "mooncake" else 1.0)
    if np.any(t < 0):
        raise SchemaError(
            f"{path}: field {c_t!r} must be ≥ 0; row {int(np.flatnonzero(t < 0)[0]) + 1} is negative"
        )
    notes: list[str] = []
    order = np.argsort(t, kind="stable")
    unsorted = int(np.count_nonzero(np.diff(t) < 0))
    if unsorted:
        notes.append(
            f"{path.name}: arrival times were not sorted ({unsorted} steps back in time); sorted them"
        )
    names = sorted(set(tenants))
    code = {n: i for i, n in enumerate(names)}
    tcodes = np.array([code[x] for x in tenants], np.int64)[order]
    hs = None if hashes is None else [hashes[int(i)] for i in order]
    wl = make_workload(
        name or path.name.split(".")[0],
        t[order],
        np.asarray(prompt)[order],
        np.asarray(out)[order],
        tenant=tcodes,
        tenant_names=names,
        hash_ids=hs,
        values=values,
        seed=seed,
    )
    if given:  # the trace's own V and λ replace the synthetic draws (and lose the label)
        own = {c: np.asarray(v, dtype=np.float64)[order] for c, v in given.items()}
        wl = replace(
            wl,
            v_usd=own.get("v_usd", wl.v_usd),
            lam_usd_per_s=own.get("lam_usd_per_s", wl.lam_usd_per_s),
            synthetic=tuple(x for x in wl.synthetic if x not in own),
        ).validate()
        notes.append(f"{path.name}: {' and '.join(own)} read from the trace (not synthetic)")
    return LoadedTrace(wl, path, notes)


def _bad_stamp(path: Path, times: list[Any], lines: list[int]) -> SchemaError:
    """The error naming the first Azure TIMESTAMP numpy cannot read (e.g. month 13), with its line."""
    for stamp, lineno in zip(times, lines, strict=True):
        try:
            np.datetime64(stamp, "ns")
        except ValueError:
            return SchemaError(
                f"{path}: line {lineno}: field 'TIMESTAMP'={stamp!r}; expected a valid date and time "
                "'YYYY-MM-DD hh:mm:ss.fffffff'"
            )
    return SchemaError(f"{path}: column 'TIMESTAMP' must be 'YYYY-MM-DD hh:mm:ss.fffffff'")


def _hash_ids(path: Path, lineno: int, h: Any) -> np.ndarray[Any, Any]:
    """``hash_ids`` (a JSON list or space-separated text) as int64 block ids, or an error naming the line."""
    items = h.split() if isinstance(h, str) else h
    if not isinstance(items, list):
        raise SchemaError(
            f"{path}: line {lineno}: field 'hash_ids'={h!r}; expected a list of integer block ids"
        )
    if all(type(x) is int for x in items):  # the common case (JSON lists of ids): one vectorised conversion
        try:
            return np.array(items, dtype=np.int64)
        except OverflowError:
            pass  # named below
    where = f"{path}: line {lineno}"
    return np.array(
        [reader.int_field(x, where, "hash_ids", lo=-(2**63), hi=2**63 - 1) for x in items], np.int64
    )


def load_blis(
    path: Path, *, model: str = "meta-llama/llama-3.1-8b-instruct", gpu: str = "H100", tp: int = 1
) -> tuple[LinearStepTime, int]:
    """(step model, total KV blocks) for one (model, GPU, TP) entry of BLIS ``defaults.yaml``.

    Raises:
        SchemaError: the file has no ``models`` list or no such entry (the message lists some keys).
    """
    doc = reader.parse_yaml(reader.read_text(path), str(path))
    entries = doc.get("models") if isinstance(doc, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise SchemaError(f"{path}: expected a top-level 'models' list of mappings")
    for i, e in enumerate(entries):
        where = f"{path}: models[{i}]"
        if e.get("id") != model or e.get("GPU") != gpu:
            continue
        if reader.int_field(e.get("tensor_parallelism", 0), where, "tensor_parallelism", lo=0) != tp:
            continue
        b = e.get("beta_coeffs")
        if not (isinstance(b, list) and len(b) == 3):
            raise SchemaError(f"{path}: entry {model}/{gpu}/TP{tp}: 'beta_coeffs' must hold 3 numbers")
        beta = [reader.float_field(x, where, "beta_coeffs") for x in b]
        try:
            step = LinearStepTime(
                beta[0] * 1e-6,
                beta[1] * 1e-6,
                beta[2] * 1e-6,
                source=f"BLIS {model} {gpu} TP{tp} {e.get('vllm_version', '')}",
            )
        except ValidationError:
            raise SchemaError(
                f"{where}: field 'beta_coeffs'={b!r}; expected β0 > 0 and β1, β2 ≥ 0 (µs)"
            ) from None
        return step, reader.int_field(e.get("total_kv_blocks"), where, "total_kv_blocks", lo=1)
    seen = sorted({f"{e.get('id')}/{e.get('GPU')}/TP{e.get('tensor_parallelism')}" for e in entries})
    raise SchemaError(f"{path}: no entry {model}/{gpu}/TP{tp}; some entries: {', '.join(seen[:6])}")


def load_splitwise(
    path: str | Path, *, model: str = "llama2-70b", hardware: str = "h100-80gb", tp: int = 8
) -> TableStepTime:
    """SplitwiseSim's reading of ``perf_model.csv`` (``steptime.TableStepTime``; medians; ms → s).

    Both curves are indexed by x = prompt_size × batch_size of each row: prompt_time(x) for prefill
    steps of x tokens, token_time(x) for decode steps of x sequences (as SplitwiseSim reads them).
    The chunk-attention cost per pair comes from the rows measured both as one prompt and as a batch
    (``steptime.attention_s_per_pair``); SplitwiseSim itself never chunks, so it has none.

    Raises:
        SchemaError: missing columns or no rows for (model, hardware, tp).
    """
    path = reader.path_arg(path, "load_splitwise")
    need = ("model", "hardware", "prompt_size", "batch_size", "prompt_time", "token_time", "tensor_parallel")
    pre: dict[float, list[float]] = {}
    dec: dict[float, list[float]] = {}
    shape: dict[tuple[float, float], list[float]] = {}
    for lineno, r in _rows(path):
        missing = [c for c in need if c not in r]
        if missing:
            raise SchemaError(f"{path}: line {lineno}: missing columns {missing}")
        tp_row = reader.int_field(r["tensor_parallel"], f"{path}: line {lineno}", "tensor_parallel", lo=1)
        if r["model"] != model or r["hardware"] != hardware or tp_row != tp:
            continue
        bs = _num(path, lineno, "batch_size", r["batch_size"])
        ps = _num(path, lineno, "prompt_size", r["prompt_size"])
        x = ps * bs
        pt = _num(path, lineno, "prompt_time", r["prompt_time"]) / 1e3
        pre.setdefault(x, []).append(pt)
        shape.setdefault((ps, bs), []).append(pt)
        dec.setdefault(x, []).append(_num(path, lineno, "token_time", r["token_time"]) / 1e3)
    if not pre:
        raise SchemaError(f"{path}: no rows for model={model!r} hardware={hardware!r} tensor_parallel={tp}")
    xs = np.array(sorted(pre))
    try:
        table = TableStepTime(
            xs,
            np.array([float(np.median(pre[x])) for x in xs]),
            np.array([float(np.median(dec[x])) for x in xs]),
            source=f"Splitwise {model} {hardware} TP{tp} (SplitwiseSim's reading)",
            attn_s_per_token_pair=attention_s_per_pair({k: float(np.median(v)) for k, v in shape.items()}),
        )
    except ValidationError as exc:
        raise SchemaError(f"{path}: rows for {model}/{hardware}/TP{tp}: {exc}") from None
    return table


def splitwise_sim_setup(data_dir: Path) -> tuple[TableStepTime, EngineConfig]:
    """SplitwiseSim's whole baseline configuration: its perf model read its way (llama2-70b, one
    DGX-H100, TP8), its KV capacity (13,165 blocks of 16 tokens), 512 sequences, 2,048 batched
    tokens, prompts whole and first, no prefix cache (it has none).

    Raises:
        SchemaError: the perf model file is missing or malformed.
    """
    model = load_splitwise(data_dir / SPLITWISE_FILE)
    cfg = EngineConfig(
        max_num_seqs=512,
        max_batched_tokens=2048,
        kv_blocks=SPLITWISE_DGX_H100_KV_BLOCKS,
        block_tokens=16,
        prefix_cache=False,
        chunked_prefill=False,
    )
    return model, cfg

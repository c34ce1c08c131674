"""A ledger read as Arrow tables into an audit log and its records, in bulk (the fast path of ``from_records``).

Input: the ledger's four tables as the ledger writes them (``Ledger.export_parquet``: decisions,
candidates, outcomes, resource prices; schema in ``tokenomy.ledger.schema``) and, when they come from one
ledger file, that ledger's own per-request vectors (``Ledger.request_vectors``). Output: the
``AuditLog`` that ``from_records`` builds from the same records (``log_from_tables``, column by
column: tested equal), and the ``Decision`` / ``Outcome`` records the detectors read.

The records are built without re-running their constructors' checks: every row was checked when the
ledger accepted it. What a damaged file could still break is checked here in bulk (propensity in (0, 1],
the chosen index among the candidates, finite prices, a known layer, a candidate row for every index, a
time a date can name) and named as
``<where>: decision seq N (its id): ...``. Identical price vectors, metadata and candidates are built once
and shared (they are immutable). No I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from tokenomy.audit.detectors.base import reads_decision
from tokenomy.audit.importers.ledger import SET_BY_DECISION, STEP_KIND, capabilities
from tokenomy.audit.importers.ledger_checks import check_stored
from tokenomy.audit.log import STEP_COLUMNS, AuditLog, RequestTable, StepTable
from tokenomy.core.errors import SchemaError
from tokenomy.core.prices import PriceVector, ResourcePrice
from tokenomy.ledger import Candidate, Decision, Layer, Outcome
from tokenomy.ledger.records import TIME_S_MAX, TIME_S_MIN

__all__ = ["LedgerTables", "from_tables", "log_from_tables", "read_records"]


@dataclass(frozen=True, slots=True)
class LedgerTables:
    """The ledger's tables, and its own per-request vectors when read from one ledger (else ``None``)."""

    decisions: pa.Table
    candidates: pa.Table
    outcomes: pa.Table
    resource_prices: pa.Table
    vectors: pa.Table | None = None


_SETTERS: dict[type[Any], list[Any]] = {}  # record class -> the __set__ of each slot, in field order


def _trusted(cls: type[Any], values: tuple[Any, ...]) -> Any:
    """An instance of a frozen slotted record set field by field, its checks skipped (rows already checked)."""
    setters = _SETTERS.get(cls)
    if setters is None:
        setters = _SETTERS[cls] = [getattr(cls, name).__set__ for name in cls.__slots__]
    obj = object.__new__(cls)
    for put, value in zip(setters, values, strict=True):
        put(obj, value)
    return obj


def _col(t: pa.Table, name: str) -> list[Any]:
    out: list[Any] = t.column(name).to_pylist()
    return out


def _bad(
    where: str, dec: pa.Table, row: int, what: str, why: str = "the ledger file is damaged"
) -> SchemaError:
    seq, did = dec.column("seq")[row].as_py(), dec.column("decision_id")[row].as_py()
    return SchemaError(f"{where}: decision seq {seq} ({did}): {what}; {why}")


def _check(dec: pa.Table, where: str) -> None:
    n_cand = np.asarray(dec.column("n_candidates").fill_null(0), dtype=np.int64)
    chosen = np.asarray(dec.column("chosen_index").fill_null(-1), dtype=np.int64)
    prop = np.asarray(dec.column("propensity").fill_null(np.nan), dtype=np.float64)
    checks = [
        (~((prop > 0) & (prop <= 1)), "propensity must be in (0, 1]"),
        ((chosen < -1) | (chosen >= n_cand), "chosen_index must be a candidate index or null"),
    ]
    for name in ("v_usd", "lam_usd_per_s", "rho_usd", "rho_irr_usd", "time_s"):
        vals = np.asarray(dec.column(name).fill_null(np.nan), dtype=np.float64)
        checks.append(
            (~np.isfinite(vals) if name != "rho_irr_usd" else np.isinf(vals), f"{name} must be finite")
        )
    layer = dec.column("layer")
    unknown = ~np.asarray(pc.is_in(layer, value_set=pa.array([str(x) for x in Layer])), dtype=bool)
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        checks.append((unknown, f"unknown layer {layer[i].as_py()!r}"))
    for bad, what in checks:
        if bad.any():
            raise _bad(where, dec, int(np.flatnonzero(bad)[0]), what)
    time_s = np.asarray(dec.column("time_s"), dtype=np.float64)
    late = (time_s < TIME_S_MIN) | (time_s > TIME_S_MAX)
    if late.any():
        row = int(np.flatnonzero(late)[0])
        raise _bad(
            where,
            dec,
            row,
            f"time_s={float(time_s[row])!r} is not a usable time; expected Unix seconds in "
            f"[{TIME_S_MIN:.0f}, {TIME_S_MAX:.0f}] (years 1 to 9999 UTC)",
            "the file was written by an older tokenomy that did not bound times, or is damaged",
        )


def read_records(
    t: LedgerTables, where: str = "ledger", rows: NDArray[np.bool_] | None = None
) -> tuple[list[Decision], list[Outcome]]:
    """The ``Decision`` records of a ledger's tables (of the decision ``rows`` given, default all) and
    every ``Outcome`` record, in append order.

    Raises:
        SchemaError: a row a ledger could not have accepted (``where`` names the file).
    """
    dec, cand = t.decisions, t.candidates
    _check(dec, where)
    if rows is not None and not rows.all():
        keep = pa.array(rows)
        seqs = dec.column("seq").filter(keep)
        dec = dec.filter(keep)
        cand = cand.filter(pc.is_in(cand.column("decision_seq"), value_set=seqs))
    cands: dict[int, list[Candidate]] = {}
    cand_cache: dict[tuple[Any, ...], Candidate] = {}
    cols = ("name", "dq", "dc_usd", "dl_s", "dr", "dr_irr", "surplus_usd")
    for seq, *vals in zip(_col(cand, "decision_seq"), *(_col(cand, c) for c in cols), strict=True):
        key = tuple(vals)
        c = cand_cache.get(key)
        if c is None:
            c = cand_cache[key] = _trusted(Candidate, key)
        cands.setdefault(seq, []).append(c)
    res: dict[int, list[ResourcePrice]] = {}
    rcols = ("resource", "usd_per_unit", "unit", "source", "time_s")
    rp = t.resource_prices
    for seq, *vals in zip(_col(rp, "decision_seq"), *(_col(rp, c) for c in rcols), strict=True):
        res.setdefault(seq, []).append(ResourcePrice(*vals))
    pcols = ("v_usd", "lam_usd_per_s", "rho_usd", "rho_irr_usd", "v_source", "lam_source", "rho_source")
    prices: dict[tuple[Any, ...], PriceVector] = {}
    metas: dict[str, Mapping[str, Any]] = {}
    layers = {str(x): x for x in Layer}
    out: list[Decision] = []
    names = (
        "seq",
        "request_id",
        "layer",
        "decision_point",
        "chosen_index",
        "time_s",
        "tenant",
        "decision_id",
        "propensity",
        "metadata",
        "kind",
        "rho_irr_source",
        "prices_time_s",
    )
    for i, (
        seq,
        rid,
        layer,
        point,
        chosen,
        time_s,
        tenant,
        did,
        prop,
        meta,
        kind,
        rirr,
        pt,
        *pv,
    ) in enumerate(zip(*(_col(dec, c) for c in names), *(_col(dec, c) for c in pcols), strict=True)):
        mine = tuple(cands.get(seq, ()))
        if chosen is not None and chosen >= len(mine):
            raise _bad(where, dec, i, f"chosen_index {chosen} but {len(mine)} candidate rows")
        rs = tuple(res.get(seq, ()))
        pkey = (*pv, rirr, pt, rs)
        p = prices.get(pkey)
        if p is None:
            v, lam, rho, rho_irr, v_src, lam_src, rho_src = pv
            p = prices[pkey] = PriceVector(v, lam, rho, rho_irr, v_src, lam_src, rho_src, rirr, rs, pt)
        m = metas.get(meta)
        if m is None:
            m = metas[meta] = MappingProxyType(json.loads(meta))
        if layer not in layers:
            raise _bad(where, dec, i, f"unknown layer {layer!r}")
        out.append(
            _trusted(
                Decision,
                (rid, layers[layer], point, mine, chosen, p, time_s, tenant, did, prop, m, kind),
            )
        )
    outcomes: list[Outcome] = []
    ocols = tuple(f.name for f in fields(Outcome))  # in order; the last, metadata, is JSON text here
    for *vals, text in zip(*(_col(t.outcomes, c) for c in ocols), strict=True):
        om = metas.get(text)
        if om is None:
            om = metas[text] = MappingProxyType(json.loads(text))
        outcomes.append(_trusted(Outcome, (*vals, om)))
    return out, outcomes


def from_tables(t: LedgerTables, where: str = "ledger") -> tuple[AuditLog, list[Decision], list[Outcome]]:
    """The audit log of a ledger's tables, and the records of the decisions some detector reads
    (``detectors.reads_decision``: the others are only steps of the log) and of every outcome.

    Raises:
        SchemaError: a row a ledger could not have accepted (``where`` names the file).
    """
    check_stored(t.decisions, t.candidates, t.outcomes, where)
    dec = t.decisions
    key = pc.binary_join_element_wise(
        dec.column("layer"), dec.column("decision_point"), dec.column("kind"), "\x1f"
    )
    code, distinct = _codes(key)
    wanted = np.array([reads_decision(*k.split("\x1f")) for k in distinct], dtype=bool)
    decisions, outcomes = read_records(t, where, wanted[code] if len(code) else np.zeros(0, bool))
    return log_from_tables(t), decisions, outcomes


def _codes(arr: pa.ChunkedArray) -> tuple[NDArray[np.int64], list[Any]]:
    """Dictionary codes of a column (in first-appearance order) and its distinct values."""
    enc = pc.dictionary_encode(arr.combine_chunks())
    return np.asarray(enc.indices, dtype=np.int64), enc.dictionary.to_pylist()


def _obj(values: list[Any] | NDArray[Any]) -> NDArray[np.object_]:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def log_from_tables(t: LedgerTables) -> AuditLog:
    """The ``AuditLog`` that ``from_records`` builds from these tables' records, built column by column."""
    dec = t.decisions
    n = dec.num_rows
    rid_code, rids = _codes(dec.column("request_id"))
    # position within the request: a stable sort by request, then the rank inside each run
    order = np.argsort(rid_code, kind="stable")
    sorted_codes = rid_code[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_codes)) + 1] if n else np.zeros(0, np.int64)
    first_of = np.repeat(starts, np.diff(np.r_[starts, n])) if n else np.zeros(0, np.int64)
    index = np.empty(n, dtype=np.int64)
    index[order] = np.arange(n) - first_of
    rid = np.asarray(rids, dtype=object)[rid_code] if n else np.zeros(0, dtype=object)
    did = _obj(_col(dec, "decision_id"))
    blank = did == ""
    if blank.any():
        did[blank] = [f"{r}:{k}" for r, k in zip(rid[blank].tolist(), index[blank].tolist(), strict=True)]
    layer = _obj(_col(dec, "layer"))
    kind = np.array([STEP_KIND[x] for x in layer.tolist()], dtype=object)
    cols: dict[str, Any] = {
        name: np.full(n, default, dtype=dtype) for name, (dtype, default) in STEP_COLUMNS.items()
    }
    meta_code, metas = _codes(dec.column("metadata"))
    for k, text in enumerate(metas):
        m = json.loads(text)
        fill = [c for c in STEP_COLUMNS if c in m and c not in SET_BY_DECISION]
        if not fill and "kind" not in m:
            continue
        at = meta_code == k
        for c in fill:
            cols[c][at] = m[c]
        if "kind" in m:
            kind[at] = m["kind"]
    chosen = np.asarray(dec.column("chosen_index").fill_null(-1), dtype=np.int64)
    cost = np.zeros(n)
    picked = t.candidates.filter(
        pc.equal(
            t.candidates.column("idx"),
            pc.take(pa.array(chosen, pa.int64()), _rows_of(dec, t.candidates)),
        )
    )
    pos = _rows_of(dec, picked)
    cost[pos] = np.asarray(picked.column("dc_usd"), dtype=np.float64)
    cols.update(
        request_id=rid,
        step_id=did,
        index=index,
        time_s=np.asarray(dec.column("time_s"), dtype=np.float64),
        kind=kind,
        operation=_obj(_col(dec, "decision_point")),
        model=_obj([x or "" for x in _col(dec, "chosen_name")]),
        reported_cost_usd=cost,
    )
    steps = StepTable(**{c: np.asarray(cols[c], dtype=STEP_COLUMNS[c][0]) for c in STEP_COLUMNS})
    caps = capabilities(steps)
    return AuditLog(
        "ledger",
        steps,
        _requests(t, rid_code, rids, chosen),
        ("ledger input",),
        {"capabilities": tuple(caps), "prices_by_layer": _prices_by_layer(dec)},
    )


def _rows_of(dec: pa.Table, other: pa.Table) -> pa.Array:
    """For each row of ``other`` (keyed by ``decision_seq``), the row of its decision in ``dec``."""
    return pc.index_in(other.column("decision_seq"), value_set=dec.column("seq").combine_chunks())


def _requests(
    t: LedgerTables, rid_code: NDArray[np.int64], rids: list[Any], chosen: NDArray[np.int64]
) -> RequestTable:
    dec = t.decisions
    r, n = len(rids), dec.num_rows
    v = np.asarray(dec.column("v_usd"), dtype=np.float64)
    # per request, the first of its decisions with the largest V
    order = np.lexsort((np.arange(n), -v, rid_code))
    first = np.r_[True, rid_code[order][1:] != rid_code[order][:-1]] if n else np.zeros(0, bool)
    row = np.empty(r, dtype=np.int64)
    row[rid_code[order][first]] = order[first]

    def price(name: str) -> NDArray[np.float64]:
        return np.asarray(dec.column(name), dtype=np.float64)[row]

    def source(name: str) -> NDArray[np.object_]:
        return _obj(np.asarray(_col(dec, name), dtype=object)[row])

    rho = price("rho_usd")
    quality, harm, harm_irr = _labels(t, rid_code, rids, chosen)
    return RequestTable(
        request_id=_obj(rids),
        v_usd=price("v_usd"),
        lam_usd_per_s=price("lam_usd_per_s"),
        rho_usd=rho,
        rho_irr_usd=np.maximum(price("rho_irr_usd"), rho),
        quality=quality,
        harm=harm,
        harm_irr=harm_irr,
        sources={p: source(f"{p}_source") for p in ("v", "lam", "rho", "rho_irr")},
        group=_obj([""] * r),
    )


def _labels(
    t: LedgerTables, rid_code: NDArray[np.int64], rids: list[Any], chosen: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Per request, quality and harm summed over its realised outcomes (NaN without any): those with no
    candidate name, or, in a request without such a row, those of a candidate it chose."""
    out = t.outcomes
    r = len(rids)
    nan = np.full(r, np.nan)
    if out.num_rows == 0:
        return nan, nan.copy(), nan.copy()
    req = np.asarray(
        pc.index_in(out.column("request_id"), value_set=pa.array(rids, pa.string())).fill_null(-1)
    )
    cand = _obj(_col(out, "candidate"))
    plain = cand == ""
    has_plain = np.zeros(r, bool)
    has_plain[req[plain & (req >= 0)]] = True
    dec = t.decisions
    sep = "\x1f"
    chose = pc.binary_join_element_wise(
        dec.column("request_id"), dec.column("chosen_name").fill_null(""), sep
    )
    pair = pc.binary_join_element_wise(out.column("request_id"), out.column("candidate"), sep)
    of_chosen = np.asarray(pc.is_in(pair, value_set=chose.combine_chunks()), dtype=bool)
    ok = (req >= 0) & (plain | (~has_plain[np.maximum(req, 0)] & of_chosen))
    labelled = np.zeros(r, bool)
    labelled[req[ok]] = True
    sums = []
    for name in ("quality", "harm", "harm_irr"):
        acc = np.zeros(r)
        np.add.at(acc, req[ok], np.asarray(out.column(name), dtype=np.float64)[ok])
        sums.append(np.where(labelled, acc, np.nan))
    del rid_code, chosen
    return sums[0], sums[1], sums[2]


def _prices_by_layer(dec: pa.Table) -> dict[str, dict[str, Any]]:
    """Per layer, the arrays of each Eq. 1 price and its source over its decisions (for the report)."""
    layer = np.asarray(_col(dec, "layer"), dtype=object)
    out: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(layer.tolist()):
        at = layer == name
        out[str(name)] = {
            p: (
                np.asarray(dec.column(p), dtype=np.float64)[at],
                np.asarray(_col(dec, f"{s}_source"), dtype=object)[at].astype(str),
            )
            for p, s in (("v_usd", "v"), ("lam_usd_per_s", "lam"), ("rho_usd", "rho"))
        }
    return out

"""Decision records to the ledger's Arrow tables and back (``store`` writes and reads these).

``decision_tables`` turns ``Decision`` objects into the three tables one decision spans (decisions,
candidates, resource prices); ``decisions_from_tables`` rebuilds the records, their ``PriceVector``
(with its resource prices) included, equal to what was written. No I/O: the store moves the tables.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa

from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import PriceVector, ResourcePrice
from tokenomy.ledger import schema
from tokenomy.ledger.metadata import metadata_json
from tokenomy.ledger.records import Candidate, Decision, Layer

__all__ = ["decision_tables", "decisions_from_tables", "metadata_json"]

_CANDIDATE_FIELDS = ("name", "dq", "dc_usd", "dl_s", "dr", "dr_irr", "surplus_usd")
_RESOURCE_FIELDS = ("resource", "usd_per_unit", "unit", "source", "time_s")


def decision_tables(
    rows: Sequence[Decision], ids: Sequence[str], first_seq: int
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Arrow tables (decisions, candidates, resource prices) of ``rows`` numbered from ``first_seq``."""
    seqs = range(first_seq, first_seq + len(rows))
    prices = [d.prices for d in rows]
    dec = pa.table(
        {
            "seq": list(seqs),
            "decision_id": list(ids),
            "time_s": [d.time_s for d in rows],
            "request_id": [d.request_id for d in rows],
            "tenant": [d.tenant for d in rows],
            "layer": [d.layer.value for d in rows],
            "decision_point": [d.decision_point for d in rows],
            "chosen_index": [d.chosen for d in rows],
            "chosen_name": [d.chosen_name for d in rows],
            "n_candidates": [len(d.candidates) for d in rows],
            "propensity": [d.propensity for d in rows],
            "v_usd": [p.v_usd for p in prices],
            "lam_usd_per_s": [p.lam_usd_per_s for p in prices],
            "rho_usd": [p.rho_usd for p in prices],
            "rho_irr_usd": [p.rho_irr for p in prices],
            "v_source": [p.v_source.value for p in prices],
            "lam_source": [p.lam_source.value for p in prices],
            "rho_source": [p.rho_source.value for p in prices],
            "rho_irr_source": [p.rho_irr_source.value for p in prices],
            "metadata": [
                metadata_json(d.metadata, f"decision {i} for request {d.request_id!r}")
                for i, d in zip(ids, rows, strict=True)
            ],
            "kind": [d.kind for d in rows],
            "prices_time_s": [p.time_s for p in prices],
        },
        schema=schema.DECISIONS,
    )
    cands = [(s, j, c) for s, d in zip(seqs, rows, strict=True) for j, c in enumerate(d.candidates)]
    cand = pa.table(
        {
            "decision_seq": [s for s, _, _ in cands],
            "idx": [j for _, j, _ in cands],
            **{f: [getattr(c, f) for _, _, c in cands] for f in _CANDIDATE_FIELDS},
        },
        schema=schema.CANDIDATES,
    )
    res = [
        (s, j, i, r.as_dict())
        for s, i, p in zip(seqs, ids, prices, strict=True)
        for j, r in enumerate(p.resources)
    ]
    resources = pa.table(
        {
            "decision_seq": [s for s, _, _, _ in res],
            "idx": [j for _, j, _, _ in res],
            "decision_id": [i for _, _, i, _ in res],
            **{f: [r[f] for _, _, _, r in res] for f in _RESOURCE_FIELDS},
        },
        schema=schema.RESOURCE_PRICES,
    )
    return dec, cand, resources


def decisions_from_tables(
    dec: pa.Table, candidates: Sequence[Mapping[str, Any]], resources: Sequence[Mapping[str, Any]]
) -> Iterator[Decision]:
    """The ``Decision`` records of a decisions table, given its candidate and resource-price rows."""
    by_seq: dict[int, list[Candidate]] = {}
    for c in candidates:
        by_seq.setdefault(c["decision_seq"], []).append(Candidate(*(c[f] for f in _CANDIDATE_FIELDS)))
    res_by_seq: dict[int, list[ResourcePrice]] = {}
    for r in resources:
        res_by_seq.setdefault(r["decision_seq"], []).append(ResourcePrice(*(r[f] for f in _RESOURCE_FIELDS)))
    for r in dec.to_pylist():
        prices = PriceVector(
            r["v_usd"],
            r["lam_usd_per_s"],
            r["rho_usd"],
            r["rho_irr_usd"],
            r["v_source"],
            r["lam_source"],
            r["rho_source"],
            r["rho_irr_source"],
            tuple(res_by_seq.get(r["seq"], ())),
            r["prices_time_s"],
        )
        try:
            record = _decision(r, by_seq, prices)
        except ValidationError as exc:  # a stored row: name it as the file numbers it
            raise ValidationError(f"decision seq {r['seq']} ({r['decision_id']}): {exc}") from None
        yield record


def _decision(r: Mapping[str, Any], by_seq: Mapping[int, list[Candidate]], prices: PriceVector) -> Decision:
    return Decision(
        r["request_id"],
        Layer(r["layer"]),
        r["decision_point"],
        tuple(by_seq.get(r["seq"], ())),
        r["chosen_index"],
        prices,
        r["time_s"],
        r["tenant"],
        r["decision_id"],
        r["propensity"],
        json.loads(r["metadata"]),
        r["kind"],
    )

"""The bulk ledger reader (``audit.importers.ledger_tables``) against the record-by-record path.

One ledger file holding every layer (routing with counterfactual outcomes, agent steps with step columns
in their metadata, serving, RL rollout batches, cache decisions, resource prices, several decisions per
request at different V) is audited both ways: the audit log's columns, the decisions the detectors read
and the whole JSON payload must be equal. A damaged file is a one-line error naming it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

from tokenomy.audit.engine import run_audit
from tokenomy.audit.importers.ledger import from_records
from tokenomy.audit.log import STEP_COLUMNS
from tokenomy.audit.pricing import StaticPriceTable
from tokenomy.core import PriceVector, TokenUse
from tokenomy.core.errors import SchemaError
from tokenomy.core.prices import PriceSource, ResourcePrice
from tokenomy.interfaces.cli import main
from tokenomy.interfaces.loaders.audit_ledger import read_ledger
from tokenomy.ledger import Decision, DecisionBatch, Layer, Ledger, Outcome

PRICES = StaticPriceTable.from_override(
    {"models": {"m": {"input_usd_per_mtok": 1.0, "output_usd_per_mtok": 2.0}}}
)


def build(path: Path) -> None:
    rng = np.random.default_rng(0)
    decisions: list[Decision] = []
    outcomes: list[Outcome] = []
    for i in range(40):  # routing: two decisions per request at different V, some counterfactuals
        rid = f"route-{i}"
        for v in (1.0, 10.0 * (i % 3 + 1)):
            uses = [TokenUse("cheap", 0.6, 0.01), TokenUse("strong", 0.9, 0.2, dl_s=0.5)]
            p = PriceVector(v_usd=v, lam_usd_per_s=0.01, v_source="user")
            if i % 7 == 0:
                p = p.with_resources(ResourcePrice("prefill_token", 1e-7, "token"))
            decisions.append(
                Decision.from_uses(
                    rid, "demand", "route", uses, p, propensity=0.5 + 0.4 * (i % 2), tenant="t"
                )
            )
        if i % 4 == 0:
            outcomes += [
                Outcome(rid, 1.0, 0.01, candidate="cheap"),
                Outcome(rid, 0.0, 0.2, candidate="strong"),
            ]
        elif i % 4 == 1:
            outcomes.append(Outcome(rid, float(rng.random() < 0.5), 0.0, metadata={"graded": True}))
    for i in range(10):  # agent steps carrying step columns in their metadata
        for k, cls in enumerate(("read", "edit", "test", "commit")):
            meta: dict[str, Any] = {"action_class": cls, "kind": "tool", "confirmed": k % 2, "correct": 1}
            if k == 0:
                meta.update(model="m", input_tokens=100 * (i + 1), output_tokens=10, malformed=i == 3)
            decisions.append(
                Decision.from_uses(
                    f"task-{i}",
                    "action",
                    f"step-{k}",
                    [TokenUse("act", 0.0, 0.001 * k)],
                    PriceVector(v_usd=5.0, rho_usd=2.0, rho_irr_usd=4.0),
                    chosen=0,
                    metadata=meta,
                )
            )
        outcomes.append(
            Outcome(f"task-{i}", float(i % 2), 0.0, harm=0.1 * (i % 3 + 1), harm_irr=0.05 * (i % 2))
        )
    serve = [TokenUse("admit-now", 0.5, 0.1, dl_s=2.0), TokenUse("defer", 0.45, 0.1)]
    for i in range(6):
        p = PriceVector(v_usd=1.0, lam_usd_per_s=1.0)
        decisions.append(Decision.from_uses(f"s{i}", "supply", "admit", serve, p, chosen=i % 2))
        action = ("admit", "refuse", "keep", "evict")[i % 4]
        decisions.append(
            Decision.from_uses(
                f"cache-{i // 4}",
                "capital",
                f"cache-{action}",
                [TokenUse("rent", 0.0, 0.05), TokenUse("value", 0.0, 0.01 * (i + 1))],
                PriceVector(v_usd=1.0),
                chosen=0,
                time_s=float(i // 4),
                kind="cache-write",
                metadata={"policy": "lru", "block": i},
            )
        )
    with Ledger(path) as ledger:
        ledger.append(decisions)
        ledger.append_outcomes(outcomes)
        for point, kind, meta in (("rollout-sample", "rollout", {}), ("rollout-use", "update", STALE)):
            ledger.append_batch(rl_batch(point, kind, meta, rng))


STALE = {"staleness_versions": 3, "drift_per_version": 0.3, "tokens": 40}


def rl_batch(point: str, kind: str, meta: dict[str, Any], rng: np.random.Generator) -> DecisionBatch:
    """30 groups of an RL run as the capital layer writes them (one candidate, some groups dropped)."""
    n = 30
    zeros = np.zeros((n, 1))
    return DecisionBatch(
        request_ids=np.array([f"run/v{k // 3}/s{k // 3 + 2}/g{k % 3}" for k in range(n)], dtype=object),
        layer=Layer.CAPITAL,
        decision_point=point,
        names=("train",),
        dq=rng.uniform(0.0, 0.25, (n, 1)),
        dc_usd=np.full((n, 1), 4e-5),
        dl_s=zeros,
        dr=zeros,
        dr_irr=zeros,
        chosen=np.where(rng.uniform(size=n) < 0.7, 0, -1).astype(np.int64),
        v_usd=np.full(n, 1.5e-3),
        lam_usd_per_s=np.zeros(n),
        rho_usd=np.zeros(n),
        rho_irr_usd=np.zeros(n),
        time_s=np.arange(n, dtype=np.float64),
        sources={"v_source": PriceSource.OPERATOR},
        kind=kind,
        metadata={"policy": "x", **meta},
    )


def test_the_bulk_reader_gives_the_record_by_record_audit(tmp_path: Path) -> None:
    path = tmp_path / "all.duckdb"
    build(path)
    with Ledger(path, read_only=True) as ledger:
        d0, o0 = list(ledger.decisions()), list(ledger.outcomes())
    log, d1, o1, vectors = read_ledger(path)
    assert o1 == o0 and [dict(o.metadata) for o in o1] == [dict(o.metadata) for o in o0]
    # the records built are exactly those some detector reads, equal to the checked ones
    wanted = [d for d in d0 if d.layer in ("demand", "supply") or d.layer == "capital"]
    wanted = [d for d in wanted if d.layer != "capital" or d.kind == "update" or "cache" in d.decision_point]
    assert d1 == wanted and [dict(d.metadata) for d in d1] == [dict(d.metadata) for d in wanted]
    ref = from_records(d0, o0)
    for c in STEP_COLUMNS:
        a, b = getattr(ref.steps, c), getattr(log.steps, c)
        assert a.dtype == b.dtype and len(a) == len(b), c
        assert all(x == y or (x != x and y != y) for x, y in zip(a.tolist(), b.tolist(), strict=True)), c
    assert log.steps.malformed.sum() == 1 and (log.steps.action_class == "commit").sum() == 10
    for c in (
        "request_id",
        "v_usd",
        "lam_usd_per_s",
        "rho_usd",
        "rho_irr_usd",
        "quality",
        "harm",
        "harm_irr",
    ):
        a, b = getattr(ref.requests, c), getattr(log.requests, c)
        assert np.array_equal(a, b) if a.dtype == object else np.allclose(a, b, equal_nan=True), c
    assert all((ref.requests.sources[k] == log.requests.sources[k]).all() for k in ref.requests.sources)
    slow = run_audit(ref, PRICES, decisions=d0, outcomes=o0).as_dict()
    fast = run_audit(log, PRICES, decisions=d1, outcomes=o1, ledger_vectors=vectors).as_dict()
    assert json.dumps(fast, sort_keys=True, default=str) == json.dumps(slow, sort_keys=True, default=str)
    applicable = {m for m, f in fast["failure_modes"].items() if f["applicable"]}
    assert {"over_routing", "serving_congestion", "stale_rollouts", "cache_misuse"} <= applicable
    assert set(fast["prices_by_layer"]) == {"demand", "action", "supply", "capital"}


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            "UPDATE decisions SET propensity = 2.0 WHERE seq = 3",
            r"decision seq 3 \(d3\): propensity must be in \(0, 1\]",
        ),
        (
            "UPDATE decisions SET chosen_index = 7 WHERE seq = 5",
            r"decision seq 5 \(d5\): chosen_index must be a candidate",
        ),
        ("UPDATE decisions SET v_usd = 'nan' WHERE seq = 0", r"decision seq 0 \(d0\): v_usd must be finite"),
        (
            "DELETE FROM candidates WHERE decision_seq = 2 AND idx = 1",
            r"decision seq 2 \(d2\): chosen_index 1 but 1",
        ),
        ("UPDATE decisions SET layer = 'moon' WHERE seq = 4", r"decision seq 4 \(d4\): unknown layer 'moon'"),
    ],
)
def test_a_damaged_ledger_is_one_line_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sql: str, message: str
) -> None:
    path = tmp_path / "bad.duckdb"
    build(path)
    with duckdb.connect(str(path)) as con:
        con.execute(sql)
    with pytest.raises(SchemaError, match=r"bad\.duckdb: " + message):
        read_ledger(path)
    assert main(["audit", str(path)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.duckdb" in err[0] and "Traceback" not in err[0]


def test_several_ledgers_at_once_go_record_by_record_with_the_same_figures(tmp_path: Path) -> None:
    one, empty = tmp_path / "one.duckdb", tmp_path / "empty.duckdb"
    build(one)
    Ledger(empty).close()
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["audit", str(one), "--json", str(a)]) == 0
    assert main(["audit", str(one), str(empty), "--json", str(b)]) == 0
    fa, fb = json.loads(a.read_text()), json.loads(b.read_text())
    for key in ("totals", "failure_modes", "prices_by_layer", "requests"):
        assert fa[key] == fb[key], key

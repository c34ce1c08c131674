"""Ledger: round trip, atomic appends, regret and per-request vectors against hand-computed values."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from tokenomy.core import NULL, LedgerError, PriceSource, PriceVector, TokenUse, ValidationError, choose_many
from tokenomy.ledger import Candidate, Decision, DecisionBatch, Layer, Ledger, Outcome

USES = [TokenUse("cheap", 0.7, 1.0, dl_s=0.5, dr=0.05), TokenUse("frontier", 0.9, 5.0, dl_s=2.0, dr=0.01)]


def _decision(rid: str, v: float, **kw: object) -> Decision:
    prices = PriceVector(
        v,
        0.1,
        50.0,
        v_source=PriceSource.USER,
        lam_source=PriceSource.SLA,
        rho_source=PriceSource.SAFETY_POLICY,
    )
    return Decision.from_uses(rid, "demand", "route", USES, prices, tenant="t1", **kw)  # type: ignore[arg-type]


def test_round_trip_of_decisions_and_outcomes_through_a_file(tmp_path: Path) -> None:
    path = tmp_path / "l.duckdb"
    decisions = [
        _decision("a", 10.0, metadata={"note": "x"}),
        _decision("b", 100.0, time_s=3.5),
        Decision("c", Layer.ACTION, "step-1", (), None, PriceVector(v_usd=1.0), decision_id="custom"),
    ]
    outcomes = [
        Outcome("a", 1.0, 1.0, latency_s=0.4, harm=0.2, harm_irr=0.1, harm_events=1, metadata={"k": 1}),
        Outcome("a", 0.0, 5.0, candidate="frontier", observed=False),
    ]
    with Ledger(path) as ledger:
        ids = ledger.append(decisions)
        ledger.append_outcomes(outcomes)
    assert ids == ["d0", "d1", "custom"]
    with Ledger(path, read_only=True) as ledger:
        back = list(ledger.decisions())
        assert [d.decision_id for d in back] == ids
        for d0, d1 in zip(decisions, back, strict=True):
            assert (d0.request_id, d0.layer, d0.candidates, d0.chosen, d0.prices, d0.time_s, d0.tenant) == (
                d1.request_id,
                d1.layer,
                d1.candidates,
                d1.chosen,
                d1.prices,
                d1.time_s,
                d1.tenant,
            )
            assert dict(d0.metadata) == dict(d1.metadata)
        assert back[0].prices.v_source is PriceSource.USER
        assert list(ledger.outcomes()) == outcomes
        assert dict(next(ledger.outcomes("a")).metadata) == {"k": 1}
    with Ledger(path) as ledger:  # reopening continues the sequence
        assert ledger.append([_decision("d", 1.0)]) == ["d3"]


def test_regret_and_request_vectors_match_hand_computation() -> None:
    ledger = Ledger()
    ledger.append([_decision("low", 10.0), _decision("mid", 30.0)])
    # low: V=10 → cheap chosen (7−1−0.05−2.5 = 3.45 vs 9−5−0.2−0.5 = 3.3); cheap failed, frontier would have succeeded
    ledger.append_outcomes(
        [
            Outcome("low", 0.0, 1.0, latency_s=0.5, harm=0.0),
            Outcome("low", 1.0, 5.0, latency_s=2.0, candidate="frontier"),
            # mid: frontier chosen; both succeed; cheap would have been better
            Outcome("mid", 1.0, 5.0, latency_s=2.0, harm=0.01),
            Outcome("mid", 1.0, 1.0, latency_s=0.5, candidate="cheap"),
        ]
    )
    reg = {r["request_id"]: r for r in ledger.regret().to_pylist()}
    assert reg["low"]["chosen_name"] == "cheap"
    assert reg["low"]["realised_utility_usd"] == pytest.approx(-1.05)
    assert reg["low"]["best_utility_usd"] == pytest.approx(10 - 5 - 0.2)
    assert reg["low"]["regret_usd"] == pytest.approx(4.8 + 1.05)
    assert reg["low"]["best_candidate"] == "frontier"
    assert reg["mid"]["realised_utility_usd"] == pytest.approx(30 - 5 - 0.2 - 0.5)
    assert reg["mid"]["regret_usd"] == pytest.approx((30 - 1 - 0.05) - 24.3)
    vec = {r["request_id"]: r for r in ledger.request_vectors().to_pylist()}
    assert vec["mid"]["value_usd"] == 30.0 and vec["mid"]["cost_usd"] == 5.0
    assert vec["mid"]["latency_cost_usd"] == pytest.approx(0.2) and vec["mid"][
        "risk_cost_usd"
    ] == pytest.approx(0.5)
    assert vec["mid"]["utility_usd"] == pytest.approx(24.3)
    s = ledger.summary()
    assert s["totals"]["welfare_usd"] == pytest.approx(24.3 - 1.05)
    assert s["decisions_by_layer"] == {"demand": 2}


def test_null_option_regret_counts_the_forgone_best() -> None:
    ledger = Ledger()
    ledger.append([_decision("r", 1.0, chosen=None)])
    ledger.append_outcomes([Outcome("r", 0.0, 0.0), Outcome("r", 1.0, 1.0, candidate="cheap", latency_s=0.5)])
    row = ledger.regret().to_pylist()[0]
    assert row["chosen_name"] is None and row["realised_utility_usd"] == 0.0
    assert row["regret_usd"] == pytest.approx(0.0)  # 1·1 − 1 − 0.05 < 0: spending nothing was right


def test_decision_without_outcome_has_null_regret() -> None:
    ledger = Ledger()
    ledger.append([_decision("r", 10.0)])
    row = ledger.regret().to_pylist()[0]
    assert row["regret_usd"] is None and row["candidates_observed"] == 0


def _count(ledger: Ledger) -> tuple[int, int, int]:
    return ledger.count("decisions"), ledger.count("candidates"), ledger.count("outcomes")


def test_a_bad_batch_writes_nothing() -> None:
    ledger = Ledger()
    ledger.append([_decision("a", 10.0, decision_id="x1")])
    ledger.append_outcomes([Outcome("a", 1.0, 1.0)])
    before = _count(ledger)
    with pytest.raises(LedgerError, match="x1"):
        ledger.append([_decision("b", 1.0), _decision("c", 1.0, decision_id="x1")])
    with pytest.raises(LedgerError, match="twice"):
        ledger.append([_decision("b", 1.0, decision_id="y"), _decision("c", 1.0, decision_id="y")])
    with pytest.raises(ValidationError, match="record 1"):
        ledger.append([_decision("b", 1.0), "not a decision"])  # type: ignore[list-item]
    with pytest.raises(LedgerError, match="ghost"):
        ledger.append_outcomes([Outcome("a", 1.0, 2.0), Outcome("ghost", 1.0, 1.0)])
    with pytest.raises(LedgerError, match="nope"):
        ledger.append_outcomes([Outcome("a", 1.0, 2.0, decision_id="nope")])
    with pytest.raises(ValidationError, match="metadata"):
        ledger.append([_decision("b", 1.0, metadata={"f": object()})])
    assert _count(ledger) == before
    assert ledger.append([_decision("b", 1.0)]) == ["d1"]  # the sequence was not consumed by failures


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"quality": math.nan}, "quality"),
        ({"cost_usd": -1.0}, "cost_usd"),
        ({"latency_s": math.inf}, "latency_s"),
        ({"harm": 0.1, "harm_irr": 0.2}, "harm_irr"),
        ({"harm_events": -1}, "harm_events"),
    ],
)
def test_bad_outcome_fields_raise_naming_the_field(kwargs: dict[str, float], match: str) -> None:
    base: dict[str, object] = {"request_id": "r", "quality": 1.0, "cost_usd": 1.0}
    with pytest.raises(ValidationError, match=match):
        Outcome(**{**base, **kwargs})  # type: ignore[arg-type]


def test_bad_decision_fields_raise() -> None:
    p = PriceVector(v_usd=1.0)
    cand = (Candidate("a", 0.5, 1.0),)
    with pytest.raises(ValidationError, match="layer"):
        Decision("r", "marketing", "x", cand, 0, p)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="chosen"):
        Decision("r", Layer.DEMAND, "route", cand, 3, p)
    with pytest.raises(ValidationError, match="unique"):
        Decision("r", Layer.DEMAND, "route", cand * 2, 0, p)
    with pytest.raises(ValidationError, match="request_id"):
        Decision("", Layer.DEMAND, "route", cand, 0, p)
    with pytest.raises(ValidationError, match="dc_usd"):
        Candidate("a", 0.5, -1.0)


def _batch(n: int, seed: int = 0) -> DecisionBatch:
    rng = np.random.default_rng(seed)
    v = rng.exponential(10, n)
    dq, dc = rng.random((n, 3)), rng.random((n, 3))
    zeros = np.zeros((n, 3))
    idx, _ = choose_many(v, dq, dc)
    return DecisionBatch(
        [f"r{i}" for i in range(n)],
        Layer.DEMAND,
        "route",
        ("a", "b", "c"),
        dq,
        dc,
        zeros,
        zeros,
        zeros,
        idx,
        v,
        np.zeros(n),
        np.zeros(n),
        np.zeros(n),
        np.arange(n, dtype=float),
    )


def test_columnar_batch_equals_object_path() -> None:
    batch = _batch(50)
    fast, slow = Ledger(), Ledger()
    fast.append_batch(batch)
    slow.append(
        [
            Decision(
                batch.request_ids[i],
                Layer.DEMAND,
                "route",
                tuple(
                    Candidate(
                        n,
                        batch.dq[i, j],
                        batch.dc_usd[i, j],
                        surplus_usd=batch.v_usd[i] * batch.dq[i, j] - batch.dc_usd[i, j],
                    )
                    for j, n in enumerate(batch.names)
                ),
                None if batch.chosen[i] == NULL else int(batch.chosen[i]),
                PriceVector(v_usd=batch.v_usd[i]),
                time_s=float(i),
            )
            for i in range(50)
        ]
    )
    a, b = list(fast.decisions()), list(slow.decisions())
    assert [(x.request_id, x.chosen, x.prices.v_usd) for x in a] == [
        (x.request_id, x.chosen, x.prices.v_usd) for x in b
    ]
    for x, y in zip(a, b, strict=True):
        for c1, c2 in zip(x.candidates, y.candidates, strict=True):
            assert c1.surplus_usd == pytest.approx(c2.surplus_usd, rel=1e-12)


def test_bad_batch_is_rejected_whole() -> None:
    ledger = Ledger()
    bad = _batch(10)
    bad.dc_usd[4, 1] = -1.0
    with pytest.raises(ValidationError, match="dc_usd"):
        ledger.append_batch(bad)
    assert _count(ledger) == (0, 0, 0)


def test_row_metadata_is_merged_over_the_batch_metadata_row_by_row() -> None:
    from dataclasses import replace

    ledger = Ledger()
    batch = replace(
        _batch(4),
        metadata={"run": "a", "lag": 2},
        row_metadata={"lag": np.array([0, 1, 2, 2]), "source": ["x", "y", "x", "y"]},
    )
    ledger.append_batch(batch)
    got = [(d.metadata["run"], d.metadata["lag"], d.metadata["source"]) for d in ledger.decisions()]
    assert got == [("a", 0, "x"), ("a", 1, "y"), ("a", 2, "x"), ("a", 2, "y")]
    short = replace(_batch(4), row_metadata={"lag": np.array([0, 1])})
    with pytest.raises(
        ValidationError, match=r"row_metadata\['lag'\] must hold one value per row, shape \(4,\); got \(2,\)"
    ):
        ledger.append_batch(short)
    with pytest.raises(ValidationError, match=r"shape \(4,\); got \(4, 2\)"):
        ledger.append_batch(replace(_batch(4), row_metadata={"lag": np.zeros((4, 2))}))
    unjson = replace(_batch(4), row_metadata={"x": [object()] * 4})
    with pytest.raises(ValidationError, match="JSON-serialisable"):
        ledger.append_batch(unjson)
    assert _count(ledger)[0] == 4  # the bad batches wrote nothing


def test_parquet_export_holds_every_row(tmp_path: Path) -> None:
    ledger = Ledger()
    ledger.append_batch(_batch(20))
    ledger.append_outcomes([Outcome("r3", 1.0, 0.5)])
    paths = ledger.export_parquet(tmp_path / "pq")
    assert pq.read_table(paths["decisions"]).num_rows == 20
    assert pq.read_table(paths["candidates"]).num_rows == 60
    assert pq.read_table(paths["outcomes"]).column("request_id").to_pylist() == ["r3"]


def test_schema_version_mismatch_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    Ledger(path).close()
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(LedgerError, match="schema version"):
        Ledger(path)


def test_outcome_arrays_equal_outcome_objects_and_are_atomic() -> None:
    a, b = Ledger(), Ledger()
    for ledger in (a, b):
        ledger.append_batch(_batch(5))
    a.append_outcome_arrays([f"r{i}" for i in range(5)], [1, 0, 1, 0, 1], [0.1] * 5, latency_s=0.5)
    b.append_outcomes([Outcome(f"r{i}", float(q), 0.1, latency_s=0.5) for i, q in enumerate([1, 0, 1, 0, 1])])
    assert list(a.outcomes()) == list(b.outcomes())
    assert a.regret().to_pylist() == b.regret().to_pylist()
    with pytest.raises(ValidationError, match="cost_usd"):
        a.append_outcome_arrays(["r0", "r1"], [1, 1], [0.1, -0.1])
    with pytest.raises(LedgerError, match="ghost"):
        a.append_outcome_arrays(["r0", "ghost"], [1, 1], [0.1, 0.1])
    assert a.count("outcomes") == 5


def test_outcome_arrays_with_decision_ids_bind_to_one_decision_and_check_them() -> None:
    a, b = Ledger(), Ledger()
    for ledger in (a, b):
        ledger.append_batch(_batch(3))
    ids = [d.decision_id for d in a.decisions()]
    a.append_outcome_arrays(["r0", "r1", "r2"], [1, 0, 1], [0.1] * 3, decision_id=ids)
    b.append_outcomes([Outcome(f"r{i}", float(q), 0.1, decision_id=ids[i]) for i, q in enumerate([1, 0, 1])])
    assert list(a.outcomes()) == list(b.outcomes())
    assert [o.decision_id for o in a.outcomes()] == ids
    with pytest.raises(LedgerError, match="nope"):
        a.append_outcome_arrays(["r0"], [1], [0.1], decision_id=["nope"])
    with pytest.raises(ValidationError, match="decision_id has 1 entries; expected 2"):
        a.append_outcome_arrays(["r0", "r1"], [1, 1], [0.1, 0.1], decision_id=[ids[0]])
    assert a.count("outcomes") == 3


def test_regret_reads_prices_and_outcomes_by_seq_whatever_the_storage_order() -> None:
    ledger = Ledger()
    ledger.append([_decision("low", 10.0), _decision("mid", 30.0)])
    ledger.append_outcomes([Outcome("low", 0.0, 1.0), Outcome("mid", 1.0, 5.0, latency_s=2.0)])
    want = ledger.regret()
    assert want.schema.field("best_candidate").type == "string"
    con = ledger._db._kept  # rewrite the tables in reverse storage order: seq no longer equals position
    assert con is not None
    for table in ("decisions", "outcomes"):
        con.execute(f"CREATE TEMP TABLE _r AS SELECT * FROM {table} ORDER BY seq DESC")
        con.execute(f"DELETE FROM {table}")
        con.execute(f"INSERT INTO {table} SELECT * FROM _r")
        con.execute("DROP TABLE _r")
    assert ledger.regret().to_pylist() == want.to_pylist()

"""Schema migration: a version-1 file (written with the version-1 DDL) opens as version 2, losing nothing."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tokenomy.core import LedgerError
from tokenomy.core.prices import KV_BLOCK_SECOND, PREFILL_TOKEN
from tokenomy.ledger import SCHEMA_VERSION, Ledger

# The version-1 schema, as tokenomy wrote it (src/tokenomy/ledger/schema.py at version 1).
V1_DDL = """
CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE decisions (
  seq BIGINT, decision_id VARCHAR, time_s DOUBLE, request_id VARCHAR, tenant VARCHAR, layer VARCHAR,
  decision_point VARCHAR, chosen_index INTEGER, chosen_name VARCHAR, n_candidates INTEGER,
  propensity DOUBLE, v_usd DOUBLE, lam_usd_per_s DOUBLE, rho_usd DOUBLE, rho_irr_usd DOUBLE,
  v_source VARCHAR, lam_source VARCHAR, rho_source VARCHAR, rho_irr_source VARCHAR, metadata VARCHAR
);
CREATE TABLE candidates (
  decision_seq BIGINT, idx INTEGER, name VARCHAR, dq DOUBLE, dc_usd DOUBLE, dl_s DOUBLE, dr DOUBLE,
  dr_irr DOUBLE, surplus_usd DOUBLE
);
CREATE TABLE outcomes (
  seq BIGINT, request_id VARCHAR, decision_id VARCHAR, candidate VARCHAR, time_s DOUBLE, quality DOUBLE,
  cost_usd DOUBLE, latency_s DOUBLE, harm DOUBLE, harm_irr DOUBLE, harm_events INTEGER,
  observed BOOLEAN, metadata VARCHAR
);
INSERT INTO meta VALUES ('schema_version', '1');
"""

P_KV, P_PRE, E, H = 2e-6, 3e-7, 32, 512
TAU = [40.0, 10.0, 90.0]
V_TOK = 0.004


def _decision(
    seq: int, layer: str, point: str, v: float, meta: dict[str, Any], n: int, lam: float = 0.0
) -> tuple[Any, ...]:
    src = "discovered" if point in ("evict", "speculate") else "user"
    return (seq, f"d{seq}", float(seq), f"r{seq}", "", layer, point, 0, None, n, 1.0, v, lam, 0.0, 0.0,
            src, "default", "default", "default", json.dumps(meta, sort_keys=True, separators=(",", ":")))  # fmt: skip


def _v1_file(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute(V1_DDL)
    evict_meta = {"policy": "lru", "kv_usd_per_block_s": P_KV, "prefill_usd_per_token": P_PRE, "age_s": TAU}
    rows = [
        _decision(0, "demand", "route", 10.0, {"mode": "eq1"}, 2),
        _decision(1, "supply", "evict", P_KV, evict_meta, 3),  # v1: KV price filed as V
        _decision(2, "supply", "speculate", V_TOK, {}, 2, lam=0.5),  # v1: V per output token
        _decision(3, "supply", "order", 4.0, {"scheduler": "priced"}, 2, lam=0.01),
        _decision(4, "action", "step-3", 1.0, {}, 1),
        _decision(5, "action", "gate-approve", 1.0, {}, 1),
        _decision(6, "demand", "mystery", 1.0, {}, 1),
        _decision(7, "supply", "evict", 9.0, {"policy": "lfu"}, 1),  # an evict row of no known shape
    ]
    con.executemany(f"INSERT INTO decisions VALUES ({', '.join('?' * 20)})", rows)
    evict = [(f"block:{k}", E * t, P_PRE * H, P_KV * E * t - P_PRE * H) for k, t in enumerate(TAU)]
    spec = [(n, 1.0, t, t, V_TOK - t - 0.5 * t) for n, t in (("plain", 0.011), ("speculate", 0.006))]
    cands = (
        [(0, 0, "cheap", 0.7, 1.0, 0.0, 0.0, 0.0, 6.0), (0, 1, "frontier", 0.9, 5.0, 0.0, 0.0, 0.0, 4.0)]
        + [(1, j, n, q, c, 0.0, 0.0, 0.0, s) for j, (n, q, c, s) in enumerate(evict)]
        + [(2, j, n, q, c, dl, 0.0, 0.0, s) for j, (n, q, c, dl, s) in enumerate(spec)]
        + [(3, 0, "req:1", 1.5, 0.1, 2.0, 0.0, 0.0, 5.88), (3, 1, "req:2", 0.5, 0.1, 1.0, 0.0, 0.0, 1.89)]
        + [(s, 0, "go", 0.5, 0.1, 0.0, 0.0, 0.0, 0.4) for s in (4, 5, 6)]
        + [(7, 0, "block:9", 1.0, 0.0, 0.0, 0.0, 0.0, 9.0)]
    )
    con.executemany("INSERT INTO candidates VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", cands)
    con.execute(
        "UPDATE decisions SET chosen_name = (SELECT name FROM candidates WHERE decision_seq = seq AND idx = 0)"
    )
    con.execute(
        "INSERT INTO outcomes VALUES (0, 'r0', 'd0', '', 1.0, 1.0, 1.0, 0.5, 0.2, 0.1, 1, true, '{}')"
    )
    con.close()


def _dump(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


def test_a_version_1_file_migrates_in_place_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "v1.duckdb"
    _v1_file(path)
    con = duckdb.connect(str(path))
    before_out = _dump(con, "SELECT * FROM outcomes ORDER BY seq")
    before_dec = _dump(con, "SELECT * FROM decisions ORDER BY seq")
    before_cand = _dump(con, "SELECT * FROM candidates ORDER BY decision_seq, idx")
    con.close()
    with pytest.raises(LedgerError, match="open it once without read_only"):
        Ledger(path, read_only=True)
    with Ledger(path) as ledger:
        decisions = {d.decision_id: d for d in ledger.decisions()}
        assert len(decisions) == 8 and ledger.count("outcomes") == 1
        assert [decisions[f"d{i}"].kind for i in range(8)] == [
            "route", "evict", "speculate", "order", "step", "confirm", "unknown", "evict"
        ]  # fmt: skip
        # eviction: the KV price leaves V for a resource price, the prefill price joins it
        ev = decisions["d1"]
        assert ev.prices.v_usd == 0.0 and ev.prices.v_source.value == "default"
        kv, pre = ev.prices.resource(KV_BLOCK_SECOND), ev.prices.resource(PREFILL_TOKEN)
        assert kv is not None and kv.usd_per_unit == P_KV and kv.unit == "block·s" and kv.time_s == 1.0
        assert pre is not None and pre.usd_per_unit == P_PRE and pre.unit == "token"
        s_old = [P_KV * E * t - P_PRE * H for t in TAU]
        assert [c.surplus_usd for c in ev.candidates] == pytest.approx([s - max(s_old) for s in s_old])
        assert all(c.dq == 0.0 and c.dc_usd == -c.surplus_usd for c in ev.candidates)
        assert ev.metadata["hold_cost_usd"] == pytest.approx([P_KV * E * t for t in TAU])
        assert ev.metadata["reuse_value_usd"] == pytest.approx([P_PRE * H] * 3)
        assert ev.metadata["evict_surplus_usd"] == pytest.approx(s_old)
        assert ev.metadata["policy"] == "lru" and ev.metadata["migrated_from_version"] == 1
        # speculation: V per output token moves to metadata; Eq. 1 surplus restated at V = 0
        sp = decisions["d2"]
        assert sp.prices.v_usd == 0.0 and sp.metadata["v_usd_per_token"] == V_TOK
        assert [c.surplus_usd for c in sp.candidates] == pytest.approx(
            [-0.011 - 0.5 * 0.011, -0.006 - 0.5 * 0.006]
        )
        # rows that already held V are unchanged; the unknown-shape evict row is flagged, not changed
        assert decisions["d3"].prices.v_usd == 4.0 and "migrated_from_version" not in decisions["d3"].metadata
        odd = decisions["d7"]
        assert odd.prices.v_usd == 9.0 and odd.metadata["v1_v_usd_unverified"] is True
        assert ledger.summary()["schema_version"] == SCHEMA_VERSION
        with ledger._db.connection() as con:
            report = json.loads(con.execute("SELECT value FROM meta WHERE key = 'migration_v1_to_v2'").fetchall()[0][0])  # fmt: skip
        assert report == {
            "decisions": 8,
            "evict_restated": 1,
            "flagged_unverified": 1,
            "kind_unknown": 1,
            "resource_prices_written": 2,
            "speculate_restated": 1,
        }
        assert ledger.append([replace(decisions["d0"], decision_id="new")]) == ["new"]
    con = duckdb.connect(str(path))
    assert _dump(con, "SELECT value FROM meta WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]
    assert _dump(con, "SELECT * FROM outcomes ORDER BY seq") == before_out
    after_dec = _dump(con, "SELECT * EXCLUDE (kind, prices_time_s) FROM decisions WHERE seq < 8 ORDER BY seq")
    after_cand = _dump(con, "SELECT * FROM candidates WHERE decision_seq < 8 ORDER BY decision_seq, idx")
    con.close()
    # untouched rows are byte-identical; restated ones keep identity, names and every old value recoverably
    for old, new in zip(before_dec, after_dec, strict=True):
        if old[0] in (1, 2, 7):
            assert old[:11] == new[:11] and old[12:15] == new[12:15]
            assert json.loads(old[19]).items() <= json.loads(new[19]).items()
        else:
            assert old == new
    unchanged = [c for c in before_cand if c[0] not in (1, 2)]
    assert unchanged == [c for c in after_cand if c[0] not in (1, 2)]
    assert [c[:3] for c in before_cand] == [c[:3] for c in after_cand]


def test_a_failed_migration_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "v1.duckdb"
    _v1_file(path)
    con = duckdb.connect(str(path))
    con.execute("ALTER TABLE decisions ADD COLUMN kind VARCHAR")  # makes step 1 of the migration fail
    con.close()
    with pytest.raises(LedgerError, match="nothing changed"):
        Ledger(path)
    con = duckdb.connect(str(path))
    assert _dump(con, "SELECT value FROM meta WHERE key = 'schema_version'") == [("1",)]
    assert _dump(
        con, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'resource_prices'"
    ) == [(0,)]
    assert _dump(con, "SELECT v_usd FROM decisions WHERE seq = 1") == [(P_KV,)]
    con.close()


@pytest.mark.parametrize(
    ("version", "match"), [("3", "newer tokenomy"), ("0", "reads versions 1 to"), ("x", "'x'")]
)
def test_an_unreadable_version_is_refused(tmp_path: Path, version: str, match: str) -> None:
    path = tmp_path / "l.duckdb"
    Ledger(path).close()
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [version])
    con.close()
    with pytest.raises(LedgerError, match=match):
        Ledger(path)
    with pytest.raises(LedgerError, match=match):
        Ledger(path, read_only=True)


def test_a_database_without_a_ledger_is_refused_read_only(tmp_path: Path) -> None:
    path = tmp_path / "other.duckdb"
    duckdb.connect(str(path)).close()
    with pytest.raises(LedgerError, match="not a tokenomy DuckDB ledger"):
        Ledger(path, read_only=True)

"""Several handles and several processes on one ledger file; interrupts, kills and foreign files."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import duckdb
import numpy as np
import pytest
from ledger_writers import ROWS, append_batches, append_forever, corruption, hold_lock, tagged_batch

from tokenomy.core import LedgerError, PriceVector, ValidationError
from tokenomy.ledger import Candidate, Decision, Layer, Ledger, writer

SPAWN = multiprocessing.get_context("spawn")  # no fork: the parent's DuckDB threads stay in the parent


def _decision(rid: str) -> Decision:
    cands = tuple(Candidate(f"{rid}/{j}", float(j), 0.1) for j in range(2))
    return Decision(rid, Layer.DEMAND, "route", cands, 0, PriceVector(v_usd=1.0))


def test_two_handles_in_one_process_interleave_appends_without_sharing_a_seq(tmp_path: Path) -> None:
    path = tmp_path / "l.duckdb"
    a, b = Ledger(path), Ledger(path)
    for k in range(6):
        (a if k % 2 else b).append_batch(tagged_batch(k))
        (b if k % 2 else a).append([_decision(f"obj{k}")])
    assert a.count() == b.count() == 6 * (ROWS + 1)
    seqs = [d.decision_id for d in a.decisions()]
    assert len(set(seqs)) == len(seqs)
    for d in b.decisions():  # every candidate joined the decision it was written with
        if d.request_id.startswith("obj"):
            assert all(c.name.startswith(d.request_id + "/") for c in d.candidates)
    a.close()
    b.close()
    damage = corruption(path)
    assert damage.pop("partial_batches") == 1  # tag 0 also holds the object decisions (time_s 0)
    assert set(damage.values()) == {0}


def test_processes_with_two_handles_each_land_every_batch_whole(tmp_path: Path) -> None:
    path = str(tmp_path / "l.duckdb")
    Ledger(path).close()
    procs, batches = 4, 20
    with SPAWN.Pool(procs) as pool:
        results = pool.starmap(append_batches, [(path, w, batches, 2, 30.0) for w in range(procs)])
    landed = sum(r[0] for r in results)
    refused = sum(r[1] for r in results)
    assert landed + refused == procs * batches
    assert refused == 0, [r[2] for r in results]  # a 30 s wait is ample for these short appends
    assert Ledger(path).count() == landed * ROWS
    assert corruption(path) == dict.fromkeys(corruption(path), 0)


def test_a_locked_file_is_refused_after_the_timeout_naming_it_and_nothing_is_written(tmp_path: Path) -> None:
    path = str(tmp_path / "l.duckdb")
    ledger = Ledger(path, lock_timeout_s=0.3)
    ledger.append_batch(tagged_batch(0))
    held, release = SPAWN.Event(), SPAWN.Event()
    holder = SPAWN.Process(target=hold_lock, args=(path, held, release))
    holder.start()
    try:
        assert held.wait(30)
        with pytest.raises(LedgerError, match=r"locked by another process.*lock_timeout_s=0.3 s") as err:
            ledger.append_batch(tagged_batch(1))
        assert path in str(err.value)
    finally:
        release.set()
        holder.join(30)
    assert ledger.count() == ROWS
    ledger.append_batch(tagged_batch(1))
    assert ledger.count() == 2 * ROWS


def test_lock_timeout_must_be_finite_and_nonnegative() -> None:
    for bad in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ValidationError, match="lock_timeout_s"):
            Ledger(lock_timeout_s=bad)


@pytest.mark.parametrize("step", ["next_seq", "insert_tables"])
def test_an_interrupt_mid_append_rolls_back_and_is_raised_as_an_interrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    path = tmp_path / "l.duckdb"
    ledger = Ledger(path)
    ledger.append_batch(tagged_batch(0))
    real = getattr(writer, step)

    def interrupted(*args: object) -> object:
        real(*args)  # the step's work is done inside the transaction, then Ctrl-C arrives
        raise KeyboardInterrupt

    monkeypatch.setattr(writer, step, interrupted)
    with pytest.raises(KeyboardInterrupt):
        ledger.append_batch(tagged_batch(1))
    with pytest.raises(KeyboardInterrupt):
        ledger.append([_decision("x")])
    monkeypatch.undo()
    assert ledger.count() == ROWS and ledger.count("candidates") == 3 * ROWS
    again = Ledger(path)
    assert again.append_batch(tagged_batch(1)) == range(ROWS, 2 * ROWS)
    assert again.append([_decision("x")]) == [f"d{2 * ROWS}"]
    damage = corruption(path)
    assert damage.pop("partial_batches") == 1  # tag 0 also holds the object decision (time_s 0)
    assert set(damage.values()) == {0}


def test_a_writer_killed_at_a_random_point_leaves_a_file_that_opens_and_takes_the_rerun(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "l.duckdb")
    Ledger(path).close()
    started = SPAWN.Event()
    child = SPAWN.Process(target=append_forever, args=(path, started))
    child.start()
    try:
        assert started.wait(60)
        time.sleep(float(np.random.default_rng(7).uniform(0.05, 0.5)))  # somewhere in an append
    finally:
        os.kill(child.pid or 0, signal.SIGKILL)
        child.join(30)
    assert child.exitcode == -signal.SIGKILL
    ledger = Ledger(path)
    n = ledger.count()
    assert n > 0 and n % ROWS == 0
    assert corruption(path) == dict.fromkeys(corruption(path), 0)
    ledger.append_batch(tagged_batch(10**5))
    assert ledger.count() == n + ROWS


def test_a_foreign_duckdb_file_is_refused_and_left_unmodified(tmp_path: Path) -> None:
    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE sales (id INTEGER, amount DOUBLE)")
    con.execute("INSERT INTO sales VALUES (1, 2.5)")
    con.close()
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    for read_only in (False, True):
        with pytest.raises(LedgerError, match="not a tokenomy DuckDB ledger") as err:
            Ledger(path, read_only=read_only)
        assert str(path) in str(err.value)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert not path.with_suffix(".duckdb.wal").exists()


@pytest.mark.parametrize("state", ["missing", "zero bytes", "empty database"])
def test_a_missing_or_empty_file_becomes_a_ledger(tmp_path: Path, state: str) -> None:
    path = tmp_path / "new.duckdb"
    if state == "zero bytes":
        path.write_bytes(b"")
    elif state == "empty database":
        duckdb.connect(str(path)).close()
    with Ledger(path) as ledger:
        ledger.append_batch(tagged_batch(0))
    assert Ledger(path, read_only=True).count() == ROWS


def test_a_held_handle_keeps_the_file_for_its_block_and_releases_it_after(tmp_path: Path) -> None:
    path = str(tmp_path / "l.duckdb")
    ledger = Ledger(path)
    with SPAWN.Pool(1) as pool:
        with ledger.hold():
            for k in range(5):
                ledger.append_batch(tagged_batch(k))
            with pytest.raises(LedgerError, match="locked by another process"):  # even to open it
                pool.apply(append_batches, (path, 1, 1, 1, 0.2))
            assert ledger.count() == 5 * ROWS
        assert pool.apply(append_batches, (path, 2, 1, 1, 30.0))[:2] == (1, 0)
    assert Ledger(path).count() == 6 * ROWS

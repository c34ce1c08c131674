"""``Ledger.transaction``: several appends land together or not at all, on files and in memory."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from tokenomy.core import LedgerError, PriceVector
from tokenomy.ledger import Candidate, Decision, Layer, Ledger, Outcome

SPAWN = multiprocessing.get_context("spawn")


def _decision(rid: str) -> Decision:
    cands = tuple(Candidate(f"{rid}/{j}", float(j), 0.1) for j in range(2))
    return Decision(rid, Layer.DEMAND, "route", cands, 0, PriceVector(v_usd=1.0))


@pytest.mark.parametrize("where", ["file", "memory"])
def test_a_failing_later_append_rolls_back_the_earlier_ones_of_the_block(tmp_path: Path, where: str) -> None:
    ledger = Ledger(tmp_path / "l.duckdb" if where == "file" else ":memory:")
    ledger.append([_decision("before")])

    def block() -> None:
        with ledger.transaction():
            ledger.append([_decision("a"), _decision("b")])
            ledger.append_outcomes([Outcome("a", quality=1.0, cost_usd=0.01)])
            ledger.append_outcomes(
                [Outcome("nowhere", quality=1.0, cost_usd=0.01)]
            )  # refused: no such request

    with pytest.raises(LedgerError, match="nowhere"):
        block()
    assert ledger.count() == 1
    assert ledger.count("outcomes") == 0
    with ledger.transaction():  # the handle is usable afterwards and a good block commits
        ledger.append([_decision("a")])
        ledger.append_outcomes([Outcome("a", quality=1.0, cost_usd=0.01)])
    assert (ledger.count(), ledger.count("outcomes")) == (2, 1)


def test_an_interrupt_inside_the_block_rolls_back_and_passes_unchanged(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.duckdb")

    def block() -> None:
        with ledger.transaction():
            ledger.append([_decision("a")])
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        block()
    assert ledger.count() == 0


def test_transactions_do_not_nest(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.duckdb")
    with pytest.raises(LedgerError, match="already open"), ledger.transaction(), ledger.transaction():
        pass
    ledger.append([_decision("a")])
    assert ledger.count() == 1


def _append_in_block_then_wait(path: str, ready: str) -> None:
    ledger = Ledger(path)
    with ledger.transaction():
        ledger.append([_decision(f"k{i}") for i in range(50)])
        Path(ready).touch()
        time.sleep(60)  # killed here, inside the open transaction


def test_a_process_killed_inside_the_block_leaves_nothing_of_it(tmp_path: Path) -> None:
    path, ready = str(tmp_path / "l.duckdb"), tmp_path / "ready"
    Ledger(path).append([_decision("kept")])
    proc = SPAWN.Process(target=_append_in_block_then_wait, args=(path, str(ready)))
    proc.start()
    for _ in range(600):
        if ready.exists():
            break
        time.sleep(0.05)
    assert ready.exists()
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    ledger = Ledger(path)
    assert ledger.count() == 1
    assert [d.request_id for d in ledger.decisions()] == ["kept"]


def test_ctrl_c_inside_a_duckdb_query_comes_out_of_the_ledger_as_an_interrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duckdb

    from tokenomy.ledger import writer

    ledger = Ledger(tmp_path / "l.duckdb")
    ledger.append([_decision("kept")])
    for exc in (
        RuntimeError("Query interrupted"),
        duckdb.InterruptException("INTERRUPT Error: Interrupted!"),
    ):

        def interrupted(*_a: object, exc: BaseException = exc) -> None:
            raise exc

        monkeypatch.setattr(writer, "insert_tables", interrupted)
        with pytest.raises(KeyboardInterrupt):  # an append: rolled back, an interrupt (not a LedgerError)
            ledger.append([_decision("lost")])
        monkeypatch.undo()

        def read(exc: BaseException = exc) -> None:
            with ledger._db.connection() as con:
                con.execute("SELECT 1")
                raise exc

        with pytest.raises(KeyboardInterrupt):  # any other operation too
            read()
    assert [d.request_id for d in ledger.decisions()] == ["kept"]
    with pytest.raises(RuntimeError, match="other"), ledger._db.connection():
        raise RuntimeError("other")  # not an interrupt: passes unchanged

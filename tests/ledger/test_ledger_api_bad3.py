"""Bad input to the ledger: free-form metadata JSON cannot hold faithfully, non-finite times, files that
are not tokenomy DuckDB ledgers, and Ledger API arguments of the wrong form. Each is one
ValidationError/LedgerError naming the record, key, file or argument; nothing is written."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

from tokenomy.core import PriceVector, TokenomyError, TokenUse, ValidationError
from tokenomy.ledger import Decision, DecisionBatch, Layer, Ledger, Outcome

USES = [TokenUse("cheap", 0.7, 1.0), TokenUse("frontier", 0.9, 5.0)]


def _decision(rid: str = "r1", **kw: Any) -> Decision:
    return Decision.from_uses(rid, "demand", "route", USES, PriceVector(v_usd=10.0), **kw)


def _nested(depth: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    cur = root
    for _ in range(depth):
        cur["a"] = {}
        cur = cur["a"]
    return root


def _cycle() -> dict[str, Any]:
    d: dict[str, Any] = {}
    d["self"] = d
    return d


BAD_METADATA = [
    pytest.param({"x": math.nan}, "'x'", id="nan"),
    pytest.param({"x": math.inf}, "'x'", id="inf"),
    pytest.param({"x": -math.inf}, "'x'", id="-inf"),
    pytest.param({"x": [1.0, math.nan]}, r"'x\[1\]'", id="nan-in-list"),
    pytest.param({"x": {"y": np.float64("nan")}}, "'x.y'", id="numpy-nan-nested"),
    pytest.param({"x": b"ab"}, "'x'", id="bytes"),
    pytest.param({"x": {1, 2}}, "'x'", id="set"),
    pytest.param({"x": object()}, "'x'", id="object"),
    pytest.param({1: 2}, "1", id="int-key"),
    pytest.param({None: 1}, "None", id="none-key"),
    pytest.param({"x": {(1, 2): 3}}, "x", id="tuple-key-nested"),
    pytest.param({"deep": _nested(100)}, "deep", id="deep-100"),
    pytest.param({"deep": _nested(5000)}, "deep", id="deep-5000"),
    pytest.param(_cycle(), "self", id="cycle"),
]


@pytest.mark.parametrize(("meta", "key"), BAD_METADATA)
def test_decision_metadata_json_cannot_hold_is_refused_naming_request_and_key(
    meta: dict[Any, Any], key: str
) -> None:
    with pytest.raises(ValidationError, match="r-odd") as err:
        _decision("r-odd", metadata=meta)
    assert "metadata" in str(err.value)
    assert err.match(key)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("meta", "key"), BAD_METADATA)
def test_outcome_metadata_json_cannot_hold_is_refused_naming_request_and_key(
    meta: dict[Any, Any], key: str
) -> None:
    with pytest.raises(ValidationError, match="r-odd") as err:
        Outcome("r-odd", 1.0, 0.01, metadata=meta)
    assert err.match(key)


def test_metadata_json_holds_is_accepted_and_reads_back() -> None:
    meta = {"s": "x", "i": 3, "f": 1.5, "b": True, "n": None, "l": [1, "a", [2.0]], "d": {"k": _nested(20)}}
    led = Ledger()
    led.append([_decision(metadata=meta)])
    led.append_outcomes([Outcome("r1", 1.0, 0.01, metadata=meta)])
    assert dict(next(led.decisions()).metadata) == meta
    assert dict(next(led.outcomes()).metadata) == meta


def test_metadata_changed_after_construction_is_refused_at_append_and_nothing_of_the_batch_is_written(
    tmp_path: Path,
) -> None:
    path = tmp_path / "odd.duckdb"
    with Ledger(path) as led:
        led.append([_decision("r0")])
    before = path.read_bytes()
    inner: list[float] = [1.0]
    bad = _decision("r-late", metadata={"x": inner})
    inner.append(math.nan)  # the record held a reference to a list that changed afterwards
    led = Ledger(path)
    with pytest.raises(ValidationError, match=r"r-late.*'x\[1\]'"):
        led.append([_decision("r1"), bad])
    assert led.count() == 1
    out_inner: list[float] = [0.0]
    late = Outcome("r0", 1.0, 0.01, metadata={"y": out_inner})
    out_inner.append(math.inf)
    with pytest.raises(ValidationError, match=r"r0.*'y\[1\]'"):
        led.append_outcomes([Outcome("r0", 1.0, 0.01), late])
    assert led.count("outcomes") == 0
    led.close()
    assert path.read_bytes() == before


def _batch(**kw: Any) -> DecisionBatch:
    base: dict[str, Any] = {
        "request_ids": ["a", "b"],
        "layer": Layer.DEMAND,
        "decision_point": "route",
        "names": ("x",),
        "dq": np.ones((2, 1)),
        "dc_usd": np.ones((2, 1)),
        "dl_s": np.zeros((2, 1)),
        "dr": np.zeros((2, 1)),
        "dr_irr": np.zeros((2, 1)),
        "chosen": np.zeros(2, np.int64),
        "v_usd": np.ones(2),
        "lam_usd_per_s": np.zeros(2),
        "rho_usd": np.zeros(2),
        "rho_irr_usd": np.zeros(2),
        "time_s": np.zeros(2),
    }
    return DecisionBatch(**{**base, **kw})


@pytest.mark.parametrize(
    ("kw", "key"),
    [
        ({"metadata": {"x": math.nan}}, "'x'"),
        ({"metadata": {3: "a"}}, "3"),
        ({"row_metadata": {"y": [1.0, math.inf]}}, r"'y\[1\]'"),
        ({"row_metadata": {"y": np.array([1.0, math.nan])}}, r"'y\[1\]'"),
    ],
)
def test_batch_metadata_json_cannot_hold_is_refused(kw: dict[str, Any], key: str) -> None:
    led = Ledger()
    with pytest.raises(ValidationError, match=key):
        led.append_batch(_batch(**kw))
    assert led.count() == 0


@pytest.mark.parametrize("t", [math.nan, math.inf, -math.inf])
def test_non_finite_times_are_refused_everywhere(t: float) -> None:
    with pytest.raises(ValidationError, match="time_s"):
        _decision(time_s=t)
    with pytest.raises(ValidationError, match="time_s"):
        Outcome("r1", 1.0, 0.01, time_s=t)
    led = Ledger()
    led.append([_decision()])
    with pytest.raises(ValidationError, match="time_s"):
        led.append_outcome_arrays(["r1"], [1.0], [0.01], time_s=[t])
    with pytest.raises(ValidationError, match="time_s"):
        led.append_batch(_batch(time_s=np.array([0.0, t])))
    assert (led.count(), led.count("outcomes")) == (1, 0)


def test_a_negative_time_is_a_time_on_the_layer_clock_and_reads_back() -> None:
    """Times are on any epoch (the layer's clock), so -5 s is a time, not damage: kept as written."""
    led = Ledger()
    led.append([_decision(time_s=-5.0)])
    led.append_outcomes([Outcome("r1", 1.0, 0.01, time_s=-3.0)])
    assert next(led.decisions()).time_s == -5.0
    assert next(led.outcomes()).time_s == -3.0


NOT_A_LEDGER = "not a tokenomy DuckDB ledger"


def _not_ledgers(tmp_path: Path) -> dict[str, Path]:
    """Files that are not tokenomy ledgers, by what they are."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = {
        "text": tmp_path / "text.duckdb",
        "csv": tmp_path / "spend.csv",
        "parquet": tmp_path / "t.parquet",
        "short": tmp_path / "short.db",
        "foreign": tmp_path / "foreign.duckdb",
    }
    files["text"].write_text("hello, not a database\n")
    files["csv"].write_text("request_id,spend\nr1,0.01\n")
    pq.write_table(pa.table({"a": [1]}), files["parquet"])
    files["short"].write_bytes(b"\x00\x01")
    con = duckdb.connect(str(files["foreign"]))
    con.execute("CREATE TABLE sales (id INTEGER)")
    con.close()
    return files


KINDS = ["text", "csv", "parquet", "short", "foreign"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("read_only", [False, True])
def test_ledger_refuses_a_file_that_is_not_a_tokenomy_duckdb_ledger_and_leaves_it(
    kind: str, read_only: bool, tmp_path: Path
) -> None:
    from tokenomy.core.errors import LedgerError

    path = _not_ledgers(tmp_path)[kind]
    before = path.read_bytes()
    with pytest.raises(LedgerError, match=NOT_A_LEDGER) as err:
        Ledger(path, read_only=read_only)
    assert str(err.value).startswith(f"{path}: {NOT_A_LEDGER} (")
    assert "\n" not in str(err.value)
    assert path.read_bytes() == before


@pytest.mark.parametrize("kind", [*KINDS, "empty", "blank"])
def test_check_file_and_a_read_only_open_say_it_the_same_way(kind: str, tmp_path: Path) -> None:
    from tokenomy.core.errors import LedgerError
    from tokenomy.ledger.migrate import check_file

    files = _not_ledgers(tmp_path)
    files["empty"] = tmp_path / "empty.duckdb"
    files["empty"].write_bytes(b"")
    files["blank"] = tmp_path / "blank.duckdb"
    duckdb.connect(str(files["blank"])).close()
    path = files[kind]
    with pytest.raises(LedgerError, match=NOT_A_LEDGER):
        Ledger(path, read_only=True)
    if kind in ("empty", "blank"):
        check_file(str(path))  # a writer may create its ledger there
        return
    with pytest.raises(LedgerError, match=NOT_A_LEDGER):
        check_file(str(path))


def test_an_empty_file_opened_for_writing_becomes_a_ledger(tmp_path: Path) -> None:
    path = tmp_path / "empty.duckdb"
    path.write_bytes(b"")
    with Ledger(path) as led:
        assert led.count() == 0
    with Ledger(path, read_only=True) as led:
        assert led.count() == 0


def _cli_err(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    from tokenomy.interfaces.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("kind", [*KINDS, "empty"])
def test_every_command_reading_a_ledger_names_a_file_that_is_not_one(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _not_ledgers(tmp_path)
    files["empty"] = tmp_path / "empty.duckdb"
    files["empty"].write_bytes(b"")
    path = str(files[kind])
    out = tmp_path / "export"
    for argv in (
        ["audit", path, "--format", "ledger"],
        ["ledger", "summary", path],
        ["ledger", "export", path, "--out", str(out)],
    ):
        assert f"{path}: {NOT_A_LEDGER} (" in _cli_err(argv, capsys), argv
    assert not out.exists()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("command", [["route", "eval"], ["economy", "run"], ["rl", "run"]])
def test_every_command_writing_a_ledger_names_a_file_that_is_not_one(
    kind: str, command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _not_ledgers(tmp_path)[kind]
    before = path.read_bytes()
    assert f"{path}: {NOT_A_LEDGER} (" in _cli_err([*command, "--ledger", str(path)], capsys)
    assert path.read_bytes() == before


WRONG = [None, 5, 1.5, [], b"x", "", {"a": 1}]


@pytest.mark.parametrize("value", WRONG)
def test_read_only_that_is_not_a_bool_is_refused(value: object, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="read_only"):
        Ledger(tmp_path / "x.duckdb", read_only=value)  # type: ignore[arg-type]
    assert not (tmp_path / "x.duckdb").exists()


@pytest.mark.parametrize("bad", ["a\x00b", "\ud800.duckdb"])
def test_a_path_no_file_system_can_name_is_refused(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="path"):
        Ledger(str(tmp_path / bad))
    with pytest.raises(ValidationError, match="directory"):
        Ledger().export_parquet(str(tmp_path / bad))
    assert list(tmp_path.iterdir()) == []


def test_export_to_a_folder_whose_name_holds_a_quote(tmp_path: Path) -> None:
    led = Ledger()
    led.append([_decision()])
    paths = led.export_parquet(tmp_path / "it's here")
    assert paths["decisions"].exists()


@pytest.mark.parametrize("value", [*WRONG, _decision()])
def test_append_batch_of_something_else_is_refused(value: object) -> None:
    led = Ledger()
    with pytest.raises(ValidationError, match="batch"):
        led.append_batch(value)  # type: ignore[arg-type]
    assert led.count() == 0


def test_batch_row_metadata_of_the_wrong_form_is_refused() -> None:
    for rows in ({"x": 5}, {"x": None}, ["x"]):
        with pytest.raises(ValidationError, match="row_metadata"):
            Ledger().append_batch(_batch(row_metadata=rows))


@pytest.mark.parametrize("value", [None, 5, 1.5, b"x", "r1", {"a": 1}, ["r1", 5]])
def test_outcome_arrays_request_id_of_the_wrong_form_is_refused(value: object) -> None:
    led = Ledger()
    led.append([_decision()])
    with pytest.raises(ValidationError, match="request_id"):
        led.append_outcome_arrays(value, 1.0, 0.01)  # type: ignore[arg-type]
    assert led.count("outcomes") == 0


@pytest.mark.parametrize("column", ["quality", "cost_usd", "latency_s", "harm", "harm_irr", "time_s"])
@pytest.mark.parametrize("value", [[], [0.1, 0.2], [[0.1]], "x", None])
def test_outcome_arrays_numeric_column_of_the_wrong_length_is_refused(column: str, value: object) -> None:
    led = Ledger()
    led.append([_decision()])
    kw: dict[str, Any] = {"quality": 1.0, "cost_usd": 0.01, column: value}
    with pytest.raises(ValidationError, match=column):
        led.append_outcome_arrays(["r1"], **kw)
    assert led.count("outcomes") == 0


@pytest.mark.parametrize("column", ["candidate", "decision_id"])
@pytest.mark.parametrize("value", [5, 1.5, b"x", "x", {"a": 1}, [5], ["a", "b"]])
def test_outcome_arrays_text_column_of_the_wrong_form_is_refused(column: str, value: object) -> None:
    led = Ledger()
    led.append([_decision()])
    with pytest.raises(ValidationError, match=column):
        led.append_outcome_arrays(["r1"], 1.0, 0.01, **{column: value})
    assert led.count("outcomes") == 0


@pytest.mark.parametrize("value", [None, 5, 1.5, math.nan, [], "yes"])
def test_observed_that_is_not_a_bool_is_refused(value: object) -> None:
    led = Ledger()
    led.append([_decision()])
    with pytest.raises(ValidationError, match="observed"):
        Outcome("r1", 1.0, 0.01, observed=value)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="observed"):
        led.append_outcome_arrays(["r1"], 1.0, 0.01, observed=value)  # type: ignore[arg-type]
    assert led.count("outcomes") == 0


@pytest.mark.parametrize("value", [None, 5, 1.5, ["x"], b"x", "", "ab", {"a": 1}])
def test_from_uses_with_uses_that_are_not_token_uses_is_refused(value: object) -> None:
    with pytest.raises(ValidationError, match="uses"):
        Decision.from_uses("r1", "demand", "route", value, PriceVector(v_usd=1.0))  # type: ignore[arg-type]


def test_strings_that_are_not_utf8_are_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="request_id"):
        _decision("\ud800")
    with pytest.raises(ValidationError, match="tenant"):
        _decision(tenant="\udcff")
    with pytest.raises(ValidationError, match="candidate"):
        Outcome("r1", 1.0, 0.01, candidate="\ud800")
    led = Ledger()
    with pytest.raises(ValidationError, match="request_id"):
        list(led.decisions("\ud800"))
    with pytest.raises(ValidationError, match="request_id"):
        list(led.outcomes("\ud800"))
    with pytest.raises(ValidationError, match="request_id"):
        led.append_outcome_arrays(["\ud800"], 1.0, 0.01)


def test_every_bad_argument_is_a_tokenomy_error_never_a_raw_one() -> None:
    """Sweep: each public method with each wrong form; only TokenomyError may come out."""
    led = Ledger()
    led.append([_decision()])
    calls = [
        lambda v: led.count(v),
        lambda v: list(led.decisions(v)),
        lambda v: list(led.outcomes(v)),
        lambda v: led.append(v),
        lambda v: led.append([v]),
        lambda v: led.append_outcomes(v),
        lambda v: led.append_outcomes([v]),
        lambda v: led.append_batch(v),
        lambda v: led.append_outcome_arrays(v, 1.0, 0.0),
        lambda v: led.append_outcome_arrays(["r1"], v, 0.0),
        lambda v: Ledger(":memory:", lock_timeout_s=v),
    ]
    for call in calls:
        for value in [*WRONG, math.nan, "\ud800", ["x"]]:
            with contextlib.suppress(TokenomyError):
                call(value)


@pytest.mark.parametrize("column", ["candidate", "decision_id"])
def test_outcome_arrays_text_column_with_a_missing_entry_is_refused(column: str) -> None:
    led = Ledger()
    led.append([_decision()])
    with pytest.raises(ValidationError, match=column):
        led.append_outcome_arrays(["r1"], 1.0, 0.01, **{column: [None]})
    with pytest.raises(ValidationError, match="request_id"):
        led.append_outcome_arrays(["r1", None], 1.0, 0.01)  # type: ignore[list-item]
    assert led.count("outcomes") == 0


def test_a_stored_record_the_checks_refuse_is_named_with_its_file_when_read(tmp_path: Path) -> None:
    """A file written before the metadata check (or edited) holds NaN: reading names the file."""
    from tokenomy.core.errors import LedgerError

    path = tmp_path / "old.duckdb"
    with Ledger(path) as led:
        led.append([_decision()])
        led.append_outcomes([Outcome("r1", 1.0, 0.01)])
    con = duckdb.connect(str(path))
    con.execute("""UPDATE decisions SET metadata = '{"x":NaN}'""")
    con.execute("""UPDATE outcomes SET metadata = '{"y":Infinity}'""")
    con.close()
    with Ledger(path, read_only=True) as led:
        with pytest.raises(LedgerError, match=r"old\.duckdb.*'x'"):
            list(led.decisions())
        with pytest.raises(LedgerError, match=r"old\.duckdb.*'y'"):
            list(led.outcomes())


def test_audit_of_several_ledgers_names_the_one_that_is_not_a_ledger_before_reading_any(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.duckdb"
    with Ledger(good) as led:
        led.append([_decision()])
    bad = _not_ledgers(tmp_path)["text"]
    line = _cli_err(["audit", str(good), str(bad), "--format", "ledger"], capsys)
    assert f"{bad}: {NOT_A_LEDGER} (a text file" in line
    line = _cli_err(["audit", str(bad)], capsys)  # the format guessed from the .duckdb suffix
    assert f"{bad}: {NOT_A_LEDGER} (" in line


BATCH_FIELDS = [
    "request_ids",
    "decision_point",
    "names",
    "resources",
    "metadata",
    "sources",
    "tenants",
    "kind",
]


@pytest.mark.parametrize("field", BATCH_FIELDS)
@pytest.mark.parametrize("value", [5, 1.5, math.nan, b"x", "\ud800", ["x"], [5, 6]])
def test_batch_field_of_the_wrong_form_is_refused_naming_it(field: str, value: object) -> None:
    if field in ("names", "request_ids", "tenants") and value == ["x"]:
        value = [b"x", b"y"]  # ["x"] is a list of names (one per row: the wrong length, refused as such)
    if field == "kind" and isinstance(value, str):
        value = 5
    led = Ledger()
    with pytest.raises(ValidationError, match=field if field != "request_ids" else "request_id"):
        led.append_batch(_batch(**{field: value}))
    assert led.count() == 0


@pytest.mark.parametrize("value", [None, 5, [], ["x"], b"x", "", 1.5, {"a": 1}, "\ud800"])
def test_kinds_of_something_that_is_not_a_layer_is_refused(value: object) -> None:
    from tokenomy.ledger import kinds_of

    with pytest.raises(ValidationError, match="layer"):
        kinds_of(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [None, 5, 1.5, b"x", "ab", {"a": 1}])
def test_decision_candidates_of_the_wrong_form_are_refused(value: object) -> None:
    with pytest.raises(ValidationError, match="candidates"):
        Decision("r", Layer.DEMAND, "route", value, None, PriceVector(v_usd=1.0))  # type: ignore[arg-type]


def test_candidate_name_that_is_not_utf8_is_refused() -> None:
    from tokenomy.ledger import Candidate

    with pytest.raises(ValidationError, match="name"):
        Candidate("\ud800", 0.5)


def test_a_bool_is_not_an_index_nor_a_count() -> None:
    with pytest.raises(ValidationError, match="chosen"):
        _decision(chosen=True)
    with pytest.raises(ValidationError, match="harm_events"):
        Outcome("r1", 1.0, 0.01, harm_events=True)


def test_ledger_summary_without_outcomes_says_once_why_the_totals_are_dashes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from tokenomy.interfaces.cli import main

    path = tmp_path / "no_outcomes.duckdb"
    with Ledger(path) as led:
        led.append([_decision()])
    js = tmp_path / "s.json"
    assert main(["ledger", "summary", str(path), "--json", str(js)]) == 0
    out = capsys.readouterr().out
    notes = [line for line in out.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "no outcome" in notes[0], out
    assert json.loads(js.read_text())["totals"]["welfare_usd"] is None
    with Ledger(path) as led:
        led.append_outcomes([Outcome("r1", 1.0, 0.01)])
    assert main(["ledger", "summary", str(path)]) == 0
    assert "note:" not in capsys.readouterr().out


def test_ctrl_c_during_the_pre_command_ledger_check_is_an_interrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB reports Ctrl-C mid-query as RuntimeError('Query interrupted'): the check passes it on as
    the KeyboardInterrupt it is, so the command line says 'interrupted' instead of a traceback."""
    from tokenomy.ledger import migrate

    path = tmp_path / "l.duckdb"
    with Ledger(path):
        pass

    def interrupted(*_: object) -> None:
        raise RuntimeError("Query interrupted")

    monkeypatch.setattr(migrate, "check_is_ledger", interrupted)
    with pytest.raises(KeyboardInterrupt):
        migrate.check_file(str(path))

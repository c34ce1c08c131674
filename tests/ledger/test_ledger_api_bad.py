"""Bad arguments to the Ledger API: one ValidationError/LedgerError naming the argument, nothing written."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from tokenomy.core import PriceVector, TokenomyError, TokenUse, ValidationError
from tokenomy.ledger import Candidate, Decision, Layer, Ledger, Outcome

USES = [TokenUse("cheap", 0.7, 1.0), TokenUse("frontier", 0.9, 5.0)]


def _decision(rid: str = "r1", **kw: object) -> Decision:
    return Decision.from_uses(rid, "demand", "route", USES, PriceVector(v_usd=10.0), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", [None, 5, 1.5, ["x"], "", b"x"])
def test_ledger_path_of_the_wrong_form_is_refused_and_creates_nothing(
    path: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValidationError, match="path"):
        Ledger(path)  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []


def test_decisions_with_a_request_id_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(ValidationError, match="request_id"):
        list(Ledger().decisions(5))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="request_id"):
        list(Ledger().outcomes(5))  # type: ignore[arg-type]


def test_append_of_none_is_refused_naming_the_argument() -> None:
    led = Ledger()
    with pytest.raises(ValidationError, match="decisions"):
        led.append(None)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="outcomes"):
        led.append_outcomes(None)  # type: ignore[arg-type]


def test_decision_metadata_none_is_refused() -> None:
    cand = (Candidate("a", 0.5, 1.0),)
    with pytest.raises(ValidationError, match="metadata"):
        Decision("r", Layer.DEMAND, "route", cand, 0, PriceVector(v_usd=1.0), metadata=None)  # type: ignore[arg-type]


def test_zero_propensity_is_refused() -> None:
    with pytest.raises(ValidationError, match="propensity"):
        _decision(propensity=0.0)


@pytest.mark.parametrize("directory", [None, "", 5])
def test_export_parquet_to_a_bad_directory_argument_is_refused(
    directory: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TokenomyError, match="directory"):
        Ledger().export_parquet(directory)  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []


def test_export_parquet_to_an_existing_file_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "afile"
    f.write_text("keep")
    with pytest.raises(TokenomyError, match="afile"):
        Ledger().export_parquet(f)
    assert f.read_text() == "keep"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"quality": 2.0}, "quality"),
        ({"quality": -1.0}, "quality"),
        ({"quality": "0.5"}, "quality"),
    ],
)
def test_append_outcomes_refuses_quality_outside_the_unit_interval(
    kwargs: dict[str, object], match: str
) -> None:
    led = Ledger()
    led.append([_decision()])
    with pytest.raises(ValidationError, match=match):
        led.append_outcomes([Outcome(**{"request_id": "r1", "quality": 1.0, "cost_usd": 0.01, **kwargs})])  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="quality"):
        led.append_outcome_arrays(["r1"], [2.0], [0.01])
    assert led.count("outcomes") == 0


def test_outcome_harm_below_zero_and_nan_quality_are_refused() -> None:
    with pytest.raises(ValidationError, match="harm"):
        Outcome("r1", 0.5, 0.01, harm=-1.0)
    with pytest.raises(ValidationError, match="quality"):
        Outcome("r1", math.nan, 0.01)


def test_batch_propensity_of_zero_is_refused() -> None:
    import numpy as np

    from tokenomy.ledger import DecisionBatch

    b = DecisionBatch(
        request_ids=["a"],
        layer=Layer.DEMAND,
        decision_point="route",
        names=("x",),
        dq=np.ones((1, 1)),
        dc_usd=np.ones((1, 1)),
        dl_s=np.zeros((1, 1)),
        dr=np.zeros((1, 1)),
        dr_irr=np.zeros((1, 1)),
        chosen=np.zeros(1, np.int64),
        v_usd=np.ones(1),
        lam_usd_per_s=np.zeros(1),
        rho_usd=np.zeros(1),
        rho_irr_usd=np.zeros(1),
        time_s=np.zeros(1),
        propensity=np.zeros(1),
    )
    with pytest.raises(ValidationError, match="propensity"):
        Ledger().append_batch(b)

"""Bad inputs to a saved router and to the Router API: one ValidationError naming what is wrong."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from routing_data import synthetic_rows

from tokenomy.core import PriceVector
from tokenomy.core.errors import SchemaError, ValidationError
from tokenomy.interfaces.cli import main
from tokenomy.interfaces.cmd_route_menu import load_value_file
from tokenomy.routing.decision import RouteRequest
from tokenomy.routing.router import Router

PRICES = PriceVector(lam_usd_per_s=0.001, rho_usd=0.01)


@pytest.fixture(scope="module")
def saved(fitted: Router, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fitted.save(tmp_path_factory.mktemp("saved") / "r")


def _copy(saved: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "r"
    shutil.copytree(saved, dst)
    return dst


def _edit_array(folder: Path, key: str, value: np.ndarray) -> None:
    with np.load(folder / "arrays.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays[key] = value
    np.savez(folder / "arrays.npz", **arrays)


def _first_float_array(folder: Path) -> tuple[str, tuple[int, ...]]:
    with np.load(folder / "arrays.npz") as z:
        for k in z.files:
            if z[k].dtype.kind == "f" and z[k].size > 1:
                return k, z[k].shape
    raise AssertionError("no float array")


def test_an_empty_arrays_file_is_named(saved: Path, tmp_path: Path) -> None:
    r = _copy(saved, tmp_path)
    (r / "arrays.npz").write_bytes(b"")
    with pytest.raises(ValidationError, match=r"arrays\.npz"):
        Router.load(r)


def test_a_truncated_arrays_file_is_named(saved: Path, tmp_path: Path) -> None:
    r = _copy(saved, tmp_path)
    b = (r / "arrays.npz").read_bytes()
    (r / "arrays.npz").write_bytes(b[: len(b) // 2])
    with pytest.raises(ValidationError, match=r"arrays\.npz"):
        Router.load(r)


def test_an_array_of_the_wrong_shape_is_named_at_load(saved: Path, tmp_path: Path) -> None:
    r = _copy(saved, tmp_path)
    key, shape = _first_float_array(r)
    _edit_array(r, key, np.zeros(7))
    with pytest.raises(
        ValidationError, match=rf"arrays\.npz: array {key} has shape \(7,\), expected {re.escape(str(shape))}"
    ):
        Router.load(r)


def test_an_array_of_the_wrong_dtype_is_named_at_load(saved: Path, tmp_path: Path) -> None:
    r = _copy(saved, tmp_path)
    key, shape = _first_float_array(r)
    _edit_array(r, key, np.full(shape, "x"))
    with pytest.raises(ValidationError, match=rf"arrays\.npz: array {key} has dtype .*expected"):
        Router.load(r)


def test_non_finite_saved_values_are_refused(saved: Path, tmp_path: Path) -> None:
    r = _copy(saved, tmp_path)
    key, shape = _first_float_array(r)
    _edit_array(r, key, np.full(shape, np.nan))
    with pytest.raises(ValidationError, match=rf"arrays\.npz: array {key} has non-finite values"):
        Router.load(r)


def test_a_models_list_shorter_than_the_arrays_is_refused_at_load(saved: Path, tmp_path: Path) -> None:
    r = _copy(saved, tmp_path)
    body = json.loads((r / "router.json").read_text())
    body["object"]["state"]["models_"]["__tuple__"].pop()
    (r / "router.json").write_text(json.dumps(body))
    with pytest.raises(ValidationError, match=r"models_"):
        Router.load(r)


def test_save_to_an_empty_path_is_refused(fitted: Router) -> None:
    with pytest.raises(ValidationError, match="empty path"):
        fitted.save("")


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_features": 0}, "n_features"),
        ({"folds": 1}, "folds"),
        ({"estimator": "bogus"}, "estimator"),
        ({"baseline_estimator": "bogus"}, "baseline_estimator"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_constructor_arguments_are_refused(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(ValidationError, match=name):
        Router(**kwargs)  # type: ignore[arg-type]


def test_routing_with_an_unfitted_router_says_so() -> None:
    with pytest.raises(ValidationError, match=r"router not fitted: call fit\(\) first"):
        Router().route(RouteRequest("hi"), PRICES)
    with pytest.raises(ValidationError, match=r"router not fitted"):
        Router().route_many(["hi"], PRICES, 0.01)


def test_a_request_without_a_prompt_is_refused() -> None:
    with pytest.raises(ValidationError, match="prompt"):
        RouteRequest(None)  # type: ignore[arg-type]


def _csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_route_eval_with_a_router_fitted_on_other_models_names_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _csv(tmp_path / "a.csv", synthetic_rows(30))
    b = _csv(tmp_path / "b.csv", [r for r in synthetic_rows(30) if r["model"] != "medium"])
    common = ["--format", "long", "--prices", "none", "--estimator", "prior"]
    assert main(["route", "save", "--data", str(a), *common, "--out", str(tmp_path / "r")]) == 0
    capsys.readouterr()
    argv = [
        "route",
        "eval",
        "--data",
        str(b),
        "--format",
        "long",
        "--router",
        str(tmp_path / "r"),
        "--V",
        "0.01",
    ]
    assert main([*argv, "--boot", "40", "--no-longtail"]) == 2
    err = capsys.readouterr().err
    assert "router fitted on models ['small', 'medium', 'large']; the data has ['small', 'large']" in err
    assert "Traceback" not in err


def test_route_menu_refuses_a_negative_seed_at_parse_time(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["route", "menu", "--seed", "-1"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--seed" in err and "Traceback" not in err


def test_route_menu_refuses_a_value_file_with_both_v_columns(tmp_path: Path) -> None:
    f = tmp_path / "v.csv"
    f.write_text("V,v_usd\n0.1,0.2\n")
    with pytest.raises(SchemaError, match=r"v\.csv: .*both 'V' and 'v_usd'"):
        load_value_file(f)


@pytest.mark.parametrize("path", [None, 5, b"r", ["r"], ""])
def test_loading_from_something_not_a_path_is_refused(path: object) -> None:
    with pytest.raises(ValidationError, match="path"):
        Router.load(path)  # type: ignore[arg-type]


def test_fit_without_a_dataset_and_route_without_prices_are_refused(fitted: Router) -> None:
    with pytest.raises(ValidationError, match="RoutingDataset"):
        Router().fit(None)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="PriceVector"):
        fitted.route(RouteRequest("hi"), None)  # type: ignore[arg-type]

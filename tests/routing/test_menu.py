"""Incentive-compatible menus (Eq. 5): textbook cases, IC/participation properties, LP brute force, CLI."""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from tokenomy.core import NULL
from tokenomy.core.errors import SchemaError, ValidationError
from tokenomy.interfaces import cmd_route_menu
from tokenomy.interfaces.cli import write_json
from tokenomy.routing.menu import (
    design_menu,
    flat_menu,
    ironed_virtual_values,
    make_designer,
    verify_menu,
    virtual_values,
)
from tokenomy.routing.menu_eval import evaluate_menu, evaluate_requests
from tokenomy.routing.menu_types import Tier, ValueTypes, synthetic_values

TIERS3 = [Tier("A", 0.4, 0.1), Tier("M", 0.6, 0.25), Tier("B", 0.9, 0.7)]
TWO_TYPES = ValueTypes.from_samples([1.0, 3.0], [0.8, 0.2])


def test_two_types_revenue_menu_pays_the_textbook_rent_and_downgrades_the_low_type() -> None:
    # V_L = 1 (80%), V_H = 3 (20%). φ_L = 1 − (3 − 1)·0.2/0.8 = 0.5 → A (0.5·0.4 − 0.1 = 0.1 beats M's
    # 0.05), φ_H = 3 → B. p_A = V_L q_A = 0.4, p_B = p_A + V_H (q_B − q_A) = 1.9.
    rep = evaluate_menu(design_menu(TIERS3, TWO_TYPES, objective="revenue"))
    opts = rep.menu.options
    assert [o.tier for o in opts] == ["A", "B"]
    assert [o.price_usd for o in opts] == pytest.approx([0.4, 1.9])
    # the high type's rent is the textbook (V_H − V_L)·q_L; the low type keeps nothing
    assert rep.rent_usd == pytest.approx([0.0, (3.0 - 1.0) * 0.4])
    assert rep.information_rent_per_query_usd == pytest.approx(0.2 * 0.8)
    menu = rep.total("menu")
    assert menu.profit_per_query_usd == pytest.approx(0.8 * (0.4 - 0.1) + 0.2 * (1.9 - 0.7))
    assert menu.welfare_per_query_usd == pytest.approx(0.8 * 0.3 + 0.2 * 2.0)
    # silent routing (Eq. 1 knowing V) gives L the mid tier M: the menu downgrades L on purpose
    assert [rep.menu.tiers[t].name for t in rep.silent_tier] == ["M", "B"]
    assert rep.total("silent_cost").welfare_per_query_usd == pytest.approx(0.8 * 0.35 + 0.2 * 2.0)
    assert rep.downgraded_share == pytest.approx(0.8)
    assert rep.downgraded_share_high_v == 0.0  # no distortion at the top
    # the best flat price sells B to the high type only at V_H·q_B = 2.7 (profit 0.4 < 0.48)
    assert [(o.tier, o.price_usd) for o in rep.flat.options] == [("B", pytest.approx(2.7))]
    assert rep.total("flat").profit_per_query_usd == pytest.approx(0.4)
    assert rep.ic_ok and rep.ir_ok


def test_two_types_welfare_menu_is_first_best_and_priced_by_binding_constraints() -> None:
    rep = evaluate_menu(design_menu(TIERS3, TWO_TYPES, objective="welfare"))
    assert [(o.tier, o.price_usd) for o in rep.menu.options] == [
        ("M", pytest.approx(0.6)),
        ("B", pytest.approx(0.6 + 3.0 * 0.3)),
    ]
    assert rep.rent_usd[1] == pytest.approx((3.0 - 1.0) * 0.6)
    assert rep.total("menu").welfare_per_query_usd == pytest.approx(
        rep.total("silent_cost").welfare_per_query_usd
    )
    assert rep.downgraded_share == 0.0
    assert rep.total("flat").profit_per_query_usd == pytest.approx(0.0)  # the welfare flat option is at cost


def test_low_type_is_excluded_when_its_virtual_value_is_negative() -> None:
    types = ValueTypes.from_samples([1.0, 3.0], [0.5, 0.5])  # φ_L = 1 − 2·0.5/0.5 = −1
    rep = evaluate_menu(design_menu(TIERS3, types))
    assert rep.menu.choice.tolist() == [NULL, 0]
    assert rep.menu.options[0].price_usd == pytest.approx(2.7)
    assert rep.excluded_share == pytest.approx(0.5)
    assert rep.information_rent_per_query_usd == pytest.approx(0.0)


def test_virtual_values_closed_form_and_ironing_pools_a_falling_stretch() -> None:
    regular = ValueTypes.from_samples([1.0, 2.0, 3.0], [1 / 3, 1 / 3, 1 / 3])
    assert virtual_values(regular) == pytest.approx([1 - 1 * 2, 2 - 1 * 1, 3.0])
    assert ironed_virtual_values(regular) == pytest.approx(virtual_values(regular))
    # a thin middle type makes φ fall: φ = [1 − 1·0.55/0.45, 2 − 2·0.5/0.05, 4] = [−0.22, −18, 4]
    odd = ValueTypes.from_samples([1.0, 2.0, 4.0], [0.45, 0.05, 0.5])
    phi, bar = virtual_values(odd), ironed_virtual_values(odd)
    assert phi[1] < phi[0]
    assert (np.diff(bar) >= 0).all()
    pooled = (0.45 * phi[0] + 0.05 * phi[1]) / 0.5
    assert bar == pytest.approx([pooled, pooled, 4.0])
    assert float((odd.weights * bar).sum()) == pytest.approx(float((odd.weights * phi).sum()))


def _lp_profit(
    v: np.ndarray, w: np.ndarray, q: np.ndarray, c: np.ndarray, assign: tuple[int, ...]
) -> float | None:
    """Max Σ w (p − c) over prices that make ``assign`` IC and IR (None when no price does)."""
    n = len(v)
    qa = np.array([q[a] if a >= 0 else 0.0 for a in assign])
    ca = np.array([c[a] if a >= 0 else 0.0 for a in assign])
    rows, rhs = [], []
    for j in range(n):
        r = np.zeros(n)
        r[j] = 1.0
        rows.append(r)
        rhs.append(v[j] * qa[j])  # participation: p_j ≤ V_j q_j
        for i in range(n):
            if i != j:
                r = np.zeros(n)
                r[j], r[i] = 1.0, -1.0
                rows.append(r)
                rhs.append(v[j] * (qa[j] - qa[i]))  # IC: p_j − p_i ≤ V_j (q_j − q_i)
    bounds = [(0.0, 0.0) if a < 0 else (None, None) for a in assign]
    res = linprog(-w, A_ub=np.array(rows), b_ub=np.array(rhs), bounds=bounds, method="highs")
    if res.status != 0:
        return None
    return float(-res.fun - (w * ca).sum())


def _brute_force(tiers: list[Tier], types: ValueTypes) -> tuple[float, float, float]:
    """(best profit, best welfare, best profit among welfare-best assignments) over every assignment."""
    v, w = types.values_usd, types.weights
    q = np.array([t.quality for t in tiers])
    c = np.array([t.cost_usd for t in tiers])
    best_p, best_w, best_p_at_w = -np.inf, -np.inf, -np.inf
    for assign in itertools.product(range(-1, len(tiers)), repeat=len(v)):
        profit = _lp_profit(v, w, q, c, assign)
        if profit is None:
            continue
        qa = np.array([q[a] if a >= 0 else 0.0 for a in assign])
        ca = np.array([c[a] if a >= 0 else 0.0 for a in assign])
        welfare = float((w * (v * qa - ca)).sum())
        best_p = max(best_p, profit)
        if welfare > best_w + 1e-12:
            best_w, best_p_at_w = welfare, profit
        elif abs(welfare - best_w) <= 1e-12:
            best_p_at_w = max(best_p_at_w, profit)
    return best_p, best_w, best_p_at_w


def _random_case(seed: int, n_types: int = 3, n_tiers: int = 3) -> tuple[list[Tier], ValueTypes]:
    rng = np.random.default_rng(seed)
    q = np.sort(rng.uniform(0.1, 1.0, n_tiers))
    c = np.sort(rng.uniform(0.0, 0.6, n_tiers)) * rng.uniform(0.5, 1.5, n_tiers)
    tiers = [Tier(f"t{k}", float(q[k]), float(c[k])) for k in range(n_tiers)]
    types = ValueTypes.from_samples(rng.uniform(0.1, 3.0, n_types), rng.uniform(0.02, 1.0, n_types))
    return tiers, types


@pytest.mark.parametrize("seed", range(10))
def test_menus_match_an_lp_brute_force_over_every_assignment(seed: int) -> None:
    tiers, types = _random_case(seed)
    best_profit, best_welfare, profit_at_best_welfare = _brute_force(tiers, types)
    rev = evaluate_menu(design_menu(tiers, types, objective="revenue")).total("menu")
    wel = evaluate_menu(design_menu(tiers, types, objective="welfare")).total("menu")
    assert rev.profit_per_query_usd == pytest.approx(best_profit, abs=1e-9)
    assert wel.welfare_per_query_usd == pytest.approx(best_welfare, abs=1e-9)
    assert wel.profit_per_query_usd == pytest.approx(profit_at_best_welfare, abs=1e-9)


def test_ironing_is_needed_to_match_the_brute_force_on_an_irregular_distribution() -> None:
    tiers = [Tier("lo", 0.3, 0.05), Tier("mid", 0.6, 0.3), Tier("hi", 1.0, 0.9)]
    types = ValueTypes.from_samples([1.0, 2.0, 4.0], [0.6, 0.02, 0.38])  # φ = [0.33, −36, 4]
    best_profit, _, _ = _brute_force(tiers, types)
    menu = design_menu(tiers, types)
    assert evaluate_menu(menu).total("menu").profit_per_query_usd == pytest.approx(best_profit, abs=1e-9)
    # the raw virtual values would give type 2 a lower tier than type 1: not implementable
    phi = virtual_values(types)
    raw = [int(np.argmax([0.0] + [p * t.quality - t.cost_usd for t in tiers])) for p in phi]
    assert raw[1] < raw[0]


finite = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@st.composite
def cases(draw: Any) -> tuple[list[Tier], ValueTypes]:
    n_tiers = draw(st.integers(1, 5))
    tiers = [Tier(f"t{k}", draw(finite), draw(finite)) for k in range(n_tiers)]
    n = draw(st.integers(1, 8))
    values = draw(st.lists(st.floats(0.0, 10.0, allow_nan=False), min_size=n, max_size=n))
    weights = draw(st.lists(st.floats(0.01, 1.0), min_size=n, max_size=n))
    return tiers, ValueTypes.from_samples(values, weights)


@settings(deadline=None)
@given(cases())
def test_every_type_is_incentive_compatible_and_participates(case: tuple[list[Tier], ValueTypes]) -> None:
    tiers, types = case
    reps = {obj: evaluate_menu(design_menu(tiers, types, objective=obj)) for obj in ("revenue", "welfare")}
    for rep in reps.values():
        check = verify_menu(rep.menu)
        assert check["ic_ok"] and check["ir_ok"] and check["implements"]
        q, _, _ = rep.menu.per_type()
        assert (np.diff(q) >= 0).all()
        m = rep.total("menu")
        assert m.welfare_per_query_usd == pytest.approx(
            m.profit_per_query_usd + m.user_surplus_per_query_usd, abs=1e-9
        )
        assert m.profit_per_query_usd >= -1e-9
        assert (rep.rent_usd >= -1e-9).all()
    silent = reps["welfare"].total("silent_cost").welfare_per_query_usd
    assert reps["welfare"].total("menu").welfare_per_query_usd == pytest.approx(silent, abs=1e-9)
    assert reps["revenue"].total("menu").welfare_per_query_usd <= silent + 1e-9
    rev_profit = reps["revenue"].total("menu").profit_per_query_usd
    assert rev_profit >= reps["revenue"].total("flat").profit_per_query_usd - 1e-9
    assert rev_profit >= reps["welfare"].total("menu").profit_per_query_usd - 1e-9


def test_a_new_user_picks_its_utility_maximising_option() -> None:
    menu = design_menu(TIERS3, TWO_TYPES)
    for v in (0.5, 1.0, 2.0, 3.0, 9.0):
        u = menu.utilities(np.array([v]))[0]
        pick = int(menu.choose(np.array([v]))[0])
        assert u[pick if pick >= 0 else -1] == pytest.approx(u.max())


@pytest.mark.parametrize("objective", ["revenue", "welfare"])
def test_requests_at_the_type_values_reproduce_the_type_evaluation(objective: str) -> None:
    tiers, types = _random_case(7, n_types=6, n_tiers=4)
    rep = evaluate_menu(design_menu(tiers, types, objective=objective))
    req = evaluate_requests(rep.menu, types.values_usd, types.weights)
    assert req.downgraded_share == pytest.approx(rep.downgraded_share)
    assert req.downgraded_share_high_v == pytest.approx(rep.downgraded_share_high_v)
    assert req.excluded_share == pytest.approx(rep.excluded_share)
    for regime in ("menu", "silent_cost", "flat"):
        a = next(t for t in req.totals if t.regime == regime)
        b = rep.total(regime)
        assert a.welfare_per_query_usd == pytest.approx(b.welfare_per_query_usd)
        assert a.profit_per_query_usd == pytest.approx(b.profit_per_query_usd)
    with pytest.raises(ValidationError, match="finite numbers ≥ 0"):
        evaluate_requests(rep.menu, [0.1, -1.0])
    with pytest.raises(ValidationError, match="weights"):
        evaluate_requests(rep.menu, [0.1, 1.0], [1.0, 0.0])


def test_verification_catches_a_menu_that_breaks_ic_or_participation() -> None:
    from dataclasses import replace

    menu = design_menu(TIERS3, TWO_TYPES)  # A @ 0.4 for V = 1, B @ 1.9 for V = 3
    assert verify_menu(menu)["ic_ok"] and verify_menu(menu)["ir_ok"]
    lo, hi = menu.options
    too_dear = replace(menu, options=(replace(lo, price_usd=0.41), hi))  # V_L q_A − p < 0
    check = verify_menu(too_dear)
    assert not check["ir_ok"] and check["ir_slack_usd"][0] == pytest.approx(-0.01)
    too_cheap = replace(menu, options=(lo, replace(hi, price_usd=0.8)))  # V_L prefers B: 0.9 − 0.8 > 0
    check = verify_menu(too_cheap)
    assert not check["ic_ok"] and not check["implements"]
    assert check["ic_slack_usd"][0] == pytest.approx((0.4 - 0.4) - (0.9 - 0.8))


@settings(deadline=None)
@given(
    st.lists(st.floats(0.0, 1e3, allow_nan=False), min_size=1, max_size=60),
    st.integers(1, 12),
)
def test_binning_keeps_the_mass_and_the_mean_of_v(samples: list[float], k: int) -> None:
    types = ValueTypes.from_samples(samples, k=k)
    assert len(types) <= k
    assert types.weights.sum() == pytest.approx(1.0)
    assert (np.diff(types.values_usd) > 0).all()
    assert float((types.weights * types.values_usd).sum()) == pytest.approx(
        float(np.mean(samples)), rel=1e-9, abs=1e-9
    )


def test_flat_menu_is_a_single_option() -> None:
    flat = flat_menu(TIERS3, TWO_TYPES)
    assert len(flat.options) == 1
    assert verify_menu(flat)["ir_ok"]


def test_types_from_samples_bin_into_equal_mass_types_and_are_deterministic() -> None:
    draws = synthetic_values("lognormal", (-4.6, 1.0), n=10_000, seed=3)
    assert np.array_equal(draws, synthetic_values("lognormal", (-4.6, 1.0), n=10_000, seed=3))
    assert not np.array_equal(draws, synthetic_values("lognormal", (-4.6, 1.0), n=10_000, seed=4))
    types = ValueTypes.from_samples(draws, k=10)
    assert len(types) == 10
    assert types.weights == pytest.approx(np.full(10, 0.1))
    assert types.values_usd[0] == pytest.approx(np.sort(draws)[:1000].mean())
    par = synthetic_values("pareto", (2.0, 0.01), n=1000, seed=0)
    assert par.min() >= 0.01


@pytest.mark.parametrize(
    ("tiers", "match"),
    [
        ([], "at least one tier"),
        ([Tier("a", 0.5, float("nan"))], "cost_usd"),
        ([Tier("a", 0.5, -0.1)], "cost_usd"),
        ([Tier("a", 1.5, 0.1)], "quality"),
        ([Tier("a", 0.5, 0.1), Tier("a", 0.6, 0.2)], "unique"),
    ],
)
def test_bad_tiers_raise_naming_the_field(tiers: list[Tier], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        design_menu(tiers, TWO_TYPES)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"samples": [1.0, -2.0]}, "entry 1"),
        ({"samples": [1.0, float("nan")]}, "finite"),
        ({"samples": []}, "at least one"),
        ({"samples": [1.0, 2.0], "weights": [1.0, 0.0]}, "weight"),
        ({"samples": [1.0, 2.0], "weights": [1.0]}, "one per sample"),
        ({"samples": [1.0, 2.0], "k": 0}, "k must be"),
    ],
)
def test_bad_values_raise_naming_the_entry(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        ValueTypes.from_samples(**kwargs)


def test_bad_objective_distribution_and_quantile_raise() -> None:
    with pytest.raises(ValidationError, match="valid: \\['revenue', 'welfare'\\]"):
        make_designer("profit")
    with pytest.raises(ValidationError, match="sigma must be > 0"):
        synthetic_values("lognormal", (0.0, -1.0), n=10)
    with pytest.raises(ValidationError, match="unknown V distribution"):
        synthetic_values("normal", (0.0, 1.0), n=10)
    with pytest.raises(ValidationError, match="high_v_quantile"):
        evaluate_menu(design_menu(TIERS3, TWO_TYPES), high_v_quantile=1.0)
    with pytest.raises(ValidationError, match="expected lognormal:mu,sigma"):
        cmd_route_menu.parse_v_dist("gamma:1,2")
    with pytest.raises(ValidationError, match="must be numbers"):
        cmd_route_menu.parse_v_dist("pareto:a,b")


def test_value_file_errors_name_file_line_and_field(tmp_path: Path) -> None:
    bad_col = tmp_path / "v.csv"
    bad_col.write_text("value\n1\n")
    with pytest.raises(SchemaError, match="missing column 'V'"):
        cmd_route_menu.load_value_file(bad_col)
    bad_val = tmp_path / "w.csv"
    bad_val.write_text("V,weight\n0.01,1\n-3,1\n")
    with pytest.raises(SchemaError, match="line 3: V must be ≥ 0"):
        cmd_route_menu.load_value_file(bad_val)
    bad_w = tmp_path / "x.csv"
    bad_w.write_text("V,weight\n0.01,abc\n")
    with pytest.raises(SchemaError, match="line 2: weight must be a number"):
        cmd_route_menu.load_value_file(bad_w)


def _cli(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="tokenomy route")
    cmd_route_menu.register(parser.add_subparsers(dest="route_command"))
    args = parser.parse_args(["menu", *argv])
    out: dict[str, Any] = args.func(args)
    return out


def test_cli_on_the_routerbench_slice_builds_a_verified_menu(need_data: Any, tmp_path: Path) -> None:
    folder = need_data("routing", "routerbench_slice")
    html = tmp_path / "menu.html"
    out = _cli(["--data", str(folder), "--types", "8", "--samples", "20000", "--report", str(html)])
    assert out["prompts"] == 3150 and len(out["tiers"]) == 11
    assert out["ic_ok"] and out["ir_ok"] and out["implements"] and out["V_synthetic"]
    assert out["requests"]["n"] == 20000 and len(out["requests"]["deciles"]) == 10
    totals = {t["regime"]: t for t in out["totals"]}
    assert totals["menu"]["welfare_per_query_usd"] <= totals["silent_cost"]["welfare_per_query_usd"] + 1e-12
    assert totals["menu"]["profit_per_query_usd"] >= totals["flat"]["profit_per_query_usd"] - 1e-12
    gpt4 = next(t for t in out["tiers"] if t["name"] == "gpt-4-1106-preview")
    assert gpt4["quality"] == pytest.approx(0.879, abs=5e-4) and gpt4["cost_usd"] == pytest.approx(
        0.00502, abs=5e-6
    )
    page = html.read_text()
    assert "synthetic" in page and "<svg" in page and 'data-key="ic_ok"' in page
    write_json(tmp_path / "menu.json", out)
    assert json.loads((tmp_path / "menu.json").read_text())["objective"] == "revenue"


def test_cli_with_a_value_file_is_not_labelled_synthetic(need_data: Any, tmp_path: Path) -> None:
    folder = need_data("routing", "routerbench_slice")
    vfile = tmp_path / "values.csv"
    vfile.write_text("V,weight\n0.002,3\n0.01,2\n0.05,1\n")
    out = _cli(["--data", str(folder), "--V-dist", str(vfile), "--objective", "welfare", "--split", "test"])
    assert not out["V_synthetic"] and out["types"] == 3 and out["prompts"] == 945
    assert out["welfare_loss_vs_silent_share"] == pytest.approx(0.0, abs=1e-12)

"""The multi-tenant market: closed-form clearing prices, the optimum's dual, properties, misreports, CLI."""

from __future__ import annotations

import argparse
import functools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtr, ndtri

from tokenomy.core.bus import PriceBus
from tokenomy.core.errors import TokenomyError, ValidationError
from tokenomy.core.prices import GPU_SECOND
from tokenomy.economy import (
    MARKET_TOPIC,
    LogNormalValue,
    Tenant,
    TenantSet,
    clear,
    dual_price,
    misreport,
    run_market,
    social_optimum,
    tenant_from_requests,
    tenants_from_servegen,
)
from tokenomy.interfaces.cli import write_json
from tokenomy.interfaces.cmd_economy_equilibrium import register_equilibrium
from tokenomy.interfaces.loaders.servegen import SERVEGEN_FILE, load_servegen
from tokenomy.serving.servegen import LengthPMF, ServeGenClient


def _tenant(
    name: str, rate: float, median: float, sigma: float = 1.0, sizes: tuple[float, ...] = (1.0,)
) -> Tenant:
    return Tenant(name, rate, np.array(sizes), LogNormalValue(median, sigma))


# -- oracles ----------------------------------------------------------------------------------------
def test_two_tenants_same_value_clear_at_the_closed_form_price() -> None:
    # Unit sizes, q = 1, one V law: D(p) = (r1 + r2)·Φ((μ − ln p)/σ) = C ⇒ p* = exp(μ − σ·Φ⁻¹(C/R)).
    median, sigma, r1, r2, cap = 0.2, 0.8, 3.0, 7.0, 4.0
    ts = TenantSet((_tenant("a", r1, median, sigma), _tenant("b", r2, median, sigma)))
    p_star = math.exp(math.log(median) - sigma * float(ndtri(cap / (r1 + r2))))
    eq = clear(ts, cap, tol=1e-10)
    assert eq.cleared and eq.iterations <= 100
    assert eq.price_usd_per_gpu_s == pytest.approx(p_star, rel=1e-8)
    assert dual_price(ts, cap) == pytest.approx(p_star, rel=1e-10)
    share = float(ndtr((math.log(median) - math.log(p_star)) / sigma))
    alloc = [t.allocation_gpu_s_per_s for t in eq.tenants]
    assert alloc == pytest.approx([r1 * share, r2 * share], rel=1e-7)
    # Gross value: R·E[V·1{V > p*}] = R·e^{μ+σ²/2}·Φ((μ + σ² − ln p*)/σ); no cost, so welfare = gross.
    gross = (r1 + r2) * math.exp(math.log(median) + sigma**2 / 2)
    gross *= float(ndtr((math.log(median) + sigma**2 - math.log(p_star)) / sigma))
    assert eq.welfare_usd_per_s == pytest.approx(gross, rel=1e-7)
    assert sum(t.surplus_usd_per_s for t in eq.tenants) == pytest.approx(gross - p_star * cap, rel=1e-6)


def test_equilibrium_price_is_the_convex_optimum_dual_price() -> None:
    ts = TenantSet(
        (
            _tenant("small", 2.0, 0.05, 0.7, (0.01, 0.03)),
            _tenant("big", 20.0, 0.02, 1.5, (0.005, 0.02, 0.08)),
            _tenant("mid", 6.0, 0.5, 0.4, (0.2,)),
        )
    )
    cap = 0.3 * ts.peak_demand_gpu_s_per_s
    eq = clear(ts, cap, floor_usd=1e-3, cost_usd_per_gpu_s=1e-3, tol=1e-8)
    opt = social_optimum(ts, cap, cost_usd_per_gpu_s=1e-3)
    assert eq.price_usd_per_gpu_s == pytest.approx(opt.dual_price_usd_per_gpu_s, rel=1e-6)
    assert opt.shadow_price_usd_per_gpu_s == pytest.approx(opt.dual_price_usd_per_gpu_s, rel=1e-3)
    assert [t.allocation_gpu_s_per_s for t in eq.tenants] == pytest.approx(
        opt.allocation_gpu_s_per_s, rel=1e-3
    )
    assert opt.welfare_usd_per_s == pytest.approx(opt.dual_welfare_usd_per_s, rel=1e-6)
    assert eq.welfare_usd_per_s / opt.best_welfare_usd_per_s >= 0.99


def test_slack_market_clears_at_the_reserve_price() -> None:
    ts = TenantSet((_tenant("a", 1.0, 1.0), _tenant("b", 1.0, 2.0)))
    eq = clear(ts, 10.0, floor_usd=0.01)
    assert eq.cleared and eq.price_usd_per_gpu_s == 0.01 and eq.excess_demand_frac < 0
    eq0 = clear(ts, 10.0)  # reserve 0: slack even at price 0
    assert eq0.cleared and eq0.price_usd_per_gpu_s == 0.0
    assert eq0.excess_demand_frac == pytest.approx(2.0 / 10.0 - 1.0)
    assert dual_price(ts, 10.0, floor_usd=0.01) == 0.01


def test_flat_price_rations_and_loses_welfare_when_demand_exceeds_capacity() -> None:
    ts = TenantSet((_tenant("a", 5.0, 0.1, 1.2, (0.01,)), _tenant("b", 5.0, 1.0, 1.2, (0.01,))))
    rep = run_market(ts, 0.25 * ts.peak_demand_gpu_s_per_s, cost_usd_per_gpu_s=1e-4)
    assert rep.flat.served_frac < 1.0
    assert sum(t.allocation_gpu_s_per_s for t in rep.flat.tenants) == pytest.approx(rep.capacity_gpu_s_per_s)
    assert rep.flat_efficiency < rep.efficiency
    assert rep.efficiency >= 0.99


# -- the price path is on the bus -------------------------------------------------------------------
def test_clearing_publishes_every_price_on_the_bus() -> None:
    ts = TenantSet((_tenant("a", 3.0, 0.3), _tenant("b", 5.0, 0.1)))
    bus = PriceBus()
    eq = clear(ts, 2.0, bus=bus)
    quotes = bus.history(MARKET_TOPIC)
    assert [q.prices.resource_usd(GPU_SECOND) for q in quotes] == list(eq.price_path_usd_per_gpu_s)
    assert all(q.prices.resource(GPU_SECOND) is not None for q in quotes)
    assert [q.time_s for q in quotes] == [float(k) for k in range(eq.iterations + 1)]


# -- properties -------------------------------------------------------------------------------------
_TENANT = st.tuples(
    st.floats(0.01, 100.0),  # rate
    st.floats(1e-3, 10.0),  # median V
    st.floats(0.2, 2.5),  # σ
    st.lists(st.floats(1e-3, 10.0), min_size=1, max_size=4),  # sizes
)


@settings(max_examples=60, deadline=None)
@given(
    specs=st.lists(_TENANT, min_size=2, max_size=8),
    frac=st.floats(0.02, 1.5),
    floor=st.sampled_from([0.0, 1e-4, 1e-2]),
)
def test_any_market_clears_within_one_percent_in_100_steps(
    specs: list[tuple[float, float, float, list[float]]], frac: float, floor: float
) -> None:
    ts = TenantSet(tuple(_tenant(f"t{k}", r, m, s, tuple(z)) for k, (r, m, s, z) in enumerate(specs)))
    cap = frac * ts.peak_demand_gpu_s_per_s
    eq = clear(ts, cap, floor_usd=floor, cost_usd_per_gpu_s=floor, tol=1e-3, max_iter=100)
    assert eq.cleared and eq.iterations <= 100
    slack = eq.price_usd_per_gpu_s <= floor and eq.excess_demand_frac <= 0
    assert slack or abs(eq.excess_demand_frac) <= 0.01
    mu = dual_price(ts, cap, floor_usd=floor)
    best = ts.take(mu, charge_usd_per_gpu_s=floor).utility_usd_per_s.sum()
    assert eq.welfare_usd_per_s >= 0.99 * best - 1e-12


# -- incentives -------------------------------------------------------------------------------------
def test_a_price_taker_gains_nothing_by_misreporting() -> None:
    ts = TenantSet((_tenant("tiny", 0.001, 0.1, 1.0, (0.01,)), _tenant("rest", 100.0, 0.1, 1.0, (0.01,))))
    cap = 0.4 * ts.peak_demand_gpu_s_per_s
    eq = clear(ts, cap, tol=1e-10)
    for factor in (0.5, 2.0):
        m = misreport(ts, cap, eq, tenant=0, factor=factor, tol=1e-10)
        assert m.gain_usd_per_s < 0  # truthful bidding is its best reply at a price it cannot move


def test_a_dominant_tenant_can_gain_by_shading_its_reported_value() -> None:
    # Uniform pricing is not strategy-proof: a tenant holding most of the demand lowers the price.
    ts = TenantSet((_tenant("big", 100.0, 0.1, 1.0, (0.01,)), _tenant("small", 1.0, 0.1, 1.0, (0.01,))))
    cap = 0.3 * ts.peak_demand_gpu_s_per_s
    eq = clear(ts, cap, tol=1e-10)
    shade = misreport(ts, cap, eq, tenant=0, factor=0.5, tol=1e-10)
    assert shade.price_usd_per_gpu_s < eq.price_usd_per_gpu_s
    assert shade.gain_usd_per_s > 0


# -- fitting and determinism ------------------------------------------------------------------------
def _client(name: str, rate: float) -> ServeGenClient:
    pmf_in = LengthPMF(np.array([100, 300]), np.array([0.5, 0.5]))
    pmf_out = LengthPMF(np.array([10, 50]), np.array([0.25, 0.75]))
    w = np.arange(6, dtype=np.float64) * 600.0
    return ServeGenClient(
        name, w, np.full(6, rate), np.ones(6), ("Gamma",) * 6, np.ones(6), np.ones(6),
        np.array([0.0]), (pmf_in,), (pmf_out,),
    )  # fmt: skip


def test_same_seed_same_market_and_other_seed_other_values() -> None:
    clients = [_client("c1", 2.0), _client("c2", 0.5), _client("c3", 1.0)]

    def market(seed: int) -> tuple[Any, ...]:
        ts = TenantSet(tuple(tenants_from_servegen(clients, seed=seed)))
        rep = run_market(ts, 0.5 * ts.peak_demand_gpu_s_per_s, cost_usd_per_gpu_s=1e-4)
        return rep.clearing, rep.optimum, rep.flat, rep.misreports, [t.value for t in ts.tenants]

    assert market(3) == market(3)
    assert market(3)[-1] != market(4)[-1]
    ts = tenants_from_servegen(clients, seed=0)
    assert [t.rate_rps for t in ts] == pytest.approx([2.0, 0.5, 1.0])
    assert all(t.value.synthetic for t in ts)


def test_tenant_from_requests_rate_is_requests_per_second() -> None:
    t = tenant_from_requests(
        "x", np.arange(11.0), np.full(11, 100), np.full(11, 10), LogNormalValue(1.0, 1.0)
    )
    assert t.rate_rps == pytest.approx(1.0) and t.load_gpu_s.size == 11


# -- bad input --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda: LogNormalValue(0.0, 1.0),
        lambda: LogNormalValue(1.0, 0.0),
        lambda: Tenant("x", -1.0, np.array([1.0]), LogNormalValue(1.0, 1.0)),
        lambda: Tenant("x", 1.0, np.array([0.0]), LogNormalValue(1.0, 1.0)),
        lambda: Tenant("x", 1.0, np.array([1.0, 2.0]), LogNormalValue(1.0, 1.0), load_weight=np.array([1.0])),
        lambda: TenantSet(()),
        lambda: clear(TenantSet((_tenant("a", 1.0, 1.0),)), -1.0),
        lambda: clear(TenantSet((_tenant("a", 1.0, 1.0),)), 1.0, floor_usd=-1.0),
        lambda: misreport(
            TenantSet((_tenant("a", 1.0, 1.0),)),
            1.0,
            clear(TenantSet((_tenant("a", 1.0, 1.0),)), 1.0),
            tenant=0,
            factor=0.0,
        ),
    ],
)
def test_bad_values_raise_validation_error(make: Any) -> None:
    with pytest.raises(ValidationError):
        make()


def _main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """The ``economy`` command as cli.py will mount it: one-line errors, exit 2, JSON only on success."""
    parser = argparse.ArgumentParser(prog="tokenomy")
    economy = parser.add_subparsers(dest="command").add_parser("economy")
    register_equilibrium(economy.add_subparsers(dest="economy_command", required=True))
    args = parser.parse_args(argv)
    try:
        out = args.func(args)
    except TokenomyError as exc:
        return 2, str(exc)
    if args.json:
        write_json(args.json, out)
    return 0, capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--tenants", "1"], "--tenants"),
        (["--capacity-frac", "-0.5"], "--capacity-frac"),
        (["--capacity-frac", "nan"], "--capacity-frac"),
        (["--trace", "nosuch"], "--trace"),
        (["--trace", "azure", "--tenants", "3"], "--tenants 2"),
        (["--data", "/no/such/folder"], "--data"),
    ],
)
def test_cli_bad_input_is_one_line_naming_the_option(
    argv: list[str], named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "eq.json"
    rc, msg = _main(["economy", "equilibrium", "--data", str(tmp_path), *argv, "--json", str(out)], capsys)
    assert rc == 2 and named in msg and "\n" not in msg
    assert not out.exists()


def test_cli_needs_an_economy_command_to_mount_on(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _main(["economy", "equilibrium", "--tenants", "x"], capsys)  # argparse: not an integer
    assert "--tenants" in capsys.readouterr().err


# -- real data (fail, not skip, under CI=true) ------------------------------------------------------
@functools.cache
def _servegen(path: Path) -> list[ServeGenClient]:
    return load_servegen(path, top=8)[0]


@pytest.fixture
def servegen_clients(need_data: Any) -> list[ServeGenClient]:
    return _servegen(need_data(*SERVEGEN_FILE.split("/")))


def test_servegen_tenants_clear_efficiently(servegen_clients: list[ServeGenClient]) -> None:
    tenants = tenants_from_servegen(servegen_clients[:4], seed=0)
    for t, c in zip(tenants, servegen_clients, strict=False):
        span = c.window_start_s.max() - c.window_start_s.min() + 600.0
        assert t.rate_rps == pytest.approx(c.expected_requests / span) and t.rate_rps > 0
        assert t.value.synthetic and t.mean_prompt_tokens > 0
    ts = TenantSet(tuple(tenants))
    rep = run_market(ts, 0.5 * ts.peak_demand_gpu_s_per_s, cost_usd_per_gpu_s=2.5 / 3600)
    assert rep.clearing.cleared and rep.clearing.iterations <= 100
    assert abs(rep.clearing.excess_demand_frac) <= 0.01
    assert rep.efficiency >= 0.99 and rep.flat_efficiency < rep.efficiency


def test_cli_json_on_real_data_labels_values_synthetic(
    need_data: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = need_data(*SERVEGEN_FILE.split("/")).parents[2]
    out = tmp_path / "eq.json"
    argv = [
        "economy",
        "equilibrium",
        "--data",
        str(data),
        "--tenants",
        "3",
        "--seed",
        "1",
        "--json",
        str(out),
    ]
    rc, text = _main(argv, capsys)
    assert rc == 0 and "synthetic" in text
    doc = json.loads(out.read_text())
    for key in (
        "iterations",
        "excess_demand",
        "efficiency",
        "flat_efficiency",
        "tenants",
        "price_path",
        "synthetic",
    ):
        assert key in doc
    assert len(doc["tenants"]) == 3 and doc["synthetic"]
    assert all(t["v_distribution"]["synthetic"] is True for t in doc["tenants"])
    assert [m["factor"] for m in doc["tenants"][0]["misreport"]] == [0.5, 2.0]
    assert len(doc["price_path"]) == doc["iterations"] + 1
    assert abs(doc["excess_demand"]) <= 0.01 and doc["efficiency"] >= 0.99

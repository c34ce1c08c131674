"""One rule: every layer's Eq. 1 surplus and realised utility equal core's on the same inputs.

Each case feeds a layer function random inputs (fixed seeds, several hundred draws) with λ > 0,
ρ_irr > ρ and a partly irreversible harm, and compares it with ``tokenomy.core.rule.surplus_matrix``
or ``realised_utility`` applied to the same inputs here (rtol 1e-12). A layer that writes its own
copy of Eq. 1 and drops a term (λ, ρ, the irreversible part, or reads ρ_irr as a premium on top of ρ)
fails its case. The ledger's SQL query has its own case beside the ledger's tests.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from tokenomy.audit.detectors._decisions import score_decisions
from tokenomy.audit.engine import run_audit
from tokenomy.audit.log import AuditLog, RequestTable, StepBuilder
from tokenomy.audit.pricing import StaticPriceTable
from tokenomy.core.prices import PriceVector
from tokenomy.core.rule import NULL, choose_many, realised_utility, surplus_matrix
from tokenomy.ledger import Candidate, Decision, Layer, Outcome
from tokenomy.routing.evaluation import realised
from tokenomy.routing.policies.base import Problem, Routes
from tokenomy.routing.policies.cascade import Cascade
from tokenomy.routing.policies.fixed_choice import TrainMeans
from tokenomy.serving.metrics import welfare_parts
from tokenomy.serving.result import COMPLETED, REJECTED

F = NDArray[np.float64]
RTOL = 1e-12
SEEDS = range(6)


def close(a: Any, b: Any) -> None:
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=RTOL, atol=1e-12)


def prices(rng: np.random.Generator) -> tuple[float, float, float]:
    """(λ, ρ, ρ_irr) with ρ_irr strictly above ρ, so the irreversible part is priced differently."""
    rho = float(rng.uniform(0.5, 5.0))
    return float(rng.uniform(0.01, 2.0)), rho, rho * float(rng.uniform(1.5, 20.0))


# -- routing ------------------------------------------------------------------------------------


def routing_problem(seed: int, n: int = 300, m: int = 5) -> Problem:
    rng = np.random.default_rng(seed)
    lam, rho, rho_irr = prices(rng)
    dq = rng.uniform(0, 1, (n, m))
    cons = rng.uniform(0, 3, n)
    cons_irr = cons * rng.uniform(0, 1, n)  # partial irreversible harm
    return Problem(
        tuple(f"m{j}" for j in range(m)),
        dq,
        rng.uniform(0, 0.1, (n, m)),
        rng.uniform(0, 2, (n, m)),
        (1.0 - dq) * cons[:, None],
        rng.lognormal(-1, 1.5, n),
        lam,
        rho,
        quality=rng.integers(0, 2, (n, m)).astype(np.float64),
        cost_usd=rng.uniform(0, 0.1, (n, m)),
        latency_s=rng.uniform(0, 3, (n, m)),
        consequence=cons,
        rho_irr_usd=rho_irr,
        consequence_irr=cons_irr,
    )


def routing_core(p: Problem, quality: F, cost: F, lat: F) -> F:
    cons, irr = p.consequence, p.consequence_irr
    assert cons is not None and irr is not None

    def col(a: F) -> F:
        return a[:, None] if quality.ndim == 2 else a

    return realised_utility(
        col(p.v_usd),
        quality,
        cost,
        lat,
        (1.0 - quality) * col(cons),
        (1.0 - quality) * col(irr),
        lam_usd_per_s=p.lam_usd_per_s,
        rho_usd=p.rho_usd,
        rho_irr_usd=p.rho_irr_usd,
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_router_estimated_surplus_is_core_surplus_matrix(seed: int) -> None:
    p = routing_problem(seed)
    assert p.consequence is not None and p.consequence_irr is not None
    for dq in (None, np.clip(p.dq + 0.1, 0, 1)):
        q = p.dq if dq is None else dq
        want = surplus_matrix(
            p.v_usd,
            q,
            p.dc_usd,
            p.dl_s,
            (1.0 - q) * p.consequence[:, None],
            (1.0 - q) * p.consequence_irr[:, None],
            lam_usd_per_s=p.lam_usd_per_s,
            rho_usd=p.rho_usd,
            rho_irr_usd=p.rho_irr_usd,
        )
        close(p.estimated_surplus(dq), want)


@pytest.mark.parametrize("seed", SEEDS)
def test_routing_realised_welfare_is_core_realised_utility(seed: int) -> None:
    p = routing_problem(seed)
    assert p.quality is not None and p.cost_usd is not None and p.latency_s is not None
    close(p.realised_welfare(), routing_core(p, p.quality, p.cost_usd, p.latency_s))


@pytest.mark.parametrize("seed", SEEDS)
def test_routing_evaluation_welfare_is_core_realised_utility(seed: int) -> None:
    p = routing_problem(seed)
    assert p.quality is not None and p.cost_usd is not None and p.latency_s is not None
    rng = np.random.default_rng(100 + seed)
    n, m = p.quality.shape
    chosen = np.asarray(rng.integers(-1, m, size=n), dtype=np.int64)  # NULL = -1 for some
    called = rng.random((n, m)) < 0.3
    ok = chosen >= 0
    called[np.flatnonzero(ok), chosen[ok]] = True
    got = realised(p, Routes(chosen, called=called))
    rows = np.arange(n)
    q = np.where(ok, p.quality[rows, np.maximum(chosen, 0)], 0.0)
    want = routing_core(p, q, (called * p.cost_usd).sum(1), (called * p.latency_s).sum(1))
    # the null option answers nothing: no value and no risk, only what was called is paid
    null_want = realised_utility(
        p.v_usd,
        0.0,
        (called * p.cost_usd).sum(1),
        (called * p.latency_s).sum(1),
        lam_usd_per_s=p.lam_usd_per_s,
    )
    close(got.welfare, np.where(ok, want, null_want))
    assert (chosen == NULL).any() and ok.any()


@pytest.mark.parametrize("seed", SEEDS)
def test_best_fixed_choice_is_core_choose_many_on_train_means(seed: int) -> None:
    p = routing_problem(seed)
    assert p.quality is not None and p.cost_usd is not None and p.latency_s is not None
    means = TrainMeans.of(p)
    assert p.consequence is not None and p.consequence_irr is not None
    risk = (1.0 - p.quality) * p.consequence[:, None]
    risk_irr = (1.0 - p.quality) * p.consequence_irr[:, None]
    want, _ = choose_many(
        p.v_usd,
        p.quality.mean(0),
        p.cost_usd.mean(0),
        p.latency_s.mean(0),
        risk.mean(0),
        risk_irr.mean(0),
        lam_usd_per_s=p.lam_usd_per_s,
        rho_usd=p.rho_usd,
        rho_irr_usd=p.rho_irr_usd,
    )
    np.testing.assert_array_equal(means.best(p.v_usd, p), want)


@pytest.mark.parametrize("seed", SEEDS)
def test_cascade_welfare_is_core_realised_utility(seed: int) -> None:
    p = routing_problem(seed)
    assert p.quality is not None and p.cost_usd is not None and p.latency_s is not None
    cascade = Cascade()
    cascade.stages_ = [3, 0, 4]
    stop = np.random.default_rng(seed).integers(0, 3, len(p))
    rows = np.arange(len(p))
    answer = np.array(cascade.stages_)[stop]
    cost = np.cumsum(p.cost_usd[:, cascade.stages_], 1)[rows, stop]
    lat = np.cumsum(p.latency_s[:, cascade.stages_], 1)[rows, stop]
    close(cascade.welfare(p, stop), routing_core(p, p.quality[rows, answer], cost, lat))


# -- audit --------------------------------------------------------------------------------------

TABLE = StaticPriceTable.from_override(
    {"models": {"m": {"input_usd_per_mtok": 1.0, "output_usd_per_mtok": 2.0}}}
)


@pytest.mark.parametrize("seed", SEEDS)
def test_audit_engine_per_request_utility_is_core_realised_utility(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_req, n_steps = 60, 400
    req = rng.integers(0, n_req, n_steps)
    lat = rng.uniform(0, 5, n_steps)
    b = StepBuilder()
    for k in range(n_steps):
        tokens = {"input_tokens": int(rng.integers(1, 5000)), "output_tokens": int(rng.integers(0, 500))}
        b.add(step_id=f"s{k}", request_id=f"r{req[k]}", index=k, model="m", latency_s=lat[k], **tokens)
    rows = []
    for i in range(n_req):
        lam, rho, rho_irr = prices(rng)
        harm = float(rng.uniform(0, 2))
        rows.append(
            {
                "request_id": f"r{i}",
                "v_usd": float(rng.lognormal(0, 1)),
                "lam_usd_per_s": lam,
                "rho_usd": rho,
                "rho_irr_usd": rho_irr,
                "quality": float(rng.uniform()),
                "harm": harm,
                "harm_irr": harm * float(rng.uniform()),
            }
        )
    rq = RequestTable.from_rows(rows)
    res = run_audit(AuditLog("conformance", b.build(), rq, (), {}), TABLE)
    ctx = res.context
    latency = np.zeros(n_req)
    np.add.at(latency, req, lat)
    want = realised_utility(
        rq.v_usd,
        rq.quality,
        ctx.cost_usd,
        latency,
        rq.harm,
        rq.harm_irr,
        lam_usd_per_s=rq.lam_usd_per_s,
        rho_usd=rq.rho_usd,
        rho_irr_usd=rq.rho_irr_usd,
    )
    order = [int(str(r)[1:]) for r in rq.request_id]
    assert order == list(range(n_req))
    close(ctx.welfare_usd, want)
    close(ctx.risk_cost_usd, rq.rho_usd * (rq.harm - rq.harm_irr) + rq.rho_irr_usd * rq.harm_irr)


@pytest.mark.parametrize("seed", SEEDS)
def test_audit_detectors_realised_utility_is_core_realised_utility(seed: int) -> None:
    rng = np.random.default_rng(seed)
    decisions, outcomes, want = [], [], []
    for i in range(80):
        lam, rho, rho_irr = prices(rng)
        pv = PriceVector(
            v_usd=float(rng.lognormal(0, 1)), lam_usd_per_s=lam, rho_usd=rho, rho_irr_usd=rho_irr
        )
        cands = tuple(Candidate(f"c{j}", 0.5, 0.1, 0.0, 0.0, 0.0, -1.0) for j in range(3))
        decisions.append(Decision(f"r{i}", Layer.DEMAND, "route", cands, 0, pv))
        harm = float(rng.uniform(0, 2))
        o = Outcome(
            f"r{i}",
            float(rng.uniform()),
            float(rng.uniform(0, 1)),
            float(rng.uniform(0, 5)),
            harm,
            harm * float(rng.uniform()),
            candidate="c1",
        )
        outcomes.append(o)
        want.append(
            realised_utility(
                pv.v_usd,
                o.quality,
                o.cost_usd,
                o.latency_s,
                o.harm,
                o.harm_irr,
                lam_usd_per_s=lam,
                rho_usd=rho,
                rho_irr_usd=rho_irr,
            )
        )
    scored = score_decisions(decisions, outcomes, Layer.DEMAND)
    close([s.utility_usd[1] for s in scored], want)
    assert all(s.observed.tolist() == [False, True, False] for s in scored)


# -- serving ------------------------------------------------------------------------------------


class _Workload(SimpleNamespace):
    def __len__(self) -> int:
        return len(self.v_usd)


@pytest.mark.parametrize("seed", SEEDS)
def test_serving_welfare_is_core_realised_utility_less_gpu(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 500
    arrival = np.sort(rng.uniform(0, 100, n))
    status = rng.choice(np.array([COMPLETED, REJECTED, "other"], dtype=object), n)
    finish = arrival + rng.uniform(0, 20, n)
    wl = _Workload(v_usd=rng.lognormal(0, 1, n), lam_usd_per_s=rng.uniform(0, 0.1, n), arrival_s=arrival)
    run = SimpleNamespace(
        workload=wl,
        status=status,
        finish_s=finish,
        busy_s=float(rng.uniform(10, 100)),
        config=SimpleNamespace(gpu_usd_per_s=float(rng.uniform(0, 0.01))),
    )
    mask = rng.random(n) < 0.7
    got = welfare_parts(run, mask)  # type: ignore[arg-type]
    done = (status == COMPLETED) & mask
    waited = ((status == COMPLETED) | (status == REJECTED)) & mask
    util = realised_utility(
        wl.v_usd, done, 0.0, np.where(waited, finish - arrival, 0.0), lam_usd_per_s=wl.lam_usd_per_s
    )
    gpu = run.config.gpu_usd_per_s * run.busy_s * mask.mean()
    close(got["welfare"], util.sum() - gpu)

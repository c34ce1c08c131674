"""The ledger's realised utility, regret and request vectors are core's one rule, number for number.

Random decisions (ρ_irr > ρ) and outcomes (partial irreversible harm, counterfactuals, outcomes shared by
every decision of a request, the null option) go into a ledger; its ``regret()`` and
``request_vectors()`` must equal ``tokenomy.core.realised_utility`` / ``utility_terms`` applied to the
same inputs with the ledger's join rule (docs/ledger.md, Reading) written out here in Python.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pytest

from tokenomy.core import PriceVector, realised_utility, utility_terms
from tokenomy.ledger import Candidate, Decision, Layer, Ledger, Outcome

NAMES = ("c0", "c1", "c2")


@dataclass(frozen=True, slots=True)
class _Link:
    decision: Decision
    outcome: Outcome
    oseq: int
    cand: str | None
    realised: bool


def _world(seed: int) -> tuple[list[Decision], list[Outcome]]:
    rng = np.random.default_rng(seed)
    decisions, outcomes = [], []
    for r in range(30):
        rid = f"r{r}"
        for k in range(1 + int(rng.random() < 0.5)):
            rho = float(rng.uniform(0, 20))
            prices = PriceVector(
                v_usd=float(rng.uniform(0, 50)),
                lam_usd_per_s=float(rng.uniform(0, 2)),
                rho_usd=rho,
                rho_irr_usd=rho + float(rng.uniform(0.5, 30)),  # ρ_irr > ρ
            )
            cands = tuple(Candidate(n, float(rng.random()), float(rng.random())) for n in NAMES)
            chosen = None if rng.random() < 0.2 else int(rng.integers(0, 3))
            layer, point = (Layer.DEMAND, "route") if k == 0 else (Layer.ACTION, "step-1")
            d = Decision(rid, layer, point, cands, chosen, prices, decision_id=f"{rid}/{k}")
            decisions.append(d)
            for cand in [""] + [n for n in NAMES if rng.random() < 0.5]:
                for _ in range(1 + int(rng.random() < 0.3)):  # some candidates have two outcomes: summed
                    harm = float(rng.uniform(0, 2)) if rng.random() < 0.7 else 0.0
                    outcomes.append(
                        Outcome(
                            rid,
                            quality=float(rng.random() < 0.6),
                            cost_usd=float(rng.uniform(0, 10)),
                            latency_s=float(rng.uniform(0, 5)),
                            harm=harm,
                            harm_irr=harm * float(rng.random()),  # partial irreversible harm
                            candidate=cand,
                            decision_id=d.decision_id,
                        )
                    )
        if rng.random() < 0.4:  # one outcome shared by every decision of the request
            outcomes.append(
                Outcome(rid, 1.0, float(rng.uniform(0, 3)), latency_s=1.0, harm=1.0, harm_irr=0.5)
            )
    return decisions, outcomes


def _links(decisions: list[Decision], outcomes: list[Outcome]) -> list[_Link]:
    by_id = {d.decision_id: d for d in decisions}
    by_req: dict[str, list[Decision]] = defaultdict(list)
    for d in decisions:
        by_req[d.request_id].append(d)
    links = []
    for seq, o in enumerate(outcomes):
        for d in [by_id[o.decision_id]] if o.decision_id else by_req[o.request_id]:
            cand = o.candidate or d.chosen_name
            links.append(_Link(d, o, seq, cand, o.candidate == "" or o.candidate == d.chosen_name))
    return links


def _core_terms(links: list[_Link]) -> np.ndarray:
    """(value, cost, latency cost, risk cost, utility) of every link, by core, one row per link."""

    def col(get: object) -> np.ndarray:
        return np.array([get(x) for x in links])  # type: ignore[operator]

    args = (
        col(lambda x: x.decision.prices.v_usd),
        col(lambda x: x.outcome.quality),
        col(lambda x: x.outcome.cost_usd),
        col(lambda x: x.outcome.latency_s),
        col(lambda x: x.outcome.harm),
        col(lambda x: x.outcome.harm_irr),
    )
    kw = {
        "lam_usd_per_s": col(lambda x: x.decision.prices.lam_usd_per_s),
        "rho_usd": col(lambda x: x.decision.prices.rho_usd),
        "rho_irr_usd": col(lambda x: x.decision.prices.rho_irr),
    }
    t = utility_terms(*args, **kw)
    u = realised_utility(*args, **kw)
    assert np.array_equal(u, t.utility_usd)
    # the irreversible part is priced at ρ_irr in whole, not as a premium on top of ρ·harm
    premium_reading = kw["rho_usd"] * args[4] + kw["rho_irr_usd"] * args[5]
    assert np.any(np.abs(t.risk_cost_usd - premium_reading) > 1e-6)
    return np.column_stack([t.value_usd, t.cost_usd, t.latency_cost_usd, t.risk_cost_usd, u])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ledger_regret_and_vectors_equal_core_realised_utility(seed: int) -> None:
    decisions, outcomes = _world(seed)
    links = _links(decisions, outcomes)
    terms = _core_terms(links)
    # per decision: candidate -> summed utility, and whether it is the realised one
    per: dict[str, dict[str | None, list[float]]] = defaultdict(dict)
    for x, row in zip(links, terms, strict=True):
        acc = per[x.decision.decision_id].setdefault(x.cand, [0.0, 0.0])
        acc[0] += row[4]
        acc[1] = max(acc[1], float(x.realised))
    with Ledger() as ledger:
        ledger.append(decisions)
        ledger.append_outcomes(outcomes)
        regret = {r["decision_id"]: r for r in ledger.regret().to_pylist()}
        vectors = {r["request_id"]: r for r in ledger.request_vectors().to_pylist()}
    assert set(regret) == {d.decision_id for d in decisions}
    for did, cands in per.items():
        realised = max((u for u, r in cands.values() if r), default=None)
        best = max(0.0, max(u for u, _ in cands.values()))
        got = regret[did]
        assert got["best_utility_usd"] == pytest.approx(best, rel=1e-12, abs=1e-12)
        if realised is None:
            assert got["realised_utility_usd"] is None and got["regret_usd"] is None
        else:
            assert got["realised_utility_usd"] == pytest.approx(realised, rel=1e-12, abs=1e-12)
            assert got["regret_usd"] == pytest.approx(best - realised, rel=1e-12, abs=1e-12)
    # per request: the realised vector over distinct realised outcomes, and the summed regret
    seen: dict[str, dict[tuple[int, tuple[float, ...]], np.ndarray]] = defaultdict(dict)
    for x, row in zip(links, terms, strict=True):
        if x.realised:
            seen[x.decision.request_id][(x.oseq, tuple(row))] = row
    keys = ("value_usd", "cost_usd", "latency_cost_usd", "risk_cost_usd", "utility_usd")
    for rid, rows in seen.items():
        want = np.sum(list(rows.values()), axis=0)
        got_v = np.array([vectors[rid][k] for k in keys])
        np.testing.assert_allclose(got_v, want, rtol=1e-12, atol=1e-12)
        reg = [regret[d.decision_id]["regret_usd"] for d in decisions if d.request_id == rid]
        want_reg = sum(r for r in reg if r is not None)
        assert vectors[rid]["regret_usd"] == pytest.approx(want_reg, rel=1e-12, abs=1e-12)

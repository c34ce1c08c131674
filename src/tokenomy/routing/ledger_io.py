"""Write routed requests to the ledger: one ``DecisionBatch`` per V, and every model's outcome.

Routing data has every model's outcome for every prompt, so each decision gets N × M counterfactual
``Outcome`` rows (candidate = the model) and the ledger's regret query compares the chosen model with
the ex-post best one. Quality and cost are measured; latency is the data's when present, else the
SYNTHETIC estimate, and harm is the SYNTHETIC (1 − quality) × consequence. Request ids are
``<prompt_id>@V=<V>`` so each V's decisions are separate requests. A decision that spends nothing
gets one outcome for "the chosen candidate" with quality 0 and cost 0, so its regret is defined too.

Every outcome carries the ``decision_id`` of its decision, so it joins that decision only. A second
write of the same requests into the same ledger is refused (``LedgerError`` naming the request and
the ledger), not appended: the ledger would count every request twice.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tokenomy.core.errors import LedgerError
from tokenomy.core.prices import PriceVector
from tokenomy.ledger import Ledger, Outcome
from tokenomy.routing.dataset import RoutingDataset
from tokenomy.routing.router import Router

__all__ = ["refuse_rerun", "request_ids", "write_routes"]


def request_ids(ds: RoutingDataset, v: float) -> list[str]:
    """The ledger request ids of ``ds``'s prompts at V = ``v``: ``<prompt_id>@V=<v>``."""
    return [f"{pid}@V={v:g}" for pid in ds.prompt_ids.tolist()]


def refuse_rerun(ledger: Ledger, ds: RoutingDataset, v_grid: Sequence[float]) -> None:
    """Raise if the ledger already holds ``ds``'s requests at some V of ``v_grid`` (an earlier run).

    Raises:
        LedgerError: naming the ledger, the request and the V.
    """
    for v in v_grid:
        first = request_ids(ds, float(v))[0]
        if next(ledger.decisions(first), None) is not None:
            raise LedgerError(
                f"the ledger {ledger.path} already holds route decisions for request {first!r} (an "
                f"earlier run of these data at V={v:g}); writing again would count every request "
                "twice: give a new --ledger path or remove the old file"
            )


def write_routes(
    ledger: Ledger, router: Router, ds: RoutingDataset, v_grid: Sequence[float], prices: PriceVector
) -> int:
    """Route ``ds`` at each V, append the decisions and all outcomes; return the decisions written.

    Raises:
        LedgerError: the ledger already holds one of these requests (an earlier run); nothing written.
    """
    refuse_rerun(ledger, ds, v_grid)
    X = router.features(ds.prompts, ds.categories.tolist())
    n = len(ds)
    cons = router.estimate(X).consequence
    written = 0
    for v in v_grid:
        batch = router.route_many(X, prices, np.full(n, float(v)))
        ids = request_ids(ds, float(v))
        seqs = ledger.append_batch(batch.to_batch(ids, prices))
        dids = [f"d{s}" for s in seqs]  # the ledger's id of a batch row without one (DecisionBatch)
        assert next(ledger.decisions(ids[0])).decision_id == dids[0]
        lat = ds.latency_s if ds.latency_s is not None else batch.dl_s
        harm = (1.0 - ds.quality) * cons[:, None]
        rows = [
            Outcome(
                ids[i],
                float(ds.quality[i, j]),
                float(ds.cost_usd[i, j]),
                latency_s=float(lat[i, j]),
                harm=float(harm[i, j]),
                candidate=model,
                decision_id=dids[i],
            )
            for i in range(n)
            for j, model in enumerate(ds.models)
        ]
        # spending nothing realised nothing: quality 0 at cost 0 (so the regret is defined)
        rows += [Outcome(ids[i], 0.0, 0.0, decision_id=dids[i]) for i in np.flatnonzero(batch.chosen < 0)]
        ledger.append_outcomes(rows)
        written += n
    return written

"""Write routed requests to the ledger: one ``DecisionBatch`` per V, and every model's outcome.

Routing data has every model's outcome for every prompt, so each decision gets N × M counterfactual
``Outcome`` rows (candidate = the model) and the ledger's regret query compares the chosen model with
the ex-post best one. Quality and cost are measured; latency is the data's when present, else the
SYNTHETIC estimate, and harm is the SYNTHETIC (1 − quality) × consequence. Request ids are
``<prompt_id>@V=<V>`` so each V's decisions are separate requests. A decision that spends nothing
gets one outcome for "the chosen candidate" with quality 0 and cost 0, so its regret is defined too.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tokenomy.core.prices import PriceVector
from tokenomy.ledger import Ledger
from tokenomy.routing.dataset import RoutingDataset
from tokenomy.routing.router import Router

__all__ = ["write_routes"]


def write_routes(
    ledger: Ledger, router: Router, ds: RoutingDataset, v_grid: Sequence[float], prices: PriceVector
) -> int:
    """Route ``ds`` at each V, append the decisions and all outcomes; return the decisions written."""
    X = router.features(ds.prompts, ds.categories.tolist())
    n, m = len(ds), ds.n_models
    names = np.tile(np.array(ds.models, dtype=object), n)
    cons = router.estimate(X).consequence
    written = 0
    for v in v_grid:
        batch = router.route_many(X, prices, np.full(n, float(v)))
        ids = np.char.add(ds.prompt_ids.astype(str), f"@V={v:g}").astype(object)
        ledger.append_batch(batch.to_batch(list(ids), prices))
        lat = ds.latency_s if ds.latency_s is not None else batch.dl_s
        harm = (1.0 - ds.quality) * cons[:, None]
        ledger.append_outcome_arrays(
            list(np.repeat(ids, m)),
            ds.quality.ravel(),
            ds.cost_usd.ravel(),
            latency_s=lat.ravel(),
            harm=harm.ravel(),
            candidate=list(names),
        )
        null = np.flatnonzero(batch.chosen < 0)
        if null.size:  # spending nothing realised nothing: quality 0 at cost 0 (so the regret is defined)
            ledger.append_outcome_arrays(list(ids[null]), 0.0, 0.0)
        written += n
    return written

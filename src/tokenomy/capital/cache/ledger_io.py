"""Cache decisions as ledger rows: admit, refuse, keep and evict, each with its price and expected value.

Each sampled decision of a ``policies.CacheLog`` becomes one capital-layer ``Decision`` (decision
point ``cache-<action>``, kind ``cache-write``: the cache's inventory decisions) over two
candidates, in Eq. 1 terms with no quality at stake (V = 0, ΔQ = 0):

* ``keep`` (candidate 0): ΔC = holding cost p_kv·E·τ, the rent of E blocks until the expected reuse;
* ``drop`` (candidate 1): ΔC = the V-weighted prefill value of that reuse, given up.

``chosen`` is what the policy did (0 for admit/keep, 1 for refuse/evict); where Eq. 1 would choose
the other, the row shows the forgone surplus. Evictions are forced by a full pool, so an evicted
block may still be worth more than its rent: the row says so. The prices (``kv_block_second``,
``prefill_token``) are the live ones the policy read. Sampling: every ``CacheLog.every``-th decision
of each action; one ``cache-run`` row (kind ``run``) carries the unsampled counts per action. A
holding cost that is infinite (reuse rate 0) is written as 1e9 USD and flagged. No I/O.
"""

from __future__ import annotations

import math

from tokenomy.capital.cache.policies import ACTIONS, CacheDecisions
from tokenomy.core.prices import KV_BLOCK_SECOND, PREFILL_TOKEN, PriceSource, PriceVector, ResourcePrice
from tokenomy.core.uses import TokenUse
from tokenomy.ledger import Decision, Layer

__all__ = ["CAP_USD", "cache_decisions"]

CAP_USD = 1e9


def cache_decisions(d: CacheDecisions, run: str, *, synthetic: tuple[str, ...] = ()) -> list[Decision]:
    """The run's sampled cache decisions plus one summary row (module docstring).

    Args:
        d: the decisions (``CacheLog.take``).
        run: the run's name (request ids are ``<run>/cache``).
        synthetic: the workload's synthetic fields (V and λ in the simulator), noted on every row.
    """
    rid = f"{run}/cache"
    out: list[Decision] = []
    for j in range(len(d)):
        t = float(d.time_s[j])
        p_kv, p_pre = float(d.kv_usd_per_block_s[j]), float(d.prefill_usd_per_token[j])
        action = ACTIONS[int(d.action[j])]
        hold, value = float(d.holding_usd[j]), float(d.value_usd[j])
        capped = not math.isfinite(hold)
        prices = PriceVector(
            resources=(
                ResourcePrice(KV_BLOCK_SECOND, p_kv, "block·s", PriceSource.DISCOVERED, t),
                ResourcePrice(PREFILL_TOKEN, p_pre, "token", PriceSource.DISCOVERED, t),
            ),
            time_s=t,
        )
        rate = float(d.reuse_per_s[j])
        uses = [TokenUse("keep", 0.0, min(hold, CAP_USD)), TokenUse("drop", 0.0, min(value, CAP_USD))]
        meta = {
            "policy": d.policy,
            "action": action,
            "block": int(d.block[j]),
            "depth": int(d.depth[j]),
            "demands_so_far": int(d.demands[j]),
            "reuse_per_s": rate,
            "expected_wait_s": 1.0 / rate if rate > 0 else None,
            "value_usd": value,
            "holding_usd": hold if not capped else None,
            "holding_capped": capped,
            "blocks": d.entry_blocks,
            "kv_usd_per_block_s": p_kv,
            "prefill_usd_per_token": p_pre,
            "synthetic": list(synthetic),
        }
        chosen = 0 if action in ("admit", "keep") else 1
        out.append(
            Decision.from_uses(
                rid,
                Layer.CAPITAL,
                f"cache-{action}",
                uses,
                prices,
                chosen=chosen,
                time_s=t,
                metadata=meta,
                kind="cache-write",
            )
        )
    if d.counts:
        t_end = float(d.time_s[-1]) if len(d) else 0.0
        out.append(
            Decision.from_uses(
                rid,
                Layer.CAPITAL,
                "cache-run",
                [TokenUse("cache", 0.0)],
                PriceVector(time_s=t_end),
                chosen=0,
                time_s=t_end,
                kind="run",
                metadata={"policy": d.policy, "decisions": dict(d.counts), "sampled_rows": len(d)},
            )
        )
    return out

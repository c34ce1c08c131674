"""Realised utility, regret and per-request vectors over the ledger tables, by core's one rule.

Join rule: an outcome with a ``decision_id`` belongs to that decision; one with an empty
``decision_id`` belongs to every decision of its request. Its candidate is the named one, or the
chosen one when ``candidate`` is empty (for a decision that chose the null option, the outcome of
spending nothing). DuckDB does the joins and the grouping; the utility of each (decision, outcome)
link under the decision's prices is computed by ``tokenomy.core.utility_terms``, the one definition
of realised Eq. 1 (``V·Q − C − λ·L − ρ·(R − R_irr) − ρ_irr·R_irr``), on the columns fetched as Arrow,
and handed back to DuckDB for the sums. No formula of utility is written in SQL here.

Regret of a decision = max(0, max over candidates with outcomes of U) − U(chosen); the 0 is the null
option, always available ex post. A decision with no outcome for its chosen candidate has NULL regret.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from tokenomy.core.rule import utility_terms

__all__ = ["decision_regret", "request_vectors", "valued_links"]

_LINKS = """
WITH links AS (
  SELECT d.seq AS dseq, o.seq AS oseq, o.candidate, d.chosen_name
  FROM outcomes o JOIN decisions d ON o.decision_id = d.decision_id
  WHERE o.decision_id <> ''
  UNION ALL
  SELECT d.seq, o.seq, o.candidate, d.chosen_name
  FROM outcomes o JOIN decisions d ON o.request_id = d.request_id
  WHERE o.decision_id = ''
)
SELECT dseq, oseq,
       COALESCE(NULLIF(candidate, ''), chosen_name) AS cand,
       (candidate = '' OR candidate IS NOT DISTINCT FROM chosen_name) AS realised
FROM links
"""

_PRICES = "SELECT seq, v_usd, lam_usd_per_s, rho_usd, rho_irr_usd FROM decisions"
_OUTCOMES = "SELECT seq, quality, cost_usd, latency_s, harm, harm_irr FROM outcomes"

_PER_DECISION = """
per_cand AS (
  SELECT dseq, cand, bool_or(realised) AS realised, sum(utility_usd) AS utility_usd
  FROM _valued GROUP BY dseq, cand
),
per_decision AS (
  SELECT dseq,
         max(utility_usd) FILTER (WHERE realised) AS realised_utility_usd,
         greatest(0.0, max(utility_usd)) AS best_utility_usd,
         arg_max(cand, utility_usd) AS best_observed_candidate,
         count(*) AS candidates_observed
  FROM per_cand GROUP BY dseq
),
reg AS (
  SELECT d.seq, d.decision_id, d.request_id, d.tenant, d.layer, d.decision_point, d.kind, d.chosen_name,
         d.v_usd, d.lam_usd_per_s, d.rho_usd, d.rho_irr_usd,
         p.realised_utility_usd, p.best_utility_usd,
         CASE WHEN p.best_utility_usd > 0 THEN p.best_observed_candidate ELSE NULL END AS best_candidate,
         p.best_utility_usd - p.realised_utility_usd AS regret_usd,
         coalesce(p.candidates_observed, 0) AS candidates_observed
  FROM decisions d LEFT JOIN per_decision p ON p.dseq = d.seq
)
"""

_DECISION_REGRET = "WITH " + _PER_DECISION + "SELECT * EXCLUDE (seq) FROM reg ORDER BY seq"

_REQUEST_VECTORS = (
    "WITH "
    + _PER_DECISION
    + """,
realised_outcomes AS (
  SELECT DISTINCT d.request_id, v.oseq, v.value_usd, v.cost_usd, v.latency_cost_usd, v.risk_cost_usd,
         v.utility_usd
  FROM _valued v JOIN decisions d ON d.seq = v.dseq
  WHERE v.realised
),
vec AS (
  SELECT request_id, sum(value_usd) AS value_usd, sum(cost_usd) AS cost_usd,
         sum(latency_cost_usd) AS latency_cost_usd, sum(risk_cost_usd) AS risk_cost_usd,
         sum(utility_usd) AS utility_usd, count(*) AS outcomes
  FROM realised_outcomes GROUP BY request_id
),
req AS (
  SELECT request_id, any_value(tenant) AS tenant, count(*) AS decisions,
         sum(regret_usd) AS regret_usd, count(regret_usd) AS decisions_with_regret,
         max(v_usd) AS v_price_usd, max(lam_usd_per_s) AS lam_usd_per_s, max(rho_usd) AS rho_usd
  FROM reg GROUP BY request_id
)
SELECT req.request_id, req.tenant, req.decisions, req.v_price_usd, req.lam_usd_per_s, req.rho_usd,
       vec.value_usd, vec.cost_usd, vec.latency_cost_usd, vec.risk_cost_usd, vec.utility_usd,
       req.regret_usd, req.decisions_with_regret
FROM req LEFT JOIN vec USING (request_id)
ORDER BY req.request_id
"""
)


def _columns(
    con: duckdb.DuckDBPyConnection, sql: str, at: NDArray[np.int64]
) -> dict[str, NDArray[np.float64]]:
    """The float columns of ``sql`` (first column ``seq``) at the rows whose seq is ``at``."""
    t = con.sql(sql).to_arrow_table()
    seq = t.column(0).to_numpy()
    # A ledger written by tokenomy numbers rows 0, 1, 2, ... in storage order, so seq is the row's
    # position; any other numbering or order is looked up (a sort, not a per-row search).
    if np.array_equal(seq, np.arange(seq.size)):
        pos = at
    else:
        order = np.argsort(seq, kind="stable")
        pos = order[np.searchsorted(seq[order], at)]
    return {name: np.asarray(t.column(name).to_numpy(), dtype=np.float64)[pos] for name in t.column_names[1:]}


def valued_links(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Every (decision, outcome) link with its candidate, whether it is the realised one, and its
    realised utility terms in USD (``value_usd``, ``cost_usd``, ``latency_cost_usd``,
    ``risk_cost_usd``, ``utility_usd``) under the decision's prices, by ``core.utility_terms``."""
    t = con.sql(_LINKS).to_arrow_table()
    p = _columns(con, _PRICES, t.column("dseq").to_numpy())
    o = _columns(con, _OUTCOMES, t.column("oseq").to_numpy())
    terms = utility_terms(
        p["v_usd"],
        o["quality"],
        o["cost_usd"],
        o["latency_s"],
        o["harm"],
        o["harm_irr"],
        lam_usd_per_s=p["lam_usd_per_s"],
        rho_usd=p["rho_usd"],
        rho_irr_usd=p["rho_irr_usd"],
    )
    return pa.table(
        {
            "dseq": t.column("dseq"),
            "oseq": t.column("oseq"),
            # dictionary-encoded: DuckDB groups the few candidate names by code, not by string
            "cand": pc.dictionary_encode(t.column("cand")),
            "realised": t.column("realised"),
            "value_usd": terms.value_usd,
            "cost_usd": terms.cost_usd,
            "latency_cost_usd": terms.latency_cost_usd,
            "risk_cost_usd": terms.risk_cost_usd,
            "utility_usd": terms.utility_usd,
        }
    )


def _with_links(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    con.register("_valued", valued_links(con))
    try:
        return con.sql(sql).to_arrow_table()
    finally:
        con.unregister("_valued")


def decision_regret(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Per decision, in append order: its identity and prices, ``realised_utility_usd``,
    ``best_utility_usd``, ``best_candidate``, ``regret_usd`` and ``candidates_observed``."""
    return _with_links(con, _DECISION_REGRET)


def request_vectors(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Per request: the realised vector (``value_usd``, ``cost_usd``, ``latency_cost_usd``,
    ``risk_cost_usd``), its ``utility_usd`` and the summed regret of its decisions."""
    return _with_links(con, _REQUEST_VECTORS)

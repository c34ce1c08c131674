"""SQL over the ledger tables: realised vectors and regret against the ex-post best candidate.

Join rule: an outcome with a ``decision_id`` belongs to that decision; one with an empty
``decision_id`` belongs to every decision of its request. Its candidate is the named one, or the
chosen one when ``candidate`` is empty (for a decision that chose the null option, the outcome of
spending nothing). Utility of an outcome under the decision's prices (Eq. 1, realised):

    U = V·quality − cost − λ·latency − ρ·harm − ρ_irr·harm_irr

Regret of a decision = max(0, max over candidates with outcomes of U) − U(chosen); the 0 is the null
option, always available ex post. A decision with no outcome for its chosen candidate has NULL regret.
"""

from __future__ import annotations

__all__ = ["DECISION_REGRET", "REQUEST_VECTORS"]

_LINKS = """
links AS (
  SELECT d.seq AS dseq, o.seq AS oseq, o.candidate, o.quality, o.cost_usd, o.latency_s, o.harm, o.harm_irr
  FROM outcomes o JOIN decisions d ON o.decision_id = d.decision_id
  WHERE o.decision_id <> ''
  UNION ALL
  SELECT d.seq, o.seq, o.candidate, o.quality, o.cost_usd, o.latency_s, o.harm, o.harm_irr
  FROM outcomes o JOIN decisions d ON o.request_id = d.request_id
  WHERE o.decision_id = ''
),
valued AS (
  SELECT l.dseq, l.oseq, d.request_id, d.tenant, d.layer,
         COALESCE(NULLIF(l.candidate, ''), d.chosen_name) AS cand,
         (l.candidate = '' OR l.candidate IS NOT DISTINCT FROM d.chosen_name) AS realised,
         d.v_usd * l.quality AS value_usd,
         l.cost_usd,
         d.lam_usd_per_s * l.latency_s AS latency_cost_usd,
         d.rho_usd * l.harm + d.rho_irr_usd * l.harm_irr AS risk_cost_usd
  FROM links l JOIN decisions d ON d.seq = l.dseq
),
per_cand AS (
  SELECT dseq, cand, bool_or(realised) AS realised,
         sum(value_usd) AS value_usd, sum(cost_usd) AS cost_usd,
         sum(latency_cost_usd) AS latency_cost_usd, sum(risk_cost_usd) AS risk_cost_usd,
         sum(value_usd - cost_usd - latency_cost_usd - risk_cost_usd) AS utility_usd
  FROM valued GROUP BY dseq, cand
)
"""

DECISION_REGRET = (
    "WITH "
    + _LINKS
    + """,
per_decision AS (
  SELECT dseq,
         max(utility_usd) FILTER (WHERE realised) AS realised_utility_usd,
         greatest(0.0, max(utility_usd)) AS best_utility_usd,
         arg_max(cand, utility_usd) AS best_observed_candidate,
         count(*) AS candidates_observed
  FROM per_cand GROUP BY dseq
)
SELECT d.decision_id, d.request_id, d.tenant, d.layer, d.decision_point, d.chosen_name,
       d.v_usd, d.lam_usd_per_s, d.rho_usd,
       p.realised_utility_usd, p.best_utility_usd,
       CASE WHEN p.best_utility_usd > 0 THEN p.best_observed_candidate ELSE NULL END AS best_candidate,
       p.best_utility_usd - p.realised_utility_usd AS regret_usd,
       coalesce(p.candidates_observed, 0) AS candidates_observed
FROM decisions d LEFT JOIN per_decision p ON p.dseq = d.seq
ORDER BY d.seq
"""
)

REQUEST_VECTORS = (
    "WITH "
    + _LINKS
    + """,
realised_outcomes AS (
  SELECT DISTINCT request_id, oseq, value_usd, cost_usd, latency_cost_usd, risk_cost_usd
  FROM valued WHERE realised
),
vec AS (
  SELECT request_id, sum(value_usd) AS value_usd, sum(cost_usd) AS cost_usd,
         sum(latency_cost_usd) AS latency_cost_usd, sum(risk_cost_usd) AS risk_cost_usd,
         count(*) AS outcomes
  FROM realised_outcomes GROUP BY request_id
),
reg AS (SELECT * FROM ("""
    + DECISION_REGRET.replace("ORDER BY d.seq", "")
    + """)),
req AS (
  SELECT request_id, any_value(tenant) AS tenant, count(*) AS decisions,
         sum(regret_usd) AS regret_usd, count(regret_usd) AS decisions_with_regret,
         max(v_usd) AS v_price_usd, max(lam_usd_per_s) AS lam_usd_per_s, max(rho_usd) AS rho_usd
  FROM reg GROUP BY request_id
)
SELECT req.request_id, req.tenant, req.decisions, req.v_price_usd, req.lam_usd_per_s, req.rho_usd,
       vec.value_usd, vec.cost_usd, vec.latency_cost_usd, vec.risk_cost_usd,
       vec.value_usd - vec.cost_usd - vec.latency_cost_usd - vec.risk_cost_usd AS utility_usd,
       req.regret_usd, req.decisions_with_regret
FROM req LEFT JOIN vec USING (request_id)
ORDER BY req.request_id
"""
)

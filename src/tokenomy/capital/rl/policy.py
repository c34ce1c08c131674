"""The policy: a two-layer tanh MLP over answer digits, in numpy with manual backprop.

At answer position j (least-significant digit first) the network reads three one-hot blocks — the
column sum a_j + b_j (0–18, or "none" past the operands), the previous column's sum, and the previous
sampled token y_{j−1} (or "none") — and outputs a softmax over the ten digit tokens. The right digit
is (a_j + b_j + carry) mod 10 and the carry follows from the previous column's sum and digit, so the
task is learnable but not given: the network must learn the mod-10 table and the carry rule. The weights are shared across positions, so a policy that learns the digit table and the
carry rule on some tasks generalises to unseen ones. Sampling is autoregressive (position by position,
all rollouts at once); log-probabilities and their gradients are teacher-forced on the sampled tokens.

``policy_gradient`` returns the gradient of L = −Σ_s Σ_j w_sj·log π(y_sj | x_sj) (the caller's weights are
group-relative advantages, per sample, or those times per-token importance ratios for stale samples,
``token_logprob`` gives the log-probabilities the ratios are made of). ``Adam`` updates the parameters and
returns new arrays, so an old version stays valid for asynchronous generation. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tokenomy.capital.rl.tasks import MAX_DIGITS, TaskSet

__all__ = [
    "NUM_FEATURES",
    "VOCAB",
    "Adam",
    "PolicyNet",
    "correct_prob",
    "policy_gradient",
    "sample",
    "sequence_logprob",
    "token_logprob",
    "valid_tokens",
]

VOCAB = 10
"""Answer tokens: the digits 0–9."""

_SUMS = 20  # column sums a_j + b_j: 0..18, and 19 = no column (past the operands)
_NO_SUM = 19
_NO_TOKEN = 10  # "no previous token" at the first position
NUM_FEATURES = 2 * _SUMS + 11
_POS = MAX_DIGITS + 1


@dataclass(frozen=True, slots=True)
class PolicyNet:
    """Parameters of the MLP: w1 (NUM_FEATURES, H), b1 (H,), w2 (H, VOCAB), b2 (VOCAB,)."""

    w1: NDArray[np.float64]
    b1: NDArray[np.float64]
    w2: NDArray[np.float64]
    b2: NDArray[np.float64]

    @classmethod
    def init(cls, hidden: int, rng: np.random.Generator) -> PolicyNet:
        """Random initial weights (scaled normal), zero biases."""
        return cls(
            rng.normal(0.0, 1.0 / np.sqrt(3.0), (NUM_FEATURES, hidden)),
            np.zeros(hidden),
            rng.normal(0.0, 1.0 / np.sqrt(hidden), (hidden, VOCAB)),
            np.zeros(VOCAB),
        )

    def arrays(self) -> tuple[NDArray[np.float64], ...]:
        """The four parameter arrays, in field order."""
        return (self.w1, self.b1, self.w2, self.b2)

    @property
    def num_params(self) -> int:
        """Number of scalar parameters."""
        return sum(a.size for a in self.arrays())


def _features(tasks: TaskSet, y: NDArray[np.int64]) -> NDArray[np.int64]:
    """Feature indices, shape (N, POS, 3), of every answer position given the tokens ``y`` before it."""
    n = tasks.n_digits[:, None]
    pos = np.arange(_POS)[None, :]
    pad = np.zeros((len(tasks), 1), dtype=np.int64)
    col = np.concatenate([tasks.a_digits + tasks.b_digits, pad], axis=1)
    s = np.where(pos < n, col, _NO_SUM)
    s_prev = np.concatenate([pad + _NO_SUM, s[:, :-1]], axis=1)
    y_prev = np.concatenate([pad + _NO_TOKEN, y[:, :-1]], axis=1)
    return np.stack([s, s_prev + _SUMS, y_prev + 2 * _SUMS], axis=-1)


def _forward(net: PolicyNet, idx: NDArray[np.int64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    h = np.tanh(net.w1[idx].sum(axis=-2) + net.b1)
    z = h @ net.w2 + net.b2
    z -= z.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return h, logp


def _valid(tasks: TaskSet) -> NDArray[np.bool_]:
    return np.arange(_POS)[None, :] < tasks.answer_tokens[:, None]


def sample(net: PolicyNet, tasks: TaskSet, rng: np.random.Generator) -> NDArray[np.int64]:
    """One sampled answer per task, shape (N, MAX_DIGITS + 1); positions past a task's answer are 0."""
    y = np.zeros((len(tasks), _POS), dtype=np.int64)
    for j in range(_POS):
        live = tasks.answer_tokens > j
        if not live.any():
            break
        idx = _features(tasks, y)[:, j, :]
        _, logp = _forward(net, idx)
        cdf = np.cumsum(np.exp(logp), axis=-1)
        u = rng.random((len(tasks), 1)) * cdf[:, -1:]
        y[:, j] = np.where(live, np.minimum((u > cdf).sum(axis=-1), VOCAB - 1), 0)
    return y


def token_logprob(net: PolicyNet, tasks: TaskSet, y: NDArray[np.int64]) -> NDArray[np.float64]:
    """log π(y_j | task, y_<j) of every answer token, shape (N, MAX_DIGITS + 1); 0 past a task's answer."""
    _, logp = _forward(net, _features(tasks, y))
    tok = np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]
    out: NDArray[np.float64] = np.where(_valid(tasks), tok, 0.0)
    return out


def valid_tokens(tasks: TaskSet) -> NDArray[np.bool_]:
    """Which of the MAX_DIGITS + 1 answer positions each task uses, shape (N, MAX_DIGITS + 1)."""
    return _valid(tasks)


def sequence_logprob(net: PolicyNet, tasks: TaskSet, y: NDArray[np.int64]) -> NDArray[np.float64]:
    """log π(y | task) of each whole answer, shape (N,)."""
    total: NDArray[np.float64] = token_logprob(net, tasks, y).sum(axis=1)
    return total


def correct_prob(net: PolicyNet, tasks: TaskSet) -> NDArray[np.float64]:
    """Exact probability that a sampled answer is right (the expected reward), shape (N,)."""
    return np.exp(sequence_logprob(net, tasks, tasks.answer_digits))


def policy_gradient(
    net: PolicyNet, tasks: TaskSet, y: NDArray[np.int64], weights: NDArray[np.float64]
) -> tuple[float, tuple[NDArray[np.float64], ...]]:
    """Loss L = −Σ_s Σ_j w_sj·log π(y_sj | x_sj) and its gradient (same order as ``PolicyNet.arrays``).

    ``weights`` is per sample, shape (N,) (the same weight on every token of a sample), or per token,
    shape (N, MAX_DIGITS + 1).
    """
    idx = _features(tasks, y)
    h, logp = _forward(net, idx)
    mask = _valid(tasks) * (weights[:, None] if weights.ndim == 1 else weights)
    tok = np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]
    loss = -float((tok * mask).sum())
    dz = np.exp(logp)
    np.put_along_axis(dz, y[..., None], np.take_along_axis(dz, y[..., None], axis=-1) - 1.0, axis=-1)
    dz *= mask[..., None]
    flat_h, flat_dz = h.reshape(-1, h.shape[-1]), dz.reshape(-1, VOCAB)
    g_w2 = flat_h.T @ flat_dz
    g_b2 = flat_dz.sum(axis=0)
    dpre = (flat_dz @ net.w2.T) * (1.0 - flat_h**2)
    g_w1 = np.zeros_like(net.w1)
    flat_idx = idx.reshape(-1, idx.shape[-1])
    for k in range(flat_idx.shape[1]):  # three feature blocks: one scatter-add each
        np.add.at(g_w1, flat_idx[:, k], dpre)
    return loss, (g_w1, dpre.sum(axis=0), g_w2, g_b2)


@dataclass(slots=True)
class Adam:
    """Adam on a ``PolicyNet``; ``step`` returns a new net (old versions stay usable)."""

    lr: float
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    t_: int = 0
    m_: tuple[NDArray[np.float64], ...] = ()
    v_: tuple[NDArray[np.float64], ...] = ()

    def step(self, net: PolicyNet, grads: tuple[NDArray[np.float64], ...], scale: float = 1.0) -> PolicyNet:
        """One descent step on the loss whose gradient is ``grads``, of ``scale`` × the learning rate."""
        if not self.m_:
            self.m_ = tuple(np.zeros_like(g) for g in grads)
            self.v_ = tuple(np.zeros_like(g) for g in grads)
        self.t_ += 1
        self.m_ = tuple(self.beta1 * m + (1 - self.beta1) * g for m, g in zip(self.m_, grads, strict=True))
        self.v_ = tuple(
            self.beta2 * v + (1 - self.beta2) * g * g for v, g in zip(self.v_, grads, strict=True)
        )
        c1, c2 = 1 - self.beta1**self.t_, 1 - self.beta2**self.t_
        new = tuple(
            p - scale * self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)
            for p, m, v in zip(net.arrays(), self.m_, self.v_, strict=True)
        )
        return PolicyNet(*new)

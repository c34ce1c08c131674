"""The non-quality terms of Eq. 4 for every (prompt, model): ĉ_m(x), l̂_m(x) and r̂_m(x).

* ``TokenModel`` predicts input and output tokens from the prompt length and category. Where the
  data has token counts it regresses them; where it has only USD costs (RouterBench) it backs the
  tokens out of the costs through the price table (cost = in·p_in + out·p_out, fitted per model
  and category on [characters, 1]), so that ĉ = predicted tokens × the dated price table.
  Without a price table ĉ is that regression in USD directly and tokens fall back to chars / 4.
* ``LatencyModel`` (SYNTHETIC throughput table unless one is given): l̂ = time to first token +
  input / prefill rate + output / decode rate, per model, plus the current per-model queue delay,
  passed at route time (``Router.route(..., queue_s=)``, fed by the serving layer's shadow prices;
  the core ``PriceVector`` has no queue field); λ itself is read from the ``PriceVector``.
* ``RiskModel`` (SYNTHETIC): r̂ = (1 − q̂)·consequence(category), harm units per wrong answer.

No I/O; the price table comes from ``tokenomy.interfaces.loaders.routing.load_price_table``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tokenomy.core._checks import real
from tokenomy.core.errors import ValidationError
from tokenomy.routing.dataset import RoutingDataset
from tokenomy.routing.features import Features
from tokenomy.routing.prices import PriceTable

__all__ = [
    "REAL_LATENCY",
    "SYNTHETIC_LATENCY",
    "SYNTHETIC_RISK",
    "LatencyModel",
    "RiskModel",
    "TokenModel",
    "Tokens",
    "latency_note",
]

SYNTHETIC_LATENCY = (
    "latency is SYNTHETIC: this dataset has no latency_s labels; l̂ = TTFT + tokens / "
    "per-model throughput from a made-up, price-ranked throughput table"
)
SYNTHETIC_RISK = (
    "risk is SYNTHETIC: r̂ = (1 − q̂) × consequence(category) with an assumed consequence per "
    "category (1 harm unit per wrong answer unless configured)"
)
REAL_LATENCY = (
    "latency is REAL: realised latency (welfare, regret) is the data's latency_s column; the "
    "router's estimate l̂ = TTFT + tokens / per-model throughput uses {table}"
)
CHARS_PER_TOKEN = 4.0


def latency_note(*, data_has_latency: bool, synthetic_throughput: bool) -> tuple[str, str]:
    """("real" or "synthetic", the note to show) for the latency term, by what the data has."""
    if not data_has_latency:
        return "synthetic", SYNTHETIC_LATENCY
    table = (
        "a SYNTHETIC, price-ranked throughput table" if synthetic_throughput else "the given throughput table"
    )
    return "real", REAL_LATENCY.format(table=table)


@dataclass(frozen=True, slots=True)
class Tokens:
    """Predicted tokens per (prompt, model): ``input`` and ``output``, each (N, M)."""

    input: NDArray[np.float64]
    output: NDArray[np.float64]


def _chars(X: Features) -> NDArray[np.float64]:
    return np.asarray(np.expm1(X.log_chars), dtype=np.float64)


def _fit_lines(
    chars: NDArray[np.float64], codes: NDArray[np.int64], n_cat: int, y: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per (category, model) least squares y ≈ a·chars + b, clipped at 0; row ``n_cat`` = all prompts."""
    m = y.shape[1]
    slope, icpt = np.zeros((n_cat + 1, m)), np.zeros((n_cat + 1, m))
    for c in range(n_cat + 1):
        rows = np.flatnonzero(codes == c) if c < n_cat else np.arange(len(chars))
        if rows.size == 0:
            slope[c], icpt[c] = slope[n_cat], icpt[n_cat]
            continue
        A = np.column_stack([chars[rows], np.ones(rows.size)])
        coef, *_ = np.linalg.lstsq(A, y[rows], rcond=None)
        slope[c], icpt[c] = np.maximum(coef[0], 0.0), coef[1]
        if rows.size < 3:  # a line through < 3 points is noise: keep the mean only
            slope[c], icpt[c] = 0.0, y[rows].mean(axis=0)
    return slope, np.maximum(icpt, 0.0)


class TokenModel:
    """Predicted tokens and ĉ_m(x) = tokens × prices.

    Args:
        prices: the dated price table (every model must be in it), or ``None`` to regress USD cost
            directly on the data's ``cost_usd``.
    """

    def __init__(self, *, prices: PriceTable | None = None) -> None:
        self.prices = prices

    def fit(self, ds: RoutingDataset, X: Features) -> TokenModel:
        """Learn tokens (or costs) per model and category from the training prompts.

        Raises:
            ValidationError: a model is absent from the price table (names it and the table).
        """
        chars = _chars(X)
        n_cat = X.n_categories
        self.models_ = ds.models
        if self.prices is not None:
            self.prices.require(ds.models)
            self.pin_, self.pout_ = self.prices.per_token(ds.models)
        if ds.input_tokens is not None and ds.output_tokens is not None:
            self.in_ = _fit_lines(chars, X.category_codes, n_cat, ds.input_tokens)
            self.out_ = _fit_lines(chars, X.category_codes, n_cat, ds.output_tokens)
            self.cost_ = (
                None if self.prices is not None else _fit_lines(chars, X.category_codes, n_cat, ds.cost_usd)
            )
            self.mode_ = "tokens"
        elif self.prices is not None:
            slope, icpt = _fit_lines(chars, X.category_codes, n_cat, ds.cost_usd)
            # cost = p_in·(r·chars) + p_out·out: the chars term is input, the constant is output
            self.in_ = (slope / np.maximum(self.pin_, 1e-15), np.zeros_like(icpt))
            self.out_ = (np.zeros_like(slope), icpt / np.maximum(self.pout_, 1e-15))
            self.cost_ = None
            self.mode_ = "tokens_from_costs"
        else:
            m = ds.n_models
            self.in_ = (np.full((n_cat + 1, m), 1.0 / CHARS_PER_TOKEN), np.zeros((n_cat + 1, m)))
            self.out_ = (np.zeros((n_cat + 1, m)), np.full((n_cat + 1, m), 100.0))
            self.cost_ = _fit_lines(chars, X.category_codes, n_cat, ds.cost_usd)
            self.mode_ = "usd_regression"
        return self

    def _apply(
        self, lines: tuple[NDArray[np.float64], NDArray[np.float64]], X: Features
    ) -> NDArray[np.float64]:
        slope, icpt = lines
        row = np.where(X.category_codes >= 0, X.category_codes, slope.shape[0] - 1)
        return np.asarray(_chars(X)[:, None] * slope[row] + icpt[row])

    def tokens(self, X: Features) -> Tokens:
        """Predicted input and output tokens, (N, M) each, ≥ 0."""
        return Tokens(np.maximum(self._apply(self.in_, X), 0.0), np.maximum(self._apply(self.out_, X), 0.0))

    def cost_usd(self, X: Features, tokens: Tokens | None = None) -> NDArray[np.float64]:
        """ĉ of shape (N, M), USD ≥ 0."""
        if self.cost_ is not None:
            return np.maximum(self._apply(self.cost_, X), 0.0)
        t = tokens or self.tokens(X)
        return np.asarray(t.input * self.pin_ + t.output * self.pout_)


def synthetic_throughput(
    models: Sequence[str], prices: PriceTable | None
) -> dict[str, tuple[float, float, float]]:
    """A made-up (TTFT s, prefill tok/s, decode tok/s) per model: dearer models are assumed slower.

    SYNTHETIC: the output price ranks the models; decode runs 150 → 30 tok/s from cheapest to dearest.
    """
    if prices is not None and all(m in prices.usd_per_mtok for m in models):
        key = np.array([prices.usd_per_mtok[m][1] for m in models])
    else:
        key = np.arange(len(models), dtype=np.float64)
    rank = np.argsort(np.argsort(key)) / max(len(models) - 1, 1)
    return {
        m: (0.2 + 0.6 * r, 6000.0 - 4000.0 * r, 150.0 - 120.0 * r) for m, r in zip(models, rank, strict=True)
    }


class LatencyModel:
    """l̂_m(x) = TTFT_m + in / prefill_m + out / decode_m + queue_m (seconds; SYNTHETIC here).

    Args:
        throughput: model -> (TTFT s, prefill tokens/s, decode tokens/s); ``None`` = synthetic table.
        queue_s: model -> queue delay in seconds assumed when a call passes none (and on the
            training problem); default 0. Route calls pass the current one.
    """

    def __init__(
        self,
        *,
        throughput: Mapping[str, tuple[float, float, float]] | None = None,
        queue_s: Mapping[str, float] | None = None,
    ) -> None:
        self.throughput = throughput
        self.queue_s = queue_s

    def fit(self, models: Sequence[str], prices: PriceTable | None) -> LatencyModel:
        """Fix the per-model table for ``models``.

        Raises:
            ValidationError: a model has no throughput entry, or a rate is not positive.
        """
        table = dict(self.throughput) if self.throughput is not None else synthetic_throughput(models, prices)
        missing = [m for m in models if m not in table]
        if missing:
            raise ValidationError(f"throughput table lacks model(s) {missing}; it has {sorted(table)}")
        arr = np.array([table[m] for m in models], dtype=np.float64)
        if np.any(arr[:, 1:] <= 0) or np.any(arr[:, 0] < 0) or not np.isfinite(arr).all():
            raise ValidationError("throughput needs TTFT ≥ 0 and positive prefill and decode rates")
        self.ttft_, self.prefill_, self.decode_ = arr[:, 0], arr[:, 1], arr[:, 2]
        self.models_ = tuple(models)
        self.queue_ = self.queue_vector(self.queue_s or {})
        return self

    def queue_vector(self, queue_s: Mapping[str, float]) -> NDArray[np.float64]:
        """(M,) queue delay per model from a model -> seconds mapping (absent models wait 0 s).

        Raises:
            ValidationError: an unknown model, or a delay that is not a finite number ≥ 0.
        """
        if not isinstance(queue_s, Mapping):
            raise ValidationError(
                f"queue_s must map model names to seconds (a dict), got {type(queue_s).__name__} {queue_s!r:.80}"
            )
        unknown = [m for m in queue_s if m not in self.models_]
        if unknown:
            raise ValidationError(f"queue_s names unknown model(s) {unknown}; models: {list(self.models_)}")
        out = np.zeros(len(self.models_))
        for j, m in enumerate(self.models_):
            try:
                out[j] = real("queue", queue_s.get(m, 0.0), low=0.0)
            except ValidationError:
                raise ValidationError(
                    f"queue_s must map models to finite seconds ≥ 0 (numbers, not text); "
                    f"{m!r} has {queue_s[m]!r}"
                ) from None
        return out

    def latency_s(self, tokens: Tokens, queue: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
        """l̂ of shape (N, M), seconds; ``queue`` (M,) is the current queue delay (default: the fitted one)."""
        q = self.queue_ if queue is None else queue
        return np.asarray(self.ttft_ + tokens.input / self.prefill_ + tokens.output / self.decode_ + q)


class RiskModel:
    """r̂_m(x) = (1 − q̂_m(x))·consequence(category of x) (SYNTHETIC harm units).

    Args:
        consequence: category -> harm units of one wrong answer; unknown categories get ``default``.
        default: consequence of a category not in the mapping.
    """

    def __init__(self, *, consequence: Mapping[str, float] | None = None, default: float = 1.0) -> None:
        self.consequence = consequence
        self.default = default

    def fit(self, categories: Sequence[str]) -> RiskModel:
        """Fix the consequence of each training category (index = the featurizer's category code)."""
        cons = dict(self.consequence or {})
        if any(not np.isfinite(v) or v < 0 for v in [*cons.values(), self.default]):
            raise ValidationError("consequence values must be finite numbers ≥ 0")
        self.by_code_ = np.array([float(cons.get(c, self.default)) for c in categories] + [self.default])
        return self

    def risk(self, dq: NDArray[np.float64], codes: NDArray[np.int64]) -> NDArray[np.float64]:
        """r̂ of shape (N, M)."""
        k = np.where(codes >= 0, codes, self.by_code_.size - 1)
        return np.asarray((1.0 - dq) * self.by_code_[k][:, None])

"""Price tables: USD per token for a model at a date, and the recomputed cost ΔC of every LLM step.

``PriceTable`` has one verb, ``rate_card(model, provider, when)``; a ``RateCard`` prices token counts
(vectorised) with separate input, cache-read, cache-write and output rates and input-size tiers
(the tier is chosen by the request's total input tokens, as the providers and genai-prices do).
Backends: ``GenaiPricesTable`` (the maintained ``genai-prices`` package, time-versioned so an old log
is priced at its date), ``StaticPriceTable`` built from an override mapping (private or self-hosted
models) or from a LiteLLM-format price map, and ``ChainedPriceTable`` (first table that knows the
model wins: overrides before genai-prices). An unknown model is never silently priced 0: it is
reported, and priced 0 only when the caller says so (``unknown_zero=True``). Parsing the files is done
by ``tokenomy.interfaces.loaders.pricefiles``; this module takes mappings.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tokenomy.audit.log import StepTable
from tokenomy.core.errors import SchemaError
from tokenomy.ledger.records import TIME_S_MAX, TIME_S_MIN

__all__ = [
    "ChainedPriceTable",
    "GenaiPricesTable",
    "PriceTable",
    "Pricing",
    "RateCard",
    "StaticPriceTable",
    "cost_bound",
    "price_steps",
]

F64 = NDArray[np.float64]
_M = 1e6


@dataclass(frozen=True, slots=True)
class RateCard:
    """USD per million tokens for one model (at one date), with optional input-size tiers.

    Attributes:
        tiers: (start_input_tokens, input, output, cache_read, cache_write) rows, ascending; a request
            whose input tokens exceed ``start`` pays that row's rates for all its tokens.
    """

    model: str
    provider: str
    source: str
    input_usd_per_mtok: float
    output_usd_per_mtok: float
    cache_read_usd_per_mtok: float
    cache_write_usd_per_mtok: float
    tiers: tuple[tuple[int, float, float, float, float], ...] = ()

    def cost_usd(
        self,
        input_tokens: NDArray[Any],
        output_tokens: NDArray[Any],
        cache_read_tokens: NDArray[Any],
        cache_write_tokens: NDArray[Any],
    ) -> F64:
        """Cost of each call; ``input_tokens`` includes the cached (read and written) ones."""
        inp = np.asarray(input_tokens, np.float64)
        cr = np.asarray(cache_read_tokens, np.float64)
        cw = np.asarray(cache_write_tokens, np.float64)
        out = np.asarray(output_tokens, np.float64)
        rates = np.tile(
            np.array(
                [
                    self.input_usd_per_mtok,
                    self.output_usd_per_mtok,
                    self.cache_read_usd_per_mtok,
                    self.cache_write_usd_per_mtok,
                ]
            ),
            (inp.size, 1),
        )
        for start, *tier in self.tiers:
            rates[inp > start] = tier
        plain = np.maximum(inp - cr - cw, 0.0)
        return np.asarray(
            (plain * rates[:, 0] + out * rates[:, 1] + cr * rates[:, 2] + cw * rates[:, 3]) / _M
        )


class PriceTable:
    """Looks up the rate card of a model; ``None`` when the table does not know it."""

    def rate_card(self, model: str, provider: str = "", when: dt.datetime | None = None) -> RateCard | None:
        """The rates for ``model`` (from ``provider`` when given) in force at ``when`` (None: today)."""
        raise NotImplementedError


def _rate(value: Any) -> tuple[float, tuple[tuple[int, float], ...]]:
    if value is None:
        return 0.0, ()
    base = getattr(value, "base", None)
    if base is not None:
        return float(base), tuple((int(t.start), float(t.price)) for t in value.tiers)
    return float(value), ()


def _at(base: float, tiers: tuple[tuple[int, float], ...], start: int) -> float:
    price = base
    for s, p in sorted(tiers):
        if s <= start:
            price = p
    return price


def _price(where: str, model: str, key: str, value: Any, scale: float = 1.0) -> float:
    """A price field of a price file as USD per million tokens (``value * scale``).

    Raises:
        SchemaError: naming the file, the model and the field, unless ``value`` is a finite number ≥ 0
            (a bool or a string is refused, not read as 1 or its digits) whose scaled value is finite.
    """
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    x = float(value) * scale if ok else math.nan
    if not (math.isfinite(x) and x >= 0):
        raise SchemaError(f"{where}: {model}.{key} must be a finite number ≥ 0, got {value!r}")
    return x


class GenaiPricesTable(PriceTable):
    """Rates from the ``genai-prices`` package, resolved per (model, provider, day) and cached.

    A ``provider/model`` reference (OpenRouter style) is tried as given, then as model at provider,
    then as the bare model.
    """

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str, str], RateCard | None] = {}

    def rate_card(self, model: str, provider: str = "", when: dt.datetime | None = None) -> RateCard | None:
        key = (model, provider, when.date().isoformat() if when else "")
        if key not in self._cache:
            self._cache[key] = self._lookup(model, provider, when)
        return self._cache[key]

    def _lookup(self, model: str, provider: str, when: dt.datetime | None) -> RateCard | None:
        from genai_prices import Usage, calc_price

        tries: list[tuple[str, str | None]] = [(model, provider or None)]
        if "/" in model:
            prefix, bare = model.split("/", 1)
            tries += [(bare, prefix), (bare, provider or None), (bare, None)]
        if provider:
            tries.append((model, None))
        for ref, prov in tries:
            try:
                calc = calc_price(
                    Usage(input_tokens=0, output_tokens=0),
                    ref,
                    provider_id=prov,
                    genai_request_timestamp=when,
                )
            except LookupError:
                continue
            mp = calc.model_price
            names = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")
            parts = [_rate(getattr(mp, n, None)) for n in names]
            for i in (2, 3):  # no cache price: cached tokens pay the input rate
                if getattr(mp, names[i], None) is None:
                    parts[i] = parts[0]
            starts = sorted({s for _, tiers in parts for s, _ in tiers})
            tiers = [(s, *(_at(base, tiers_, s) for base, tiers_ in parts)) for s in starts]
            return RateCard(
                calc.model.id,
                calc.provider.id,
                "genai-prices",
                parts[0][0],
                parts[1][0],
                parts[2][0],
                parts[3][0],
                tuple((int(t[0]), float(t[1]), float(t[2]), float(t[3]), float(t[4])) for t in tiers),
            )
        return None


@dataclass(frozen=True, slots=True)
class StaticPriceTable(PriceTable):
    """A fixed model -> rate card map (override file or LiteLLM price map); no dates."""

    cards: Mapping[str, RateCard] = field(default_factory=dict)  # model name -> rates

    def rate_card(self, model: str, provider: str = "", when: dt.datetime | None = None) -> RateCard | None:
        card = self.cards.get(model)
        if card is None and "/" in model:
            card = self.cards.get(model.split("/", 1)[1])
        return card

    @classmethod
    def from_override(cls, data: Mapping[str, Any], where: str = "override file") -> StaticPriceTable:
        """From ``{"models": {name: {input_usd_per_mtok, output_usd_per_mtok, [cache_read_usd_per_mtok,
        cache_write_usd_per_mtok, provider]}}}``; cache rates default to the input rate."""
        models = data.get("models")
        if not isinstance(models, Mapping):
            raise SchemaError(f"{where}: expected a 'models' mapping of model name -> rates")
        cards = {}
        for name, r in models.items():
            if not isinstance(r, Mapping):
                raise SchemaError(f"{where}: models.{name} must be a mapping of rates")
            for key in ("input_usd_per_mtok", "output_usd_per_mtok"):
                if key not in r:
                    raise SchemaError(f"{where}: models.{name}: missing {key}; expected a finite number ≥ 0")
            at = f"models.{name}"
            inp = _price(where, at, "input_usd_per_mtok", r["input_usd_per_mtok"])
            out = _price(where, at, "output_usd_per_mtok", r["output_usd_per_mtok"])
            cr = _price(where, at, "cache_read_usd_per_mtok", r.get("cache_read_usd_per_mtok", inp))
            cw = _price(where, at, "cache_write_usd_per_mtok", r.get("cache_write_usd_per_mtok", inp))
            cards[str(name)] = RateCard(str(name), str(r.get("provider", "")), "override", inp, out, cr, cw)
        return cls(cards)

    @classmethod
    def from_litellm(cls, data: Mapping[str, Any], where: str = "LiteLLM price map") -> StaticPriceTable:
        """From LiteLLM's ``model_prices_and_context_window.json`` format (USD per token; entries without
        ``input_cost_per_token`` such as ``sample_spec`` are skipped)."""
        cards = {}
        for name, r in data.items():
            if not isinstance(r, Mapping) or "input_cost_per_token" not in r:
                continue
            at = str(name)
            inp = _price(where, at, "input_cost_per_token", r["input_cost_per_token"], _M)
            out = _price(where, at, "output_cost_per_token", r.get("output_cost_per_token", 0.0), _M)
            cr = _price(
                where,
                at,
                "cache_read_input_token_cost",
                r.get("cache_read_input_token_cost", r["input_cost_per_token"]),
                _M,
            )
            cw = _price(
                where,
                at,
                "cache_creation_input_token_cost",
                r.get("cache_creation_input_token_cost", r["input_cost_per_token"]),
                _M,
            )
            tiers: list[tuple[int, float, float, float, float]] = []
            for key in r:
                if key.startswith("input_cost_per_token_above_") and key.endswith("k_tokens"):
                    size = key[len("input_cost_per_token_above_") : -len("k_tokens")]
                    if not size.isdigit():
                        raise SchemaError(
                            f"{where}: {name}.{key}: expected input_cost_per_token_above_<N>k_tokens "
                            "with N a whole number"
                        )
                    sfx = key[len("input_cost_per_token") :]
                    row = [_price(where, at, key, r[key], _M)]
                    for base, default in (
                        ("output_cost_per_token", out),
                        ("cache_read_input_token_cost", cr),
                        ("cache_creation_input_token_cost", cw),
                    ):
                        row.append(_price(where, at, base + sfx, r.get(base + sfx, default / _M), _M))
                    tiers.append((int(size) * 1000, row[0], row[1], row[2], row[3]))
            cards[str(name)] = RateCard(
                str(name),
                str(r.get("litellm_provider", "")),
                "litellm-json",
                inp,
                out,
                cr,
                cw,
                tuple(sorted(tiers)),
            )
        return cls(cards)


@dataclass(frozen=True, slots=True)
class ChainedPriceTable(PriceTable):
    """Ask each table in order; the first that knows the model wins."""

    tables: Sequence[PriceTable]

    def rate_card(self, model: str, provider: str = "", when: dt.datetime | None = None) -> RateCard | None:
        for t in self.tables:
            card = t.rate_card(model, provider, when)
            if card is not None:
                return card
        return None


@dataclass(frozen=True, slots=True)
class Pricing:
    """Result of pricing a step table.

    Attributes:
        cost_usd: per step; LLM steps of a known model are recomputed; unknown ones carry the reported
            cost (or NaN when none, or 0 with ``unknown_zero``); tool and group steps their reported cost or 0.
        unknown_models: model -> number of LLM calls no table could price.
        cards: "model@provider" -> the rate card used (for the report); "model@provider@date" for the
            cards of later dates when a model's price changed within the log.
        upper_bound: per step, the recomputed cost may exceed the true one: the log has no cache-read
            count for the call and the model's cached input is cheaper (all its input was priced at
            the full rate).
        lower_bound: per step, the recomputed cost may fall short: no cache-write count, and the model
            charges a premium on cache writes.
        cache_savings_usd: per step, what its cache reads saved against the full input price of the
            card that priced it (0 for unpriced steps and steps without cache reads).
    """

    cost_usd: F64
    unknown_models: dict[str, int]  # model -> calls
    cards: dict[str, RateCard]  # "model@provider[@date]" -> card
    unknown_zero: bool
    upper_bound: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))
    lower_bound: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))
    cache_savings_usd: F64 = field(default_factory=lambda: np.zeros(0))

    def bound(self) -> tuple[bool, bool, str]:
        """(cost is an upper bound, cost is a lower bound, why) over all the steps."""
        return cost_bound(int(self.upper_bound.sum()), int(self.lower_bound.sum()))


def cost_bound(n_upper: int, n_lower: int) -> tuple[bool, bool, str]:
    """(upper bound, lower bound, why) of a cost summed over calls of which ``n_upper`` may be priced
    too high and ``n_lower`` too low (see ``Pricing``). Both flags are False when the cost is exact,
    and also when some calls err up and others down (the reason then says so)."""
    parts = []
    if n_upper:
        parts.append(
            f"{n_upper} LLM call(s) carry no cached-token count (the instrumentation does not emit one); "
            "their cached input is priced at the full input rate, so the true cost is at most this"
        )
    if n_lower:
        parts.append(
            f"{n_lower} LLM call(s) carry no cache-write count; cache writes the model charges a premium "
            "on are priced at the input rate, so the true cost is at least this"
        )
    if n_upper and n_lower:
        parts.append("with both, the cost is an estimate bounded in neither direction")
    return bool(n_upper and not n_lower), bool(n_lower and not n_upper), "; ".join(parts)


def price_steps(steps: StepTable, table: PriceTable, *, unknown_zero: bool = False) -> Pricing:
    """Recompute ΔC of every LLM step from its tokens, grouped by (model, provider, day).

    Args:
        steps: the steps (token counts, model, provider, time).
        table: where rates come from.
        unknown_zero: price a model no table knows at 0 (the user said so) instead of leaving it unpriced.

    A call a gateway answered from its own response cache (``cache_hit``) costs what the log reports
    (0 when it reports nothing): no provider was called, so nothing is recomputed. A call whose log
    lacks the cache-read (cache-write) count is flagged: its recomputed cost is an upper (lower) bound
    when the model's cached-read rate is below (cache-write rate above) its input rate.

    Returns:
        The per-step cost, the unknown models, the rate cards used and the bound flags.
    """
    n = len(steps)
    reported = steps.reported_cost_usd
    cost = np.where(np.isnan(reported), 0.0, reported).astype(np.float64)
    upper = np.zeros(n, bool)
    lower = np.zeros(n, bool)
    savings = np.zeros(n)
    llm = np.flatnonzero(steps.is_llm & ~steps.cache_hit)
    unknown: dict[str, int] = {}
    cards: dict[str, RateCard] = {}
    if n == 0 or llm.size == 0:
        return Pricing(cost, unknown, cards, unknown_zero, upper, lower, savings)
    t = steps.time_s[llm]
    undatable = (t < TIME_S_MIN) | (t > TIME_S_MAX)  # NaN: undated, priced at today's rates
    if undatable.any():
        i = int(llm[np.flatnonzero(undatable)[0]])
        raise SchemaError(
            f"step {steps.step_id[i]!r} of request {steps.request_id[i]!r}: time_s={float(steps.time_s[i])!r} "
            f"is not a usable time; expected Unix seconds in [{TIME_S_MIN:.0f}, {TIME_S_MAX:.0f}] "
            "(years 1 to 9999 UTC), the range a price date can be read from"
        )
    day = np.where(np.isnan(t), -1, np.floor(t / 86400.0)).astype(np.int64)
    # groups of (model, provider, day) by integer codes: a dict pass over the (model, provider) pairs,
    # numbered in sorted order, then one integer sort (a string sort of a million keys is slow)
    codes: dict[tuple[str, str], int] = {}
    pair = np.fromiter(
        (
            codes.setdefault((str(m), str(p)), len(codes))
            for m, p in zip(steps.model[llm].tolist(), steps.provider[llm].tolist(), strict=True)
        ),
        np.int64,
        count=llm.size,
    )
    names = sorted(codes)
    rank = np.empty(len(names), np.int64)
    rank[[codes[k] for k in names]] = np.arange(len(names))
    d0 = int(day.min())
    span = int(day.max()) - d0 + 1
    uniq, inv = np.unique(rank[pair] * span + (day - d0), return_inverse=True)
    order = np.argsort(inv, kind="stable")
    bounds = np.searchsorted(inv[order], np.arange(len(uniq) + 1))
    for g, joint in enumerate(uniq.tolist()):
        model, provider = names[joint // span]
        d = joint % span + d0
        rows = llm[order[bounds[g] : bounds[g + 1]]]
        when = None if d == -1 else dt.datetime.fromtimestamp(d * 86400, tz=dt.UTC)
        card = table.rate_card(model, provider, when) if model else None
        if card is None:
            unknown[model or "(no model)"] = unknown.get(model or "(no model)", 0) + rows.size
            cost[rows] = 0.0 if unknown_zero else reported[rows]
            continue
        name = f"{card.model}@{card.provider}"
        if cards.get(name, card) != card:  # the model's price changed within the log: key by date too
            name = f"{name}@{when.date().isoformat() if when else 'undated'}"
        cards[name] = card
        cost[rows] = card.cost_usd(
            steps.input_tokens[rows],
            steps.output_tokens[rows],
            steps.cache_read_tokens[rows],
            steps.cache_write_tokens[rows],
        )
        saved_per_mtok = max(card.input_usd_per_mtok - card.cache_read_usd_per_mtok, 0.0)
        savings[rows] = steps.cache_read_tokens[rows] * saved_per_mtok / 1e6
        fed = steps.input_tokens[rows] > 0
        if card.cache_read_usd_per_mtok < card.input_usd_per_mtok or any(t[3] < t[1] for t in card.tiers):
            upper[rows] = fed & steps.cache_read_unknown[rows]
        if card.cache_write_usd_per_mtok > card.input_usd_per_mtok or any(t[4] > t[1] for t in card.tiers):
            lower[rows] = fed & steps.cache_write_unknown[rows]
    return Pricing(cost, unknown, cards, unknown_zero, upper, lower, savings)

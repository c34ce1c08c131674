"""The price bus: in-process publish/subscribe of price vectors, with history and staleness (SPEC.md §7).

Every layer that sets a price publishes it here under a topic (``"supply"`` for the serving engine's
shadow prices, ``"tenant/acme"`` for a tenant's V, ``"sla"`` for a controller's λ); every layer that
needs a price reads it here, so the four layers see one price state. A publication is a ``Quote``: the
vector, its topic, the publisher's time and a sequence number. The bus keeps a bounded history per
topic, so a reader can ask for the vector in force at any earlier time (``at``), which is how a
deliberately stale reader is built, and ``view`` overlays the fresh quotes of several topics on a base
vector: each quote sets the Eq. 1 prices it stamps with a source other than ``default`` and every
resource price it carries; a quote older than ``max_age_s`` is ignored, so a reader falls back to its
base prices rather than act on a price nobody is keeping up to date.

Time is the publisher's clock (simulated seconds in the simulator, wall seconds in the gateway); the
bus never reads a clock itself. Publication is synchronous: subscribers run inside ``publish``, in
subscription order, and an exception in one propagates to the publisher. Thread-safe for publishers
and readers on several threads (one lock); no I/O (the gateway serves the bus over HTTP).
"""

from __future__ import annotations

import bisect
import math
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import PriceSource, PriceVector

__all__ = ["PriceBus", "Quote", "Subscription", "overlay"]

_PRICE_FIELDS = (
    ("v_usd", "v_source"),
    ("lam_usd_per_s", "lam_source"),
    ("rho_usd", "rho_source"),
    ("rho_irr_usd", "rho_irr_source"),
)


@dataclass(frozen=True, slots=True)
class Quote:
    """One publication on the bus.

    Attributes:
        topic: who published it ("supply", "tenant/acme", ...).
        time_s: the publisher's time of the prices.
        prices: the vector published (its ``time_s`` is set to the quote's time).
        seq: position among every quote the bus has taken (0, 1, ...).
    """

    topic: str
    time_s: float
    prices: PriceVector
    seq: int

    def age_s(self, now_s: float) -> float:
        """Seconds since publication at time ``now_s`` (0 when ``now_s`` is earlier)."""
        return max(0.0, now_s - self.time_s)

    def is_stale(self, now_s: float, max_age_s: float | None) -> bool:
        """True when the quote is older than ``max_age_s`` at ``now_s`` (never when ``max_age_s`` is None)."""
        return max_age_s is not None and self.age_s(now_s) > max_age_s


@dataclass(slots=True)
class Subscription:
    """A subscriber's handle: ``cancel()`` stops its callback."""

    topic: str | None
    callback: Callable[[Quote], None]
    active: bool = True

    def cancel(self) -> None:
        """Stop delivering quotes to this subscriber."""
        self.active = False


class PriceBus:
    """Publish/subscribe of ``PriceVector``s by topic.

    Args:
        history: quotes kept per topic (oldest dropped first); at least 1.
        max_age_s: default staleness limit of ``view`` and ``read`` (``None``: a quote never goes stale).

    Raises:
        ValidationError: ``history`` < 1 or ``max_age_s`` is negative or not a number.
    """

    def __init__(self, *, history: int = 100_000, max_age_s: float | None = None) -> None:
        if not isinstance(history, int) or history < 1:
            raise ValidationError(f"PriceBus history must be an integer ≥ 1; got {history!r}")
        if max_age_s is not None and not (isinstance(max_age_s, int | float) and max_age_s >= 0):
            raise ValidationError(f"PriceBus max_age_s must be ≥ 0 or None; got {max_age_s!r}")
        self.history_len = history
        self.max_age_s = max_age_s
        self._quotes: dict[str, deque[Quote]] = {}  # topic -> its quotes, oldest first
        self._subs: list[Subscription] = []
        self._seq = 0
        self._lock = threading.RLock()

    # -- publishing ---------------------------------------------------------------------------------
    def publish(self, topic: str, prices: PriceVector, *, time_s: float) -> Quote:
        """Publish ``prices`` under ``topic`` at the publisher's time ``time_s``.

        Raises:
            ValidationError: the topic is empty, ``prices`` is not a ``PriceVector``, ``time_s`` is not
                finite, or it is earlier than the topic's last quote (a topic's clock never runs back).
        """
        if not isinstance(topic, str) or not topic:
            raise ValidationError(f"price bus topic must be a non-empty string; got {topic!r}")
        if not isinstance(prices, PriceVector):
            raise ValidationError(f"price bus publishes PriceVector values; got {type(prices).__name__}")
        t = float(time_s)
        if not math.isfinite(t):
            raise ValidationError(f"price bus time_s must be finite; got {time_s!r}")
        with self._lock:
            q = self._quotes.setdefault(topic, deque(maxlen=self.history_len))
            if q and t < q[-1].time_s:
                raise ValidationError(
                    f"price bus topic {topic!r}: time_s {t!r} is earlier than its last quote at {q[-1].time_s!r}"
                )
            quote = Quote(topic, t, replace(prices, time_s=t), self._seq)
            self._seq += 1
            q.append(quote)
            subs = [s for s in self._subs if s.active and s.topic in (None, topic)]
        for s in subs:
            s.callback(quote)
        return quote

    def subscribe(self, callback: Callable[[Quote], None], topic: str | None = None) -> Subscription:
        """Call ``callback(quote)`` on every later publication of ``topic`` (every topic when ``None``).

        Raises:
            ValidationError: ``callback`` is not callable or ``topic`` is neither a string nor None.
        """
        if not callable(callback):
            raise ValidationError(f"PriceBus.subscribe callback must be callable, got {callback!r:.80}")
        if topic is not None and not isinstance(topic, str):
            raise ValidationError(f"PriceBus.subscribe topic must be a string or None, got {topic!r:.80}")
        sub = Subscription(topic, callback)
        with self._lock:
            self._subs.append(sub)
        return sub

    # -- reading ------------------------------------------------------------------------------------
    @property
    def topics(self) -> tuple[str, ...]:
        """Topics with at least one quote, in first-publication order."""
        with self._lock:
            return tuple(self._quotes)

    def latest(self, topic: str) -> Quote | None:
        """The newest quote of ``topic``, or ``None`` when it has none."""
        with self._lock:
            q = self._quotes.get(topic)
            return q[-1] if q else None

    def at(self, topic: str, time_s: float) -> Quote | None:
        """The quote of ``topic`` in force at ``time_s`` (the newest published at or before it), or None."""
        with self._lock:
            q = self._quotes.get(topic)
            if not q:
                return None
            i = bisect.bisect_right(q, time_s, key=lambda x: x.time_s)
            return q[i - 1] if i else None

    def history(self, topic: str) -> tuple[Quote, ...]:
        """Every kept quote of ``topic``, oldest first."""
        with self._lock:
            return tuple(self._quotes.get(topic, ()))

    def read(
        self, topic: str, *, now_s: float, max_age_s: float | None = None, lag_s: float = 0.0
    ) -> Quote | None:
        """The quote of ``topic`` a reader at ``now_s`` sees, or ``None`` when there is none or it is stale.

        Args:
            topic: the topic.
            now_s: the reader's time.
            max_age_s: staleness limit (the bus default when ``None``).
            lag_s: the reader sees the bus as it was ``lag_s`` seconds ago (a stale reader).
        """
        limit = self.max_age_s if max_age_s is None else max_age_s
        quote = self.at(topic, now_s - lag_s)
        if quote is None or quote.is_stale(now_s, limit):
            return None
        return quote

    def view(
        self,
        base: PriceVector,
        *,
        now_s: float,
        topics: Iterable[str] | None = None,
        max_age_s: float | None = None,
        lag_s: float = 0.0,
    ) -> PriceVector:
        """``base`` overlaid with the fresh quotes of ``topics`` (every topic when ``None``).

        Quotes are applied oldest first; each sets the Eq. 1 prices it stamps with a non-default source
        and all its resource prices. Stale or missing topics leave ``base`` as it is.
        """
        names = self.topics if topics is None else tuple(topics)
        quotes = [
            q for q in (self.read(t, now_s=now_s, max_age_s=max_age_s, lag_s=lag_s) for t in names) if q
        ]
        out = base
        for quote in sorted(quotes, key=lambda x: x.seq):
            out = overlay(out, quote.prices)
        return out


def overlay(base: PriceVector, top: PriceVector) -> PriceVector:
    """``base`` with the prices ``top`` sets: its non-default-source Eq. 1 prices and all its resources."""
    changes: dict[str, Any] = {}
    for price, source in _PRICE_FIELDS:
        if getattr(top, source) is not PriceSource.DEFAULT:
            changes[price] = getattr(top, price)
            changes[source] = getattr(top, source)
    if "rho_usd" in changes and "rho_irr_usd" not in changes:
        changes["rho_irr_usd"] = max(base.rho_irr, changes["rho_usd"])
    out = replace(base, **changes) if changes else base
    if top.resources:
        out = out.with_resources(*top.resources)
    if top.time_s is not None and (out.time_s is None or top.time_s > out.time_s):
        out = replace(out, time_s=top.time_s)
    return out

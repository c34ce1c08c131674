"""The gateway's Prometheus metrics: counters, histograms and gauges rendered as text exposition 0.0.4.

:class:`GatewayMetrics` holds the gateway's metric families and one method per event the app reports
(a finished request, a retry, a refusal, a λ update, queue depth, in-flight requests, budget left);
:meth:`GatewayMetrics.render` writes the ``GET /metrics`` body (``CONTENT_TYPE``). The families are
small classes of their own (:class:`Counter`, :class:`Histogram`, :class:`Gauge`) that any code can
register on a :class:`Registry`.

Cheap and thread-safe: an observation is one lock, one dict lookup and (histograms) one bisect over the
bucket bounds; bucket counts are stored per bucket and made cumulative only when rendered. Each family
keeps at most ``max_series`` label sets; later new label sets are folded into one series whose labels
are all ``"other"`` (a client cannot grow memory without bound by sending new model names). No
dependency: the exposition format is written here. No I/O; the app serves the text.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Mapping, Sequence
from threading import Lock
from typing import TypeVar

from tokenomy.core.errors import ValidationError

__all__ = [
    "CONTENT_TYPE",
    "LATENCY_BUCKETS_S",
    "Counter",
    "GatewayMetrics",
    "Gauge",
    "Histogram",
    "Registry",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_OTHER = "other"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v)) if not float(v).is_integer() or abs(v) >= 1e15 else str(int(v))


class _Family:
    kind = ""

    def __init__(
        self,
        name: str,
        doc: str,
        labels: Sequence[str] = (),
        *,
        max_series: int = 1000,
        lock: Lock | None = None,
    ) -> None:
        if not name.replace("_", "a").isalnum() or name[0].isdigit():
            raise ValidationError(f"metric name must match [a-zA-Z_][a-zA-Z0-9_]*, got {name!r}")
        self.name = name
        self.doc = doc
        self.labels = tuple(labels)
        self.max_series = max_series
        self._lock = lock if lock is not None else threading.Lock()

    def _key(self, values: tuple[str, ...], table: Mapping[tuple[str, ...], object]) -> tuple[str, ...]:
        """The series key of ``values`` (``other`` once the family holds ``max_series``); under the lock."""
        if values in table or len(table) < self.max_series:
            return values
        return (_OTHER,) * len(self.labels)

    def _label_text(self, values: tuple[str, ...], extra: str = "") -> str:
        parts = [f'{k}="{_escape(v)}"' for k, v in zip(self.labels, values, strict=True)]
        if extra:
            parts.append(extra)
        return "{" + ",".join(parts) + "}" if parts else ""

    def _head(self) -> list[str]:
        doc = self.doc.replace("\\", "\\\\").replace("\n", "\\n")  # HELP escapes no quotes
        return [f"# HELP {self.name} {doc}", f"# TYPE {self.name} {self.kind}"]

    def render(self) -> list[str]:
        raise NotImplementedError


class _Scalar(_Family):
    """A family holding one number per label set (counters and gauges)."""

    def __init__(
        self,
        name: str,
        doc: str,
        labels: Sequence[str] = (),
        *,
        max_series: int = 1000,
        lock: Lock | None = None,
    ) -> None:
        super().__init__(name, doc, labels, max_series=max_series, lock=lock)
        self._values: dict[tuple[str, ...], float] = {}  # label values -> value

    def value(self, labels: tuple[str, ...] = ()) -> float:
        """The current value of one label set."""
        with self._lock:
            return self._values.get(labels, 0.0)

    def render(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return [*self._head(), *(f"{self.name}{self._label_text(k)} {_num(v)}" for k, v in items)]


class Counter(_Scalar):
    """A monotone total per label set."""

    kind = "counter"

    def inc(self, labels: tuple[str, ...] = (), amount: float = 1.0) -> None:
        """Add ``amount`` (≥ 0; negative and NaN amounts are ignored: a counter never goes down)."""
        if amount >= 0:
            with self._lock:
                self.inc_locked(labels, amount)

    def inc_locked(self, labels: tuple[str, ...], amount: float) -> None:
        """:meth:`inc` for a caller that holds the family's lock (one lock for several updates)."""
        v = self._values
        if labels in v:
            v[labels] += amount
        else:
            key = self._key(labels, v)
            v[key] = v.get(key, 0.0) + amount


class Gauge(_Scalar):
    """A value that goes up and down, per label set."""

    kind = "gauge"

    def set(self, value: float, labels: tuple[str, ...] = ()) -> None:
        """Set the value of one label set."""
        with self._lock:
            self._values[self._key(labels, self._values)] = float(value)

    def add(self, amount: float, labels: tuple[str, ...] = ()) -> None:
        """Add ``amount`` (negative to lower it)."""
        with self._lock:
            key = self._key(labels, self._values)
            self._values[key] = self._values.get(key, 0.0) + amount


class Histogram(_Family):
    """Observations counted into fixed buckets (upper bounds, ``+Inf`` added), with their sum and count."""

    kind = "histogram"

    def __init__(
        self,
        name: str,
        doc: str,
        labels: Sequence[str] = (),
        *,
        buckets: Sequence[float] = LATENCY_BUCKETS_S,
        max_series: int = 1000,
        lock: Lock | None = None,
    ) -> None:
        super().__init__(name, doc, labels, max_series=max_series, lock=lock)
        bounds = [float(b) for b in buckets]
        if not bounds or bounds != sorted(set(bounds)) or any(math.isnan(b) for b in bounds):
            raise ValidationError(
                f"histogram buckets must be strictly increasing numbers, got {list(buckets)!r}"
            )
        self.bounds = tuple(b for b in bounds if not math.isinf(b))
        # label values -> [count per bucket (len(bounds) + 1, the last = +Inf), sum]
        self._series: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}

    def observe(self, value: float, labels: tuple[str, ...] = ()) -> None:
        """Count one observation (NaN is ignored)."""
        if value == value:
            with self._lock:
                self.observe_locked(value, labels)

    def observe_locked(self, value: float, labels: tuple[str, ...]) -> None:
        """:meth:`observe` for a caller that holds the family's lock (NaN not filtered here)."""
        i = bisect.bisect_left(self.bounds, value)
        s = self._series.get(labels)
        if s is None:
            key = self._key(labels, self._series)
            s = self._series.get(key)
            if s is None:
                s = self._series[key] = ([0] * (len(self.bounds) + 1), [0.0])
        s[0][i] += 1
        s[1][0] += value

    def count(self, labels: tuple[str, ...] = ()) -> int:
        """How many observations one label set has."""
        with self._lock:
            s = self._series.get(labels)
            return sum(s[0]) if s is not None else 0

    def render(self) -> list[str]:
        with self._lock:
            items = sorted((k, (list(c), t[0])) for k, (c, t) in self._series.items())
        out = self._head()
        for key, (counts, total) in items:
            run = 0
            for bound, c in zip((*self.bounds, math.inf), counts, strict=True):
                run += c
                le = 'le="' + _num(bound) + '"'
                out.append(f"{self.name}_bucket{self._label_text(key, le)} {run}")
            out.append(f"{self.name}_sum{self._label_text(key)} {_num(total)}")
            out.append(f"{self.name}_count{self._label_text(key)} {run}")
        return out


F = TypeVar("F", bound=_Family)


class Registry:
    """Metric families by name; :meth:`render` writes them all."""

    def __init__(self) -> None:
        self._families: dict[str, _Family] = {}  # name -> family

    def add(self, family: F) -> F:
        """Register a family (names are unique)."""
        if family.name in self._families:
            raise ValidationError(f"metric {family.name!r} is already registered")
        self._families[family.name] = family
        return family

    def render(self) -> str:
        """The text exposition of every family."""
        lines: list[str] = []
        for fam in self._families.values():
            lines.extend(fam.render())
        return "\n".join(lines) + "\n"


class GatewayMetrics:
    """The gateway's metrics, one method per event.

    Args:
        prefix: the metric name prefix.
        max_series: label sets kept per family before new ones fold into ``other``.
    """

    def __init__(self, *, prefix: str = "tokenomy_gateway", max_series: int = 1000) -> None:
        p, m = prefix, max_series
        self._lock = lock = threading.Lock()  # one lock for every family: one acquire per request
        self.registry = Registry()
        add = self.registry.add
        self.requests = add(
            Counter(
                f"{p}_requests_total",
                "Requests answered, by model and HTTP status.",
                ("model", "status"),
                max_series=m,
            )
        )
        self.tokens = add(
            Counter(
                f"{p}_tokens_total",
                "Tokens by model and direction (input, output).",
                ("model", "direction"),
                max_series=m,
            )
        )
        self.cost = add(
            Counter(f"{p}_cost_usd_total", "Upstream cost in USD, by model.", ("model",), max_series=m)
        )
        self.retries = add(
            Counter(
                f"{p}_retries_total",
                "Upstream calls retried on another model, by failed upstream and reason.",
                ("upstream", "reason"),
                max_series=m,
            )
        )
        self.refusals = add(
            Counter(
                f"{p}_refusals_total",
                "Requests refused, by reason (price, budget, bad_request ...).",
                ("reason",),
                max_series=m,
            )
        )
        self.latency = add(
            Histogram(
                f"{p}_request_duration_seconds",
                "Time from request to the last byte sent, by model.",
                ("model",),
                max_series=m,
            )
        )
        self.upstream_latency = add(
            Histogram(
                f"{p}_upstream_duration_seconds",
                "Upstream call time, by upstream.",
                ("upstream",),
                max_series=m,
            )
        )
        self.lam = add(
            Gauge(
                f"{p}_lambda_usd_per_second",
                "Congestion price λ in force, by upstream.",
                ("upstream",),
                max_series=m,
            )
        )
        self.queue_depth = add(
            Gauge(
                f"{p}_queue_depth",
                "Requests waiting for admission, by upstream.",
                ("upstream",),
                max_series=m,
            )
        )
        self.in_flight = add(Gauge(f"{p}_in_flight", "Requests being answered now.", (), lock=lock))
        self.budget = add(
            Gauge(f"{p}_budget_remaining_usd", "Budget left, by key or tenant.", ("budget",), max_series=m)
        )

    def request_done(
        self,
        model: str,
        status: int,
        *,
        latency_s: float,
        upstream: str = "",
        upstream_latency_s: float | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cost_usd: float = 0.0,
    ) -> None:
        """One finished request (any status): every family it touches, under one lock."""
        with self._lock:
            self.requests.inc_locked((model, str(status)), 1.0)
            if latency_s == latency_s:
                self.latency.observe_locked(latency_s, (model,))
            if upstream_latency_s is not None and upstream_latency_s == upstream_latency_s:
                self.upstream_latency.observe_locked(upstream_latency_s, (upstream or model,))
            if input_tokens > 0:
                self.tokens.inc_locked((model, "input"), input_tokens)
            if output_tokens > 0:
                self.tokens.inc_locked((model, "output"), output_tokens)
            if cost_usd > 0:
                self.cost.inc_locked((model,), cost_usd)

    def retry(self, upstream: str, reason: str) -> None:
        """One upstream failure that sent the request to another model."""
        self.retries.inc((upstream, reason))

    def refusal(self, reason: str) -> None:
        """One refused request."""
        self.refusals.inc((reason,))

    def set_lambda(self, upstream: str, lam_usd_per_s: float) -> None:
        """The λ the price controller set for an upstream."""
        self.lam.set(lam_usd_per_s, (upstream,))

    def set_queue_depth(self, upstream: str, depth: int) -> None:
        """Requests waiting for an upstream."""
        self.queue_depth.set(depth, (upstream,))

    def enter(self) -> None:
        """A request starts (in-flight + 1)."""
        self.in_flight.add(1.0)

    def leave(self) -> None:
        """A request ends (in-flight − 1)."""
        self.in_flight.add(-1.0)

    def set_budget(self, budget: str, remaining_usd: float) -> None:
        """USD left in a key's or tenant's budget (label: tenant name or a key hash, never the key)."""
        self.budget.set(remaining_usd, (budget,))

    def render(self) -> str:
        """The ``GET /metrics`` body."""
        return self.registry.render()

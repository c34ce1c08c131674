"""Concave response curves Q_i(t): quality as a function of tokens spent on one use (Eq. 2).

Each curve exposes ``value(t)``, ``deriv(t)`` (Q'), ``deriv2(t)`` (Q'') and ``inv_deriv(y)``: the
tokens t ≥ 0 at which Q'(t) = y, or 0 when Q'(0) ≤ y (the use gets nothing). The solvers only need
``inv_deriv`` and ``deriv2``; closed forms are used where they exist. ``value`` of the closed-form
curves refuses a token count that is not a finite number ≥ 0 (a ValidationError, not a math error).

* ``LogCurve(scale=a, shift=s)``: Q = a·log(1 + t/s); with s = 0, Q = a·log t (Cobb–Douglas terms).
* ``PowerCurve(scale=a, exponent=α)``: Q = a·t^α with 0 < α < 1.
* ``SatExpCurve(scale=a, rate_tokens=s)``: Q = a·(1 − exp(−t/s)), saturating at a.
* ``CustomCurve(derivative=f)``: any positive, strictly decreasing Q'; inverted numerically.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from scipy.optimize import brentq

from tokenomy.core._checks import check_finite
from tokenomy.core.errors import ValidationError

__all__ = ["Curve", "CustomCurve", "LogCurve", "PowerCurve", "SatExpCurve"]


def _positive(name: str, x: float) -> float:
    x = check_finite(name, x)
    if not x > 0:
        raise ValidationError(f"{name} must be a finite number > 0, got {x!r}")
    return x


def _tokens(t: float) -> float:
    try:
        if 0.0 <= t < math.inf:
            return t
    except TypeError:
        pass
    raise ValidationError(f"tokens t of a curve's value must be a finite number ≥ 0, got {t!r:.80}")


@dataclass(frozen=True, slots=True)
class LogCurve:
    """Q(t) = scale·log(1 + t/shift); shift = 0 gives scale·log(t)."""

    scale: float
    shift: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", _positive("LogCurve scale", self.scale))
        object.__setattr__(self, "shift", check_finite("LogCurve shift", self.shift))
        if not self.shift >= 0:
            raise ValidationError(f"LogCurve shift must be a finite number ≥ 0, got {self.shift!r}")

    def value(self, t: float) -> float:
        t = _tokens(t)
        if self.shift == 0:
            return self.scale * math.log(t) if t > 0 else -math.inf
        return self.scale * math.log1p(t / self.shift)

    def deriv(self, t: float) -> float:
        return self.scale / (self.shift + t) if self.shift + t > 0 else math.inf

    def deriv2(self, t: float) -> float:
        return -self.scale / (self.shift + t) ** 2

    def inv_deriv(self, y: float) -> float:
        return math.inf if y <= 0 else max(0.0, self.scale / y - self.shift)


@dataclass(frozen=True, slots=True)
class PowerCurve:
    """Q(t) = scale·t^exponent, 0 < exponent < 1."""

    scale: float
    exponent: float = 0.5

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", _positive("PowerCurve scale", self.scale))
        object.__setattr__(self, "exponent", check_finite("PowerCurve exponent", self.exponent))
        if not 0 < self.exponent < 1:
            raise ValidationError(f"PowerCurve exponent must be in (0, 1), got {self.exponent!r}")

    def value(self, t: float) -> float:
        return self.scale * float(_tokens(t) ** self.exponent)

    def deriv(self, t: float) -> float:
        return self.scale * self.exponent * float(t ** (self.exponent - 1)) if t > 0 else math.inf

    def deriv2(self, t: float) -> float:
        a = self.exponent
        return self.scale * a * (a - 1) * float(t ** (a - 2))

    def inv_deriv(self, y: float) -> float:
        if y <= 0:
            return math.inf
        return float((y / (self.scale * self.exponent)) ** (1.0 / (self.exponent - 1.0)))


@dataclass(frozen=True, slots=True)
class SatExpCurve:
    """Q(t) = scale·(1 − exp(−t/rate_tokens))."""

    scale: float
    rate_tokens: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", _positive("SatExpCurve scale", self.scale))
        object.__setattr__(self, "rate_tokens", _positive("SatExpCurve rate_tokens", self.rate_tokens))

    def value(self, t: float) -> float:
        return self.scale * -math.expm1(-_tokens(t) / self.rate_tokens)

    def deriv(self, t: float) -> float:
        return self.scale / self.rate_tokens * math.exp(-t / self.rate_tokens)

    def deriv2(self, t: float) -> float:
        return -self.scale / self.rate_tokens**2 * math.exp(-t / self.rate_tokens)

    def inv_deriv(self, y: float) -> float:
        if y <= 0:
            return math.inf
        top = self.scale / self.rate_tokens
        return 0.0 if y >= top else self.rate_tokens * math.log(top / y)


@dataclass(frozen=True, slots=True)
class CustomCurve:
    """A user-supplied marginal product Q'(t): positive and strictly decreasing on t ≥ 0.

    Args:
        derivative: Q'(t).
        value_fn: Q(t), optional (only used to report the objective).
        max_tokens: upper end of the search for Q'(t) = y.
    """

    derivative: Callable[[float], float]
    value_fn: Callable[[float], float] | None = None
    max_tokens: float = 1e15

    def value(self, t: float) -> float:
        return math.nan if self.value_fn is None else float(self.value_fn(t))

    def deriv(self, t: float) -> float:
        return float(self.derivative(t))

    def deriv2(self, t: float) -> float:
        h = max(1e-6, abs(t) * 1e-6)
        lo = max(0.0, t - h)
        return (self.deriv(t + h) - self.deriv(lo)) / (t + h - lo)

    def inv_deriv(self, y: float) -> float:
        if self.deriv(0.0) <= y:
            return 0.0
        hi = 1.0
        while self.deriv(hi) > y:
            hi *= 2.0
            if hi > self.max_tokens:
                return math.inf
        return float(brentq(lambda t: self.deriv(t) - y, 0.0, hi, xtol=1e-14, rtol=1e-15, maxiter=500))


Curve = LogCurve | PowerCurve | SatExpCurve | CustomCurve

"""Dependency-free SVG charts for self-contained HTML reports: line, scatter, CDF, bar and waterfall.

Each function returns one ``<svg>`` element as a string (inline in a page: no JavaScript, no network,
no fonts to fetch). Axes get "nice" ticks; ``log_x``/``log_y`` use decades. Non-finite points are
dropped (and so are non-positive ones on a log axis), never plotted as garbage.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["PALETTE", "Series", "bar_chart", "cdf_chart", "line_chart", "scatter_chart"]

PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
    "#bcbd22",
    "#393b79",
    "#637939",
)
_W, _H = 680, 380
_M = {"l": 70, "r": 170, "t": 36, "b": 52}
_BIG = 1e300
"""Values beyond ±_BIG are drawn at ±_BIG, so an axis span (at most 2e300) never overflows."""


@dataclass(frozen=True, slots=True)
class Series:
    """One named series of points."""

    name: str
    x: ArrayLike
    y: ArrayLike


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round values in [lo, hi]; none for a non-finite end, never an exception (no overflow:
    the span is taken as hi/2 − lo/2)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi / 2 - lo / 2) / (n / 2)
    if not (math.isfinite(raw) and raw > 0):
        return [lo]
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), math.inf)
    if not (math.isfinite(step) and step > 0):
        return [lo, hi]
    first = math.ceil(lo / step - 1e-9)
    count = min(math.floor(hi / step - first + 1e-9) + 1, 4 * n + 4)
    ticks = ((first + i) * step for i in range(max(count, 0)))
    return [t for t in ticks if math.isfinite(t)]


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e5 or a < 1e-3:
        return f"{v:.0e}".replace("e+0", "e").replace("e-0", "e-")
    return f"{v:.6g}"


def _grid_tick(line_at: str, label_at: str, anchor: str, value: float) -> list[str]:
    """A grid line and its tick label (``line_at``/``label_at``: the elements' position attributes)."""
    return [
        f'<line {line_at} stroke="#eee"/>',
        f'<text {label_at} text-anchor="{anchor}" font-size="11">{_fmt(value)}</text>',
    ]


class _Axes:
    def __init__(
        self,
        xs: Sequence[np.ndarray],
        ys: Sequence[np.ndarray],
        log_x: bool,
        log_y: bool,
        y_zero: bool = False,
    ) -> None:
        self.log_x, self.log_y = log_x, log_y
        self.x0, self.x1 = self._range(xs, log_x, False)
        self.y0, self.y1 = self._range(ys, log_y, y_zero)
        self.pw = _W - _M["l"] - _M["r"]
        self.ph = _H - _M["t"] - _M["b"]

    @staticmethod
    def _range(arrs: Sequence[np.ndarray], log: bool, zero: bool) -> tuple[float, float]:
        vals = np.concatenate([a for a in arrs if a.size] or [np.array([0.0, 1.0])])
        vals = np.clip(vals[np.isfinite(vals)], -_BIG, _BIG)
        if not vals.size:
            vals = np.array([0.0, 1.0])
        if log:
            vals = vals[vals > 0]
            if not vals.size:
                return 0.0, 1.0
            return math.floor(math.log10(vals.min())), math.ceil(math.log10(vals.max()) + 1e-12)
        lo, hi = float(vals.min()), float(vals.max())
        if zero:
            lo, hi = min(lo, 0.0), max(hi, 0.0)
        if hi == lo:
            lo, hi = lo - (abs(lo) or 1.0) * 0.5, hi + (abs(hi) or 1.0) * 0.5
        pad = (hi - lo) * 0.04
        return lo - (0 if zero and lo == 0 else pad), hi + pad

    def px(self, x: float) -> float:
        v = math.log10(x) if self.log_x else min(max(x, -_BIG), _BIG)
        return _M["l"] + (v - self.x0) / (self.x1 - self.x0) * self.pw

    def py(self, y: float) -> float:
        v = math.log10(y) if self.log_y else min(max(y, -_BIG), _BIG)
        return _M["t"] + self.ph - (v - self.y0) / (self.y1 - self.y0) * self.ph

    def ticks(self, log: bool, lo: float, hi: float) -> list[float]:
        if log:
            step = max(1, math.ceil((hi - lo) / 6))
            return [10.0**e for e in range(int(lo), int(hi) + 1, step)]
        return [t for t in _nice_ticks(lo, hi) if lo - 1e-12 <= t <= hi + 1e-12]

    def frame(self, title: str, x_label: str, y_label: str) -> list[str]:
        out = [
            f'<rect x="{_M["l"]}" y="{_M["t"]}" width="{self.pw}" height="{self.ph}" fill="#fff" stroke="#999"/>'
        ]
        top, bottom, left, right = _M["t"], _M["t"] + self.ph, _M["l"], _M["l"] + self.pw
        for t in self.ticks(self.log_x, self.x0, self.x1):
            x = f"{self.px(t):.1f}"
            out += _grid_tick(
                f'x1="{x}" y1="{top}" x2="{x}" y2="{bottom}"', f'x="{x}" y="{bottom + 16}"', "middle", t
            )
        for t in self.ticks(self.log_y, self.y0, self.y1):
            y = self.py(t)
            out += _grid_tick(
                f'x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}"',
                f'x="{left - 6}" y="{y + 4:.1f}"',
                "end",
                t,
            )
        out.append(
            f'<text x="{_W / 2 - _M["r"] / 2 + _M["l"] / 2:.0f}" y="20" text-anchor="middle" font-size="14" '
            f'font-weight="bold">{escape(title)}</text>'
        )
        out.append(
            f'<text x="{_M["l"] + self.pw / 2:.0f}" y="{_H - 10}" text-anchor="middle" font-size="12">'
            f"{escape(x_label)}</text>"
        )
        out.append(
            f'<text transform="translate(16 {_M["t"] + self.ph / 2:.0f}) rotate(-90)" text-anchor="middle" '
            f'font-size="12">{escape(y_label)}</text>'
        )
        return out


def _clean(x: ArrayLike, y: ArrayLike, log_x: bool, log_y: bool) -> tuple[np.ndarray, np.ndarray]:
    xa, ya = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    n = min(xa.size, ya.size)
    xa, ya = xa[:n], ya[:n]
    keep = np.isfinite(xa) & np.isfinite(ya)
    if log_x:
        keep &= xa > 0
    if log_y:
        keep &= ya > 0
    return xa[keep], ya[keep]


def _count_non_finite(x: ArrayLike, y: ArrayLike) -> int:
    """How many (x, y) points are NaN or infinite (``_clean`` drops them)."""
    xa, ya = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    n = min(xa.size, ya.size)
    return int(np.count_nonzero(~(np.isfinite(xa[:n]) & np.isfinite(ya[:n]))))


def _non_finite_note(count: int) -> list[str]:
    """A line inside the plot saying ``count`` values are not finite and not drawn (none when 0)."""
    if not count:
        return []
    return [
        f'<text x="{_M["l"] + 6}" y="{_M["t"] + 14}" font-size="11" fill="#d62728">'
        f"{count} value{'s' if count != 1 else ''} not finite (NaN or infinite): not drawn</text>"
    ]


def _legend(names: Sequence[str]) -> list[str]:
    out = []
    for i, name in enumerate(names):
        y = _M["t"] + 8 + i * 18
        x = _W - _M["r"] + 12
        out.append(f'<rect x="{x}" y="{y - 8}" width="12" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>')
        out.append(f'<text x="{x + 17}" y="{y + 1}" font-size="11">{escape(name[:26])}</text>')
    return out


def _svg(body: list[str], label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-label="{escape(label)}" '
        f'viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" font-family="sans-serif">'
        + "".join(body)
        + "</svg>"
    )


def _xy_chart(
    series: Sequence[Series],
    title: str,
    x_label: str,
    y_label: str,
    log_x: bool,
    log_y: bool,
    mode: str,
    dropped: int = 0,
) -> str:
    data = [_clean(s.x, s.y, log_x, log_y) for s in series]
    ax = _Axes([d[0] for d in data], [d[1] for d in data], log_x, log_y)
    body = ax.frame(title, x_label, y_label) + _non_finite_note(
        dropped + sum(_count_non_finite(s.x, s.y) for s in series)
    )
    for i, (xa, ya) in enumerate(data):
        color = PALETTE[i % len(PALETTE)]
        pts = [(ax.px(float(a)), ax.py(float(b))) for a, b in zip(xa, ya, strict=True)]
        front = mode == "front" and i == 0
        if (mode in ("line", "step") or front) and len(pts) > 1:
            if mode == "step":
                stepped = [pts[0]]
                for p in pts[1:]:
                    stepped += [(p[0], stepped[-1][1]), p]
                pts_line = stepped
            else:
                pts_line = pts
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts_line)
            if front:
                body.append(
                    f'<polyline class="front" points="{path}" fill="none" stroke="{color}" stroke-width="2"/>'
                )
            else:
                body.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.8"/>')
        if mode in ("points", "front") or (mode == "line" and len(pts) <= 40):
            r = 4.5 if front else 3.0 if mode in ("points", "front") else 2.5
            body += [
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{color}" fill-opacity="0.75"/>'
                for x, y in pts
            ]
    body += _legend([s.name for s in series])
    return _svg(body, title)


def line_chart(
    series: Sequence[Series],
    *,
    title: str = "",
    x_label: str = "",
    y_label: str = "",
    log_x: bool = False,
    log_y: bool = False,
) -> str:
    """Lines (with point markers when short), one per series."""
    return _xy_chart(series, title, x_label, y_label, log_x, log_y, "line")


def scatter_chart(
    series: Sequence[Series],
    *,
    title: str = "",
    x_label: str = "",
    y_label: str = "",
    log_x: bool = False,
    log_y: bool = False,
    max_points: int = 4000,
    front: bool = False,
) -> str:
    """Points, one colour per series; a series longer than ``max_points`` is thinned evenly.

    With ``front=True`` the first series (a Pareto front, say) is also joined by a line, in its
    order, and drawn with larger points; its polyline has ``class="front"``.
    """
    thin = []
    for s in series:
        xa, ya = np.asarray(s.x, dtype=np.float64), np.asarray(s.y, dtype=np.float64)
        if xa.size > max_points:
            idx = np.linspace(0, xa.size - 1, max_points).astype(int)
            xa, ya = xa[idx], ya[idx]
        thin.append(Series(s.name, xa, ya))
    return _xy_chart(thin, title, x_label, y_label, log_x, log_y, "front" if front else "points")


def cdf_chart(
    samples: Mapping[str, ArrayLike],
    *,
    title: str = "",
    x_label: str = "",
    log_x: bool = False,
    max_points: int = 400,
) -> str:
    """Empirical CDFs, one per named sample (each drawn with at most ``max_points`` steps)."""
    series = []
    dropped = 0
    for name, values in samples.items():
        v = np.sort(np.asarray(values, dtype=np.float64).ravel())
        dropped += int(np.count_nonzero(~np.isfinite(v)))
        v = np.clip(v[np.isfinite(v) & ((v > 0) if log_x else True)], -_BIG, _BIG)
        if not v.size:
            continue
        q = np.linspace(0, 1, min(max_points, v.size))
        xs = np.quantile(v, q)
        series.append(Series(f"{name} (n={v.size})", xs, q))
    return _xy_chart(series, title, x_label, "fraction ≤ x", log_x, False, "step", dropped)


def bar_chart(
    labels: Sequence[str],
    values: ArrayLike,
    *,
    title: str = "",
    y_label: str = "",
    waterfall: bool = False,
    total_label: str | None = None,
) -> str:
    """Vertical bars; with ``waterfall=True`` each bar starts where the previous ended, and
    ``total_label`` (if given) adds a final bar from 0 to the running total."""
    raw = np.asarray(values, dtype=np.float64).ravel()
    bad = ~np.isfinite(raw)
    vals = np.where(bad, 0.0, np.clip(raw, -_BIG, _BIG))
    labels = list(labels)
    if waterfall:
        ends = np.cumsum(vals)
        starts = ends - vals
        if total_label is not None:
            labels.append(total_label)
            starts, ends = np.append(starts, 0.0), np.append(ends, ends[-1] if ends.size else 0.0)
    else:
        starts, ends = np.zeros(len(labels)), vals
    n = len(labels)
    ax = _Axes(
        [np.arange(n + 1, dtype=np.float64)], [np.concatenate([starts, ends])], False, False, y_zero=True
    )
    ax.x0, ax.x1 = 0.0, float(max(n, 1))
    body = ax.frame(title, "", y_label)
    body = [
        b for b in body if 'text-anchor="middle" font-size="11"' not in b
    ]  # bars are labelled, not ticked
    body += _non_finite_note(int(np.count_nonzero(bad)))
    width = ax.pw / max(n, 1) * 0.7
    for i, (lab, s, e) in enumerate(zip(labels, starts, ends, strict=True)):
        x = ax.px(i + 0.5) - width / 2
        y_top, y_bot = ax.py(max(s, e)), ax.py(min(s, e))
        if waterfall:
            color = (
                "#1f77b4"
                if (total_label is not None and i == n - 1)
                else ("#2ca02c" if e >= s else "#d62728")
            )
        else:
            color = PALETTE[i % len(PALETTE)]
        body.append(
            f'<rect x="{x:.1f}" y="{y_top:.1f}" width="{width:.1f}" height="{max(y_bot - y_top, 0.5):.1f}" '
            f'fill="{color}"><title>{escape(lab)}: {_fmt(float(e - s))}</title></rect>'
        )
        body.append(
            f'<text x="{x + width / 2:.1f}" y="{_M["t"] + ax.ph + 14}" text-anchor="end" font-size="10" '
            f'transform="rotate(-25 {x + width / 2:.1f} {_M["t"] + ax.ph + 14})">{escape(lab[:22])}</text>'
        )
    return _svg(body, title)

"""One self-contained HTML report page: headings, headline metrics, tables, inline SVG figures, labels.

No JavaScript and no network: the page renders the same offline, in a browser test or attached to an
e-mail. Headline numbers carry ``data-key`` attributes (the JSON key they come from) so a browser test
can check that the page says what the JSON says. Synthetic and modelled quantities are labelled by
``note(kind=...)`` boxes that the reader cannot miss.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

__all__ = ["Report", "format_value"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:1100px;margin:0 auto;padding:24px 32px 64px}
h1{font-size:26px;margin:8px 0 4px}h2{font-size:19px;margin:30px 0 10px;border-bottom:1px solid #ddd;padding-bottom:4px}
.sub{color:#555;margin:0 0 16px}.metrics{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}
.metric{background:#fff;border:1px solid #dde;border-radius:8px;padding:10px 14px;min-width:150px}
.metric .v{font-size:20px;font-weight:600}.metric .k{font-size:12px;color:#667}
table{border-collapse:collapse;background:#fff;font-size:13px;margin:8px 0 16px}
th,td{border:1px solid #dde;padding:4px 8px;text-align:right}th{background:#eef1f6}
td.t,th.t{text-align:left}caption{caption-side:top;text-align:left;color:#555;padding:4px 0}
figure{background:#fff;border:1px solid #dde;border-radius:8px;margin:12px 0;padding:8px;display:inline-block}
figcaption{font-size:12px;color:#555;max-width:680px}
.note{border-left:4px solid #888;background:#fff;padding:8px 12px;margin:10px 0;font-size:13px}
.note.synthetic{border-color:#e69500;background:#fff8e8}.note.modelled{border-color:#7b4fd6;background:#f5f0ff}
.note.info{border-color:#1f77b4}.note.warning{border-color:#d62728;background:#fff0f0}.tag{font-weight:700;text-transform:uppercase;font-size:11px;margin-right:6px}
footer{color:#888;font-size:12px;margin-top:40px}
"""


def format_value(v: Any) -> str:
    """Human-readable number: thousands separators, 4 significant decimals for small values."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if v != v:
            return "–"  # undefined: a table holding one says so in its caption
        if v in (math.inf, -math.inf):
            return "∞" if v > 0 else "−∞"
        a = abs(v)
        if a == 0:
            return "0"
        if a >= 1000:
            return f"{v:,.2f}"
        if a >= 1:
            return f"{v:.4g}" if a < 100 else f"{v:.2f}"
        return f"{v:.4g}"
    return str(v)


class Report:
    """Build a report block by block, then ``render()`` or ``write(path)``.

    Args:
        title: the page title.
        subtitle: a line under the title (data source, command, date).
    """

    def __init__(self, title: str, subtitle: str = "") -> None:
        self.title = title
        self.subtitle = subtitle
        self._blocks: list[str] = []

    def heading(self, text: str) -> None:
        """A section heading."""
        self._blocks.append(f"<h2>{escape(text)}</h2>")

    def paragraph(self, text: str) -> None:
        """A paragraph of plain text."""
        self._blocks.append(f"<p>{escape(text)}</p>")

    def metrics(self, values: Mapping[str, Any], keys: Mapping[str, str] | None = None) -> None:
        """Headline numbers as cards; ``keys`` maps a label to the JSON key it shows (``data-key``)."""
        cards = []
        for label, v in values.items():
            key = (keys or {}).get(label, "")
            attr = f' data-key="{escape(key)}" data-value="{escape(repr(v))}"' if key else ""
            cards.append(
                f'<div class="metric"><div class="v"{attr}>{escape(format_value(v))}</div>'
                f'<div class="k">{escape(label)}</div></div>'
            )
        self._blocks.append(f'<div class="metrics">{"".join(cards)}</div>')

    def table(
        self,
        rows: Sequence[Mapping[str, Any]],
        columns: Sequence[str] | None = None,
        caption: str = "",
        max_rows: int = 500,
    ) -> None:
        """A table of dicts (first ``max_rows`` rows; the caption says when rows were left out)."""
        if not rows:
            self._blocks.append(f"<p><em>{escape(caption or 'table')}: no rows</em></p>")
            return
        cols = list(columns or rows[0].keys())
        shown = rows[:max_rows]
        more = f" (first {max_rows} of {len(rows)} rows)" if len(rows) > max_rows else ""

        def cell(v: Any) -> str:
            cls = "" if isinstance(v, int | float) and not isinstance(v, bool) else ' class="t"'
            return f"<td{cls}>{escape(format_value(v))}</td>"

        head = "".join(f'<th class="t">{escape(c)}</th>' for c in cols)
        body = "".join("<tr>" + "".join(cell(r.get(c)) for c in cols) + "</tr>" for r in shown)
        undefined = any(
            r.get(c) is None or (isinstance(r.get(c), float) and r.get(c) != r.get(c))
            for r in shown
            for c in cols
        )
        legend = " (– = undefined: no data for that cell)" if undefined else ""
        text = caption + more + legend
        cap = f"<caption>{escape(text)}</caption>" if text else ""
        self._blocks.append(f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def links(self, items: Sequence[tuple[str, str, str]]) -> None:
        """A list of links, each ``(href, text, description)``; hrefs are relative (no network)."""
        lis = "".join(
            f'<li><a href="{escape(href)}">{escape(text)}</a> {escape(desc)}</li>'
            for href, text, desc in items
        )
        self._blocks.append(f"<ul>{lis}</ul>")

    def figure(self, svg: str, caption: str = "") -> None:
        """An inline SVG figure (from ``tokenomy.audit.svg``) with an optional caption."""
        cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
        self._blocks.append(f"<figure>{svg}{cap}</figure>")

    def raw(self, html: str) -> None:
        """Trusted HTML inserted as given, not escaped: a fragment built from ``tokenomy.audit.svg``
        figures and escaped text by another report module (e.g. the tau-bench section). Never pass
        text that came from data or a user here; use :meth:`paragraph` or :meth:`table` for that."""
        self._blocks.append(html)

    def note(self, text: str, kind: str = "info") -> None:
        """A labelled box: kind ``synthetic`` or ``modelled`` marks quantities that are not measured;
        ``warning`` something the reader must act on (an unpriced model); ``info`` the rest."""
        if kind not in ("synthetic", "modelled", "info", "warning"):
            raise ValueError(f"note kind must be synthetic, modelled, info or warning; got {kind!r}")
        self._blocks.append(f'<div class="note {kind}"><span class="tag">{kind}</span>{escape(text)}</div>')

    def render(self) -> str:
        """The whole page as one HTML string."""
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        sub = f'<p class="sub">{escape(self.subtitle)}</p>' if self.subtitle else ""
        return (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(self.title)}</title>'
            f"<style>{_CSS}</style></head><body><main><h1>{escape(self.title)}</h1>{sub}"
            + "".join(self._blocks)
            + f"<footer>generated by tokenomy on {stamp}</footer></main></body></html>\n"
        )

    def write(self, path: str | Path) -> Path:
        """Write the page to ``path`` (parents created) and return the path."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(self.render(), encoding="utf-8")
        return p

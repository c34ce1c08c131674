"""The HTML report in a real headless Chromium: no console errors, plots render, page numbers = JSON."""

from __future__ import annotations

import html
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest

from tokenomy.audit.engine import run_audit
from tokenomy.audit.html import format_value
from tokenomy.audit.importers.ledger import from_records
from tokenomy.audit.pricing import StaticPriceTable
from tokenomy.audit.report_audit import build_report
from tokenomy.core import PriceVector, TokenUse
from tokenomy.ledger import Decision, Outcome

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    exe = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if exe is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium not found; CI=true requires it (scripts/test-deps.sh installs it)")
        pytest.skip("chromium not found (install Debian's chromium to run the browser test)")
    return exe


def png_colours(path: Path) -> int:
    """Distinct pixel values of an 8-bit RGB/RGBA PNG (decoded with zlib; filters undone)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, ihdr = 8, b"", b""
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            ihdr = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype = struct.unpack(">IIBB", ihdr[:10])
    assert depth == 8 and ctype in (2, 6)
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    colours: set[bytes] = set()
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        if y % 8 == 0:
            colours.update(bytes(line[i : i + bpp]) for i in range(0, stride, bpp * 4))
        prev = line
    return len(colours)


def sample_audit() -> tuple[Any, dict[str, Any]]:
    decisions, outcomes = sample_records()
    res = run_audit(from_records(decisions, outcomes), StaticPriceTable())
    return res, res.as_dict()


def sample_records() -> tuple[list[Decision], list[Outcome]]:
    """Twelve agent tasks as ledger records: read, edit and (in two of three) a test; outcomes."""
    prices = PriceVector(v_usd=10.0, rho_usd=20.0, v_source="user")
    decisions, outcomes = [], []
    for t in range(12):
        rid = f"task-{t}"
        plan = ["read", "edit", "test"] if t % 3 else ["read", "edit"]
        for k, cls in enumerate(plan):
            decisions.append(
                Decision.from_uses(
                    rid,
                    "action",
                    f"step-{k}",
                    [TokenUse("call", 0.0, 0.05 * (k + 1))],
                    prices,
                    chosen=0,
                    metadata={"action_class": cls, "kind": "tool"},
                )
            )
        outcomes.append(Outcome(rid, float(t % 3 != 0 or t == 3), 0.0))
    return decisions, outcomes


def test_report_renders_in_chromium_and_numbers_match_the_cli_json(tmp_path: Path) -> None:
    import json

    from tokenomy.interfaces.cli import main
    from tokenomy.ledger import Ledger

    decisions, outcomes = sample_records()
    with Ledger(tmp_path / "l.duckdb") as ledger:
        ledger.append(decisions)
        ledger.append_outcomes(outcomes)
    report, out = tmp_path / "report.html", tmp_path / "report.json"
    assert main(["audit", str(tmp_path / "l.duckdb"), "--report", str(report), "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    dom, colours = load_in_chromium(report, tmp_path, screenshot=True)
    keys = headline_matches_json_file(dom, payload)
    assert {"totals.welfare_usd", "totals.cost_usd", "totals.value_usd", "totals.regret_usd"} <= keys
    assert dom.count("<svg") >= 4 and "Prediction 1: the verification curve (observational)" in dom
    assert colours > 8  # text, cards and coloured plot marks, not a blank page


def test_headline_keys_exist_in_json() -> None:
    res, payload = sample_audit()
    html = build_report(res, payload).render()
    for key in re.findall(r'data-key="([^"]+)"', html):
        section, name = key.split(".", 1)
        assert name in payload[section]


def load_in_chromium(page: Path, tmp_path: Path, screenshot: bool = False) -> tuple[str, int]:
    """The DOM after scripts ran (asserting no console errors) and, when asked, the screenshot's colour
    count (one browser start each: the screenshot is taken once, in the first test, to keep this fast)."""
    exe = chromium()
    url = page.resolve().as_uri()
    base = [exe, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(
        [*base, "--enable-logging=stderr", "--v=0", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    assert not console, console
    shot = tmp_path / "shot.png"
    run = subprocess.run(
        [*base, f"--screenshot={shot}", "--window-size=1000,1400", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    return dom.stdout, png_colours(shot)


def headline_matches_json_file(dom: str, payload: dict[str, Any]) -> set[str]:
    """Every headline card: its ``data-value`` and its visible text both equal the JSON figure."""
    cards = re.findall(r'<div class="v" data-key="([^"]+)" data-value="([^"]+)">([^<]*)</div>', dom)
    assert cards and len(cards) == dom.count("data-key="), "a headline card the pattern did not read"
    for key, value, text in cards:
        section, name = key.split(".", 1)
        want = payload[section][name]
        shown = html.unescape(text)
        if want is None:  # not measurable (e.g. nothing priced): shown as a dash, never as 0
            assert value == "None" and shown == "–", (key, value, shown)
            continue
        assert float(value) == pytest.approx(float(want), rel=1e-12), key
        assert shown == format_value(want), (key, shown, want)  # as the page formats it
        assert visible_number(shown) == pytest.approx(float(want), **shown_precision(shown)), (key, shown)
    return {key for key, _, _ in cards}


def visible_number(text: str) -> float:
    """The number a reader sees ("1,234.57", "0.04567", "1.2e-05")."""
    return float(text.replace(",", ""))


def shown_precision(text: str) -> dict[str, float]:
    """Tolerance of a number shown with the digits in ``text``: half a unit of its last digit."""
    mantissa = text.replace(",", "").lower().split("e")[0]
    digits = len(mantissa.split(".")[1]) if "." in mantissa else 0
    if "e" in text.lower():
        sig = len(mantissa.replace("-", "").replace(".", "").lstrip("0")) or 1
        return {"rel": 0.5 * 10.0 ** (1 - sig) * 1.0001}
    return {"abs": 0.5 * 10.0**-digits * 1.0001}


def test_visible_number_check_catches_a_wrong_figure() -> None:
    dom = '<div class="v" data-key="totals.cost_usd" data-value="1.5">1.6</div>'
    with pytest.raises(AssertionError):
        headline_matches_json_file(dom, {"totals": {"cost_usd": 1.5}})
    assert headline_matches_json_file(dom.replace(">1.6<", ">1.5<"), {"totals": {"cost_usd": 1.5}}) == {
        "totals.cost_usd"
    }
    assert shown_precision("1,234.57") == {"abs": pytest.approx(0.005, rel=1e-3)}
    assert shown_precision("1.23e-05") == {"rel": pytest.approx(0.005, rel=1e-3)}


@pytest.mark.data
def test_miniswe_report_with_verification_curve_in_chromium(tmp_path: Path, need_data: Any) -> None:
    import json

    from tokenomy.interfaces.cli import main

    folder = need_data("agent", "miniswe_gemini3pro_swebv")
    report, out = tmp_path / "m.html", tmp_path / "m.json"
    assert main(["audit", str(folder), "--report", str(report), "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    dom, _ = load_in_chromium(report, tmp_path)
    keys = headline_matches_json_file(dom, payload)
    assert {"totals.welfare_usd", "totals.cost_per_resolved_usd", "totals.reported_cost_usd"} <= keys
    assert "Prediction 1: the verification curve (observational)" in dom
    assert f"k* = {payload['verification_curve']['fit']['k_star']:.1f}" in dom
    assert dom.count("<svg") >= 6 and dom.count("<polyline") >= 4

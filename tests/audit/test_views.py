"""Cost views: sessions, users and tags read from every log format; sums that add up; value unknown
where nothing is labelled; cache savings at the rate card's discount."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from importer_files import T0_NS, jsonl, litellm_row, otlp_file, span

from tokenomy.interfaces.cli import main


def _audit(tmp_path: Path, src: Path, *extra: str) -> dict[str, Any]:
    out = tmp_path / "a.json"
    assert main(["audit", str(src), "--json", str(out), *extra]) == 0
    payload: dict[str, Any] = json.loads(out.read_text())
    return payload


def _trace(i: int) -> str:
    return f"{i:032x}"


def test_otlp_conversations_group_requests_into_sessions_and_the_views_add_up(tmp_path: Path) -> None:
    spans = []
    for i in range(24):  # 8 conversations of 3 traces each, two users, tags from OpenInference
        attrs = {
            "gen_ai.conversation.id" if i % 2 else "session.id": f"conv-{i // 3}",
            "user.id": f"user-{i % 2}",
            "tokenomy.tags": "checkout,beta" if i < 6 else "search",
        }
        tokens = {"gen_ai.usage.input_tokens": 1000 * (1 + i % 4), "gen_ai.usage.output_tokens": 100}
        sid = f"{i + 1:016x}"
        spans.append(span(sid, trace=_trace(i + 1), tokens=tokens, extra=attrs, start_ns=T0_NS + i * 10**9))
    payload = _audit(tmp_path, otlp_file(tmp_path / "t.jsonl", [spans]))
    g = payload["grouping"]
    assert (g["unit"], g["requests"], g["sessions"], g["users"], g["tags"]) == ("session", 24, 8, 2, 3)
    views = payload["views"]
    total = payload["totals"]["cost_usd"]
    assert total > 0
    assert views["request"]["groups"] == 24 and len(views["request"]["rows"]) == 20  # the top 20 kept
    for by in ("model", "session", "user", "day"):
        rows = views[by]["rows"]
        assert abs(sum(r["cost_usd"] for r in rows) - total) < 1e-9 * max(total, 1), by
        assert sum(r["requests"] for r in rows) == 24  # one model, one day: each request once
    assert views["session"]["groups"] == 8 and all(r["requests"] == 3 for r in views["session"]["rows"])
    tags = {r["key"]: r for r in views["tag"]["rows"]}
    assert set(tags) == {"beta", "checkout", "search"} and tags["beta"]["requests"] == 6
    assert tags["beta"]["cost_usd"] == tags["checkout"]["cost_usd"]  # one request, each of its tags
    costs = [r["cost_usd"] for r in views["request"]["rows"]]
    assert costs == sorted(costs, reverse=True)
    # nothing is labelled: value unknown, not zero welfare
    assert all(r["welfare_usd"] is None and r["labelled_requests"] == 0 for r in views["session"]["rows"])
    assert {r["session"] for r in payload["requests"]} == {f"conv-{k}" for k in range(8)}


def test_labelled_requests_give_their_group_a_welfare(tmp_path: Path) -> None:
    spans = []
    for i in range(4):
        attrs = {"session.id": f"s{i // 2}"}
        if i < 2:
            attrs["tokenomy.quality"] = "1"
        tokens = {"gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 100}
        spans.append(span(f"{i + 1:016x}", trace=_trace(i + 1), tokens=tokens, extra=attrs))
    payload = _audit(tmp_path, otlp_file(tmp_path / "t.jsonl", [spans]), "--v", "2")
    rows = {r["key"]: r for r in payload["views"]["session"]["rows"]}
    assert rows["s0"]["labelled_requests"] == 2 and rows["s0"]["welfare_usd"] is not None
    assert abs(rows["s0"]["welfare_usd"] - (2 * 2.0 - rows["s0"]["cost_usd"])) < 1e-9
    assert rows["s1"]["welfare_usd"] is None


def test_litellm_end_users_request_tags_and_team_become_views(tmp_path: Path) -> None:
    rows = [
        litellm_row(
            f"r{i}",
            session_id=f"sess-{i // 2}",
            end_user=f"cust-{i % 3}",
            request_tags=json.dumps(["feature:summary"] if i % 2 else ["feature:chat"]),
            metadata=json.dumps(
                {
                    "usage_object": {"prompt_tokens": 1000, "completion_tokens": 300},
                    "user_api_key_team_alias": "growth",
                }
            ),
        )
        for i in range(6)
    ]
    payload = _audit(tmp_path, jsonl(tmp_path / "spend.jsonl", rows), "--format", "litellm")
    assert payload["grouping"]["users"] == 3
    tags = {r["key"]: r for r in payload["views"]["tag"]["rows"]}
    assert set(tags) == {"feature:chat", "feature:summary", "team:growth"}
    assert tags["team:growth"]["requests"] == payload["totals"]["requests"]
    users = {r["key"]: r["llm_calls"] for r in payload["views"]["user"]["rows"]}
    assert users == {"cust-0": 2, "cust-1": 2, "cust-2": 2}


def test_cache_reads_show_savings_at_the_cards_discount(tmp_path: Path) -> None:
    tokens = {
        "gen_ai.usage.input_tokens": 10_000,
        "gen_ai.usage.output_tokens": 10,
        "gen_ai.usage.cache_read.input_tokens": 8_000,
    }
    payload = _audit(tmp_path, otlp_file(tmp_path / "t.jsonl", [[span("00000000000000a1", tokens=tokens)]]))
    (row,) = payload["views"]["model"]["rows"]
    card = next(iter(payload["pricing"]["rate_cards"].values()))
    expect = 8_000 * (card["input_usd_per_mtok"] - card["cache_read_usd_per_mtok"]) / 1e6
    assert expect > 0 and abs(row["cache_savings_usd"] - expect) < 1e-12
    assert "session" not in payload["views"]  # the log names no session: no such view


def test_the_views_render_in_chromium_with_charts_and_unknown_welfare(tmp_path: Path) -> None:
    from test_report_browser import load_in_chromium

    spans = []
    for i in range(12):
        attrs = {"session.id": f"conv-{i // 3}", "user.id": f"user-{i % 2}", "tokenomy.tags": "checkout"}
        tokens = {"gen_ai.usage.input_tokens": 1000 * (1 + i), "gen_ai.usage.output_tokens": 50}
        start = T0_NS + i * 86_400 * 10**9 // 4  # three days of traffic
        spans.append(span(f"{i + 1:016x}", trace=_trace(i + 1), tokens=tokens, extra=attrs, start_ns=start))
    report = tmp_path / "r.html"
    payload = _audit(tmp_path, otlp_file(tmp_path / "t.jsonl", [spans]), "--report", str(report))
    dom, colours = load_in_chromium(report, tmp_path, screenshot=True)
    assert "Where the money went" in dom and "12 requests in 4 sessions from 2 users" in dom
    for title in ("Cost by model", "Costliest sessions", "Cost by user", "Spend per day"):
        assert title in dom, title
    assert "unknown (unlabelled)" in dom
    assert "SPEC.md" not in dom  # no internal references on the page
    assert colours > 8
    top = payload["views"]["session"]["rows"][0]
    assert top["key"] == "conv-3"  # the last conversation has the longest prompts

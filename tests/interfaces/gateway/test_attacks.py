"""Attacks from the network, in process: hostile JSON, headers, keys, paths, bodies and feedback.

Every bad request must get an OpenAI-style 4xx (never a traceback or a 500), no response header may
carry CR/LF, and after each attack no upstream slot or budget is held and every answered request is
in the ledger exactly once (``gateway_attackkit.check_invariants``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from gateway_attackkit import CHAT, Reply, assert_clean, check_invariants, drive, error_of, hmap, jbody
from gateway_helpers import fake_upstreams, gateway_config

from tokenomy.interfaces.gateway.app import Gateway
from tokenomy.interfaces.gateway.records import RecordSink
from tokenomy.ledger import Ledger

CC = "/v1/chat/completions"
KEYS = {"k1": {"tenant": "t1", "v_usd": 1.0}, "k2": {"tenant": "t2", "v_usd": 1.0}}


def _bearer(key: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", b"Bearer " + key.encode())]


def _attack(requests: list[tuple[Any, ...]], **tables: Any) -> list[Reply]:
    """Send each (method, path, chunks, headers[, kwargs]) to a fresh gateway; check the invariants."""

    async def go() -> list[Reply]:
        async with fake_upstreams("ok", "ok") as urls:
            ledger = Ledger(":memory:")
            gw = Gateway(gateway_config(urls, **tables), sink=RecordSink(ledger, flush_ms=10))
            out = []
            for method, path, chunks, headers, *kw in requests:
                out.append(await drive(gw, method, path, chunks, headers, **(kw[0] if kw else {})))
            check_invariants(gw, ledger, out)
            await gw.shutdown()
            return out

    return asyncio.run(go())


# --- hostile JSON -----------------------------------------------------------------------------------

BAD_JSON = {
    "truncated": b'{"model": "tokenomy-auto", "messages": [',
    "deeply_nested_arrays": b"[" * 200_000 + b"]" * 200_000,
    "deeply_nested_objects": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "deep_inside_messages": b'{"model":"cheap","messages":[{"role":"user","content":'
    + b"[" * 50_000
    + b"]" * 50_000
    + b"}]}",
    "not_utf8": b'{"model": "cheap", "messages": [{"role": "user", "content": "\xff\xfe\xfa"}]}',
    "utf16": json.dumps(CHAT).encode("utf-16"),
    "lone_surrogate": b'{"model": "cheap", "messages": [{"role": "user", "content": "\\ud800"}]}',
    "top_level_array": b"[1, 2, 3]",
    "top_level_string": b'"hello"',
    "top_level_null": b"null",
    "empty": b"",
    "whitespace": b"   \n ",
    "nan_literal": b'{"model":"cheap","messages":[{"role":"user","content":"x"}],"max_tokens":NaN}',
    "infinity_literal": b'{"model":"cheap","messages":[{"role":"user","content":"x"}],"temperature":Infinity}',
    "messages_not_list": jbody({"model": "cheap", "messages": "hi"}),
    "messages_empty": jbody({"model": "cheap", "messages": []}),
    "message_not_object": jbody({"model": "cheap", "messages": ["hi"]}),
    "model_int": jbody({"model": 7, "messages": [{"role": "user", "content": "x"}]}),
    "model_list": jbody({"model": ["cheap"], "messages": [{"role": "user", "content": "x"}]}),
    "model_null": jbody({"model": None, "messages": [{"role": "user", "content": "x"}]}),
    "stream_string": jbody({**CHAT, "stream": "yes"}),
    "metadata_list": jbody({**CHAT, "metadata": [1, 2]}),
}


@pytest.mark.parametrize("name", sorted(BAD_JSON))
def test_hostile_json_gets_a_400(name: str) -> None:
    (reply,) = _attack([("POST", CC, BAD_JSON[name], [])])
    assert_clean(reply, {400})


BAD_NUMBERS = {
    "max_tokens_negative": -5,
    "max_tokens_zero": 0,
    "max_tokens_float": 1.5,
    "max_tokens_string": "16",
    "max_tokens_bool": True,
    "max_tokens_huge": 10**40,
    "max_tokens_list": [16],
    "n_zero": ("n", 0),
    "n_negative": ("n", -3),
    "n_string": ("n", "2"),
    "n_huge": ("n", 10**12),
    "max_completion_tokens_negative": ("max_completion_tokens", -1),
    "max_completion_tokens_huge": ("max_completion_tokens", 10**40),
}


@pytest.mark.parametrize("name", sorted(BAD_NUMBERS))
def test_bad_numbers_in_the_body_get_a_400_or_are_bounded(name: str) -> None:
    v = BAD_NUMBERS[name]
    field, value = v if isinstance(v, tuple) else ("max_tokens", v)
    (reply,) = _attack([("POST", CC, jbody({**CHAT, field: value}), [])])
    if name in ("max_tokens_huge", "max_completion_tokens_huge"):
        assert_clean(reply, {200, 400})  # a bounded cap may be applied instead
    else:
        assert_clean(reply, {400})
        assert error_of(reply)["param"] in (field, "max_tokens", None)


# --- hostile prices in headers and metadata ----------------------------------------------------------

BAD_PRICE_HEADERS = [
    "nan", "NaN", "inf", "-inf", "Infinity", "-1", "-0.0001", "1e309", "abc", "", " ", "0x10",
    "1,5", "١٢", "1e-400x", "--1", "1 2", "\t5",
]  # fmt: skip


@pytest.mark.parametrize("header", ["x-tokenomy-v", "x-tokenomy-lambda", "x-tokenomy-rho"])
def test_non_finite_negative_or_garbage_prices_in_headers_get_a_400(header: str) -> None:
    reqs = [("POST", CC, jbody(CHAT), [(header.encode(), v.encode())]) for v in BAD_PRICE_HEADERS]
    replies = _attack(reqs)
    for v, reply in zip(BAD_PRICE_HEADERS, replies, strict=True):
        if v == "\t5":  # surrounding whitespace is not part of a header value (RFC 9110)
            assert_clean(reply, {200, 400, 429})
            continue
        assert_clean(reply, {400})
        assert error_of(reply)["code"] == "invalid_price", (v, reply)


def test_non_ascii_bytes_in_a_price_header_get_a_400() -> None:
    replies = _attack([("POST", CC, jbody(CHAT), [(b"x-tokenomy-v", b"\xff\xfe1")])])
    assert_clean(replies[0], {400})


def test_huge_but_finite_prices_never_give_a_non_finite_answer() -> None:
    values = ["1e300", "1.7976931348623157e308", "1e-320", "0"]
    reqs = [
        ("POST", CC, jbody(CHAT), [(h, v.encode())])
        for v in values
        for h in (b"x-tokenomy-v", b"x-tokenomy-lambda", b"x-tokenomy-rho")
    ]
    for reply in _attack(reqs):
        assert_clean(reply, {200, 400, 429})
        if reply[0] == 200:
            ext = json.loads(reply[2])["tokenomy"]
            assert all(isinstance(x, float | int) for x in ext["prices"].values() if not isinstance(x, str))
            assert "NaN" not in reply[2].decode() and "Infinity" not in reply[2].decode()


BAD_METADATA: list[Any] = [
    "nan", "NaN", "Infinity", -1, "abc", True, [1], {"x": 1}, None, 1e308 * 10, "1e999",
]  # fmt: skip


@pytest.mark.parametrize("key", ["tokenomy_v", "tokenomy_lambda", "tokenomy_rho"])
def test_bad_prices_in_metadata_get_a_400(key: str) -> None:
    bodies = []
    for v in BAD_METADATA:
        doc = json.dumps({**CHAT, "metadata": {key: v}}, allow_nan=True).encode()
        bodies.append(("POST", CC, doc, []))
    for v, reply in zip(BAD_METADATA, _attack(bodies), strict=True):
        if v is None:  # an explicit null reads as "not given"
            assert_clean(reply, {200, 400})
            continue
        assert_clean(reply, {400})


def test_two_conflicting_price_headers_are_refused_or_one_is_used_consistently() -> None:
    hdrs = [(b"x-tokenomy-v", b"0.0001"), (b"x-tokenomy-v", b"100")]
    (reply,) = _attack([("POST", CC, jbody(CHAT), hdrs)])
    assert_clean(reply, {200, 400})
    if reply[0] == 200:
        assert "v=" in hmap(reply)["x-tokenomy-prices"]


# --- header injection ---------------------------------------------------------------------------------

INJECT = "cheap\r\nX-Evil: 1\r\n\r\n<html>"


def test_crlf_in_model_name_user_or_metadata_never_reaches_a_response_header() -> None:
    reqs = [
        ("POST", CC, jbody({**CHAT, "model": INJECT}), []),
        ("POST", CC, jbody({**CHAT, "user": INJECT}), []),
        ("POST", CC, jbody({**CHAT, "metadata": {"tokenomy_route": INJECT, "x": INJECT}}), []),
        ("POST", CC, jbody({**CHAT, "stream": True, "model": INJECT}), []),
        ("POST", CC, jbody(CHAT), [(b"x-request-id", INJECT.encode())]),
    ]
    replies = _attack(reqs)
    assert_clean(replies[0], {404, 400})
    assert_clean(replies[3], {404, 400})
    for r in replies[1:3] + replies[4:]:
        assert_clean(r, {200})
        assert all(b"evil" not in k.lower() for k, _ in r[1])


def test_a_client_chosen_request_id_never_duplicates_a_ledger_row() -> None:
    hdr = [(b"x-request-id", b"same"), (b"x-tokenomy-request-id", b"same")]
    replies = _attack([("POST", CC, jbody({**CHAT, "metadata": {"request_id": "same"}}), hdr)] * 3)
    ids = [hmap(r)["x-tokenomy-request-id"] for r in replies]
    assert all(r[0] == 200 for r in replies) and len(set(ids)) == 3


# --- keys ----------------------------------------------------------------------------------------------

AUTH_HEADERS: dict[str, list[tuple[bytes, bytes]]] = {
    "absent": [],
    "empty_bearer": [(b"authorization", b"Bearer ")],
    "bearer_only": [(b"authorization", b"Bearer")],
    "basic": [(b"authorization", b"Basic azE6")],
    "prefix_of_key": [(b"authorization", b"Bearer k")],
    "key_with_suffix": [(b"authorization", b"Bearer k1x")],
    "key_with_nul": [(b"authorization", b"Bearer k1\x00")],
    "non_ascii": [(b"authorization", b"Bearer k1\xff")],
    "tenant_name_as_key": [(b"authorization", b"Bearer t1")],
    "huge": [(b"authorization", b"Bearer " + b"A" * 100_000)],
    "unknown_then_valid": [(b"authorization", b"Bearer nope"), (b"authorization", b"Bearer k1")],
}


@pytest.mark.parametrize("name", sorted(AUTH_HEADERS))
def test_unknown_absent_or_malformed_keys_get_a_401(name: str) -> None:
    reqs = [
        ("POST", CC, jbody(CHAT), AUTH_HEADERS[name]),
        ("POST", "/v1/feedback", jbody({"request_id": "x", "quality": 1.0}), AUTH_HEADERS[name]),
    ]
    for reply in _attack(reqs, keys=KEYS):
        if name == "huge":  # refused before the key is looked at: the head is too large
            assert_clean(reply, {431})
            continue
        assert_clean(reply, {401})
        assert error_of(reply)["type"] == "authentication_error"


def test_a_valid_key_still_works() -> None:
    (reply,) = _attack([("POST", CC, jbody(CHAT), _bearer("k1"))], keys=KEYS)
    assert_clean(reply, {200})


def test_a_key_cannot_pin_an_upstream_outside_its_allowed_models() -> None:
    keys = {"k1": {"tenant": "t1", "v_usd": 1.0, "models": ["cheap"]}}
    pins = ["strong", "STRONG", " strong", "strong ", "strong\x00", "upstream/strong", "../strong"]
    reqs = [("POST", CC, jbody({**CHAT, "model": m}), _bearer("k1")) for m in pins]
    auto = ("POST", CC, jbody(CHAT), [*_bearer("k1"), (b"x-tokenomy-v", b"1000")])
    replies = _attack([*reqs, auto], keys=keys)
    for m, reply in zip(pins, replies[:-1], strict=True):
        assert_clean(reply, {403, 404})
        assert hmap(reply).get("x-tokenomy-model") is None, m
    assert_clean(replies[-1], {200})
    assert hmap(replies[-1])["x-tokenomy-model"] == "cheap"  # routing stays inside the allowed set


# --- paths and methods -----------------------------------------------------------------------------------

PATHS = [
    "/v1/../v1/models/../../etc/passwd", "/../../etc/passwd", "//v1/chat/completions", "/v1/chat/completions/..",
    "/v1/chat/completions%00", "/v1/chat/completions\x00", "/V1/CHAT/COMPLETIONS", "/v1/%2e%2e/%2e%2e/etc/passwd",
    "/v1/models/../../../../../etc/shadow", "/" + "a/" * 10_000, "/v1/chat/completions\r\nX-Evil: 1", "",
    "/v1/feedback/../prices", "/metrics/../v1/chat/completions", "/v1/chat/completions;x=1",
]  # fmt: skip


def test_path_traversal_and_odd_paths_get_a_404_or_the_exact_route() -> None:
    reqs = [("POST", p, jbody(CHAT), []) for p in PATHS] + [("GET", p, b"", []) for p in PATHS]
    for p, reply in zip(PATHS * 2, _attack(reqs), strict=True):
        assert_clean(reply, {404, 405, 400})
        assert b"root:" not in reply[2], p


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "TRACE", "CONNECT", "OPTIONS", "GETX", "get"])
def test_odd_methods_get_a_405_or_404(method: str) -> None:
    for reply in _attack([(method, CC, jbody(CHAT), []), (method, "/v1/feedback", b"", [])]):
        assert_clean(reply, {404, 405})


def test_a_websocket_or_unknown_scope_is_closed_without_a_crash() -> None:
    async def go() -> list[dict[str, Any]]:
        async with fake_upstreams("ok", "ok") as urls:
            gw = Gateway(gateway_config(urls))
            sent: list[dict[str, Any]] = []

            async def receive() -> dict[str, Any]:
                return {"type": "websocket.connect"}

            async def send(msg: dict[str, Any]) -> None:
                sent.append(msg)

            await gw({"type": "websocket", "path": CC, "headers": []}, receive, send)
            await gw({"type": "weird", "path": CC, "headers": []}, receive, send)
            await gw.shutdown()
            return sent

    sent = asyncio.run(go())
    assert all(m["type"] in ("websocket.close", "websocket.accept") for m in sent)


# --- bodies ------------------------------------------------------------------------------------------------

SMALL = {"gateway": {"max_body_bytes": 2000}}


def test_a_body_over_the_limit_gets_a_413_however_it_arrives() -> None:
    big = jbody({**CHAT, "messages": [{"role": "user", "content": "x" * 5000}]})
    reqs: list[tuple[Any, ...]] = [
        ("POST", CC, big, []),  # honest length
        ("POST", CC, [big[i : i + 100] for i in range(0, len(big), 100)], [], {"content_length": False}),
        ("POST", CC, big, [(b"content-length", b"10")], {"content_length": False}),  # a lie
        ("POST", CC, b"{}", [(b"content-length", b"1000000000000")], {"content_length": False}),
        ("POST", "/v1/feedback", big, []),
    ]
    for reply in _attack(reqs, **SMALL):
        assert_clean(reply, {413})


def test_a_chunked_body_past_the_limit_is_not_read_to_its_end() -> None:
    consumed: list[int] = []

    async def go() -> Reply:
        async with fake_upstreams("ok", "ok") as urls:
            gw = Gateway(gateway_config(urls, **SMALL))
            chunks = [b"x" * 1000] * 10_000  # 10 MB offered in 1 kB chunks
            n = [0]

            async def receive() -> dict[str, Any]:
                n[0] += 1
                return {"type": "http.request", "body": chunks[0], "more_body": n[0] < len(chunks)}

            sent: list[dict[str, Any]] = []

            async def send(msg: dict[str, Any]) -> None:
                sent.append(msg)

            scope = {"type": "http", "method": "POST", "path": CC, "headers": []}
            await gw(scope, receive, send)
            consumed.append(n[0])
            return int(sent[0]["status"]), [], b"".join(m.get("body", b"") for m in sent[1:])

    status, _, body = asyncio.run(go())
    assert status == 413 and json.loads(body)["error"]["code"]
    assert consumed[0] <= 5


@pytest.mark.parametrize(
    "value", [b"-1", b"abc", b"1e3", b"0x10", b" ", b"5, 6", b"99999999999999999999999999999"]
)
def test_a_malformed_content_length_gets_a_4xx(value: bytes) -> None:
    (reply,) = _attack([("POST", CC, jbody(CHAT), [(b"content-length", value)], {"content_length": False})])
    assert_clean(reply, {400, 413})


def test_two_different_content_lengths_get_a_400() -> None:
    body = jbody(CHAT)
    hdrs = [(b"content-length", str(len(body)).encode()), (b"content-length", b"3")]
    (reply,) = _attack([("POST", CC, body, hdrs, {"content_length": False})])
    assert_clean(reply, {400})


def test_a_client_that_leaves_while_sending_its_body_costs_nothing() -> None:
    async def go() -> tuple[Reply, Gateway, Ledger]:
        async with fake_upstreams("ok", "ok") as urls:
            ledger = Ledger(":memory:")
            gw = Gateway(gateway_config(urls), sink=RecordSink(ledger, flush_ms=10))

            async def receive() -> dict[str, Any]:
                return {"type": "http.disconnect"}

            sent: list[dict[str, Any]] = []

            async def send(msg: dict[str, Any]) -> None:
                sent.append(msg)

            await gw({"type": "http", "method": "POST", "path": CC, "headers": []}, receive, send)
            check_invariants(gw, ledger, [])
            return (int(sent[0]["status"]) if sent else 0, [], b""), gw, ledger

    reply, _gw, ledger = asyncio.run(go())
    assert reply[0] in (0, 400, 499) and ledger.count("decisions") == 0


def test_a_huge_or_crowded_request_head_gets_a_431() -> None:
    reqs = [
        ("POST", CC, jbody(CHAT), [(b"x-a", b"a" * 70_000)]),
        ("POST", CC, jbody(CHAT), [(b"x-%d" % i, b"1") for i in range(500)]),
        ("GET", "/healthz", b"", [(b"x-a", b"a" * 70_000)]),
    ]
    for reply in _attack(reqs):
        assert_clean(reply, {431})


def test_a_body_that_arrives_too_slowly_gets_a_408() -> None:
    chunks = [b"{"] + [b" "] * 50
    slow = ("POST", CC, chunks, [], {"content_length": False, "chunk_gap_s": 0.05})
    (reply,) = _attack([slow], gateway={"body_timeout_s": 0.5})
    assert_clean(reply, {408})
    assert error_of(reply)["code"] == "body_timeout"


def test_exploration_and_upstream_model_ids_stay_inside_a_keys_allowed_models() -> None:
    keys = {"k1": {"tenant": "t1", "v_usd": 1000.0, "models": ["cheap"]}}
    tables = {"keys": keys, "routing": {"epsilon": 1.0}, "upstream_strong": {"model": "big-model-id"}}
    pinned = ("POST", CC, jbody({**CHAT, "model": "big-model-id"}), _bearer("k1"))
    auto = [("POST", CC, jbody(CHAT), _bearer("k1"))] * 20
    replies = _attack([pinned, *auto], **tables)
    assert_clean(replies[0], {403})
    for r in replies[1:]:
        assert_clean(r, {200})
        assert hmap(r)["x-tokenomy-model"] == "cheap"


APPROVAL_BODIES = [
    b"[" * 100_000,
    b"\xff\xfe",
    b"null",
    b'{"token": NaN}',
    jbody({"token": "forged.token.value", "decision": "approve"}),
    jbody({"token": ["x"], "decision": {"a": 1}}),
    jbody({"token": "x" * 500_000}),
    b"",
]


def test_the_approvals_endpoint_refuses_hostile_bodies_and_keys() -> None:
    tables = {"keys": KEYS, "actions": {"enabled": True, "secret": "s" * 40}}
    reqs = [("POST", "/v1/approvals", b, _bearer("k1")) for b in APPROVAL_BODIES]
    reqs += [("POST", "/v1/approvals", APPROVAL_BODIES[4], h) for h in AUTH_HEADERS.values()]
    for reply in _attack(reqs, **tables):
        assert_clean(reply, {400, 401, 403, 404, 409, 413, 422, 431})


def test_an_internal_error_does_not_leak_its_details() -> None:
    async def go() -> Reply:
        async with fake_upstreams("ok", "ok") as urls:
            gw = Gateway(gateway_config(urls))

            async def boom(*_: Any) -> None:
                raise RuntimeError("secret internals /etc/tokenomy/keys.toml")

            gw.extra_routes[("GET", "/boom")] = boom
            return await drive(gw, "GET", "/boom")

    reply = asyncio.run(go())
    assert_clean(reply, {500})
    assert b"secret internals" not in reply[2] and b"RuntimeError" not in reply[2]

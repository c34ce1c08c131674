"""Bad client input and a failing server against the gating MCP proxy: every path fails closed, answers
each request once and never hangs (deep nesting, non-JSON numbers, invalid ids, a missing or dying
server, a malformed or unmatched answer to the gate's question)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PROXY = [sys.executable, "-m", "tokenomy.interfaces.cli", "agent", "gate-mcp"]

# logs every line it receives; answers requests; asks the client for its roots once, after initialize
LOG_SERVER = r"""
import json, sys
log = open(sys.argv[1], "a")
for line in sys.stdin:
    log.write(line); log.flush()
    msg = json.loads(line)
    if "method" not in msg or "id" not in msg:
        continue
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": {"content": [], "isError": False}}) + "\n")
    if msg["method"] == "initialize":
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": "srv-1", "method": "roots/list"}) + "\n")
    sys.stdout.flush()
"""


def _call(i: Any, command: str) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": i,
        "method": "tools/call",
        "params": {"name": "run_command", "arguments": {"command": command}},
    }


def _line(msg: Any) -> bytes:
    return json.dumps(msg).encode() + b"\n"


def _converse(
    tmp_path: Path, lines: list[bytes]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], subprocess.CompletedProcess[bytes]]:
    server = tmp_path / "server.py"
    server.write_text(LOG_SERVER)
    log = tmp_path / "seen.log"
    out = subprocess.run(
        [*PROXY, "--", sys.executable, str(server), str(log)],
        input=b"".join(lines),
        capture_output=True,
        timeout=60,
        check=False,
    )
    replies = [json.loads(x) for x in out.stdout.splitlines() if x.strip()]
    seen = [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []
    return replies, seen, out


def test_a_deeply_nested_line_is_refused_and_the_next_line_is_served(tmp_path: Path) -> None:
    deep = b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":' + b"[" * 3000 + b"]" * 3000 + b"}\n"
    replies, seen, out = _converse(
        tmp_path, [deep, _line({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})]
    )
    assert out.returncode == 0, out.stderr
    assert b"Traceback" not in out.stderr
    first, second = replies[0], replies[1]
    assert first["error"]["code"] == -32700 and "nested too deeply" in first["error"]["message"]
    assert second["id"] == 2 and "result" in second
    assert [m["id"] for m in seen] == [2]


@pytest.mark.parametrize(
    "line",
    [
        b'{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"run_command","arguments":{"command":"ls"}},"extra":1e999}',
        b'{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"run_command","arguments":{"command":"ls"}},"extra":-1e999}',
        b'{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"run_command","arguments":{"command":NaN}}}',
        b'{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"run_command","arguments":{"command":"ls","n":Infinity}}}',
        b'{"jsonrpc":"2.0","id":12,"method":"tools/list","params":{"n":-Infinity}}',
    ],
    ids=["1e999", "-1e999", "NaN", "Infinity", "-Infinity"],
)
def test_non_finite_numbers_are_a_parse_error_and_not_forwarded(tmp_path: Path, line: bytes) -> None:
    replies, seen, out = _converse(tmp_path, [line + b"\n"])
    assert out.returncode == 0, out.stderr
    assert [r["error"]["code"] for r in replies] == [-32700]
    assert replies[0]["id"] is None and "not forwarded" in replies[0]["error"]["message"]
    assert seen == []


@pytest.mark.parametrize("rid", [{"a": 1}, [1], True, False], ids=["object", "array", "true", "false"])
def test_an_id_that_is_not_a_string_number_or_null_is_an_invalid_request(tmp_path: Path, rid: Any) -> None:
    replies, seen, out = _converse(
        tmp_path, [_line(_call(rid, "ls")), _line({"jsonrpc": "2.0", "id": rid, "method": "tools/list"})]
    )
    assert out.returncode == 0, out.stderr
    assert [(r["id"], r["error"]["code"]) for r in replies] == [(None, -32600), (None, -32600)]
    assert "id" in replies[0]["error"]["message"]
    assert seen == []


def test_a_server_command_that_does_not_exist_is_a_one_line_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "no_such_server")
    out = subprocess.run(
        [*PROXY, "--", missing],
        input=_line({"jsonrpc": "2.0", "id": 0, "method": "initialize"}),
        capture_output=True,
        timeout=60,
        check=False,
    )
    err = out.stderr.decode()
    assert out.returncode == 2 and err.count("\n") == 1, err
    assert "cannot start MCP server" in err and "not found" in err and "no_such_server" in err


@pytest.mark.parametrize("code", [3, 0])
def test_a_server_that_exits_early_answers_every_pending_request_and_fails(tmp_path: Path, code: int) -> None:
    server = tmp_path / "die.py"
    server.write_text(f"import sys\nsys.stdin.readline()\nsys.exit({code})\n")
    proc = subprocess.Popen(
        [*PROXY, "--", sys.executable, str(server)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        proc.stdin.write(_line({"jsonrpc": "2.0", "id": 0, "method": "initialize"}))
        proc.stdin.flush()
        reply = json.loads(proc.stdout.readline())  # answered while the client is still connected
        assert reply["id"] == 0 and reply["error"]["code"] == -32000
        assert f"code {code}" in reply["error"]["message"]
        proc.stdin.write(_line({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        proc.stdin.flush()
        later = json.loads(proc.stdout.readline())
        assert later["id"] == 1 and later["error"]["code"] == -32000
        proc.stdin.close()
        assert proc.wait(timeout=30) == 2
        err = proc.stderr.read().decode()
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert err.count("\n") == 1 and f"exited with code {code}" in err, err


def _ask(tmp_path: Path, answer: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """initialize with elicitation, answer roots/list, call a secret read, answer the question with answer(qid)."""
    server = tmp_path / "server.py"
    server.write_text(LOG_SERVER)
    log = tmp_path / "seen.log"
    proc = subprocess.Popen(
        [*PROXY, "--", sys.executable, str(server), str(log)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdin is not None and proc.stdout is not None
    got: list[dict[str, Any]] = []

    def send(data: bytes) -> None:
        proc.stdin.write(data)  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]

    def recv() -> dict[str, Any]:
        msg: dict[str, Any] = json.loads(proc.stdout.readline())  # type: ignore[union-attr]
        got.append(msg)
        return msg

    try:
        send(
            _line(
                {
                    "jsonrpc": "2.0",
                    "id": 0,
                    "method": "initialize",
                    "params": {"capabilities": {"elicitation": {}}},
                }
            )
        )
        assert recv()["id"] == 0
        roots = recv()
        assert roots["method"] == "roots/list"
        send(
            _line({"jsonrpc": "2.0", "id": roots["id"], "result": {"roots": []}})
        )  # the server's own request
        send(_line(_call(1, "cat ~/.aws/credentials")))
        question = recv()
        assert question["method"] == "elicitation/create"
        send(answer(question["id"]))
        while not any(m.get("id") == 1 for m in got):
            recv()
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    seen = [json.loads(x) for x in log.read_text().splitlines()]
    return got, seen


ANSWERS = {
    "duplicate key": lambda q: (
        (
            '{"jsonrpc":"2.0","id":ID,"result":{"action":"decline","action":"accept","content":{"approve":true}}}\n'
        )
        .replace("ID", json.dumps(q))
        .encode()
    ),
    "not json": lambda q: b'{"jsonrpc":"2.0","id":"%s","result":{"action":"accept"\n' % q.encode(),
    "wrong id": lambda q: _line(
        {"jsonrpc": "2.0", "id": q + "x", "result": {"action": "accept", "content": {"approve": True}}}
    ),
    "numeric id": lambda q: _line(
        {"jsonrpc": "2.0", "id": 99, "result": {"action": "accept", "content": {"approve": True}}}
    ),
    "approve is a string": lambda q: _line(
        {"jsonrpc": "2.0", "id": q, "result": {"action": "accept", "content": {"approve": "yes"}}}
    ),
    "NaN inside": lambda q: (
        ('{"jsonrpc":"2.0","id":ID,"result":{"action":"accept","content":{"approve":true,"n":NaN}}}\n')
        .replace("ID", json.dumps(q))
        .encode()
    ),
}


@pytest.mark.parametrize("name", list(ANSWERS))
def test_a_malformed_or_unmatched_answer_refuses_the_held_call(tmp_path: Path, name: str) -> None:
    got, seen = _ask(tmp_path, ANSWERS[name])
    held = [m for m in got if m.get("id") == 1]
    assert len(held) == 1 and held[0]["result"]["isError"] is True
    assert "refused" in held[0]["result"]["content"][0]["text"]
    assert not any(m.get("method") == "tools/call" for m in seen)  # the held call never ran
    # the client's answer to the server's own request is forwarded; no other client answer is
    assert [m["id"] for m in seen if "method" not in m] == ["srv-1"]


def test_an_accepted_answer_still_runs_the_held_call_once(tmp_path: Path) -> None:
    got, seen = _ask(
        tmp_path,
        lambda q: _line(
            {"jsonrpc": "2.0", "id": q, "result": {"action": "accept", "content": {"approve": True}}}
        ),
    )
    held = [m for m in got if m.get("id") == 1]
    assert len(held) == 1 and held[0]["result"]["isError"] is False
    assert [m["params"]["arguments"]["command"] for m in seen if m.get("method") == "tools/call"] == [
        "cat ~/.aws/credentials"
    ]


@pytest.mark.parametrize(
    ("line", "want"),
    [
        (b"[]", [(None, -32600)]),
        (b'{"jsonrpc":"2.0","id":3,"method":5}', [(3, -32600)]),
        (b'{"jsonrpc":"2.0","id":3,"method":null}', [(3, -32600)]),
        (b"NaN", [(None, -32700)]),
        (
            b'{"jsonrpc":"2.0","id":4,"method":"tools/list","params":' + b"[" * 101 + b"]" * 101 + b"}",
            [(None, -32700)],
        ),
    ],
    ids=["empty batch", "method number", "method null", "bare NaN", "101 levels"],
)
def test_other_invalid_messages_are_refused_not_forwarded(
    tmp_path: Path, line: bytes, want: list[Any]
) -> None:
    replies, seen, out = _converse(tmp_path, [line + b"\n"])
    assert out.returncode == 0, out.stderr
    assert [(r["id"], r["error"]["code"]) for r in replies] == want
    assert seen == []


def test_nesting_within_the_limit_is_forwarded_unchanged(tmp_path: Path) -> None:
    nested: Any = "leaf"
    for _ in range(90):
        nested = {"a": nested}
    msg = {"jsonrpc": "2.0", "id": 5, "method": "tools/list", "params": {"cursor": nested}}
    replies, seen, out = _converse(tmp_path, [_line(msg)])
    assert out.returncode == 0, out.stderr
    assert [r["id"] for r in replies] == [5] and seen == [msg]


def test_the_library_proxy_names_a_server_it_cannot_start(tmp_path: Path) -> None:
    import io

    from tokenomy.autonomy.gate import Gate
    from tokenomy.core.errors import ValidationError
    from tokenomy.interfaces.loaders.agent_data import load_schedule
    from tokenomy.interfaces.mcp_proxy import McpGateProxy

    proxy = McpGateProxy(Gate(load_schedule()), [str(tmp_path / "absent")])
    with pytest.raises(ValidationError, match=r"cannot start MCP server .*absent.*: not found"):
        proxy.serve(io.BytesIO(b""), io.BytesIO())

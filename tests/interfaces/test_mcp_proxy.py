"""The gating MCP proxy (``tokenomy agent gate-mcp``) between a client and a real stdio MCP server.

Two servers, each a real process started by the test: a minimal JSON-RPC one written here (always
runs; it logs every tools/call it receives, so the test can show refused calls never reached it) and
one built with the ``mcp`` package's ``MCPServer``, driven by the package's own stdio client (skips
without ``mcp``; fails under CI=true).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PROXY = [sys.executable, "-m", "tokenomy.interfaces.cli", "agent", "gate-mcp"]

RAW_SERVER = r"""
import json, sys
log = open(sys.argv[1], "a")
for line in sys.stdin:
    msg = json.loads(line)
    if "id" not in msg:
        continue
    if msg["method"] == "initialize":
        result = {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}}, "serverInfo": {"name": "raw", "version": "1"}}
    elif msg["method"] == "tools/list":
        result = {"tools": [{"name": "run_command", "inputSchema": {"type": "object"}}]}
    elif msg["method"] == "tools/call":
        log.write(json.dumps(msg["params"]) + "\n"); log.flush()
        result = {"content": [{"type": "text", "text": "ran " + json.dumps(msg["params"]["arguments"])}], "isError": False}
    else:
        result = {}
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}) + "\n"); sys.stdout.flush()
"""


def _call(i: int, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": name, "arguments": args}}


def _converse(tmp_path: Path, lines: list[bytes], *extra: str) -> tuple[list[dict[str, Any]], list[Any]]:
    server = tmp_path / "server.py"
    server.write_text(RAW_SERVER)
    log = tmp_path / "calls.log"
    out = subprocess.run(
        [*PROXY, *extra, "--", sys.executable, str(server), str(log)],
        input=b"".join(lines),
        capture_output=True,
        timeout=60,
        check=True,
    )
    replies = [json.loads(x) for x in out.stdout.splitlines() if x.strip()]
    seen = [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []
    return replies, seen


def _line(msg: Any) -> bytes:
    return json.dumps(msg).encode() + b"\n"


def test_allowed_calls_reach_the_server_and_refused_ones_never_do(tmp_path: Path) -> None:
    msgs = [
        {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        _call(2, "run_command", {"command": "ls -la"}),
        _call(3, "run_command", {"command": "rm -rf /"}),
        _call(4, "read_file", {"path": "~/.aws/credentials"}),
        _call(5, "write_file", {"path": "s.sh", "content": "rm -rf ~"}),
        _call(6, "run_command", {"command": "bash s.sh"}),
        {
            "jsonrpc": "2.0",
            "id": 7,
            "method": "resources/read",
            "params": {"uri": "file:///home/me/.ssh/id_rsa"},
        },
        {"jsonrpc": "2.0", "id": 8, "method": "resources/read", "params": {"uri": "file:///work/README.md"}},
    ]
    replies, seen = _converse(tmp_path, [_line(m) for m in msgs])
    by_id = {r["id"]: r for r in replies}
    assert by_id[0]["result"]["serverInfo"]["name"] == "raw"
    assert by_id[1]["result"]["tools"][0]["name"] == "run_command"
    assert by_id[2]["result"]["isError"] is False
    for rid in (3, 4, 6):
        assert by_id[rid]["result"]["isError"] is True
        assert by_id[rid]["result"]["content"][0]["text"].startswith("tokenomy gate refused")
    assert by_id[7]["error"]["code"] == -32001 and "secret_read" in by_id[7]["error"]["message"]
    assert by_id[8]["result"] == {}
    assert [s["arguments"] for s in seen] == [{"command": "ls -la"}, {"path": "s.sh", "content": "rm -rf ~"}]


def test_malformed_and_ambiguous_lines_are_answered_not_forwarded(tmp_path: Path) -> None:
    dup = b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"run_command",' + (
        b'"arguments":{"command":"ls"},"arguments":{"command":"rm -rf /"}}}\n'
    )
    odd_case = {**_call(9, "run_command", {"command": "rm -rf ~"}), "method": " Tools/Call"}
    lines = [b"not json\n", dup, _line([1, 2]), _line({"id": 8, "method": "tools/call"}), _line(odd_case)]
    replies, seen = _converse(tmp_path, lines)
    codes = sorted(r["error"]["code"] for r in replies if "error" in r)
    assert codes == [-32700, -32700, -32600, -32600, -32600]
    assert [r["result"]["isError"] for r in replies if "result" in r] == [True]
    assert seen == []


def test_a_batch_is_gated_element_by_element(tmp_path: Path) -> None:
    batch = [_call(1, "run_command", {"command": "pwd"}), _call(2, "run_command", {"command": "sudo su"})]
    replies, seen = _converse(tmp_path, [_line(batch)])
    flat = [r for x in replies for r in (x if isinstance(x, list) else [x])]
    assert {r["id"]: r["result"]["isError"] for r in flat} == {1: False, 2: True}
    assert [s["arguments"]["command"] for s in seen] == ["pwd"]


def test_sandboxed_flag_lets_code_run_and_json_keeps_stdout_clean(tmp_path: Path) -> None:
    msgs = [_call(1, "run_command", {"command": "python -m app"})]
    refused, _ = _converse(tmp_path, [_line(m) for m in msgs])
    summary = tmp_path / "summary.json"
    allowed, _ = _converse(tmp_path, [_line(m) for m in msgs], "--sandboxed", "--json", str(summary))
    assert refused[0]["result"]["isError"] is True and allowed[0]["result"]["isError"] is False
    assert len(allowed) == 1  # every stdout line is a protocol message
    assert json.loads(summary.read_text())["verdicts"] == {"allow": 1}


def test_gate_mcp_without_a_server_command_is_a_one_line_error() -> None:
    out = subprocess.run([*PROXY], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "after '--'" in out.stderr


MCP_SERVER = r"""
from mcp.server.mcpserver import MCPServer
server = MCPServer("files")

@server.tool()
def run_command(command: str) -> str:
    return "ran " + command

@server.tool()
def read_file(path: str) -> str:
    return "content of " + path

server.run()
"""


def _need_mcp() -> None:
    try:
        import mcp  # noqa: F401
    except ImportError:
        reason = "mcp not installed (pip install mcp==2.3.0)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " — CI=true requires it")
        pytest.skip(reason)


def test_the_real_mcp_client_and_server_work_through_the_proxy(tmp_path: Path) -> None:
    _need_mcp()
    import anyio
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    server = tmp_path / "mcp_server.py"
    server.write_text(MCP_SERVER)
    params = StdioServerParameters(
        command=PROXY[0], args=[*PROXY[1:], "--", sys.executable, str(server)], env=dict(os.environ)
    )

    async def talk() -> dict[str, Any]:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            ok = await session.call_tool("run_command", {"command": "echo hi"})
            bad = await session.call_tool("run_command", {"command": "rm -rf ~"})
            secret = await session.call_tool("read_file", {"path": "/home/me/.ssh/id_rsa"})
            fine = await session.call_tool("read_file", {"path": "README.md"})
            return {
                "tools": sorted(t.name for t in tools.tools),
                "ok": ok,
                "bad": bad,
                "secret": secret,
                "fine": fine,
            }

    got = anyio.run(talk)
    assert got["tools"] == ["read_file", "run_command"]
    assert not got["ok"].is_error and "ran echo hi" in got["ok"].content[0].text
    assert not got["fine"].is_error and "content of README.md" in got["fine"].content[0].text
    for key in ("bad", "secret"):
        assert got[key].is_error and got[key].content[0].text.startswith("tokenomy gate refused")


def test_an_ask_is_put_to_a_client_that_can_be_asked(tmp_path: Path) -> None:
    server = tmp_path / "server.py"
    server.write_text(RAW_SERVER)
    log = tmp_path / "calls.log"
    proc = subprocess.Popen(
        [*PROXY, "--", sys.executable, str(server), str(log)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdin is not None and proc.stdout is not None

    def send(msg: Any) -> None:
        proc.stdin.write(_line(msg))  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]

    def recv() -> dict[str, Any]:
        return json.loads(proc.stdout.readline())  # type: ignore[union-attr]

    try:
        send(
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {"capabilities": {"elicitation": {}}},
            }
        )
        assert recv()["id"] == 0
        send(_call(1, "run_command", {"command": "cat ~/.aws/credentials"}))
        question = recv()
        assert question["method"] == "elicitation/create" and "secret_read" in question["params"]["message"]
        send(
            {
                "jsonrpc": "2.0",
                "id": question["id"],
                "result": {"action": "accept", "content": {"approve": True}},
            }
        )
        ran = recv()
        assert ran["id"] == 1 and ran["result"]["isError"] is False
        send(_call(2, "run_command", {"command": "cat ~/.netrc"}))
        question = recv()
        send({"jsonrpc": "2.0", "id": question["id"], "result": {"action": "decline"}})
        refused = recv()
        assert refused["id"] == 2 and refused["result"]["isError"] is True
        send(_call(3, "run_command", {"command": "rm -rf /"}))  # denied: never asked
        assert recv()["result"]["isError"] is True
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    assert [json.loads(x)["arguments"]["command"] for x in log.read_text().splitlines()] == [
        "cat ~/.aws/credentials"
    ]


def test_the_real_mcp_client_answers_the_gates_question(tmp_path: Path) -> None:
    _need_mcp()
    import anyio
    from mcp import ClientSession, types
    from mcp.client.stdio import StdioServerParameters, stdio_client

    server = tmp_path / "mcp_server.py"
    server.write_text(MCP_SERVER)
    params = StdioServerParameters(
        command=PROXY[0], args=[*PROXY[1:], "--", sys.executable, str(server)], env=dict(os.environ)
    )
    asked: list[str] = []

    async def answer(context: Any, p: Any) -> Any:
        asked.append(p.message)
        return types.ElicitResult(action="accept", content={"approve": "netrc" not in p.message})

    async def talk() -> tuple[Any, Any]:
        async with (
            stdio_client(params) as (read, write),
            ClientSession(read, write, elicitation_callback=answer) as session,
        ):
            await session.initialize()
            yes = await session.call_tool("read_file", {"path": "/home/me/.aws/credentials"})
            no = await session.call_tool("read_file", {"path": "/home/me/.netrc"})
            return yes, no

    yes, no = anyio.run(talk)
    assert len(asked) == 2 and "secret_read" in asked[0]
    assert not yes.is_error and "content of /home/me/.aws/credentials" in yes.content[0].text
    assert no.is_error and no.content[0].text.startswith("tokenomy gate refused")

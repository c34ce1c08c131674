"""A gating MCP proxy: a stdio MCP server that forwards to a real MCP server and gates every tool call.

``tokenomy agent gate-mcp -- <server command …>`` starts the real server as a child process and sits
between it and any MCP client (Claude Code, Codex, Cursor, an OpenAI Agents SDK ``MCPServerStdio``):
the client's messages are read one JSON-RPC message per line (the MCP stdio transport), every
``tools/call`` (and ``resources/read``) is judged by :meth:`tokenomy.autonomy.gate.Gate.check` in one
gate session (so the session state follows the whole conversation), and only an ``allow`` is forwarded.
A refused call never reaches the server: the client gets a tool result with ``isError: true`` whose text
is the verdict and its reason (MCP's convention for tool errors, so the model can read it), or a
JSON-RPC error for a resource. Everything else (initialize, lists, notifications, the server's own
requests and all its replies) passes through unchanged.

Fail closed, by construction: a line that is not JSON (RFC 8259: no NaN/Infinity, no number outside the
float range), holds a duplicate key, nests deeper than 100 levels, or is not a JSON-RPC 2.0 object (an
id that is not a string, number or null; a method that is not a string) is answered with a JSON-RPC
error and not forwarded (no parser differential between the gate and the server); forwarded messages are re-serialised from what the gate judged; a ``tools/call`` sent as a
notification is gated too, and dropped when refused; a JSON-RPC batch is judged element by element
and its admitted elements are forwarded as single messages. ``ask`` verdicts go to the user when the client
can be asked: a client that declared the ``elicitation`` capability gets an ``elicitation/create``
request (the call, its class and why it needs a yes); the call is held until the answer and runs once
on an accepted ``approve: true`` (a once-approval, recorded by the gate), and is refused on anything
else, on a malformed answer, and on a client answer to no open request (never forwarded: the only
client answers that reach the server are those to the server's own requests). Without that capability, ``ask`` is refused unless an ``approver`` callback (library use) says
yes. Calls that need several approvers are refused (one user is one approver). A server that cannot
be started is a :class:`ValidationError`; when the server exits, every request it had not answered is
answered with a JSON-RPC error and the proxy stops (:class:`ProxyStats` says how). This is the only
module that talks to the child process; the judging is the action layer's.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from tokenomy.autonomy.gate import Gate
from tokenomy.autonomy.verdict import Call, GateContext, GateRefusedError, Verdict
from tokenomy.core.errors import TokenomyError, ValidationError
from tokenomy.interfaces.mcp_wire import dump_line, id_key, parse_line, too_deep, valid_id

__all__ = ["McpGateProxy", "McpServerError", "ProxyStats"]

_GATED = ("tools/call", "resources/read")
_MAX_HELD = 256  # calls waiting for the user's answer
_MAX_SERVER_ASKS = 4096  # the server's requests to the client not yet answered
PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS, REFUSED, SERVER_GONE = -32700, -32600, -32602, -32001, -32000


class McpServerError(TokenomyError):
    """The MCP server behind the proxy exited before the client closed, or with a non-zero code."""


@dataclass(slots=True)
class ProxyStats:
    """What the proxy did (returned by :meth:`McpGateProxy.serve`).

    Attributes:
        forwarded: client messages passed to the server.
        allowed / refused: gated calls forwarded / answered by the proxy.
        malformed: lines refused because they were not a JSON-RPC object.
        verdicts: decision -> count.
        server_exit_code: the server's exit status (negative: the signal that stopped it).
        server_exited_early: the server's output closed while the client was still connected.
        server_stopped: the server ignored its closed input for 10 s and was terminated.
        unanswered: requests the server never answered, answered by the proxy with an error.
    """

    forwarded: int = 0
    allowed: int = 0
    refused: int = 0
    malformed: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)  # decision -> count
    server_exit_code: int | None = None
    server_exited_early: bool = False
    server_stopped: bool = False
    unanswered: int = 0


class McpGateProxy:
    """Forward MCP stdio traffic to a server process, gating tool calls.

    Args:
        gate: the gate that judges each call (its ledger, if any, gets every verdict).
        server_command: the real MCP server's command line.
        session_id: the gate session of this connection.
        sandboxed: overrides the schedule's ``sandboxed`` (None: the schedule's).
        approver: asked on ``ask``; returns the ids of those who said yes (empty: refused).
        cwd / env: for the server process.

    Raises:
        ValidationError: an empty server command.
    """

    def __init__(
        self,
        gate: Gate,
        server_command: Sequence[str],
        *,
        session_id: str = "mcp",
        sandboxed: bool | None = None,
        approver: Callable[[Verdict], Iterable[str]] | None = None,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if not server_command:
            raise ValidationError("gate-mcp needs the MCP server's command after '--'")
        self.gate = gate
        self.server_command = list(server_command)
        self.context = GateContext(session_id=session_id, sandboxed=sandboxed)
        self.approver = approver
        self.cwd = cwd
        self.env = dict(env) if env is not None else None
        self.stats = ProxyStats()
        self._can_elicit = False
        self._held: dict[str, tuple[dict[str, Any], Verdict]] = {}  # elicitation id -> held call
        self._out_lock = threading.Lock()
        self._client_out: IO[bytes] | None = None
        self._lock = threading.Lock()  # the two tables below and the flags; the pump thread shares them
        self._pending: dict[str, Any] = {}  # key of a client request sent on -> its id
        self._server_asks: dict[str, None] = {}  # keys of the server's requests the client may answer
        self._gone = False  # the server's output has closed
        self._client_closed = False

    # -- the loop ------------------------------------------------------------------------------------
    def serve(self, client_in: IO[bytes], client_out: IO[bytes]) -> ProxyStats:
        """Run until the client closes its input or the server exits; then close the server's input and
        wait for it. Every request the server leaves unanswered gets a JSON-RPC error.

        Raises:
            ValidationError: the server command cannot be started (not found, not executable).
        """
        self._client_out = client_out
        try:
            server = subprocess.Popen(
                self.server_command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                cwd=self.cwd,
                env=self.env,
            )
        except OSError as exc:
            why = "not found" if isinstance(exc, FileNotFoundError) else exc.strerror or type(exc).__name__
            raise ValidationError(f"cannot start MCP server {self.server_command[0]!r}: {why}") from None
        assert server.stdin is not None and server.stdout is not None
        pump = threading.Thread(target=self._pump, args=(server,), daemon=True)
        pump.start()
        try:
            for line in client_in:
                msgs = self._handle(line)
                if msgs and not self._forward(server.stdin, msgs):
                    self._refuse_held(b"")  # no server to run them on
                    break
        finally:
            with self._lock:
                self._client_closed = True
            with contextlib.suppress(BrokenPipeError):
                server.stdin.close()
            try:
                self.stats.server_exit_code = server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.stats.server_stopped = True
                server.terminate()
                try:
                    self.stats.server_exit_code = server.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    server.kill()
                    self.stats.server_exit_code = server.wait()
            pump.join(timeout=30)
            self.gate.flush()
        return self.stats

    def _forward(self, server_in: IO[bytes], msgs: list[dict[str, Any]]) -> bool:
        """Send msgs to the server (False: it is gone; their requests were answered with an error)."""
        ids = [m["id"] for m in msgs if "method" in m and "id" in m and m["id"] is not None]
        with self._lock:
            gone = self._gone
            if not gone:
                self._pending.update((id_key(rid), rid) for rid in ids)
        if gone:
            self._answer_unanswered(ids)
            return False
        try:
            server_in.write(b"".join(dump_line(m) for m in msgs))
            server_in.flush()
        except (BrokenPipeError, ValueError):
            with self._lock:
                mine = [self._pending.pop(id_key(rid)) for rid in ids if id_key(rid) in self._pending]
            self._answer_unanswered(mine)
            return False
        return True

    def _pump(self, server: subprocess.Popen[bytes]) -> None:
        assert server.stdout is not None
        for line in server.stdout:
            self._note_server(line)
            with contextlib.suppress(BrokenPipeError, ValueError):  # the client stopped reading
                self._send_raw(line if line.endswith(b"\n") else line + b"\n")
        with self._lock:
            self._gone = True
            self.stats.server_exited_early = not self._client_closed
            left = list(self._pending.values())
            self._pending.clear()
        if left:
            with contextlib.suppress(BrokenPipeError, ValueError):
                self._answer_unanswered(left, server)

    def _note_server(self, line: bytes) -> None:
        """Track the server's answers (a request answered) and requests (an answer the client may send)."""
        try:
            msg = parse_line(line)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return  # passed on as it is; the client judges it
        with self._lock:
            for m in msg if isinstance(msg, list) else [msg]:
                if not isinstance(m, dict) or not valid_id(m.get("id")):
                    continue
                if "method" in m and m.get("id") is not None:
                    self._server_asks[id_key(m["id"])] = None
                    while len(self._server_asks) > _MAX_SERVER_ASKS:
                        del self._server_asks[next(iter(self._server_asks))]
                elif "method" not in m:
                    self._pending.pop(id_key(m.get("id")), None)

    def _answer_unanswered(self, ids: list[Any], server: subprocess.Popen[bytes] | None = None) -> None:
        code: int | None = None
        if server is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = server.wait(timeout=5)
        how = f"exited (code {code})" if code is not None else "closed its output"
        for rid in ids:
            self.stats.unanswered += 1
            self._error(rid, SERVER_GONE, f"tokenomy gate: the MCP server {how} before answering; not run")

    def _send_raw(self, data: bytes) -> None:
        assert self._client_out is not None
        with self._out_lock:
            self._client_out.write(data)
            self._client_out.flush()

    def _send(self, msg: Mapping[str, Any]) -> None:
        self._send_raw(dump_line(msg))

    # -- one client line -----------------------------------------------------------------------------
    def handle(self, line: bytes) -> bytes | None:
        """Judge one client line; return the bytes to forward to the server (None: answered here)."""
        msgs = self._handle(line)
        return b"".join(dump_line(m) for m in msgs) if msgs else None

    def _handle(self, line: bytes) -> list[dict[str, Any]]:
        if not line.strip():
            return []
        try:
            msg = parse_line(line)
            why = "nested too deeply" if too_deep(msg) else ""
        except (ValueError, UnicodeDecodeError) as exc:
            why = str(exc)[:200]
        except RecursionError:
            why = "nested too deeply"
        if why:
            self.stats.malformed += 1
            self._error(None, PARSE_ERROR, f"tokenomy gate: not a JSON-RPC message ({why}); not forwarded")
            self._refuse_held(line)
            return []
        if msg == []:
            self.stats.malformed += 1
            self._error(None, INVALID_REQUEST, "tokenomy gate: an empty batch; not forwarded")
            return []
        batch = msg if isinstance(msg, list) else [msg]
        forward = [m for m in batch if self._admit(m)]
        forward = [r for m in forward for r in self._answer(m)]
        self.stats.forwarded += len(forward)
        # a batch goes on as single messages: MCP (2025-06-18) servers need not accept batches
        return forward

    def _refuse_held(self, line: bytes) -> None:
        """Fail closed: a line that may have been the answer to a gate question refuses the held call
        (the ones it names, or every held call when it names none)."""
        named = [q for q in self._held if q.encode() in line]
        for qid in named or list(self._held):
            call_msg, verdict = self._held.pop(qid)
            self._refuse(call_msg, str(call_msg.get("method", "")).strip().lower(), verdict)

    def _admit(self, msg: Any) -> bool:
        if not isinstance(msg, dict) or msg.get("jsonrpc") != "2.0":
            self.stats.malformed += 1
            rid = msg.get("id") if isinstance(msg, dict) and valid_id(msg.get("id")) else None
            self._error(rid, INVALID_REQUEST, "tokenomy gate: not a JSON-RPC 2.0 object; not forwarded")
            return False
        method = msg.get("method")
        bad = "" if valid_id(msg.get("id")) else "its id must be a string, a number or null"
        if not bad and "method" in msg and not isinstance(method, str):
            bad = "its method must be a string"
        if bad:
            self.stats.malformed += 1
            ok_id = msg.get("id") if valid_id(msg.get("id")) else None
            self._error(
                ok_id, INVALID_REQUEST, f"tokenomy gate: not a JSON-RPC 2.0 message ({bad}); not forwarded"
            )
            return False
        if "method" not in msg and not (isinstance(msg.get("id"), str) and msg["id"] in self._held):
            with self._lock:
                asked = self._server_asks.pop(id_key(msg.get("id")), 0) is None
            if asked:
                return True  # the client's answer to the server's own request
            self.stats.malformed += 1
            self._error(None, INVALID_REQUEST, "tokenomy gate: an answer to no open request; not forwarded")
            self._refuse_held(b"")  # it may have been meant for a gate question: fail closed
            return False
        if method == "initialize" and isinstance(msg.get("params"), dict):
            caps = msg["params"].get("capabilities")
            self._can_elicit = isinstance(caps, dict) and isinstance(caps.get("elicitation"), dict)
        if method is None and isinstance(msg.get("id"), str) and msg["id"] in self._held:
            return True  # the user's answer to the gate's question: resolved by _answer
        if isinstance(method, str) and method.strip().lower() in _GATED:
            method = method.strip().lower()  # a server that folds case must not see an ungated call
        else:
            return True
        rid = msg.get("id")
        call = _call_of(method, msg.get("params"))
        if call is None:
            self.stats.refused += 1
            if rid is not None:
                self._error(rid, INVALID_PARAMS, f"tokenomy gate: {method} needs params with a name/uri")
            return False
        verdict = self._judge(call)
        self.stats.verdicts[verdict.decision] = self.stats.verdicts.get(verdict.decision, 0) + 1
        if verdict.decision == "allow":
            self.stats.allowed += 1
            return True
        if (
            verdict.decision == "ask"
            and self._can_elicit
            and rid is not None
            and verdict.approvers_needed == 1
        ):
            self._ask_user(msg, verdict)
            return False
        self._refuse(msg, method, verdict)
        return False

    def _refuse(self, msg: dict[str, Any], method: str, verdict: Verdict) -> None:
        rid = msg.get("id")
        self.stats.refused += 1
        text = f"tokenomy gate refused this call ({verdict.decision}): {verdict.reason}"
        if rid is not None and method == "tools/call":
            self._send(
                {
                    "jsonrpc": "2.0",
                    "id": rid,
                    "result": {"content": [{"type": "text", "text": text}], "isError": True},
                }
            )
        elif rid is not None:
            self._error(rid, REFUSED, text)

    def _ask_user(self, msg: dict[str, Any], verdict: Verdict) -> None:
        qid = f"tokenomy-gate-{len(self._held) + self.stats.allowed + self.stats.refused}-{id(msg):x}"
        self._held[qid] = (msg, verdict)
        while len(self._held) > _MAX_HELD:  # unanswered questions: the oldest call is refused
            old_msg, old_verdict = self._held.pop(next(iter(self._held)))
            self._refuse(old_msg, str(old_msg.get("method", "")).strip().lower(), old_verdict)
        question = (
            f"An agent wants to run {verdict.call.text[:300]!r} ({verdict.action_class}). "
            f"The gate needs your yes: {verdict.reason[:300]}"
        )
        schema = {
            "type": "object",
            "properties": {"approve": {"type": "boolean", "title": "Run this call once?"}},
            "required": ["approve"],
        }
        self._send(
            {
                "jsonrpc": "2.0",
                "id": qid,
                "method": "elicitation/create",
                "params": {"message": question, "requestedSchema": schema},
            }
        )

    def _answer(self, msg: dict[str, Any]) -> list[dict[str, Any]]:
        """A client's reply to a gate question: the held call to forward (or nothing); others pass."""
        rid = msg.get("id")
        held = self._held.pop(rid, None) if msg.get("method") is None and isinstance(rid, str) else None
        if held is None:
            return [msg]
        call_msg, verdict = held
        result = msg.get("result")
        content = result.get("content") if isinstance(result, dict) else None
        yes = (
            isinstance(result, dict)
            and result.get("action") == "accept"
            and isinstance(content, dict)
            and content.get("approve") is True
        )
        if yes:
            verdict = self.gate.approve_all(verdict, ["mcp-user"], self.context)
        if verdict.decision == "allow":
            self.stats.allowed += 1
            return [call_msg]
        self._refuse(call_msg, str(call_msg.get("method", "")).strip().lower(), verdict)
        return []

    def _judge(self, call: Call) -> Verdict:
        try:
            return self.gate.require(call, self.context, approver=self.approver)
        except GateRefusedError as exc:
            return exc.verdict

    def _error(self, rid: Any, code: int, message: str) -> None:
        self._send({"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}})


def _call_of(method: str, params: Any) -> Call | None:
    """The gate's view of a gated request (None: malformed params)."""
    if not isinstance(params, dict):
        return None
    if method == "resources/read":
        uri = params.get("uri")
        if not isinstance(uri, str):
            return None
        path = uri.removeprefix("file://") if uri.startswith("file://") else uri
        return Call("read_file", {"path": path, "uri": uri})
    name, args = params.get("name"), params.get("arguments", {})
    if not isinstance(name, str) or not name or not isinstance(args, dict):
        return None
    return Call(name, args)

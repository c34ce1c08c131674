"""The gateway in front of two real local models, end to end: ``LiveGateway`` and ``run_selftest``.

``LiveGateway`` starts both llama.cpp servers (``local_models``), writes a gateway config for them
(the ASSUMED per-token prices of ``local_models``, one request at a time per upstream, a DuckDB
ledger in a work folder, the chosen routing policy) and serves the gateway in this process (uvicorn
in a background thread), until the context exits: the gateway drains and flushes its ledger, then
the servers stop. ``run_selftest`` sends a graded workload (``workload``) through it at a few V
levels, grades each answer and posts it to ``/v1/feedback``, then counts the ledger rows: one
decision per request, one serve-time outcome per served request plus one per feedback (and one per
failed upstream attempt). The counts are the test; nothing is timed.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from tokenomy.core.errors import TokenomyError
from tokenomy.interfaces.gateway.local_models import (
    GEMMA3,
    SMOLLM2,
    ChatReply,
    LlamaServer,
    LocalModel,
    chat_once,
)
from tokenomy.interfaces.gateway.workload import Question, generate, grade, messages
from tokenomy.ledger.records import Decision, Outcome

__all__ = ["LiveGateway", "SelftestResult", "post_json", "run_selftest"]

ROUTED_MODEL = "tokenomy-auto"


def _config_text(
    servers: Sequence[tuple[LocalModel, LlamaServer]],
    ledger: Path,
    port: int,
    policy: str,
    epsilon: float,
    seed: int,
) -> str:
    ups = "".join(
        f"""
[[upstreams]]
name = "{m.name}"
base_url = "http://127.0.0.1:{s.port}"
model = "{m.name}"
input_usd_per_mtok = {m.input_usd_per_mtok}
output_usd_per_mtok = {m.output_usd_per_mtok}
max_concurrency = 1
max_queue = 64
timeout_s = 120.0
sla_s = 5.0
quality_prior = 0.5
"""
        for m, s in servers
    )
    return f"""[gateway]
host = "127.0.0.1"
port = {port}
ledger = "{ledger}"
flush_ms = 100
flush_rows = 500
expected_output_tokens = 8
max_output_tokens = 16
{ups}
[defaults]
v_usd = 1e-4
lam_usd_per_s = 1e-5
rho_usd = 0.0

[routing]
policy = "{policy}"
epsilon = {epsilon}
seed = {seed}
"""


def post_json(url: str, payload: dict[str, Any], timeout_s: float = 30.0) -> tuple[int, dict[str, Any]]:
    """POST a JSON body; the status and the decoded JSON reply (``{}`` when not JSON)."""
    req = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        body = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        body = {}
    return status, body if isinstance(body, dict) else {}


class LiveGateway:
    """Both local models behind the tokenomy gateway, in this process, as a context manager.

    Args:
        workdir: a folder for the config and the ledger (``gateway-ledger.duckdb``).
        policy: the ``[routing] policy`` setting (``learned``, ``prior``, ``fixed:<name>``).
        epsilon: exploration probability.
        seed: the policy's seed.
        models: the local models, cheap first.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        policy: str = "learned",
        epsilon: float = 0.1,
        seed: int = 0,
        models: Sequence[LocalModel] = (SMOLLM2, GEMMA3),
    ) -> None:
        self.workdir = Path(workdir)
        self.policy = policy
        self.epsilon = epsilon
        self.seed = seed
        self.models = tuple(models)
        self.ledger_path = self.workdir / "gateway-ledger.duckdb"
        self._servers: list[LlamaServer] = []
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.app: Any = None
        self.port = 0

    @property
    def base_url(self) -> str:
        """The gateway's OpenAI base URL."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> LiveGateway:
        """Start the model servers and the gateway; wait until ``/healthz`` answers.

        Raises:
            LocalModelError: a model package is missing or a server did not start.
            TokenomyError: the gateway did not start.
        """
        import uvicorn  # the gateway extra

        from tokenomy.interfaces.gateway.server import build_gateway

        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            for m in self.models:
                self._servers.append(LlamaServer(m).start())
            # bind the gateway's socket here and hand it to uvicorn: no other process can take the port
            # between choosing it and serving on it (a probe of a port someone else holds would lie)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
            cfg = self.workdir / "gateway.toml"
            pairs = list(zip(self.models, self._servers, strict=True))
            cfg.write_text(
                _config_text(pairs, self.ledger_path, self.port, self.policy, self.epsilon, self.seed)
            )
            built = build_gateway(cfg)
            self.app = built.app
            config = uvicorn.Config(built.app, lifespan="on", log_level="warning", access_log=False)
            self._server = uvicorn.Server(config)
            self._thread = threading.Thread(
                target=self._server.run, kwargs={"sockets": [sock]}, name="tokenomy-gateway", daemon=True
            )
            self._thread.start()
            deadline = time.monotonic() + 30.0
            while time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2.0):
                        return self
                except (urllib.error.URLError, OSError):
                    time.sleep(0.1)
            raise TokenomyError(f"the gateway on port {self.port} did not answer /healthz in 30 s")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the gateway (it drains and flushes its ledger), then the model servers."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=60.0)
        self._server, self._thread = None, None
        for s in self._servers:
            s.stop()
        self._servers = []

    def ask(self, question: Question, *, v_usd: float, max_tokens: int = 12) -> ChatReply:
        """Send one question to the routed model at price ``v_usd``."""
        return chat_once(
            self.base_url,
            ROUTED_MODEL,
            messages(question),
            max_tokens=max_tokens,
            headers={"X-Tokenomy-V": repr(v_usd)},
        )

    def feedback(self, request_id: str, quality: float) -> int:
        """Post a graded outcome; the HTTP status."""
        return post_json(f"{self.base_url}/feedback", {"request_id": request_id, "quality": quality})[0]

    def __enter__(self) -> LiveGateway:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclass(frozen=True, slots=True)
class SelftestResult:
    """What the selftest saw.

    Attributes:
        requests: requests sent.
        ledger_decisions: decision rows in the gateway's ledger after shutdown.
        ledger_outcomes: outcome rows in it.
        expected_outcomes: one serve-time row per request (refused ones too) + accepted feedback +
            failed upstream attempts.
        by_model: model -> requests it served.
        accuracy: model -> mean grade of the requests it served.
        errors: requests answered with neither 200 nor 429, plus feedback posts not accepted.
        refused: requests refused (429) by the admission rule at their V.
        first_error: the status and body of the first failed request ("" when none failed).
        offpolicy: for each fixed model and for the logger without exploration, the doubly robust
            estimate of its mean welfare per request (USD) from this run's ledger, with its 95% CI and
            effective sample size (``learned.offpolicy_welfare``).
        wall_s: the whole run, servers included.
    """

    requests: int
    ledger_decisions: int
    ledger_outcomes: int
    expected_outcomes: int
    by_model: dict[str, int] = field(default_factory=dict)  # model -> requests served
    accuracy: dict[str, float] = field(default_factory=dict)  # model -> mean grade
    errors: int = 0
    refused: int = 0
    first_error: str = ""
    offpolicy: dict[str, list[float]] = field(
        default_factory=dict
    )  # policy -> [DR value, CI low, CI high, ESS]
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        """Every request has its decision row and every outcome row is there, with no errors."""
        return (
            self.errors == 0
            and self.ledger_decisions == self.requests
            and self.ledger_outcomes == self.expected_outcomes
        )

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: requests, ledger_decisions, ledger_outcomes, by_model, errors, and more."""
        return {
            "requests": self.requests,
            "ledger_decisions": self.ledger_decisions,
            "ledger_outcomes": self.ledger_outcomes,
            "expected_outcomes": self.expected_outcomes,
            "by_model": self.by_model,
            "accuracy": self.accuracy,
            "errors": self.errors,
            "refused": self.refused,
            "first_error": self.first_error,
            "offpolicy_welfare_usd": self.offpolicy,
            "ok": self.ok,
            "wall_s": self.wall_s,
        }


def run_selftest(
    workdir: Path,
    *,
    n_requests: int = 24,
    v_levels_usd: Sequence[float] = (1e-4, 3e-4, 1e-3),
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> SelftestResult:
    """Serve ``n_requests`` graded questions through the gateway (V cycling over ``v_levels_usd``).

    Raises:
        LocalModelError: the models cannot be served (packages missing, a server did not start).
    """
    from tokenomy.ledger import Ledger

    t0 = time.perf_counter()
    questions = generate(n_requests, seed=seed)
    served: Counter[str] = Counter()
    right: Counter[str] = Counter()
    errors = feedbacks = refused = 0
    first_error = ""
    with LiveGateway(workdir, seed=seed) as gw:
        for i, q in enumerate(questions):
            reply = gw.ask(q, v_usd=v_levels_usd[i % len(v_levels_usd)])
            rid, model = (
                reply.headers.get("x-tokenomy-request-id", ""),
                reply.headers.get("x-tokenomy-model", ""),
            )
            if reply.status == 429:  # refused by Eq. 1 admission: an answer, not an error
                refused += 1
                continue
            if reply.status != 200 or not rid or not model:
                errors += 1
                first_error = first_error or f"HTTP {reply.status}: {json.dumps(dict(reply.body))[:300]}"
                continue
            quality = grade(q, reply.text)
            served[model] += 1
            right[model] += int(quality)
            if gw.feedback(rid, quality) == 200:
                feedbacks += 1
            else:
                errors += 1
            if progress is not None:
                progress(1)
    ledger = Ledger(gw.ledger_path)
    try:
        n_dec, n_out = ledger.count("decisions"), ledger.count("outcomes")
        decisions, outcomes = list(ledger.decisions()), list(ledger.outcomes())
    finally:
        ledger.close()
    attempts = sum(1 for o in outcomes if "error" in o.metadata)  # failed upstream calls
    ope = _offpolicy(decisions, outcomes)
    return SelftestResult(
        requests=len(questions),
        ledger_decisions=n_dec,
        ledger_outcomes=n_out,
        expected_outcomes=len(questions) + feedbacks + attempts,
        refused=refused,
        first_error=first_error,
        offpolicy=ope,
        by_model=dict(sorted(served.items())),
        accuracy={m: right[m] / served[m] for m in sorted(served)},
        errors=errors,
        wall_s=time.perf_counter() - t0,
    )


def _offpolicy(decisions: Sequence[Decision], outcomes: Sequence[Outcome]) -> dict[str, list[float]]:
    """DR estimates of other policies' welfare from the ledger ({} when no graded request was served)."""
    from tokenomy.interfaces.gateway.learned import (
        fixed_target,
        greedy_target,
        offpolicy_welfare,
        steps_from_ledger,
    )

    steps = steps_from_ledger(decisions, outcomes)
    if not steps:
        return {}
    targets = {f"fixed:{n}": fixed_target(n) for n in steps[0].names}
    targets["greedy"] = greedy_target()
    out = {}
    for name, target in targets.items():
        e = offpolicy_welfare(steps, target, estimators=("dr",))["dr"]
        out[name] = [e.value, e.ci_low, e.ci_high, e.ess]
    return out

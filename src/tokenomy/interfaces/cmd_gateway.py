"""``tokenomy gateway serve --config F``: the OpenAI-compatible gateway (the ``gateway`` extra).

The group ``gateway`` has one sub-command per function registered in ``register`` (``serve`` here;
further ones add a parser to ``gsub`` the same way).
"""

from __future__ import annotations

import argparse
from typing import Any

from tokenomy.interfaces.args import int_in

__all__ = ["register"]

_TEXT = """\
Run tokenomy in front of your LLM traffic: an OpenAI-compatible server that prices each request
(V, λ, ρ from X-Tokenomy-* headers, metadata, the API key or the config defaults), routes it to the
upstream with the best surplus V·q̂ − cost − λ·latency, admits or refuses it by that surplus under
congestion, enforces per-key budgets and writes every decision and outcome to a ledger.

Examples:
  tokenomy gateway serve --config examples/gateway.toml
  curl -s localhost:8080/v1/chat/completions -H 'X-Tokenomy-V: 0.5' \\
       -d '{"model": "tokenomy-auto", "messages": [{"role": "user", "content": "hi"}]}'
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "gateway",
        help="serve the OpenAI-compatible pricing gateway",
        description=_TEXT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    gsub = p.add_subparsers(dest="gateway_command", metavar="ACTION", required=True)
    s = gsub.add_parser("serve", help="serve the gateway until SIGTERM / Ctrl-C")
    s.add_argument("--config", required=True, metavar="FILE", help="the gateway's TOML config")
    s.add_argument("--host", default=None, help="override [gateway] host")
    s.add_argument("--port", type=int, default=None, help="override [gateway] port")
    s.set_defaults(func=serve)
    register_more(gsub)


def register_more(gsub: Any) -> None:
    """Add further ``gateway`` actions (one parser each) here."""
    t = gsub.add_parser(
        "selftest",
        help="start two real local models (llama.cpp) and the gateway, send a graded workload, check the ledger",
    )
    t.add_argument(
        "--requests",
        type=int_in(1, 1000),
        default=24,
        metavar="N",
        help="graded requests to send (1-1000, default 24)",
    )
    t.set_defaults(func=selftest)


def selftest(args: argparse.Namespace) -> dict[str, Any]:
    """Run the live selftest; a result whose ledger rows do not match the requests is an error (exit 2)."""
    import tempfile
    from pathlib import Path

    from tqdm import tqdm

    from tokenomy.core.errors import TokenomyError, ValidationError
    from tokenomy.interfaces.gateway.local_models import EXTRA_HINT, missing_packages
    from tokenomy.interfaces.gateway.selftest import run_selftest
    from tokenomy.interfaces.outputs import write_json

    if args.requests < 1:
        raise ValidationError(f"--requests must be ≥ 1; got {args.requests}")
    if missing := missing_packages():
        raise TokenomyError(
            f"the selftest needs the real models (missing {', '.join(missing)}); {EXTRA_HINT}"
        )
    with (
        tempfile.TemporaryDirectory(prefix="tokenomy-selftest-") as tmp,
        tqdm(total=args.requests, desc="selftest", unit="req") as bar,
    ):
        res = run_selftest(Path(tmp), n_requests=args.requests, progress=bar.update)
    out = res.as_dict()
    print(
        f"selftest: {res.requests} requests, served {res.by_model}, refused {res.refused}, errors {res.errors}; "
        f"ledger {res.ledger_decisions} decisions / {res.ledger_outcomes} outcomes "
        f"(expected {res.requests} / {res.expected_outcomes}) → {'ok' if res.ok else 'FAILED'}"
    )
    if getattr(args, "json", None):
        write_json(args.json, out)
        args.json_written = True
        print(f"wrote {args.json}")
    if not res.ok:
        raise TokenomyError(
            "gateway selftest failed: ledger rows do not match the requests, or requests failed"
        )
    return out


def serve(args: argparse.Namespace) -> dict[str, Any]:
    from tokenomy.interfaces.gateway.server import build_gateway
    from tokenomy.interfaces.gateway.server import serve as run

    built = build_gateway(args.config)
    cfg = built.app.config
    host, port = args.host or cfg.server.host, cfg.server.port if args.port is None else args.port
    print(
        f"tokenomy gateway on http://{host}:{port}/v1 — upstreams: {', '.join(u.name for u in cfg.upstreams)}"
    )
    for note in built.notes:
        print(f"  {note}")
    run(built, host=host, port=port)
    app = built.app
    return {
        "requests": app.counts["requests"],
        **{k: v for k, v in app.sink.stats().items() if k != "last_error"},
    }

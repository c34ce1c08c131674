"""Build a ``Gateway`` from a config file and serve it with uvicorn (httptools and uvloop when installed).

``build_gateway`` opens the ledger the config names (a DuckDB path, ``:memory:``, ``none``, or a
``postgresql://`` URL for several gateway processes),
the budget store, and attaches the optional parts that are installed: the tool-call gate on
responses, OpenTelemetry spans and Prometheus ``/metrics`` (each skipped, with a note, when its module
or package is missing). ``serve`` runs uvicorn; on SIGTERM or Ctrl-C uvicorn stops accepting, waits for
open requests, then the app's lifespan shutdown drains in-flight calls and flushes the ledger.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokenomy.core.errors import SchemaError, ValidationError
from tokenomy.interfaces.gateway.app import Gateway
from tokenomy.interfaces.gateway.budget import make_budget_store
from tokenomy.interfaces.gateway.config import GatewayConfig, load_config
from tokenomy.interfaces.gateway.records import LedgerLike, RecordSink
from tokenomy.ledger import Ledger

__all__ = ["CONFIG_ENV", "Built", "app_from_env", "build_gateway", "serve"]

CONFIG_ENV = "TOKENOMY_GATEWAY_CONFIG"
"""The config path each worker process reads when ``[gateway] workers`` > 1."""


@dataclass(slots=True)
class Built:
    """The app and what was attached to it."""

    app: Gateway
    notes: list[str] = field(default_factory=list)


def _need(module: str, extra: str = "gateway") -> None:
    if importlib.util.find_spec(module) is None:
        raise ValidationError(f"the gateway server needs {module!r}: pip install 'tokenomy[{extra}]'")


def build_gateway(config: GatewayConfig | str | Path) -> Built:
    """The app for ``config`` (a parsed config or a TOML path), its ledger open, its parts attached.

    Raises:
        SchemaError: the config file is bad.
        ValidationError: an unknown budget store or policy.
        LedgerError: the ledger file cannot be opened.
    """
    cfg = config if isinstance(config, GatewayConfig) else load_config(config)
    s = cfg.server
    ledger: LedgerLike | None
    if s.ledger.lower() == "none":
        ledger = None
    elif s.ledger.startswith(("postgresql://", "postgres://")):  # shared by several gateway processes
        from tokenomy.interfaces.gateway.pgstore import PgLedger

        ledger = PgLedger(s.ledger)
    else:
        ledger = Ledger(s.ledger)
    sink = RecordSink(ledger, flush_ms=s.flush_ms, flush_rows=s.flush_rows)
    if s.budget_store == "postgres":
        from tokenomy.interfaces.gateway.pgstore import register

        register()  # the PostgreSQL budget store, by name
    from tokenomy.interfaces.gateway.extensions import attach_extensions

    try:  # the parts read their own tables: a bad value there is named with the config file
        app = Gateway(cfg, sink=sink, budget=make_budget_store(s.budget_store, s.budget_dsn))
        notes = [f"ledger: {s.ledger} (flush every {s.flush_ms:g} ms or {s.flush_rows} rows)"]
        notes += attach_extensions(app)
    except (SchemaError, ValidationError) as exc:
        sink.close()
        where = f"{cfg.source}: "
        if str(exc).startswith(where):
            raise
        raise type(exc)(where + str(exc)) from None
    return Built(app, notes)


def app_from_env() -> Gateway:
    """The app of one worker process (uvicorn factory): the config named by ``TOKENOMY_GATEWAY_CONFIG``."""
    return build_gateway(os.environ[CONFIG_ENV]).app


def serve(built: Built, *, host: str | None = None, port: int | None = None) -> None:
    """Serve until SIGTERM / Ctrl-C (blocking); ``[gateway] workers`` > 1 starts that many processes."""
    _need("uvicorn")
    import uvicorn

    cfg = built.app.config.server
    # The ledger and telemetry threads build rows in Python: with the default 5 ms switch interval a
    # flush could hold the event loop for 5 ms at a time; 1 ms bounds that stall (the p99 overhead).
    sys.setswitchinterval(0.001)
    workers = cfg.workers
    target: Any = built.app
    if workers > 1:
        os.environ[CONFIG_ENV] = str(Path(built.app.config.source).resolve())
        target = "tokenomy.interfaces.gateway.server:app_from_env"
        built.app.sink.close()  # the workers build their own apps
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    uvicorn.run(
        target,
        factory=workers > 1,
        workers=workers,
        host=host or cfg.host,
        port=cfg.port if port is None else port,
        loop=loop,
        http=http,
        lifespan="on",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=int(built.app.drain_s),
        backlog=4096,
    )

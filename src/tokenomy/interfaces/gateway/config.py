"""The gateway's TOML configuration, read once into frozen dataclasses (tables and fields below).

``[gateway]`` host, port, ledger (a DuckDB path, ``":memory:"`` or ``"none"``), flush_ms, flush_rows,
max_body_bytes, max_response_bytes (an upstream answer longer than this is cut), body_timeout_s (408
for a request body not all in by then), max_request_s (one upstream attempt, whole),
expected_output_tokens (ΔC and ΔL estimates use it when a request gives no
max_tokens), max_output_tokens (set as max_tokens on a request without one, so a budget reservation
bounds its cost), workers (server processes sharing the port; each keeps its own policy state and
admission queues and answers ``/v1/feedback`` only for the requests it served, so a finite key budget
with workers > 1 needs a shared budget_store), budget_store (``"memory"``; another store registers its name), budget_dsn,
max_price_usd (the largest V, λ or ρ a client may give per request; default ``MAX_USD`` = 1e9, at most
1e12).
``[[upstreams]]`` name, base_url (http:// or https://, with or without /v1), model (the upstream's own
model name; default: name), api_key_env (the environment variable holding its API key, if any),
input_usd_per_mtok and output_usd_per_mtok (both or neither; neither: priced by genai-prices from
``model``), max_concurrency, max_queue, timeout_s, sla_s (the latency SLA the congestion price λ_m
defends), quality_prior (q̂ before feedback), eta_lam (the controller's step, USD/s per second).
``[defaults]`` v_usd, lam_usd_per_s, rho_usd. ``[keys."<api key>"]`` tenant, budget_usd, models (the
upstream names the key may reach; default every one) and the same three prices (override the
defaults for that key). ``[routing]`` policy, epsilon, seed; any other
key is passed to the policy as text. ``[actions]``, ``[telemetry]`` and ``[metrics]`` configure the
optional parts and are checked by ``extensions``. Without a ``[keys]`` table the gateway needs no key.

Every bad field raises ``SchemaError`` naming the file, the field and the expected form. This module
reads the file and the genai-prices table; it makes no decision.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokenomy.core.errors import SchemaError
from tokenomy.core.prices import PriceVector
from tokenomy.interfaces.args import MAX_USD
from tokenomy.interfaces.loaders.reader import parse_toml, read_text

EXTENSION_TABLES = ("actions", "telemetry", "metrics")
"""Tables read by the optional parts (``extensions``): checked there, passed through here."""

__all__ = [
    "EXTENSION_TABLES",
    "GatewayConfig",
    "KeyConfig",
    "RoutingConfig",
    "ServerConfig",
    "UpstreamConfig",
    "load_config",
]


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """``[gateway]``: where to listen and how to keep records."""

    host: str = "127.0.0.1"
    port: int = 8080
    ledger: str = ":memory:"
    flush_ms: float = 200.0
    flush_rows: int = 1000
    max_body_bytes: int = 1_000_000
    max_response_bytes: int = 32 * 2**20  # an upstream answer (whole or streamed) longer than this is cut
    body_timeout_s: float = 30.0  # a client that has not sent its whole body by then gets 408
    max_request_s: float = 600.0  # one upstream attempt, whole (a stream is ended with an error event)
    expected_output_tokens: int = 256
    max_output_tokens: int = 4096
    workers: int = 1
    budget_store: str = "memory"
    budget_dsn: str = ""
    max_price_usd: float = MAX_USD  # the largest V, λ or ρ a client may give (header or metadata)


MAX_PRICE_CAP_USD = 1e12
"""The largest ``max_price_usd`` an operator may set: products of such prices with token counts,
latencies and request counts stay far below float overflow in every ledger total."""


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    """One ``[[upstreams]]`` entry: an OpenAI-compatible server and its prices."""

    name: str
    base_url: str
    model: str
    input_usd_per_mtok: float
    output_usd_per_mtok: float
    max_concurrency: int = 64
    max_queue: int = 1024
    timeout_s: float = 30.0
    sla_s: float = 2.0
    quality_prior: float = 0.5
    eta_lam: float = 0.01
    price_source: str = "config"
    api_key: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class KeyConfig:
    """One ``[keys."<api key>"]`` entry: who pays, the cap, and the key's default prices."""

    tenant: str
    budget_usd: float = math.inf
    prices: PriceVector = field(default_factory=PriceVector)
    models: tuple[str, ...] | None = None  # upstream names this key may reach (None: every one)


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    """``[routing]``: the policy setting, exploration and seed; other keys -> text options."""

    policy: str = "prior"
    epsilon: float = 0.05
    seed: int = 0
    options: Mapping[str, str] = field(default_factory=dict)  # option name -> value as text


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """The whole configuration."""

    server: ServerConfig
    upstreams: tuple[UpstreamConfig, ...]
    defaults: PriceVector
    keys: Mapping[str, KeyConfig]  # api key -> its tenant, cap and prices
    routing: RoutingConfig
    source: str = "<config>"
    extensions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # table -> its fields

    def upstream(self, name: str) -> UpstreamConfig | None:
        """The upstream called ``name`` (or whose ``model`` is ``name``), or ``None``."""
        return next((u for u in self.upstreams if name in (u.name, u.model)), None)


class _Fields:
    """Typed reads of one TOML table, each error naming file, field and expected form."""

    def __init__(self, data: Mapping[str, Any], where: str, known: tuple[str, ...] | None) -> None:
        self.data, self.where = data, where
        if known is not None:
            extra = sorted(set(data) - set(known))
            if extra:
                raise SchemaError(f"{where}: unknown field {extra[0]!r}; valid: {', '.join(known)}")

    def _bad(self, key: str, form: str) -> SchemaError:
        return SchemaError(f"{self.where}.{key}: expected {form}; got {self.data[key]!r}")

    def text(self, key: str, default: str | None = None) -> str:
        if key not in self.data:
            if default is None:
                raise SchemaError(f"{self.where}: missing field {key!r} (text)")
            return default
        v = self.data[key]
        if not isinstance(v, str) or not v:
            raise self._bad(key, "non-empty text")
        return v

    def number(
        self, key: str, default: float, *, lo: float = 0.0, hi: float = math.inf, open_lo: bool = False
    ) -> float:
        if key not in self.data:
            return default
        v = self.data[key]
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)
        if not ok or v < lo or v > hi or (open_lo and v == lo) or (hi == math.inf and math.isinf(v)):
            rng = f"{'>' if open_lo else '≥'} {lo:g}" + ("" if hi == math.inf else f" and ≤ {hi:g}")
            raise self._bad(key, f"a finite number {rng}")
        return float(v)

    def integer(self, key: str, default: int, *, lo: int = 0, hi: int = 2**31) -> int:
        if key not in self.data:
            return default
        v = self.data[key]
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            raise self._bad(key, f"an integer in [{lo}, {hi}]")
        return v


def _prices(f: _Fields, base: PriceVector) -> PriceVector:
    return base.with_prices(
        "operator",
        v_usd=f.number("v_usd", base.v_usd),
        lam_usd_per_s=f.number("lam_usd_per_s", base.lam_usd_per_s),
        rho_usd=f.number("rho_usd", base.rho_usd),
    )


def _table(doc: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    v = doc.get(key, {})
    if not isinstance(v, dict):
        raise SchemaError(f"{where}: [{key}] must be a table; got {type(v).__name__}")
    return v


_SERVER = tuple(ServerConfig.__dataclass_fields__)
_UPSTREAM = (*tuple(UpstreamConfig.__dataclass_fields__)[:-2], "api_key_env")
_PRICES = ("v_usd", "lam_usd_per_s", "rho_usd")


def _key_models(
    entry: Mapping[str, Any], where: str, ups: tuple[UpstreamConfig, ...]
) -> tuple[str, ...] | None:
    """A key's ``models``: upstream names it may reach (absent: every upstream)."""
    if "models" not in entry:
        return None
    names = [u.name for u in ups]
    got = entry["models"]
    if not isinstance(got, list) or not got or not all(isinstance(m, str) and m in names for m in got):
        raise SchemaError(
            f"{where}.models: expected a non-empty list of upstream names from {', '.join(names)}; got {got!r}"
        )
    return tuple(dict.fromkeys(got))


def _server(data: Mapping[str, Any], where: str) -> ServerConfig:
    f = _Fields(data, f"{where}: gateway", _SERVER)
    ledger = f.text("ledger", ":memory:")
    return ServerConfig(
        host=f.text("host", "127.0.0.1"),
        port=f.integer("port", 8080, lo=0, hi=65535),
        ledger=ledger,
        flush_ms=f.number("flush_ms", 200.0, lo=0.0, hi=60_000.0, open_lo=True),
        flush_rows=f.integer("flush_rows", 1000, lo=1, hi=10_000_000),
        max_body_bytes=f.integer("max_body_bytes", 1_000_000, lo=1, hi=2**31),
        max_response_bytes=f.integer("max_response_bytes", 32 * 2**20, lo=1024, hi=2**40),
        body_timeout_s=f.number("body_timeout_s", 30.0, lo=0.0, hi=3600.0, open_lo=True),
        max_request_s=f.number("max_request_s", 600.0, lo=0.0, hi=86_400.0, open_lo=True),
        expected_output_tokens=f.integer("expected_output_tokens", 256, lo=1, hi=10_000_000),
        max_output_tokens=f.integer("max_output_tokens", 4096, lo=1, hi=10_000_000),
        workers=f.integer("workers", 1, lo=1, hi=256),
        budget_store=f.text("budget_store", "memory"),
        budget_dsn=str(data.get("budget_dsn", "")),
        max_price_usd=f.number("max_price_usd", MAX_USD, lo=0.0, hi=MAX_PRICE_CAP_USD, open_lo=True),
    )


def _genai_rates(model: str, where: str) -> tuple[float, float]:
    from tokenomy.audit.pricing import GenaiPricesTable

    card = GenaiPricesTable().rate_card(model)
    if card is None:
        raise SchemaError(
            f"{where}: genai-prices does not know model {model!r}; give input_usd_per_mtok and output_usd_per_mtok"
        )
    return card.input_usd_per_mtok, card.output_usd_per_mtok


def _upstream(data: Any, where: str) -> UpstreamConfig:
    if not isinstance(data, dict):
        raise SchemaError(f"{where}: expected a table ([[upstreams]]); got {data!r}")
    f = _Fields(data, where, _UPSTREAM)
    name = f.text("name")
    base_url = f.text("base_url").rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise SchemaError(f"{where}.base_url: expected an http(s)://host[:port][/path] URL; got {base_url!r}")
    api_key = ""
    if "api_key_env" in data:
        env = f.text("api_key_env")
        api_key = os.environ.get(env, "")
        if not api_key:
            raise SchemaError(
                f"{where}.api_key_env: the environment variable {env!r} is not set (the upstream's API key)"
            )
    model = f.text("model", name)
    given = [k for k in ("input_usd_per_mtok", "output_usd_per_mtok") if k in data]
    if len(given) == 1:
        raise SchemaError(
            f"{where}: give both input_usd_per_mtok and output_usd_per_mtok, or neither (genai-prices)"
        )
    if given:
        rates = (f.number("input_usd_per_mtok", 0.0), f.number("output_usd_per_mtok", 0.0))
        source = "config"
    else:
        rates, source = _genai_rates(model, where), "genai-prices"
    return UpstreamConfig(
        name=name,
        base_url=base_url,
        model=model,
        input_usd_per_mtok=rates[0],
        output_usd_per_mtok=rates[1],
        max_concurrency=f.integer("max_concurrency", 64, lo=1, hi=100_000),
        max_queue=f.integer("max_queue", 1024, lo=0, hi=10_000_000),
        timeout_s=f.number("timeout_s", 30.0, lo=0.0, hi=86_400.0, open_lo=True),
        sla_s=f.number("sla_s", 2.0, lo=0.0, hi=86_400.0, open_lo=True),
        quality_prior=f.number("quality_prior", 0.5, lo=0.0, hi=1.0),
        eta_lam=f.number("eta_lam", 0.01),
        price_source=source,
        api_key=api_key,
    )


def _routing(data: Mapping[str, Any], where: str) -> RoutingConfig:
    f = _Fields(data, f"{where}: routing", None)
    # the learned policy's exploration numbers are checked here, whatever policy is set, so a bad value
    # is an error at load and not silently ignored until the policy changes
    f.number("epsilon_min", 0.0, lo=0.0, hi=1.0)
    f.number("explore_z", 0.0)
    options = {k: str(v) for k, v in data.items() if k not in ("policy", "epsilon", "seed")}
    return RoutingConfig(
        policy=f.text("policy", "prior"),
        epsilon=f.number("epsilon", 0.05, lo=0.0, hi=1.0),
        seed=f.integer("seed", 0, lo=0, hi=2**63 - 1),
        options=options,
    )


def parse_config(doc: Mapping[str, Any], where: str = "<config>") -> GatewayConfig:
    """The configuration from a parsed TOML document (see the module docstring for the fields).

    Raises:
        SchemaError: a field is missing, unknown or out of its domain (the message names it).
    """
    known = ("gateway", "upstreams", "defaults", "keys", "routing", *EXTENSION_TABLES)
    extra = sorted(set(doc) - set(known))
    if extra:
        raise SchemaError(f"{where}: unknown table [{extra[0]}]; valid: {', '.join(known)}")
    ups = doc.get("upstreams")
    if not isinstance(ups, list) or not ups:
        raise SchemaError(f"{where}: expected at least one [[upstreams]] table")
    upstreams = tuple(_upstream(u, f"{where}: upstreams[{i}]") for i, u in enumerate(ups))
    names = [u.name for u in upstreams]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup or "tokenomy-auto" in names:
        raise SchemaError(f"{where}: upstream names must be unique and not 'tokenomy-auto'; got {names}")
    defaults = _prices(_Fields(_table(doc, "defaults", where), f"{where}: defaults", _PRICES), PriceVector())
    keys: dict[str, KeyConfig] = {}
    for key, entry in _table(doc, "keys", where).items():
        kw = f'{where}: keys."{key}"'
        if not isinstance(entry, dict):
            raise SchemaError(
                f"{kw}: expected a table with tenant, budget_usd, models, v_usd, lam_usd_per_s, rho_usd"
            )
        f = _Fields(entry, kw, ("tenant", "budget_usd", "models", *_PRICES))
        budget = f.number("budget_usd", math.inf) if "budget_usd" in entry else math.inf
        keys[key] = KeyConfig(
            tenant=f.text("tenant", key),
            budget_usd=budget,
            prices=_prices(f, defaults),
            models=_key_models(entry, kw, upstreams),
        )
    server = _server(_table(doc, "gateway", where), where)
    if (
        server.workers > 1
        and server.budget_store == "memory"
        and any(math.isfinite(k.budget_usd) for k in keys.values())
    ):
        raise SchemaError(
            f"{where}: gateway.workers = {server.workers} with budget_store = 'memory' would give each process its "
            "own copy of every key budget; use workers = 1 or a shared budget_store"
        )
    return GatewayConfig(
        server=server,
        upstreams=upstreams,
        defaults=defaults,
        keys=keys,
        routing=_routing(_table(doc, "routing", where), where),
        source=where,
        extensions={t: dict(_table(doc, t, where)) for t in EXTENSION_TABLES if t in doc},
    )


def load_config(path: str | Path) -> GatewayConfig:
    """Read and check the TOML file at ``path``.

    Raises:
        SchemaError: the file is missing, is not TOML (with line and column), or a field is bad.
    """
    p = Path(path)
    try:
        text = read_text(p)  # the shared reader: missing files, bad bytes and truncation as one line
    except SchemaError as exc:
        raise SchemaError(f"cannot read the gateway config: {exc}") from None
    return parse_config(parse_toml(text, str(p)), str(p))

"""The gateway config: the example parses; each bad field is named with file, field and expected form."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tokenomy.core.errors import SchemaError
from tokenomy.interfaces.gateway.config import load_config, parse_config

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "gateway.toml"
UP = {"name": "a", "base_url": "http://127.0.0.1:9", "input_usd_per_mtok": 1.0, "output_usd_per_mtok": 2.0}


def test_the_example_config_loads_with_its_keys_and_prices() -> None:
    cfg = load_config(EXAMPLE)
    assert [u.name for u in cfg.upstreams] == ["small", "strong"]
    assert cfg.keys["sk-demo"].tenant == "demo" and cfg.keys["sk-demo"].budget_usd == 1.0
    assert cfg.keys["sk-demo"].prices.v_usd == 0.02 and cfg.defaults.v_usd == 0.01
    assert cfg.routing.policy == "prior" and cfg.upstream("gemma3-270m") is cfg.upstreams[1]


def test_defaults_fill_missing_fields() -> None:
    cfg = parse_config({"upstreams": [UP]})
    assert cfg.server.port == 8080 and cfg.keys == {} and cfg.upstreams[0].model == "a"
    assert cfg.upstreams[0].price_source == "config" and math.isinf(cfg.upstreams[0].sla_s) is False


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ({}, "at least one \\[\\[upstreams\\]\\]"),
        (
            {"upstreams": [{**UP, "max_concurrency": 0}]},
            r"upstreams\[0\]\.max_concurrency: expected an integer",
        ),
        ({"upstreams": [{**UP, "sla_s": -1.0}]}, r"upstreams\[0\]\.sla_s: expected a finite number > 0"),
        ({"upstreams": [{**UP, "base_url": "ftp://x"}]}, r"base_url: expected an http\(s\)://"),
        ({"upstreams": [{**UP, "colour": 1}]}, "unknown field 'colour'"),
        ({"upstreams": [UP, UP]}, "must be unique"),
        ({"upstreams": [UP], "defaults": {"v_usd": -1}}, r"defaults\.v_usd: expected a finite number ≥ 0"),
        ({"upstreams": [UP], "gateway": {"port": "80"}}, r"gateway\.port: expected an integer"),
        ({"upstreams": [UP], "keys": {"k": {"budget_usd": float("nan")}}}, r'keys\."k"\.budget_usd'),
        ({"upstreams": [UP], "nope": {}}, r"unknown table \[nope\]"),
        ({"upstreams": [UP], "routing": {"epsilon_min": "x"}}, r"routing\.epsilon_min: expected a finite"),
        ({"upstreams": [UP], "routing": {"explore_z": math.inf}}, r"routing\.explore_z: expected a finite"),
        (
            {
                "upstreams": [
                    UP,
                    {"name": "b", "base_url": "http://x:1", "input_usd_per_mtok": 1.0},
                ]
            },
            "give both",
        ),
    ],
)
def test_bad_fields_name_the_field_and_the_expected_form(doc: dict[str, object], match: str) -> None:
    with pytest.raises(SchemaError, match=match):
        parse_config(doc, "g.toml")


def test_a_file_that_is_not_toml_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "g.toml"
    bad.write_text("[gateway\n")
    with pytest.raises(SchemaError, match=r"g\.toml: not valid TOML"):
        load_config(bad)
    with pytest.raises(SchemaError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def test_several_workers_with_in_process_budgets_are_refused() -> None:
    doc = {"upstreams": [UP], "gateway": {"workers": 2}, "keys": {"k": {"budget_usd": 1.0}}}
    with pytest.raises(SchemaError, match="workers = 2 with budget_store = 'memory'"):
        parse_config(doc, "g.toml")
    assert parse_config({**doc, "keys": {"k": {}}}).server.workers == 2


def test_an_api_key_comes_from_the_named_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    up = {**UP, "base_url": "https://api.example.com/v1", "api_key_env": "TEST_GW_KEY"}
    with pytest.raises(SchemaError, match="'TEST_GW_KEY' is not set"):
        parse_config({"upstreams": [up]}, "g.toml")
    monkeypatch.setenv("TEST_GW_KEY", "sk-secret")
    cfg = parse_config({"upstreams": [up]}, "g.toml")
    assert cfg.upstreams[0].api_key == "sk-secret" and "sk-secret" not in repr(cfg)


def test_a_config_that_is_not_utf8_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "g.toml"
    bad.write_bytes(b"\xff\xfe[gateway]\n")
    with pytest.raises(SchemaError, match=r"g\.toml: line 1: .*not UTF-8"):
        load_config(bad)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[metrics]\nenabled = "yes"\n', r"\[metrics\]\.enabled: expected true or false"),
        ("[actions]\nsecret = 5\n", r"\[actions\]\.secret: expected non-empty text"),
        ('[routing]\npolicy = "bogus"\n', r"unknown routing policy 'bogus'"),
    ],
)
def test_a_bad_value_read_by_a_part_of_the_gateway_names_the_config_file(
    tmp_path: Path, extra: str, message: str
) -> None:
    pytest.importorskip("uvicorn")
    from tokenomy.core.errors import TokenomyError
    from tokenomy.interfaces.gateway.server import build_gateway

    path = tmp_path / "g.toml"
    ledger = tmp_path / "gw.duckdb"
    path.write_text(
        f'[gateway]\nledger = "{ledger}"\n[[upstreams]]\nname = "a"\nbase_url = "http://127.0.0.1:9"\n'
        f"input_usd_per_mtok = 1.0\noutput_usd_per_mtok = 2.0\n{extra}"
    )
    with pytest.raises(TokenomyError, match=rf"^{path}: {message}"):
        build_gateway(path)

"""Bad data files (traces, routing data, agent data, schedules, configs, saved routers): one clear line.

Each case builds a small file in ``tmp_path`` and checks that the loader raises a ``TokenomyError``
whose one-line message names the file (and the line and field where there is one), or, for input that
is merely unusual but well defined (a UTF-8 byte-order mark), that it loads correctly.
"""

from __future__ import annotations

import gzip
import json
import shutil
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from test_bad_inputs import _SWE_STEPS, _TAU_STEPS

from tokenomy.core.errors import SchemaError, TokenomyError, ValidationError
from tokenomy.interfaces.gateway.config import load_config
from tokenomy.interfaces.loaders import routing, traces
from tokenomy.interfaces.loaders.agent_data import load_miniswe, load_schedule, load_taubench
from tokenomy.interfaces.loaders.routing import load_price_table, load_routerarena, load_routerbench
from tokenomy.interfaces.loaders.servegen import load_servegen

DEEP_TOML = "a = " + "[" * 10000 + "]" * 10000 + "\n"
DEEP_YAML = "[" * 10000 + "]" * 10000 + "\n"
BOM = "\ufeff"


def _one_line(exc: pytest.ExceptionInfo[TokenomyError], *parts: str) -> str:
    msg = str(exc.value)
    assert "\n" not in msg.strip(), msg
    for part in parts:
        assert part in msg, f"{part!r} not in {msg!r}"
    return msg


def _default_schedule() -> str:
    return (resources.files("tokenomy.interfaces") / "resources" / "default_schedule.toml").read_text()


# --- deeply nested TOML / YAML -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "load",
    [load_schedule, load_config, load_price_table],
    ids=["schedule", "gateway-config", "prices"],
)
def test_deeply_nested_toml_is_one_line(tmp_path: Path, load: Any) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(DEEP_TOML)
    with pytest.raises(SchemaError) as exc:
        load(path)
    _one_line(exc, "deep.toml", "nested too deeply")


def test_deeply_nested_blis_yaml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "defaults.yaml"
    path.write_text(DEEP_YAML)
    with pytest.raises(SchemaError) as exc:
        traces.load_blis(path)
    _one_line(exc, "defaults.yaml", "nested too deeply")


# --- schedule values ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("ask_cost_usd = 0.05", "ask_cost_usd = nan", "ask_cost_usd"),
        ("ask_cost_usd = 0.05", "ask_cost_usd = inf", "ask_cost_usd"),
        ("severity = 0.0", "severity = inf", "severity"),
        ("rho_usd = 1.0", "rho_usd = inf", "rho_usd"),
        ("version = 1", "version = 2", "version"),
        ("version = 1", 'version = "1"', "version"),
    ],
)
def test_schedule_non_finite_or_unknown_version_is_refused(
    tmp_path: Path, old: str, new: str, field: str
) -> None:
    text = _default_schedule()
    assert old in text
    path = tmp_path / "s.toml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(SchemaError) as exc:
        load_schedule(path)
    _one_line(exc, "s.toml", "line ", field)


def test_schedule_with_bom_loads(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(BOM + _default_schedule(), encoding="utf-8")
    assert load_schedule(path).classes == load_schedule(None).classes


# --- RouterArena ------------------------------------------------------------------------------------------


def _arena_line(gid: Any, score: Any = 1.0, tokens_in: Any = 10) -> str:
    rec: dict[str, Any] = {
        "question": f"question {gid}",
        "evaluation_result": {"score": score, "inference_cost": 1e-4},
        "token_usage": {"input_tokens": tokens_in, "output_tokens": 5},
    }
    if gid is not ...:
        rec["global_index"] = gid
    return json.dumps(rec)


def _arena(tmp_path: Path, bad: str) -> Path:
    for model in ("m-small", "m-big"):
        lines = [_arena_line(f"MMLU_{i}") for i in range(4)]
        if model == "m-big":
            lines[2] = bad
        with gzip.open(tmp_path / f"{model}.jsonl.gz", "wt") as fh:
            fh.write("\n".join(lines) + "\n")
    return tmp_path


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (_arena_line("MMLU_2", score=-1), "evaluation_result.score"),
        (_arena_line("MMLU_2", score=2), "evaluation_result.score"),
        (_arena_line(None), "global_index"),
        (_arena_line(...), "global_index"),
        (_arena_line(""), "global_index"),
        (_arena_line("MMLU_2", tokens_in=10**40), "token_usage.input_tokens"),
        (_arena_line("MMLU_2", tokens_in=2**31), "token_usage.input_tokens"),
    ],
)
def test_routerarena_bad_field_names_file_line_and_field(tmp_path: Path, bad: str, field: str) -> None:
    with pytest.raises(SchemaError) as exc:
        load_routerarena(_arena(tmp_path, bad))
    _one_line(exc, "m-big.jsonl.gz: line 3", field)


def test_routerarena_slightly_negative_score_is_still_clipped(tmp_path: Path) -> None:
    ds = load_routerarena(_arena(tmp_path, _arena_line("MMLU_2", score=-0.033)))
    assert ds.repairs["clipped_scores_to_0_1"] == 1


# --- tau-bench and mini-swe-agent ---------------------------------------------------------------------


def _tau(tmp_path: Path, reward: str) -> Path:
    base = tmp_path / "taubench_gpt4o_airline"
    base.mkdir()
    (base / "steps.csv.gz").write_bytes(gzip.compress(_TAU_STEPS.encode()))
    (base / "episodes.csv").write_text(
        f"task_id,trial,reward,n_messages,n_gt_actions,n_gt_commit_actions\n0,0,{reward},3,1,0\n"
    )
    return base


def test_taubench_clean_sample_loads(tmp_path: Path) -> None:
    assert load_taubench(_tau(tmp_path, "1"))[0].reward == 1.0


@pytest.mark.parametrize("reward", ["2", "-1", "1.5"])
def test_taubench_reward_outside_unit_interval_names_file_line_field(tmp_path: Path, reward: str) -> None:
    with pytest.raises(SchemaError) as exc:
        load_taubench(_tau(tmp_path, reward))
    _one_line(exc, "episodes.csv: line 2", "reward", "[0, 1]")


def test_miniswe_duplicate_instance_id_is_reported_as_a_duplicate(tmp_path: Path) -> None:
    base = tmp_path / "miniswe_gemini3pro_swebv"
    base.mkdir()
    (base / "steps.csv.gz").write_bytes(gzip.compress(_SWE_STEPS.encode()))
    row = "a,r,1,Submitted,0.03\n"
    (base / "instances.csv").write_text(
        "instance_id,repo,resolved,exit_status,instance_cost_usd\n" + row + row
    )
    with pytest.raises(SchemaError) as exc:
        load_miniswe(base)
    _one_line(exc, "instances.csv: line 3", "duplicate", "'a'")


# --- traces -------------------------------------------------------------------------------------------------

AZ_HEAD = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
AZ_ROWS = [f"2023-11-16 18:15:{46 + i:02d}.6805900,{300 + i},{40 + i}\n" for i in range(6)]


def _azure(tmp_path: Path, row: str | None = None, bom: bool = False) -> Path:
    rows = list(AZ_ROWS)
    if row is not None:
        rows[4] = row  # line 6
    path = tmp_path / "az.csv"
    path.write_text((BOM if bom else "") + AZ_HEAD + "".join(rows), encoding="utf-8")
    return path


def test_load_trace_accepts_a_str_path(tmp_path: Path) -> None:
    path = _azure(tmp_path)
    assert len(traces.load_trace(str(path)).workload.arrival_s) == 6  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "name"), [({"limit": 0}, "limit"), ({"limit": -5}, "limit"), ({"seed": -1}, "seed")]
)
def test_load_trace_bad_argument_is_named(tmp_path: Path, kwargs: dict[str, int], name: str) -> None:
    with pytest.raises(ValidationError) as exc:
        traces.load_trace(_azure(tmp_path), **kwargs)  # type: ignore[arg-type]
    _one_line(exc, name)


def test_load_dataset_none_is_a_validation_error() -> None:
    with pytest.raises(ValidationError) as exc:
        routing.load_dataset(None)  # type: ignore[arg-type]
    _one_line(exc, "path")


@pytest.mark.parametrize(
    "stamp",
    [
        "2023-11-16T18:15:56+05:00",
        "2023-11-16 18:15:56\x00",
        "garbage",
        "2023-11-16 18:15:56Z",
        "2023-13-16 18:15:56",
        "2023-02-30 18:15:56",
    ],
)
def test_azure_bad_timestamp_names_line_and_value_without_warnings(tmp_path: Path, stamp: str) -> None:
    path = _azure(tmp_path, f"{stamp},300,40\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(SchemaError) as exc:
            traces.load_trace(path)
    _one_line(exc, "az.csv: line 6", "TIMESTAMP", repr(stamp))


def test_azure_with_bom_loads(tmp_path: Path) -> None:
    plain = traces.load_trace(_azure(tmp_path)).workload.arrival_s
    assert (traces.load_trace(_azure(tmp_path, bom=True)).workload.arrival_s == plain).all()


def test_trace_with_both_generic_and_mooncake_columns_is_ambiguous(tmp_path: Path) -> None:
    path = tmp_path / "both.csv"
    path.write_text(
        "arrival_s,prompt_tokens,output_tokens,timestamp,input_length,output_length\n0,10,5,0,10,1\n"
    )
    with pytest.raises(SchemaError) as exc:
        traces.load_trace(path)
    _one_line(exc, "both.csv", "ambiguous", "arrival_s", "timestamp")


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ('{"timestamp": 0, "input_length": 5, "output_length": 3, "input_length": 6}', "input_length"),
        ('{"timestamp": 0, "input_length": "6758", "output_length": 3}', "input_length"),
        ('{"timestamp": "0", "input_length": 5, "output_length": 3}', "timestamp"),
    ],
)
def test_mooncake_duplicate_key_or_string_number_names_line_and_field(
    tmp_path: Path, line: str, field: str
) -> None:
    path = tmp_path / "mc.jsonl"
    ok = '{"timestamp": 0, "input_length": 5, "output_length": 3}\n'
    path.write_text(ok + line + "\n")
    with pytest.raises(SchemaError) as exc:
        traces.load_trace(path)
    _one_line(exc, "mc.jsonl: line 2", field)


def test_blis_negative_beta0_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "defaults.yaml"
    path.write_text(
        "models:\n- id: m\n  GPU: H100\n  tensor_parallelism: 1\n  beta_coeffs: [-5, 1, 1]\n"
        "  total_kv_blocks: 100\n"
    )
    with pytest.raises(SchemaError) as exc:
        traces.load_blis(path, model="m")
    _one_line(exc, "defaults.yaml", "beta_coeffs")


def test_servegen_not_an_archive_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "servegen_data.tar.xz"
    path.write_text("not an archive\n")
    with pytest.raises(SchemaError) as exc:
        load_servegen(path)
    _one_line(exc, "servegen_data.tar.xz", "archive")


# --- RouterBench --------------------------------------------------------------------------------------------


def _routerbench(tmp_path: Path, empty: str | None = None, bom: bool = False) -> Path:
    models = ("m-small", "m-big")
    head = (
        ",sample_id,prompt,eval_name," + ",".join(models) + "," + ",".join(f"{m}|total_cost" for m in models)
    )
    for task in routing.ROUTERBENCH_TASKS:
        for split in ("train", "test"):
            name = f"{task}_{split}.csv.gz"
            rows = [f"{i},{task}.{split}.{i},q{i},{task},1.0,0.0,0.001,0.01" for i in range(3)]
            text = (BOM if bom else "") + head + "\n" + ("" if name == empty else "\n".join(rows) + "\n")
            (tmp_path / name).write_bytes(gzip.compress(text.encode("utf-8")))
    return tmp_path


def test_routerbench_with_bom_loads(tmp_path: Path) -> None:
    assert len(load_routerbench(_routerbench(tmp_path, bom=True))) == 18


def test_routerbench_header_only_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(SchemaError) as exc:
        load_routerbench(_routerbench(tmp_path, empty="mbpp_test.csv.gz"))
    _one_line(exc, "mbpp_test.csv.gz", "no rows")


# --- saved routers ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_router(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tokenomy.routing.prices import PriceTable
    from tokenomy.routing.router import Router

    src = tmp_path_factory.mktemp("rb")
    ds = load_routerbench(_routerbench(src))
    prices = PriceTable({"m-small": (0.1, 0.2), "m-big": (1.0, 2.0)}, date="2024-01-01")
    router = Router(estimator="prior", baseline_estimator=None, folds=2, prices=prices)
    router.fit(ds.split("train"))
    return router.save(tmp_path_factory.mktemp("router") / "r")


def _edit_router(saved: Path, tmp_path: Path, edit: Any) -> Path:
    out = tmp_path / "r"
    shutil.copytree(saved, out)
    body = json.loads((out / "router.json").read_text())
    edit(body["object"]["state"])
    (out / "router.json").write_text(json.dumps(body))
    return out


def _set_price(state: dict[str, Any]) -> None:
    state["prices"]["state"]["usd_per_mtok"]["__dict__"][0][1]["__tuple__"][0] = float("nan")


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (_set_price, "usd_per_mtok"),
        (lambda s: s.update(n_features=-1), "n_features"),
        (lambda s: s.update(n_features=0), "n_features"),
        (lambda s: s.update(estimator="bogus"), "estimator"),
    ],
)
def test_saved_router_bad_state_names_file_and_field(
    saved_router: Path, tmp_path: Path, edit: Any, field: str
) -> None:
    from tokenomy.routing.router import Router

    Router.load(saved_router)  # the clean save loads
    with pytest.raises(ValidationError) as exc:
        Router.load(_edit_router(saved_router, tmp_path, edit))
    _one_line(exc, "router.json", field)

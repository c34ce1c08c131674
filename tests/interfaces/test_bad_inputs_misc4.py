"""Bad input, fourth round: a tampered saved router, the rl token budget, economy report gaps."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "routing"))

from routing_data import synthetic

from tokenomy.core.errors import ValidationError
from tokenomy.routing.prices import PriceTable
from tokenomy.routing.router import Router


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = synthetic()
    prices = PriceTable({m: (1.0 + i, 2.0 + i) for i, m in enumerate(data.models)}, source="test")
    router = Router(n_features=2**10, estimator="prior", prices=prices).fit(data.split("train"))
    return router.save(tmp_path_factory.mktemp("router") / "r")


def _price(state: dict[str, Any], value: Any) -> None:
    state["prices"]["state"]["usd_per_mtok"]["__dict__"][0][1]["__tuple__"][0] = value


def _set(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(state: dict[str, Any]) -> None:
        state[field] = value

    return edit


def _price_edit(value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda state: _price(state, value)


@pytest.mark.parametrize(
    ("edit", "field", "expected"),
    [
        (_set("models_", 5), "object.models_", "tuple of model names"),
        (_set("models_", {"__tuple__": []}), "object.models_", "tuple of model names"),
        (_price_edit(-10.0), "object.prices.usd_per_mtok", "≥ 0"),
        (_price_edit("x"), "object.prices.usd_per_mtok", "tuple[float, float]"),
        (_set("queue_s", "abc"), "object.queue_s", "Mapping[str, float]"),
        (_set("queue_s", {"__dict__": [["m", -1.0]]}), "object.queue_s", "queue delay in seconds ≥ 0"),
        (_set("seed", -1), "object.seed", "whole number ≥ 0"),
        (_set("seed", "0"), "object.seed", "int"),
        (_set("folds", 1), "object.folds", "whole number ≥ 2"),
        (_set("policy", 1e308), "object.policy", "TokenomyPolicy | None"),
        (_set("unseen_fallback", "no"), "object.unseen_fallback", "bool"),
        (_set("consequence", {"__dict__": [["c", -2.0]]}), "object.consequence", "harm units ≥ 0"),
        (
            _set("throughput", {"__dict__": [["m", {"__tuple__": [0.1, 0.0, 50.0]}]]}),
            "object.throughput",
            "> 0",
        ),
    ],
)
def test_a_tampered_router_field_is_refused_naming_router_json_the_field_and_the_form(
    saved: Path, tmp_path: Path, edit: Callable[[dict[str, Any]], None], field: str, expected: str
) -> None:
    folder = tmp_path / "rx"
    shutil.copytree(saved, folder)
    body = json.loads((folder / "router.json").read_text(encoding="utf-8"))
    edit(body["object"]["state"])
    (folder / "router.json").write_text(json.dumps(body), encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        Router.load(folder)
    msg = str(err.value)
    assert "router.json" in msg and f"'{field}" in msg and expected in msg, msg
    assert "\n" not in msg


def test_a_wrong_price_entry_is_named_by_its_model(saved: Path, tmp_path: Path) -> None:
    folder = tmp_path / "rx"
    shutil.copytree(saved, folder)
    body = json.loads((folder / "router.json").read_text(encoding="utf-8"))
    _price(body["object"]["state"], -10.0)
    model = body["object"]["state"]["prices"]["state"]["usd_per_mtok"]["__dict__"][0][0]
    (folder / "router.json").write_text(json.dumps(body), encoding="utf-8")
    with pytest.raises(ValidationError, match=rf"usd_per_mtok\[{model!r}\]'=\(-10\.0, "):
        Router.load(folder)


def test_an_untouched_saved_router_still_loads(saved: Path) -> None:
    assert Router.load(saved).models_ == synthetic().models


@pytest.mark.parametrize("k", [(10, 25, 50), 20])
def test_a_neighbour_count_or_a_grid_of_them_passes_the_load_check(k: Any) -> None:
    from tokenomy.routing.estimators import ESTIMATORS
    from tokenomy.routing.persist import _check_field

    _check_field(ESTIMATORS["knn-embed"], "k", k, "object.k")


@pytest.mark.parametrize("k", [(0, 3), (), -2, "3"])
def test_a_bad_neighbour_count_is_refused_at_load(k: Any) -> None:
    from tokenomy.routing.estimators import ESTIMATORS
    from tokenomy.routing.persist import _check_field

    with pytest.raises(ValidationError, match=r"field 'object\.k'"):
        _check_field(ESTIMATORS["knn-embed"], "k", k, "object.k")


# -- the RL token budget is a budget; no verdict against a censored comparator -----------------------


def test_an_rl_budget_below_one_step_is_refused_stating_the_minimum() -> None:
    from tokenomy.capital.rl.allocators import make_allocator
    from tokenomy.capital.rl.config import RLConfig, warm_start
    from tokenomy.capital.rl.loop import run_rl

    cfg = RLConfig(max_tokens=1000)
    with pytest.raises(ValidationError, match=r"max_tokens.*1,000 is below .* at least [\d,]+ tokens"):
        run_rl(cfg, make_allocator("tokenomy"), warm_start(cfg, 0), seed=0, staleness_versions=64)


@pytest.mark.parametrize(("policy", "lag"), [("uniform", 0), ("dapo", 64), ("tokenomy", 64)])
def test_an_rl_run_never_spends_more_than_its_budget(policy: str, lag: int) -> None:
    from tokenomy.capital.rl.allocators import make_allocator
    from tokenomy.capital.rl.config import RLConfig, warm_start
    from tokenomy.capital.rl.loop import run_rl

    cfg = RLConfig(max_tokens=9_000)
    tr = run_rl(cfg, make_allocator(policy), warm_start(cfg, 0), seed=0, staleness_versions=lag)
    assert len(tr.tokens) >= 1 and int(tr.tokens[-1]) <= cfg.max_tokens


@pytest.mark.parametrize(
    ("dapo_reached", "tokenomy_reached", "verdict"),
    [
        ((False, False), (True, True), "not comparable: dapo did not reach the target in 2 of 2 seeds"),
        ((True, True), (True, False), "not comparable: tokenomy did not reach the target in 1 of 2 seeds"),
        ((True, True), (True, True), "meets"),
    ],
)
def test_no_token_ratio_verdict_against_a_censored_run(
    dapo_reached: tuple[bool, bool],
    tokenomy_reached: tuple[bool, bool],
    verdict: str,
    run_summary: Callable[..., Any],
) -> None:
    from tokenomy.capital.rl.experiment import bar_checks, summarise

    runs = [run_summary("dapo", s, 4_000, reached=r) for s, r in enumerate(dapo_reached)]
    runs += [run_summary("tokenomy", s, 2_000, reached=r) for s, r in enumerate(tokenomy_reached)]
    checks = [c for c in bar_checks(summarise(runs)) if "dapo tokens" in str(c["claim"])]
    assert [c["verdict"] for c in checks] == [verdict]


def test_rl_run_with_a_budget_below_one_step_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tokenomy.interfaces.cli import main

    argv = ["rl", "run", "--seeds", "2", "--staleness", "64", "--max-tokens", "1000", "--target", "0.5"]
    assert main([*argv, "--drift", "0.1"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 1 and "--max-tokens" in err[0] and "at least" in err[0], err


# -- report gaps print a dash with the reason, never nan ---------------------------------------------


def test_the_chain_sentence_gives_no_nan_median_when_no_chat_request_overlapped() -> None:
    import math

    from tokenomy.economy.report_view import VerificationChain, chain_text

    ch = VerificationChain(
        agent_calls=5, verify_calls=2, verify_prompt_tokens=900, prompt_share=0.4,
        chat_with=0, chat_without=2, latency_with_s=math.nan, latency_without_s=2.5,
    )  # fmt: skip
    text = chain_text("local", 1.0, ch)
    assert "nan" not in text and "the 0 chat requests" in text and "— (no such request)" in text
    assert "2.50 s" in text


def test_economy_table_shows_a_dash_for_a_p99_over_no_chat_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    from tokenomy.interfaces.cli import main

    data = data_dir
    argv = ["economy", "run", "--data", str(data), "--requests", "10", "--agent-share", "0.999999"]
    assert main([*argv, "--load", "0.01", "--report", str(tmp_path / "e.html")]) == 0
    out = capsys.readouterr().out
    assert "nan" not in out
    assert "p99 latency '—'" in out
    page = (tmp_path / "e.html").read_text(encoding="utf-8")
    assert " nan " not in page and "median latency nan" not in page


@pytest.mark.parametrize(("header", "shown"), [(None, "—"), ("nan", "—"), ("x", "—"), ("0.25", 0.25)])
def test_the_demo_gateway_table_shows_a_dash_for_a_missing_header(header: str | None, shown: Any) -> None:
    from tokenomy.interfaces.demo_gateway import _header_number

    assert _header_number(header) == shown

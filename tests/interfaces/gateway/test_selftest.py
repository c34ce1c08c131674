"""``tokenomy gateway selftest``: two real upstreams behind the gateway; ledger rows match requests.

The live test starts both llama.cpp servers and the gateway inside the test; it skips locally when
the model packages are missing and fails under CI=true.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tokenomy.interfaces.cli import main
from tokenomy.interfaces.gateway.local_models import EXTRA_HINT, missing_packages
from tokenomy.interfaces.gateway.selftest import SelftestResult


def _need_models() -> None:
    if missing := missing_packages():
        reason = f"real models not installed (missing {missing}); {EXTRA_HINT}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " — CI=true requires them")
        pytest.skip(reason)


def test_result_is_ok_only_when_ledger_rows_match_and_nothing_failed() -> None:
    good = SelftestResult(
        requests=4, ledger_decisions=4, ledger_outcomes=7, expected_outcomes=7, by_model={"a": 3}
    )
    assert good.ok
    assert not SelftestResult(4, 3, 7, 7).ok  # a lost decision row
    assert not SelftestResult(4, 4, 6, 7).ok  # a lost outcome row
    assert not SelftestResult(4, 4, 7, 7, errors=1).ok
    keys = {"requests", "ledger_decisions", "ledger_outcomes", "by_model", "errors"}
    assert keys <= set(good.as_dict())


def test_selftest_command_serves_a_graded_workload_and_writes_the_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _need_models()
    out = tmp_path / "selftest.json"
    assert main(["gateway", "selftest", "--requests", "6", "--json", str(out)]) == 0
    got = json.loads(out.read_text())
    assert got["requests"] == 6 and got["ledger_decisions"] == 6
    assert got["errors"] == 0 and got["ok"] is True
    assert sum(got["by_model"].values()) + got["refused"] == 6
    assert set(got["by_model"]) <= {"smollm2-135m", "gemma3-270m"}
    ope = got["offpolicy_welfare_usd"]  # read back from the gateway's own ledger
    assert set(ope) == {"fixed:smollm2-135m", "fixed:gemma3-270m", "greedy"}
    assert all(lo <= v <= hi for v, lo, hi, _ in ope.values())
    assert "ledger" in capsys.readouterr().out

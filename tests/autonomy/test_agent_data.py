"""The agent-data loaders reproduce the dataset README's facts and reject malformed files clearly."""

from __future__ import annotations

import functools
import gzip
import statistics
from pathlib import Path

import pytest

from tokenomy.core.errors import SchemaError
from tokenomy.interfaces.loaders.agent_data import load_miniswe, load_taubench

pytestmark = pytest.mark.data


@functools.cache
def _load_all(path: Path) -> tuple:  # type: ignore[type-arg]
    return load_miniswe(path)


@pytest.fixture
def miniswe(need_data: object) -> tuple:  # type: ignore[type-arg]
    return _load_all(need_data("agent", "miniswe_gemini3pro_swebv"))  # type: ignore[operator]


def test_miniswe_matches_readme_facts(miniswe: tuple) -> None:  # type: ignore[type-arg]
    assert len(miniswe) == 500
    assert sum(t.n_steps for t in miniswe) == 20_163
    assert sum(t.resolved for t in miniswe) == 371
    assert sum(t.total_cost_usd for t in miniswe) == pytest.approx(229.98, abs=0.01)
    steps = [s for t in miniswe for s in t.steps]
    malformed = sum(s.cost_usd for s in steps if s.format_error) / sum(s.cost_usd for s in steps)
    assert malformed == pytest.approx(0.070, abs=0.001)
    cached = sum(s.num_cached_tokens for s in steps) / sum(s.num_prompt_tokens for s in steps)
    assert cached == pytest.approx(0.838, abs=0.001)
    by_step = {k: statistics.median(s.num_prompt_tokens for s in steps if s.step == k) for k in (0, 20, 60)}
    assert by_step == {0: 1_647, 20: 14_176, 60: 32_281}


def test_miniswe_per_step_costs_sum_to_recorded_instance_cost(miniswe: tuple) -> None:  # type: ignore[type-arg]
    for t in miniswe:
        assert t.total_cost_usd == pytest.approx(t.instance_cost_usd, abs=1e-5), t.instance_id
        assert [s.step for s in t.steps] == list(range(t.n_steps))
    imputed = [t for t in miniswe if t.steps and t.steps[0].cost_imputed]
    assert len(imputed) == 16
    assert all(s.cost_usd > 0 for t in imputed for s in t.steps)


def test_miniswe_subset_load_keeps_only_requested_instances(need_data: object) -> None:
    path = need_data("agent", "miniswe_gemini3pro_swebv")  # type: ignore[operator]
    ids = frozenset({"astropy__astropy-12907", "django__django-11299"})
    trajs = load_miniswe(path, instance_ids=ids)
    assert {t.instance_id for t in trajs} == ids
    first = next(t for t in trajs if t.instance_id == "astropy__astropy-12907")
    assert first.resolved
    assert first.n_steps == 20
    assert first.steps[0].command == "ls -R"


def test_taubench_matches_readme_facts(need_data: object) -> None:
    episodes = load_taubench(need_data("agent", "taubench_gpt4o_airline"), raw=True)  # type: ignore[operator]
    assert len(episodes) == 200
    assert statistics.fmean(e.reward for e in episodes) == pytest.approx(0.42, abs=0.005)
    commits = [c for e in episodes for c in e.commits]
    assert len(commits) == 250
    assert sum(c.confirmed_by_user is False for c in commits) == 55
    with_unconfirmed = [e.reward for e in episodes if e.n_unconfirmed_commits > 0]
    all_confirmed = [e.reward for e in episodes if e.commits and e.n_unconfirmed_commits == 0]
    assert statistics.fmean(with_unconfirmed) == pytest.approx(0.15, abs=0.01)
    assert statistics.fmean(all_confirmed) == pytest.approx(0.29, abs=0.01)
    # raw read attaches arguments and the user's words before each call
    book = next(c for c in commits if c.tool == "book_reservation")
    assert "user_id" in book.arguments
    assert all(e.gt_actions for e in episodes if e.n_gt_actions)


def _write_steps(path: Path, header: str, body: str) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(header + "\n" + body)


def test_malformed_steps_file_names_file_line_and_field(tmp_path: Path) -> None:
    folder = tmp_path / "miniswe_gemini3pro_swebv"
    folder.mkdir()
    header = (
        "instance_id,step,action_class,autonomy_class,prompt_tokens,completion_tokens,reasoning_tokens,"
        "cached_tokens,cost_usd,returncode,obs_chars,obs_truncated,format_error,command"
    )
    _write_steps(folder / "steps.csv.gz", header, "a,0,read,read,10,1,0,0,oops,0,5,0,0,ls\n")
    (folder / "instances.csv").write_text(
        "instance_id,repo,resolved,exit_status,instance_cost_usd\na,r,1,Submitted,1\n"
    )
    with pytest.raises(SchemaError, match=r"steps\.csv\.gz: line 2: field 'cost_usd'='oops'"):
        load_miniswe(folder)


def test_missing_column_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "miniswe_gemini3pro_swebv"
    folder.mkdir()
    _write_steps(folder / "steps.csv.gz", "instance_id,step", "a,0\n")
    with pytest.raises(SchemaError, match=r"line 1: missing column\(s\) \['action_class'"):
        load_miniswe(folder)


def test_absent_folder_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="miniswe_gemini3pro_swebv"):
        load_miniswe(tmp_path)

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


# ---- files of one dataset that disagree (a truncated steps file) -----------------------------------


def _copy_truncated(src: Path, dst: Path, keep: int | None = None, keep_bytes: int | None = None) -> None:
    """Copy ``src`` (a CSV or .csv.gz) to ``dst``, keeping its header and ``keep`` data lines, or its
    first ``keep_bytes`` bytes (a gzip stream cut short)."""
    if keep_bytes is not None:
        dst.write_bytes(src.read_bytes()[:keep_bytes])
        return
    with gzip.open(src, "rt", encoding="utf-8", newline="") as fh:
        text = fh.read()
    # a CSV line break outside quotes; the taubench/miniswe steps files quote multi-line commands
    import csv
    import io

    rows = list(csv.reader(io.StringIO(text, newline="")))
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows(rows[: 1 + (keep if keep is not None else len(rows))])
    with gzip.open(dst, "wt", encoding="utf-8", newline="") as fh:
        fh.write(out.getvalue())


def _tau_copy(need_data: object, tmp_path: Path, **cut: int) -> Path:
    import shutil

    src = need_data("agent", "taubench_gpt4o_airline")  # type: ignore[operator]
    dst = tmp_path / "taubench_gpt4o_airline"
    dst.mkdir()
    shutil.copy(src / "episodes.csv", dst / "episodes.csv")
    shutil.copy(src / "gpt-4o-airline.json.xz", dst / "gpt-4o-airline.json.xz")
    _copy_truncated(src / "steps.csv.gz", dst / "steps.csv.gz", **cut)
    return dst


def test_untruncated_copy_loads_like_the_original(need_data: object, tmp_path: Path) -> None:
    """The copy helper itself changes nothing when nothing is cut (so the failures below are the cut)."""
    episodes = load_taubench(_tau_copy(need_data, tmp_path))
    assert len(episodes) == 200
    assert sum(not e.calls for e in episodes) == 18  # the real no-tool-call episodes are not an error
    assert sum(len(e.calls) for e in episodes) == 1164


@pytest.mark.parametrize(
    ("keep", "n_bad", "first"),
    [
        (3000, 85, "task 15 trial 2 (line 117): 9 step row(s)"),  # cut inside task 15 trial 2
        (
            2558,
            100,
            "task 0 trial 2 (line 102): 0 step row(s)",
        ),  # cut where trial 1 ends: trials 2 and 3 gone
    ],
)
def test_truncated_taubench_steps_name_file_field_and_expected_form(
    need_data: object, tmp_path: Path, keep: int, n_bad: int, first: str
) -> None:
    folder = _tau_copy(need_data, tmp_path, keep=keep)
    with pytest.raises(SchemaError) as err:
        load_taubench(folder)
    msg = str(err.value)
    assert msg.startswith(f"{folder / 'steps.csv.gz'}: the steps of {n_bad} of the 200 episodes")
    assert f"({first}, field 'n_messages'=" in msg
    assert f"of the 200 episodes listed in {folder / 'episodes.csv'} disagree" in msg
    assert "field 'n_messages'=" in msg
    assert "expected n_messages - 1 rows per episode" in msg and "truncated or from another run" in msg


def test_cut_gzip_stream_is_a_schema_error_not_a_traceback(need_data: object, tmp_path: Path) -> None:
    folder = _tau_copy(need_data, tmp_path, keep_bytes=12_000)
    with pytest.raises(SchemaError, match=r"steps\.csv\.gz: after line \d+: truncated or corrupt gzip"):
        load_taubench(folder)


def test_raw_file_missing_an_episode_is_named(need_data: object, tmp_path: Path) -> None:
    import json
    import lzma

    folder = _tau_copy(need_data, tmp_path)
    raw = folder / "gpt-4o-airline.json.xz"
    with lzma.open(raw, "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    dropped = data.pop(7)
    raw.unlink()
    with lzma.open(raw, "wt", encoding="utf-8", preset=0) as fh:
        json.dump(data, fh)
    with pytest.raises(SchemaError) as err:
        load_taubench(folder, raw=True)
    assert str(err.value).startswith(f"{raw}: fields 'task_id'/'trial': no trajectory for task ")
    assert f"task {dropped['task_id']} trial {dropped['trial']}" in str(err.value)


_TAU_STEPS_HEAD = (
    "task_id,trial,step,actor,kind,tool,autonomy_class,chars,matches_gt_action,prev_user_msg_affirmative,"
    "episode_reward"
)
_TAU_EPISODES_HEAD = "task_id,trial,reward,n_messages,n_tool_calls,n_gt_actions,n_gt_commit_actions"


def _tau_folder(tmp_path: Path, episodes: list[str], steps: list[str]) -> Path:
    folder = tmp_path / "taubench_gpt4o_airline"
    folder.mkdir()
    (folder / "episodes.csv").write_text("\n".join([_TAU_EPISODES_HEAD, *episodes]) + "\n")
    _write_steps(folder / "steps.csv.gz", _TAU_STEPS_HEAD, "\n".join(steps) + "\n")
    return folder


_EP0 = [
    "0,0,0,user,message,,,5,,,1",
    "0,0,1,agent,tool_call,get_user_details,read,9,1,,1",
    "0,0,2,tool,observation,,,3,,,1",
]
_EP1 = ["1,0,0,user,message,,,5,,,0", "1,0,1,agent,respond,,respond,9,,,0"]


def test_episode_without_tool_calls_is_fine_when_the_files_agree(tmp_path: Path) -> None:
    folder = _tau_folder(tmp_path, ["0,0,1,4,1,1,0", "1,0,0,3,0,1,0"], _EP0 + _EP1)
    eps = load_taubench(folder)
    assert [(e.task_id, len(e.calls)) for e in eps] == [(0, 1), (1, 0)]


def test_missing_episode_steps_are_not_read_as_no_tool_calls(tmp_path: Path) -> None:
    folder = _tau_folder(tmp_path, ["0,0,1,4,1,1,0", "1,0,0,3,0,1,0"], _EP0)  # episode 1 cut off
    with pytest.raises(
        SchemaError, match=r"task 1 trial 0 \(line 3\): 0 step row\(s\), field 'n_messages'=3\)"
    ):
        load_taubench(folder)


def test_tool_call_count_disagreeing_is_named(tmp_path: Path) -> None:
    steps = [_EP0[0], _EP0[1].replace("tool_call", "respond"), _EP0[2], *_EP1]  # rows agree, calls do not
    folder = _tau_folder(tmp_path, ["0,0,1,4,1,1,0", "1,0,0,3,0,1,0"], steps)
    with pytest.raises(
        SchemaError, match=r"task 0 trial 0 \(line 2\): 0 'tool_call' row\(s\), field 'n_tool_calls'=1\)"
    ):
        load_taubench(folder)


def test_steps_of_an_unlisted_episode_are_named(tmp_path: Path) -> None:
    folder = _tau_folder(tmp_path, ["0,0,1,4,1,1,0"], _EP0 + _EP1)
    with pytest.raises(
        SchemaError, match=r"steps\.csv\.gz: fields 'task_id'/'trial': .*absent from .*task 1 trial 0"
    ):
        load_taubench(folder)


def test_truncated_miniswe_steps_disagree_with_n_steps(need_data: object, tmp_path: Path) -> None:
    import shutil

    src = need_data("agent", "miniswe_gemini3pro_swebv")  # type: ignore[operator]
    dst = tmp_path / "miniswe_gemini3pro_swebv"
    dst.mkdir()
    shutil.copy(src / "instances.csv", dst / "instances.csv")
    _copy_truncated(src / "steps.csv.gz", dst / "steps.csv.gz", keep=10_010)
    with pytest.raises(SchemaError) as err:
        load_miniswe(dst)
    msg = str(err.value)
    assert msg.startswith(f"{dst / 'steps.csv.gz'}: the steps of ")
    assert f"of the 500 instances listed in {dst / 'instances.csv'} disagree" in msg
    assert "field 'n_steps'=" in msg and "expected n_steps rows per instance" in msg


def test_resolve_file_accepts_root_agent_folder_or_the_dataset_itself(tmp_path: Path) -> None:
    from tokenomy.interfaces.loaders.agent_data import MINISWE, resolve_file

    ds = tmp_path / "agent" / MINISWE
    ds.mkdir(parents=True)
    assert resolve_file(tmp_path, MINISWE) == ds
    assert resolve_file(tmp_path / "agent", MINISWE) == ds
    assert resolve_file(ds, MINISWE) == ds
    with pytest.raises(SchemaError, match=rf"'{MINISWE}' not found under .*expected <data>/agent/{MINISWE}"):
        resolve_file(tmp_path / "elsewhere", MINISWE)

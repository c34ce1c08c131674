"""Table-driven bad input for every loader and for the CLI's numeric flags: a clear error, never a traceback.

Each loader gets a small valid sample written here (no copies of the real data) and a fixed list of
mutations (empty, cut, flipped and non-UTF-8 bytes, huge / infinite / NaN / negative numbers, wrong
types, missing header, duplicated rows, a directory, a missing file, a truncated gzip stream). A case
passes when the loader returns a result or raises a ``TokenomyError`` whose one-line message names the
file; any other exception fails it. ``run_case`` is shared with ``test_fuzz_loaders.py``.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from tokenomy.core.errors import TokenomyError
from tokenomy.interfaces.cli import main
from tokenomy.interfaces.loaders.agent_data import load_miniswe, load_schedule, load_taubench
from tokenomy.interfaces.loaders.langfuse import load_langfuse
from tokenomy.interfaces.loaders.litellm import load_litellm
from tokenomy.interfaces.loaders.otlp import load_otlp
from tokenomy.interfaces.loaders.pricefiles import load_labels, load_price_file
from tokenomy.interfaces.loaders.routing import (
    load_long,
    load_price_table,
    load_routerarena,
    load_routerbench,
)
from tokenomy.interfaces.loaders.traces import load_blis, load_splitwise, load_trace

_SPAN = {
    "traceId": "0af7651916cd43dd8448eb211c80319c",
    "spanId": "b7ad6b7169203331",
    "startTimeUnixNano": "1",
    "endTimeUnixNano": "2",
    "attributes": [{"key": "gen_ai.usage.input_tokens", "value": {"intValue": "12"}}],
}
_SPEND = {
    "request_id": "c1",
    "spend": 0.004,
    "prompt_tokens": 1000,
    "completion_tokens": 300,
    "startTime": "2024-06-01T10:00:00Z",
    "endTime": "2024-06-01T10:00:02Z",
    "model": "gpt-4o",
    "session_id": "s",
    "status": "success",
}
_OBS = {
    "id": "o1",
    "traceId": "t1",
    "type": "GENERATION",
    "startTime": "2024-06-01T10:00:00Z",
    "endTime": "2024-06-01T10:00:01Z",
    "model": "gpt-4o",
    "usage": {"input": 10, "output": 5},
}


def _arena(gid: int, score: float = 1.0) -> str:
    rec = {
        "global_index": f"MMLU_{gid}",
        "question": "q",
        "evaluation_result": {"score": score, "inference_cost": 0.001},
        "token_usage": {"input_tokens": 10, "output_tokens": 3},
    }
    return json.dumps(rec)


def _rb(task: str, split: str) -> str:
    """A RouterBench file: two models, three prompts with ids unique to (task, split)."""
    head = "sample_id,prompt,eval_name,m-big,m-big|total_cost,m-small,m-small|total_cost\n"
    return head + "".join(f"{task}{split}{i},['p{i}'],{task},1,0.01,{i % 2},0.001\n" for i in range(3))


_TAU_STEPS = (
    "task_id,trial,step,actor,kind,tool,autonomy_class,matches_gt_action,prev_user_msg_affirmative\n"
    "0,0,0,user,message,,,,\n0,0,1,assistant,tool_call,get_user,read,1,0\n"
)
_SWE_STEPS = (
    "instance_id,step,action_class,autonomy_class,prompt_tokens,completion_tokens,reasoning_tokens,"
    "cached_tokens,cost_usd,returncode,obs_chars,obs_truncated,format_error,command\n"
    "a,0,read,read,100,10,0,0,0.01,0,5,0,0,ls\na,1,edit,edit,120,12,0,50,0.02,0,7,0,0,sed -i x f\n"
)


def _in(folder: str, name: str, others: dict[str, tuple[str, bool]], call: Callable[[Path], Any]) -> Any:
    """A loader reading folder ``folder`` whose file ``name`` is the mutated one; ``others`` stay valid."""

    def load(path: Path) -> Any:
        for other, (text, gz) in others.items():
            target = path.parent / other
            target.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
        return call(path.parent)

    return (folder, name, load)


# name -> (sample text, written gzip-compressed, (folder or "", file name, loader of the mutated path))
LOADERS: dict[str, tuple[str, bool, tuple[str, str, Callable[[Path], Any]]]] = {
    "long-csv": (
        "prompt_id,prompt,model,quality,cost_usd\np0,hi,a,1,0.1\np0,hi,b,0,0.01\np1,yo,a,0.5,0.2\np1,yo,b,1,0.02\n",
        False,
        ("", "d.csv", load_long),
    ),
    "long-jsonl": (
        "".join(
            json.dumps({"prompt_id": p, "prompt": "x", "model": m, "quality": 1, "cost_usd": 0.1}) + "\n"
            for p in ("p0", "p1")
            for m in ("a", "b")
        ),
        False,
        ("", "d.jsonl", load_long),
    ),
    "routerarena": (
        "\n".join(_arena(i) for i in range(3)) + "\n",
        False,
        _in(
            "ra",
            "m-big.jsonl",
            {"m-small.jsonl": ("\n".join(_arena(i, 0) for i in range(3)), False)},
            load_routerarena,
        ),
    ),
    "routerbench": (
        _rb("mbpp", "test"),
        True,
        _in(
            "rb",
            "mbpp_test.csv.gz",
            {
                f"{t}_{s}.csv.gz": (_rb(t, s), True)
                for t in ("arc_challenge", "mbpp", "winograde")
                for s in ("train", "test")
                if (t, s) != ("mbpp", "test")
            },
            load_routerbench,
        ),
    ),
    "price-toml": (
        'date = "2024-06-01"\n[models.a]\ninput_usd_per_mtok = 1.0\noutput_usd_per_mtok = 2.0\n',
        False,
        ("", "p.toml", load_price_table),
    ),
    "price-json": (
        json.dumps({"a": {"input_token_price_per_million": 1.0, "output_token_price_per_million": 2.0}}),
        False,
        ("", "cost.json", load_price_table),
    ),
    "trace-csv": (
        "arrival_s,prompt_tokens,output_tokens,tenant\n0.0,100,20,a\n0.5,200,30,b\n1.0,50,10,a\n",
        False,
        ("", "t.csv", load_trace),
    ),
    "trace-mooncake": (
        "".join(
            json.dumps(
                {"timestamp": 10 * i, "input_length": 600, "output_length": 20, "hash_ids": [1, 2 + i]}
            )
            + "\n"
            for i in range(3)
        ),
        True,
        ("", "m.jsonl.gz", load_trace),
    ),
    "splitwise": (
        "model,hardware,tensor_parallel,prompt_size,batch_size,prompt_time,token_time\n"
        + "".join(
            f"llama2-70b,h100-80gb,8,{p},{b},{p * b / 100},{10 + b}\n" for p in (128, 512) for b in (1, 4)
        ),
        False,
        ("", "perf.csv", load_splitwise),
    ),
    "blis": (
        "models:\n  - id: meta-llama/llama-3.1-8b-instruct\n    GPU: H100\n    tensor_parallelism: 1\n"
        "    beta_coeffs: [1000, 10, 5]\n    total_kv_blocks: 1000\n",
        False,
        ("", "defaults.yaml", load_blis),
    ),
    "price-file": (
        json.dumps({"models": {"gpt-4o": {"input_usd_per_mtok": 2.5, "output_usd_per_mtok": 10}}}),
        False,
        ("", "prices.json", load_price_file),
    ),
    "labels-csv": (
        "request_id,v_usd,quality,group\nr1,2.5,1,a\nr2,1,0,b\n",
        False,
        ("", "l.csv", load_labels),
    ),
    "labels-jsonl": (
        '{"request_id": "r1", "v_usd": 2.5, "quality": 1}\n{"request_id": "r2", "v_usd": 1, "harm": 0}\n',
        False,
        ("", "l.jsonl", load_labels),
    ),
    "otlp": (
        json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [_SPAN]}]}]}) + "\n",
        False,
        ("", "x.jsonl", lambda p: load_otlp([p])),
    ),
    "litellm": (json.dumps(_SPEND) + "\n", False, ("", "spend.jsonl", lambda p: load_litellm([p]))),
    "langfuse": (json.dumps([_OBS]), False, ("", "obs.json", lambda p: load_langfuse([p]))),
    "miniswe": (
        _SWE_STEPS,
        True,
        _in(
            "miniswe_gemini3pro_swebv",
            "steps.csv.gz",
            {
                "instances.csv": (
                    "instance_id,repo,resolved,exit_status,instance_cost_usd\na,r,1,Submitted,0.03\n",
                    False,
                )
            },
            load_miniswe,
        ),
    ),
    "taubench": (
        _TAU_STEPS,
        True,
        _in(
            "taubench_gpt4o_airline",
            "steps.csv.gz",
            {
                "episodes.csv": (
                    "task_id,trial,reward,n_messages,n_gt_actions,n_gt_commit_actions\n0,0,1,3,1,0\n",
                    False,
                )
            },
            load_taubench,
        ),
    ),
    "schedule": (
        (resources.files("tokenomy.interfaces") / "resources" / "default_schedule.toml").read_text(),
        False,
        ("", "s.toml", load_schedule),
    ),
}

_NUM = re.compile(r"(?<![\w.\-])\d+(?:\.\d+)?(?![\w.])")


def _swap_number(text: str, new: str) -> str:
    """Replace the first number after the first line (or anywhere in a one-line file) with ``new``."""
    start = text.find("\n") + 1 if text.count("\n") > 1 else 0
    m = _NUM.search(text, start) or _NUM.search(text)
    return text if m is None else text[: m.start()] + new + text[m.end() :]


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


# mutation name -> text -> bytes (None: written specially in ``write_case``)
MUTATIONS: dict[str, Callable[[str], bytes | None]] = {
    "empty": lambda t: b"",
    "cut-half": lambda t: t.encode()[: len(t.encode()) // 2],
    "cut-1": lambda t: t.encode()[:-1],
    "flip-mid": lambda t: (
        b := bytearray(t.encode()),
        b.__setitem__(len(b) // 2, b[len(b) // 2] ^ 0x5A),
        bytes(b),
    )[2],
    "non-utf8": lambda t: t.encode()[: len(t) // 2] + b"\xff\xfe\xc3" + t.encode()[len(t) // 2 :],
    "nul-byte": lambda t: t.encode()[: len(t) // 3] + b"\x00" + t.encode()[len(t) // 3 :],
    "drop-header": lambda t: "".join(_lines(t)[1:]).encode(),
    "drop-row": lambda t: "".join(_lines(t)[:-1]).encode(),
    "dup-rows": lambda t: (t + "".join(_lines(t)[1:] or _lines(t))).encode(),
    "huge-int": lambda t: _swap_number(t, "9" * 400).encode(),
    "huge-float": lambda t: _swap_number(t, "1e999").encode(),
    "inf": lambda t: _swap_number(t, "inf").encode(),
    "nan": lambda t: _swap_number(t, "NaN").encode(),
    "negative": lambda t: _swap_number(t, "-5").encode(),
    "fraction": lambda t: _swap_number(t, "2.5").encode(),
    "wrong-type-text": lambda t: _swap_number(t, '"abc"').encode(),
    "wrong-type-list": lambda t: _swap_number(t, "[1, 2]").encode(),
    "wrong-type-bool": lambda t: _swap_number(t, "true").encode(),
    "crlf": lambda t: t.replace("\n", "\r\n").encode(),
    "gzip-truncated": lambda t: None,
    "directory": lambda t: None,
    "missing": lambda t: None,
}


def write_case(tmp: Path, loader: str, mutation: str, data: bytes | None = None) -> Path:
    """Write loader ``loader``'s sample, mutated by ``mutation`` (or raw ``data``), and return the path."""
    text, gz, (folder, name, _) = LOADERS[loader]
    base = tmp / folder if folder else tmp
    base.mkdir(parents=True, exist_ok=True)
    path = base / name
    if data is None:
        body = MUTATIONS[mutation](text)
        if mutation == "gzip-truncated":
            packed = gzip.compress(text.encode())
            data = packed[: len(packed) // 2]
        elif mutation == "directory":
            path.mkdir()
            return path
        elif mutation == "missing":
            return path
        else:
            assert body is not None
            data = gzip.compress(body) if gz else body
    path.write_bytes(data)
    return path


def run_case(loader: str, path: Path) -> str:
    """Load ``path``: "valid" or "error" (a TokenomyError naming the file); anything else propagates."""
    try:
        LOADERS[loader][2][2](path)
    except TokenomyError as exc:
        msg = str(exc)
        assert path.name in msg or path.parent.name in msg, f"message does not name the file: {msg}"
        assert "\n" not in msg.strip(), f"message is not one line: {msg!r}"
        return "error"
    return "valid"


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_valid_sample_loads(loader: str, tmp_path: Path) -> None:
    text, gz, _ = LOADERS[loader]
    assert (
        run_case(
            loader, write_case(tmp_path, loader, "", gzip.compress(text.encode()) if gz else text.encode())
        )
        == "valid"
    )


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_bad_file_gives_clear_error_or_valid_result(loader: str, mutation: str, tmp_path: Path) -> None:
    outcome = run_case(loader, write_case(tmp_path, loader, mutation))
    print(f"CASE {loader}/{mutation}: {outcome}")
    if mutation in ("directory", "gzip-truncated", "non-utf8"):
        assert outcome == "error"


_SERVE = ["serve", "simulate", "--trace", "x.csv"]
_PRED = ["serve", "prediction3"]
_ROUTE = ["route", "eval"]
_TAU = ["agent", "tau"]
CLI_FLAGS: list[list[str]] = [
    *([*_SERVE, "--kv-blocks", v] for v in ("0", "-1", "x", "1.5")),
    *([*_SERVE, "--limit", v] for v in ("0", "-3", "inf", "")),
    *([*_SERVE, "--seed", v] for v in ("-1", "nan")),
    *([*_SERVE, "--max-num-seqs", v] for v in ("0", "-2")),
    *([*_SERVE, "--max-batched-tokens", v] for v in ("0",)),
    *([*_SERVE, "--spec-k", v] for v in ("-1",)),
    *([*_SERVE, "--spec-alpha", v] for v in ("2", "nan", "-0.1")),
    *([*_SERVE, "--kv-bandwidth-gb-s", v] for v in ("0", "inf", "nan")),
    *([*_SERVE, "--servegen-top", v] for v in ("0",)),
    *([*_SERVE, "--servegen-start-s", v] for v in ("-1",)),
    *([*_SERVE, "--servegen-duration-s", v] for v in ("0", "nan")),
    *([*_SERVE, "--servegen-rate-factor", v] for v in ("0", "-1", "inf")),
    *([*_SERVE, "--ledger-sample", v] for v in ("0",)),
    *([*_PRED, "--window-s", v] for v in ("0", "nan")),
    *([*_PRED, "--base-rate-scale", v] for v in ("-1", "inf")),
    *([*_PRED, "--long-prompt-median", v] for v in ("0", "nan")),
    ["demo", "--only", "typo"],
    ["demo", "--only", ""],
    *([*_ROUTE, "--lam", v] for v in ("nan", "-1", "inf")),
    *([*_ROUTE, "--rho", v] for v in ("-1", "nan")),
    *([*_ROUTE, "--test-share", v] for v in ("0", "1.5", "nan")),
    *([*_ROUTE, "--boot", v] for v in ("0", "-5")),
    *([*_ROUTE, "--seed", v] for v in ("-1",)),
    *(
        ["audit", "x.jsonl", f, v]
        for f, v in (("--v", "nan"), ("--lam", "-1"), ("--rho", "inf"), ("--max-requests", "-3"))
    ),
    *(
        [*_TAU, f, v]
        for f, v in (("--folds", "1"), ("--p-catch", "1.5"), ("--p-catch", "nan"), ("--seed", "-2"))
    ),
    ["agent", "eval", "--seed", "-1"],
    *(["ledger", "summary", "x.duckdb", "--top", v] for v in ("0", "-1")),
]


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 2
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "argv", CLI_FLAGS, ids=[" ".join(a[-2:]) + f" #{i}" for i, a in enumerate(CLI_FLAGS)]
)
def test_bad_numeric_flag_is_a_one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _cli(argv, capsys)
    errors = [line for line in err.splitlines() if "error:" in line]
    print(f"CASE cli {' '.join(argv)}: exit {code}: {errors}")
    assert code != 0 and "Traceback" not in err and len(errors) == 1
    assert argv[-2].lstrip("-") in errors[0] or "--only" in errors[0]


@pytest.mark.parametrize(
    ("loader", "mutation", "cmd"),
    [
        ("otlp", "non-utf8", ["audit", "{path}", "--format", "otlp"]),
        ("otlp", "gzip-truncated", ["audit", "{path}", "--format", "otlp"]),
        ("litellm", "cut-half", ["audit", "{path}", "--format", "litellm"]),
        ("labels-csv", "nan", ["audit", "{other}", "--labels", "{path}"]),
        ("price-file", "inf", ["audit", "{other}", "--prices", "{path}"]),
        ("price-file", "directory", ["audit", "{other}", "--prices", "{path}"]),
        ("schedule", "non-utf8", ["audit", "{other}", "--schedule", "{path}"]),
        (
            "trace-csv",
            "huge-int",
            ["serve", "simulate", "--trace", "{path}", "--step-model", "linear:0.01,0.001,0.0001"],
        ),
        (
            "trace-csv",
            "non-utf8",
            ["serve", "simulate", "--trace", "{path}", "--step-model", "linear:0.01,0.001,0.0001"],
        ),
        ("long-csv", "gzip-truncated", ["route", "eval", "--data", "{path}", "--format", "long"]),
        ("long-csv", "directory", ["route", "eval", "--data", "{path}", "--format", "long"]),
        ("price-toml", "nan", ["route", "eval", "--data", "{other}", "--prices", "{path}"]),
    ],
)
def test_bad_file_through_the_cli_is_a_one_line_error(
    loader: str, mutation: str, cmd: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_case(tmp_path / "bad", loader, mutation)
    other = write_case(tmp_path / "ok", "otlp" if cmd[0] == "audit" else "long-csv", "crlf")
    code, err = _cli([a.format(path=path, other=other) for a in cmd], capsys)
    print(f"CASE cli-file {loader}/{mutation}: exit {code}: {err.strip()}")
    assert code != 0 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and path.name in err

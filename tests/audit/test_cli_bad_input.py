"""Bad input through the CLI: stop with file:line and write nothing; --skip-bad counts instead."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tokenomy.interfaces.cli import main

SPAN = {
    "traceId": "0af7651916cd43dd8448eb211c80319c",
    "spanId": "b7ad6b7169203331",
    "parentSpanId": "",
    "startTimeUnixNano": "1700000000000000000",
    "endTimeUnixNano": "1700000001000000000",
    "attributes": [
        {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
        {"key": "gen_ai.request.model", "value": {"stringValue": "no-such-model-xyz"}},
        {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "100"}},
        {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "10"}},
    ],
}


def write(path: Path, bad_line: bool) -> None:
    line = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [SPAN]}]}]})
    path.write_text(
        line
        + "\n"
        + ("{not json\n" if bad_line else "")
        + line.replace("b7ad6b7169203331", "b7ad6b7169203332")
        + "\n"
    )


def test_malformed_line_stops_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "t.jsonl"
    write(src, bad_line=True)
    report, out = tmp_path / "r.html", tmp_path / "r.json"
    rc = main(["audit", str(src), "--report", str(report), "--json", str(out)])
    assert rc == 2
    assert f"{src}:2: invalid JSON" in capsys.readouterr().err
    assert not report.exists() and not out.exists()


def test_skip_bad_counts_and_unknown_model_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "t.jsonl"
    write(src, bad_line=True)
    out = tmp_path / "r.json"
    assert main(["audit", str(src), "--skip-bad", "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert payload["skipped_lines"]["count"] == 1
    assert payload["pricing"]["unknown_models"] == {"no-such-model-xyz": 2}
    assert payload["totals"]["unpriced_llm_calls"] == 2
    out_text = capsys.readouterr().out
    assert "warning: Unknown models: no-such-model-xyz (2 calls)" in out_text
    assert "left out of the cost totals" in out_text
    assert main(["audit", str(src), "--skip-bad", "--unknown-zero", "--json", str(out)]) == 0
    zero = json.loads(out.read_text())
    assert zero["pricing"]["unknown_priced_zero"] is True
    assert zero["totals"]["unpriced_llm_calls"] == 0 and zero["totals"]["unknown_model_calls"] == 2
    assert (
        payload["requests"][0]["unpriced_llm_calls"] == 2 and zero["requests"][0]["unpriced_llm_calls"] == 0
    )


def test_price_override_file_prices_private_model(tmp_path: Path) -> None:
    src = tmp_path / "t.jsonl"
    write(src, bad_line=False)
    prices = tmp_path / "p.yaml"
    prices.write_text("models:\n  no-such-model-xyz: {input_usd_per_mtok: 100, output_usd_per_mtok: 1000}\n")
    out = tmp_path / "r.json"
    assert main(["audit", str(src), "--prices", str(prices), "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert payload["pricing"]["unknown_models"] == {}
    assert payload["totals"]["cost_usd"] == pytest.approx(2 * (100 * 100 + 10 * 1000) / 1e6)


def test_litellm_price_map(tmp_path: Path) -> None:
    src = tmp_path / "t.jsonl"
    write(src, bad_line=False)
    prices = tmp_path / "litellm.json"
    prices.write_text(
        json.dumps(
            {
                "sample_spec": {"max_tokens": 1},
                "no-such-model-xyz": {
                    "input_cost_per_token": 1e-5,
                    "output_cost_per_token": 2e-5,
                    "litellm_provider": "custom",
                },
            }
        )
    )
    out = tmp_path / "r.json"
    assert main(["audit", str(src), "--prices", str(prices), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["totals"]["cost_usd"] == pytest.approx(2 * (100e-5 + 10 * 2e-5))


def gateway_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """One good record, one bad one (line 2 of the data), one good, for each gateway format."""
    from test_gateways import OBSERVATIONS, SPEND_ROWS

    spend = [dict(SPEND_ROWS[0]), dict(SPEND_ROWS[1])]
    spend[1]["session_id"] = "sess-B"
    jl = tmp_path / "spend.jsonl"
    jl.write_text(
        json.dumps(spend[0]) + "\n" + '{"request_id": "x", "prompt_tokens": \n' + json.dumps(spend[1]) + "\n"
    )
    csv_path = tmp_path / "spend.csv"
    cols = sorted({k for r in spend for k in r})
    with csv_path.open("w", newline="") as f:
        w = csv.DictWriter(f, cols)
        w.writeheader()
        w.writerows([spend[0], dict(spend[0], request_id="chatcmpl-3", prompt_tokens="lots"), spend[1]])
    obs = OBSERVATIONS["data"]
    lf = tmp_path / "obs.jsonl"
    lf.write_text(
        json.dumps(obs[0])
        + "\n"
        + json.dumps({"id": "no-trace", "type": "GENERATION"})
        + "\n"
        + json.dumps(obs[1])
        + "\n"
    )
    return {
        "litellm-jsonl": (jl, f"{jl}:2: invalid JSON"),
        "litellm-csv": (csv_path, f"{csv_path}:3"),
        "langfuse": (lf, f"{lf}:2: missing field 'traceId'"),
    }


@pytest.mark.parametrize("kind", ["litellm-jsonl", "litellm-csv", "langfuse"])
def test_gateway_bad_record_stops_writes_nothing_and_skip_bad_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    src, where = gateway_files(tmp_path)[kind]
    fmt = kind.split("-")[0]
    report, out = tmp_path / "r.html", tmp_path / "r.json"
    assert main(["audit", str(src), "--format", fmt, "--report", str(report), "--json", str(out)]) == 2
    assert where in capsys.readouterr().err
    assert not report.exists() and not out.exists()
    args = ["audit", str(src), "--format", fmt, "--skip-bad", "--report", str(report), "--json", str(out)]
    assert main(args) == 0
    payload = json.loads(out.read_text())
    assert payload["skipped_lines"]["count"] == 1 and where in payload["skipped_lines"]["first"][0]
    assert payload["totals"]["steps"] == 2 and report.exists()


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        (
            "l.csv",
            "request_id,v_usd\nabc,12\ndef,lots\n",
            "l.csv:3: field 'v_usd' must be a number, got 'lots'",
        ),
        ("l.jsonl", '{"request_id": "a", "v_usd": 3}\n{oops\n', "l.jsonl:2: invalid JSON"),
        ("l.json", "[1, 2]", "l.json: record 0 needs a 'request_id'"),
    ],
)
def test_bad_labels_file_names_file_and_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, where: str
) -> None:
    src = tmp_path / "t.jsonl"
    write(src, bad_line=False)
    labels = tmp_path / name
    labels.write_text(text)
    out = tmp_path / "r.json"
    assert main(["audit", str(src), "--labels", str(labels), "--json", str(out)]) == 2
    assert where in capsys.readouterr().err and not out.exists()


def test_labels_for_unknown_ids_are_reported(tmp_path: Path) -> None:
    src = tmp_path / "t.jsonl"
    write(src, bad_line=False)
    labels = tmp_path / "l.csv"
    labels.write_text(f"request_id,v_usd\n{SPAN['traceId']},50\nno-such-trace,7\n")
    out = tmp_path / "r.json"
    assert main(["audit", str(src), "--labels", str(labels), "--json", str(out), "--unknown-zero"]) == 0
    payload = json.loads(out.read_text())
    assert payload["prices"]["v_usd"]["sources"] == {"user": 1}
    assert any("1 of 2 ids match no request" in n and "no-such-trace" in n for n in payload["notes"])


def test_format_is_guessed_from_the_first_record(tmp_path: Path) -> None:
    from test_gateways import OBSERVATIONS, SPEND_ROWS

    from tokenomy.interfaces.cmd_audit import _guess

    otlp = tmp_path / "a.jsonl"
    write(otlp, bad_line=False)
    spend = tmp_path / "b.jsonl"
    spend.write_text(json.dumps(SPEND_ROWS[0]) + "\n")
    page = tmp_path / "c.json"
    page.write_text(json.dumps(OBSERVATIONS, indent=2))  # pretty-printed: not one record per line
    lines = tmp_path / "d.jsonl"
    lines.write_text("\n".join(json.dumps(o) for o in OBSERVATIONS["data"]) + "\n")
    guessed = {p.name: _guess(p) for p in (otlp, spend, page, lines)}
    assert guessed == {"a.jsonl": "otlp", "b.jsonl": "litellm", "c.json": "langfuse", "d.jsonl": "langfuse"}
    out = tmp_path / "r.json"
    assert main(["audit", str(lines), "--json", str(out)]) == 0  # no --format needed
    assert json.loads(out.read_text())["format"] == "langfuse"


def miniswe_folder(root: Path, instances: int, with_steps: int) -> Path:
    """A mini-swe-agent folder in the dataset's schema: ``instances`` listed, steps for the first few."""
    d = root / "miniswe_gemini3pro_swebv"
    d.mkdir()
    inst = ["instance_id,repo,resolved,exit_status,instance_cost_usd"]
    inst += [f"repo__repo-{i},repo,{i % 2},Submitted,0.05" for i in range(instances)]
    (d / "instances.csv").write_text("\n".join(inst) + "\n")
    head = (
        "instance_id,step,action_class,autonomy_class,prompt_tokens,completion_tokens,reasoning_tokens,"
        "cached_tokens,cost_usd,returncode,obs_chars,obs_truncated,format_error,command"
    )
    rows = [head]
    for i in range(with_steps):
        for k, (act, cls, cmd) in enumerate(
            [("search", "read", "ls"), ("edit", "draft", "sed -i s/a/b/ f.py"), ("test", "execute", "pytest")]
        ):
            rows.append(f"repo__repo-{i},{k},{act},{cls},{1000 * (k + 1)},50,0,0,0.01,0,10,0,0,{cmd}")
    import gzip

    with gzip.open(d / "steps.csv.gz", "wt") as f:
        f.write("\n".join(rows) + "\n")
    return d


def test_dataset_whose_files_disagree_names_file_field_and_expectation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = miniswe_folder(tmp_path, instances=50, with_steps=7)
    out = tmp_path / "r.json"
    assert main(["audit", str(d), "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and not out.exists()
    assert f"{d / 'steps.csv.gz'}: field 'instance_id': steps for only 7 of the 50 instances" in err
    assert "expected every listed instance to have its steps" in err


def test_stopping_curve_survives_requests_without_steps() -> None:
    """Defence in depth: a request with no LLM call (quality 1) does not break the stopping margin."""
    from tokenomy.audit.engine import run_audit
    from tokenomy.audit.importers.common import build_requests
    from tokenomy.audit.log import AuditLog, StepBuilder
    from tokenomy.audit.pricing import StaticPriceTable

    b = StepBuilder()
    for k in range(3):
        b.add(request_id="a", step_id=f"a:{k}", index=k, model="m", input_tokens=100, output_tokens=5)
    steps = b.build()
    known = {"a": {"quality": 1.0}, "empty": {"quality": 1.0}}
    log = AuditLog("t", steps, build_requests(["a", "empty"], known), ())
    table = StaticPriceTable.from_override(
        {"models": {"m": {"input_usd_per_mtok": 1, "output_usd_per_mtok": 1}}}
    )
    sm = run_audit(log, table).stopping
    assert sm is not None and [r["step"] for r in sm["rows"]] == [0, 1, 2]
    assert sm["rows"][2]["hazard"] > 0  # "a" resolved at its last step; "empty" counts nowhere


def test_terminal_summary_shows_the_stopping_margin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = miniswe_folder(tmp_path, instances=6, with_steps=6)
    out = tmp_path / "r.json"
    assert main(["audit", str(d), "--json", str(out)]) == 0
    sm = json.loads(out.read_text())["stopping_margin"]
    text = capsys.readouterr().out
    assert "stopping margin: marginal step cost against its marginal success gain" in text
    share = f"({sm['share_of_cost_beyond_margin']:.1%} of cost)"
    assert f"stopping margin at V = ${sm['v_usd']:g}: " in text and share in text


@pytest.mark.parametrize(
    ("value", "shown"),
    [({"intValue": "abc"}, "'abc'"), ({"stringValue": "12k"}, "'12k'"), ({"doubleValue": 1.5}, "1.5")],
)
def test_non_integer_token_count_names_the_attribute(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: dict[str, object], shown: str
) -> None:
    span = json.loads(json.dumps(SPAN))
    span["attributes"][2]["value"] = value  # gen_ai.usage.input_tokens
    src = tmp_path / "b2.jsonl"
    src.write_text(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}) + "\n")
    out = tmp_path / "r.json"
    assert main(["audit", str(src), "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{src}:1: span b7ad6b7169203331: attribute 'gen_ai.usage.input_tokens'" in err
    assert "integer" in err and shown in err and "malformed OTLP structure" not in err

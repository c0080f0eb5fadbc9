"""`infercost report` and `infercost compare` as a user runs them, on the recorded fixture bundles."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import FIXTURES, ROOT, run_cli

B = FIXTURES / "bundles"


def bundles(*names: str) -> list[str]:
    return [str(B / n) for n in names]


# ------------------------------------------------------------------------------------------ report
def test_report_terminal_over_a_directory() -> None:
    proc = run_cli("report", str(B))
    assert proc.returncode == 0, proc.stderr
    # every bundle in the folder is a row, each with its own label
    for label in ("smollm2-135m", "gemma3-270m", "fixture-mini"):
        assert label in proc.stdout
    assert "pass (95% CI)" in proc.stdout and "decode tok/s" in proc.stdout
    # runs of two suites: said once, as a note
    assert "span 2 suites" in proc.stderr


def test_report_markdown_writes_png_charts_beside_it(tmp_path: Path) -> None:
    out = tmp_path / "r.md"
    proc = run_cli(
        "report", *bundles("smollm2-mini", "gemma3-mini-priced", "smollm2-mini-priced", "smollm2-mini-cloud"),
        "-o", str(out), "--title", "Fixture | comparison",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert text.startswith("# Fixture \\| comparison\n")
    pngs = sorted(p.name for p in (tmp_path / "r-charts").glob("*.png"))
    assert pngs == ["breakeven.png", "cost-per-success.png", "energy-vs-speed.png", "latency.png",
                    "pareto.png", "power.png"]  # fmt: skip
    for name in pngs:
        data = (tmp_path / "r-charts" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
        assert f"](r-charts/{name})" in text
    for section in (
        "## Results per run",
        "## Per category",
        "## Per task",
        "## Provenance",
        "## Definitions",
    ):
        assert section in text
    # provenance names what produced the numbers
    for fact in ("model sha256", "suite hash", "engine build", "energy figures", "prices", "measured by"):
        assert fact in text
    assert "estimated (a model, not a sensor)" in text and "measured (sampled)" in text
    assert "as of 2026-11-26" in text


def test_report_explains_every_missing_chart(tmp_path: Path) -> None:
    out = tmp_path / "r.md"
    proc = run_cli("report", *bundles("smollm2-mini", "gemma3-mini"), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "*Not drawn:* No run has a cost per successful task" in text
    assert "*Not drawn:* No run has energy per task: no power sensor ran" in text
    # local runs only: the cloud side would be priced, not run, but the devices' own inputs are missing
    assert "*Not drawn:* Inputs missing: smollm2-135m: missing price\\_usd" in text
    assert "*Not drawn:* No run has a power trace" in text
    assert (tmp_path / "r-charts" / "latency.png").is_file()


def test_report_html_is_one_self_contained_file(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    proc = run_cli(
        "report", *bundles("smollm2-mini-priced", "gemma3-mini-priced", "smollm2-mini-cloud"), "-o", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]
    html = out.read_text()
    assert "<script" not in html.lower()
    # tables are tables: a macro's markup is not escaped a second time (it was, showing "&lt;td")
    assert html.count('<table class="metrics">') >= 3 and "&lt;td" not in html and "&lt;table" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html, re.I)
    assert "<link" not in html.lower() and "@import" not in html
    srcs = re.findall(r'<img src="([^"]+)"', html)
    assert len(srcs) == 6 and all(s.startswith("data:image/svg+xml;base64,") for s in srcs)
    assert "Content-Security-Policy" in html
    assert html.count("<details>") == 3  # one per task


def test_report_csv_and_json_exports(tmp_path: Path) -> None:
    csv, js = tmp_path / "r.csv", tmp_path / "r.json"
    proc = run_cli(
        "report", *bundles("smollm2-mini", "smollm2-mini-priced"), "--csv", str(csv), "-o", str(js)
    )
    assert proc.returncode == 0, proc.stderr
    frame = pd.read_csv(csv)
    assert set(frame["level"]) == {"run", "category", "task"}
    runs = frame[frame["level"] == "run"].set_index("run")
    assert len(runs) == 2 and list(runs["n"]) == [9, 9]
    unpriced = runs.loc["this machine"]
    assert pd.isna(unpriced["cost_per_task_usd"]) and pd.isna(unpriced["energy_per_task_j"])  # absent, not 0
    priced = runs.loc["Fixture desktop"]
    assert priced["cost_per_task_usd"] > 0 and priced["energy_per_task_j"] > 0
    assert len(frame[frame["level"] == "task"]) == 6
    data = json.loads(js.read_text())
    assert data["format"] == "infercost-report/1"
    assert data["fields"]["decode_tps_mean"]["unit"] == "tok/s"
    assert data["fields"]["cost_per_task_usd"]["higher_is_better"] is False
    row = next(r for r in data["rows"] if r["level"] == "run" and r["run"] == "this machine")
    assert row["cost_per_task_usd"] is None and row["decode_tps_mean"] > 0


def test_report_pool_merges_only_identical_configurations(tmp_path: Path) -> None:
    # smollm2-mini and -notext share every key property; -1thread differs in backend settings
    refs = bundles("smollm2-mini", "smollm2-mini-notext", "smollm2-mini-1thread")
    plain = run_cli("report", *refs, "--csv", str(tmp_path / "a.csv"))
    assert plain.returncode == 0, plain.stderr
    assert "kept apart: they differ in backend_settings" in plain.stderr
    assert "have the same configuration" in plain.stderr
    assert len(pd.read_csv(tmp_path / "a.csv").query("level == 'run'")) == 3
    pooled = run_cli("report", *refs, "--pool", "--csv", str(tmp_path / "b.csv"))
    assert pooled.returncode == 0, pooled.stderr
    runs = pd.read_csv(tmp_path / "b.csv").query("level == 'run'")
    assert sorted(runs["n"]) == [9, 18]
    merged = runs[runs["n"] == 18].iloc[0]
    assert "pooled ×2" in merged["run"] and merged["run_id"].count(",") == 1
    assert "pools 2 runs of one configuration" in pooled.stderr


def test_report_no_text_run_shows_no_texts(tmp_path: Path) -> None:
    """A bundle marked --no-text shows none of its texts, even where a record still holds one."""
    src = B / "gemma3-mini"
    dst = tmp_path / "leaky"
    shutil.copytree(src, dst)
    manifest = json.loads((dst / "manifest.json").read_text())
    manifest["settings"]["no_text"] = True
    (dst / "manifest.json").write_text(json.dumps(manifest))
    outputs = [json.loads(x)["output_text"] for x in (src / "records.jsonl").read_text().splitlines()]
    out = tmp_path / "r.html"
    proc = run_cli("report", str(dst), str(B / "smollm2-mini-notext"), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    html = out.read_text()
    assert "made with --no-text" in html
    for text in outputs:
        assert text and text not in html
    assert 'class="output"' not in html


def test_report_bad_inputs_exit_2_with_one_line(tmp_path: Path) -> None:
    for args, needle in (
        (["report", str(B / "smollm2-mini"), "-o", str(tmp_path / "r.pdf")], "unknown report format"),
        (["report", str(tmp_path / "nope")], "no bundle"),
        (["report", str(tmp_path)], "no result bundles in this directory"),
        (["report", str(B / "smollm2-mini"), "-o", str(tmp_path / "missing" / "r.md")], "does not exist"),
        (["report", str(B / "smollm2-mini"), "--kwh-usd", "-0.1"], "--kwh-usd -0.1: must be a finite price"),
    ):
        proc = run_cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert needle in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


# ----------------------------------------------------------------------------------------- compare
def test_compare_prints_differences_first_then_verdicts() -> None:
    proc = run_cli("compare", *bundles("smollm2-mini", "gemma3-mini"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "key property differs: model" and lines[1].startswith("  A: sha256:")
    table = "\n".join(lines)
    for label in ("pass", "TTFT mean ms", "decode tok/s", "e2e mean ms"):
        assert label in table
    assert re.search(r"\d+\.\d\dx (faster|slower) \((not )?significant", table)
    assert "Mann–Whitney U" in table


def test_compare_same_configuration() -> None:
    proc = run_cli("compare", *bundles("smollm2-mini", "smollm2-mini-notext"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("same configuration")


def test_compare_json_carries_the_test() -> None:
    proc = run_cli("compare", *bundles("smollm2-mini", "smollm2-mini-priced"), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [d["property"] for d in data["differences"]] == ["device"]
    m = data["metrics"]["decode_tps_mean"]
    assert m["n_baseline"] == 9 and m["p_value"] is not None and "significant" in m["verdict"]
    # cost exists on one side only: compared as "no samples", never as zero
    assert data["metrics"]["cost_per_task_usd"]["verdict"] == "no samples to compare"
    assert "energy" not in " ".join(data["not_compared"])


def test_compare_refuses_different_suites() -> None:
    proc = run_cli("compare", *bundles("smollm2-mini", "smollm2-mini-other-suite"))
    assert proc.returncode == 2
    assert "ran different suites" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("bad", ["-0.1", "12"])
def test_compare_rejects_bad_min_effect(bad: str) -> None:
    proc = run_cli("compare", *bundles("smollm2-mini", "gemma3-mini"), "--min-effect", bad)
    assert proc.returncode == 2 and "--min-effect" in proc.stderr


def test_report_dates_each_price_and_marks_report_time_assumptions(tmp_path: Path) -> None:
    # a real run on this machine's `auto` profile: electricity dated on its own, no hardware price
    bundle = next((ROOT / "reports" / "example" / "runs").glob("*smollm2*"))
    out = tmp_path / "r.md"
    proc = run_cli("report", str(bundle), "-o", str(out), "--hardware-usd", "1000")
    assert proc.returncode == 0, proc.stderr
    prices = next(line for line in out.read_text().splitlines() if line.startswith("| prices |"))
    assert "kwh\\_usd=0.16 (as of 2026-11-26 (" in prices and "EIA" in prices  # the date, then its age
    assert "UNDATED" not in prices
    assert "given at report time (the user's assumption, not a profile price): price\\_usd=1000.0" in prices


def test_json_without_file_prints_the_frame_on_stdout_like_every_command(tmp_path: Path) -> None:
    bundle = str(FIXTURES / "bundles" / "smollm2-mini")
    proc = run_cli("report", bundle, "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # stdout is the JSON document alone: no table before it
    assert doc["format"].startswith("infercost-report/") and doc["rows"]
    target = tmp_path / "frame.json"
    proc = run_cli("report", bundle, "-o", str(target))  # a file: -o FILE.json
    assert proc.returncode == 0, proc.stderr
    assert json.loads(target.read_text())["rows"] == doc["rows"]
    # `--json DIR` reads DIR's runs (it used to write a file named DIR and read none)
    proc = run_cli("report", "--json", str(FIXTURES / "bundles" / "smollm2-mini"))
    assert proc.returncode == 0 and json.loads(proc.stdout)["rows"] == doc["rows"]
    # the older `--json FILE` form is named, with the fix
    proc = run_cli("report", "--json", str(target.with_name("new.json")), bundle)
    assert proc.returncode == 2 and "--json prints the JSON on stdout" in proc.stderr
    assert "-o " in proc.stderr and not target.with_name("new.json").exists()

"""`infercost run` end to end, as a user runs it: real model, real bundle, exit codes, Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.results.bundle import read_bundle
from tests.helpers import ROOT, run_cli
from tests.helpers.records import wait_for_records

pytestmark = pytest.mark.engine  # real llama.cpp: runs the bundled model

MINI = str(ROOT / "tests" / "fixtures" / "suites" / "mini.toml")


def test_run_json_and_bundle(tmp_path: Path) -> None:
    proc = run_cli("run", "--suite", MINI, "-r", "2", "-w", "1", "--out", str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["overall"]["n"] == 6 and summary["overall"]["errors"] == 0
    assert set(summary["by_category"]) == {"factual", "reasoning", "completion"}
    bundle = read_bundle(summary["run_dir"])
    m = bundle.manifest
    assert m.complete and not m.interrupted
    assert m.model and len(m.model.sha256) == 64 and m.model.quantization == "Q4_1"
    assert m.host.cpu_logical >= 1 and m.host.cpu_model
    assert (m.backend.settings.n_threads or 0) >= 1 and m.backend.engine_version.startswith(
        "llama-cpp-python"
    )
    assert m.backend.model_load_ms > 0 and m.backend.rss_after_load_mb > 50
    assert m.suite.hash and m.suite.name == "mini"
    assert len(bundle.records) == 9
    assert sum(r.warmup for r in bundle.records) == 3
    for r in bundle.records:
        assert r.status == "ok" and r.ttft_ms and r.e2e_ms and r.token_count_source == "engine"
        assert r.output_text is not None and r.peak_rss_mb and r.passed is not None
    assert [r.repetition for r in bundle.records if r.task_id == "capital"] == [0, 0, 1]


def test_table_output(tmp_path: Path) -> None:
    proc = run_cli("run", "--suite", MINI, "-r", "1", "-w", "0", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    for needle in ("category", "pass", "TTFT p50", "decode tok/s", "e2e p95", "overall", "bundle:"):
        assert needle in proc.stdout


def test_no_text_keeps_prompts_and_outputs_out(tmp_path: Path) -> None:
    proc = run_cli(
        "run", "--suite", MINI, "-r", "1", "-w", "0", "--out", str(tmp_path), "--no-text", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    run_dir = Path(json.loads(proc.stdout)["run_dir"])
    blob = "".join(p.read_text() for p in run_dir.iterdir())
    assert "capital of France" not in blob and "Monday" not in blob
    for r in read_bundle(run_dir).records:
        assert r.output_text is None and r.output_sha256 and r.prompt_sha256


def test_shapes_summary_is_llama_bench_table(tmp_path: Path) -> None:
    suite = tmp_path / "sh.toml"
    suite.write_text(
        'name = "sh"\n'
        '[[tasks]]\nid = "pp32"\nshape = { prompt_tokens = 32, gen_tokens = 1 }\ncheck = { type = "none" }\n'
        '[[tasks]]\nid = "tg8"\nshape = { prompt_tokens = 0, gen_tokens = 8 }\ncheck = { type = "none" }\n'
    )
    proc = run_cli(
        "run", "--suite", str(suite), "-r", "2", "-w", "0", "--out", str(tmp_path / "runs"), "--json"
    )
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["shapes"]
    assert [r["test"] for r in rows] == ["pp32", "tg8"]
    assert all(r["tps_mean"] > 0 and r["n"] == 2 for r in rows)
    table = run_cli("run", "--suite", str(suite), "-r", "1", "-w", "0", "--out", str(tmp_path / "runs"))
    assert "| model" in table.stdout and "t/s |" in table.stdout
    assert "pp32" in table.stdout and "tg8" in table.stdout


def test_errored_requests_exit_3(tmp_path: Path) -> None:
    device = tmp_path / "small-ctx.toml"
    device.write_text('name = "small context"\n[llama_cpp]\nn_ctx = 128\n')
    suite = tmp_path / "s.toml"
    suite.write_text(
        'name = "s"\n'
        '[[tasks]]\nid = "long"\nprompt = "'
        + "word "
        * 300
        + '"\ncheck = { type = "regex", pattern = "." }\n'
        '[[tasks]]\nid = "short"\nprompt = "One, two,"\nmax_tokens = 3\ncheck = { type = "regex", pattern = "." }\n'
    )
    proc = run_cli(
        "run",
        "--device",
        str(device),
        "--suite",
        str(suite),
        "-r",
        "1",
        "-w",
        "0",
        "--out",
        str(tmp_path / "runs"),
        "--json",
    )
    assert proc.returncode == 3, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["overall"]["errors"] == 1 and summary["overall"]["n"] == 2


def test_unwritable_output_is_detected_before_the_run(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    t0 = time.monotonic()
    proc = run_cli("run", "--suite", MINI, "--out", str(blocker / "runs"))
    assert proc.returncode == 2
    assert "not writable" in proc.stderr and "--out" in proc.stderr and "Traceback" not in proc.stderr
    assert time.monotonic() - t0 < 30


def test_ctrl_c_exits_130_and_keeps_finished_records(tmp_path: Path) -> None:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench",
            "run",
            "--suite",
            MINI,
            "-r",
            "40",
            "-w",
            "0",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    records = wait_for_records(tmp_path, 3, timeout_s=120)
    assert records is not None, "the run never wrote records"
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    bundle = read_bundle(records.parent)
    assert not bundle.manifest.complete and bundle.manifest.interrupted
    ok = [r for r in bundle.records if r.status == "ok"]
    assert len(ok) >= 3
    assert all(r.status in ("ok", "cancelled") for r in bundle.records)

"""`infercost run --resume`, --min-time and --cooldown end to end: real model, real bundles."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.results.bundle import read_bundle
from tests.helpers import ROOT, run_cli
from tests.helpers.records import wait_for_records

pytestmark = pytest.mark.engine  # real llama.cpp: runs the bundled model

MINI = ROOT / "tests" / "fixtures" / "suites" / "mini.toml"


def slots(records: list) -> Counter[tuple[str, int, bool]]:  # type: ignore[type-arg]
    return Counter((r.task_id, r.repetition, r.warmup) for r in records)


def full_run(tmp_path: Path, *extra: str, suite: Path = MINI) -> Path:
    proc = run_cli("run", "--suite", str(suite), "--out", str(tmp_path / "runs"), "--json", *extra)
    assert proc.returncode == 0, proc.stderr
    return Path(json.loads(proc.stdout)["run_dir"])


def as_if_killed(run_dir: Path, keep: int, torn: bool = True) -> None:
    """What SIGKILL leaves: the first ``keep`` records, maybe half a line, a manifest still incomplete."""
    file = run_dir / "records.jsonl"
    lines = file.read_text().splitlines(keepends=True)
    file.write_text("".join(lines[:keep]) + (lines[keep][:57] if torn else ""))
    m = json.loads((run_dir / "manifest.json").read_text())
    m.update(complete=False, finished_utc=None, counts={})
    m["hygiene"].pop("end", None)
    (run_dir / "manifest.json").write_text(json.dumps(m))


def test_resume_runs_only_what_is_missing(tmp_path: Path) -> None:
    run_dir = full_run(tmp_path, "-r", "2", "-w", "1")
    before = read_bundle(run_dir).records
    as_if_killed(run_dir, keep=4)
    proc = run_cli("run", "--resume", str(run_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["complete"] and summary["overall"]["n"] == 6
    after = read_bundle(run_dir)
    assert after.manifest.complete and not after.manifest.interrupted
    assert slots(after.records) == slots(before) and len(after.records) == 9
    # the four records that survived the "kill" were kept as they were, not re-run
    assert [r.model_dump() for r in after.records[:4]] == [r.model_dump() for r in before[:4]]
    (entry,) = after.manifest.resumes
    assert entry.records_before == 4 and entry.same_boot is True
    assert entry.command is not None and entry.command[:2] == ["infercost", "run"]
    assert entry.hygiene_start is not None and (entry.hygiene_start.cpu_busy_pct or 0) >= 0
    # the session resumed at 'count' repetition 1, a measured request: the fresh process warmed up first
    assert entry.session_warmup == {"task_id": "count", "requests": 1}
    assert entry.torn_bytes_dropped == 57
    assert after.manifest.counts == {"records": 9, "measured": 6, "errors": 0}
    assert after.manifest.hygiene is not None and after.manifest.hygiene.end is not None


def test_resume_starting_on_a_warmup_needs_no_extra_one(tmp_path: Path) -> None:
    run_dir = full_run(tmp_path, "-r", "2", "-w", "1")
    as_if_killed(run_dir, keep=3, torn=False)  # 'capital' done; the next slot is 'count' warmup
    proc = run_cli("run", "--resume", str(run_dir.name), "--out", str(run_dir.parent))  # a run id works too
    assert proc.returncode == 0, proc.stderr
    after = read_bundle(run_dir)
    assert len(after.records) == 9
    assert after.manifest.resumes[0].session_warmup is None


def test_resume_after_ctrl_c_reruns_the_cancelled_request(tmp_path: Path) -> None:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-m", "bench", "run", "--suite", str(MINI), "-r", "4", "-w", "1"]
    proc = subprocess.Popen(
        [*cmd, "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # a shell that started pytest in the background made SIGINT ignored: give the child the default
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    records = wait_for_records(tmp_path, 3, timeout_s=120, poll_s=0.02)
    assert records is not None
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    interrupted = read_bundle(records.parent)
    assert interrupted.manifest.interrupted and not interrupted.manifest.complete
    done = run_cli("run", "--resume", str(records.parent))
    assert done.returncode == 0, done.stderr
    final = read_bundle(records.parent)
    assert final.manifest.complete and not final.manifest.interrupted
    assert len(final.records) == 15 and all(n == 1 for n in slots(final.records).values())
    assert all(r.status == "ok" for r in final.records)  # the cancelled line is superseded
    raw = records.read_text().count("\n")
    assert raw == 15 + sum('"cancelled"' in ln for ln in records.read_text().splitlines())


@pytest.fixture(scope="module")
def killed_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """One interrupted bundle, made once, from a suite file and a device profile tests may edit."""
    tmp = tmp_path_factory.mktemp("killed")
    suite = tmp / "suite.toml"
    suite.write_text(MINI.read_text())
    device = tmp / "dev.toml"
    device.write_text(
        'name = "test box"\nprice_usd = 500\nlifetime_years = 3\nutilization = 0.5\nas_of = 2026-11-26\nsource = "test"\n'
    )
    run_dir = full_run(tmp, "-r", "1", "-w", "0", "--device", str(device), suite=suite)
    as_if_killed(run_dir, keep=1)
    return run_dir, suite, device


@pytest.fixture()
def killed(killed_template: tuple[Path, Path, Path], tmp_path: Path) -> Iterator[tuple[Path, Path, Path]]:
    """A fresh copy of the interrupted bundle; the suite and profile are restored after each test."""
    run_dir, suite, device = killed_template
    copy = tmp_path / run_dir.name
    shutil.copytree(run_dir, copy)
    texts = suite.read_text(), device.read_text()
    yield copy, suite, device
    suite.write_text(texts[0])
    device.write_text(texts[1])


def refused(*args: str) -> str:
    proc = run_cli("run", *args)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and proc.stderr.strip().count("\n") == 0, proc.stderr
    return proc.stderr


def test_resume_refuses_changed_settings(killed: tuple[Path, Path, Path]) -> None:
    run_dir, _, _ = killed
    msg = refused("--resume", str(run_dir), "-r", "3")
    assert "run setting repetitions differs (the run used 1, now 3)" in msg
    msg = refused("--resume", str(run_dir), "--cooldown", "2")
    assert "run setting cooldown_s differs (the run used 0.0, now 2.0)" in msg
    msg = refused("--resume", str(run_dir), "--threads", "7")
    assert "backend setting n_threads differs" in msg


def test_resume_refuses_an_edited_suite(killed: tuple[Path, Path, Path]) -> None:
    run_dir, suite, _ = killed
    suite.write_text(suite.read_text().replace("max_tokens = 8", "max_tokens = 9", 1))
    msg = refused("--resume", str(run_dir))
    assert "suite hash" in msg and "changed since the run" in msg and "restore the suite file" in msg


def test_resume_refuses_an_edited_device_profile(killed: tuple[Path, Path, Path]) -> None:
    run_dir, _, device = killed
    device.write_text(device.read_text().replace("price_usd = 500", "price_usd = 650"))
    msg = refused("--resume", str(run_dir))
    assert "device profile field price_usd differs (the run used 500.0, now 650.0)" in msg


def test_resume_refuses_another_model(killed: tuple[Path, Path, Path]) -> None:
    from bench.errors import ModelError
    from bench.models.catalog import resolve_model

    try:
        resolve_model("gemma3-270m", install=False)
    except ModelError:
        pytest.skip("gemma3-270m is not installed")
    run_dir, _, _ = killed
    msg = refused("--resume", str(run_dir), "--model", "gemma3-270m")
    assert "model sha256" in msg and "--model PATH" in msg


def test_resume_refuses_complete_and_unknown_bundles(tmp_path: Path) -> None:
    run_dir = full_run(tmp_path, "-r", "1", "-w", "0")
    assert "the run is complete; there is nothing to resume" in refused("--resume", str(run_dir))
    assert "no bundle 'nope'" in refused("--resume", "nope", "--out", str(tmp_path))


def test_min_time_cooldown_and_hygiene_in_one_run(tmp_path: Path) -> None:
    suite = tmp_path / "two.toml"
    suite.write_text(
        'name = "two"\n'
        '[[tasks]]\nid = "a"\nprompt = "One, two, three,"\nmax_tokens = 6\ncheck = { type = "regex", pattern = "." }\n'
        '[[tasks]]\nid = "b"\nprompt = "Red, green,"\nmax_tokens = 6\ncheck = { type = "regex", pattern = "." }\n'
    )
    run_dir = full_run(tmp_path, "-r", "2", "-w", "0", "--min-time", "0.6", "--cooldown", "0.5", suite=suite)
    b = read_bundle(run_dir)
    assert b.manifest.settings.min_time_s == 0.6 and b.manifest.settings.cooldown_s == 0.5
    for task in ("a", "b"):
        recs = [r for r in b.records if r.task_id == task]
        total_s = sum(r.end_ns - r.start_ns for r in recs) / 1e9
        assert len(recs) >= 2 and total_s >= 0.6
        without_last = total_s - (recs[-1].end_ns - recs[-1].start_ns) / 1e9
        assert len(recs) == 2 or without_last < 0.6  # stopped as soon as the time was reached
        assert [r.repetition for r in recs] == list(range(len(recs)))
    last_a = max(r.end_ns for r in b.records if r.task_id == "a")
    first_b = min(r.start_ns for r in b.records if r.task_id == "b")
    assert (first_b - last_a) / 1e9 >= 0.5  # the cooldown pause between tasks
    h = b.manifest.hygiene
    assert h is not None and h.start is not None and h.end is not None
    assert h.start.utc is not None and h.end.utc is not None and h.start.utc < h.end.utc


def test_bad_min_time_and_cooldown_are_usage_errors(tmp_path: Path) -> None:
    for flag, value in (
        ("--min-time", "0"),
        ("--cooldown", "-1"),
        ("--min-time", "soon"),
        ("--cooldown", "inf"),
    ):
        proc = run_cli("run", "--suite", str(MINI), flag, value, "--out", str(tmp_path))
        assert proc.returncode == 2 and flag in proc.stderr and "Traceback" not in proc.stderr, proc.stderr

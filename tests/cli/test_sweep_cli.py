"""``infercost sweep`` bad input, as a user meets it: one line on stderr, exit 2, nothing run."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.run.sweep import SweepPlan, new_sweep
from tests.helpers import FIXTURES, run_cli

SUITE = str(FIXTURES / "suites" / "sweep-tiny.toml")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--threads", "1,,2"], "--threads 1,,2: item 2 is empty"),
        (["--concurrency", "0"], "--concurrency 0: item 1: 0 is below 1"),
        (
            ["--threads", "1,2", "--device", "openai-gpt-4o-mini"],
            "--threads: device 'OpenAI gpt-4o-mini' runs",
        ),
        (["--flash-attn", "yes,no,maybe"], "item 3: 'maybe' is not on or off"),
        (["--model", "nope"], "--model nope: unknown model"),
        ([], "no axis to sweep"),
    ],
)
def test_bad_grids_exit_2_with_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    proc = run_cli("sweep", "--suite", SUITE, "--out", str(tmp_path), *args, timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not any(tmp_path.iterdir())


def test_resume_of_a_sweep_of_another_suite_exits_2(tmp_path: Path) -> None:
    sweep_dir, _ = new_sweep(
        SweepPlan(suite=SUITE, axes={"threads": [1, 2]}, base={"repetitions": 1}, out=tmp_path, seed=1)
    )
    proc = run_cli("sweep", "--resume", str(sweep_dir), "--suite", str(FIXTURES / "suites" / "mini.toml"))
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "the sweep ran suite 'sweep-tiny'" in proc.stderr
    proc = run_cli("sweep", "--resume", str(tmp_path))
    assert proc.returncode == 2 and "not a sweep directory" in proc.stderr
    proc = run_cli("sweep", "--resume", str(sweep_dir), "-r", "3")
    assert proc.returncode == 2 and "recorded" in proc.stderr

"""The pytest plugin through pytest's own ``pytester``: tasks as tests, pytest-benchmark timing, fixture,
and nothing at all when its options are absent. Real model, real requests (a two-task suite)."""

from __future__ import annotations

import json
import re
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from bench.ci.gate import load_run
from tests.helpers import ROOT
from tests.helpers.http import write_profile

NONCE = re.compile(r"^\[[0-9a-f]{8}\] ")

pytestmark = pytest.mark.engine

# One task SmolLM2 passes (greedy: "4"), one it fails (asked for "Paris", it says "L'Étoile...").
SUITE = """
name = "plugin"
[[tasks]]
id = "count"
category = "reasoning"
max_tokens = 8
messages = [{ role = "user", content = "What is 2 + 2? Answer with a number." }]
check = { type = "number", value = 4 }

[[tasks]]
id = "capital"
category = "factual"
max_tokens = 8
messages = [{ role = "user", content = "What is the capital of France?" }]
check = { type = "contains", values = ["Paris"] }
"""


def plugin_args() -> list[str]:
    """``-p bench.ci.pytest_plugin`` unless the ``pytest11`` entry point already loads it (installed)."""
    installed = any(ep.value == "bench.ci.pytest_plugin" for ep in entry_points(group="pytest11"))
    return [] if installed else ["-p", "bench.ci.pytest_plugin"]


def infercost_args(*extra: str) -> list[str]:
    return [
        *plugin_args(),
        "-p", "no:cacheprovider",
        "--infercost-suite", "plugin.toml",
        "--infercost-model", "smollm2-135m",
        "--infercost-repetitions", "2",
        "--infercost-warmup", "1",
        "--infercost-out", "runs",
        *extra,
    ]  # fmt: skip


@pytest.fixture()
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".toml", plugin=SUITE)
    return pytester


def test_inactive_plugin_changes_nothing_and_imports_nothing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --infercost-* options: same tests, same outcome, no engine or harness imported."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(
        test_plain="""
        import sys

        def test_nothing_heavy_was_imported():
            light = {"bench.ci", "bench.ci.pytest_plugin", "bench.run", "bench.run.flags", "bench.paths"}
            heavy = [m for m in sys.modules if m.startswith(("llama_cpp", "bench.")) and m not in light]
            assert heavy == []

        def test_fixture_without_options_skips(infercost):
            raise AssertionError("unreachable")
        """
    )
    result = pytester.runpytest_subprocess(*plugin_args(), "-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*needs --infercost-model*"])
    assert "infercost: bundle" not in result.stdout.str()
    assert not (pytester.path / "reports").exists()


def test_entry_point_in_pyproject_autoloads_the_plugin(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The pytest11 entry point as pyproject.toml declares it, installed as a dist-info on sys.path."""
    from bench.userfiles import tomllib  # tomllib, or tomli on Python 3.10

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["pytest11"]
    assert declared == {"infercost": "bench.ci.pytest_plugin"}
    dist = tmp_path / "site" / "infercost_probe-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: infercost-probe\nVersion: 0\n")
    (dist / "entry_points.txt").write_text("[pytest11]\ninfercost = bench.ci.pytest_plugin\n")
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}:{tmp_path / 'site'}")
    loaded = pytester.runpytest_subprocess("--help")
    loaded.stdout.fnmatch_lines(["*--infercost-suite=NAME|PATH*"])
    removed = pytester.runpytest_subprocess("-p", "no:infercost", "--help")
    assert "--infercost-suite" not in removed.stdout.str()


def test_tasks_become_tests_timed_by_pytest_benchmark(project: pytest.Pytester) -> None:
    bench_json = project.path / "bench.json"
    result = project.runpytest(*infercost_args(f"--benchmark-json={bench_json}", "-v"))
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*plugin.toml::count PASSED*",
            "*plugin.toml::capital FAILED*",
            "*capital: 2 of 2 repetitions failed the contains check: missing ?'Paris'?*answer: *",
            "infercost: bundle runs/*",
        ]
    )
    doc = json.loads(bench_json.read_text())
    by_name = {b["name"]: b for b in doc["benchmarks"]}
    count = by_name["count"]
    assert count["fullname"] == "plugin.toml::count"
    assert count["stats"]["rounds"] == 2  # one round per repetition, warmup excluded
    info = count["extra_info"]
    assert info["passed"] == 2 and info["repetitions"] == 2 and info["pass_rate"] == 1.0
    assert info["completion_tokens_total"] > 0 and info["prompt_tokens_mean"] > 10
    assert "cost_per_task_usd" in info and "energy_per_task_j" in info  # None until priced/measured
    # pytest-benchmark's timer saw the same requests the records did: its mean is the request wall time
    run_dir = Path(info["bundle"])
    view = load_run(project.path / run_dir)
    e2e = [r.e2e_ms for r in view.records if r.task_id == "count" and not r.warmup]
    assert len(e2e) == 2 and all(e is not None for e in e2e)
    mean_e2e_s = sum(e for e in e2e if e is not None) / 2 / 1e3
    assert count["stats"]["mean"] == pytest.approx(mean_e2e_s, rel=0.2, abs=0.02)
    # the session's bundle is a normal, complete bundle the gate can read
    assert view.manifest.complete and view.manifest.command[0] == "pytest"
    assert [(r.task_id, r.warmup) for r in view.records] == [
        ("count", True), ("count", False), ("count", False),
        ("capital", True), ("capital", False), ("capital", False),
    ]  # fmt: skip
    assert view.metrics["pass_rate"] == 0.5


def test_benchmark_compare_fail_gates_latency(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--benchmark-save, then --benchmark-compare-fail against it, as pytest-benchmark users do."""
    quick = ("-k", "count", "--infercost-warmup", "0")
    first = project.runpytest(*infercost_args(*quick, "--benchmark-save=base"))
    first.assert_outcomes(passed=1, deselected=1)
    (saved,) = (project.path / ".benchmarks").rglob("*_base.json")
    # A baseline 1000x faster than this machine can be: the comparison must fail the session.
    doc = json.loads(saved.read_text())
    for b in doc["benchmarks"]:
        for key in ("min", "max", "mean", "median"):
            b["stats"][key] /= 1000
    saved.write_text(json.dumps(doc))
    # pytest-benchmark raises out of the session to fail it: a child process shows what a user sees
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    slow = project.runpytest_subprocess(
        *infercost_args(*quick, "--benchmark-compare=0001", "--benchmark-compare-fail=mean:10%")
    )
    assert slow.ret != 0
    text = slow.stdout.str() + slow.stderr.str()
    assert "count (0001_base)" in text and "count (NOW)" in text  # compared task by task
    assert "Performance has regressed" in text
    assert "count (0001_base) - Field 'mean' has failed PercentageRegressionCheck" in text


def test_infercost_fixture_runs_prompts_on_the_loaded_model(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_mine="""
        def test_sum(infercost):
            rec = infercost.run(
                messages=[{"role": "user", "content": "What is 2 + 2? Answer with a number."}],
                max_tokens=8,
                check={"type": "number", "value": 4},
            )
            assert rec.status == "ok" and rec.passed is True
            assert rec.ttft_ms > 0 and rec.completion_tokens >= 1 and rec.token_count_source == "engine"

        def test_bad_check_is_a_clear_error(infercost):
            import pytest
            from bench.errors import UsageError
            with pytest.raises(UsageError, match="infercost.run"):
                infercost.run("x", check={"type": "nope"})
        """
    )
    result = project.runpytest(
        *plugin_args(), "-p", "no:cacheprovider", "--infercost-model", "smollm2-135m", "test_mine.py"
    )
    result.assert_outcomes(passed=2)
    assert "infercost: bundle" not in result.stdout.str()  # the fixture alone keeps no bundle


def test_bad_options_fail_the_session_at_once(project: pytest.Pytester) -> None:
    result = project.runpytest(*plugin_args(), "--infercost-suite", "nope.toml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*infercost: nope.toml*"])


def test_http_sessions_bust_prompt_caches_like_a_run(
    project: pytest.Pytester, fake_server: Any, tmp_path: Path
) -> None:
    """Over HTTP a plugin session sends what ``infercost run`` sends: every request (warmups included)
    with its own prefix, so no server prompt cache answers a repetition (issue 20, part 8)."""
    profile = write_profile(tmp_path / "endpoint.toml", fake_server.base_url)
    before = len(fake_server.app.requests)
    args = [a for a in infercost_args() if a != "smollm2-135m" and a != "--infercost-model"]
    result = project.runpytest(*args, "--infercost-device", str(profile), "--benchmark-disable")
    assert result.ret in (0, 1), result.stdout.str()  # the fake's answers may fail the checks
    sent = [r["messages"][0]["content"] for r in fake_server.app.requests[before:]]
    assert len(sent) == 2  # one call per task with --benchmark-disable
    assert all(NONCE.match(text) for text in sent), sent
    assert len(set(sent)) == len(sent)

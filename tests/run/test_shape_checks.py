"""Depth and parallel shapes that cannot run are refused before any model loads: one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.devices.profiles import LlamaCppSettings, load_device
from bench.errors import UsageError
from bench.run.shape_checks import MAX_PARALLEL, check_shapes, sequences_needed
from bench.suite.loader import load_suite
from tests.helpers import run_cli


def _suite(tmp_path: Path, shape: str, name: str = "s") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'name = "{name}"\n[[tasks]]\nid = "deep"\nshape = {{ {shape} }}\ncheck = {{ type = "none" }}\n'
    )
    return path


def _local(n_ctx: int = 4096):  # type: ignore[no-untyped-def]
    device = load_device("auto")
    return device.model_copy(update={"llama_cpp": LlamaCppSettings(n_ctx=n_ctx)})


def test_the_bundled_depth_suite_fits_the_default_context() -> None:
    suite = load_suite("depth")
    check_shapes(suite, "prompts/depth.toml", _local())
    assert sequences_needed(suite) == 4
    labels = [t.shape.label for t in suite.tasks if t.shape]
    assert "pp512 @ d3072" in labels and "pp128+tg128 x1" in labels


@pytest.mark.parametrize(
    ("shape", "needle"),
    [
        (
            "prompt_tokens = 512, gen_tokens = 1, depth_tokens = 4096",
            "needs 4609 tokens of context (depth 4096",
        ),
        (
            "prompt_tokens = 128, gen_tokens = 128, parallel = 32",
            "needs 8192 tokens of context (32 x (prompt",
        ),
        ("prompt_tokens = 128, gen_tokens = 8, parallel = 300", "more sequences than llama.cpp holds"),
    ],
)
def test_what_cannot_run_names_file_task_field_and_fix(tmp_path: Path, shape: str, needle: str) -> None:
    path = _suite(tmp_path, shape)
    with pytest.raises(UsageError) as info:
        check_shapes(load_suite(path), path, _local())
    text = str(info.value)
    assert needle in text and str(path) in text and "task 'deep'" in text and "shape." in text
    assert "\n" not in text


def test_shared_prompt_needs_less_context(tmp_path: Path) -> None:
    apart = _suite(tmp_path, "prompt_tokens = 1024, gen_tokens = 16, parallel = 4", "a")
    shared = _suite(
        tmp_path, "prompt_tokens = 1024, gen_tokens = 16, parallel = 4, shared_prompt = true", "b"
    )
    with pytest.raises(UsageError, match="n_ctx = 4352"):
        check_shapes(load_suite(apart), apart, _local())
    check_shapes(load_suite(shared), shared, _local())  # 1024 + 4 x 16 fits
    assert MAX_PARALLEL == 256


def test_run_refuses_depth_over_http_with_exit_2(tmp_path: Path) -> None:
    path = _suite(tmp_path, "prompt_tokens = 64, gen_tokens = 1, depth_tokens = 256")
    proc = run_cli("run", "--suite", str(path), "--device", "local-server", "--out", str(tmp_path / "runs"))
    assert proc.returncode == 2, proc.stderr
    assert "task 'deep'" in proc.stderr and "in-process only" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_run_refuses_a_context_too_small_with_exit_2(tmp_path: Path) -> None:
    path = _suite(tmp_path, "prompt_tokens = 512, gen_tokens = 1, depth_tokens = 8192")
    proc = run_cli("run", "--suite", str(path), "--out", str(tmp_path / "runs"))
    assert proc.returncode == 2, proc.stderr
    assert "shape.depth_tokens needs 8705 tokens" in proc.stderr and "set n_ctx = 8960" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_sweep_refuses_before_any_cell_runs(tmp_path: Path) -> None:
    path = _suite(tmp_path, "prompt_tokens = 64, gen_tokens = 8, parallel = 4")
    # 4 x (64 + 8) = 288 tokens: n_ctx 256 cannot hold it, whichever cell comes first
    proc = run_cli(
        "sweep", "--suite", str(path), "--n-ctx", "4096,256", "--out", str(tmp_path / "sweeps"), "-r", "1"
    )
    assert proc.returncode == 2, proc.stderr
    assert "shape.parallel needs 288 tokens" in proc.stderr and "n_ctx = 256" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "sweeps").exists() or not any((tmp_path / "sweeps").iterdir())


def test_run_refuses_engine_shapes_with_concurrency_exit_2(tmp_path: Path) -> None:
    """A parallel or depth shape drives the whole context itself: it cannot share it with the streams of
    in-process ``--concurrency`` (which would otherwise give the context both layouts at once)."""
    path = _suite(tmp_path, "prompt_tokens = 64, gen_tokens = 8, parallel = 2")
    proc = run_cli("run", "--suite", str(path), "--concurrency", "2", "--out", str(tmp_path / "runs"))
    assert proc.returncode == 2, proc.stderr
    assert "task 'deep'" in proc.stderr and "--concurrency 2" in proc.stderr
    assert "Traceback" not in proc.stderr
    with pytest.raises(UsageError, match="cannot share it"):
        check_shapes(load_suite(path), path, _local(), concurrency=3)

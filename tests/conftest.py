"""Shared fixtures. Engine tests use the real SmolLM2-135M GGUF (installed by `make`), never a mock."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# pytester: the pytest plugin's tests run pytest sessions of their own; http_fixtures: real servers
pytest_plugins = ["pytester", "tests.http_fixtures"]

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


# fixtures that load real llama.cpp: a test that uses one is an engine test, marked or not
_ENGINE_FIXTURES = frozenset({"smollm2", "llama_backend", "llama_server"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs real inference with ``engine``, so ``-m "not engine"`` is a fast run."""
    for item in items:
        if _ENGINE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.engine)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def smollm2():  # type: ignore[no-untyped-def]
    from bench.models.catalog import resolve_model

    return resolve_model("smollm2-135m")


@pytest.fixture(scope="session")
def llama_backend(smollm2) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """One loaded in-process backend for the whole session (loading costs ~0.3 s, contexts ~0.1 s)."""
    from bench.backends.llama_cpp import LlamaCppBackend
    from bench.devices.profiles import LlamaCppSettings

    backend = LlamaCppBackend(smollm2, LlamaCppSettings(n_ctx=2048))
    backend.load()
    yield backend
    backend.close()


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 300, **kw: object
) -> subprocess.CompletedProcess[str]:
    """Run `python -m bench ...` as a user would, in a child process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "COLUMNS": "160"}
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=cwd or ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture()
def cli():  # type: ignore[no-untyped-def]
    return run_cli

"""Shared fixtures. Engine tests use the real SmolLM2-135M GGUF (installed by `make`), never a mock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import FIXTURES, ROOT, run_cli

# pytester: the pytest plugin's tests run pytest sessions of their own; helpers.http: real servers
pytest_plugins = ["pytester", "tests.helpers.http"]


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


@pytest.fixture()
def cli():  # type: ignore[no-untyped-def]
    return run_cli

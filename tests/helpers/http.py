"""Fixtures for the HTTP backend: a misbehaving fake server and a real ``llama_cpp.server``.

Loaded from ``conftest.py`` as a plugin. The real server is started once per session (the bundled
SmolLM2 GGUF, a free loopback port, ``--interrupt_requests False`` so concurrent requests queue instead of
cancelling each other) and stopped at the end; tests that need it skip cleanly when the ``[server]``
extra is missing.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers.fake_openai import ServerThread


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_profile(
    path: Path,
    base_url: str,
    model: str = "fake-model",
    top: str = "",
    backend: str = "openai_http",
    **http: object,
) -> Path:
    """An endpoint profile TOML (kind local: these tests price nothing)."""
    lines = [
        'name = "test endpoint"',
        'kind = "local"',
        f'backend = "{backend}"',
        f'base_url = "{base_url}"',
        f'model = "{model}"',
        top,
        "[http]",
    ]
    for key, value in http.items():
        if isinstance(value, str):
            lines.append(f'{key} = "{value}"')
        elif isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, dict):
            inner = ", ".join(f"{k} = {v}" for k, v in value.items())
            lines.append(f"{key} = {{ {inner} }}")
        else:
            lines.append(f"{key} = {value}")
    path.write_text("\n".join(lines) + "\n")
    return path


def llama_server_command(model_path: Path, port: int, threads: int = 2) -> list[str]:
    """``python -m llama_cpp.server`` as the tests and benchmarks start it (no interruptions)."""
    return [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model_path), "--host", "127.0.0.1",
        "--port", str(port), "--n_ctx", "4096", "--n_threads", str(threads), "--interrupt_requests", "False",
    ]  # fmt: skip


@pytest.fixture(scope="session")
def fake_server() -> Iterator[ServerThread]:
    server = ServerThread()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def llama_server(smollm2) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """``python -m llama_cpp.server`` with SmolLM2 on a free loopback port; yields its base URL."""
    if importlib.util.find_spec("sse_starlette") is None or importlib.util.find_spec("uvicorn") is None:
        pytest.skip("llama-cpp-python[server] is not installed")
    port = free_port()
    log = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        llama_server_command(smollm2.path, port),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with code {proc.returncode}")
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not start within 120 s")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()

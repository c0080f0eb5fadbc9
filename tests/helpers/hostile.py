"""A hostile agent run, shared by ``tests/hostile/test_hostile_agent.py`` and
``tests/benchmarks/bench_hostile_agent.py``: a suite whose every task talks to the fake server's
``hostile-tools`` scenario with all six tools, run through the CLI as a user runs it, with an API key
the keyed server demands (and echoes into the trajectory)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT
from tests.helpers.http import write_profile
from tests.servers.fake_openai import HOSTILE_STEPS, ServerThread

__all__ = ["HOSTILE_KEY", "hostile_suite", "run_hostile"]

HOSTILE_KEY = "sk-hostile-agent-0123456789abcdefXYZ"
_TOOLS = '["python", "read_file", "list_files", "grep", "sqlite_query", "calculator"]'


def hostile_suite(path: Path, tasks: tuple[str, ...], deadline_s: float) -> Path:
    """One agent task per id, each with every tool, ``deadline_s`` for the python tool and the others."""
    body = 'name = "hostile-agent"\n'
    for tid in tasks:
        body += (
            f'[[tasks]]\nid = "{tid}"\nmessages = [{{ role = "user", content = "scenario=hostile-tools {tid}" }}]\n'
            'check = { type = "number", value = 42, pick = "first" }\n'
            f'agent = {{ tools = {_TOOLS}, database = "shop.db", max_steps = {len(HOSTILE_STEPS) + 2}, '
            f"python_timeout_s = {deadline_s}, tool_timeout_s = {deadline_s} }}\n"
        )
    path.write_text(body)
    return path


def run_hostile(
    tmp: Path, server: ServerThread, suite: Path
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``infercost run`` of ``suite`` against ``server`` (keyed with ``HOSTILE_KEY``); the bundle's path."""
    device = write_profile(tmp / "d.toml", server.base_url, top='api_key_env = "INFERCOST_HOSTILE_KEY"',
                           max_retries=0)  # fmt: skip
    out = tmp / "runs"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "INFERCOST_HOSTILE_KEY": HOSTILE_KEY, "COLUMNS": "160"}
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--device", str(device), "--suite", str(suite), "-r", "1",
         "-w", "0", "--out", str(out), "--power", "none"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    return proc, next(out.glob("*/manifest.json")).parent

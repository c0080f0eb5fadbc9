"""What tests share besides fixtures: the repository's paths and running the CLI as a user would.

Fixtures stay in ``tests/conftest.py``; helpers that tests import live here (and in ``helpers/cost.py``,
``helpers/http.py``, ``helpers/power.py``, ``helpers/records.py``), so no test imports conftest or
another test module.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["FIXTURES", "ROOT", "run_cli"]

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


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

"""Where infercost keeps things by default, relative to the working directory.

A module of constants with no imports beyond the standard library, so that light front ends (the pytest
plugin's option declarations) can name the defaults without importing the harness.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEFAULT_RUNS_ROOT"]

# result bundles: reports/runs/<run_id>/ (run ids given to readers are looked up here)
DEFAULT_RUNS_ROOT = Path("reports") / "runs"

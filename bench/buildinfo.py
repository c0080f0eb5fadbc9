"""Which build of infercost is running: the version, and the git commit when running from a checkout.

Recorded in every manifest and printed in every report, so a published figure can be traced to the code
that measured it. The commit is best effort: an installed wheel has no git checkout, and a machine may have
no ``git``; then it is None, never a guess.
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

__all__ = ["tool_commit"]

_PACKAGE_DIR = Path(__file__).resolve().parent


@functools.cache
def tool_commit() -> str | None:
    """``git describe --always --dirty --abbrev=40`` of the checkout holding this package, or None."""
    if not (_PACKAGE_DIR.parent / ".git").exists():
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(_PACKAGE_DIR.parent), "describe", "--always", "--dirty", "--abbrev=40"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else None

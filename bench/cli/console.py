"""The two consoles every command prints through: results on stdout, notes and errors on stderr."""

from __future__ import annotations

import sys

from rich.console import Console

__all__ = ["NOTED", "err", "out"]

# Piped output is read by people too (CI logs): give tables room instead of rich's 80-column default.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)

# notes already printed from library warnings (a torn last line, ...), so a report does not repeat them
NOTED: set[str] = set()

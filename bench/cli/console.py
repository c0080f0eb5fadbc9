"""The two consoles every command prints through: results on stdout, notes and errors on stderr.

Neither reads anything into the text it is given: no markup (a model named ``[bold]`` prints as is), no
emoji codes (``nosuch:x`` stays ``nosuch:x``, not a red cross), no highlighting. Model, device and file
names and error messages come from users, bundles and servers, so text is shown verbatim by default;
a styled line says so with ``markup=True`` and ``rich.markup.escape`` around every value it interpolates,
and a styled table cell is a ``rich.text.Text``.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console

__all__ = ["NOTED", "err", "out"]

# Piped output is read by people too (CI logs): give tables room instead of rich's 80-column default,
# unless COLUMNS says how wide the reader is.
_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
out = Console(markup=False, emoji=False, highlight=False, width=_WIDTH)
err = Console(stderr=True, soft_wrap=True, markup=False, emoji=False, highlight=False)

# notes already printed from library warnings (a torn last line, ...), so a report does not repeat them
NOTED: set[str] = set()

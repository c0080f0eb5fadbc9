"""Text from untrusted sources made safe to show: the one control-character neutralizer.

Answers, task fields, endpoint error bodies and names in profiles reach terminals, Markdown, HTML, CSV and
JSON. Escaping each format's syntax (``|``, ``<``) is each renderer's job; what no format escapes is the
control characters themselves: a NUL cuts a C string, an ESC starts a terminal sequence, a carriage return
overwrites a line, and the bidi overrides (U+202E RIGHT-TO-LEFT OVERRIDE and its family) make
``gnp.exe`` look like ``exe.png``. Every renderer calls ``neutralize_controls`` on such text, so each
format shows the same visible escape (``\\u0000``, ``\\u202e``) in place of the character: the JSON
escape, so a neutralized JSON text still parses (to the original characters).

Replaced: C0 controls except tab and newline (CR too: ``\\r\\n`` becomes ``\\n`` first), DEL, C1
controls, the bidi embedding/override/isolate characters and marks, the line/paragraph separators,
the byte-order mark and lone surrogates (which cannot even be written as UTF-8).
"""

from __future__ import annotations

import re

__all__ = ["TERMINAL_KEEP", "neutralize_controls"]

_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)
_KEEP_DEFAULT = "\n\t"
# What a terminal stream must keep: rich draws colour with ESC sequences and progress with CR; text from
# a bundle is neutralized (ESC included) before it reaches rich, where the two can still be told apart.
TERMINAL_KEEP = "\n\t\r\x1b"


def neutralize_controls(text: str, keep: str = _KEEP_DEFAULT) -> str:
    """``text`` with every unsafe control character (see the module docstring) replaced by its visible
    escape, except those in ``keep`` (tab and newline by default)."""
    if text.isprintable():  # the common case (Cc, Cf, Cs and Zl/Zp are all unprintable): nothing to do
        return text
    if "\r" not in keep:
        text = text.replace("\r\n", "\n")
    return _UNSAFE.sub(lambda m: m.group() if m.group() in keep else f"\\u{ord(m.group()):04x}", text)

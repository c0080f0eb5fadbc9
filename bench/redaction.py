"""Keep API keys out of everything a run writes or prints.

The key lives only in the environment and in the HTTP client's headers. Every message that leaves the
HTTP backend (record errors, ``BenchError`` texts, retry notes) passes through ``Redactor.scrub``, which
removes the key itself, its URL-encoded form, and any ``Bearer``/``key=`` credential a server or an
exception echoes back (httpx exceptions can carry URLs; some servers quote the header they refused).

Messages are not the only way out: a server can echo the Authorization header inside its *answer*, and
model-written code could print what it found. So every configured secret value is also registered here,
process-wide (``register_secret``), and scrubbed at the boundaries where text leaves the process: each
record and manifest the bundle writer stores (``scrub_secrets``) and everything the CLI prints
(``ScrubbingStream``). Only exact secret values are masked there (answers keep credential-shaped text
that is not ours).
"""

from __future__ import annotations

import io
import json
import re
from typing import TextIO
from urllib.parse import quote

from bench.textsafe import TERMINAL_KEEP, neutralize_controls

__all__ = ["Redactor", "ScrubbingStream", "register_secret", "scrub_secrets"]

_MASK = "***"
# credentials that look like credentials even when they are not our key (a proxy echoing a header)
_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(?i)([?&](?:api[_-]?)?key=)[^&\s\"']+"),
    re.compile(r"\b(sk-)[A-Za-z0-9_-]{8,}"),
]


class Redactor:
    """Scrubs known secret values and credential-shaped strings from text."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        self._secrets: list[str] = []
        for s in secrets or []:
            self.add(s)

    def add(self, secret: str) -> None:
        register_secret(secret)
        if len(secret) < 4:  # too short to scrub without mangling ordinary text; and too short to be a key
            return
        for form in {secret, quote(secret, safe="")}:
            if form not in self._secrets:
                self._secrets.append(form)
        self._secrets.sort(key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for s in self._secrets:
            if s in text:
                text = text.replace(s, _MASK)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + _MASK, text)
        return text


_registered: list[str] = []


def register_secret(secret: str) -> None:
    """Remember a configured secret value (an API key read from the environment) for ``scrub_secrets``."""
    if len(secret) < 4:
        return
    encoded = json.dumps(secret, ensure_ascii=False)[1:-1]  # as it appears inside a JSON string
    for form in {secret, quote(secret, safe=""), encoded}:
        if form not in _registered:
            _registered.append(form)
    _registered.sort(key=len, reverse=True)


def scrub_secrets(text: str) -> str:
    """Mask every registered secret value in ``text`` (the boundary where text is stored or printed)."""
    for s in _registered:
        if s in text:
            text = text.replace(s, _MASK)
    return text


class ScrubbingStream(io.TextIOBase):
    """A text stream that masks registered secrets in everything written through it (the CLI's stdout),
    and neutralizes the control characters a terminal would act on but rich never writes (NUL, C1, bidi
    overrides; ESC and CR are rich's own and are neutralized in untrusted text before it gets here)."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        self._inner.write(neutralize_controls(scrub_secrets(text), keep=TERMINAL_KEEP))
        return len(text)

    def flush(self) -> None:
        self._inner.flush()

    def isatty(self) -> bool:
        return self._inner.isatty()

    def fileno(self) -> int:
        return self._inner.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._inner, "encoding", "utf-8")

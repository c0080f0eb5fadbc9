"""Keep API keys out of everything a run writes or prints.

The key lives only in the environment and in the HTTP client's headers. Every message that leaves the
HTTP backend (record errors, ``BenchError`` texts, retry notes) passes through ``Redactor.scrub``, which
removes the key itself, its URL-encoded form, and any ``Bearer``/``key=`` credential a server or an
exception echoes back (httpx exceptions can carry URLs; some servers quote the header they refused).
"""

from __future__ import annotations

import re
from urllib.parse import quote

__all__ = ["Redactor"]

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

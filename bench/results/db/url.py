"""Store URLs: which database ``--store`` (or ``INFERCOST_STORE``) names, and how to show it safely.

``postgresql://USER[:PASSWORD]@HOST[:PORT]/DB`` (or ``postgres://``; libpq's ``?host=/socket/dir`` works)
names a shared PostgreSQL; ``duckdb:PATH``, or a path ending ``.duckdb``, an embedded database file.
The password may sit in the URL's userinfo (``USER:PASSWORD@``), in its query string as libpq allows
(``?user=u&password=...``, ``sslpassword=...``), in a ``key=value`` connection string given by mistake,
or in ``PGPASSWORD``/``~/.pgpass`` (libpq reads them); it is never printed, logged or written: every
text that leaves here goes through ``display_url`` or ``scrubber``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from bench.errors import UsageError
from bench.redaction import Redactor

__all__ = ["DEFAULT_DB", "ENV_VAR", "StoreURL", "display_url", "parse_store_url", "store_from_env"]

ENV_VAR = "INFERCOST_STORE"
DEFAULT_DB = Path("reports") / "infercost.duckdb"
_PG_SCHEMES = ("postgresql", "postgres")
# libpq parameters that carry a secret, as URL query parameters or key=value connection-string words
_SECRET_PARAM = re.compile(r"(?i)\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s]*)")


def _passwords(url: str) -> list[str]:
    """Every password ``url`` carries (userinfo, query string, key=value words), raw and URL-decoded."""
    found = [m.group(2).strip("'") for m in _SECRET_PARAM.finditer(url)]
    try:
        parts = urlsplit(url)
        found += [parts.password or ""]
        found += [v for k, v in parse_qsl(parts.query) if k.lower() in ("password", "sslpassword")]
    except ValueError:
        pass
    return [s for p in found if p for s in {p, unquote(p)}]


@dataclass(frozen=True)
class StoreURL:
    engine: Literal["duckdb", "postgres"]
    target: str  # the libpq URL (with its password) or the DuckDB file path
    display: str  # safe to print: no password

    def scrubber(self) -> Redactor:
        """Removes this URL's password (and credential-shaped strings) from any text."""
        secrets = _passwords(self.target) if self.engine == "postgres" else []
        env_password = os.environ.get("PGPASSWORD")
        return Redactor([*secrets, *([env_password] if env_password else [])])


def display_url(url: str) -> str:
    """The URL with every password (userinfo, ``password=``/``sslpassword=``) replaced by ***."""
    url = _SECRET_PARAM.sub(lambda m: m.group(1) + "***", url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def parse_store_url(url: str) -> StoreURL:
    """Parse ``--store``; an unknown scheme is a usage error (exit 2) that shows the accepted forms."""
    text = url.strip()
    if not text:
        raise UsageError("--store: empty URL", fix="give postgresql://USER@HOST/DB or duckdb:PATH")
    if text.startswith("duckdb:"):
        path = text.removeprefix("duckdb:").removeprefix("//")
        if not path:
            raise UsageError(
                "--store duckdb:: no file path", fix="give duckdb:PATH, e.g. duckdb:reports/x.duckdb"
            )
        return StoreURL("duckdb", path, f"duckdb:{path}")
    if "://" not in text:
        if text.endswith((".duckdb", ".db")):
            return StoreURL("duckdb", text, f"duckdb:{text}")
        raise UsageError(
            f"--store {display_url(text)}: not a store URL",
            fix="give postgresql://USER@HOST/DB, duckdb:PATH or a FILE.duckdb path",
        )
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError as exc:
        raise UsageError(f"--store {display_url(text)}: malformed URL ({exc})") from None
    if parts.scheme not in _PG_SCHEMES:
        raise UsageError(
            f"--store {display_url(text)}: unknown scheme '{parts.scheme}'",
            fix="use postgresql://USER@HOST[:PORT]/DB for a shared store or duckdb:PATH for a file",
        )
    if not parts.path.strip("/"):
        raise UsageError(f"--store {display_url(text)}: no database name", fix="end the URL with /DBNAME")
    return StoreURL("postgres", text, display_url(text))


def store_from_env(flag: str | None) -> StoreURL | None:
    """``--store`` if given, else ``INFERCOST_STORE``, else None (the embedded default)."""
    value = flag if flag is not None else os.environ.get(ENV_VAR)
    return parse_store_url(value) if value else None

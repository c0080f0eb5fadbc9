"""``--where device=... model=... since=...``: filters over stored runs, as SQL with parameters.

Each filter is ``KEY=VALUE``; the same key twice means either value. ``device`` and ``model`` match a
name exactly or as a prefix, case-insensitively (device names carry details in parentheses: "this
machine (AMD EPYC, ...)"); ``since``/``until`` compare with the run's start time (an ISO date or
timestamp, UTC); ``run`` is a run id prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.errors import UsageError

__all__ = ["KEYS", "Where", "parse_where"]

# key → (column of current_runs, how it matches)
KEYS: dict[str, tuple[str, str]] = {
    "device": ("device_name", "prefix"),
    "model": ("model_name", "prefix"),
    "suite": ("suite_name", "exact"),
    "backend": ("backend", "exact"),
    "run": ("run_id", "prefix"),
    "since": ("started_utc", ">="),
    "until": ("started_utc", "<"),
}


@dataclass(frozen=True)
class Where:
    terms: tuple[tuple[str, tuple[str, ...]], ...] = field(default_factory=tuple)

    def sql(self, alias: str = "") -> tuple[str, list[object]]:
        """``(clause, params)``: a clause for WHERE (``TRUE`` when empty), ``?`` placeholders."""
        prefix = f"{alias}." if alias else ""
        clauses: list[str] = []
        params: list[object] = []
        for key, values in self.terms:
            column, how = KEYS[key]
            parts = []
            for v in values:
                if how == "prefix":
                    parts.append(
                        f"(lower({prefix}{column}) = lower(?) OR lower({prefix}{column}) LIKE ? ESCAPE '\\')"
                    )
                    escaped = v.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                    params += [v, escaped + "%"]
                elif how == "exact":
                    parts.append(f"{prefix}{column} = ?")
                    params.append(v)
                else:
                    parts.append(f"{prefix}{column} {how} ?")
                    params.append(v)
            clauses.append("(" + " OR ".join(parts) + ")")
        return (" AND ".join(clauses) or "TRUE"), params

    def __bool__(self) -> bool:
        return bool(self.terms)


def parse_where(items: Sequence[str] | None, **extra: str | None) -> Where:
    """``["device=jetson", "since=2026-01-01"]`` (and keyword shortcuts such as ``device=``) → Where."""
    grouped: dict[str, list[str]] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep or not value.strip():
            raise UsageError(f"--where {item}: expected KEY=VALUE", fix=f"keys: {', '.join(KEYS)}")
        if key not in KEYS:
            raise UsageError(f"--where {item}: unknown key '{key}'", fix=f"keys: {', '.join(KEYS)}")
        grouped.setdefault(key, []).append(value.strip())
    for key, given in extra.items():
        if given:
            grouped.setdefault(key, []).append(given)
    for key in ("since", "until"):
        for v in grouped.get(key, []):
            if not (len(v) >= 4 and v[:4].isdigit()):
                raise UsageError(f"--where {key}={v}: not a date", fix="give an ISO date such as 2026-01-31")
    return Where(tuple((k, tuple(v)) for k, v in grouped.items()))

"""Which records a figure counts: the one ``measured`` policy, in Python and in SQL.

A bundle holds several kinds of record: warm-ups, single requests, and for agent tasks one record per
model call, one per tool call and one summary per task (``Record.kind``: None, ``model``, ``tool``,
``agent``). Every figure is taken over one *population* of them:

- ``MEASURED``: every record that is not a warm-up (power and time windows).
- ``ATTEMPTS``: one record per attempt at a task: single requests and agent summaries. Pass rate, errors,
  cost, energy and time per task: an agent task counts once, with all its calls and tool time, never
  again through its per-call records.
- ``REQUESTS``: one record per model request: single requests and agent model calls (throughput windows).
- ``TIMED``: the requests that succeeded: latencies, rates and token counts per request.
- ``COMPLETED``: the attempts that succeeded: seconds and energy per task for break-even and capacity.

Warm-ups are never measured. Tool calls count only inside their agent task's summary. Shapes
(``pp512``, ``tg128``) are single requests like any other. The same populations are written as SQL
predicates (``Population.sql``) for the results database, so the database summary and history count
exactly the records the Python views count (a test runs both over the same records).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bench.results.schema import Record

__all__ = ["ATTEMPTS", "COMPLETED", "MEASURED", "POPULATIONS", "REQUESTS", "TIMED", "Population"]


@dataclass(frozen=True)
class Population:
    """Measured (not warm-up) records of the given kinds, successful ones only when ``ok_only``."""

    name: str
    kinds: tuple[str | None, ...]
    ok_only: bool
    meaning: str

    def select(self, records: Iterable[Record]) -> list[Record]:
        kinds, ok_only = self.kinds, self.ok_only
        return [r for r in records if not r.warmup and r.kind in kinds and (not ok_only or r.status == "ok")]

    def sql(self, alias: str = "") -> str:
        """The same selection as a SQL predicate over the ``records`` table (``alias``: its name)."""
        col = f"{alias}." if alias else ""
        named = sorted(k for k in self.kinds if k is not None)
        kind = f"{col}kind IN ({', '.join(repr(k) for k in named)})" if named else "FALSE"
        if None in self.kinds:
            kind = f"({col}kind IS NULL OR {kind})" if named else f"{col}kind IS NULL"
        parts = [f"NOT {col}warmup", kind]
        if self.ok_only:
            parts.append(f"{col}status = 'ok'")
        return " AND ".join(parts)


MEASURED = Population("measured", (None, "model", "tool", "agent"), False, "every record but warm-ups")
ATTEMPTS = Population(
    "attempts", (None, "agent"), False, "one per attempt at a task: single requests and agent summaries"
)
REQUESTS = Population(
    "requests", (None, "model"), False, "one per model request: single requests and agent model calls"
)
TIMED = Population("timed", (None, "model"), True, "model requests that succeeded")
COMPLETED = Population("completed", (None, "agent"), True, "attempts at a task that succeeded")

POPULATIONS = {p.name: p for p in (MEASURED, ATTEMPTS, REQUESTS, TIMED, COMPLETED)}

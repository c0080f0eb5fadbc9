"""Which requests of a task to run next: fixed repetitions, ``--min-time``, and what a resume still owes.

One task's plan is its warmups, then its measured repetitions. A request is identified by its *slot*
``(repetition, warmup)``; a slot is done when the bundle holds a record for it whose status is not
``cancelled`` (a cancelled request was cut short by Ctrl-C and is run again on resume). So the same code
plans a fresh run (nothing done) and a resumed one (some slots done), and a resumed run ends with the
same slots as an uninterrupted one.

``--min-time SECONDS`` (hyperfine's ``--min-benchmarking-time``, pyperf's ``--min-time`` in spirit) keeps
adding measured repetitions after ``--repetitions`` until the task's measured requests add up to at
least that much time (``end_ns − start_ns`` of each). ``--repetitions`` is the minimum; extension stops
at ``MAX_REPETITIONS`` and as soon as a request fails (an error is not a measurement, and a request that
fails fast would otherwise repeat until the time is used up).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from bench.results.schema import Record

__all__ = ["MAX_REPETITIONS", "SchedulePolicy", "Slot", "TaskSchedule"]

MAX_REPETITIONS = 1000


@dataclass(frozen=True, slots=True)
class Slot:
    repetition: int
    warmup: bool


@dataclass(frozen=True)
class SchedulePolicy:
    repetitions: int
    warmup: int
    min_time_s: float | None = None
    max_repetitions: int = MAX_REPETITIONS
    # infercost sweep rounds: yield only repetitions below this (None: all); see ``owes_beyond_limit``
    limit: int | None = None


class TaskSchedule:
    """The slots one task still has to run, fed with each record as it finishes (``add``)."""

    def __init__(self, policy: SchedulePolicy, prior: Iterable[Record] = ()) -> None:
        self.policy = policy
        self._done: set[tuple[int, bool]] = set()
        self.measured_ns = 0
        self._last_ok = True
        self._next_extra = policy.repetitions
        for rec in prior:
            self.add(rec)

    def add(self, rec: Record) -> None:
        """Account for a finished request (a prior record on resume, or one just run)."""
        if rec.status == "cancelled":
            return
        self._done.add((rec.repetition, rec.warmup))
        if not rec.warmup:
            self.measured_ns += max(rec.end_ns - rec.start_ns, 0)
            self._last_ok = rec.status == "ok"
            self._next_extra = max(self._next_extra, rec.repetition + 1)

    def is_done(self, slot: Slot) -> bool:
        return (slot.repetition, slot.warmup) in self._done

    @property
    def planned_remaining(self) -> int:
        """Slots of the fixed plan (warmups + ``repetitions``) not yet done; ``--min-time`` may add more."""
        fixed = [Slot(w, True) for w in range(self.policy.warmup)]
        last = self.policy.repetitions if self.policy.limit is None else self.policy.limit
        fixed += [Slot(r, False) for r in range(min(self.policy.repetitions, last))]
        return sum(1 for s in fixed if not self.is_done(s))

    @property
    def owes_beyond_limit(self) -> bool:
        """Whether fixed-plan slots at or above ``policy.limit`` are still to run (a later round's)."""
        limit = self.policy.limit
        if limit is None:
            return False
        return any(not self.is_done(Slot(r, False)) for r in range(limit, self.policy.repetitions))

    def _wants_more_time(self) -> bool:
        target = self.policy.min_time_s
        return (
            target is not None
            and self.policy.limit is None
            and self.measured_ns < target * 1e9
            and self._last_ok
            and self._next_extra < self.policy.max_repetitions
        )

    def __iter__(self) -> Iterator[Slot]:
        """Yields the next slot to run; reads what ``add`` learned between yields (``--min-time``)."""
        for w in range(self.policy.warmup):
            if not self.is_done(Slot(w, True)):
                yield Slot(w, True)
        last = self.policy.repetitions if self.policy.limit is None else self.policy.limit
        for r in range(min(self.policy.repetitions, last)):
            if not self.is_done(Slot(r, False)):
                yield Slot(r, False)
        while self._wants_more_time():
            slot = Slot(self._next_extra, False)
            self._next_extra += 1
            yield slot

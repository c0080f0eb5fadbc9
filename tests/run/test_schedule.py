"""bench.run.schedule: the slots a task runs, fresh, resumed and under --min-time."""

from __future__ import annotations

from bench.results.schema import Record
from bench.run.schedule import SchedulePolicy, Slot, TaskSchedule


def rec(rep: int, warmup: bool = False, *, ms: float = 100.0, status: str = "ok") -> Record:
    return Record(
        run_id="r",
        task_id="t",
        category="c",
        repetition=rep,
        warmup=warmup,
        status=status,  # type: ignore[arg-type]
        started_utc="2026-11-26T00:00:00Z",
        start_ns=0,
        end_ns=int(ms * 1e6),
    )


def drive(schedule: TaskSchedule, ms: float = 100.0, fail_at: int | None = None) -> list[Slot]:
    """Run the schedule as the runner does, feeding back a record per slot."""
    ran = []
    for slot in schedule:
        ran.append(slot)
        status = "error" if fail_at is not None and slot.repetition == fail_at and not slot.warmup else "ok"
        schedule.add(rec(slot.repetition, slot.warmup, ms=ms, status=status))
    return ran


def test_fresh_plan_is_warmups_then_repetitions() -> None:
    s = TaskSchedule(SchedulePolicy(repetitions=3, warmup=2))
    assert s.planned_remaining == 5
    assert drive(s) == [Slot(0, True), Slot(1, True), Slot(0, False), Slot(1, False), Slot(2, False)]
    assert s.planned_remaining == 0


def test_resume_runs_only_missing_slots_and_reruns_cancelled_ones() -> None:
    prior = [rec(0, True), rec(0), rec(1, status="cancelled"), rec(2, status="error")]
    s = TaskSchedule(SchedulePolicy(repetitions=4, warmup=1), prior)
    assert s.planned_remaining == 2
    assert drive(s) == [Slot(1, False), Slot(3, False)]  # an error is a finished result; cancelled is not


def test_min_time_extends_until_the_measured_time_is_reached() -> None:
    s = TaskSchedule(SchedulePolicy(repetitions=2, warmup=1, min_time_s=1.0))
    ran = drive(s, ms=150.0)
    measured = [x for x in ran if not x.warmup]
    assert len(measured) == 7  # 7 x 150 ms = 1.05 s >= 1 s; 6 would be 0.9 s
    assert [x.repetition for x in measured] == list(range(7))
    assert s.measured_ns >= 1e9


def test_min_time_respects_the_minimum_repetitions() -> None:
    s = TaskSchedule(SchedulePolicy(repetitions=5, warmup=0, min_time_s=0.1))
    assert len(drive(s, ms=500.0)) == 5  # time reached after 1, but --repetitions is the floor


def test_min_time_stops_at_a_failure_and_at_the_cap() -> None:
    s = TaskSchedule(SchedulePolicy(repetitions=2, warmup=0, min_time_s=10.0))
    assert len(drive(s, ms=1.0, fail_at=3)) == 4  # reps 0..3; rep 3 failed: no more
    capped = TaskSchedule(SchedulePolicy(repetitions=1, warmup=0, min_time_s=10.0, max_repetitions=20))
    assert len(drive(capped, ms=1.0)) == 20


def test_min_time_on_resume_counts_the_time_already_measured() -> None:
    prior = [rec(0, ms=400.0), rec(1, ms=400.0), rec(2, ms=400.0, status="cancelled")]
    s = TaskSchedule(SchedulePolicy(repetitions=2, warmup=0, min_time_s=1.0), prior)
    assert drive(s, ms=400.0) == [Slot(2, False)]  # 0.8 s recorded + 0.4 s = 1.2 s

"""One run end to end: orchestration, the request loop, traffic shapes, schedules, resume, hygiene, doctor."""

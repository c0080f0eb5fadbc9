"""Part of a suite: ``--tasks GLOB`` and ``--sample N --seed S``, for any suite.

A 10-minute CI gate cannot run 1,000 BFCL cases on a laptop. ``--tasks`` keeps the tasks whose id
matches one of its comma-separated shell patterns (``HumanEval-1*,HumanEval-2``); ``--sample N`` then
draws N of them with the run's seed (``random.Random(seed).sample``) and keeps them in suite order. The
result is a suite of its own: its hash covers the tasks chosen, and ``subset`` records how they were
chosen, so two runs are compared only when they ran the same subset (``bench.results.comparability``).
"""

from __future__ import annotations

import fnmatch
import random

from bench.errors import SuiteError
from bench.suite.loader import PromptSuite, SuiteSubset

__all__ = ["select_tasks"]


def select_tasks(
    suite: PromptSuite, *, tasks: str | None = None, sample: int | None = None, seed: int | None = None
) -> PromptSuite:
    """``suite`` cut to ``tasks`` (id patterns) and then to a seeded ``sample`` of N tasks."""
    if tasks is None and sample is None:
        return suite
    chosen = list(suite.tasks)
    if tasks is not None:
        patterns = [p.strip() for p in tasks.split(",") if p.strip()]
        if not patterns:
            raise SuiteError(f"--tasks {tasks!r}: no pattern given", fix="e.g. --tasks 'HumanEval-1*'")
        chosen = [t for t in chosen if any(fnmatch.fnmatchcase(t.id, p) for p in patterns)]
        if not chosen:
            first = ", ".join(t.id for t in suite.tasks[:3])
            raise SuiteError(
                f"--tasks {tasks!r}: no task of suite {suite.name} matches",
                fix=f"patterns match task ids such as {first}",
            )
    if sample is not None:
        if sample < 1:
            raise SuiteError(f"--sample {sample}: must be at least 1")
        if seed is None:
            raise SuiteError("--sample needs a seed", fix="give --seed S (a run records the seed it drew)")
        if sample < len(chosen):
            keep = set(random.Random(seed).sample(range(len(chosen)), sample))
            chosen = [t for i, t in enumerate(chosen) if i in keep]
    subset = SuiteSubset(
        tasks=tasks, sample=sample, seed=seed if sample is not None else None,
        n_selected=len(chosen), n_total=len(suite.tasks),
    )  # fmt: skip
    return suite.model_copy(update={"tasks": chosen, "subset": subset})

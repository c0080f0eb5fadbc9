"""pytest plugin (entry point ``pytest11``, name ``infercost``): every task of a suite becomes a test.

::

    pytest --benchmark-only --infercost-suite default --infercost-model smollm2-135m --benchmark-save=base
    pytest --benchmark-only --infercost-suite default --infercost-model smollm2-135m \\
           --benchmark-compare --benchmark-compare-fail=mean:10%

A task's test passes when its check passes on every measured repetition. Its end-to-end latency is timed
by pytest-benchmark's own timer (``benchmark.pedantic``: ``--infercost-warmup`` warmup rounds, then one
round per ``--infercost-repetitions``), so ``--benchmark-save``, ``--benchmark-compare`` and
``--benchmark-compare-fail`` gate latency the way pytest-benchmark users know; token counts, pass rate,
energy and cost go to ``extra_info`` (registry names), and every request is written to a result bundle that
``infercost gate`` can gate on cost and energy. The ``infercost`` fixture hands tests the loaded model
(``infercost.run("prompt", check={...})`` → ``Record``). The model loads once per session.

Installed, this module is imported by *every* pytest session: it imports only pytest here, adds its options,
and each hook returns at once unless an ``--infercost-*`` option is given (``-p no:infercost`` removes it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bench.run.flags import CORE_RUN_FLAGS, add_flags

if TYPE_CHECKING:
    from bench.ci.pytest_session import InfercostSession
    from bench.suite.loader import PromptSuite, Task

__all__ = ["infercost"]

_SESSION = pytest.StashKey["InfercostSession"]()
_BUNDLE = pytest.StashKey["Path | None"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("infercost", "infercost: a prompt suite as tests, timed by pytest-benchmark")
    # the run's core flags, declared once in bench.run.flags (as `infercost run` takes them)
    add_flags(group.addoption, CORE_RUN_FLAGS, prefix="--infercost-", defaults={"suite": None, "out": None})


def _active(config: pytest.Config) -> bool:
    return bool(config.getoption("infercost_suite") or config.getoption("infercost_model"))


def pytest_configure(config: pytest.Config) -> None:
    if not _active(config):
        return
    suite = config.getoption("infercost_suite")
    if suite and not config.pluginmanager.hasplugin("benchmark"):
        raise pytest.UsageError(
            "--infercost-suite times tasks with pytest-benchmark: pip install pytest-benchmark"
        )
    from bench.ci.pytest_session import InfercostSession, prepare
    from bench.errors import BenchError
    from bench.results.bundle import DEFAULT_RUNS_ROOT
    from bench.run.orchestrate import RunOptions

    if suite:
        out = Path(config.getoption("infercost_out") or DEFAULT_RUNS_ROOT)
    else:  # the fixture alone writes no bundle worth keeping
        import tempfile

        out = Path(tempfile.mkdtemp(prefix="infercost-fixture-"))
    options = RunOptions(
        device=config.getoption("infercost_device"),
        suite=suite or "default",
        model=config.getoption("infercost_model"),
        repetitions=config.getoption("infercost_repetitions"),
        warmup=config.getoption("infercost_warmup"),
        threads=config.getoption("infercost_threads"),
        out=out,
        command=["pytest", *config.invocation_params.args],
    )
    try:
        prepared = prepare(options)
    except BenchError as exc:
        raise pytest.UsageError(f"infercost: {exc}") from None
    config.stash[_SESSION] = InfercostSession(prepared, keep_bundle=bool(suite))
    config.addinivalue_line("markers", "infercost: a task of the --infercost-suite")


class InfercostSuiteFile(pytest.File):
    """The suite file as a collector: one test per task."""

    suite: PromptSuite

    def collect(self) -> Iterator[pytest.Item]:
        for task in self.suite.tasks:
            item = InfercostTask.from_parent(self, name=task.id, callobj=_task_test)
            item.task = task
            item.add_marker("infercost")
            yield item


class InfercostTask(pytest.Function):
    """One suite task; runs ``_task_test`` with the ``benchmark`` fixture."""

    task: Task

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"infercost task {self.task.id}"


def _task_test(benchmark: Any, request: pytest.FixtureRequest) -> None:
    from bench.ci.pytest_session import EXTRA_INFO_FIELDS
    from bench.errors import BenchError

    item = request.node
    assert isinstance(item, InfercostTask)
    session = request.config.stash[_SESSION]
    try:
        run = session.run_task(item.task, benchmark.pedantic)
    except BenchError as exc:
        pytest.fail(f"infercost: {exc}", pytrace=False)
    benchmark.extra_info.update(
        {
            "task_id": item.task.id,
            "category": item.task.category,
            "passed": sum(1 for r in run.measured if r.passed),
            "repetitions": len(run.measured),
            **{k: run.metrics.get(k) for k in EXTRA_INFO_FIELDS},
            "bundle": str(session.run_dir),
        }
    )
    failure = run.failure()
    if failure:
        pytest.fail(failure, pytrace=False)


@pytest.hookimpl(tryfirst=True)  # before -k/-m deselection, so they select tasks too
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if _SESSION not in config.stash or not config.getoption("infercost_suite"):
        return
    prepared = config.stash[_SESSION].prepared
    collector = InfercostSuiteFile.from_parent(session, path=prepared.suite_path.resolve())
    collector.suite = prepared.suite
    tasks = list(collector.collect())
    # reported like any collected file, so "collected N items" and -k/-m deselection counts include them
    result: list[pytest.Item | pytest.Collector] = [*tasks]
    session.ihook.pytest_collectreport(report=pytest.CollectReport(collector.nodeid, "passed", None, result))
    items.extend(tasks)


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if _SESSION in config.stash:
        config.stash[_BUNDLE] = config.stash[_SESSION].close()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    bundle = config.stash.get(_BUNDLE, None)
    if bundle is not None:
        terminalreporter.write_line(
            f"infercost: bundle {bundle} (gate it: infercost gate {bundle} --rules gate.toml)"
        )


@pytest.fixture(scope="session")
def infercost(request: pytest.FixtureRequest) -> InfercostSession:
    """The session's loaded model: ``infercost.run("What is 2+2?", check={"type": "number", "value": 4})``."""
    if _SESSION not in request.config.stash:
        pytest.skip("the infercost fixture needs --infercost-model NAME|PATH (or --infercost-suite)")
    session = request.config.stash[_SESSION]
    session.start()
    return session

"""The sweep engine without an engine: grid parsing, cells and their run order, per-cell options, the
checks made before anything runs, and the schedule's round limit that interleaves repetitions."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.devices.profiles import load_device
from bench.errors import ProfileError, UsageError
from bench.results.schema import Record
from bench.results.sweep import read_sweep
from bench.run.orchestrate import with_engine_settings
from bench.run.schedule import SchedulePolicy, Slot, TaskSchedule
from bench.run.sweep import SweepPlan, cell_options, new_sweep, open_sweep, parse_axis
from tests.helpers import FIXTURES

SUITE = str(FIXTURES / "suites" / "sweep-tiny.toml")


def plan(tmp_path: Path, axes: dict[str, list[object]], **base: object) -> SweepPlan:
    return SweepPlan(
        suite=SUITE, axes=axes, base={"repetitions": 1, "warmup": 0, **base}, out=tmp_path, seed=3
    )


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("threads", "1,2", [1, 2]),
        ("threads", " 4 ", [4]),
        ("flash_attn", "on,OFF", [True, False]),
        ("rate", "0.5,2", [0.5, 2.0]),
        ("n_gpu_layers", "-1,0", [-1, 0]),
        ("model", "smollm2-135m,gemma3-270m", ["smollm2-135m", "gemma3-270m"]),
    ],
)
def test_lists_parse_into_axis_values(name: str, text: str, expected: list[object]) -> None:
    assert parse_axis(name, text) == expected


@pytest.mark.parametrize(
    ("name", "text", "needle"),
    [
        ("threads", "1,,2", "--threads 1,,2: item 2 is empty"),
        ("threads", "1,2,", "item 3 is empty"),
        ("threads", "", "item 1 is empty"),
        ("concurrency", "0", "--concurrency 0: item 1: 0 is below 1"),
        ("threads", "two", "'two' is not a whole number"),
        ("rate", "-1", "is not 0.01 to 100,000 requests per second"),
        ("flash_attn", "maybe", "not on or off"),
        ("threads", "2,2", "2 is given twice"),
        ("n_ctx", "32", "32 is below 64"),
    ],
)
def test_malformed_lists_are_one_line_usage_errors(name: str, text: str, needle: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_axis(name, text)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_grid_cells_ids_settings_and_a_seeded_interleaved_order(tmp_path: Path) -> None:
    sweep_dir, m = new_sweep(plan(tmp_path, {"threads": [1, 2], "n_ctx": [512, 1024, 2048]}, repetitions=3))
    assert [c.id for c in m.cells] == ["c00", "c01", "c02", "c03", "c04", "c05"]
    assert m.cells[4].settings == {"threads": 2, "n_ctx": 1024}  # product in command-line order
    assert all(c.status == "pending" and c.path.startswith("cells/") for c in m.cells)
    assert m.seed == 3 and m.round_orders is not None and len(m.round_orders) == 3
    for order in m.round_orders:  # every round runs every cell once
        assert sorted(order) == [c.id for c in m.cells]
    assert m.order == m.round_orders[0]
    assert len({tuple(o) for o in m.round_orders}) > 1  # rounds are shuffled anew
    _, again = new_sweep(plan(tmp_path / "b", {"threads": [1, 2], "n_ctx": [512, 1024, 2048]}, repetitions=3))
    assert again.round_orders == m.round_orders  # the recorded seed repeats the order
    assert read_sweep(sweep_dir).model_dump() == m.model_dump()  # written before anything runs
    assert (sweep_dir / "cells").is_dir()


def test_cell_options_map_settings_onto_run_options(tmp_path: Path) -> None:
    sweep_dir, m = new_sweep(
        plan(
            tmp_path,
            {"threads": [2], "n_ctx": [512], "flash_attn": [False], "concurrency": [4]},
            power="none",
        )
    )
    opts = cell_options(sweep_dir, m, m.cells[0])
    assert opts.threads == 2 and opts.power == "none" and opts.repetitions == 1 and opts.warmup == 0
    assert opts.llama_cpp == {"n_ctx": 512, "flash_attn": False}
    assert opts.traffic.concurrency == 4 and opts.traffic.rate is None
    assert opts.out / opts.run_id == sweep_dir / m.cells[0].path  # the bundle lands where the cell says
    assert Path(opts.suite).name == "sweep-tiny.toml"


def test_engine_overrides_are_validated_and_refused_over_http() -> None:
    device = with_engine_settings(load_device("auto"), {"n_ctx": 1024, "flash_attn": True})
    assert device.llama_cpp.n_ctx == 1024 and device.llama_cpp.flash_attn is True
    assert device.public_dict()["llama_cpp"]["n_ctx"] == 1024  # recorded in the manifest's profile
    with pytest.raises(UsageError, match=r"llama_cpp\.n_ctx"):
        with_engine_settings(load_device("auto"), {"n_ctx": 10})
    with pytest.raises(UsageError, match="runs over HTTP"):
        with_engine_settings(load_device("local-server"), {"n_ctx": 1024})


@pytest.mark.parametrize(
    ("axes", "base", "needle"),
    [
        (
            {"threads": [1, 2]},
            {"device": "openai-gpt-4o-mini"},
            "--threads: device 'OpenAI gpt-4o-mini' runs over HTTP",
        ),
        ({"device": ["auto", "local-server"], "n_ctx": [512]}, {}, "--n-ctx: device 'local OpenAI"),
        ({"concurrency": [1, 2], "rate": [1.0]}, {}, "one load shape"),
        ({"model": ["no-such-model"]}, {}, "--model no-such-model: unknown model"),
        ({}, {}, "no axis to sweep"),
    ],
)
def test_options_that_do_not_apply_are_refused_before_anything_runs(
    tmp_path: Path, axes: dict[str, list[object]], base: dict[str, object], needle: str
) -> None:
    with pytest.raises(UsageError) as info:
        new_sweep(plan(tmp_path, axes, **base))
    assert needle in str(info.value)
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # no sweep directory was made


def test_unknown_power_mode_is_refused_up_front(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="power_modes"):
        new_sweep(plan(tmp_path, {"power_mode": ["15W"]}))


def test_resume_refuses_another_suite_and_other_axes(tmp_path: Path) -> None:
    sweep_dir, _ = new_sweep(plan(tmp_path, {"threads": [1, 2]}))
    assert open_sweep(sweep_dir, suite=SUITE, axes={"threads": [1, 2]}).axes == {"threads": [1, 2]}
    with pytest.raises(UsageError, match="the sweep ran suite 'sweep-tiny'"):
        open_sweep(sweep_dir, suite=str(FIXTURES / "suites" / "mini.toml"))
    with pytest.raises(UsageError, match="--threads differs"):
        open_sweep(sweep_dir, axes={"threads": [1, 4]})
    with pytest.raises(UsageError, match="not a sweep directory"):
        open_sweep(tmp_path)


def _rec(rep: int) -> Record:
    return Record(run_id="r", task_id="t", category="c", repetition=rep, warmup=False, status="ok",
                  started_utc="2026-01-01T00:00:00Z", start_ns=0, end_ns=10)  # fmt: skip


def test_round_limit_runs_one_repetition_per_round_and_owes_the_rest() -> None:
    first = TaskSchedule(SchedulePolicy(repetitions=3, warmup=1, limit=1))
    assert list(first) == [Slot(0, True), Slot(0, False)]
    assert first.owes_beyond_limit and first.planned_remaining == 2
    second = TaskSchedule(SchedulePolicy(repetitions=3, warmup=1, limit=2), prior=[_rec(0)])
    assert [s for s in second if not s.warmup] == [Slot(1, False)]
    last = TaskSchedule(SchedulePolicy(repetitions=3, warmup=0), prior=[_rec(0), _rec(1)])
    assert list(last) == [Slot(2, False)] and not last.owes_beyond_limit


def test_resume_refuses_a_suite_file_edited_since(tmp_path: Path) -> None:
    suite = tmp_path / "suite.toml"
    suite.write_text(Path(SUITE).read_text())
    sweep_dir, _ = new_sweep(
        SweepPlan(suite=str(suite), axes={"threads": [1]}, base={"repetitions": 1}, out=tmp_path / "o")
    )
    suite.write_text(Path(SUITE).read_text().replace("max_tokens = 4", "max_tokens = 5"))
    with pytest.raises(UsageError, match="changed since the sweep started"):
        open_sweep(sweep_dir)


def test_an_unwritable_out_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UsageError, match=r"--out .*cannot create"):
        new_sweep(plan(blocker, {"threads": [1]}))

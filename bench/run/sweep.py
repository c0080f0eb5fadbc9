"""``infercost sweep``: a grid of run options, every cell an ordinary bundle, resumable cell by cell.

The grid is the product of the axes given (``--model a,b --threads 1,2 --concurrency 1,4`` is 8 cells);
each cell runs through ``prepare_run``/``execute_run`` exactly as ``infercost run`` would, into its own
bundle under ``SWEEP_DIR/cells/``, and ``SWEEP_DIR/sweep.json`` (``bench.results.sweep``) is rewritten
after every change of a cell's status. So a sweep stopped anywhere (Ctrl-C, ``kill -9``, a reboot) is
finished by ``--resume SWEEP_DIR``: done cells are never run again, failed cells stay failed, and a cell
stopped half-way resumes as ``run --resume`` does (only its missing requests run).

Everything that can be checked before a request runs is checked first, once for the whole grid: the
lists themselves (``--threads 1,,2`` is refused), the suite, every device profile and power mode, and
whether each axis applies to each device (threads on a cloud profile does not). A cell that cannot run
for a reason only running it reveals (the model does not fit, the engine refuses a setting, an in-process
device refuses ``--rate``) becomes a *failed* cell with that reason in one line, and the sweep goes
on.

Order (drift must not look like a settings effect): cells run in an order shuffled with a seed recorded
in the manifest, never grid order, so a slow warm-up of the machine does not line up with one axis. With
``--repetitions R > 1`` the sweep runs R *rounds*: each round runs every cell once, one more repetition
of each of its tasks (appended to the cell's bundle with resume semantics), in that round's own shuffled
order. A cell's repetitions are thus spread across the whole sweep instead of sitting back to back.
Cells under load (``--concurrency`` > 1 or ``--rate``) run their R repetitions in round one: a load run
cannot be resumed, and its requests overlap anyway. A resumed session samples no power (see
``bench.run.orchestrate``), so with R > 1 a cell's energy comes from its first round only.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random
import secrets
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from bench import __version__
from bench.devices.cost_flags import check_cost_flags
from bench.devices.profiles import MAX_N_CTX, MAX_THREADS, DeviceProfile, load_device
from bench.errors import BenchError, UsageError
from bench.models.catalog import CATALOG, DEFAULT_MODEL
from bench.power.registry import check_power_options
from bench.results.bundle import MANIFEST, read_bundle
from bench.results.sweep import SweepCell, SweepManifest, is_sweep_dir, read_sweep, write_sweep
from bench.run.orchestrate import RunOptions, execute_run, prepare_run, with_engine_settings
from bench.run.runner import ProgressEvent, RunInterrupted
from bench.run.shape_checks import check_shapes
from bench.run.traffic import MAX_CONCURRENCY, MAX_RATE_RPS, MIN_RATE_RPS, TrafficOptions
from bench.suite.loader import load_suite, resolve_suite_path

__all__ = [
    "AXES",
    "Axis",
    "CellEvent",
    "SweepPlan",
    "cell_options",
    "new_sweep",
    "parse_axis",
    "run_sweep",
]

_ENGINE_AXES = ("n_gpu_layers", "flash_attn", "n_ctx")  # the profile's [llama_cpp] settings
_LOAD_AXES = ("concurrency", "rate")  # TrafficOptions
# A grid is the product of its axes: 20,000 cells was accepted and would run for weeks. Refused before
# anything is loaded (the count is known from the lists alone); split a larger study into sweeps.
MAX_CELLS = 1_000


def _int_between(minimum: int, maximum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise ValueError(f"{value} is below {minimum}")
        if value > maximum:
            raise ValueError(f"{value} is above {maximum:,}")
        return value

    return parse


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and MIN_RATE_RPS <= value <= MAX_RATE_RPS):
        raise ValueError(f"{text} is not {MIN_RATE_RPS:g} to {MAX_RATE_RPS:,.0f} requests per second")
    return value


def _on_off(text: str) -> bool:
    if text.lower() in ("on", "true", "1", "yes"):
        return True
    if text.lower() in ("off", "false", "0", "no"):
        return False
    raise ValueError(f"{text!r} is not on or off")


def _name(text: str) -> str:
    return text


@dataclass(frozen=True)
class Axis:
    """One option a sweep can vary: its flag, how one value parses, which backend it applies to."""

    name: str  # the key in SweepCell.settings
    flag: str
    parse: Callable[[str], Any]
    example: str
    llama_cpp_only: bool = False


AXES: dict[str, Axis] = {
    a.name: a
    for a in (
        Axis("model", "--model", _name, "smollm2-135m,gemma3-270m"),
        Axis("device", "--device", _name, "auto,local-server"),
        Axis("threads", "--threads", _int_between(1, MAX_THREADS), "1,2,4", llama_cpp_only=True),
        Axis("n_gpu_layers", "--n-gpu-layers", _int_between(-1, 100_000), "0,16,-1", llama_cpp_only=True),
        Axis("flash_attn", "--flash-attn", _on_off, "on,off", llama_cpp_only=True),
        Axis("n_ctx", "--n-ctx", _int_between(64, MAX_N_CTX), "2048,8192", llama_cpp_only=True),
        Axis("concurrency", "--concurrency", _int_between(1, MAX_CONCURRENCY), "1,2,4,8"),
        Axis("rate", "--rate", _rate, "0.5,1,2"),
        Axis("power_mode", "--power-mode", _name, "15W,25W"),
    )
}


def parse_axis(name: str, text: str) -> list[Any]:
    """``"1,2,4"`` → ``[1, 2, 4]`` for axis ``name``; an empty item, a bad value or a repeated one is a
    one-line ``UsageError`` naming the flag and the item."""
    axis = AXES[name]
    items = text.split(",")
    values: list[Any] = []
    for position, item in enumerate(items, 1):
        item = item.strip()
        if not item:
            raise UsageError(
                f"{axis.flag} {text}: item {position} is empty",
                fix=f"give values separated by single commas, e.g. {axis.flag} {axis.example}",
            )
        try:
            value = axis.parse(item)
        except ValueError as exc:
            raise UsageError(
                f"{axis.flag} {text}: item {position}: {exc}", fix=f"e.g. {axis.flag} {axis.example}"
            ) from None
        if value in values:
            raise UsageError(f"{axis.flag} {text}: {item} is given twice", fix="give each value once")
        values.append(value)
    return values


@dataclass(frozen=True)
class SweepPlan:
    """What ``infercost sweep`` was asked for: the axes (name → values, in command-line order) and the
    options every cell shares (``base``: RunOptions fields; traffic as concurrency/rate/slo_* keys)."""

    suite: str
    axes: dict[str, list[Any]]
    base: dict[str, Any]
    out: Path
    seed: int | None = None
    command: tuple[str, ...] = ()


_BASE_KEYS = frozenset(
    {f.name for f in fields(RunOptions)}
    - {"out", "resume", "explicit", "traffic", "command", "llama_cpp", "run_id", "repetition_limit", "trace"}
) | {"concurrency", "rate", "slo_ttft_ms", "slo_tpot_ms", *_ENGINE_AXES}


def _devices(plan_axes: dict[str, list[Any]], base: dict[str, Any]) -> list[DeviceProfile]:
    """Every (device, power mode) combination of the grid, loaded: a bad profile or an unknown power mode
    stops the sweep before it starts."""
    names = plan_axes.get("device") or [base.get("device") or "auto"]
    modes = plan_axes.get("power_mode") or [base.get("power_mode")]
    return [load_device(name, power_mode=mode) for name in names for mode in modes]


def _check_applies(axes: dict[str, list[Any]], base: dict[str, Any], devices: list[DeviceProfile]) -> None:
    for device in devices:
        if device.backend == "llama_cpp":
            continue
        for name in [*axes, *(k for k in _ENGINE_AXES if base.get(k) is not None), "threads"]:
            axis = AXES.get(name)
            given = name in axes or base.get(name) is not None
            if axis is not None and axis.llama_cpp_only and given:
                raise UsageError(
                    f"{axis.flag}: device '{device.name}' runs over HTTP ({device.backend}); "
                    "engine settings do not apply to it",
                    fix=f"drop {axis.flag}, or sweep it over in-process devices only",
                )
    models = axes.get("model") or [base.get("model")]
    if any(d.backend == "llama_cpp" for d in devices):
        for ref in models:
            ref = ref or DEFAULT_MODEL
            if ref not in CATALOG and not Path(ref).expanduser().exists():
                raise UsageError(
                    f"--model {ref}: unknown model (catalog: {', '.join(CATALOG)}; or a path to a .gguf file)"
                )
    if "concurrency" in axes and ("rate" in axes or base.get("rate") is not None):
        raise UsageError("--concurrency and --rate: a grid sweeps one load shape: give one of them")


def _sweep_id(suite_name: str) -> str:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in suite_name)
    return f"{stamp}-{safe}-{secrets.token_hex(2)}"


def _round_orders(cell_ids: Sequence[str], rounds: int, seed: int) -> list[list[str]]:
    """Each round's run order: the cells shuffled anew per round with a generator seeded by ``seed``."""
    rng = random.Random(seed)
    orders = []
    for _ in range(rounds):
        order = list(cell_ids)
        rng.shuffle(order)
        orders.append(order)
    return orders


def new_sweep(plan: SweepPlan) -> tuple[Path, SweepManifest]:
    """Validate the whole grid, create the sweep directory and write its manifest (nothing runs yet)."""
    unknown = set(plan.base) - _BASE_KEYS
    if unknown:
        raise UsageError(f"sweep: unknown shared options {sorted(unknown)}")
    if not plan.axes:
        raise UsageError(
            "sweep: no axis to sweep",
            fix="give at least one list, e.g. --threads 1,2 or --model smollm2-135m,gemma3-270m",
        )
    for name, values in plan.axes.items():
        if not values:
            raise UsageError(f"{AXES[name].flag}: the list is empty")
    n_cells = math.prod(len(v) for v in plan.axes.values())
    if n_cells > MAX_CELLS:
        sizes = " x ".join(f"{len(v)} {AXES[n].flag}" for n, v in plan.axes.items())
        raise UsageError(
            f"sweep: {n_cells:,} cells ({sizes}) is over the limit of {MAX_CELLS:,}",
            fix="sweep fewer values per axis, or split the study into several sweeps",
        )
    suite_path = resolve_suite_path(plan.suite)
    suite = load_suite(suite_path)
    devices = _devices(plan.axes, plan.base)
    _check_applies(plan.axes, plan.base, devices)
    for device in devices:  # a depth or parallel shape no cell could run: before any cell starts
        for n_ctx in plan.axes.get("n_ctx") or [plan.base.get("n_ctx")]:
            cell_device = device if n_ctx is None else with_engine_settings(device, {"n_ctx": n_ctx})
            check_shapes(suite, suite_path, cell_device)
    defaults = RunOptions()
    check_cost_flags({k: plan.base.get(k) for k in defaults.cost_settings()})
    for device in devices:  # a sensor typo or an estimate without wattages: before any cell runs
        check_power_options(
            plan.base.get("power"),
            device,
            rate_hz=plan.base.get("power_hz", defaults.power_hz),
            idle_s=plan.base.get("idle_seconds", defaults.idle_seconds),
        )
    if suite.has_agent_tasks and any(k in plan.axes for k in _LOAD_AXES):
        raise UsageError(f"--concurrency/--rate do not apply to agent tasks (suite {suite.name})")
    seed = plan.seed if plan.seed is not None else secrets.randbelow(2**31)
    sweep_id = _sweep_id(suite.name)
    names = list(plan.axes)
    combos = list(itertools.product(*(plan.axes[n] for n in names)))
    width = max(2, len(str(len(combos) - 1)))
    cells = [
        SweepCell(
            id=f"c{i:0{width}d}",
            settings=dict(zip(names, combo, strict=True)),
            path=f"cells/{sweep_id}-c{i:0{width}d}",
        )
        for i, combo in enumerate(combos)
    ]
    repetitions = int(plan.base.get("repetitions") or 1)
    orders = _round_orders([c.id for c in cells], repetitions, seed)
    manifest = SweepManifest(
        sweep_id=sweep_id,
        created_utc=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        command=list(plan.command),
        suite=suite.name,
        suite_hash=suite.suite_hash,
        device=str(plan.base.get("device") or "auto"),
        axes=plan.axes,
        base={**plan.base, "suite": str(suite_path)},
        order=orders[0],
        seed=seed,
        cells=cells,
        round_orders=orders,
        tool_version=__version__,
    )
    sweep_dir = plan.out / sweep_id
    try:
        (sweep_dir / "cells").mkdir(parents=True, exist_ok=False)
    except OSError as exc:
        raise UsageError(f"--out {plan.out}: cannot create {sweep_dir} ({exc.strerror})") from None
    write_sweep(sweep_dir, manifest)
    return sweep_dir, manifest


def open_sweep(
    sweep_dir: Path, *, suite: str | None = None, axes: dict[str, list[Any]] | None = None
) -> SweepManifest:
    """The manifest of a sweep to resume; a suite or axes given again must be the recorded ones."""
    if not is_sweep_dir(sweep_dir):
        raise UsageError(f"--resume {sweep_dir}: not a sweep directory (no sweep.json)")
    manifest = read_sweep(sweep_dir)
    recorded = str(manifest.base.get("suite") or manifest.suite)
    loaded = load_suite(resolve_suite_path(suite if suite is not None else recorded))
    if loaded.suite_hash != manifest.suite_hash:
        if suite is None:
            raise UsageError(
                f"--resume {sweep_dir}: suite file {recorded} changed since the sweep started "
                f"(hash {manifest.suite_hash[:12]}, now {loaded.suite_hash[:12]})",
                fix="restore the suite file, or start a new sweep",
            )
        raise UsageError(
            f"--resume {sweep_dir}: the sweep ran suite '{manifest.suite}' "
            f"({manifest.suite_hash[:12]}), not '{loaded.name}' ({loaded.suite_hash[:12]})",
            fix="drop --suite to resume with the recorded one, or start a new sweep",
        )
    for name, values in (axes or {}).items():
        if manifest.axes.get(name) != values:
            raise UsageError(
                f"--resume {sweep_dir}: {AXES[name].flag} differs from the sweep's "
                f"({manifest.axes.get(name)!r}, now {values!r})",
                fix="drop the axis flags to resume the recorded grid",
            )
    return manifest


def cell_options(sweep_dir: Path, manifest: SweepManifest, cell: SweepCell) -> RunOptions:
    """The run options of one cell: the shared options, the cell's own settings over them."""
    merged = {**manifest.base, **cell.settings}
    traffic = TrafficOptions(
        int(merged.pop("concurrency", None) or 1),
        merged.pop("rate", None),
        merged.pop("slo_ttft_ms", None),
        merged.pop("slo_tpot_ms", None),
    )
    engine = {k: merged.pop(k) for k in _ENGINE_AXES if merged.get(k) is not None}
    for k in _ENGINE_AXES:
        merged.pop(k, None)
    bundle = sweep_dir / cell.path
    return RunOptions(
        **merged,
        out=bundle.parent,
        run_id=bundle.name,
        traffic=traffic,
        llama_cpp=engine,
        command=[*manifest.command, f"(cell {cell.id})"],
    )


@dataclass(frozen=True)
class CellEvent:
    """What the CLI prints: a cell starts (``kind="start"``) or ends (``done``, ``failed``, ``round``)."""

    kind: str
    cell: SweepCell
    round_index: int
    rounds: int
    position: int  # 1-based: which cell of the round
    n_cells: int
    detail: str = ""


def _bundle_state(path: Path) -> str:
    """``missing``, ``torn`` (a directory without a readable manifest), ``complete`` or ``partial``."""
    if not path.exists():
        return "missing"
    if not (path / MANIFEST).is_file():
        return "torn"
    try:
        bundle = read_bundle(path)
    except BenchError:
        return "torn"
    return "complete" if bundle.manifest.complete else "partial"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:500]


def _run_round(
    sweep_dir: Path,
    manifest: SweepManifest,
    cell: SweepCell,
    round_index: int,
    rounds: int,
    on_progress: Callable[[ProgressEvent], None] | None,
    on_start: Callable[[], None] | None = None,
) -> None:
    """One session of one cell: its next round (or all of it), fresh or resumed; ``on_start`` is called
    once the session is recorded in ``sweep.json`` (a cell found finished runs nothing and starts none)."""
    options = cell_options(sweep_dir, manifest, cell)
    under_load = options.traffic.is_load
    bundle = sweep_dir / cell.path
    state = _bundle_state(bundle)
    last_round = under_load or round_index == rounds - 1
    if state == "complete":
        cell.status, cell.rounds_done = "done", rounds  # finished before the manifest said so
        return
    if state == "torn" or (state == "partial" and under_load):
        # nothing of a torn bundle can be resumed, nor any load run (its requests overlapped)
        shutil.rmtree(bundle)
        state = "missing"
    options = replace(
        options,
        repetition_limit=None if last_round else round_index + 1,
        resume=bundle if state == "partial" else None,
    )
    cell.status = "running"
    cell.attempts = cell.attempts + 1
    cell.error = None
    write_sweep(sweep_dir, manifest)
    if on_start is not None:
        on_start()
    try:
        prepared = prepare_run(options)
        outcome = execute_run(prepared, on_progress=on_progress)
    except (RunInterrupted, KeyboardInterrupt):
        write_sweep(sweep_dir, manifest)  # stays "running": --resume continues it
        raise
    except BenchError as exc:
        cell.status, cell.error = "failed", _one_line(exc)
        write_sweep(sweep_dir, manifest)
        return
    cell.run_id = outcome.manifest.run_id
    cell.rounds_done = rounds if last_round else round_index + 1
    cell.status = "done" if outcome.manifest.complete else "pending"
    write_sweep(sweep_dir, manifest)


def run_sweep(
    sweep_dir: Path,
    manifest: SweepManifest,
    *,
    on_cell: Callable[[CellEvent], None] | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
) -> SweepManifest:
    """Run (or finish) every cell, round by round; return the final manifest. Ctrl-C raises
    ``RunInterrupted``/``KeyboardInterrupt`` with the manifest saved."""
    orders: list[list[str]] = manifest.round_orders or [manifest.order]
    rounds = len(orders)
    for round_index, order in enumerate(orders):
        for position, cell_id in enumerate(order, 1):
            cell = manifest.cell(cell_id)
            done_rounds = cell.rounds_done
            if cell.status in ("done", "failed") or done_rounds > round_index:
                continue
            event = CellEvent("start", cell, round_index, rounds, position, len(order))

            def started(event: CellEvent = event) -> None:
                if on_cell is not None:
                    on_cell(event)

            _run_round(sweep_dir, manifest, cell, round_index, rounds, on_progress, started)
            if on_cell is not None:
                kind = cell.status if cell.status in ("done", "failed") else "round"
                on_cell(replace(event, kind=kind, detail=cell.error or ""))
    return manifest

"""``infercost run --resume RUN_DIR``: finish an interrupted run in the same bundle, or refuse to.

A resumed run must measure the same thing as the run it continues, or its records would silently pool
two configurations (docs/reports.md: runs whose key properties differ are never pooled). So the run is rebuilt
from its manifest (suite path, device profile, model file, repetitions, warmup, ``--min-time``,
``--cooldown``, ``--no-text``, threads); flags given on the command line override the recorded values,
and then what *would run now* is compared with what ran, section by section:

1. the suite hash (the suite file may have been edited since),
2. the model file's sha256 (or endpoint and model name over HTTP),
3. the device profile, field by field,
4. the host (name, CPU, cores, memory),
5. the backend (engine, engine version, prompt format, every engine setting),
6. the run settings.

The first difference is reported as one line naming it, with both values (exit 2). Only the request
slots without a finished record then run (``bench.run.schedule``); records are appended to the same
``records.jsonl`` and the manifest gains a ``resumes`` entry and, at the end, ``complete: true``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import UsageError
from bench.results.schema import HygieneFacts, HygieneSnapshot, Manifest, ModelFacts, ResumeFacts

__all__ = ["Mismatch", "continue_manifest", "first_mismatch", "recorded_options", "verify"]

HOST_KEYS = ("hostname", "machine", "cpu_model", "cpu_logical", "cpu_physical", "memory_gb")
BACKEND_KEYS = ("name", "engine", "engine_version", "prompt_format", "model", "base_url")
SAME_BOOT_TOLERANCE_S = 5.0


@dataclass(frozen=True)
class Mismatch:
    what: str
    recorded: Any
    now: Any
    fix: str

    def message(self, run_dir: Path | str) -> str:
        return (
            f"--resume {run_dir}: cannot resume: {self.what} differs "
            f"(the run used {_show(self.recorded)}, now {_show(self.now)})"
        )


def _show(value: Any) -> str:
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return value[:12] + "…"  # a sha256
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def recorded_options(manifest: Manifest) -> dict[str, Any]:
    """Option values that reproduce the recorded run (None: not recorded, keep the default).

    Every run setting is passed through under its own name (``repetitions``, ``min_time_s``, ...), so a
    setting added later is resumed as recorded without a change here; the caller keeps the names it has
    options for.
    """
    return {
        **manifest.settings.model_dump(),
        "device": manifest.device.origin or "auto",
        "suite": manifest.suite.path,
        "model": (manifest.model.path if manifest.model else None),
        "threads": manifest.backend.settings.n_threads,
    }


def _dict_differences(
    old: Mapping[str, Any], new: Mapping[str, Any], prefix: str
) -> Iterator[tuple[str, Any, Any]]:
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            yield from _dict_differences(a, b, f"{prefix}{key}.")
        elif a != b:
            yield f"{prefix}{key}", a, b


def _same_path(a: Any, b: Any) -> bool:
    if not isinstance(a, str) or not isinstance(b, str):
        return bool(a == b)
    return a == b or Path(a).resolve() == Path(b).resolve()


def first_mismatch(old: Manifest, now: Manifest) -> Mismatch | None:
    """The first key property, in the order of the module docstring, that differs between two runs."""
    fresh = "or start a new run instead of resuming"
    if old.suite.hash != now.suite.hash:
        same_file = _same_path(old.suite.path, now.suite.path)
        if not same_file or old.suite.name != now.suite.name:
            return Mismatch(
                "suite (a different suite)",
                f"{old.suite.name!r} from {old.suite.path}",
                f"{now.suite.name!r} from {now.suite.path}",
                f"give the suite the run used with --suite, {fresh}",
            )
        return Mismatch(
            f"suite hash ({now.suite.path} changed since the run)",
            old.suite.hash,
            now.suite.hash,
            f"restore the suite file, {fresh}",
        )
    old_model, new_model = old.model or ModelFacts(), now.model or ModelFacts()
    if old_model.sha256 != new_model.sha256:
        return Mismatch(
            f"model sha256 ({new_model.path or 'no model file'})",
            old_model.sha256,
            new_model.sha256,
            f"give the model file the run used with --model PATH, {fresh}",
        )
    old_device, new_device = old.device.without_origin(), now.device.without_origin()
    for where, a, b in _dict_differences(old_device, new_device, "device profile field "):
        return Mismatch(
            where, a, b, f"restore the profile or pass the one the run used with --device, {fresh}"
        )
    for key in HOST_KEYS:
        a, b = getattr(old.host, key), getattr(now.host, key)  # HOST_KEYS are HostFacts fields
        if a != b:
            return Mismatch(f"host {key}", a, b, f"resume on the machine that started the run, {fresh}")
    for key in BACKEND_KEYS:
        a, b = getattr(old.backend, key), getattr(now.backend, key)  # BackendFacts fields
        if a != b:
            return Mismatch(f"backend {key}", a, b, f"use the engine the run used, {fresh}")
    old_bs, new_bs = old.backend.settings.recorded(), now.backend.settings.recorded()
    for where, a, b in _dict_differences(old_bs, new_bs, "backend setting "):
        return Mismatch(where, a, b, f"use the settings the run used, {fresh}")
    old_rs, new_rs = old.settings.model_dump(exclude_none=True), now.settings.model_dump(exclude_none=True)
    for where, a, b in _dict_differences(old_rs, new_rs, "run setting "):
        return Mismatch(where, a, b, f"drop the flag to resume with the recorded value, {fresh}")
    return None


def verify(old: Manifest, now: Manifest, run_dir: Path | str) -> None:
    """Raise a one-line ``UsageError`` (exit 2) naming the first difference, if there is one."""
    mismatch = first_mismatch(old, now)
    if mismatch is not None:
        raise UsageError(mismatch.message(run_dir), fix=mismatch.fix)


def _parse_utc(text: Any) -> dt.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def same_boot(old: Manifest, hygiene_now: HygieneSnapshot | None) -> bool | None:
    """Whether this session runs in the boot that started the run (``perf_counter`` stamps then share one
    clock); None when either boot time is unknown."""
    start = (old.hygiene or HygieneFacts()).at("start")
    a, b = _parse_utc(start.boot_time), _parse_utc(hygiene_now.boot_time if hygiene_now else None)
    if a is None or b is None:
        return None
    return abs((a - b).total_seconds()) <= SAME_BOOT_TOLERANCE_S


def continue_manifest(
    old: Manifest, now: Manifest, *, records_before: int, hygiene_start: HygieneSnapshot | None
) -> Manifest:
    """The recorded manifest, reopened: incomplete again, with a ``resumes`` entry for this session."""
    m = old.model_copy(deep=True)
    m.complete = False
    m.interrupted = False
    m.finished_utc = None
    m.resumes.append(
        ResumeFacts(
            started_utc=now.started_utc,
            tool_version=now.tool_version,
            command=now.command,
            records_before=records_before,
            same_boot=same_boot(old, hygiene_start),
            # where this session begins on the run's clock: drift is judged within a session, never
            # across the gap between an interrupted session and the one that resumed it
            start_ns=now.anchor_perf_ns - old.anchor_perf_ns,
            hygiene_start=hygiene_start.model_copy(deep=True) if hygiene_start is not None else None,
        )
    )
    return m

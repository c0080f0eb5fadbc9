"""The run's command-line flags, declared once for every front end that starts a run.

``infercost run`` (argparse) and the pytest plugin (``--infercost-*``, pytest's own argparse-based
parser) take the same core flags; declaring them here, as pytest-benchmark's ``add_display_options``
does, keeps their names, types, defaults and help texts from drifting apart. The cost flags
(``--kwh-usd``, ``--hardware-usd``, ``--tasks-per-month``) are shared by ``run``, ``report`` and
``breakeven`` the same way: one type (a finite number), one help text each.

The converters raise ``argparse.ArgumentTypeError``, which both parsers turn into their one-line usage
error (exit 2).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.paths import DEFAULT_RUNS_ROOT

__all__ = [
    "CORE_RUN_FLAGS",
    "COST_FLAGS",
    "Flag",
    "add_flags",
    "int_at_least",
    "number",
    "positive_int",
    "positive_number",
    "seconds",
    "whole_from_zero",
]


def int_at_least(minimum: int) -> Callable[[str], int]:
    """A type for whole numbers >= minimum (counts: 1 or more; warmups and seeds: 0 or more)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {minimum} or more, got {value}")
        return value

    parse.__name__ = f"integer >= {minimum}"  # what argparse names in its error line
    return parse


positive_int = int_at_least(1)
whole_from_zero = int_at_least(0)


def number(text: str) -> float:
    """A finite number (``inf`` and ``nan`` would pass ``float`` and then price nothing silently)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_number(text: str) -> float:
    value = number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, 0 or more, got {text!r}")
    return value


@dataclass(frozen=True)
class Flag:
    """One flag as both parsers take it; ``name`` without dashes (``kwh-usd``)."""

    name: str
    help: str
    type: Callable[[str], Any] | None = None
    default: Any = None
    metavar: str | None = None
    short: str | None = None  # e.g. "-r"; only where the front end has no prefix


CORE_RUN_FLAGS: tuple[Flag, ...] = (  # a table: one flag a line
    Flag(
        "device",
        "profile NAME (devices/NAME.toml) or PATH; default: auto",
        default="auto",
        metavar="NAME|PATH",
    ),
    Flag(
        "suite",
        "suite NAME (prompts/NAME.toml) or PATH; default: default",
        default="default",
        metavar="NAME|PATH",
    ),
    Flag("model", "catalog name or GGUF path; default: smollm2-135m", metavar="NAME|PATH"),
    Flag("repetitions", "measured requests per task (3)", positive_int, 3, "N", "-r"),
    Flag("warmup", "warmup requests per task (1)", whole_from_zero, 1, "N", "-w"),
    Flag("threads", "engine threads (default: physical cores)", positive_int, None, "N", "-t"),
    Flag("out", f"runs root ({DEFAULT_RUNS_ROOT})", Path, DEFAULT_RUNS_ROOT, "DIR"),
)  # fmt: skip

COST_FLAGS: tuple[Flag, ...] = (
    Flag("kwh-usd", "electricity price, USD/kWh (overrides the profile's; when reading, the run's)", number, metavar="X"),
    Flag("hardware-usd", "device price, USD (overrides the profile's, auto has none; when reading, the run's)", number, metavar="X"),
    Flag("tasks-per-month", "tasks per month a subscription is spread over", number, metavar="N"),
)  # fmt: skip


def add_flags(
    add: Callable[..., Any],
    flags: Sequence[Flag],
    *,
    prefix: str = "--",
    defaults: Mapping[str, Any] | None = None,
    only: Sequence[str] | None = None,
) -> None:
    """Declare ``flags`` through ``add`` (argparse's ``add_argument`` or pytest's ``addoption``).

    ``prefix`` is ``--`` for ``infercost`` and ``--infercost-`` for the pytest plugin (short options only
    without a prefix); ``defaults`` overrides a flag's default for one front end."""
    chosen = [f for f in flags if only is None or f.name in only]
    for f in chosen:
        names = [prefix + f.name]
        if f.short and prefix == "--":
            names.append(f.short)
        kwargs: dict[str, Any] = {"help": f.help, "metavar": f.metavar}
        kwargs["default"] = (defaults or {}).get(f.name, f.default)
        if f.type is not None:
            kwargs["type"] = f.type
        add(*names, **kwargs)

"""The sweep manifest: which cells a sweep holds, their settings, and how far each got.

``infercost sweep`` runs a grid of run options; every cell is an ordinary result bundle (its own
``manifest.json`` and ``records.jsonl``) under ``SWEEP_DIR/cells/``, so everything that reads a bundle
(report, compare, gate, the database) reads a cell unchanged. ``SWEEP_DIR/sweep.json`` ties them
together: the axes as given, the settings every cell shares, each cell's own settings and status, and
the order the cells run in. It is rewritten atomically after every change of a cell's status, so a
``kill -9`` leaves a manifest that says exactly which cells finished (``done``), which failed to run at
all (``failed``, with the reason: a model too large, too many GPU layers) and which to resume.

Format history: 1 (infercost 0.2): first version. New optional fields do not bump it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bench.errors import BundleError
from bench.results.bundle import atomic_write_json

__all__ = [
    "SWEEP_MANIFEST",
    "SWEEP_SCHEMA_VERSION",
    "CellStatus",
    "SweepCell",
    "SweepManifest",
    "is_sweep_dir",
    "read_sweep",
    "write_sweep",
]

SWEEP_MANIFEST = "sweep.json"
SWEEP_SCHEMA_VERSION = 1

CellStatus = Literal["pending", "running", "done", "failed"]


class SweepCell(BaseModel):
    """One point of the grid. ``settings`` holds only the swept axes (``{"model": "smollm2-135m",
    "threads": 2, "concurrency": 4}``); what every cell shares is ``SweepManifest.base``."""

    model_config = ConfigDict(extra="allow")

    id: str  # short and stable: "c00", "c01", ... in grid order
    settings: dict[str, Any]
    path: str  # the cell's bundle directory, relative to the sweep directory
    status: CellStatus = "pending"
    error: str | None = None  # one line: why a failed cell could not run
    run_id: str | None = None
    # optional (added with the sweep command): sessions started for this cell (a kill -9 or a round adds
    # one; a cell run twice would show more than its rounds) and rounds finished (``--repetitions R``
    # runs R rounds, one repetition of each cell per round)
    attempts: int = 0
    rounds_done: int = 0


class SweepManifest(BaseModel):
    model_config = ConfigDict(extra="allow")

    schema_version: int = SWEEP_SCHEMA_VERSION
    sweep_id: str
    created_utc: str
    command: list[str] = Field(default_factory=list)
    suite: str  # the suite's name
    suite_hash: str  # a --resume of another suite is refused on this
    device: str  # the profile name as given (an axis may override it per cell)
    axes: dict[str, list[Any]]  # swept option -> values, in the order given on the command line
    base: dict[str, Any] = Field(default_factory=dict)  # run options every cell shares
    order: list[str] = Field(default_factory=list)  # cell ids in the order they run
    seed: int | None = None  # the seed of the run order (interleaving), recorded to repeat it
    cells: list[SweepCell]
    # optional: each round's run order when the sweep runs R > 1 rounds (``order`` is the first's)
    round_orders: list[list[str]] | None = None
    tool_version: str | None = None

    def cell(self, cell_id: str) -> SweepCell:
        for c in self.cells:
            if c.id == cell_id:
                return c
        raise KeyError(cell_id)


def is_sweep_dir(path: str | Path) -> bool:
    return (Path(path) / SWEEP_MANIFEST).is_file()


def read_sweep(path: str | Path) -> SweepManifest:
    """The sweep manifest of ``path`` (a sweep directory); a missing or malformed one is a BundleError
    naming the file."""
    file = Path(path) / SWEEP_MANIFEST
    try:
        return SweepManifest.model_validate(json.loads(file.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise BundleError(f"{path}: not a sweep directory (no {SWEEP_MANIFEST})") from None
    except (OSError, ValueError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise BundleError(f"{file}: unreadable sweep manifest ({first})") from None


def write_sweep(path: str | Path, manifest: SweepManifest) -> None:
    atomic_write_json(Path(path) / SWEEP_MANIFEST, manifest.model_dump(mode="json"))

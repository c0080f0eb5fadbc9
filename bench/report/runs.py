"""The runs a report or comparison is about: bundles found, read, enriched, optionally pooled, labelled.

Every bundle goes through ``store.read_bundle`` then ``enrich.enrich``, so a report shows the same energy
and cost figures as every other reader. Runs stay separate rows unless the user asks for pooling, and
then only runs whose key properties (``compat.key_properties``) are all equal are pooled; the pooled row
says how many runs it holds and which.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.cost.enrich import EnrichOptions, enrich
from bench.errors import BundleError
from bench.power.trace import POWER_CSV
from bench.results.bundle import (
    DEFAULT_RUNS_ROOT,
    MANIFEST,
    Bundle,
    gc_paused,
    read_bundle,
    resolve_bundle,
)
from bench.results.comparability import key_properties
from bench.results.identity import backend_label, device_name, model_name
from bench.results.metrics.aggregate import RecordColumns, by_task, columns_metrics, run_metrics
from bench.results.metrics.policy import MEASURED
from bench.results.schema import Manifest, Record

__all__ = ["Run", "assign_labels", "find_bundles", "load_runs", "pool_runs", "runs_from_bundles"]


@dataclass
class Run:
    """One run (or several same-configuration runs pooled) as a report sees it: records are enriched."""

    paths: list[Path]
    manifests: list[Manifest]
    records: list[Record]
    warnings: list[str] = field(default_factory=list)
    label: str = ""
    source: str = ""  # where it was read from when not a directory (a results database), for messages

    @property
    def manifest(self) -> Manifest:
        return self.manifests[0]

    @property
    def path(self) -> str:
        """Where the run was read from (the first bundle of a pool, or the store it came from)."""
        return self.source or str(self.paths[0])

    @functools.cached_property
    def metrics(self) -> dict[str, Any]:
        """The run's figures (``bench.results.metrics.aggregate.run_metrics``: what every view shows and
        the gate and ``choose`` judge), computed once."""
        return run_metrics(self.records, self.manifest, columns=self.columns)

    @functools.cached_property
    def columns(self) -> RecordColumns:
        """The records' fields as arrays, read once: every figure of the run, its categories and its tasks
        is computed from them (``aggregate.columns_metrics``)."""
        return RecordColumns.of(self.records)

    @functools.cached_property
    def category_metrics(self) -> dict[str, dict[str, Any]]:
        """Summary metrics per category (gate rules over one category: a public benchmark's), once."""
        return {
            c: columns_metrics(self.columns, where) for c, where in self.columns.groups("category").items()
        }

    @property
    def run_ids(self) -> list[str]:
        return [m.run_id for m in self.manifests]

    @property
    def pooled(self) -> bool:
        return len(self.manifests) > 1

    @functools.cached_property
    def measured(self) -> list[Record]:
        """Every record but warm-ups (``policy.MEASURED``; computed once: a report asks for it per table,
        chart and task)."""
        return MEASURED.select(self.records)

    @functools.cached_property
    def by_task(self) -> dict[str, list[Record]]:
        """Measured records per task id, in suite order."""
        return by_task(self.records)

    @property
    def key(self) -> dict[str, Any]:
        return key_properties(self.manifest)

    @functools.cached_property
    def no_text(self) -> bool:
        """True when any pooled bundle was made with ``--no-text``: then no text of it is shown."""
        return any(m.settings.no_text for m in self.manifests) or all(
            r.output_text is None for r in self.records
        )

    @property
    def synthetic(self) -> bool:
        return any(m.settings.synthetic for m in self.manifests)

    @property
    def power_csvs(self) -> list[Path]:
        return [p / POWER_CSV for p in self.paths if (p / POWER_CSV).is_file()]

    @functools.cached_property
    def energy_sources(self) -> Counter[str]:
        return Counter(r.energy_source for r in self.measured if r.energy_source is not None)

    @property
    def energy_estimated(self) -> bool:
        """Any energy figure of this run comes from a model, not a sensor (reports mark it ≈)."""
        return "estimated" in self.energy_sources

    @property
    def model_name(self) -> str:
        return model_name(self.manifest)

    @property
    def device_name(self) -> str:
        return device_name(self.manifest)

    @property
    def backend_name(self) -> str:
        return backend_label(self.manifest)

    @property
    def suite_name(self) -> str:
        return str(self.manifest.suite.name or "?")

    @property
    def suite_hash(self) -> str | None:
        value = self.manifest.suite.hash
        return str(value) if value else None


def find_bundles(refs: Sequence[str | Path], runs_root: Path = DEFAULT_RUNS_ROOT) -> list[Path]:
    """Bundle directories named by ``refs``: a bundle, a run id, or a directory holding bundles (searched
    recursively). Each bundle once, in the order given (bundles under a directory sorted by path)."""
    found: list[Path] = []
    for ref in refs:
        path = Path(ref)
        if path.is_dir() and not (path / MANIFEST).exists():
            inside = sorted(p.parent for p in path.rglob(MANIFEST))
            if not inside:
                raise BundleError(f"{path}: no result bundles in this directory (no {MANIFEST} below it)")
            found.extend(inside)
        else:
            found.append(resolve_bundle(ref, runs_root))
    unique: dict[Path, Path] = {}
    for p in found:
        unique.setdefault(p.resolve(), p)
    return list(unique.values())


def load_run(
    ref: str | Path, options: EnrichOptions | None = None, runs_root: Path = DEFAULT_RUNS_ROOT
) -> Run:
    """Read and enrich one bundle (a directory or a run id under ``runs_root``)."""
    with gc_paused():
        bundle = read_bundle(ref, runs_root)
        return Run(
            paths=[bundle.path],
            manifests=[bundle.manifest],
            records=enrich(bundle, options),
            warnings=list(bundle.warnings),
        )


def load_runs(
    refs: Sequence[str | Path],
    options: EnrichOptions | None = None,
    runs_root: Path = DEFAULT_RUNS_ROOT,
) -> list[Run]:
    """Read and enrich every bundle named by ``refs``; one ``Run`` per bundle."""
    return [load_run(path, options, runs_root) for path in find_bundles(refs, runs_root)]


def runs_from_bundles(bundles: Iterable[Bundle], options: EnrichOptions | None = None) -> list[Run]:
    """Runs from bundles already read (a results database gives them): enriched like ``load_runs``."""
    with gc_paused():
        return [
            Run(paths=[b.path], manifests=[b.manifest], records=enrich(b, options), warnings=list(b.warnings))
            for b in bundles
        ]


def _key_text(run: Run) -> str:
    return json.dumps(run.key, sort_keys=True, default=str)


def pool_runs(runs: Iterable[Run]) -> list[Run]:
    """Merge runs whose key properties are all equal (same device, model, suite, backend settings).

    Runs that differ in any key property are never merged. Records keep their own ``run_id``.
    """
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(_key_text(run), []).append(run)
    pooled = []
    for members in groups.values():
        if len(members) == 1:
            pooled.append(members[0])
            continue
        pooled.append(
            Run(
                paths=[p for m in members for p in m.paths],
                manifests=[x for m in members for x in m.manifests],
                records=[r for m in members for r in m.records],
                warnings=[w for m in members for w in m.warnings],
            )
        )
    return pooled


_LABEL_PARTS = ("model_name", "device_name", "backend_name", "suite_name")


def _short_device(name: str) -> str:
    """ "this machine (AMD EPYC, 2 CPUs, 24 GB)" → "this machine": the details are in the provenance."""
    return name.split(" (", 1)[0] if " (" in name and not name.startswith("(") else name


def assign_labels(runs: Sequence[Run]) -> None:
    """Short, unique row labels from the identity parts that vary between runs (llama-bench shows only
    the columns that vary): "smollm2-135m · HTTP" rather than every property of every run."""
    values = {part: [str(getattr(r, part)) for r in runs] for part in _LABEL_PARTS}
    short = [_short_device(v) for v in values["device_name"]]
    if len(set(short)) == len(set(values["device_name"])):
        values["device_name"] = short
    varying = [p for p in _LABEL_PARTS if len(set(values[p])) > 1] or ["model_name"]
    labels = [" · ".join(values[p][i] for p in varying) for i in range(len(runs))]
    counts = Counter(labels)
    for i, run in enumerate(runs):
        label = labels[i]
        if counts[label] > 1:  # same configuration, not pooled: tell them apart by run id
            label += f" · {run.run_ids[0].rsplit('-', 1)[-1]}"
        if run.pooled:
            label += f" (pooled ×{len(run.manifests)})"
        run.label = label
    seen: Counter[str] = Counter()
    for run in runs:
        seen[run.label] += 1
        if seen[run.label] > 1:
            run.label += f" #{seen[run.label]}"

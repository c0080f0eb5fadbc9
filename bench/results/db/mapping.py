"""One bundle ↔ rows mapping, shared by the embedded database and the PostgreSQL store.

``bundle_rows`` turns a bundle read by ``read_bundle`` (so validated exactly as every report reads it) into
the rows of every table, records as columns (lists of values, ready for a DuckDB frame scan or a
PostgreSQL COPY); ``bundle_from_rows`` turns a run's rows back into a ``Bundle`` that reports, compare,
gate and choose read like one from disk.

A run's identity in a database is ``(run_id, content_sha256)``: the hash of the bundle's manifest and
records files, so pushing the same bundle twice stores it once, and a bundle that changed is a new version.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic_core

from bench.errors import BundleError
from bench.results.bundle import MANIFEST, MAX_RECORDS_BYTES, RECORDS, Bundle
from bench.results.comparability import key_properties
from bench.results.db.schema import JSON_COLUMNS, RECORD_COLUMNS
from bench.results.identity import model_name
from bench.results.schema import Manifest, PowerFacts, Record
from bench.userfiles import open_regular

__all__ = [
    "RECORD_COLUMN_NAMES",
    "BundleRows",
    "bundle_from_rows",
    "bundle_rows",
    "content_sha256",
    "dimension_rows",
]

RECORD_COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _ in RECORD_COLUMNS)
RUN_COLUMNS = (
    "run_id", "content_sha256", "bundle_schema_version", "tool_version", "tool_commit", "started_utc",
    "finished_utc", "complete", "interrupted", "device_id", "device_name", "model_id", "model_name",
    "suite_hash", "suite_name", "backend", "host_cpu", "n_records", "manifest_json", "stored_utc", "source",
)  # fmt: skip
POWER_COLUMNS = (
    "run_id", "content_sha256", "sensor", "rate_hz", "idle_w", "n_requests", "n_with_energy", "energy_j",
    "energy_net_j", "energy_sources", "mean_power_w",
)  # fmt: skip


def content_sha256(path: Path) -> str:
    """The bundle's identity as stored: sha256 over its manifest and records files (a torn last line
    included: the bytes are what was pushed)."""
    h = hashlib.sha256()
    for name in (MANIFEST, RECORDS):
        file = path / name
        h.update(name.encode() + b"\0")
        if os.path.lexists(file):  # read like read_bundle reads it: a FIFO or /dev/zero is refused
            with open_regular(file, BundleError, name, MAX_RECORDS_BYTES) as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
        h.update(b"\0")
    return h.hexdigest()


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def _id(obj: Any) -> str:
    return hashlib.sha256(_canonical(obj).encode()).hexdigest()[:32]


@dataclass
class BundleRows:
    """Every row one bundle contributes, keyed for the tables of ``schema.py``."""

    run_id: str
    content_sha256: str
    device: dict[str, Any]
    model: dict[str, Any] | None
    suite: dict[str, Any] | None
    run: dict[str, Any]
    power: dict[str, Any] | None
    records: dict[str, list[Any]]  # column → values (run_id, content_sha256, seq, then RECORD_COLUMNS)

    @property
    def n_records(self) -> int:
        return len(self.records["seq"])


def _json(value: Any) -> str | None:
    # pydantic-core's serializer: 4x faster than json.dumps on the per-token lists, same text
    return None if value is None else pydantic_core.to_json(value).decode()


def _record_columns(run_id: str, sha: str, records: list[Record]) -> dict[str, list[Any]]:
    """Records as columns. Field values are read from each model's ``__dict__`` (where pydantic keeps
    them): a million records × 47 fields is the bulk of indexing time, and attribute access costs twice."""
    n = len(records)
    cols: dict[str, list[Any]] = {"run_id": [run_id] * n, "content_sha256": [sha] * n, "seq": list(range(n))}
    dicts = [r.__dict__ for r in records]
    for name in RECORD_COLUMN_NAMES:
        if name in JSON_COLUMNS:
            cols[name] = [_json(d[name]) for d in dicts]
        else:
            cols[name] = [d[name] for d in dicts]
    return cols


def _power(run_id: str, sha: str, manifest: Manifest, records: list[Record]) -> dict[str, Any] | None:
    measured = [r for r in records if not r.warmup]
    with_energy = [r for r in measured if r.energy_j is not None]
    if manifest.power is None and not with_energy:
        return None
    power = manifest.power or PowerFacts()
    watts = [r.avg_power_w for r in with_energy if r.avg_power_w is not None]
    return {
        "run_id": run_id,
        "content_sha256": sha,
        "sensor": power.sensor,
        "rate_hz": power.rate_hz,
        "idle_w": power.idle_w,
        "n_requests": len(measured),
        "n_with_energy": len(with_energy),
        "energy_j": sum(r.energy_j for r in with_energy if r.energy_j is not None) if with_energy else None,
        "energy_net_j": (
            sum(r.energy_net_j for r in with_energy if r.energy_net_j is not None)
            if any(r.energy_net_j is not None for r in with_energy)
            else None
        ),
        "energy_sources": _canonical(dict(Counter(str(r.energy_source) for r in with_energy))),
        "mean_power_w": sum(watts) / len(watts) if watts else None,
    }


def dimension_rows(m: Manifest) -> dict[str, dict[str, Any] | None]:
    """The shared rows a run points at (device, model, suite): from the manifest alone, so a push can
    insert them for every bundle before reading any records."""
    key = key_properties(m)
    recorded = m.device.recorded()  # the profile as the bundle holds it: its identity across versions
    device = {
        "device_id": _id(recorded),
        "name": m.device.name,
        "kind": m.device.kind,
        "backend": m.device.backend,
        "power_mode": m.device.power_mode,
        "profile_json": _canonical(recorded),
    }
    model = None
    if m.model is not None or key["model"]:
        model = {
            "model_id": _id(key["model"]),
            "name": model_name(m),
            "sha256": m.model.sha256 if m.model else None,
            "file_name": m.model.file_name if m.model else None,
            "info_json": _canonical(
                m.model.model_dump(exclude_unset=True) if m.model else {"identity": key["model"]}
            ),
        }
    suite_hash = m.suite.hash
    suite = (
        {"suite_hash": str(suite_hash), "name": m.suite.name, "n_tasks": m.suite.n_tasks}
        if suite_hash
        else None
    )
    return {"devices": device, "models": model, "suites": suite}


def bundle_rows(bundle: Bundle, sha: str, stored_utc: str, source: str | None) -> BundleRows:
    """Rows for one bundle. ``source`` is where it came from (a path; never a store URL)."""
    m = bundle.manifest
    dims = dimension_rows(m)
    device, model, suite = dims["devices"], dims["models"], dims["suites"]
    assert device is not None
    run = {
        "run_id": m.run_id,
        "content_sha256": sha,
        "bundle_schema_version": m.schema_version,
        "tool_version": m.tool_version,
        "tool_commit": m.tool_commit,
        "started_utc": m.started_utc,
        "finished_utc": m.finished_utc,
        "complete": m.complete,
        "interrupted": m.interrupted,
        "device_id": device["device_id"],
        "device_name": device["name"],
        "model_id": model["model_id"] if model else None,
        "model_name": model_name(m),
        "suite_hash": suite["suite_hash"] if suite else None,
        "suite_name": m.suite.name,
        "backend": m.backend.name,
        "host_cpu": m.host.cpu_model,
        "n_records": len(bundle.records),
        "manifest_json": m.model_dump_json(),
        "stored_utc": stored_utc,
        "source": source,
    }
    return BundleRows(
        run_id=m.run_id,
        content_sha256=sha,
        device=device,
        model=model,
        suite=suite,
        run=run,
        power=_power(m.run_id, sha, m, bundle.records),
        records=_record_columns(m.run_id, sha, bundle.records),
    )


def bundle_from_rows(
    manifest_json: str, columns: list[str], rows: list[tuple[Any, ...]], path: Path
) -> Bundle:
    """A run read back from a database as a ``Bundle`` (records in their file order).

    The rows were validated when they went in, and every ``Record`` field has a column (a test holds
    that), so records are built without validating again: reading 100,000 records back is inside the
    report's budget, and ``model_construct`` alone would take 2 s of it."""
    manifest = Manifest.model_validate_json(manifest_json)
    missing = set(Record.model_fields) - set(columns) - {"run_id"}
    if missing:
        raise ValueError(f"records query lacks columns {sorted(missing)}")
    plain = [(i, c) for i, c in enumerate(columns) if c in Record.model_fields and c not in JSON_COLUMNS]
    as_json = [(i, c) for i, c in enumerate(columns) if c in JSON_COLUMNS]
    fields_set = set(Record.model_fields)
    records = []
    for row in rows:
        values: dict[str, Any] = {"run_id": manifest.run_id}
        for i, name in plain:
            values[name] = row[i]
        for i, name in as_json:
            v = row[i]
            values[name] = pydantic_core.from_json(v) if v is not None else None
        if values["itl_ms"] is None:
            values["itl_ms"] = []
        records.append(_trusted_record(values, fields_set))
    return Bundle(path=path, manifest=manifest, records=records)


def _trusted_record(values: dict[str, Any], fields_set: set[str]) -> Record:
    """A ``Record`` from values that were validated on the way in (what ``model_construct`` does, less
    its per-field default handling, which complete rows do not need)."""
    rec = Record.__new__(Record)
    object.__setattr__(rec, "__dict__", values)
    object.__setattr__(rec, "__pydantic_fields_set__", set(fields_set))
    object.__setattr__(rec, "__pydantic_extra__", None)
    object.__setattr__(rec, "__pydantic_private__", None)
    return rec

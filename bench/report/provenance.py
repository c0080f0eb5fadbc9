"""Provenance: what produced each number in a report, one column per run.

A published comparison is only as good as what it says about itself: the host, the engine and how it
was built, the exact model file (sha256) and suite (hash), the power sensor and whether each energy
figure was measured or estimated, the date of every price, when the run happened and which infercost
(version and commit) measured and reported it. The host name is left out on purpose: it says nothing
about performance and is often private.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from bench.cost.enrich import EnrichOptions
from bench.devices.staleness import price_age
from bench.report.benchmarks import source_text
from bench.report.runs import Run
from bench.report.tables import Column, TextTable
from bench.results.schema import DeviceFacts, PowerFacts

__all__ = ["provenance_table", "stale_price_notes"]


def _kv(d: dict[str, Any] | None, keys: Sequence[str] | None = None) -> str:
    if not d:
        return "–"
    items = [(k, d[k]) for k in (keys or list(d)) if k in d and d[k] is not None]
    return ", ".join(f"{k}={v}" for k, v in items) or "–"


def _dates(run: Run) -> str:
    starts = sorted(m.started_utc for m in run.manifests)
    ends = sorted(m.finished_utc or "unfinished" for m in run.manifests)
    return starts[0] if len(starts) == 1 and starts[0] == ends[-1] else f"{starts[0]} → {ends[-1]}"


def _complete(run: Run) -> str:
    bad = [m.run_id for m in run.manifests if not m.complete]
    if not bad:
        return "yes"
    return "NO: interrupted or crashed (" + ", ".join(bad) + ")"


def _energy(run: Run) -> str:
    sources = run.energy_sources
    n = len(run.measured)
    if not sources:
        return "none (no energy figures)"
    parts = []
    for src, count in sorted(sources.items()):
        kind = "estimated (a model, not a sensor)" if src == "estimated" else f"measured ({src})"
        parts.append(f"{kind}: {count}/{n} requests")
    return "; ".join(parts)


def _dated_prices(d: DeviceFacts) -> list[tuple[str | None, str | None, str]]:
    """(as_of, source, what) for every dated price group of a recorded profile."""
    out: list[tuple[str | None, str | None, str]] = []
    # a device priced by anything but its electricity alone has a price dated by as_of
    if d.pricing is not None and (d.kind != "local" or d.price_usd is not None):
        out.append((d.as_of, d.source, "price"))
    if d.kwh_usd is not None:
        out.append((d.kwh_as_of or d.as_of, d.kwh_source or d.source, "electricity"))
    if d.tiers_as_of is not None:
        out.append((d.tiers_as_of, d.tiers_source, "price tiers"))
    return out


def stale_price_notes(runs: Sequence[Run], on: dt.date | None = None) -> list[str]:
    """A note for every price older than 180 days that a run's cost rests on."""
    notes = []
    for run in runs:
        for as_of, source, what in _dated_prices(run.manifest.device):
            age = price_age(as_of or None, source or None, on)
            if age is not None and age.warning:
                notes.append(f"{run.label} {what}: {age.warning}.")
    return list(dict.fromkeys(notes))


def _prices(run: Run, options: EnrichOptions, on: dt.date | None = None) -> str:
    """Every price the costs rest on, each with its date and source, and any report-time override:
    electricity may carry its own date (``kwh_as_of``), apart from the hardware or API price's (``as_of``)."""
    d = run.manifest.device
    groups: dict[tuple[str | None, str | None], list[str]] = {}
    tiers_dated = d.tiers_as_of is not None
    # (name, price, its own date and source): electricity may be dated apart (kwh_as_of), the cache and
    # batch tiers too (tiers_as_of); a profile without them dates all its prices at once
    priced: list[tuple[str, float | None, bool]] = [
        ("price_usd", d.price_usd, False),
        ("kwh_usd", d.kwh_usd, False),
        ("input_usd_per_mtok", d.input_usd_per_mtok, False),
        ("output_usd_per_mtok", d.output_usd_per_mtok, False),
        ("cache_read_usd_per_mtok", d.cache_read_usd_per_mtok, tiers_dated),
        ("cache_write_usd_per_mtok", d.cache_write_usd_per_mtok, tiers_dated),
        ("cache_write_1h_usd_per_mtok", d.cache_write_1h_usd_per_mtok, tiers_dated),
        ("batch_discount", d.batch_discount, tiers_dated),
        ("subscription_usd_per_month", d.subscription_usd_per_month, False),
        ("usd_per_hour", d.usd_per_hour, False),
    ]
    for k, value, tier in priced:
        if value is None:
            continue
        own = k == "kwh_usd" and d.kwh_as_of is not None
        dated = (
            (d.kwh_as_of, d.kwh_source)
            if own
            else (d.tiers_as_of, d.tiers_source)
            if tier
            else (d.as_of, d.source)
        )
        groups.setdefault(dated, []).append(f"{k}={value}")
    parts = []
    for (as_of, source), names in groups.items():
        age = price_age(as_of or None, None, on)
        text = ", ".join(names) + f" (as of {age.short if age else as_of or 'UNDATED'}"
        parts.append(text + (f", {source})" if source else ")"))
    schedule = d.token_prices
    if schedule is not None:  # the price database's: its version and data date are the provenance
        parts.append(f"token prices from {schedule.source.label()}")
    text = "; ".join(parts) if parts else "no prices in the profile"
    overrides = []
    if options.reprice:
        overrides.append("today's profile and price-database prices (--reprice), not the ones recorded")
    if options.kwh_usd is not None:
        overrides.append(f"kwh_usd={options.kwh_usd}")
    if options.hardware_usd is not None:
        overrides.append(f"price_usd={options.hardware_usd}")
    if options.batch and d.pricing == "tokens":
        overrides.append("batch tier (--batch: not interactive)")
    if overrides:
        text += "; given at report time (the user's assumption, not a profile price): " + ", ".join(overrides)
    return text


def _model(run: Run) -> str:
    m = run.manifest.model
    if not m:
        d = run.manifest.device
        return f"{d.model or run.manifest.backend.model or '?'} at {d.base_url or '?'}"
    size = m.size_bytes
    parts = [str(m.file_name or "?")]
    if m.quantization:
        parts.append(str(m.quantization))
    if size:
        parts.append(f"{size / 2**20:.1f} MiB")
    return ", ".join(parts)


def _commit(run: Run) -> str:
    commits = sorted({m.tool_commit or "not recorded" for m in run.manifests})
    versions = sorted({m.tool_version for m in run.manifests})
    return f"infercost {', '.join(versions)} · commit {', '.join(commits)}"


def _rows(run: Run, options: EnrichOptions, on: dt.date | None = None) -> dict[str, str]:
    m = run.manifest
    host = m.host
    backend = m.backend
    suite = m.suite
    power = m.power or PowerFacts()
    device = m.device
    return {
        "run id": ", ".join(run.run_ids),
        "run dates (UTC)": _dates(run),
        "complete": _complete(run),
        "host": f"{host.cpu_model or '?'}, {host.cpu_logical or '?'} CPUs, "
        f"{host.memory_gb or '?'} GB, {host.os or '?'}" + (", in a container" if host.in_container else ""),
        "device profile": f"{device.name or '?'} ({device.kind or '?'}, from {device.origin or '?'})",
        "engine": str(backend.engine_version or backend.engine or backend.name or "?"),
        "engine build": str(backend.system_info or "–"),
        "engine settings": _kv(backend.settings.recorded()),
        "model": _model(run),
        "model sha256": str(
            (m.model.sha256 if m.model else None) or "– (remote model: identified by endpoint + name)"
        ),
        "prompt format": str(backend.prompt_format or "–"),
        "suite": f"{suite.name or '?'} v{suite.version or '?'}, {suite.n_tasks or '?'} tasks",
        "suite source": source_text(m) or "– (a suite of this repository)",
        "suite hash": str(suite.hash or "–"),
        "repetitions": _kv(m.settings.model_dump(), ["repetitions", "warmup", "no_text"]),
        "power sensor": f"{power.sensor}" + (f", idle {power.idle_w} W" if power.idle_w else "")
        if power.sensor
        else "none",
        "energy figures": _energy(run),
        "prices": _prices(run, options, on),
        "measured by": _commit(run),
        "bundle notes": "; ".join(run.warnings) or "–",
    }


def provenance_table(
    runs: Sequence[Run], options: EnrichOptions | None = None, on: dt.date | None = None
) -> TextTable:
    """Rows = facts, columns = runs (so differences between runs read across); price ages on ``on``."""
    options = options or EnrichOptions()
    per_run = [_rows(r, options, on) for r in runs]
    facts = list(per_run[0]) if per_run else []
    columns = [Column("fact", "", "left")] + [Column(r.label, r.label, "left") for r in runs]
    rows = [[fact] + [p[fact] for p in per_run] for fact in facts]
    return TextTable(columns, rows)

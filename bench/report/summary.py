"""Records → the after-run summary: per category and overall, plus llama-bench rows for shapes suites.

Pure data in, plain JSON-able dicts out; the CLI renders them (terminal table or ``--json``). Every figure
comes from the metric core (``bench.results.metrics``): the same function, over the same records, as the
report, gate and database summary. ``warnings`` carries the variability warnings
(``bench.results.variability``), each with its remedy.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.cost.options import EnrichOptions
from bench.cost.pricing import cost_section
from bench.cost.roofline import roofline
from bench.power.records import rail_energies
from bench.report.benchmarks import source_text
from bench.report.energy import power_summary, shape_energy
from bench.results import stats
from bench.results.identity import model_name
from bench.results.metrics.agents import agent_rows
from bench.results.metrics.aggregate import by_category, group_metrics, run_metrics
from bench.results.metrics.policy import MEASURED, TIMED
from bench.results.schema import Manifest, ModelFacts, Record
from bench.results.variability import run_warnings

__all__ = ["llama_bench_rows", "summarize"]


def _shape_rate(r: Record) -> float | None:
    """The rate llama-bench reports for the record's test: pp → prefill, tg → decode, pp+tg → total."""
    if r.shape is None:
        return None
    if "+" in r.shape:
        if r.e2e_ms and r.prompt_tokens is not None and r.completion_tokens is not None:
            return (r.prompt_tokens + r.completion_tokens) / (r.e2e_ms / 1e3)
        return None
    if r.shape.startswith("pp"):
        return r.prefill_tps
    return r.decode_tps


def _params_label(n: int | None) -> str:
    if not n:
        return "?"
    return f"{n / 1e9:.2f} B" if n >= 1e9 else f"{n / 1e6:.2f} M"


def llama_bench_rows(records: Sequence[Record], manifest: Manifest) -> list[dict[str, Any]]:
    """``model | size | params | backend | threads | test | t/s ± sd``, one row per shape."""
    model = manifest.model or ModelFacts()
    backend = manifest.backend
    settings = backend.settings
    gpu = settings.gpu_offload and backend.gpu_offload_supported
    size = model.tensor_bytes or model.size_bytes
    rows = []
    timed, measured = TIMED.select(records), MEASURED.select(records)
    shapes = list(dict.fromkeys(r.shape for r in records if r.shape))
    for shape in shapes:
        rates = [_shape_rate(r) for r in timed if r.shape == shape]
        rows.append(
            {
                "model": f"{model.architecture or '?'} {_params_label(model.n_params)} "
                f"{model.quantization or '?'}".strip()
                if manifest.model
                else str(backend.model),  # an endpoint: its model name
                "size": f"{size / 2**20:.2f} MiB" if size else "?",
                "params": _params_label(model.n_params),
                "backend": "HTTP"
                if backend.name in ("openai_http", "anthropic_messages")
                else ("GPU" if gpu else "CPU"),
                "threads": settings.n_threads if settings.n_threads is not None else "–",
                "test": shape,
                "tps_mean": stats.mean(rates),
                "tps_sd": stats.stdev(rates),
                "n": len([x for x in rates if x is not None]),
                **shape_energy([r for r in measured if r.shape == shape]),
            }
        )
    return rows


def summarize(
    records: Sequence[Record],
    manifest: Manifest,
    run_dir: str | None = None,
    options: EnrichOptions | None = None,
) -> dict[str, Any]:
    """The after-run summary; ``options`` (``EnrichOptions``) are the reader's price/bandwidth overrides."""
    out: dict[str, Any] = {
        "run_id": manifest.run_id,
        "run_dir": run_dir,
        "complete": manifest.complete,
        "suite": manifest.suite.name,
        "suite_hash": manifest.suite.hash,
        "model": model_name(manifest),
        "device": manifest.device.name,
        "prompt_format": manifest.backend.prompt_format,
        "agent_protocol": manifest.backend.agent_protocol,
        "benchmark": source_text(manifest),  # a public benchmark's source, subset and style (else None)
        "power": power_summary(records, manifest),
        "overall": run_metrics(records, manifest),
        "by_category": {c: group_metrics(rs) for c, rs in by_category(records).items()},
    }
    if manifest.suite.is_shapes:
        out["shapes"] = llama_bench_rows(records, manifest)
    if any(r.parallel_seqs for r in records):  # parallel shapes: llama-batched-bench's table too
        from bench.report.batched_view import batched_rows

        out["batched"] = batched_rows(records)
    if any(r.kind == "agent" for r in records):
        rails = rail_energies(list(records), manifest, Path(run_dir)) if run_dir else {}
        out["agents"] = agent_rows(records, rails)
    out["cost"] = cost_section(records, manifest, options)
    out["roofline"] = roofline(records, manifest, options)
    out["warnings"] = [w.as_dict() for w in run_warnings(records, manifest)]
    return out

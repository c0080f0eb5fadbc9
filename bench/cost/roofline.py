"""The decode roofline: how close a run's decode rate came to what memory bandwidth allows.

Generating one token reads every weight once, so decode tok/s ≤ memory bandwidth / model bytes
(``bench.cost.formulas.decode_bound_tps``). Published llama.cpp runs land at roughly 45–90% of that bound, so:

- **above 100%** is impossible for a model streamed from DRAM. Either the model is small enough to stay in
  the last-level cache (then DRAM is not the limit and the bound does not apply), or the measurement is
  wrong (a bandwidth figure too low, a decode timing too short). Which one is decided from the model's
  size against the last-level cache recorded in the manifest at run time.
- **below 30%** is a configuration smell: too few threads, layers not offloaded to the GPU, a low power
  mode, thermal throttling. (A tiny model on a few CPU cores is often compute-bound instead: say so.)

The bandwidth comes from the reader's ``memory_bandwidth_gbs`` option, then the run's
``--memory-bandwidth-gbs``, then the profile; with none of them the bound is omitted, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.cost.formulas import decode_bound_tps
from bench.cost.options import EnrichOptions
from bench.results import stats
from bench.results.metrics.policy import TIMED
from bench.results.schema import Manifest, ModelFacts, Record

__all__ = ["HIGH_RATIO", "LOW_RATIO", "assess", "bound_inputs", "roofline", "roofline_fraction"]

HIGH_RATIO = 1.0
LOW_RATIO = 0.30


def _mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


def assess(
    measured_tps: float,
    memory_bandwidth_gbs: float,
    model_bytes: int,
    llc_bytes: int | None = None,
    on_gpu: bool = False,
) -> dict[str, Any]:
    """Measured decode rate against the bandwidth bound, with a flag and a verdict in words."""
    bound = decode_bound_tps(memory_bandwidth_gbs, model_bytes)
    ratio = measured_tps / bound
    flag: str | None = None
    if ratio > HIGH_RATIO:
        if on_gpu:
            flag = "measurement_error"
            verdict = (
                "above the bandwidth bound: likely a measurement error (check the bandwidth figure and the "
                "decode timing), unless the model fits in the GPU's on-chip cache, whose size is not recorded"
            )
        elif llc_bytes is None:
            flag = "above_bound"
            verdict = (
                "above the bandwidth bound; the last-level cache size is unknown, so a cache effect "
                "cannot be told from an error"
            )
        elif model_bytes <= llc_bytes:
            flag = "fits_in_cache"
            verdict = (
                f"above the bandwidth bound because the model ({_mib(model_bytes)}) fits in the "
                f"last-level cache ({_mib(llc_bytes)}): DRAM bandwidth does not limit it, so the bound "
                "does not apply"
            )
        else:
            flag = "measurement_error"
            verdict = (
                f"above the bandwidth bound although the model ({_mib(model_bytes)}) is larger than the "
                f"last-level cache ({_mib(llc_bytes)}): a measurement error (check the bandwidth figure "
                "and the decode timing)"
            )
    elif ratio < LOW_RATIO:
        flag = "low"
        verdict = (
            "below 30% of the bound: a configuration smell (threads, GPU offload, power mode, thermal "
            "throttling); a small model on few CPU cores is often compute-bound rather than bandwidth-bound"
        )
    else:
        verdict = (
            "within the range llama.cpp usually reaches (roughly 45–90% of the bound)"
            if ratio >= 0.45
            else ("below the usual 45–90% of the bound")
        )
    return {
        "status": "ok",
        "bound_tps": bound,
        "measured_tps": measured_tps,
        "ratio": ratio,
        "memory_bandwidth_gbs": memory_bandwidth_gbs,
        "model_bytes": model_bytes,
        "llc_bytes": llc_bytes,
        "on_gpu": on_gpu,
        "flag": flag,
        "verdict": verdict,
    }


def _omitted(reason: str, **extra: Any) -> dict[str, Any]:
    return {"status": "omitted", "reason": reason, **extra}


# The one resolution of the bound's inputs, for the run summary and every report row alike. The reasons
# are printed under report tables (golden files pin them), so they are written once, here.
NO_BANDWIDTH = "the device profile gives no memory_bandwidth_gbs"
CLOUD = "a cloud endpoint has no known memory bandwidth"
NO_MODEL_SIZE = "the model size is unknown (not a local GGUF)"
NO_DECODE = "no decode rate was measured"
_FIXES = {NO_BANDWIDTH: "give --memory-bandwidth-gbs", NO_DECODE: "tasks must generate 2 tokens or more"}


def bound_inputs(manifest: Manifest, options: EnrichOptions | None = None) -> tuple[float, str, int] | str:
    """(bandwidth GB/s, where it came from, model bytes), or why the bound cannot be computed.

    The bandwidth comes from the reader's option, then the run's ``--memory-bandwidth-gbs``, then the
    profile."""
    device = manifest.device
    if device.kind == "cloud":
        return CLOUD
    candidates = (
        (options.memory_bandwidth_gbs if options else None, "--memory-bandwidth-gbs"),
        (manifest.settings.memory_bandwidth_gbs, "run --memory-bandwidth-gbs"),
        (device.memory_bandwidth_gbs, "profile"),
    )
    bandwidth, origin = next(
        ((float(v), o) for v, o in candidates if isinstance(v, (int, float)) and v > 0), (None, None)
    )
    if bandwidth is None or origin is None:
        return NO_BANDWIDTH
    model = manifest.model or ModelFacts()
    model_bytes = model.tensor_bytes or model.size_bytes
    if not model_bytes:
        return NO_MODEL_SIZE
    return bandwidth, origin, int(model_bytes)


def roofline_fraction(
    manifest: Manifest, decode_tps_mean: float | None, options: EnrichOptions | None = None
) -> tuple[float | None, str | None]:
    """(measured / bound, None) or (None, reason): the report's roofline column for one row."""
    inputs = bound_inputs(manifest, options)
    if isinstance(inputs, str):
        return None, inputs
    if decode_tps_mean is None:
        return None, NO_DECODE
    bandwidth, _origin, model_bytes = inputs
    return decode_tps_mean / decode_bound_tps(bandwidth, model_bytes), None


def roofline(
    records: Sequence[Record], manifest: Manifest, options: EnrichOptions | None = None
) -> dict[str, Any]:
    """The roofline block of a run's summary (``status`` = ok | omitted, with ``reason``)."""
    inputs = bound_inputs(manifest, options)
    if isinstance(inputs, str):
        return _omitted(inputs, fix=_FIXES.get(inputs))
    bandwidth, origin, model_bytes = inputs
    measured = stats.mean(r.decode_tps for r in TIMED.select(records))
    if measured is None:
        return _omitted(NO_DECODE)
    backend = manifest.backend
    on_gpu = bool(backend.settings.gpu_offload and backend.gpu_offload_supported)
    llc = manifest.host.llc_bytes
    result = assess(measured, bandwidth, model_bytes, llc if isinstance(llc, int) else None, on_gpu)
    result["bandwidth_from"] = origin
    return result

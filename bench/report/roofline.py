"""Decode roofline for a report row: measured decode rate / the memory-bandwidth bound.

Decoding one token reads (about) every weight once, so ``tok/s ≤ bandwidth / model bytes``
(docs/cost.md: published llama.cpp decode runs land at 45–90% of it). The bound needs the profile's
``memory_bandwidth_gbs`` and the model's size; where either is missing the fraction is absent, with the
reason, never guessed.

This is the one small function the report needs; when the cost/roofline module
(``bench/cost/formulas.py``) lands,
its bound can replace ``decode_bound_tps`` here without touching any caller.
"""

from __future__ import annotations

from bench.results.schema import Manifest

__all__ = ["decode_bound_tps", "roofline_fraction"]


def decode_bound_tps(manifest: Manifest) -> tuple[float | None, str | None]:
    """(upper bound on decode tok/s, None) or (None, why it cannot be computed)."""
    bandwidth = manifest.device.get("memory_bandwidth_gbs")
    model = manifest.model or {}
    size = model.get("tensor_bytes") or model.get("size_bytes")
    if manifest.device.get("kind") == "cloud":
        return None, "a cloud endpoint has no known memory bandwidth"
    if not bandwidth:
        return None, "the device profile gives no memory_bandwidth_gbs"
    if not size:
        return None, "the model size is unknown (not a local GGUF)"
    return float(bandwidth) * 1e9 / float(size), None


def roofline_fraction(manifest: Manifest, decode_tps_mean: float | None) -> tuple[float | None, str | None]:
    """(measured / bound, None) or (None, reason)."""
    bound, reason = decode_bound_tps(manifest)
    if bound is None:
        return None, reason
    if decode_tps_mean is None:
        return None, "no decode rate was measured"
    return decode_tps_mean / bound, None

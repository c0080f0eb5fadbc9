"""Which runs may be pooled or compared: the key properties of a run (pyperf's ``_CHECKED_METADATA``).

Two bundles are *the same configuration* only when every key property matches: device, model identity
(file sha256 in-process; endpoint + model name over HTTP), suite hash, the subset of the suite that ran
and backend settings. Pooling runs
whose key properties differ is refused; comparing them is allowed (that is what ``compare`` and the CI gate
are for: a new model against the old) but the differences are always shown. Runs of different suites are
never compared: their tasks differ.
"""

from __future__ import annotations

from typing import Any

from bench.results.identity import model_identity
from bench.results.schema import Manifest

__all__ = ["differences", "key_properties"]


def key_properties(manifest: Manifest) -> dict[str, Any]:
    """The properties that make two runs the same configuration."""
    device = manifest.device
    backend = manifest.backend
    return {
        "device": device.name,
        "power_mode": device.power_mode,  # a Jetson at 7 W and at 25 W are different machines
        "host": manifest.host.cpu_model,
        "model": model_identity(manifest),
        "suite_hash": manifest.suite.hash,
        # which part of the suite ran (--tasks, --sample, --seed; None: all of it): a run of 20 sampled
        # HumanEval problems is not compared with a run of 20 others
        "subset": manifest.suite.subset.model_dump() if manifest.suite.subset else None,
        "backend": backend.name,
        "backend_settings": backend.settings.recorded(),
    }


def differences(a: Manifest, b: Manifest) -> list[str]:
    """Names of the key properties that differ between two runs (empty: same configuration)."""
    ka, kb = key_properties(a), key_properties(b)
    return [k for k in ka if ka[k] != kb[k]]

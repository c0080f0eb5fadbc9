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

from bench.results.schema import Manifest, ModelFacts

__all__ = ["differences", "key_properties", "model_name"]


def model_name(manifest: Manifest) -> str:
    """What a person calls the model: catalog name, else GGUF file stem, else the endpoint's model name.
    One rule for report labels and the results database."""
    model = manifest.model or ModelFacts()
    name = model.catalog_name or model.file_name
    if name:
        return str(name).removesuffix(".gguf")
    return str(manifest.device.get("model") or manifest.backend.model or "?")


def key_properties(manifest: Manifest) -> dict[str, Any]:
    """The properties that make two runs the same configuration."""
    model = manifest.model or ModelFacts()
    device = manifest.device or {}
    backend = manifest.backend
    if model.sha256:
        identity = f"sha256:{model.sha256}"
    else:
        endpoint = device.get("base_url") or backend.base_url
        identity = f"{endpoint}|{device.get('model') or backend.model}"
    return {
        "device": device.get("name"),
        "power_mode": device.get("power_mode"),  # a Jetson at 7 W and at 25 W are different machines
        "host": manifest.host.cpu_model,
        "model": identity,
        "suite_hash": manifest.suite.hash,
        # which part of the suite ran (--tasks, --sample, --seed; None: all of it): a run of 20 sampled
        # HumanEval problems is not compared with a run of 20 others
        "subset": manifest.suite.subset.model_dump() if manifest.suite.subset else None,
        "backend": backend.name,
        "backend_settings": backend.settings,
    }


def differences(a: Manifest, b: Manifest) -> list[str]:
    """Names of the key properties that differ between two runs (empty: same configuration)."""
    ka, kb = key_properties(a), key_properties(b)
    return [k for k in ka if ka[k] != kb[k]]

"""What a run ran: the model's identity and name, the device's name, the backend's label, computed once.

Every view names runs with these (report labels, gate and ``choose`` candidates, the database's
``model_name``, break-even over levels, the run summary's title), and comparability keys use the same
identity, so two views never name or key one run differently. Where a fact is recorded twice the
run's own record wins over the profile's: the model the backend served (``backend.model``, which
``--model`` may have set) before the profile's default (``device.model``).
"""

from __future__ import annotations

from bench.results.schema import Manifest, ModelFacts

__all__ = ["backend_label", "device_name", "model_identity", "model_name", "run_label", "served_model"]


def served_model(manifest: Manifest) -> str | None:
    """The model name an endpoint was asked for: the backend's (what was sent), else the profile's."""
    value = manifest.backend.model or manifest.device.model
    return str(value) if value else None


def model_name(manifest: Manifest) -> str:
    """What a person calls the model: catalog name, else GGUF file stem, else the endpoint's model name."""
    model = manifest.model or ModelFacts()
    name = model.catalog_name or model.file_name
    if name:
        return str(name).removesuffix(".gguf")
    return served_model(manifest) or "?"


def model_identity(manifest: Manifest) -> str:
    """What makes two runs the same model: the file's sha256 locally, endpoint + model name over HTTP."""
    model = manifest.model or ModelFacts()
    if model.sha256:
        return f"sha256:{model.sha256}"
    endpoint = manifest.device.base_url or manifest.backend.base_url
    return f"{endpoint}|{served_model(manifest)}"


def device_name(manifest: Manifest) -> str:
    return manifest.device.name or "?"


def backend_label(manifest: Manifest) -> str:
    """ "in-process" or "HTTP" (another backend: its name)."""
    name = manifest.backend.name or manifest.device.backend or "?"
    return {"llama_cpp": "in-process", "openai_http": "HTTP", "anthropic_messages": "HTTP (Messages)"}.get(
        name, name
    )


def run_label(manifest: Manifest) -> str:
    """``model on device``: what a person calls a run when it stands alone (gate, choose)."""
    return f"{model_name(manifest)} on {device_name(manifest)}"

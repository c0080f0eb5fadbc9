"""Command-line overrides of an endpoint profile: ``--base-url`` and ``--model`` (over HTTP).

``--base-url URL`` points any ``openai_http`` profile at another address (the same hosted model behind a
proxy, a local server on another port); ``--model NAME`` asks the endpoint for another model. Both are
validated here, before anything runs, and the resolved profile is what the manifest records.
"""

from __future__ import annotations

from bench.devices.http_settings import check_base_url
from bench.devices.profiles import DeviceProfile
from bench.errors import UsageError

__all__ = ["apply_endpoint_overrides"]


def apply_endpoint_overrides(device: DeviceProfile, base_url: str | None, model: str | None) -> DeviceProfile:
    if device.backend != "openai_http":
        if base_url is not None:
            raise UsageError(
                f"--base-url: device '{device.name}' runs in-process (backend llama_cpp)",
                fix="use an endpoint profile, e.g. --device local-server",
            )
        return device
    update: dict[str, str] = {}
    if base_url is not None:
        try:
            update["base_url"] = check_base_url(base_url)
        except ValueError as exc:
            raise UsageError(f"--base-url: {exc}") from None
    if model is not None:
        update["model"] = model
    return device.model_copy(update=update) if update else device

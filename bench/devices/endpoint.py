"""Command-line overrides of an endpoint profile: ``--base-url``, ``--model``, and the prompt-cache flags.

``--base-url URL`` points any HTTP profile at another address (the same hosted model behind a
proxy, a local server on another port); ``--model NAME`` asks the endpoint for another model. Both are
validated here, before anything runs, and the resolved profile is what the manifest records.

``--prefix-cache off`` and ``--cache-ttl 5m|1h`` become the profile's ``[http] prompt_cache`` for the native
Messages backend, whose agent steps carry cache breakpoints (``bench.backends.http.messages``); other
backends keep or drop their own prefix cache as the agent loop asks (``ChatRequest.reuse_prefix``).
"""

from __future__ import annotations

from bench.devices.http_settings import check_base_url
from bench.devices.profiles import DeviceProfile, require_endpoint
from bench.errors import UsageError

__all__ = ["CACHE_TTLS", "apply_endpoint_overrides", "apply_prompt_cache"]

CACHE_TTLS = ("5m", "1h")


def apply_endpoint_overrides(device: DeviceProfile, base_url: str | None, model: str | None) -> DeviceProfile:
    if not device.over_http:
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
    return require_endpoint(device.model_copy(update=update) if update else device)


def apply_prompt_cache(device: DeviceProfile, prefix_cache: bool, cache_ttl: str | None) -> DeviceProfile:
    """The profile with the run's prompt-cache choice: breakpoints with ``cache_ttl`` (None: the
    profile's TTL), or none when ``prefix_cache`` is off."""
    if cache_ttl is not None and cache_ttl not in CACHE_TTLS:
        raise UsageError(f"--cache-ttl {cache_ttl}: must be one of {', '.join(CACHE_TTLS)}")
    if device.backend != "anthropic_messages":
        if cache_ttl is not None:
            raise UsageError(
                f"--cache-ttl: device '{device.name}' (backend {device.backend}) sends no cache breakpoints",
                fix='the TTL applies to profiles with backend = "anthropic_messages"',
            )
        return device
    wanted = "off" if not prefix_cache else (cache_ttl or device.http.prompt_cache)
    if wanted == device.http.prompt_cache:
        return device
    return device.model_copy(update={"http": device.http.model_copy(update={"prompt_cache": wanted})})

"""Small builders for manifests and records in the exact shape the runner writes (tests of pricing)."""

from __future__ import annotations

from typing import Any

from bench.devices.profiles import DeviceProfile, load_device
from bench.results.schema import Manifest, Record


def manifest_for(profile: DeviceProfile, *, settings: dict[str, Any] | None = None, **extra: Any) -> Manifest:
    return Manifest(
        tool_version="test",
        run_id="run-test",
        started_utc="2026-11-26T00:00:00Z",
        anchor_perf_ns=0,
        host={"cpu_model": "test", "llc_bytes": 32 * 2**20},
        device={**profile.public_dict(), "origin": profile.origin},
        backend={"name": "llama_cpp", "settings": {"n_gpu_layers": 0}},
        suite={"name": "t", "hash": "h"},
        settings={"repetitions": 1, "warmup": 0, **(settings or {})},
        **extra,
    )


def device_manifest(name: str, **kw: Any) -> Manifest:
    return manifest_for(load_device(name), **kw)


def record(
    *,
    task_id: str = "t1",
    seconds: float = 2.0,
    prompt_tokens: int | None = 100,
    completion_tokens: int | None = 50,
    warmup: bool = False,
    passed: bool | None = True,
    status: str = "ok",
    category: str = "c",
    **extra: Any,
) -> Record:
    return Record(
        run_id="run-test",
        task_id=task_id,
        category=category,
        repetition=0,
        warmup=warmup,
        status=status,  # type: ignore[arg-type]
        started_utc=extra.pop("started_utc", "2026-11-26T00:00:00Z"),
        start_ns=0,
        end_ns=int(seconds * 1e9),
        e2e_ms=seconds * 1e3,
        ttft_ms=10.0,
        decode_tps=extra.pop("decode_tps", 20.0),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        passed=passed,
        **extra,
    )

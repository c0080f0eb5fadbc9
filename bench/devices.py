"""Device profiles: ``devices/*.toml`` → a validated ``DeviceProfile``; ``auto`` describes this machine.

A profile says *how a run executes* (``backend``: in-process llama.cpp or an OpenAI-compatible endpoint)
and *how it is costed* (``kind``: local hardware you own, or a cloud API you rent). A local server reached
over HTTP is ``kind = "local"`` with ``backend = "openai_http"``. Field names follow DESIGN.md's cost model
and are never renamed; later features add fields.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
from pathlib import Path
from typing import Any, Literal

import psutil
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bench.errors import ProfileError
from bench.http_settings import HttpSettings, check_base_url
from bench.validation import describe_validation_error, read_toml

__all__ = [
    "DEVICES_DIR",
    "DeviceProfile",
    "LlamaCppSettings",
    "auto_profile",
    "host_facts",
    "list_devices",
    "load_device",
]

DEVICES_DIR = Path(__file__).resolve().parent.parent / "devices"


class LlamaCppSettings(BaseModel):
    """Engine settings for the in-process backend; ``None`` means "the harness default" (recorded)."""

    model_config = ConfigDict(extra="forbid")

    n_gpu_layers: int = Field(default=0, ge=-1)
    n_threads: int | None = Field(default=None, ge=1, le=1024)
    n_threads_batch: int | None = Field(default=None, ge=1, le=1024)
    n_ctx: int = Field(default=4096, ge=64, le=1_048_576)
    n_batch: int = Field(default=2048, ge=1)
    n_ubatch: int = Field(default=512, ge=1)
    flash_attn: bool | None = None  # None: llama.cpp decides (auto)
    use_mmap: bool = True


class DeviceProfile(BaseModel):
    """A device (or endpoint) to run on and to cost. Unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    kind: Literal["local", "cloud"] = "local"
    backend: Literal["llama_cpp", "openai_http"] = "llama_cpp"
    description: str | None = None
    # local hardware (cost model)
    hardware: str | None = None
    price_usd: float | None = Field(default=None, ge=0)
    lifetime_years: float | None = Field(default=None, gt=0)
    utilization: float | None = Field(default=None, gt=0, le=1)
    idle_w: float | None = Field(default=None, ge=0)
    max_w: float | None = Field(default=None, gt=0)
    wall_factor: float = Field(default=1.0, ge=1)
    kwh_usd: float | None = Field(default=None, ge=0)
    region: str | None = None
    memory_gb: float | None = Field(default=None, gt=0)
    memory_bandwidth_gbs: float | None = Field(default=None, gt=0)
    power_sensor: str | None = None
    power_mode: str | None = None
    # endpoint (openai_http backend)
    provider: str | None = None
    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    # provenance of every price
    as_of: dt.date | None = None
    source: str | None = None
    llama_cpp: LlamaCppSettings = Field(default_factory=LlamaCppSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    # where the profile came from ("auto" for the built-in one); not part of the file
    origin: str = Field(default="auto", exclude=True)

    @model_validator(mode="after")
    def _consistent(self) -> DeviceProfile:
        if self.backend == "openai_http" and not (self.base_url and self.model):
            raise ValueError('an openai_http profile needs base_url and model (e.g. model = "gpt-4o-mini")')
        if self.kind == "cloud" and self.backend != "openai_http":
            raise ValueError('a cloud profile runs over HTTP: set backend = "openai_http"')
        if self.base_url is not None:
            check_base_url(self.base_url)
        return self

    def public_dict(self) -> dict[str, Any]:
        """The profile as recorded in a manifest: no secrets (only the *name* of the key variable)."""
        return self.model_dump(mode="json")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_facts() -> dict[str, Any]:
    """What this machine is: recorded in every manifest so runs on different hosts are never pooled."""
    vm = psutil.virtual_memory()
    return {
        "hostname": platform.node(),
        "os": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "cpu_model": _cpu_model(),
        "cpu_logical": psutil.cpu_count(logical=True),
        "cpu_physical": psutil.cpu_count(logical=False),
        "memory_gb": round(vm.total / 2**30, 2),
        "python": platform.python_version(),
        "in_container": Path("/.dockerenv").exists() or Path("/run/.containerenv").exists(),
    }


def auto_profile() -> DeviceProfile:
    """This machine as detected: no price is known, so cost excludes hardware until the user gives one."""
    facts = host_facts()
    return DeviceProfile(
        name=f"this machine ({facts['cpu_model']}, {facts['cpu_logical']} CPUs, {facts['memory_gb']:.0f} GB)",
        kind="local",
        backend="llama_cpp",
        hardware=str(facts["cpu_model"]),
        memory_gb=float(facts["memory_gb"]),
        origin="auto",
    )


def list_devices() -> list[Path]:
    if not DEVICES_DIR.is_dir():
        return []
    return sorted(DEVICES_DIR.glob("*.toml"))


def resolve_device_path(name_or_path: str) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix or "/" in name_or_path or candidate.exists():
        return candidate
    path = DEVICES_DIR / f"{name_or_path}.toml"
    if path.exists():
        return path
    known = ", ".join(["auto", *(p.stem for p in list_devices())])
    raise ProfileError(f"unknown device '{name_or_path}' (known: {known}; or give a path to a .toml file)")


def load_device(name_or_path: str = "auto") -> DeviceProfile:
    """Load and validate a profile; every problem is a one-line ``ProfileError`` naming file and field."""
    if name_or_path == "auto":
        return auto_profile()
    path = resolve_device_path(name_or_path)
    data = read_toml(path, ProfileError, "device profile")
    try:
        profile = DeviceProfile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(describe_validation_error(path, exc, data, DeviceProfile)) from None
    profile.origin = str(path)
    return profile


def default_threads() -> int:
    """llama-bench's default: the number of physical cores (llama-cpp-python's own default is half)."""
    return psutil.cpu_count(logical=False) or os.cpu_count() or 1

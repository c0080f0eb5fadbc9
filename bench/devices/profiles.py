"""Device profiles: ``devices/*.toml`` → a validated ``DeviceProfile``; ``auto`` describes this machine.

A profile says *how a run executes* (``backend``: in-process llama.cpp, an OpenAI-compatible endpoint, or
Anthropic's native Messages API) and *how it is costed* (``kind``: local hardware you own, or a cloud API
you rent). A local server reached over HTTP is ``kind = "local"`` with ``backend = "openai_http"``. Field
names follow the cost model (docs/cost.md) and are never renamed; later features add fields.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import platform
from pathlib import Path
from typing import Any, Literal

import psutil
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bench.devices.http_settings import HttpSettings, check_base_url
from bench.devices.price_rules import PricingBasis, price_problem, pricing_basis
from bench.devices.token_prices import PriceSchedule
from bench.errors import ProfileError
from bench.userfiles import describe_validation_error, read_toml

__all__ = [
    "DEVICES_DIR",
    "POWER_SENSORS",
    "DeviceProfile",
    "LlamaCppBuild",
    "LlamaCppSettings",
    "PowerMode",
    "auto_profile",
    "check_power_sensor",
    "host_facts",
    "last_level_cache_bytes",
    "list_devices",
    "load_device",
    "require_endpoint",
]

# validation context: the profile's base_url may come from the run's --base-url (``database_device``)
_BASE_URL_LATER = "base_url_later"

# The power sensor names a profile may give (bench/power implements them; this is the one list).
# "csv:FILE" (a recorded trace) is accepted besides these.
POWER_SENSORS: tuple[str, ...] = (
    "auto",
    "jetson-ina3221",
    "apple-powermetrics",
    "apple-macmon",
    "amdgpu-hwmon",
    "rapl",
    "nvml",
    "estimate",
    "none",
)

# Assumptions of the built-in `auto` profile (this machine): printed wherever they are used.
AUTO_LIFETIME_YEARS = 3.0
AUTO_UTILIZATION = 0.25
US_KWH_USD = 0.16
US_KWH_AS_OF = dt.date(2026, 11, 26)
US_KWH_SOURCE = "EIA, US residential average 2023-24 (about $0.16/kWh)"


def check_power_sensor(name: str) -> str | None:
    """Why ``name`` is not a power sensor infercost knows, or None when it is."""
    if name in POWER_SENSORS:
        return None
    if name.startswith("csv:"):
        return None if name[4:].strip() else 'csv: needs a file, e.g. power_sensor = "csv:trace.csv"'
    hint = difflib.get_close_matches(name, POWER_SENSORS, n=1)
    did = f"did you mean '{hint[0]}'? " if hint else ""
    return f"unknown power sensor '{name}' ({did}known: {', '.join(POWER_SENSORS)}, csv:FILE)"


DEVICES_DIR = Path(__file__).resolve().parents[2] / "devices"


# More engine threads than any machine this runs on has cores; --threads 100000 crashed llama.cpp
# (exit 139) and thousands of threads on a 2-core machine drove the load average to ~400.
MAX_THREADS = 512
MAX_N_CTX = 1_048_576  # tokens of context: beyond any model's


class LlamaCppSettings(BaseModel):
    """Engine settings for the in-process backend; ``None`` means "the harness default" (recorded)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    n_gpu_layers: int = Field(default=0, ge=-1)
    n_threads: int | None = Field(default=None, ge=1, le=MAX_THREADS)
    n_threads_batch: int | None = Field(default=None, ge=1, le=MAX_THREADS)
    n_ctx: int = Field(default=4096, ge=64, le=MAX_N_CTX)
    n_batch: int = Field(default=2048, ge=1)
    n_ubatch: int = Field(default=512, ge=1)
    flash_attn: bool | None = None  # None: llama.cpp decides (auto)
    use_mmap: bool = True


class PowerMode(BaseModel):
    """A named power mode (Jetson nvpmodel, an APU's power limit): selecting it sets the profile's watts."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    max_w: float = Field(gt=0, strict=True)
    idle_w: float | None = Field(default=None, ge=0, strict=True)
    nvpmodel_id: int | None = Field(default=None, ge=0)
    description: str | None = None


class LlamaCppBuild(BaseModel):
    """How llama-cpp-python must be built for this platform (it compiles llama.cpp at install time)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    cmake_args: str = ""
    env: dict[str, str] = Field(default_factory=dict)
    notes: str | None = None

    def pip_command(self) -> str:
        env = " ".join(f"{k}={v}" for k, v in self.env.items())
        cmake = f'CMAKE_ARGS="{self.cmake_args}" ' if self.cmake_args else ""
        prefix = f"{env} " if env else ""
        return f"{prefix}{cmake}pip install --force-reinstall --no-cache-dir 'llama-cpp-python>=0.3.16,<0.4'"


class DeviceProfile(BaseModel):
    """A device (or endpoint) to run on and to cost. Unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = Field(min_length=1)
    kind: Literal["local", "cloud", "rented"] = "local"
    backend: Literal["llama_cpp", "openai_http", "anthropic_messages"] = "llama_cpp"
    description: str | None = None
    # Every number the cost model reads is strict: TOML `true` or "1.0" is refused, never read as 1.
    # local hardware (cost model)
    hardware: str | None = None
    price_usd: float | None = Field(default=None, ge=0, strict=True)
    lifetime_years: float | None = Field(default=None, gt=0, strict=True)
    utilization: float | None = Field(default=None, gt=0, le=1, strict=True)
    idle_w: float | None = Field(default=None, ge=0, strict=True)
    max_w: float | None = Field(default=None, gt=0, strict=True)
    wall_factor: float = Field(default=1.0, ge=1, strict=True)
    kwh_usd: float | None = Field(default=None, ge=0, strict=True)
    region: str | None = None
    memory_gb: float | None = Field(default=None, gt=0)
    memory_bandwidth_gbs: float | None = Field(default=None, gt=0)
    power_sensor: str | None = None
    power_mode: str | None = None
    power_modes: dict[str, PowerMode] = Field(default_factory=dict)
    # provenance of the electricity price when it differs from the hardware price's
    kwh_as_of: dt.date | None = None
    kwh_source: str | None = None
    # endpoint (HTTP backends: openai_http, anthropic_messages)
    provider: str | None = None
    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    # cloud prices: a token API, or a subscription (monthly fee over the tasks per month the user states)
    input_usd_per_mtok: float | None = Field(default=None, ge=0, strict=True)
    output_usd_per_mtok: float | None = Field(default=None, ge=0, strict=True)
    cached_input_usd_per_mtok: float | None = Field(default=None, ge=0, strict=True)
    subscription_usd_per_month: float | None = Field(default=None, ge=0, strict=True)
    tasks_per_month: float | None = Field(default=None, gt=0, strict=True)
    max_tasks_per_month: float | None = Field(default=None, gt=0, strict=True)
    # price tiers as billed (docs/prices.md; rules in price_rules.py): cache reads (the older name
    # cached_input_usd_per_mtok is the same tier), cache writes (default TTL, and 1 hour where the provider
    # has both), explicit-cache storage, the batch tier; tiers_as_of/tiers_source date them where they
    # were read apart from the base prices
    cache_read_usd_per_mtok: float | None = Field(default=None, ge=0, strict=True)
    cache_write_usd_per_mtok: float | None = Field(default=None, ge=0, strict=True)
    cache_write_ttl: str | None = None
    cache_write_1h_usd_per_mtok: float | None = Field(default=None, ge=0, strict=True)
    cache_storage_usd_per_mtok_hour: float | None = Field(default=None, ge=0, strict=True)
    batch_discount: float | None = Field(default=None, strict=True)
    batch_input_usd_per_mtok: float | None = Field(default=None, ge=0, strict=True)
    batch_output_usd_per_mtok: float | None = Field(default=None, ge=0, strict=True)
    tiers_as_of: dt.date | None = None
    tiers_source: str | None = None
    # a rented GPU (kind = "rented"): an hourly rate billed in increments, for a server on that machine
    usd_per_hour: float | None = Field(default=None, strict=True)
    billing_increment_s: float | None = Field(default=None, strict=True)
    gpu: str | None = None
    gpu_count: int = Field(default=1, ge=1)
    concurrent_streams: int | None = Field(default=None, ge=1)
    # provenance of every price
    as_of: dt.date | None = None
    source: str | None = None
    llama_cpp: LlamaCppSettings = Field(default_factory=LlamaCppSettings)
    llama_cpp_build: LlamaCppBuild | None = None
    http: HttpSettings = Field(default_factory=HttpSettings)
    # a token API's prices from the price database (bench/devices/price_db.py), with their tiers, dated
    # changes, batch tier and source: set when the profile is loaded, never written in a file; a profile's
    # own price fields are read by bench.cost.tiers.schedule_of instead
    token_prices: PriceSchedule | None = None
    # where the profile came from ("auto" for the built-in one, "provider:model" for the database); not
    # part of the file
    origin: str = Field(default="auto", exclude=True)

    @field_validator("power_sensor")
    @classmethod
    def _known_sensor(cls, value: str | None) -> str | None:
        problem = None if value is None else check_power_sensor(value)
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> DeviceProfile:
        # a price database name whose provider has no known endpoint gets its base_url from --base-url
        # when it runs (``database_device``; ``require_endpoint``); a profile file must give its own
        url_later = bool((info.context or {}).get(_BASE_URL_LATER))
        if self.over_http and not ((self.base_url or url_later) and self.model):
            raise ValueError(
                f'an {self.backend} profile needs base_url and model (e.g. model = "gpt-4o-mini")'
            )
        if self.kind in ("cloud", "rented") and not self.over_http:
            raise ValueError(
                f'a {self.kind} profile runs over HTTP: set backend = "openai_http" (or "anthropic_messages")'
            )
        if self.backend == "anthropic_messages" and self.http.api == "completions":
            raise ValueError('http.api = "completions": the Messages API has no text completions; remove it')
        problem = price_problem(self)
        if problem:
            raise ValueError(problem)
        # one tier, two names: either spelling fills the other
        if self.cache_read_usd_per_mtok is None:
            self.cache_read_usd_per_mtok = self.cached_input_usd_per_mtok
        if self.cached_input_usd_per_mtok is None:
            self.cached_input_usd_per_mtok = self.cache_read_usd_per_mtok
        if self.base_url is not None:
            check_base_url(self.base_url)
        return self

    @property
    def over_http(self) -> bool:
        """True for an endpoint reached over HTTP (any wire format), False for the in-process engine."""
        return self.backend != "llama_cpp"

    @property
    def pricing(self) -> PricingBasis | None:
        """How this profile turns a run into dollars (None: it carries no price yet): ``pricing_basis``,
        the rule every reader of a recorded device applies too."""
        return pricing_basis(self)

    def with_power_mode(self, mode: str | None) -> DeviceProfile:
        """The profile in power mode ``mode`` (None: the profile's own), its watts taken from the mode."""
        name = mode or self.power_mode
        if name is None or not self.power_modes:
            if mode is not None:
                raise ProfileError(
                    f"device '{self.name}' has no power_modes; --power-mode {mode} does not apply"
                )
            return self
        if name not in self.power_modes:
            known = list(self.power_modes)
            hint = difflib.get_close_matches(name, known, n=1)
            did = f"did you mean '{hint[0]}'? " if hint else ""
            raise ProfileError(
                f"device '{self.name}': unknown power mode '{name}' ({did}known: {', '.join(known)})"
            )
        chosen = self.power_modes[name]
        update: dict[str, Any] = {"power_mode": name, "max_w": chosen.max_w}
        if chosen.idle_w is not None:
            update["idle_w"] = chosen.idle_w
        resolved = self.model_copy(update=update)
        resolved.origin = self.origin
        return resolved

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


def _size_bytes(text: str) -> int | None:
    """``32768K`` / ``1M`` / ``1024`` (sysfs cache sizes) → bytes."""
    text = text.strip().upper()
    scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
    digits = text[:-1] if text[-1:] in "KMG" else text
    return int(digits) * scale if digits.isdigit() else None


def last_level_cache_bytes() -> int | None:
    """The largest CPU cache level's size per instance (Linux sysfs; macOS sysctl), or None.

    Recorded at run time because the roofline check, made later and maybe elsewhere, asks whether the
    model could have sat in this cache."""
    best: tuple[int, int] | None = None
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level = int((index / "level").read_text())
            kind = (index / "type").read_text().strip()
            size = _size_bytes((index / "size").read_text())
        except (OSError, ValueError):
            continue
        if size and kind != "Instruction" and (best is None or level > best[0]):
            best = (level, size)
    if best:
        return best[1]
    if platform.system() == "Darwin":  # pragma: no cover - exercised on macOS only
        import subprocess

        for key in ("hw.perflevel0.l2cachesize", "hw.l3cachesize", "hw.l2cachesize"):
            try:
                out = subprocess.run(["sysctl", "-n", key], capture_output=True, text=True, timeout=2)
            except (OSError, subprocess.SubprocessError):
                return None
            if out.returncode == 0 and out.stdout.strip().isdigit() and int(out.stdout) > 0:
                return int(out.stdout)
    return None


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
        "llc_bytes": last_level_cache_bytes(),
    }


def auto_profile() -> DeviceProfile:
    """This machine as detected: no price is known, so cost excludes hardware until the user gives one
    (``--hardware-usd``); its memory bandwidth is unknown too (``--memory-bandwidth-gbs``)."""
    facts = host_facts()
    return DeviceProfile(
        name=f"this machine ({facts['cpu_model']}, {facts['cpu_logical']} CPUs, {facts['memory_gb']:.0f} GB)",
        kind="local",
        backend="llama_cpp",
        description="detected at run time; hardware price and memory bandwidth unknown until given",
        hardware=str(facts["cpu_model"]),
        memory_gb=float(facts["memory_gb"]),
        lifetime_years=AUTO_LIFETIME_YEARS,
        utilization=AUTO_UTILIZATION,
        kwh_usd=US_KWH_USD,
        region="US",
        kwh_as_of=US_KWH_AS_OF,
        kwh_source=US_KWH_SOURCE,
        power_sensor="auto",
        origin="auto",
    )


def list_devices() -> list[Path]:
    if not DEVICES_DIR.is_dir():
        return []
    return sorted(DEVICES_DIR.glob("*.toml"))


def resolve_device_path(name_or_path: str) -> Path:
    candidate = Path(name_or_path)
    # a name may hold dots ("openai-gpt-4.1-mini"): only a .toml suffix or a slash makes it a path
    if candidate.suffix == ".toml" or "/" in name_or_path or candidate.exists():
        return candidate
    path = DEVICES_DIR / f"{name_or_path}.toml"
    if path.exists():
        return path
    known = ", ".join(["auto", *(p.stem for p in list_devices())])
    raise ProfileError(f"unknown device '{name_or_path}' (known: {known}; or give a path to a .toml file)")


def load_device(name_or_path: str = "auto", power_mode: str | None = None) -> DeviceProfile:
    """Load and validate a profile; every problem is a one-line ``ProfileError`` naming file and field.

    ``provider:model`` (``anthropic:claude-sonnet-4-5``) is a token API priced entirely by the price
    database, reached at the provider's endpoint (bench/devices/providers.py). A cloud profile file that
    names a provider and model but gives no prices gets them from the database the same way.
    ``power_mode`` picks one of the profile's ``power_modes`` (default: its own ``power_mode``)."""
    if name_or_path == "auto":
        return auto_profile().with_power_mode(power_mode)
    from bench.devices.price_db import split_name

    named = split_name(name_or_path)
    if named is not None and not Path(name_or_path).exists():
        return database_device(*named).with_power_mode(power_mode)
    path = resolve_device_path(name_or_path)
    data = read_toml(path, ProfileError, "device profile")
    if "token_prices" in data:
        raise ProfileError(
            f"{path}: token_prices: set from the price database when a profile is loaded; "
            "give input_usd_per_mtok and output_usd_per_mtok to price it yourself (remove token_prices)"
        )
    try:
        profile = DeviceProfile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        if not first.get("loc"):  # a cross-field check: its message starts with the field it names
            raise ProfileError(f"{path}: {str(first['msg']).removeprefix('Value error, ')}") from None
        raise ProfileError(describe_validation_error(path, exc, data, DeviceProfile)) from None
    profile.origin = str(path)
    if profile.kind == "cloud" and profile.pricing is None:
        profile = _with_database_prices(profile, path)
    return profile.with_power_mode(power_mode)


def _with_database_prices(profile: DeviceProfile, path: Path) -> DeviceProfile:
    """A cloud profile without prices of its own, priced by the database's entry for its provider and
    model. Its ``batch_discount`` (the rule validated it) overrides the database's batch prices: a
    profile may override the database, explicitly."""
    from bench.devices.price_db import database

    assert profile.provider and profile.model  # price_rules: a cloud profile without prices names them
    try:
        found = database().lookup(profile.provider, profile.model)
    except ProfileError as exc:
        raise ProfileError(f"{path}: input_usd_per_mtok: no prices in the profile, and {exc}") from None
    schedule = found.schedule
    if profile.batch_discount is not None:
        schedule = schedule.model_copy(update={"batch": (), "batch_discount": profile.batch_discount})
    resolved = profile.model_copy(
        update={
            "token_prices": schedule,
            "as_of": profile.as_of or schedule.source.as_of,
            "source": profile.source or schedule.source.label(),
        }
    )
    resolved.origin = profile.origin
    return resolved


def database_device(provider: str, model: str) -> DeviceProfile:
    """``provider:model`` as a token API: the price database's prices for it, and the endpoint and key
    variable of infercost's table (bench/devices/providers.py). ``model`` is sent to the API as typed.

    A provider the table does not know (aws, azure, ...) still prices, compares and breaks even: its
    profile has no base_url, and a run gives one with ``--base-url`` (``require_endpoint`` says so)."""
    from bench.devices.price_db import database
    from bench.devices.providers import ENDPOINTS

    found = database().lookup(provider, model)
    endpoint = ENDPOINTS.get(found.provider_id) or ENDPOINTS.get(provider)
    source = found.schedule.source
    fields = {
        "name": f"{found.provider_name} {found.name}",
        "kind": "cloud",
        "backend": endpoint.backend if endpoint else "openai_http",
        "description": f"priced by the price database: {source.label()}",
        "provider": found.provider_id,
        "base_url": endpoint.base_url if endpoint else None,
        "model": model,
        "api_key_env": endpoint.api_key_env if endpoint else None,
        "token_prices": found.schedule,
        "as_of": source.as_of,
        "source": source.label(),
    }
    profile = DeviceProfile.model_validate(fields, context={_BASE_URL_LATER: True})
    profile.origin = f"{provider}:{model}"
    return profile


def require_endpoint(device: DeviceProfile) -> DeviceProfile:
    """``device``, refused before a request is sent when it is an endpoint without an address: a price
    database name whose provider infercost's table has no endpoint for, and no ``--base-url``."""
    if device.over_http and not device.base_url:
        raise ProfileError(
            f"{device.origin}: the price database prices it, but infercost knows no endpoint for provider "
            f"'{device.provider}'",
            fix="give an OpenAI-compatible address for it with --base-url URL, or write a profile "
            f'devices/NAME.toml with kind = "cloud", provider = "{device.provider}", '
            f'model = "{device.model}", base_url and api_key_env: its prices still come from the database',
        )
    return device


def default_threads() -> int:
    """llama-bench's default: the number of physical cores (llama-cpp-python's own default is half)."""
    return psutil.cpu_count(logical=False) or os.cpu_count() or 1

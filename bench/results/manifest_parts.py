"""The manifest's typed parts that the runner records as it goes: the device profile, the power sensor's
facts, the machine's state (hygiene), each resumed session and the sandbox.

Every reader reads them by attribute, so a renamed fact fails mypy instead of silently reading None (the
promise of ``bench.results.schema``); only the loader (``bench.results.schema.Manifest``, through
``bench.results.migrate``) sees the JSON. Each part is a ``RecordedPart``:

- fields a newer infercost adds are kept (``extra="allow"``), so readers ignore what they do not know and
  a bundle read and rewritten by this version (``--resume``) loses nothing;
- every field is optional, so a bundle written before a field existed still loads (the field reads None);
- it is written back as it was recorded: the keys that were given (or assigned since), in their order.
  An old bundle rewritten by ``--resume`` gains no ``null`` for fields it never had, and ``recorded()``
  is the part exactly as the bundle holds it: the device's identity in a results database
  (``bench.results.db.mapping``) and what ``--resume`` compares field by field.

Configuration that is recorded only to be compared or shown whole (a profile's ``http`` block, the load
shape) is typed as JSON values, not read by name anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidatorFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from bench.devices.price_rules import PricingBasis, price_gap, pricing_basis
from bench.devices.token_prices import PriceSchedule, schedule_of

__all__ = [
    "DeviceFacts",
    "EngineSettings",
    "HygieneFacts",
    "HygieneSnapshot",
    "NvpMode",
    "PowerFacts",
    "RateLowered",
    "RecordedPart",
    "ResumeFacts",
    "SandboxFacts",
    "TopProcess",
]


class RecordedPart(BaseModel):
    """A part of the manifest, written back as recorded (see the module docstring)."""

    model_config = ConfigDict(extra="allow")

    _order: list[str] = PrivateAttr(default_factory=list)

    @model_validator(mode="wrap")
    @classmethod
    def _remember_order(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        part = handler(data)
        if isinstance(data, Mapping) and isinstance(part, RecordedPart):
            part._order = [k for k in data if isinstance(k, str)]
        return part

    @model_serializer(mode="wrap")
    def _as_recorded(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if not isinstance(data, dict):
            return data
        given = set(self.model_fields_set) | set(self.__pydantic_extra__ or ())
        keys = [k for k in self._order if k in given and k in data]
        keys += [k for k in data if k in given and k not in keys]  # assigned after it was read
        return {k: data[k] for k in keys}

    def recorded(self) -> dict[str, Any]:
        """The part as JSON, exactly the keys recorded (what a bundle holds)."""
        out: dict[str, Any] = self.model_dump(mode="json")
        return out


# -------------------------------------------------------------------------------------------- device
class PowerModeFacts(RecordedPart):
    """A profile's named power mode (``bench.devices.profiles.PowerMode``), as recorded."""

    max_w: float | None = None
    idle_w: float | None = None
    nvpmodel_id: int | None = None
    description: str | None = None


class LlamaCppFacts(RecordedPart):
    """A profile's in-process engine settings (``bench.devices.profiles.LlamaCppSettings``)."""

    n_gpu_layers: int | None = None
    n_threads: int | None = None
    n_threads_batch: int | None = None
    n_ctx: int | None = None
    n_batch: int | None = None
    n_ubatch: int | None = None
    flash_attn: bool | None = None
    use_mmap: bool | None = None


class BuildFacts(RecordedPart):
    """How the profile says llama-cpp-python is built (``bench.devices.profiles.LlamaCppBuild``)."""

    cmake_args: str | None = None
    env: dict[str, str] | None = None
    notes: str | None = None


class DeviceFacts(RecordedPart):
    """The device profile the run used (``DeviceProfile.public_dict()`` and where it came from): one field
    per profile field (tests/results/test_manifest_parts.py holds the two lists together), each optional
    and unconstrained, because a recorded profile is a fact about the past, not a file to validate again.
    Dates stay as recorded (ISO text): readers date prices with ``bench.devices.staleness``.

    ``pricing`` and ``price_gap`` are ``bench.devices.price_rules``' one rule, the same a loaded profile
    applies (``DeviceProfile.pricing``)."""

    name: str | None = None
    kind: str | None = None  # local | cloud | rented (None: a bundle that did not say, priced as local)
    backend: str | None = None
    description: str | None = None
    hardware: str | None = None
    price_usd: float | None = None
    lifetime_years: float | None = None
    utilization: float | None = None
    idle_w: float | None = None
    max_w: float | None = None
    wall_factor: float | None = None
    kwh_usd: float | None = None
    region: str | None = None
    memory_gb: float | None = None
    memory_bandwidth_gbs: float | None = None
    power_sensor: str | None = None
    power_mode: str | None = None
    power_modes: dict[str, PowerModeFacts] | None = None
    kwh_as_of: str | None = None
    kwh_source: str | None = None
    provider: str | None = None
    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    input_usd_per_mtok: float | None = None
    output_usd_per_mtok: float | None = None
    cached_input_usd_per_mtok: float | None = None  # the older name of cache_read_usd_per_mtok
    subscription_usd_per_month: float | None = None
    tasks_per_month: float | None = None
    max_tasks_per_month: float | None = None
    cache_read_usd_per_mtok: float | None = None
    cache_write_usd_per_mtok: float | None = None
    cache_write_ttl: str | None = None
    cache_write_1h_usd_per_mtok: float | None = None
    cache_storage_usd_per_mtok_hour: float | None = None
    batch_discount: float | None = None
    batch_input_usd_per_mtok: float | None = None
    batch_output_usd_per_mtok: float | None = None
    tiers_as_of: str | None = None
    tiers_source: str | None = None
    usd_per_hour: float | None = None
    billing_increment_s: float | None = None
    gpu: str | None = None
    gpu_count: int | None = None
    concurrent_streams: int | None = None
    as_of: str | None = None
    source: str | None = None
    llama_cpp: LlamaCppFacts | None = None
    llama_cpp_build: BuildFacts | None = None
    http: dict[str, JsonValue] | None = None  # the HTTP client's settings: shown and compared whole
    token_prices: PriceSchedule | None = None  # the price database's schedule (bench.devices.price_db)
    origin: str | None = None  # the profile file, "auto" or "provider:model" (what --resume reloads)

    @property
    def pricing(self) -> PricingBasis | None:
        """How the recorded device turns a run into dollars (None: it carried no price)."""
        return pricing_basis(self)

    @property
    def price_gap(self) -> str | None:
        """Why its requests cannot be turned into dollars, with the fix (None: they can)."""
        return price_gap(self)

    @property
    def schedule(self) -> PriceSchedule | None:
        """Its token prices: the recorded schedule, else its flat price fields (None: not a token API)."""
        return schedule_of(self)

    @property
    def is_cloud(self) -> bool:
        return self.kind == "cloud"

    def without_origin(self) -> dict[str, Any]:
        """The recorded profile less where it was loaded from (the same profile may be named two ways)."""
        return {k: v for k, v in self.recorded().items() if k != "origin"}


# --------------------------------------------------------------------------------------------- power
class NvpMode(RecordedPart):
    """A Jetson power mode as ``nvpmodel -q`` names it (``bench.run.hygiene.parse_nvpmodel``)."""

    name: str | None = None
    id: int | None = None


class RateLowered(RecordedPart):
    """The sampler slowed itself down (``bench.power.sampler``): from, to, its reads' CPU share, when."""

    from_hz: float | None = None
    to_hz: float | None = None
    cpu_share: float | None = None
    after_s: float | None = None


class PowerFacts(RecordedPart):
    """The power sensor of the run (``bench.power.meter.PowerMeter``): what it is, how it was picked, the
    idle baseline, the anchors that align an external trace, and the sampler's own figures. A run
    without a sensor records only ``sensor = "none"``, ``selected_by`` and ``reason``."""

    sensor: str | None = None  # a sensor name, "csv:FILE" or "none"
    selected_by: str | None = None  # flag | profile | auto
    reason: str | None = None  # why no sensor ran
    kind: str | None = None  # counter | power (None: a bundle that did not say: no energy derived)
    estimated: bool | None = None
    period_s: float | None = None
    rate_hz: float | None = None
    rails: list[str] | None = None
    # what the sensor says about itself (``PowerSensor.info()``): what its total covers, where it reads
    total: str | None = None
    rails_unit: str | None = None
    paths: list[str] | None = None
    averaged: bool | None = None
    file: str | None = None  # an external meter's CSV
    aligned_by: str | None = None
    idle_w_profile: float | None = None
    max_w_profile: float | None = None
    power_mode: NvpMode | None = None
    counter: str | None = None
    instant_power: str | None = None
    driver: str | None = None
    max_energy_range_uj: list[int] | None = None
    command: str | None = None
    trace: str | None = None  # power.csv
    anchor_wall_ns: int | None = None
    anchor_perf_ns: int | None = None
    auto_skipped: dict[str, str] | None = None  # sensors ``auto`` tried first, and why each was skipped
    idle_seconds: float | None = None
    idle_w: float | None = None
    idle_start_ns: int | None = None
    idle_end_ns: int | None = None
    idle_w_observed: float | None = None
    idle_w_from: str | None = None
    external_missing: str | None = None
    imported_rows: int | None = None
    samples: int | None = None
    read_errors: int | None = None
    last_error: str | None = None
    overruns: int | None = None
    stopped_early: bool | None = None
    sampler_cpu_share: float | None = None
    rate_lowered: RateLowered | None = None
    wraps: int | None = None

    @property
    def ran(self) -> bool:
        """A sensor was read during the run (not "none", not unrecorded)."""
        return self.sensor not in (None, "none")


# ------------------------------------------------------------------------------------------- hygiene
class TopProcess(RecordedPart):
    name: str | None = None
    pid: int | None = None
    cpu_pct: float | None = None


class HygieneSnapshot(RecordedPart):
    """The machine's state at one moment (``bench.run.hygiene.snapshot``); every reading may be absent."""

    utc: str | None = None
    window_s: float | None = None
    cpu_busy_pct: float | None = None
    load_avg_1m: float | None = None
    top_processes: list[TopProcess] = Field(default_factory=list)
    cpu_governors: dict[str, int] = Field(default_factory=dict)
    platform_profile: str | None = None
    power_mode: NvpMode | None = None
    on_battery: bool | None = None
    battery_pct: float | None = None
    temperatures_c: dict[str, float] = Field(default_factory=dict)
    cpu_freq_mhz: float | None = None
    boot_time: str | None = None


class HygieneFacts(RecordedPart):
    """The machine at the start of the run and at its end (``bench.run.hygiene``)."""

    start: HygieneSnapshot | None = None
    end: HygieneSnapshot | None = None

    def at(self, when: str) -> HygieneSnapshot:
        """The snapshot taken at ``when`` ("start" or "end"); an empty one when it was not taken."""
        found = self.start if when == "start" else self.end if when == "end" else None
        return found or HygieneSnapshot()


# ------------------------------------------------------------------------------------ resumes, sandbox
class ResumeFacts(RecordedPart):
    """One ``infercost run --resume`` session that continued the bundle (``bench.run.resume``)."""

    started_utc: str | None = None
    tool_version: str | None = None
    command: list[str] | None = None
    records_before: int | None = None
    same_boot: bool | None = None
    # where this session begins on the run's clock (relative to the manifest's anchor)
    start_ns: int | None = None
    hygiene_start: HygieneSnapshot | None = None
    session_warmup: dict[str, JsonValue] | None = None  # the warm-up this session ran before its records
    torn_bytes_dropped: int | None = None
    power: str | None = None  # why this session's requests have no energy


class SandboxFacts(RecordedPart):
    """What isolated model-written code on this machine (``bench.sandbox.Isolation``)."""

    platform: str | None = None
    namespaces: list[str] = Field(default_factory=list)
    read_only_fs: bool | None = None
    own_proc: bool | None = None
    uid_dropped: bool | None = None
    harness_undumpable: bool | None = None
    pids_cgroup: bool | None = None
    summary: str | None = None


# -------------------------------------------------------------------------------------- backend settings
class EngineSettings(RecordedPart):
    """The engine's own settings (``BackendFacts.settings``): llama.cpp's context parameters, or the HTTP
    client's. ``--resume``, pooling and comparisons match them whole (``recorded()``); readers read the
    few facts below by name, and an HTTP client's settings are kept as recorded."""

    n_ctx: int | None = None
    n_batch: int | None = None
    n_ubatch: int | None = None
    n_threads: int | None = None
    n_threads_batch: int | None = None
    n_gpu_layers: int | None = None
    flash_attn: bool | None = None
    use_mmap: bool | None = None
    n_seq_max: int | None = None  # several sequences on one context (batched streams, parallel shapes)
    cache_bust: bool | None = None
    load: dict[str, JsonValue] | None = None  # the load shape (bench.run.traffic.TrafficOptions.manifest)
    prefix_cache: bool | None = None  # agent suites: the previous step's KV cache kept

    @property
    def gpu_offload(self) -> bool:
        """Layers were asked to go to a GPU (whether the build could is ``BackendFacts``'s to say)."""
        return self.n_gpu_layers not in (0, None)

    def threads(self) -> int:
        """The most engine threads of either kind (0: not recorded)."""
        return max((n for n in (self.n_threads, self.n_threads_batch) if n is not None), default=0)

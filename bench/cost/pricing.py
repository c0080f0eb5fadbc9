"""Records → dollars, at read time: the inputs a bundle is priced with, per-request cost, per-task
aggregates and the "priced on cloud" view of a local run.

The prices come from the device profile recorded in the manifest, overridden by what the user gave when
running (``--kwh-usd``, ``--hardware-usd``, recorded in ``manifest.settings``) and, above that, by what the
reader gives now (``EnrichOptions``): an old run can be re-priced with today's electricity without
re-running it. Every input remembers where it came from, and the notes say what the cost leaves out.

Local energy cost rests on the power layer's per-request energy (``energy_j``) when a record has it. A
record without it is costed from the profile's ``max_w`` for the request's duration: the device at its
rated maximum the whole time, an upper bound, and labelled ``cost_source = "estimated"`` everywhere it
shows. (A finer estimate from CPU utilization belongs to the power layer's ``estimate`` sensor, whose
energy arrives as ``energy_source = "estimated"`` and is labelled the same way.)

Requests that overlapped (``--concurrency N``) share the device: each carries the hardware amortization
(and a ``max_w`` estimate) for its *share* of the busy time, each instant divided among the requests in
flight (bench/cost/capacity.py), as the power layer shares their energy. The shares add up to the hours the
device served, so N streams do not pay N device-hours; one request at a time, a share is its own window.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from bench.cost import formulas as cost
from bench.cost.capacity import concurrent_load, shared_seconds
from bench.cost.options import EnrichOptions
from bench.cost.tiers import BATCH_LATENCY_NOTE, TokenRates, Usages, rates_for
from bench.devices.price_rules import PRICE_FIELDS
from bench.devices.profiles import DeviceProfile, list_devices, load_device
from bench.errors import BenchError, UsageError
from bench.results.metrics import display
from bench.results.metrics.policy import ATTEMPTS, REQUESTS
from bench.results.schema import DeviceFacts, Manifest, Record

__all__ = [
    "CostInputs",
    "cloud_profiles",
    "cost_by_task",
    "cost_inputs",
    "cost_section",
    "price_record",
    "price_records",
    "priced_on_cloud",
]

CostSource = Literal["measured", "estimated", "tokens", "subscription", "hardware", "rented"]
PRICED_NOT_RUN = (
    "priced, not run: this run's token counts at each API's list prices; the API's own tokenizer, "
    "answers and pass rate would differ"
)
PROJECTED_RENTED = (
    "projected: a rented GPU's hourly rate × this run's measured time per task; the rented GPU's own "
    "speed would differ"
)


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _pick(*candidates: tuple[Any, str]) -> tuple[float | None, str | None]:
    """The first given value and where it came from (reader flag, run flag, profile)."""
    for value, origin in candidates:
        number = _num(value)
        if number is not None:
            return number, origin
    return None, None


@dataclass(frozen=True)
class CostInputs:
    """Everything a bundle is priced with, each number with its origin. Absent means unknown."""

    device: str
    kind: str
    pricing: str | None
    as_of: str | None
    source: str | None
    # local
    kwh_usd: float | None = None
    kwh_from: str | None = None
    kwh_as_of: str | None = None
    kwh_source: str | None = None
    wall_factor: float = 1.0
    hardware_usd: float | None = None
    hardware_from: str | None = None
    lifetime_years: float | None = None
    utilization: float | None = None
    idle_w: float | None = None
    max_w: float | None = None
    power_mode: str | None = None
    # cloud
    input_usd_per_mtok: float | None = None
    output_usd_per_mtok: float | None = None
    cached_input_usd_per_mtok: float | None = None
    subscription_usd_per_month: float | None = None
    tasks_per_month: float | None = None
    tasks_from: str | None = None
    # price tiers (docs/prices.md) and the batch tier when asked for (--batch)
    cache_write_usd_per_mtok: float | None = None
    cache_write_1h_usd_per_mtok: float | None = None
    cache_storage_usd_per_mtok_hour: float | None = None
    batch: bool = False
    batch_discount: float | None = None
    batch_note: str | None = None
    rates: TokenRates | None = None
    prices_from: str | None = None  # where the token prices come from (database + version, or profile)
    tiers_as_of: str | None = None
    tiers_source: str | None = None
    # rented GPU
    usd_per_hour: float | None = None
    billing_increment_s: float | None = None
    gpu: str | None = None
    concurrent_streams: int = 1
    streams_from: str | None = None
    # the prices the bundle recorded (its dollars reproduced), or today's (--reprice), and from where
    priced_at: Literal["recorded", "repriced"] = "recorded"
    repriced_from: str | None = None

    @functools.cached_property
    def hardware_usd_per_hour(self) -> float | None:
        """The amortization per serving hour (once: every local record's cost carries it)."""
        if self.hardware_usd is None or not self.lifetime_years or not self.utilization:
            return None
        return cost.hardware_usd_per_hour(self.hardware_usd, self.lifetime_years, self.utilization)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["hardware_usd_per_hour"] = self.hardware_usd_per_hour
        out["rates"] = (
            None
            if self.rates is None
            else {"label": self.rates.label(), "batch": self.rates.batch, "source": self.prices_from}
        )
        return out


def cost_inputs(manifest: Manifest, options: EnrichOptions | None = None) -> CostInputs:
    """Resolve the prices for a bundle: reader's options > run flags (manifest.settings) > profile.

    The profile's prices are the ones the manifest recorded, so an old bundle reproduces its dollars;
    ``options.reprice`` takes today's prices from the profile (or the price database) it was run with."""
    dev = manifest.device
    repriced_from = None
    if options is not None and options.reprice:
        dev, repriced_from = _today_prices(dev)
    settings = manifest.settings
    read_kwh = options.kwh_usd if options else None
    read_hw = options.hardware_usd if options else None
    read_tasks = options.tasks_per_month if options else None
    batch = bool((options and options.batch) or settings.batch)
    kind = dev.kind or "local"
    common: dict[str, Any] = {
        "device": dev.name or "?",
        "kind": kind,
        "as_of": dev.as_of,
        "source": dev.source,
        "priced_at": "repriced" if repriced_from else "recorded",
        "repriced_from": repriced_from,
    }
    if kind == "cloud":
        tasks, tasks_from = _pick(
            (read_tasks, "--tasks-per-month"),
            (settings.tasks_per_month, "run --tasks-per-month"),
            (dev.tasks_per_month, "profile"),
        )
        pricing = dev.pricing
        rates, batch_note = rates_for(dev, batch)
        if batch and pricing != "tokens":
            batch_note = "a batch tier applies to token prices only: this profile is not priced by tokens"
        return CostInputs(
            **common,
            pricing=pricing,
            cache_write_usd_per_mtok=dev.cache_write_usd_per_mtok,
            cache_write_1h_usd_per_mtok=dev.cache_write_1h_usd_per_mtok,
            cache_storage_usd_per_mtok_hour=dev.cache_storage_usd_per_mtok_hour,
            batch=batch and rates is not None and rates.batch,
            batch_discount=dev.batch_discount,
            batch_note=batch_note,
            rates=rates,
            prices_from=rates.schedule.source.label() if rates else None,
            tiers_as_of=dev.tiers_as_of,
            tiers_source=dev.tiers_source,
            input_usd_per_mtok=dev.input_usd_per_mtok,
            output_usd_per_mtok=dev.output_usd_per_mtok,
            cached_input_usd_per_mtok=dev.cached_input_usd_per_mtok,
            subscription_usd_per_month=dev.subscription_usd_per_month,
            tasks_per_month=tasks,
            tasks_from=tasks_from,
        )
    if kind == "rented":
        concurrency = _num(settings.concurrency)
        streams, streams_from = (
            (int(concurrency), "the run's --concurrency")
            if concurrency and concurrency > 1
            else (dev.concurrent_streams or 1, "profile" if dev.concurrent_streams else "default")
        )
        return CostInputs(
            **common,
            pricing=dev.pricing,
            usd_per_hour=dev.usd_per_hour,
            billing_increment_s=dev.billing_increment_s,
            gpu=dev.gpu,
            utilization=dev.utilization,
            concurrent_streams=streams,
            streams_from=streams_from,
        )
    kwh, kwh_from = _pick(
        (read_kwh, "--kwh-usd"), (settings.kwh_usd, "run --kwh-usd"), (dev.kwh_usd, "profile")
    )
    hardware, hardware_from = _pick(
        (read_hw, "--hardware-usd"),
        (settings.hardware_usd, "run --hardware-usd"),
        (dev.price_usd, "profile"),
    )
    from_profile = kwh_from == "profile"
    return CostInputs(
        **common,
        pricing="hardware" if kwh is not None or hardware is not None else None,
        batch=batch,
        kwh_usd=kwh,
        kwh_from=kwh_from,
        kwh_as_of=(dev.kwh_as_of or dev.as_of) if from_profile else None,
        kwh_source=(dev.kwh_source or dev.source) if from_profile else None,
        wall_factor=dev.wall_factor or 1.0,
        hardware_usd=hardware,
        hardware_from=hardware_from,
        lifetime_years=dev.lifetime_years,
        utilization=dev.utilization,
        idle_w=dev.idle_w,
        max_w=dev.max_w,
        power_mode=dev.power_mode,
    )


def _today_prices(recorded: DeviceFacts) -> tuple[DeviceFacts, str]:
    """The recorded device with today's prices (``--reprice``): from the profile it was loaded from (its
    file, or ``provider:model`` for the price database), else the shipped profile of the same file name."""
    origin = recorded.origin or ""
    candidates = [origin] if origin else []
    stem = Path(origin).stem if origin.endswith(".toml") else None
    if stem and stem not in candidates:
        candidates.append(stem)
    for ref in candidates:
        try:
            fresh = load_device(ref).model_dump(mode="json", include=set(PRICE_FIELDS))
        except BenchError:
            continue
        return DeviceFacts.model_validate({**recorded.recorded(), **fresh}), ref
    raise UsageError(
        f"--reprice: the profile this run was priced with ({origin or 'not recorded'}) "
        "cannot be loaded today",
        fix="drop --reprice to keep the prices the bundle recorded, or give --kwh-usd / --hardware-usd",
    )


# ---------------------------------------------------------------------------------------- per request
def _request_s(rec: Record) -> float:
    return max(rec.end_ns - rec.start_ns, 0) / 1e9


def _local_parts(
    rec: Record, inp: CostInputs, busy_s: float | None = None
) -> tuple[float | None, float | None, CostSource | None]:
    """``busy_s``: the request's share of the device's time when requests overlapped (concurrency N:
    bench/cost/capacity.py), so N streams carry one device-hour of amortization and max_w, not N; None:
    its own window (one request at a time)."""
    seconds = _request_s(rec) if busy_s is None else busy_s
    energy_usd: float | None = None
    source: CostSource | None = None
    if inp.kwh_usd is not None:
        if rec.energy_j is not None:
            energy_usd = cost.energy_cost_usd(rec.energy_j / cost.J_PER_KWH, inp.kwh_usd, inp.wall_factor)
            source = "estimated" if rec.energy_source == "estimated" else "measured"
        elif inp.max_w is not None:
            gross_kwh = inp.max_w * seconds / cost.J_PER_KWH
            energy_usd = cost.energy_cost_usd(gross_kwh, inp.kwh_usd, inp.wall_factor)
            source = "estimated"
    per_hour = inp.hardware_usd_per_hour
    hardware_usd = cost.hourly_cost_usd(per_hour, seconds) if per_hour is not None else None
    if source is None and hardware_usd is not None:
        source = "hardware"
    return energy_usd, hardware_usd, source


def price_record(
    rec: Record,
    inp: CostInputs,
    busy_s: float | None = None,
    bill: tuple[float | None, bool] | None = None,
) -> Record:
    """One record with ``cost_*`` filled from ``inp`` (a new Record; the input is not changed).
    ``busy_s``: a local request's share of the device's time when requests overlapped (``_local_parts``);
    ``bill``: a token API's bill already computed for it and whether at a batch price (``billed``: an
    agent summary's is its calls')."""
    update: dict[str, Any] = {}
    if inp.kind == "local":
        energy_usd, hardware_usd, source = _local_parts(rec, inp, busy_s)
        parts = [x for x in (energy_usd, hardware_usd) if x is not None]
        update = {
            "cost_energy_usd": energy_usd,
            "cost_hardware_usd": hardware_usd,
            "cost_api_usd": None,
            "cost_usd": sum(parts) if parts else None,
            "cost_source": source,
        }
    elif inp.pricing == "tokens" and inp.rates is not None:
        api, at_batch = inp.rates.record_bill(rec) if bill is None else bill
        update = {
            "cost_api_usd": api,
            "cost_usd": api,
            "cost_source": "tokens" if api is not None else None,
            "cost_tier": "batch" if api is not None and at_batch else None,
        }
    elif inp.pricing == "rented" and inp.usd_per_hour is not None:
        rent = cost.rented_usd_per_task(
            inp.usd_per_hour, _request_s(rec), inp.concurrent_streams, inp.utilization or 1.0
        )
        update = {"cost_hardware_usd": rent, "cost_usd": rent, "cost_source": "rented"}
    elif inp.pricing == "subscription" and inp.subscription_usd_per_month is not None and inp.tasks_per_month:
        share = cost.subscription_usd_per_task(inp.subscription_usd_per_month, inp.tasks_per_month)
        update = {"cost_api_usd": share, "cost_usd": share, "cost_source": "subscription"}
    return _with(rec, update) if update else rec


_new = object.__new__
_set = object.__setattr__


def _with(rec: Record, update: dict[str, Any]) -> Record:
    """``rec.model_copy(update=update)`` without its generic deep-copy machinery: every reader of a bundle
    prices it again, and this copy is most of the time spent pricing (100k records ≤ 1 s, issue 15). The
    values are already valid (they come from this module), so nothing is re-validated, as in model_copy."""
    new = _new(Record)
    values = rec.__dict__.copy()
    values.update(update)
    _set(new, "__dict__", values)
    _set(new, "__pydantic_fields_set__", rec.__pydantic_fields_set__ | update.keys())
    _set(new, "__pydantic_extra__", rec.__pydantic_extra__)
    _set(new, "__pydantic_private__", rec.__pydantic_private__)
    return new


def price_records(
    records: Sequence[Record], manifest: Manifest, options: EnrichOptions | None = None
) -> list[Record]:
    """Every record priced by the bundle's resolved inputs (``enrich``'s cost step)."""
    inp = cost_inputs(manifest, options)
    # the copies are acyclic, so the cyclic garbage collector has nothing to find in them; left on, its
    # passes over a growing heap of new records take about half the time (bench_tiers.py)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        shares = shared_seconds(records) if inp.kind == "local" and concurrent_load(manifest) else None
        if shares is not None:
            return [price_record(r, inp, s) for r, s in zip(records, shares, strict=True)]
        if inp.pricing == "tokens" and inp.rates is not None:
            bills = billed(records, inp.rates)
            return [price_record(r, inp, bill=b) for r, b in zip(records, bills, strict=True)]
        return [price_record(r, inp) for r in records]
    finally:
        if was_enabled:
            gc.enable()


def _task_key(rec: Record) -> tuple[str, str, int, bool]:
    return rec.run_id, rec.task_id, rec.repetition, rec.warmup


@dataclass(frozen=True)
class Billable:
    """What ``billed`` needs of a run's records besides the prices, worked out once when the same records
    are billed at several prices (the priced-not-run table: every cloud profile): the usages of every
    record but an agent summary's (each distinct one is billed once per prices,
    ``TokenRates.bill_usages``), and where the agent tasks' model calls and summaries are."""

    usages: Usages
    model_calls: list[tuple[int, tuple[str, str, int, bool]]]
    summaries: list[tuple[int, tuple[str, str, int, bool]]]

    @classmethod
    def of(cls, records: Sequence[Record]) -> Billable:
        kinds = [r.kind for r in records]
        if "model" not in kinds and "agent" not in kinds:  # single requests: every record by its usage
            return cls(Usages.of(records), [], [])
        calls = [(i, _task_key(records[i])) for i, k in enumerate(kinds) if k == "model"]
        summaries = [(i, _task_key(records[i])) for i, k in enumerate(kinds) if k == "agent"]
        billable = [None if k == "agent" else r for r, k in zip(records, kinds, strict=True)]
        return cls(Usages.of(billable), calls, summaries)


def billed(
    records: Sequence[Record], rates: TokenRates, billable: Billable | None = None
) -> list[tuple[float | None, bool]]:
    """Each record's bill at ``rates`` and whether at a batch price, in order. Each request pays the tier
    of its own size, so an agent summary (whose counts are the sums over its calls) is billed as the sum
    of its model calls' bills, never as one request of the summed size; a summary whose calls were not
    recorded, by its sums (after every other record). ``billable``: ``Billable.of(records)``, given when
    the same records are billed at several prices."""
    plan = billable if billable is not None else Billable.of(records)
    bills = rates.bill_usages(plan.usages)
    calls: dict[tuple[str, str, int, bool], tuple[float, bool]] = {}
    for i, key in plan.model_calls:
        usd, at_batch = bills[i]
        if usd is not None:
            total, any_batch = calls.get(key, (0.0, False))
            calls[key] = (total + usd, any_batch or at_batch)
    for i, key in plan.summaries:
        found = calls.get(key)
        bills[i] = found if found is not None else rates.record_bill(records[i])
    return bills


def tier_notes(
    records: Sequence[Record], rates: TokenRates, who: str = "", calls: Usages | None = None
) -> list[str]:
    """One line per context-length tier the measured requests went over: how many, and the prices every
    token of theirs paid (``who``: whose prices, for the priced-not-run table). ``calls``:
    ``request_usages(records)``, when the same records are looked at with several prices."""
    calls = calls if calls is not None else request_usages(records)
    n_calls = sum(calls.sizes)
    return [
        f"{who}{c.requests:,} of {n_calls:,} requests exceed {c.above_tokens:,} input tokens: billed at "
        f"{c.label} per 1M tok on every token (the long-context tier)"
        for c in rates.usage_crossings(calls)
    ]


def request_usages(records: Sequence[Record]) -> Usages:
    """The measured model requests' usages (``policy.REQUESTS`` with a prompt token count): what
    ``tier_notes`` counts."""
    return Usages.of(REQUESTS.select(records))


# ------------------------------------------------------------------------------------------ aggregates
def _measured(records: Iterable[Record]) -> list[Record]:
    """Measured attempts at a task (``policy.ATTEMPTS``): an agent task counts once, by its summary (whose
    tokens are the sum of its calls' and whose window spans its tool time), never again by its calls."""
    return ATTEMPTS.select(records)


def _sum(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(sum(present)) if present else None


def cost_by_task(records: Sequence[Record]) -> dict[str, dict[str, Any]]:
    """Per task id (its measured repetitions): cost in total and per request, its parts, and per success."""
    out: dict[str, dict[str, Any]] = {}
    for task_id in dict.fromkeys(r.task_id for r in records):
        rs = _measured(r for r in records if r.task_id == task_id)
        if not rs:
            continue
        total = _sum(r.cost_usd for r in rs)
        passed = sum(1 for r in rs if r.passed)
        out[task_id] = {
            "n": len(rs),
            "passed": passed,
            "cost_total_usd": total,
            "cost_per_task_usd": total / len(rs) if total is not None else None,
            "cost_per_success_usd": total / passed if total is not None and passed else None,
            "cost_energy_usd": _sum(r.cost_energy_usd for r in rs),
            "cost_hardware_usd": _sum(r.cost_hardware_usd for r in rs),
            "cost_api_usd": _sum(r.cost_api_usd for r in rs),
            "cost_source": "+".join(sorted({r.cost_source for r in rs if r.cost_source})) or None,
        }
    return out


def _notes(inp: CostInputs, records: Sequence[Record]) -> list[str]:
    measured = _measured(records)
    notes: list[str] = []
    if inp.kind == "local":
        if inp.hardware_usd is None:
            notes.append("cost excludes hardware: the device's price is unknown (give --hardware-usd)")
        if inp.kwh_usd is None:
            notes.append("cost excludes energy: no electricity price (give --kwh-usd)")
        elif any(r.energy_j is None and r.cost_energy_usd is not None for r in measured):
            notes.append(
                f"energy cost is estimated: max_w {inp.max_w:g} W × request time (an upper bound; "
                "no power-sensor energy for these requests)"
            )
        elif any(r.energy_j is None for r in measured):
            notes.append("cost excludes energy: no power reading and no max_w in the profile")
        if any(r.energy_source == "estimated" for r in measured):
            notes.append("energy cost rests on estimated energy (energy_source = estimated), not a sensor")
    elif inp.pricing == "subscription" and not inp.tasks_per_month:
        notes.append(
            "a subscription's cost per task needs the tasks per month you expect "
            "(tasks_per_month in the profile, or --tasks-per-month)"
        )
    elif inp.pricing == "tokens":
        label = inp.rates.label() if inp.rates else "list prices"
        notes.append(f"API cost = token counts by tier × {label}; not an invoice")
        notes.append(
            ("prices repriced today: " if inp.priced_at == "repriced" else "prices as the bundle recorded: ")
            + f"{inp.prices_from or inp.source}"
        )
        if inp.rates is not None:
            notes += tier_notes(records, inp.rates)
        if inp.batch:
            notes.append(BATCH_LATENCY_NOTE)
        if inp.cache_storage_usd_per_mtok_hour is not None:
            notes.append(
                f"explicit-cache storage ({display.price(inp.cache_storage_usd_per_mtok_hour)} per 1M "
                "tokens per hour) is not in the per-request cost: it depends on how long you keep the cache"
            )
        if any(r.cache_write_tokens for r in measured) and inp.cache_write_usd_per_mtok is None:
            notes.append("cache writes priced at the input rate: the profile gives no cache-write rate")
    elif inp.pricing == "rented" and inp.usd_per_hour is not None:
        util = inp.utilization or 1.0
        notes.append(
            f"rented GPU cost = {display.price(inp.usd_per_hour)}/h × request time ÷ "
            f"{inp.concurrent_streams} stream(s) "
            f"({inp.streams_from}) ÷ utilization {util:.0%}"
            + (" (assumed: the GPU is rented only while it serves)" if inp.utilization is None else "")
        )
        if measured and inp.billing_increment_s:
            held = (max(r.end_ns for r in measured) - min(r.start_ns for r in measured)) / 1e9
            billed = cost.billed_rental_s(held, inp.billing_increment_s)
            rental = cost.hourly_cost_usd(inp.usd_per_hour, billed)
            notes.append(
                f"this run held the GPU {held:,.1f} s: billed as {billed:,.0f} s in "
                f"{inp.billing_increment_s:g} s increments = {display.usd(rental)} "
                "(start-up and model loading not included)"
            )
    if inp.batch_note:
        notes.append(inp.batch_note)
    return notes


def cloud_profiles(names: Sequence[str] | None = None) -> tuple[list[tuple[str, DeviceProfile]], list[str]]:
    """Cloud profiles to price against: the named ones (each must be a cloud profile), or every cloud
    profile in ``devices/`` (a file that does not validate is skipped and reported)."""
    from bench.errors import UsageError

    out: list[tuple[str, DeviceProfile]] = []
    skipped: list[str] = []
    if names:
        for name in names:
            profile = load_device(name)
            if profile.kind not in ("cloud", "rented"):
                raise UsageError(
                    f"--cloud {name}: '{profile.name}' is a {profile.kind} profile, "
                    "not a cloud API or a rented GPU"
                )
            out.append((name, profile))
        return out, skipped
    for path in list_devices():
        try:
            profile = load_device(str(path))
        except BenchError as exc:
            skipped.append(str(exc))
            continue
        if profile.kind in ("cloud", "rented"):
            out.append((path.stem, profile))
    return out, skipped


def _base(rate: Any) -> float | None:
    """A price's base (below its first context-length tier), for the table's short price column."""
    return None if rate is None else float(getattr(rate, "base", rate))


def priced_on_cloud(
    records: Sequence[Record],
    clouds: Sequence[tuple[str, DeviceProfile]],
    batch: bool = False,
    manifest: Manifest | None = None,
) -> list[dict[str, Any]]:
    """A local run's measured token counts at each cloud profile's prices (priced, not run), and its
    measured time per task at each rented GPU's hourly rate (projected). ``batch``: at the batch tier
    where a profile has one. ``manifest``: the run's; a run whose requests overlapped (``--concurrency``)
    projects each task's share of the device's time, one stream (its own concurrency is in that share:
    dividing by the profile's streams as well would count it twice)."""
    attempts = _measured(records)
    rows = [r for r in attempts if r.prompt_tokens is not None and r.completion_tokens is not None]
    out_tokens = sum(r.completion_tokens or 0 for r in rows)
    timed = [r for r in attempts if r.status == "ok"]
    # what every profile's row needs, worked out once: the measured rows' places among the records, the
    # records' usages (each distinct one is billed once per profile) and each timed task's seconds on a
    # rented GPU (its share of the device's time when requests overlapped, or its own window)
    tokens = any(p.pricing == "tokens" for _, p in clouds)
    measured_ids = {id(r) for r in rows} if tokens else set()
    measured_at = [i for i, r in enumerate(records) if id(r) in measured_ids]
    billable = Billable.of(records) if tokens else None
    calls: Usages | None = None  # the measured requests' usages, when a profile's prices have tiers
    shares = shared_seconds(records) if manifest is not None and concurrent_load(manifest) else None
    busy = {id(r): s for r, s in zip(records, shares, strict=True)} if shares else {}
    rented = any(p.pricing == "rented" for _, p in clouds)
    timed_s = [busy.get(id(r), _request_s(r)) for r in timed] if rented else []
    table: list[dict[str, Any]] = []
    for key, p in clouds:
        rates, batch_note = rates_for(p, batch)
        listed = rates.schedule.standard_at(None) if rates else None
        row: dict[str, Any] = {
            "profile": key,
            "name": p.name,
            "provider": p.provider,
            "model": p.model,
            "pricing": p.pricing,
            "as_of": p.as_of.isoformat() if p.as_of else None,
            "source": p.source,
            "prices_from": rates.schedule.source.label() if rates else None,
            "input_usd_per_mtok": _base(listed.input_usd_per_mtok) if listed else None,
            "output_usd_per_mtok": _base(listed.output_usd_per_mtok) if listed else None,
            "cached_input_usd_per_mtok": _base(listed.cache_read_usd_per_mtok) if listed else None,
            "subscription_usd_per_month": p.subscription_usd_per_month,
            "usd_per_hour": p.usd_per_hour,
            "rates_label": rates.label() if rates else None,
            "batch": bool(rates and rates.batch),
            "batch_note": batch_note if batch and p.pricing == "tokens" else None,
            "tier_notes": [],
            "label": PROJECTED_RENTED if p.pricing == "rented" else PRICED_NOT_RUN,
            "n": len(rows),
            "cost_total_usd": None,
            "cost_per_task_usd": None,
            "usd_per_mtok_out": None,
        }
        if p.pricing == "tokens" and rates is not None:
            bills = billed(records, rates, billable)
            total = _sum([bills[i][0] for i in measured_at])
            row["cost_total_usd"] = total
            if rates.tiered:
                calls = calls if calls is not None else request_usages(records)
                row["tier_notes"] = tier_notes(records, rates, calls=calls)
            if total is not None and rows:
                row["cost_per_task_usd"] = total / len(rows)
                row["usd_per_mtok_out"] = cost.usd_per_mtok(total, out_tokens)
        elif p.pricing == "subscription" and p.subscription_usd_per_month is not None and p.tasks_per_month:
            share = cost.subscription_usd_per_task(p.subscription_usd_per_month, p.tasks_per_month)
            row["cost_per_task_usd"] = share
            row["cost_total_usd"] = share * len(rows)
        elif p.pricing == "rented" and p.usd_per_hour is not None and timed:
            streams, util = (1 if busy else p.concurrent_streams or 1), p.utilization or 1.0
            total = sum(cost.rented_usd_per_task(p.usd_per_hour, s, streams, util) for s in timed_s)
            row["cost_total_usd"] = total
            row["cost_per_task_usd"] = total / len(timed)
            row["usd_per_mtok_out"] = cost.usd_per_mtok(total, out_tokens)
        table.append(row)
    # cheapest first; a subscription without a stated volume has no per-task price and goes last
    return sorted(table, key=lambda r: (r["cost_per_task_usd"] is None, r["cost_per_task_usd"] or 0.0))


def cost_section(
    records: Sequence[Record], manifest: Manifest, options: EnrichOptions | None = None
) -> dict[str, Any]:
    """The summary's cost block: inputs with origins, what the cost leaves out, per-task figures, and (for
    a local run) the same tokens priced on every cloud profile."""
    inp = cost_inputs(manifest, options)
    section: dict[str, Any] = {
        "inputs": inp.as_dict(),
        "notes": _notes(inp, records),
        "by_task": cost_by_task(records),
    }
    if inp.kind == "local":
        clouds, skipped = cloud_profiles()
        section["priced_on_cloud"] = {
            "label": PRICED_NOT_RUN,
            "rows": priced_on_cloud(
                records, clouds, batch=inp.batch or bool(options and options.batch), manifest=manifest
            ),
        }
        section["notes"] += [f"skipped an invalid cloud profile: {s}" for s in skipped]
    return section

"""Terminal views of cost: the after-run cost block, "priced on cloud", the roofline line, the device
list, one resolved profile, and the break-even answer.

Functions here build rich tables and lines from plain summary dicts; they never print (the CLI does).
Column labels and formats of summary metrics come from the field registry.
"""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table
from rich.text import Text

from bench.devices.profiles import DeviceProfile
from bench.devices.staleness import price_age
from bench.results.metrics.display import price, usd
from bench.results.metrics.registry import FIELDS

__all__ = [
    "age_cell",
    "breakeven_views",
    "cloud_table",
    "cost_header",
    "cost_table",
    "device_lines",
    "devices_table",
    "local_hint",
    "price_label",
    "profile_warnings",
    "roofline_line",
    "stale_warnings",
    "usd",
]

COST_COLUMNS = [
    "cost_per_task_usd",
    "cost_energy_per_task_usd",
    "cost_hardware_per_task_usd",
    "cost_api_per_task_usd",
    "cost_per_success_usd",
    "usd_per_mtok_out",
    "cost_basis",
]


def _count(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def age_cell(as_of: Any, source: str | None = None) -> str:
    """A price's date with its age: ``2025-09-01 (15 months, STALE)``; ``–`` when undated."""
    age = price_age(as_of, source)
    return age.short if age else "–"


def _stale(as_of: Any, source: str | None, what: str) -> str | None:
    age = price_age(as_of, source)
    warning = age.warning if age else None
    return f"{what}: {warning}" if warning else None


def profile_warnings(key: str, p: DeviceProfile) -> list[str]:
    """A profile's prices older than 180 days, one line each (``infercost devices --stale``)."""
    dated = [(p.as_of, p.source, "price")]
    if p.kwh_usd is not None:
        dated.append((p.kwh_as_of or p.as_of, p.kwh_source or p.source, "electricity"))
    if p.tiers_as_of is not None:
        dated.append((p.tiers_as_of, p.tiers_source, "tiers"))
    has_price = p.pricing is not None or p.price_usd is not None
    out = []
    for as_of, source, what in dated if has_price else []:
        line = _stale(as_of, source, f"{key} {what}")
        if line and line not in out:
            out.append(line)
    return out


def stale_warnings(summary: dict[str, Any]) -> list[str]:
    """Every stale price a run's cost rests on or is compared with (terminal summary and report)."""
    cost = summary.get("cost") or {}
    inp = cost.get("inputs") or {}
    out = []
    device = inp.get("device", "device")
    if inp.get("kind") == "local":
        if inp.get("kwh_from") == "profile":
            out.append(_stale(inp.get("kwh_as_of"), inp.get("kwh_source"), f"{device} electricity"))
        if inp.get("hardware_from") == "profile":
            out.append(_stale(inp.get("as_of"), inp.get("source"), f"{device} hardware"))
    elif inp.get("pricing"):
        out.append(_stale(inp.get("as_of"), inp.get("source"), device))
        out.append(_stale(inp.get("tiers_as_of"), inp.get("tiers_source"), f"{device} tiers"))
    for row in (cost.get("priced_on_cloud") or {}).get("rows", []):
        basis = "projected" if row.get("pricing") == "rented" else "priced, not run"
        out.append(_stale(row.get("as_of"), row.get("source"), f"{row['profile']} ({basis})"))
    return [w for w in dict.fromkeys(out) if w]


def price_label(p: DeviceProfile) -> str:
    if p.kind == "rented":
        inc = f", billed per {p.billing_increment_s:g} s" if p.billing_increment_s else ""
        return f"{price(p.usd_per_hour)}/h {p.gpu or ''}{inc}".strip()
    if p.kind == "cloud":
        if p.token_prices is not None:  # the price database's, tiers and all
            from bench.cost.tiers import TokenRates

            return TokenRates(p.token_prices).label()
        if p.pricing == "tokens":
            cached = (
                f" / {price(p.cached_input_usd_per_mtok)} cache read"
                if p.cached_input_usd_per_mtok is not None
                else ""
            )
            if p.cache_write_usd_per_mtok is not None:
                cached += f" / {price(p.cache_write_usd_per_mtok)} write"
                if p.cache_write_1h_usd_per_mtok is not None:
                    cached += f" (1h {price(p.cache_write_1h_usd_per_mtok)})"
            batch = ""
            if p.batch_discount is not None:
                batch = f"; batch {p.batch_discount:.0%} off"
            elif p.batch_input_usd_per_mtok is not None:
                batch = f"; batch {price(p.batch_input_usd_per_mtok)} / {price(p.batch_output_usd_per_mtok)}"
            rates = f"{price(p.input_usd_per_mtok)} in / {price(p.output_usd_per_mtok)} out"
            return f"{rates}{cached} per 1M tok{batch}"
        if p.pricing == "subscription":
            return f"{price(p.subscription_usd_per_month)}/month"
        return "–"
    if p.price_usd is None:
        return "unknown (--hardware-usd)"
    return price(p.price_usd)


# ------------------------------------------------------------------------------------------- after a run
def local_cost_gap(
    *, kwh_known: bool, energy_known: bool, price_known: bool, hardware_known: bool
) -> str | None:
    """What a local run's cost is missing, in the words the after-run summary and the report both use
    (None: nothing is missing). A request costs its energy plus its share of the hardware: energy
    needs an electricity price and a measured energy (or the profile's max_w to bound it), hardware its
    price (``price_known``) spread over the profile's lifetime_years at its utilization."""
    why = []
    if not kwh_known:
        why.append("no electricity price")
    elif not energy_known:
        why.append("no energy was measured (no power sensor; the profile states no max_w)")
    if not hardware_known:
        why.append(
            "the profile gives no lifetime_years and utilization to spread the device's price over"
            if price_known
            else "the device's price is unknown"
        )
    return " and ".join(why) or None


def _local_header(summary: dict[str, Any], inp: dict[str, Any]) -> str:
    """A local run's cost in plain words: what the $/task is made of, or why there is none."""
    o = summary.get("overall") or {}
    per_task = o.get("cost_per_task_usd")
    energy_known = o.get("cost_energy_per_task_usd") is not None
    hardware_known = o.get("cost_hardware_per_task_usd") is not None
    if per_task is None:
        why = local_cost_gap(
            kwh_known=inp.get("kwh_usd") is not None,
            energy_known=energy_known,
            price_known=inp.get("hardware_usd") is not None,
            hardware_known=hardware_known,
        )
        return f"cost on this machine: not priced: {why or 'no input'}"
    parts = []
    if energy_known:
        basis = str(o.get("cost_basis") or "")
        kind = "estimated" if "estimated" in basis else "measured"
        when = f", as of {age_cell(inp['kwh_as_of'])}" if inp.get("kwh_as_of") else ""
        parts.append(
            f"{kind} energy at {price(inp['kwh_usd'])}/kWh ({inp.get('kwh_from')}{when}) "
            f"× wall {inp.get('wall_factor'):g}"
        )
    if hardware_known and inp.get("hardware_usd_per_hour") is not None:
        when = (
            f", as of {age_cell(inp['as_of'])}"
            if inp.get("hardware_from") == "profile" and inp.get("as_of")
            else ""
        )
        parts.append(
            f"its price {price(inp['hardware_usd'])} ({inp.get('hardware_from')}{when}) over "
            f"{inp['lifetime_years']:g} y at {inp['utilization']:.0%} use "
            f"({usd(inp['hardware_usd_per_hour'])}/h)"
        )
    left_out = []
    if not energy_known:
        left_out.append("energy (not measured)")
    if not hardware_known:
        left_out.append("the device's price (unknown)")
    shown = FIELDS["cost_per_task_usd"].format(per_task, estimated=bool(o.get("energy_estimated")))
    tail = f"; not in it: {' and '.join(left_out)}" if left_out else ""
    return f"cost on this machine: {shown}/task = " + " + ".join(parts) + tail


def local_hint(summary: dict[str, Any]) -> str | None:
    """For a local run without a $/task of its own: the one command that puts this machine's figure
    beside the cloud table (break-even: its fixed and per-task cost against each API's $/task)."""
    inp = (summary.get("cost") or {}).get("inputs") or {}
    if inp.get("kind") != "local" or (summary.get("overall") or {}).get("cost_per_task_usd") is not None:
        return None
    run = summary.get("run_dir") or summary.get("run_id") or "RUN"
    return (
        "this machine beside them: infercost breakeven "
        f"{run} --hardware-usd PRICE (its price; a power sensor or stated watts add its energy)"
    )


def cost_header(summary: dict[str, Any]) -> str | None:
    """One line saying, in plain words, what the run was priced with (and when those prices were read),
    or for a local run why it has no $/task."""
    cost = summary.get("cost") or {}
    inp = cost.get("inputs") or {}
    when = age_cell(inp.get("as_of"))
    if inp.get("kind") == "rented":
        if inp.get("usd_per_hour") is None:
            return None
        return (
            f"cost · rented {inp.get('gpu')} at {price(inp['usd_per_hour'])}/h "
            f"(as of {when}, {inp.get('source')})"
        )
    if inp.get("kind") == "cloud":
        if inp.get("pricing") == "tokens":
            rates = inp.get("rates") or {}
            rate = rates.get("label") or (
                f"{price(inp['input_usd_per_mtok'])} in / {price(inp['output_usd_per_mtok'])} out "
                "per 1M tokens"
            )
            return f"cost · {rate} (as of {when}, {inp.get('source')})"
        if inp.get("pricing") == "subscription":
            tasks = inp.get("tasks_per_month")
            spread = f" over {tasks:,.0f} tasks/month ({inp.get('tasks_from')})" if tasks else ""
            fee = inp["subscription_usd_per_month"]
            return f"cost · subscription {price(fee)}/month{spread} (as of {when})"
        return None
    return _local_header(summary, inp)


def cost_table(summary: dict[str, Any]) -> Table | None:
    """Cost by category and overall; None when nothing in the run carries a cost."""
    overall = summary.get("overall") or {}
    if overall.get("cost_total_usd") is None:
        return None
    table = Table(box=None, title_justify="left")
    table.add_column("category", no_wrap=True)
    cols = [
        c
        for c in COST_COLUMNS
        if any((m or {}).get(c) is not None for m in [overall, *summary["by_category"].values()])
    ]
    for name in cols:
        table.add_column(
            FIELDS[name].label, justify="left" if name == "cost_basis" else "right", no_wrap=True
        )
    rows = [*summary["by_category"].items(), ("overall", overall)]
    for i, (name, m) in enumerate(rows):
        est = bool(m.get("energy_estimated"))
        cells = [FIELDS[c].format(m.get(c), estimated=est) for c in cols]
        last = i == len(rows) - 1
        table.add_row(name, *cells, style="bold" if last else None, end_section=i == len(rows) - 2)
    return table


def cloud_table(summary: dict[str, Any]) -> Table | None:
    """The run's tokens at each cloud profile's prices, labelled as priced, not run; first, this run's own
    figures on this machine when it has them (the local-vs-cloud answer at a glance)."""
    priced = (summary.get("cost") or {}).get("priced_on_cloud")
    if not priced or not priced.get("rows"):
        return None
    o = summary.get("overall") or {}
    local = o.get("cost_per_task_usd") is not None
    title = ("this run on this machine, then " if local else "") + priced["label"]
    table = Table(title=title, title_justify="left", box=None)
    for col, justify in (
        ("profile", "left"),
        ("price", "left"),
        ("as of", "left"),
        ("from", "left"),
        ("$/task", "right"),
        ("$/1M out", "right"),
        ("Σ run", "right"),
    ):
        table.add_column(col, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    if local:
        est = bool(o.get("energy_estimated"))
        table.add_row(
            "this machine (this run)",
            str(o.get("cost_basis") or "–"),
            "",
            "this run",
            *(FIELDS[k].format(o.get(k), estimated=est) for k in ("cost_per_task_usd", "usd_per_mtok_out")),
            FIELDS["cost_total_usd"].format(o.get("cost_total_usd"), estimated=est),
            style="bold",
            end_section=True,
        )
    for row in priced["rows"]:
        if row["pricing"] == "tokens":
            text = f"{price(row['input_usd_per_mtok'])} / {price(row['output_usd_per_mtok'])}"
            if row.get("cached_input_usd_per_mtok") is not None:
                text += f" / {price(row['cached_input_usd_per_mtok'])} read"
            if row.get("batch"):
                text += " (batch tier)"
            elif row.get("batch_note"):
                text += " (no batch tier)"
        elif row["pricing"] == "rented":
            text = f"{price(row['usd_per_hour'])}/h (projected)"
        else:
            text = f"{price(row['subscription_usd_per_month'])}/month"
        source = row.get("prices_from") or ""
        table.add_row(
            row["profile"],
            text,
            age_cell(row["as_of"]),
            " ".join(source.split()[:2]) if source.startswith("genai-prices") else "profile",
            usd(row["cost_per_task_usd"])
            if row["cost_per_task_usd"] is not None
            else "– (state tasks/month)",
            usd(row["usd_per_mtok_out"]),
            usd(row["cost_total_usd"]),
        )
    crossings = [f"{row['profile']}: {n}" for row in priced["rows"] for n in row.get("tier_notes") or []]
    if crossings:
        table.caption = "context-length tiers crossed:\n" + "\n".join(crossings)
        table.caption_justify = "left"
    return table


def roofline_line(summary: dict[str, Any]) -> str | None:
    r = summary.get("roofline")
    if not r:
        return None
    if r["status"] != "ok":
        fix = f"; {r['fix']}" if r.get("fix") else ""
        return f"roofline: omitted ({r['reason']}{fix})"
    return (
        f"roofline: decode {r['measured_tps']:.1f} tok/s = {r['ratio']:.0%} of the "
        f"{r['bound_tps']:.1f} tok/s bound ({r['memory_bandwidth_gbs']:g} GB/s from {r['bandwidth_from']} "
        f"÷ {r['model_bytes'] / 1e6:.1f} MB per token): "
        f"{r['verdict']}"
    )


# ---------------------------------------------------------------------------------------------- devices
def devices_table(rows: list[tuple[str, DeviceProfile | None, str | None]]) -> Table:
    """``infercost devices``: NAME, what it is, kind, backend, price and when it was read."""
    table = Table(title="device profiles (devices/; NAME for --device)", title_justify="left")
    for col in ("name", "device", "kind", "backend", "price", "as of"):
        table.add_column(col, no_wrap=col in ("name", "kind", "backend", "as of"))
    for key, p, error in rows:
        if p is None:
            table.add_row(key, Text.assemble(("invalid:", "red"), f" {error}"), "–", "–", "–", "–")
            continue
        as_of = p.as_of or p.kwh_as_of
        table.add_row(key, p.name, p.kind, p.backend, price_label(p), age_cell(as_of))
    return table


def _rate_cell(rate: Any) -> str:
    if rate is None:
        return "–"
    return price(getattr(rate, "base", rate))


def _tier_cell(prices: Any) -> str:
    """``> 200,000: $6 / $22.5`` (input / output above each tier start)."""
    from bench.cost.formulas import tier_rate

    def at(rate: Any, size: int) -> str:
        tiers = [(t.above_tokens, t.usd_per_mtok) for t in getattr(rate, "tiers", ())]
        return price(tier_rate(getattr(rate, "base", rate), tiers, size))

    cells = [
        f"> {s:,}: {at(prices.input_usd_per_mtok, s + 1)} / {at(prices.output_usd_per_mtok, s + 1)}"
        for s in prices.tier_starts()
    ]
    return "; ".join(cells) or "–"


_PRICE_COLUMNS = ("in", "out", "cache read", "cache write (1h)", "long context in / out")
_FOLDED_MIN = 16  # the narrowest the long-context tiers and the notes fold to beside the names


def _price_cells(m: Any) -> list[str]:
    """One database model's cells: its rates in force today (``_PRICE_COLUMNS``), then its notes."""
    prices = m.schedule.standard_at(None)
    write = _rate_cell(prices.cache_write_usd_per_mtok)
    if prices.cache_write_1h_usd_per_mtok is not None:
        write += f" ({_rate_cell(prices.cache_write_1h_usd_per_mtok)})"
    notes = []
    if m.schedule.batch:
        batch = m.schedule.batch[0].prices
        notes.append(
            f"batch {_rate_cell(batch.input_usd_per_mtok)} / {_rate_cell(batch.output_usd_per_mtok)}"
        )
    if m.schedule.context_window:
        notes.append(f"{m.schedule.context_window:,} tok")
    changes = [p.when for p in m.schedule.periods if p.when is not None]
    if changes:
        notes.append(f"{len(changes)} price change(s) by date or hour")
    if m.deprecated:
        notes.append("deprecated")
    if m.other_units:
        notes.append(
            "also bills " + ", ".join(u.removesuffix("_kcount").removesuffix("_mtok") for u in m.other_units)
        )
    rates = [
        _rate_cell(prices.input_usd_per_mtok),
        _rate_cell(prices.output_usd_per_mtok),
        _rate_cell(prices.cache_read_usd_per_mtok),
        write,
        _tier_cell(prices),
    ]
    return [*rates, " · ".join(notes)]


def prices_table(title: str, models: list[tuple[str, Any]], width: int | None = None) -> Table:
    """``infercost prices``: each model's name for ``--device``, its prices in force today (USD per 1M
    tokens), its context-length tiers, batch tier and what else the database says about it.

    A name is copied into ``--device NAME``, so it never wraps or gets cut. When the names and the rates
    do not fit side by side in ``width`` columns (a long AWS name is 50 characters), each model takes two
    rows: its name alone, then its rates and notes under it."""
    rows = [(name, _price_cells(m)) for name, m in models]
    caption = (
        f"{len(models):,} models; prices as of today, USD per 1M tokens; a long-context tier bills every "
        "token of a request whose input exceeds its start; `infercost run --device NAME` runs on one"
    )
    table = Table(
        title=f"token APIs in the price database: {title}",
        title_justify="left",
        box=None,
        caption=caption,
        caption_justify="left",
    )
    names = ["--device NAME", *(name for name, _ in rows)]
    rates = [[label, *(cells[i] for _, cells in rows)] for i, label in enumerate(_PRICE_COLUMNS[:4])]
    # the names and the four rates at full width, and room for the long-context tiers and the notes to
    # fold into
    side_by_side = sum(max(map(len, col)) + 2 for col in [names, *rates]) + 2 * (_FOLDED_MIN + 2)
    if width is not None and side_by_side > width:
        # one column: a name row fits any terminal as wide as the name; the rate rows under it fold
        table.add_column("--device NAME, then its prices")
        for name, cells in rows:
            labelled = [f"{label} {cell}" for label, cell in zip(_PRICE_COLUMNS, cells[:5], strict=True)]
            table.add_row(name)
            table.add_row("  " + " · ".join(r for r in [*labelled, cells[5]] if r and not r.endswith("–")))
        return table
    table.add_column("--device NAME", no_wrap=True)
    for col in _PRICE_COLUMNS[:4]:
        table.add_column(col, no_wrap=True, justify="right")
    table.add_column(_PRICE_COLUMNS[4], min_width=_FOLDED_MIN, overflow="fold")
    table.add_column("batch · context · notes", min_width=_FOLDED_MIN, overflow="fold")
    for name, cells in rows:
        table.add_row(name, *cells)
    return table


def device_lines(key: str, p: DeviceProfile) -> list[str]:
    """``infercost devices show NAME``: the resolved profile, field by field, then what follows from it."""
    # the database's schedule is summed up under "prices" below (`infercost prices MODEL` lists it whole)
    data = p.model_dump(mode="json", exclude_none=True, exclude={"token_prices"})
    lines = [f"# {key}  ({p.origin})"]
    nested = {}
    for name, value in data.items():
        if isinstance(value, dict):
            nested[name] = value
        else:
            lines.append(f"{name} = {json.dumps(value)}")
    for table, values in nested.items():
        if not values:
            continue
        if table == "power_modes":
            for mode, fields in values.items():
                mark = "  (selected)" if mode == p.power_mode else ""
                lines.append(
                    f'[power_modes."{mode}"] '
                    + ", ".join(f"{k} = {json.dumps(v)}" for k, v in fields.items())
                    + mark
                )
            continue
        lines.append(f"[{table}] " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in values.items()))
    lines.append("")
    lines.append(
        f"prices: {price_label(p)}" + (f" (as of {age_cell(p.as_of)}, {p.source})" if p.as_of else "")
    )
    if p.tiers_as_of is not None:
        lines.append(f"price tiers: as of {age_cell(p.tiers_as_of)}, {p.tiers_source}")
    if p.token_prices is not None:
        window = p.token_prices.context_window
        lines.append(
            f"prices from: {p.token_prices.source.label()}"
            + (f"; context window {window:,} tokens" if window else "")
            + ("; batch tier" if p.token_prices.has_batch else "; no batch tier")
        )
    if p.kind == "rented":
        lines.append(
            f"rented: cost per task = {price(p.usd_per_hour)}/h × busy time "
            f"÷ {p.concurrent_streams or 1} stream(s) "
            f"÷ utilization {p.utilization or 1:.0%}"
            + (" (unset: assumed rented only while serving)" if p.utilization is None else "")
        )
    lines += [f"STALE: {w}" for w in profile_warnings(key, p)]
    if p.kind == "local":
        if p.price_usd is not None and p.lifetime_years and p.utilization:
            from bench.cost.formulas import hardware_usd_per_hour

            per_h = hardware_usd_per_hour(p.price_usd, p.lifetime_years, p.utilization)
            lines.append(
                f"hardware amortization: {usd(per_h)} per serving hour "
                f"(price / ({p.lifetime_years:g} y × 8760 h × {p.utilization:.0%} utilization))"
            )
        else:
            lines.append(
                "hardware amortization: price unknown: cost excludes hardware until --hardware-usd is given"
            )
        if p.kwh_usd is not None:
            lines.append(
                f"electricity: {price(p.kwh_usd)}/kWh ({p.region or 'region unknown'}; "
                f"{p.kwh_source or p.source}, "
                f"as of {p.kwh_as_of or p.as_of}); override with --kwh-usd"
            )
        if p.memory_bandwidth_gbs is None:
            lines.append("memory bandwidth: unknown: the roofline needs --memory-bandwidth-gbs")
        if p.llama_cpp_build is not None:
            lines.append(f"build llama-cpp-python for it: {p.llama_cpp_build.pip_command()}")
            if p.llama_cpp_build.notes:
                lines.append(f"  {p.llama_cpp_build.notes}")
    return lines


# -------------------------------------------------------------------------------------------- break-even
def _volume_cell(v: dict[str, Any]) -> str:
    verdict = str(v["verdict"])
    if verdict in ("never", "device_cheaper"):
        return verdict.replace("_", " ")
    n = _count(v["breakeven_tasks_per_month"])
    return f"{n} (> capacity)" if v["verdict"] == "above_capacity" else n


MAX_LEVEL_CLOUDS = 3  # break-even columns in the levels table; the table below has every cloud option


def _levels_view(result: dict[str, Any]) -> list[Any]:
    """Several measured concurrency levels side by side, and the one the answer below is at."""
    levels = result.get("levels") or []
    chosen = result.get("chosen") or {}
    if len(levels) < 2:
        return []
    table = Table(
        title="capacity by measured concurrency (aggregate; nothing beyond the largest is extrapolated)",
        title_justify="left",
        box=None,
    )
    clouds = [c["profile"] for c in levels[0]["breakeven"] if "(batch)" not in c["profile"]][
        :MAX_LEVEL_CLOUDS
    ]
    head = ("streams", "tasks/s", "tasks/month", "p95 s", "J/task", "$/task full")
    for col in (*head, *[f"vs {c}" for c in clouds]):
        table.add_column(col, justify="left" if col == "streams" else "right", no_wrap=True)
    for row in levels:
        mark = " ◀" if row["concurrency"] == chosen.get("concurrency") else ""
        if row.get("meets_latency_bound") is False:
            mark += " slow"
        cells = {b["profile"]: b for b in row["breakeven"]}
        table.add_row(
            f"{row['concurrency']}{mark}",
            f"{row['tasks_per_s']:.3g}",
            _count(row["capacity_tasks_per_month"]),
            "?" if row["p95_latency_s"] is None else f"{row['p95_latency_s']:.3g}",
            f"{row['net_j_per_task']:.3g}",
            usd(row["usd_per_task_at_capacity"]),
            *[_volume_cell(cells[c]) if c in cells else "" for c in clouds],
        )
    out: list[Any] = [table]
    out.append(
        Text(
            "$/task full: a month of owning the device over every task it serves at that level, plus each "
            "task's energy; vs: break-even tasks/month"
            + (
                f" (the first {len(clouds)} cloud options; --json has every one)"
                if len(levels[0]["breakeven"]) > len(clouds)
                else ""
            )
            + ("; slow: p95 request time above --max-latency-ms" if chosen.get("max_latency_ms") else ""),
            style="dim",
        )
    )
    out.append(
        f"answer below at concurrency {chosen['concurrency']}: {chosen['why']} "
        f"(largest measured: {chosen['largest_measured']})"
    )
    return out


def _own_cost(result: dict[str, Any]) -> list[str]:
    """This machine's own $/task at the utilization its profile states (the fixed month spread over the
    tasks it serves then): the figure to read beside each cloud's $/task in the table below."""
    d = result["device"]
    rows: list[dict[str, Any]] = next(
        (c["sensitivity_utilization"] for c in result["clouds"] if c.get("sensitivity_utilization")), []
    )
    at = next((r for r in rows if d.get("utilization") and r["utilization"] == d["utilization"]), None)
    if at is None:
        return []
    return [
        f"this machine · {usd(at['device_usd_per_task'])}/task at its stated {at['utilization']:.0%} "
        f"utilization ({_count(at['tasks_per_month'])} tasks/month): beside each cloud's $/task below"
    ]


def breakeven_views(result: dict[str, Any]) -> list[Any]:
    """Device economics, one row per cloud option, then the two sensitivity tables."""
    d = result["device"]
    out: list[Any] = [*_levels_view(result)]
    out += [
        f"device · {d['device']} · {d['n_requests']} measured requests, "
        f"{d['seconds_per_task']:.3g} s/request at concurrency {d.get('concurrency', 1)} "
        f"→ capacity {_count(d['capacity_tasks_per_month'])} tasks/month "
        f"({d.get('capacity_from', 'one request at a time')})",
        f"fixed · {usd(d['fixed_usd_per_month'])}/month = hardware {usd(d['hardware_usd'])} "
        f"({d['hardware_from']}) / "
        f"({d['lifetime_years']:g} y × 12) + idle {d['idle_w']:g} W ({d['idle_from']}) × 730 h × "
        f"{price(d['kwh_usd'])}/kWh ({d['kwh_from']}) × wall {d['wall_factor']:g}",
        f"per task · {usd(d['variable_usd_per_task'])} net energy "
        f"({d['net_kwh_per_task'] * 3.6e6:.3g} J, {d['energy_basis']})",
        *_own_cost(result),
        *[f"note: {n}" for n in d["notes"]],
        Text(result["label"], style="dim"),
    ]
    table = Table(box=None)
    for col in ("cloud", "$/task", "as of", "break-even tasks/month", "verdict"):
        table.add_column(
            col,
            no_wrap=col != "verdict",
            justify="right" if col in ("$/task", "break-even tasks/month") else "left",
        )
    for c in result["clouds"]:
        cell = (
            f"{usd(c['subscription_usd_per_month'])}/month"
            if c.get("subscription_usd_per_month") is not None
            else usd(c["usd_per_task"])
        )
        table.add_row(
            c["profile"], cell, age_cell(c["as_of"]), _count(c.get("breakeven_tasks_per_month")), c["text"]
        )
    out.append(table)
    if result.get("tasks_per_month") is not None:
        vol = Table(
            title=f"at {result['tasks_per_day']:g} tasks/day ({result['tasks_per_month']:,.0f}/month)",
            title_justify="left",
            box=None,
        )
        vol.add_column("cloud")
        vol.add_column("answer")
        for c in result["clouds"]:
            if c.get("at_volume"):
                vol.add_row(c["profile"], c["at_volume"]["text"])
        out.append(vol)
    priced = [c for c in result["clouds"] if c.get("sensitivity_kwh")]
    if priced:
        kwh = Table(
            title="sensitivity to the electricity price: break-even tasks/month",
            title_justify="left",
            box=None,
        )
        kwh.add_column("cloud")
        for s in priced[0]["sensitivity_kwh"]:
            kwh.add_column(f"{price(round(s['kwh_usd'], 4))}/kWh", justify="right")
        for c in priced:
            kwh.add_row(c["profile"], *[_volume_cell(v) for v in c["sensitivity_kwh"]])
        out.append(kwh)
        levels = priced[0]["sensitivity_utilization"]
        util = Table(
            title="sensitivity to utilization (share of the month the device serves): which side is cheaper",
            title_justify="left",
            box=None,
        )
        util.add_column("")
        for s in levels:
            util.add_column(f"{s['utilization']:.0%}", justify="right")
        util.add_row("tasks/month", *[_count(s["tasks_per_month"]) for s in levels], style="dim")
        util.add_row(
            "device $/task", *[usd(s["device_usd_per_task"]) for s in levels], style="dim", end_section=True
        )
        for c in priced:
            util.add_row(c["profile"], *[s["cheaper"] for s in c["sensitivity_utilization"]])
        out.append(util)
    cached = [c for c in result["clouds"] if c.get("sensitivity_cached")]
    if cached:
        share = Table(
            title="sensitivity to the cached share of input (cache-read rate, warm cache): "
            "break-even tasks/month",
            title_justify="left",
            box=None,
        )
        share.add_column("cloud")
        for s in cached[0]["sensitivity_cached"]:
            share.add_column(f"{s['cached_share']:.0%} cached", justify="right")
        for c in cached:
            share.add_row(
                c["profile"],
                *[f"{_volume_cell(v)} ({usd(v['usd_per_task'])}/task)" for v in c["sensitivity_cached"]],
            )
        out.append(share)
    out += _price_sources(result["clouds"])
    crossed = {c["profile"]: c.get("tier_notes") or [] for c in result["clouds"]}
    out += [f"tier: {name}: {n}" for name, notes in crossed.items() for n in notes]
    if any(c.get("batch") for c in result["clouds"]):
        from bench.cost.tiers import BATCH_LATENCY_NOTE

        out.append(f"note: rows marked (batch) or priced with --batch: {BATCH_LATENCY_NOTE}")
    if any(c.get("basis") == "projected" for c in result["clouds"]):
        out.append(
            "note: rented GPU rows are projected: the hourly rate × this run's measured time per task on "
            f"{d['device']}; the rented GPU's own speed would differ (run on it to measure)"
        )
    out += [f"stale: {w}" for w in _stale_rows(result["clouds"])]
    out += [f"note: {n}" for n in result.get("notes") or []]
    return out


def _price_sources(rows: list[dict[str, Any]]) -> list[str]:
    """Where the cloud rows' prices come from: the price database (one line for all its rows) or each
    profile's own source."""
    database = sorted(
        {
            str(c["source"]).split(": ")[0]
            for c in rows
            if str(c.get("source") or "").startswith("genai-prices")
        }
    )
    own = [
        f"{c['profile']}: {c.get('source') or 'no source'}"
        for c in rows
        if not str(c.get("source") or "").startswith("genai-prices") and "(batch)" not in str(c["profile"])
    ]
    lines = [f"prices from: {', '.join(database)} (token APIs it lists)"] if database else []
    return lines + [f"prices from the profile: {line}" for line in own]


def _stale_rows(rows: list[dict[str, Any]]) -> list[str]:
    lines = [_stale(c.get("as_of"), c.get("source"), str(c["profile"])) for c in rows]
    return [w for w in dict.fromkeys(lines) if w]

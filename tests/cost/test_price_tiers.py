"""Prices as billed (issue 15, docs/prices.md): cache read/write tiers, the batch tier, rented GPUs, stale
prices, and the usage shapes that carry cache counts.

The golden bills are computed by hand in the comments, from the shipped profiles' rates, for one fixed
usage: 10M prompt tokens of which 6M cache reads and 2M cache writes (so 2M fresh), and 1M output tokens.
Each must match the harness to the cent, interactive and at the batch tier.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from bench.backends.http.wire import StreamState
from bench.cost import formulas as cost
from bench.cost.pricing import cost_inputs, price_records, priced_on_cloud
from bench.cost.tiers import BATCH_LATENCY_NOTE
from bench.devices import staleness
from bench.devices.price_db import database
from bench.devices.profiles import DeviceProfile, load_device
from bench.errors import ProfileError, UsageError
from bench.results.schema import Record
from tests.helpers import run_cli
from tests.helpers.cost import device_manifest, manifest_for, record

CENT = 0.005  # "to the cent": within half a cent of the hand-computed bill
USAGE: dict[str, Any] = {
    "prompt_tokens": 10_000_000,
    "cached_tokens": 6_000_000,
    "cache_write_tokens": 2_000_000,
    "completion_tokens": 1_000_000,
}


def bill(profile: str, batch: bool = False, **usage: Any) -> float:
    """The harness's bill for one request of ``usage`` on a shipped profile (the read-time path)."""
    m = device_manifest(profile, settings={"batch": batch})
    rec = record(**{**USAGE, **usage})
    priced = price_records([rec], m)[0]
    assert priced.cost_source == "tokens" and priced.cost_usd is not None
    assert priced.cost_tier == ("batch" if batch else None)
    return priced.cost_usd


# ------------------------------------------------------------------------------------ golden bills
# The token profiles take their prices from the price database (genai-prices): the batch tier is the
# database's batch prices, which replace only the prices they give (OpenAI's and Google's leave the cached
# rate as it is), and 10M prompt tokens put Claude Sonnet 4.5 in its long-context tier (over 200k).
@pytest.mark.parametrize(
    ("profile", "usage", "interactive", "batched"),
    [
        # OpenAI gpt-4o-mini: cached input 50% off, writes at the input rate; batch $0.075 in / $0.30 out
        # 2M×0.15 + 6M×0.075 + 2M×0.15 + 1M×0.60 = 0.30 + 0.45 + 0.30 + 0.60 = 1.65
        # batch: 2M×0.075 + 6M×0.075 + 2M×0.075 + 1M×0.30 = 0.15 + 0.45 + 0.15 + 0.30 = 1.05
        ("openai-gpt-4o-mini", {}, 1.65, 1.05),
        # OpenAI gpt-4.1-mini: cached 75% off: 2M×0.40 + 6M×0.10 + 2M×0.40 + 1M×1.60 = 0.8+0.6+0.8+1.6 = 3.80
        # batch $0.20 / $0.80: 2M×0.2 + 6M×0.1 + 2M×0.2 + 1M×0.8 = 0.4 + 0.6 + 0.4 + 0.8 = 2.20
        ("openai-gpt-4.1-mini", {}, 3.80, 2.20),
        # OpenAI gpt-5-mini: cached 90% off, 0.5M reasoning billed as output:
        # 2M×0.25 + 6M×0.025 + 2M×0.25 + 1.5M×2.00 = 0.50 + 0.15 + 0.50 + 3.00 = 4.15
        # batch $0.125 / $0.0125 read / $1: 0.25 + 0.075 + 0.25 + 1.5 = 2.075
        ("openai-gpt-5-mini", {"reasoning_tokens": 500_000}, 4.15, 2.075),
        # Anthropic Haiku 4.5, 5-minute writes: 2M×1 + 6M×0.10 + 2M×1.25 + 1M×5 = 2 + 0.6 + 2.5 + 5 = 10.10;
        # batch halves every tier: 5.05
        ("anthropic-claude-haiku-4.5", {}, 10.10, 5.05),
        # Anthropic Haiku 4.5, 1-hour writes: 2M×1 + 6M×0.10 + 2M×2.00 + 1M×5 = 2 + 0.6 + 4 + 5 = 11.60
        ("anthropic-claude-haiku-4.5", {"cache_write_1h_tokens": 2_000_000}, 11.60, 5.80),
        # Anthropic Sonnet 4.5, half 5 m / half 1 h, 10M prompt tokens: the long-context tier on every token:
        # 2M×6 + 6M×0.6 + 1M×7.5 + 1M×12 + 1M×22.5 = 12 + 3.6 + 7.5 + 12 + 22.5 = 57.6
        # batch: 2M×3 + 6M×0.3 + 1M×3.75 + 1M×6 + 1M×11.25 = 6 + 1.8 + 3.75 + 6 + 11.25 = 28.8
        ("anthropic-claude-sonnet-4.5", {"cache_write_1h_tokens": 1_000_000}, 57.6, 28.8),
        # Google Gemini 2.5 Flash (implicit cache, no write premium): 2M×0.3 + 6M×0.03 + 2M×0.3 + 1M×2.5
        # = 0.6 + 0.18 + 0.6 + 2.5 = 3.88; batch $0.15 / $1.25: 0.3 + 0.18 + 0.3 + 1.25 = 2.03
        ("google-gemini-2.5-flash", {}, 3.88, 2.03),
        # Groq Llama 3.1 8B: no cache rate (cached and written tokens at the input rate); the database has
        # no batch tier, the profile's own 25% off applies: 10M×0.05 + 1M×0.08 = 0.58; batch 0.435
        ("groq-llama-3.1-8b", {}, 0.58, 0.435),
    ],
)
def test_golden_bill_per_provider(
    profile: str, usage: dict[str, Any], interactive: float, batched: float
) -> None:
    assert bill(profile, **usage) == pytest.approx(interactive, abs=CENT)
    assert bill(profile, batch=True, **usage) == pytest.approx(batched, abs=CENT)


def test_fresh_only_usage_is_the_old_formula() -> None:
    # no cache counts at all: the tiered price is the list price, exactly as before tiers existed
    plain = dict(prompt_tokens=1234, completion_tokens=567, cached_tokens=None, cache_write_tokens=None)
    old = (1234 * 1.0 + 567 * 5.0) / 1e6  # docs/cost.md's token formula: prompt × input + output × output
    assert bill("anthropic-claude-haiku-4.5", **plain) == pytest.approx(old, rel=1e-12)


def test_rented_gpu_bill(tmp_path: Path) -> None:
    # RunPod H100: $4.176/h. Four requests of 900 s each, one at a time: 1 h busy = $4.176
    m = device_manifest("runpod-h100-serverless")
    recs = [record(seconds=900.0, task_id=f"t{i}") for i in range(4)]
    priced = price_records(recs, m)
    assert sum(r.cost_usd or 0 for r in priced) == pytest.approx(4.176, abs=CENT)
    assert {r.cost_source for r in priced} == {"rented"}
    # the same hour under --concurrency 4: four streams share it, $1.044
    shared = price_records(recs, device_manifest("runpod-h100-serverless", settings={"concurrency": 4}))
    assert sum(r.cost_usd or 0 for r in shared) == pytest.approx(1.044, abs=CENT)
    # Lambda H100 SXM $3.78/h at a stated 50% utilization: idle time doubles the busy hour's cost, $7.56
    lam = load_device("lambda-h100-sxm").model_copy(update={"utilization": 0.5})
    half = price_records(recs, manifest_for(lam))
    assert sum(r.cost_usd or 0 for r in half) == pytest.approx(7.56, abs=CENT)


def test_rented_formulas_by_hand() -> None:
    assert cost.rented_usd_per_task(3.6, 10.0) == pytest.approx(0.01)  # $3.60/h × 10 s
    assert cost.rented_usd_per_task(3.6, 10.0, concurrent_streams=2, utilization=0.25) == pytest.approx(0.02)
    assert cost.billed_rental_s(61, 60) == 120 and cost.billed_rental_s(60, 60) == 60
    assert cost.billed_rental_s(0.2, 1) == 1 and cost.billed_rental_s(3601, 3600) == 7200
    with pytest.raises(ValueError):
        cost.rented_usd_per_task(1.0, 1.0, utilization=0)


def test_tier_formula_rejects_impossible_counts() -> None:
    rates = cost.token_rate_set(1.0, 1.0)
    with pytest.raises(ValueError, match="impossible counts"):
        cost.token_bill_usd(10, 0, 0, 8, 5, 0, rates)  # 8 reads + 5 writes of a 10-token prompt
    with pytest.raises(ValueError, match="impossible counts"):
        cost.token_bill_usd(10, 0, 0, 0, 2, 3, rates)  # more 1-hour writes than writes


def test_explicit_batch_rates_scale_the_cache_tiers(tmp_path: Path) -> None:
    p = DeviceProfile.model_validate(
        {
            "name": "x",
            "kind": "cloud",
            "backend": "openai_http",
            "base_url": "https://api.example.com/v1",
            "model": "m",
            "input_usd_per_mtok": 2.0,
            "output_usd_per_mtok": 8.0,
            "cache_read_usd_per_mtok": 0.5,
            "batch_input_usd_per_mtok": 1.0,
            "batch_output_usd_per_mtok": 4.0,
            "as_of": "2026-11-01",
            "source": "test",
        }
    )
    m = manifest_for(p, settings={"batch": True})
    # batch: 2M×1.0 + 6M×0.25 + 2M×1.0 + 1M×4.0 = 2 + 1.5 + 2 + 4 = 9.50
    priced = price_records([record(**USAGE)], m)[0]
    assert priced.cost_usd == pytest.approx(9.50, abs=CENT)
    assert p.cached_input_usd_per_mtok == 0.5  # the read tier under its older name too


def test_batch_note_says_latency_is_not_interactive() -> None:
    inp = cost_inputs(device_manifest("openai-gpt-4o-mini", settings={"batch": True}))
    assert (
        inp.batch and inp.rates is not None and inp.rates.batch_applied(record())
    )  # the database's batch prices
    from bench.cost.pricing import cost_section

    notes = cost_section([record()], device_manifest("openai-gpt-4o-mini", settings={"batch": True}))["notes"]
    assert BATCH_LATENCY_NOTE in notes and "not interactive" in BATCH_LATENCY_NOTE


def test_batch_without_a_tier_is_refused_at_run_time() -> None:
    from bench.run.orchestrate import check_batch_tier

    with pytest.raises(UsageError, match="publishes no batch tier"):
        check_batch_tier(load_device("deepinfra-llama-3.1-8b"))
    with pytest.raises(UsageError, match="not priced by tokens"):
        check_batch_tier(load_device("runpod-h100-serverless"))
    check_batch_tier(load_device("groq-llama-3.1-8b"))  # has one: no error


def test_priced_on_cloud_includes_rented_as_projected() -> None:
    clouds = [(n, load_device(n)) for n in ("openai-gpt-4o-mini", "modal-l4")]
    rows = {r["profile"]: r for r in priced_on_cloud([record(seconds=3.6)], clouds)}
    assert rows["modal-l4"]["label"].startswith("projected")
    assert rows["modal-l4"]["cost_per_task_usd"] == pytest.approx(0.7992 / 1000)  # 3.6 s of an hour
    assert rows["openai-gpt-4o-mini"]["label"].startswith("priced, not run")


# -------------------------------------------------------------------------------------- bad input
BASE = (
    'name = "x"\nkind = "cloud"\nbackend = "openai_http"\nbase_url = "https://a.example/v1"\nmodel = "m"\n'
    'input_usd_per_mtok = 1\noutput_usd_per_mtok = 5\nas_of = 2026-11-01\nsource = "test"\n'
)
RENTED = (
    'name = "r"\nkind = "rented"\nbackend = "openai_http"\nbase_url = "http://127.0.0.1:8000/v1"\n'
    'model = "m"\nprovider = "p"\ngpu = "H100"\nbilling_increment_s = 1\n'
)
BAD = {
    "write without read": (BASE + "cache_write_usd_per_mtok = 1.25\n", "cache_read_usd_per_mtok"),
    "1h write without write": (
        BASE + "cache_read_usd_per_mtok = 0.1\ncache_write_1h_usd_per_mtok = 2\n",
        "cache_write_1h_usd_per_mtok",
    ),
    "batch discount 1.5": (BASE + "batch_discount = 1.5\n", "batch_discount"),
    "batch discount 0": (BASE + "batch_discount = 0\n", "batch_discount"),
    "batch discount negative": (BASE + "batch_discount = -0.5\n", "batch_discount"),
    "batch discount nan": (BASE + "batch_discount = nan\n", "batch_discount"),
    "two read rates": (
        BASE + "cache_read_usd_per_mtok = 0.1\ncached_input_usd_per_mtok = 0.2\n",
        "cache_read_usd_per_mtok",
    ),
    "rented without rate": (RENTED + 'as_of = 2026-11-01\nsource = "s"\n', "usd_per_hour"),
    "rented undated": (RENTED + 'usd_per_hour = 2.5\nsource = "s"\n', "as_of"),
    "rented without increment": (
        RENTED.replace("billing_increment_s = 1\n", "")
        + 'usd_per_hour = 2\nas_of = 2026-11-01\nsource = "s"\n',
        "billing_increment_s",
    ),
    "rented with token prices": (
        RENTED + 'usd_per_hour = 2\ninput_usd_per_mtok = 1\nas_of = 2026-11-01\nsource = "s"\n',
        "input_usd_per_mtok",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_tiers_one_line_naming_file_and_field(tmp_path: Path, case: str) -> None:
    text, field = BAD[case]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ProfileError) as info:
        load_device(str(path))
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path)), message
    assert message.split(": ")[1] == field, message


def test_bad_tier_through_the_cli_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(BASE + "batch_discount = 1.5\n")
    proc = run_cli("devices", "show", str(path), timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "batch_discount" in lines[0]
    assert "Traceback" not in proc.stderr


# ------------------------------------------------------------------------------------ stale prices
def test_price_age_and_the_stale_flag() -> None:
    on = dt.date(2026, 12, 1)
    age = staleness.price_age("2025-09-01", "https://groq.com/pricing", on)
    assert age is not None and age.days == 456 and age.months == 15 and age.stale
    assert age.warning == "price as of 2025-09-01, 15 months old: check https://groq.com/pricing"
    assert age.short == "2025-09-01 (15 months, STALE)"
    edge = staleness.price_age(dt.date(2026, 6, 4), None, on)  # 180 days: not yet stale
    assert edge is not None and edge.days == 180 and not edge.stale and edge.warning is None
    assert staleness.price_age(dt.date(2026, 6, 3), None, on).stale  # type: ignore[union-attr]
    assert staleness.price_age(None) is None
    fresh = staleness.price_age("2026-11-20", None, on)
    assert fresh is not None and fresh.short == "2026-11-20 (11 days)"


def test_devices_stale_lists_old_prices_on_an_injected_day(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.cli.app import main

    monkeypatch.setattr(staleness, "today", lambda: dt.date(2026, 3, 1))
    assert main(["devices", "--stale"]) == 0
    early = capsys.readouterr().out
    # on 2026-03-01 only the 2025-09-01 prices are past 180 days (181 days old): DeepInfra's own prices and
    # Groq's own batch discount (its token prices come from the database)
    assert (
        "deepinfra-llama-3.1-8b price: price as of 2025-09-01, 6 months old: check https://deepinfra" in early
    )
    assert "groq-llama-3.1-8b tiers: price as of 2025-09-01, 6 months old" in early
    assert "openai-gpt-4o-mini" not in early and "lambda-h100-sxm" not in early
    # a database price is as old as the database's data
    data_date = database().data_date
    monkeypatch.setattr(staleness, "today", lambda: data_date + dt.timedelta(days=200))
    assert main(["devices", "--stale"]) == 0
    late = capsys.readouterr().out
    assert f"openai-gpt-4o-mini price: price as of {data_date.isoformat()}, 7 months old" in late
    monkeypatch.setattr(staleness, "today", lambda: dt.date(2025, 10, 1))
    assert main(["devices", "--stale"]) == 0
    assert "no price is older than 180 days" in capsys.readouterr().out


def test_terminal_summary_flags_stale_prices(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.cost.pricing import cost_section
    from bench.report import cost_view

    monkeypatch.setattr(staleness, "today", lambda: dt.date(2026, 12, 1))
    m = device_manifest("deepinfra-llama-3.1-8b")
    summary = {"cost": cost_section([record()], m)}
    warnings = cost_view.stale_warnings(summary)
    assert any(
        "price as of 2025-09-01, 15 months old: check https://deepinfra.com/pricing" in w for w in warnings
    )
    assert "(15 months, STALE)" in (cost_view.cost_header(summary) or "")


# --------------------------------------------------------------------------------- usage shapes
def _usage(usage: dict[str, Any], key: str = "usage") -> StreamState:
    s = StreamState()
    s.feed(json.dumps({"choices": [{"delta": {"content": "hi"}, "finish_reason": "stop"}]}), 1)
    s.feed(json.dumps({"choices": [], key: usage}), 2)
    return s


def test_anthropic_usage_through_the_openai_format() -> None:
    s = _usage(
        {
            "prompt_tokens": 1000,
            "completion_tokens": 20,
            "prompt_tokens_details": {"cached_tokens": 600},
            "cache_creation_input_tokens": 300,
            "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
        }
    )
    assert s.usage_counts() == (1000, 20, None, 600)
    assert s.cache_write_counts() == (300, 200)


def test_anthropic_native_usage_counts_reads_and_writes_into_the_prompt() -> None:
    # Anthropic's own shape: input_tokens excludes cache reads and writes
    s = _usage(
        {
            "input_tokens": 100,
            "output_tokens": 20,
            "cache_read_input_tokens": 600,
            "cache_creation_input_tokens": 300,
        }
    )
    assert s.usage_counts() == (1000, 20, None, 600)
    assert s.cache_write_counts() == (300, None)


def test_gemini_usage_metadata() -> None:
    s = _usage(
        {
            "promptTokenCount": 1000,
            "candidatesTokenCount": 20,
            "thoughtsTokenCount": 50,
            "cachedContentTokenCount": 700,
        },
        key="usageMetadata",
    )
    assert s.usage_counts() == (1000, 20, 50, 700)
    assert s.cache_write_counts() == (None, None)


def test_openai_usage_has_no_writes() -> None:
    s = _usage({"prompt_tokens": 50, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 0}})
    assert s.usage_counts() == (50, 5, None, 0) and s.cache_write_counts() == (None, None)


def test_cache_writes_reach_the_record() -> None:
    rec = Record.model_validate(
        {**record().model_dump(), "cache_write_tokens": 300, "cache_write_1h_tokens": 200}
    )
    assert rec.cache_write_tokens == 300 and rec.cache_write_1h_tokens == 200


# ------------------------------------------------------------------- end to end, over real HTTP
SUITE = """name = "tiers"
version = "1"
[[tasks]]
id = "cached"
category = "c"
max_tokens = 8
messages = [{ role = "user", content = "scenario=anthropic-cache Say hello." }]
check = { type = "contains", values = ["quick"] }
"""


def test_cache_writes_are_recorded_and_billed_end_to_end(fake_server: Any, tmp_path: Path) -> None:
    from bench.cost.enrich import EnrichOptions, enrich
    from bench.results.bundle import read_bundle

    suite = tmp_path / "tiers.toml"
    suite.write_text(SUITE)
    haiku = Path(load_device("anthropic-claude-haiku-4.5").origin).read_text()
    device = tmp_path / "haiku.toml"
    # the shipped profile's prices, pointed at the local fake OpenAI-format server (which needs no key):
    # Anthropic's cache counts as its OpenAI-compatible endpoint reports them
    haiku = haiku.replace("https://api.anthropic.com/v1", fake_server.base_url)
    haiku = haiku.replace('backend = "anthropic_messages"', 'backend = "openai_http"')
    device.write_text(haiku.replace('api_key_env = "ANTHROPIC_API_KEY"', ""))
    proc = run_cli(
        "run", "--device", str(device), "--suite", str(suite), "-r", "1", "-w", "0", "--out", str(tmp_path),
        "--json", "--batch",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    bundle = read_bundle(json.loads(proc.stdout)["run_dir"])
    (rec,) = [r for r in bundle.records if not r.warmup]
    assert (rec.prompt_tokens, rec.cached_tokens, rec.cache_write_tokens, rec.cache_write_1h_tokens) == (
        1000,
        600,
        300,
        200,
    )
    assert bundle.manifest.settings.batch is True
    (priced,) = enrich(bundle)
    # 100 fresh × $1 + 600 read × $0.10 + 100 (5 min) × $1.25 + 200 (1 h) × $2 + 8 out × $5, per 1M,
    # = (100 + 60 + 125 + 400 + 40) / 1e6 = $0.000725; batch 50% → $0.0003625
    assert priced.completion_tokens == 8
    assert priced.cost_usd == pytest.approx(0.0003625, rel=1e-9) and priced.cost_tier == "batch"
    (again,) = enrich(bundle, EnrichOptions())  # the run's --batch is recorded: still the batch tier
    assert again.cost_tier == "batch"
    assert BATCH_LATENCY_NOTE in json.loads(proc.stdout)["cost"]["notes"]


def test_rented_gpu_run_over_http_is_billed_by_the_hour(fake_server: Any, tmp_path: Path) -> None:
    suite = tmp_path / "tiers.toml"
    suite.write_text(SUITE.replace("scenario=anthropic-cache ", ""))
    text = Path(load_device("runpod-l40s-serverless").origin).read_text()
    device = tmp_path / "rented.toml"
    device.write_text(text.replace('api_key_env = "RUNPOD_API_KEY"', ""))
    proc = run_cli(
        "run", "--device", str(device), "--base-url", fake_server.base_url, "--suite", str(suite),
        "-r", "2", "-w", "0", "--out", str(tmp_path), "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    from bench.cost.enrich import enrich
    from bench.results.bundle import read_bundle

    recs = enrich(read_bundle(summary["run_dir"]))
    for r in recs:
        # $1.908/h × the request's own time, one stream, utilization unset (rented only while serving)
        assert r.cost_source == "rented"
        assert r.cost_usd == pytest.approx(1.908 * (r.end_ns - r.start_ns) / 1e9 / 3600, rel=1e-9)
    notes = " ".join(summary["cost"]["notes"])
    assert (
        "$1.908/h × request time ÷ 1 stream(s)" in notes
        and "billed as" in notes
        and "1 s increments" in notes
    )


# ------------------------------------------------------------------------------------- break-even
def test_breakeven_rows_for_batch_rented_and_cached_share() -> None:
    from rich.console import Console

    from bench.cost.breakeven import analyse
    from bench.report.cost_view import breakeven_views

    m = device_manifest("jetson-orin-nano-super")
    recs = [
        record(seconds=2.0, energy_j=12.0, energy_net_j=10.0, prompt_tokens=1000, completion_tokens=100)
        for _ in range(5)
    ]
    clouds = [(n, load_device(n)) for n in ("openai-gpt-4o-mini", "runpod-h100-serverless")]
    result = analyse(recs, m, clouds)
    rows = {c["profile"]: c for c in result["clouds"]}
    # list: (1000 × 0.15 + 100 × 0.60) / 1e6 = $0.00021 per task; the batch row half of it
    assert rows["openai-gpt-4o-mini"]["usd_per_task"] == pytest.approx(0.00021)
    assert rows["openai-gpt-4o-mini (batch)"]["usd_per_task"] == pytest.approx(0.000105)
    assert rows["openai-gpt-4o-mini (batch)"]["batch"] is True
    # rented, projected: $4.176/h × 2 s
    rented = rows["runpod-h100-serverless"]
    assert rented["basis"] == "projected" and rented["usd_per_task"] == pytest.approx(4.176 * 2 / 3600)
    # cached share of input at the read rate: 0% 210e-6; 50% (500×0.15 + 500×0.075 + 60)e-6 = 172.5e-6;
    # 90% (100×0.15 + 900×0.075 + 60)e-6 = 142.5e-6
    shares = rows["openai-gpt-4o-mini"]["sensitivity_cached"]
    assert [s["cached_share"] for s in shares] == [0.0, 0.5, 0.9]
    assert [s["usd_per_task"] for s in shares] == pytest.approx([210e-6, 172.5e-6, 142.5e-6])
    assert "sensitivity_cached" not in rented
    console = Console(record=True, width=200)
    for view in breakeven_views(result):
        console.print(view)
    text = console.export_text()
    assert "90% cached" in text and "(batch)" in text and "not interactive" in text and "projected" in text


def test_local_only_report_draws_breakeven_against_priced_not_run_clouds() -> None:
    from bench.report.build import ReportOptions, build_report
    from bench.report.charts import Chart
    from bench.report.runs import load_runs
    from tests.helpers import FIXTURES

    runs = load_runs([FIXTURES / "bundles" / n for n in ("smollm2-mini-priced", "gemma3-mini-priced")])
    report = build_report(runs, ReportOptions(now_utc="2026-11-26T12:00:00Z"))
    (chart,) = [c for c in report.charts if c.key == "breakeven"]
    assert isinstance(chart, Chart), chart
    assert "priced, not run" in chart.title
    assert "Cloud lines are priced, not run" in chart.caption and len(chart.caption) < 1000
    assert chart.table is not None  # the volumes, per cloud line, in a table beside the chart
    assert "openai-gpt-4o-mini" in [row[0] for row in chart.table.rows]
    assert f"Prices from genai-prices {database().version} (data as of" in chart.caption
    labels = [line.get_label() for line in chart.figure.axes[0].get_lines()]
    assert sum("(priced, not run)" in str(label) for label in labels) == 6  # MAX_PRICED_LINES

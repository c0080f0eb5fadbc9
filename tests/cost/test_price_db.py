"""Prices from the price database (issue 22, docs/prices.md): agreement with its own calculator, devices
named ``provider:model``, context-length tiers where a price is applied, dated prices, bundles that keep
the prices they were priced with, and never a network update behind the user's back.

The agreement test is the CI-sized half of the sweep: a seeded sample of 200 models across every provider
× 100 random usages each (prompts from 1 token to 1M, cache reads and writes, 1-hour writes, reasoning,
request times over four years, the batch tier), to 1e-9 relative. ``tests/benchmarks/bench_price_db.py``
runs every model × 1,000 usages; its counts are in docs/figures.md.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import socket
import sys
from pathlib import Path
from typing import Any

import genai_prices
import pytest

from bench.cost.pricing import cost_inputs, price_records, priced_on_cloud
from bench.cost.tiers import TokenRates
from bench.devices.price_db import database
from bench.devices.profiles import DeviceProfile, load_device
from bench.devices.providers import ENDPOINTS
from bench.errors import ProfileError, UsageError
from bench.results.bundle import BundleWriter
from bench.results.schema import DeviceFacts
from tests.helpers import run_cli
from tests.helpers.cost import device_manifest, manifest_for, record
from tests.helpers.price_sweep import Agreement, compare, usages

ROOT = Path(__file__).resolve().parents[2]
# the case: one 369,577-token prompt on Claude Sonnet 4.5, 91,375 read from the cache and 7,456
# written to it (5-minute TTL), no output
LONG = {
    "prompt_tokens": 369_577,
    "cached_tokens": 91_375,
    "cache_write_tokens": 7_456,
    "completion_tokens": 0,
}


# ------------------------------------------------------------------------------ agreement with calc_price
def test_agreement_with_the_database_calculator_on_a_seeded_sample() -> None:
    db = database()
    models = db.nameable()
    rng = random.Random(22)
    by_provider: dict[str, list[tuple[str, Any]]] = {}
    for name, m in models:
        by_provider.setdefault(m.provider_id, []).append((name, m))
    # every provider at least once, then a seeded draw up to 200
    sample = [rng.choice(group) for group in by_provider.values()]
    rest = [x for x in models if x not in sample]
    sample += rng.sample(rest, 200 - len(sample))
    result = Agreement()
    for name, _m in sample:
        provider, _, ref = name.partition(":")
        named = db.lookup(provider, ref)  # as --device provider:ref finds it
        compare(named, ref, usages(rng, named, 100), result)
    counts = f"{result.models} models of {len(result.providers)} providers, {result.usages:,} usages"
    assert result.models == 200 and len(result.providers) == len(by_provider) >= 40, counts
    assert result.usages == 20_000 and not result.calculator_refused, counts
    assert result.disagreements == [], f"{len(result.disagreements)} disagreements in {counts}"


def test_the_369577_token_request_on_sonnet_4_5_bills_the_long_context_rate() -> None:
    sonnet = load_device("anthropic:claude-sonnet-4-5")
    (priced,) = price_records([record(**LONG)], manifest_for(sonnet))
    # over 200k input tokens every token pays the long-context rate: 270,746 fresh × $6 + 91,375 read ×
    # $0.60 + 7,456 written × $7.50, per 1M = 1.624476 + 0.054825 + 0.05592 = $1.735221
    assert priced.cost_usd == pytest.approx(1.735221, rel=1e-12)
    billed = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=369_577, cache_read_tokens=91_375, cache_write_tokens=7_456),
        "claude-sonnet-4-5",
        provider_id="anthropic",
        genai_request_timestamp=dt.datetime(2026, 11, 26, tzinfo=dt.timezone.utc),
    )
    assert priced.cost_usd == pytest.approx(float(billed.total_price), rel=1e-9)
    # the flat price infercost billed before tiers (a profile's own prices, which the database overrides
    # nothing of): 270,746 × $3 + 91,375 × $0.30 + 7,456 × $3.75 = $0.8676105, half the bill
    flat = DeviceProfile.model_validate(
        {"name": "flat", "kind": "cloud", "backend": "openai_http", "base_url": "http://127.0.0.1:9/v1",
         "model": "m", "input_usd_per_mtok": 3.0, "output_usd_per_mtok": 15.0, "cache_read_usd_per_mtok": 0.3,
         "cache_write_usd_per_mtok": 3.75, "as_of": "2026-08-05", "source": "t"}
    )  # fmt: skip
    (old,) = price_records([record(**LONG)], manifest_for(flat))
    assert old.cost_usd == pytest.approx(0.8676105, rel=1e-12)
    # the same prompt one token under the tier start pays the base rates
    under = dict(LONG, prompt_tokens=200_000)
    (base,) = price_records([record(**under)], manifest_for(sonnet))
    assert base.cost_usd == pytest.approx((101_169 * 3 + 91_375 * 0.3 + 7_456 * 3.75) / 1e6, rel=1e-12)


# ------------------------------------------------------------------------------ devices from the database
def test_a_device_named_by_provider_and_model() -> None:
    p = load_device("anthropic:claude-sonnet-4-5")
    assert (p.kind, p.backend, p.provider, p.model, p.pricing) == (
        "cloud",
        "anthropic_messages",  # Claude natively: prompt caching works there
        "anthropic",
        "claude-sonnet-4-5",
        "tokens",
    )
    assert p.base_url == "https://api.anthropic.com/v1" and p.api_key_env == "ANTHROPIC_API_KEY"
    assert p.token_prices is not None and p.origin == "anthropic:claude-sonnet-4-5"
    db = database()
    label = p.token_prices.source.label()
    assert (
        label
        == f"genai-prices {db.version} (data as of {db.data_date.isoformat()}): anthropic/claude-sonnet-4-5"
    )
    assert p.as_of == db.data_date and p.source == label
    assert p.input_usd_per_mtok is None  # nothing hand-copied
    mini = load_device("openai:gpt-5-mini")
    assert mini.base_url == "https://api.openai.com/v1" and mini.backend == "openai_http"
    assert mini.token_prices is not None


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("nosuch:model-x", "has no provider 'nosuch'"),
        ("anthropic:claude-nothing-9", "has no model 'claude-nothing-9' at anthropic"),
        ("voyageai:voyage-3", "is not priced by input and output tokens"),
    ],
)
def test_unknown_or_unreachable_database_names(name: str, needle: str) -> None:
    with pytest.raises(ProfileError, match=needle) as exc:
        load_device(name)
    assert "\n" not in str(exc.value)


def test_a_provider_without_an_endpoint_prices_and_runs_only_with_base_url() -> None:
    """aws, azure, ...: the database prices them; the address comes from --base-url when a run sends."""
    from bench.devices.endpoint import apply_endpoint_overrides

    aws = load_device("aws:anthropic.claude-sonnet-4-6")
    assert aws.base_url is None and aws.api_key_env is None and aws.pricing == "tokens"
    with pytest.raises(ProfileError, match="infercost knows no endpoint for provider 'aws'") as exc:
        apply_endpoint_overrides(aws, None, None)
    assert "--base-url URL" in (exc.value.fix or "")
    proxied = apply_endpoint_overrides(aws, "http://127.0.0.1:9/v1", None)
    assert proxied.base_url == "http://127.0.0.1:9/v1" and proxied.token_prices == aws.token_prices


def test_every_endpoint_is_the_host_the_database_knows_the_provider_by() -> None:
    import re

    providers = {p.id: p for p in database().providers}
    for provider, endpoint in ENDPOINTS.items():
        assert provider in providers, provider
        assert re.match(providers[provider].api_pattern, endpoint.base_url), (provider, endpoint.base_url)


def test_shipped_token_profiles_take_the_database_prices_and_keep_what_it_lacks() -> None:
    sonnet = load_device("anthropic-claude-sonnet-4.5")
    assert sonnet.token_prices == load_device("anthropic:claude-sonnet-4-5").token_prices
    assert sonnet.input_usd_per_mtok is None
    # DeepInfra is not in the database: its profile keeps its own dated prices
    deepinfra = load_device("deepinfra-llama-3.1-8b")
    assert deepinfra.token_prices is None and deepinfra.input_usd_per_mtok == 0.03
    # the database has no batch tier for Groq's model: the profile's own discount is kept, explicitly
    groq = load_device("groq-llama-3.1-8b")
    assert groq.token_prices is not None and groq.token_prices.batch_discount == 0.25
    assert not groq.token_prices.batch


def test_a_profile_price_overrides_the_database(tmp_path: Path) -> None:
    text = (ROOT / "devices" / "openai-gpt-4o-mini.toml").read_text()
    own = tmp_path / "mine.toml"
    own.write_text(
        text + 'input_usd_per_mtok = 1.0\noutput_usd_per_mtok = 2.0\nas_of = 2026-12-01\nsource = "mine"\n'
    )
    p = load_device(str(own))
    assert p.token_prices is None and p.input_usd_per_mtok == 1.0
    inp = cost_inputs(manifest_for(p))
    assert inp.prices_from == f"profile {own} (as of 2026-12-01)"
    bad = tmp_path / "bad.toml"
    bad.write_text(text + "cache_read_usd_per_mtok = 0.01\n")
    with pytest.raises(ProfileError, match="cache_read_usd_per_mtok: a price tier needs the token prices"):
        load_device(str(bad))
    planted = tmp_path / "planted.toml"
    planted.write_text(text + "[token_prices]\n")
    with pytest.raises(ProfileError, match="token_prices: set from the price database"):
        load_device(str(planted))


# ------------------------------------------------------------------------------ tiers where prices apply
def test_an_agent_task_pays_each_call_at_its_own_size() -> None:
    sonnet = load_device("anthropic:claude-sonnet-4-5")
    calls = [record(kind="model", step=i, prompt_tokens=150_000, completion_tokens=100) for i in range(2)]
    summary = record(kind="agent", prompt_tokens=300_000, completion_tokens=200)
    priced = price_records([*calls, summary], manifest_for(sonnet))
    # each call is under 200k: (150,000 × $3 + 100 × $15) / 1e6 = $0.4515; never one 300k request at $6
    assert priced[-1].cost_usd == pytest.approx(2 * 0.4515, rel=1e-12)
    inp = cost_inputs(manifest_for(sonnet))
    assert inp.rates is not None and not inp.rates.crossings(calls)


def test_priced_not_run_and_the_cost_notes_show_the_tier_crossed() -> None:
    sonnet = load_device("anthropic:claude-sonnet-4-5")
    recs = [record(task_id="long", **LONG), record(task_id="short", prompt_tokens=1000, completion_tokens=10)]
    (row,) = priced_on_cloud(recs, [("sonnet", sonnet)])
    assert row["cost_total_usd"] == pytest.approx(1.735221 + (1000 * 3 + 10 * 15) / 1e6, rel=1e-12)
    assert row["tier_notes"] == [
        "1 of 2 requests exceed 200,000 input tokens: billed at $6 in / $22.5 out / $0.6 cache read / "
        "$7.5 cache write (1h $12) per 1M tok on every token (the long-context tier)"
    ]
    assert row["prices_from"].startswith("genai-prices ") and row["input_usd_per_mtok"] == 3.0
    from bench.cost.pricing import cost_section

    notes = cost_section(recs, manifest_for(sonnet))["notes"]
    assert any("exceed 200,000 input tokens" in n for n in notes)
    assert any(n.startswith("prices as the bundle recorded: genai-prices") for n in notes)


def test_prices_in_force_at_the_request_time() -> None:
    # gpt-4o-mini's batch prices start on 2026-10-14 in the database: a batch request before it pays list
    mini = load_device("openai:gpt-4o-mini")
    m = manifest_for(mini, settings={"batch": True})
    before, after = (
        record(prompt_tokens=1_000_000, completion_tokens=0, started_utc=day)
        for day in ("2026-10-13T23:59:00Z", "2026-10-14T00:00:00Z")
    )
    early, late = price_records([before, after], m)
    assert early.cost_usd == pytest.approx(0.15) and early.cost_tier is None
    assert late.cost_usd == pytest.approx(0.075) and late.cost_tier == "batch"
    # a dated schedule: the database's own calculator agrees on both sides of the date
    for rec, priced in ((before, early), (after, late)):
        want = genai_prices.calc_price(
            genai_prices.Usage(input_tokens=1_000_000),
            "gpt-4o-mini",
            provider_id="openai",
            genai_request_timestamp=dt.datetime.fromisoformat(rec.started_utc.replace("Z", "+00:00")),
            price_context={"processing": "batch"},
        )
        assert priced.cost_usd == pytest.approx(float(want.total_price), rel=1e-12)


# ------------------------------------------------------------------------------ bundles keep their prices
def test_a_bundle_reproduces_its_dollars_unless_repriced() -> None:
    from bench.cost.options import EnrichOptions

    sonnet = load_device("anthropic:claude-sonnet-4-5")
    # the bundle recorded an older schedule: every price half of today's
    assert sonnet.token_prices is not None
    old = json.loads(sonnet.token_prices.model_dump_json())
    for period in old["periods"]:
        for key, rate in period["prices"].items():
            if isinstance(rate, (int, float)):
                period["prices"][key] = rate / 2
            elif isinstance(rate, dict):
                rate["base"] /= 2
                for t in rate["tiers"]:
                    t["usd_per_mtok"] /= 2
    m = manifest_for(sonnet)
    m.device = DeviceFacts.model_validate({**m.device.recorded(), "token_prices": old})
    (recorded,) = price_records([record(**LONG)], m)
    assert recorded.cost_usd == pytest.approx(1.735221 / 2, rel=1e-12)
    (today,) = price_records([record(**LONG)], m, EnrichOptions(reprice=True))
    assert today.cost_usd == pytest.approx(1.735221, rel=1e-12)
    assert cost_inputs(m, EnrichOptions(reprice=True)).priced_at == "repriced"
    gone = manifest_for(sonnet)
    gone.device.origin = "/nowhere/else.toml"
    with pytest.raises(UsageError, match="--reprice: the profile this run was priced with"):
        cost_inputs(gone, EnrichOptions(reprice=True))


def test_an_old_bundle_with_flat_prices_is_priced_as_recorded() -> None:
    # a manifest written before schedules existed: flat hand-copied prices, no token_prices
    old = DeviceProfile.model_validate(
        {"name": "old sonnet", "kind": "cloud", "backend": "openai_http", "base_url": "http://127.0.0.1:9/v1",
         "model": "claude-sonnet-4-5", "provider": "anthropic", "input_usd_per_mtok": 3.0,
         "output_usd_per_mtok": 15.0, "cache_read_usd_per_mtok": 0.3, "cache_write_usd_per_mtok": 3.75,
         "as_of": "2026-08-05", "source": "hand-copied"}
    )  # fmt: skip
    (priced,) = price_records([record(**LONG)], manifest_for(old))
    assert priced.cost_usd == pytest.approx(0.8676105, rel=1e-12)


# ------------------------------------------------------------------------------ offline, explicit update
def test_pricing_never_updates_the_database_from_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    from genai_prices import data_snapshot, update_prices

    def refuse(*_a: Any, **_k: Any) -> None:
        raise AssertionError("network access while pricing")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    database.cache_clear()
    try:
        sonnet = load_device("anthropic:claude-sonnet-4-5")
        price_records([record(**LONG)], manifest_for(sonnet))
        run_prices = TokenRates(database().lookup("openai", "gpt-5-mini").schedule)
        assert run_prices.price(record()) is not None
    finally:
        database.cache_clear()
    assert update_prices._shared_updater.thread is None and update_prices._shared_updater.ref_count == 0
    assert data_snapshot._custom_snapshot is None
    # and no code of infercost's names the package's background update (docstrings may explain it)
    import ast

    updaters = {"UpdatePrices", "update_prices", "wait_prices_updated_sync", "wait_prices_updated_async"}
    for path in (ROOT / "bench").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = {getattr(node, "id", None), getattr(node, "attr", None)}
            if isinstance(node, ast.ImportFrom):
                names |= {a.name for a in node.names} | {node.module or ""}
            assert not names & updaters, (path, names & updaters)


def test_the_data_date_dates_database_prices_for_staleness() -> None:
    from bench.devices import staleness
    from bench.report.cost_view import profile_warnings

    db = database()
    sonnet = load_device("anthropic-claude-sonnet-4.5")
    assert sonnet.as_of == db.data_date
    assert profile_warnings("sonnet", sonnet) == []  # data dated within 180 days of today
    later = db.data_date + dt.timedelta(days=200)
    assert staleness.price_age(sonnet.as_of, sonnet.source, later).stale  # type: ignore[union-attr]


# ------------------------------------------------------------------------------ the commands
def test_prices_command_lists_models_with_their_tiers() -> None:
    proc = run_cli("prices", "claude-sonnet-4-5", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "anthropic:claude-sonnet-4-5" in proc.stdout and "> 200,000: $6 / $22.5" in proc.stdout
    assert f"genai-prices {database().version}" in proc.stdout
    js = json.loads(run_cli("prices", "gpt-5-mini", "--json", timeout=60).stdout)
    names = {m["name"] for m in js["models"]}
    assert "openai:gpt-5-mini" in names and js["database"]["version"] == database().version
    none = run_cli("prices", "no-such-model-anywhere", timeout=60)
    assert none.returncode == 2 and len(none.stderr.strip().splitlines()) == 1


def test_run_report_and_breakeven_priced_entirely_from_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--device anthropic:claude-sonnet-4-5`` with no profile file, over Anthropic's Messages API at the
    local fake (tests/servers/fake_anthropic.py, which counts tokens and caches prompts as the API does):
    a single request over the 200k tier and an agent task that writes and reads the cache."""
    from bench.cost.enrich import enrich
    from bench.results.bundle import read_bundle
    from tests.servers.fake_anthropic import messages_server

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-prices-test-0123456789")
    words = "lorem ipsum dolor sit amet " * 37_100  # ≈ 1M characters: ≈ 250k tokens at the fake's 4 per token
    suite = tmp_path / "long.toml"
    suite.write_text(
        'name = "long"\nversion = "1"\n'
        '[[tasks]]\nid = "long"\ncategory = "c"\nmax_tokens = 8\n'
        f'messages = [{{ role = "user", content = "{words}Say hello." }}]\n'
        'check = { type = "contains", values = ["lorem"] }\n'
        '[[tasks]]\nid = "calc"\ncategory = "c"\n'
        'messages = [{ role = "user", content = "What is 6*7? Use the tools, then answer with the number." }]\n'
        'check = { type = "number", value = 42 }\nagent = { tools = ["calculator", "list_files"], max_steps = 4 }\n'
    )
    server = messages_server(min_cacheable_tokens=256)
    try:
        proc = run_cli(
            "run", "--device", "anthropic:claude-sonnet-4-5", "--base-url", f"http://127.0.0.1:{server.port}/v1",
            "--suite", str(suite), "-r", "1", "-w", "0", "--out", str(tmp_path), "--power", "none", "--json",
        )  # fmt: skip
        usages = list(server.app.usages)
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    bundle = read_bundle(summary["run_dir"])
    assert bundle.manifest.backend.name == "anthropic_messages"
    device = bundle.manifest.device
    assert device.origin == "anthropic:claude-sonnet-4-5"
    assert device.token_prices is not None and device.token_prices.source.version == database().version
    records = enrich(bundle)
    (long,) = [r for r in records if r.task_id == "long"]
    assert long.prompt_tokens is not None and long.prompt_tokens > 200_000  # the fake's own count
    # over 200k input tokens every token pays the long-context rate: $6 in, $22.5 out
    assert long.cost_usd == pytest.approx(
        (long.prompt_tokens * 6 + long.completion_tokens * 22.5) / 1e6, rel=1e-9
    )
    agent = [
        u
        for u in usages
        if u["input_tokens"] < 200_000 and u["cache_read_input_tokens"] + u["input_tokens"] < 200_000
    ]
    assert any(u["cache_read_input_tokens"] for u in agent) and any(
        u["cache_creation_input_tokens"] for u in agent
    )
    # the agent task: the sum of its calls, each at the base rates, from the fake's own usage numbers
    hand = sum(
        (u["input_tokens"] * 3 + u["cache_creation"]["ephemeral_5m_input_tokens"] * 3.75
         + u["cache_creation"]["ephemeral_1h_input_tokens"] * 6 + u["cache_read_input_tokens"] * 0.3
         + u["output_tokens"] * 15) / 1e6
        for u in agent
    )  # fmt: skip
    (task,) = [r for r in records if r.task_id == "calc" and r.kind == "agent"]
    assert task.cost_usd == pytest.approx(hand, rel=1e-9)
    notes = " ".join(summary["cost"]["notes"])
    assert "exceed 200,000 input tokens" in notes and "genai-prices" in notes
    md = tmp_path / "report.md"
    report = run_cli("report", summary["run_dir"], "-o", str(md), timeout=120)
    assert report.returncode == 0, report.stderr
    text = md.read_text()  # the provenance names the database, its version and data date
    assert f"token prices from genai-prices {database().version} (data as of" in text
    again = tmp_path / "repriced.md"
    repriced = run_cli("report", summary["run_dir"], "--reprice", "-o", str(again), timeout=120)
    assert repriced.returncode == 0, repriced.stderr
    assert "(--reprice), not the ones recorded" in again.read_text()
    # break-even of a local run against the same database-priced API
    writer = BundleWriter(tmp_path / "local-run", device_manifest("jetson-orin-nano-super"))
    for i in range(3):
        writer.append(record(task_id=f"t{i}", seconds=2.0, energy_j=30.0, **LONG))
    writer.close()
    be = run_cli("breakeven", str(tmp_path / "local-run"), "--cloud", "anthropic:claude-sonnet-4-5", "--json")
    assert be.returncode == 0, be.stderr
    rows = {c["profile"]: c for c in json.loads(be.stdout)["clouds"]}
    assert rows["anthropic:claude-sonnet-4-5"]["usd_per_task"] == pytest.approx(1.735221, rel=1e-9)
    assert "exceed 200,000 input tokens" in rows["anthropic:claude-sonnet-4-5"]["tier_notes"][0]
    assert "anthropic:claude-sonnet-4-5 (batch)" in rows  # the database's batch tier, a row of its own


def test_cli_start_up_does_not_load_the_database() -> None:
    import subprocess

    code = "import sys, bench.cli.app as a; a.build_parser(); print('genai_prices' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"

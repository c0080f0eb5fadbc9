"""Device profiles: every shipped profile validates; bad ones fail with one line naming file and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.devices.price_db import database
from bench.devices.profiles import POWER_SENSORS, auto_profile, check_power_sensor, list_devices, load_device
from bench.errors import ProfileError
from tests.helpers import run_cli

SHIPPED = {p.stem: p for p in list_devices()}
LOCAL = [
    "jetson-orin-nano-super",
    "mac-mini-m4",
    "mac-mini-m4-pro",
    "macbook-pro-m4-max",
    "framework-desktop-395-128gb",
    "nvidia-rtx4090-desktop",
]


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_shipped_profile_loads_with_dated_prices(name: str) -> None:
    p = load_device(name)
    if name == "local-server":  # this machine's own server, like `auto`: its price comes from --hardware-usd
        assert p.kind == "local" and p.price_usd is None
        return
    assert p.pricing is not None, "every shipped profile carries a price"
    assert p.as_of is not None and p.source, "every price has as_of and source"
    if p.kind == "local":
        assert p.kwh_usd is not None and (p.kwh_as_of or p.as_of) and (p.kwh_source or p.source)
        assert p.memory_bandwidth_gbs and p.idle_w is not None and p.max_w
        assert p.power_sensor in POWER_SENSORS
        assert p.llama_cpp_build is not None and "CMAKE_ARGS=" in p.llama_cpp_build.pip_command()
    else:
        assert p.over_http and p.base_url and p.model
        # Claude natively (prompt caching, tool use, thinking); everything else OpenAI-compatible
        assert p.backend == ("anthropic_messages" if p.provider == "anthropic" else "openai_http")
        # a rented GPU's server may sit behind an SSH tunnel on loopback, with no key
        assert p.api_key_env or p.kind == "rented"
    if p.kind == "rented":
        assert p.usd_per_hour and p.billing_increment_s and p.gpu and p.provider


def test_shipped_set_covers_the_mission() -> None:
    for name in LOCAL:
        assert load_device(name).kind == "local"
    clouds = [load_device(n) for n in SHIPPED if load_device(n).kind == "cloud"]
    tokens = [c for c in clouds if c.pricing == "tokens"]
    assert len(tokens) >= 6 and len({c.provider for c in tokens}) >= 4
    assert any(c.pricing == "subscription" for c in clouds)
    assert load_device("nvidia-rtx4090-desktop").power_sensor == "nvml"
    assert load_device("framework-desktop-395-128gb").llama_cpp_build.cmake_args == "-DGGML_VULKAN=on"  # type: ignore[union-attr]
    assert "GGML_METAL" in load_device("mac-mini-m4").llama_cpp_build.cmake_args  # type: ignore[union-attr]


def test_jetson_power_modes_set_the_watts() -> None:
    jetson = load_device("jetson-orin-nano-super")
    assert set(jetson.power_modes) == {"7W", "15W", "25W", "MAXN_SUPER"}
    assert jetson.power_mode == "25W" and jetson.max_w == 25.0
    seven = load_device("jetson-orin-nano-super", power_mode="7W")
    assert seven.max_w == 7.0 and seven.power_mode == "7W" and seven.power_modes["7W"].nvpmodel_id == 3
    with pytest.raises(ProfileError, match="did you mean '15W'"):
        load_device("jetson-orin-nano-super", power_mode="15w")
    with pytest.raises(ProfileError, match="has no power_modes"):
        load_device("mac-mini-m4", power_mode="7W")


def test_auto_has_no_price_but_dated_electricity() -> None:
    p = auto_profile()
    assert p.kind == "local" and p.price_usd is None and p.memory_bandwidth_gbs is None
    assert p.kwh_usd is not None and p.kwh_as_of is not None and p.kwh_source


def test_names_with_dots_resolve() -> None:
    assert load_device("openai-gpt-4.1-mini").model == "gpt-4.1-mini"


def test_power_sensor_names() -> None:
    for name in POWER_SENSORS:
        assert check_power_sensor(name) is None
    assert check_power_sensor("csv:trace.csv") is None
    assert "csv: needs a file" in (check_power_sensor("csv:") or "")
    assert "did you mean 'nvml'" in (check_power_sensor("nvmll") or "")


BASE_LOCAL = 'name = "x"\nkind = "local"\nlifetime_years = 3\nutilization = 0.25\n'
BASE_CLOUD = 'name = "c"\nkind = "cloud"\nbackend = "openai_http"\nbase_url = "http://x/v1"\nmodel = "m"\n'
DATED = 'as_of = 2026-01-01\nsource = "list"\n'

BAD = {
    "wrong type": (BASE_LOCAL + 'price_usd = "cheap"\n' + DATED, "price_usd", "valid number"),
    # a price must be a TOML number: `true` and "1.0" were read as $1
    "price true": (BASE_LOCAL + "price_usd = true\n" + DATED, "price_usd", "valid number"),
    "price string": (BASE_LOCAL + 'price_usd = "1.0"\n' + DATED, "price_usd", "valid number"),
    "token price true": (
        BASE_CLOUD + "input_usd_per_mtok = true\noutput_usd_per_mtok = 2\n" + DATED,
        "input_usd_per_mtok",
        "valid number",
    ),
    "token price string": (
        BASE_CLOUD + 'input_usd_per_mtok = 1\noutput_usd_per_mtok = "2.0"\n' + DATED,
        "output_usd_per_mtok",
        "valid number",
    ),
    "kwh string": (BASE_LOCAL + 'kwh_usd = "0.2"\nkwh_as_of = 2026-01-01\n', "kwh_usd", "valid number"),
    "negative price": (BASE_LOCAL + "price_usd = -1\n" + DATED, "price_usd", "greater than or equal to 0"),
    "missing as_of": (BASE_LOCAL + 'price_usd = 249\nsource = "list"\n', "as_of", "required with a price"),
    "missing source": (
        BASE_LOCAL + "price_usd = 249\nas_of = 2026-01-01\n",
        "source",
        "required with a price",
    ),
    "unknown sensor": (
        BASE_LOCAL + 'power_sensor = "jetson-ina"\n',
        "power_sensor",
        "did you mean 'jetson-ina3221'",
    ),
    "unknown field": (BASE_LOCAL + "price_uds = 249\n", "price_uds", "did you mean 'price_usd'"),
    "cloud without prices": (BASE_CLOUD + DATED, "input_usd_per_mtok", "needs prices"),
    "cloud half priced": (BASE_CLOUD + "input_usd_per_mtok = 1\n" + DATED, "output_usd_per_mtok", "required"),
    "cloud undated": (BASE_CLOUD + "input_usd_per_mtok = 1\noutput_usd_per_mtok = 2\n", "as_of", "required"),
    "token price on local": (BASE_LOCAL + "input_usd_per_mtok = 1\n", "input_usd_per_mtok", 'kind = "cloud"'),
    "hardware price on cloud": (
        BASE_CLOUD + "price_usd = 5\ninput_usd_per_mtok = 1\noutput_usd_per_mtok = 2\n" + DATED,
        "price_usd",
        "priced by tokens",
    ),
    "price without lifetime": ('name = "x"\nprice_usd = 249\n' + DATED, "lifetime_years", "amortize"),
    "idle above max": (BASE_LOCAL + "idle_w = 30\nmax_w = 25\n", "idle_w", "exceeds max_w"),
    "unknown power mode": (
        BASE_LOCAL + 'power_mode = "25w"\n[power_modes."25W"]\nmax_w = 25\n',
        "power_mode",
        "did you mean '25W'",
    ),
    "mode without watts": (
        BASE_LOCAL + '[power_modes."7W"]\nnvpmodel_id = 3\n',
        "power_modes.7W.max_w",
        "missing",
    ),
    "kwh undated": (BASE_LOCAL + "kwh_usd = 0.2\n", "kwh_as_of", "required with kwh_usd"),
    "subscription over plan": (
        BASE_CLOUD
        + "subscription_usd_per_month = 10\ntasks_per_month = 20000\nmax_tasks_per_month = 9250\n"
        + DATED,
        "tasks_per_month",
        "exceeds",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_profiles_one_line_naming_file_and_field(tmp_path: Path, case: str) -> None:
    text, field, words = BAD[case]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ProfileError) as info:
        load_device(str(path))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path)), message
    assert field in message and words in message, message


def test_bad_profile_through_the_cli_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "neg.toml"
    path.write_text(BAD["negative price"][0])
    for args in (("devices", "show", str(path)), ("run", "--device", str(path), "--out", str(tmp_path))):
        proc = run_cli(*args, timeout=60)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and str(path) in lines[0] and "price_usd" in lines[0]
        assert "Traceback" not in proc.stderr


def test_devices_list_and_show() -> None:
    proc = run_cli("devices", timeout=60)
    assert proc.returncode == 0, proc.stderr
    data_date = database().data_date.isoformat()  # token APIs are dated by the price database's data
    for needle in ("auto", "jetson-orin-nano-super", "$249", "openai-gpt-4o-mini", "$10/month", data_date):
        assert needle in proc.stdout
    assert "unknown (--hardware-usd)" in proc.stdout
    show = run_cli("devices", "show", "jetson-orin-nano-super", "--power-mode", "MAXN_SUPER", timeout=60)
    assert show.returncode == 0, show.stderr
    assert 'power_mode = "MAXN_SUPER"' in show.stdout and "(selected)" in show.stdout
    assert 'CMAKE_ARGS="-DGGML_CUDA=on' in show.stdout and "hardware amortization" in show.stdout
    auto = run_cli("devices", "show", "auto", timeout=60)
    assert "cost excludes hardware until --hardware-usd" in auto.stdout
    assert "--memory-bandwidth-gbs" in auto.stdout
    js = run_cli("devices", "show", "openai-gpt-5-mini", "--json", timeout=60)
    data = json.loads(js.stdout)
    # the price database's schedule, with its source
    assert data["token_prices"]["periods"][0]["prices"]["output_usd_per_mtok"] == 2.0
    assert data["as_of"] == data_date and data["token_prices"]["source"]["kind"] == "genai-prices"
    named = run_cli("devices", "show", "openai:gpt-5-mini", timeout=60)
    assert named.returncode == 0 and "genai-prices" in named.stdout
    unknown = run_cli("devices", "show", "jetson-nano", timeout=60)
    assert unknown.returncode == 2 and "unknown device 'jetson-nano'" in unknown.stderr


def test_power_mode_is_a_key_property() -> None:
    from bench.results.comparability import differences
    from tests.helpers.cost import manifest_for

    a = manifest_for(load_device("jetson-orin-nano-super", power_mode="7W"))
    b = manifest_for(load_device("jetson-orin-nano-super", power_mode="25W"))
    assert differences(a, b) == ["power_mode"]


def test_a_profile_names_only_sensors_the_registry_opens() -> None:
    """``devices`` may not import ``power`` (layers), so the names a profile may give its sensor are a list
    of their own: it must be the registry's (less ``csv:FILE``, which only the command line takes)."""
    from bench.devices.profiles import POWER_SENSORS
    from bench.power.registry import SENSOR_NAMES

    assert sorted(POWER_SENSORS) == sorted(n for n in SENSOR_NAMES if n != "csv:FILE")

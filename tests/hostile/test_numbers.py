"""Numbers that cannot be real are refused: token counts an endpoint plants (negative, absurd, not whole)
make that request an error record (kept, flagged, not priced); prices must be TOML numbers; --rate,
--concurrency, sweep grids and thread counts have bounds checked before anything runs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from bench.backends.http.wire import ChunkError, StreamState
from bench.backends.http.wire_format import MAX_TOKEN_COUNT
from bench.devices.profiles import load_device
from bench.errors import ProfileError
from bench.results.bundle import read_bundle
from tests.helpers import run_cli
from tests.helpers.http import fake_server
from tests.servers.fake_openai import ServerThread

__all__ = ["fake_server"]  # the session fixture, used by name below

CLOUD = (
    'name = "hostile cloud"\nkind = "cloud"\nbackend = "openai_http"\nbase_url = "{url}"\nmodel = "m"\n'
    'input_usd_per_mtok = 1.0\noutput_usd_per_mtok = 2.0\nas_of = 2026-11-01\nsource = "test"\n'
    "[http]\nmax_retries = 0\n"
)


@pytest.mark.parametrize(
    "usage,words",
    [
        ({"prompt_tokens": 5, "completion_tokens": -7}, "negative"),
        ({"prompt_tokens": MAX_TOKEN_COUNT + 1, "completion_tokens": 1}, "more tokens than any request"),
        ({"prompt_tokens": 5, "completion_tokens": 1e18}, "not a whole number"),
        ({"prompt_tokens": 5, "completion_tokens": True}, "not a whole number"),
        ({"prompt_tokens": 5, "completion_tokens": float("nan")}, "not a whole number"),
        ({"prompt_tokens": 5, "prompt_tokens_details": {"cached_tokens": -3}}, "negative"),
        ({"input_tokens": 5, "output_tokens": 2.5}, "not a whole number"),
    ],
)
def test_impossible_usage_is_a_chunk_error(usage: dict[str, object], words: str) -> None:
    with pytest.raises(ChunkError, match=words):
        StreamState().feed(json.dumps({"choices": [], "usage": usage}), 1)


def test_real_usage_shapes_still_pass() -> None:
    s = StreamState()
    s.feed(json.dumps({"choices": [], "usage": {"prompt_tokens": 12.0, "completion_tokens": 3, "cost": 0.25,
                                                "promptTokensDetails": [{"tokenCount": 4}]}}), 1)  # fmt: skip
    assert s.usage is not None


@pytest.mark.parametrize(
    "scenario", ["usage-negative", "usage-huge", "usage-float", "usage-bool", "usage-nested"]
)
def test_planted_counts_make_an_error_record_that_is_not_priced(
    fake_server: ServerThread, tmp_path: Path, scenario: str
) -> None:
    device = tmp_path / "cloud.toml"
    device.write_text(CLOUD.format(url=fake_server.base_url))
    suite = tmp_path / "s.toml"
    suite.write_text(f'[[tasks]]\nid = "t"\nprompt = "scenario={scenario} hi"\ncheck = {{ type = "none" }}\n')
    out = tmp_path / "runs"
    proc = run_cli("run", "--device", str(device), "--suite", str(suite), "-r", "1", "-w", "0", "--out", str(out),
                   "--power", "none", timeout=120)  # fmt: skip
    assert proc.returncode == 3, proc.stderr  # the run finished, a request errored
    (record,) = read_bundle(next(out.iterdir())).records
    assert record.status == "error" and record.error and "usage" in record.error, record.error
    assert (record.completion_tokens or 0) >= 0 and (record.prompt_tokens or 0) < MAX_TOKEN_COUNT
    report = run_cli("report", str(next(out.iterdir())), "--json")
    assert report.returncode == 0, report.stderr
    for row in json.loads(report.stdout)["rows"]:
        cost = row.get("cost_per_task_usd")
        assert cost is None or cost >= 0, row


@pytest.mark.parametrize(
    "line", ["price_usd = true", 'price_usd = "1.0"', 'kwh_usd = "0.2"', "kwh_usd = false"]
)
def test_prices_must_be_numbers(tmp_path: Path, line: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(f'name = "x"\nlifetime_years = 3\nutilization = 0.25\n{line}\nas_of = 2026-01-01\n'
                    'source = "s"\nkwh_as_of = 2026-01-01\n')  # fmt: skip
    with pytest.raises(ProfileError, match="valid number"):
        load_device(str(path))


@pytest.mark.parametrize(
    "args,words",
    [
        (["--rate", "1e-6"], "--rate 1e-06: give 0.01 to"),
        (["--rate", "1e9"], "--rate 1e+09: give 0.01 to"),
        (["--concurrency", "100000"], "--concurrency 100000: give 1 to"),
    ],
)
def test_run_load_bounds_are_checked_before_anything_runs(
    fake_server: ServerThread, tmp_path: Path, args: list[str], words: str
) -> None:
    device = tmp_path / "cloud.toml"
    device.write_text(CLOUD.format(url=fake_server.base_url))
    before = len(fake_server.app.requests)
    proc = run_cli("run", "--device", str(device), "--out", str(tmp_path / "runs"), *args, timeout=120)
    assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert len(fake_server.app.requests) == before and not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "args,words",
    [
        (
            [
                "--threads",
                ",".join(str(i) for i in range(1, 201)),
                "--n-ctx",
                ",".join(str(64 * i) for i in range(1, 101)),
            ],
            "20,000 cells",
        ),
        (["--threads", "1,100000"], "100000 is above 512"),
        (["--rate", "0.000001,1", "--device", "openai-gpt-4o-mini"], "not 0.01 to"),
        (["--n-ctx", "2048,999999999"], "above 1,048,576"),
        (["--concurrency", "1,20000", "--device", "openai-gpt-4o-mini"], "above 10,000"),
    ],
)
def test_sweep_grids_are_bounded_before_the_first_cell(tmp_path: Path, args: list[str], words: str) -> None:
    t0 = time.monotonic()
    proc = run_cli("sweep", *args, "--out", str(tmp_path / "sw"), timeout=120)
    assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "sw").exists() and time.monotonic() - t0 < 60

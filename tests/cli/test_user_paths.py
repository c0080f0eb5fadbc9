"""User paths an acceptance review found wrong, each run through the CLI as a user would.

Text from users, bundles and price lists prints verbatim (no rich markup or emoji codes read into it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cost.enrich import enrich
from bench.results.bundle import read_bundle
from tests.helpers import ROOT, run_cli
from tests.helpers.bundles import LOCAL_DEVICE, request_bundle
from tests.servers.fake_openai import ServerThread


def test_an_emoji_code_in_an_error_prints_as_typed() -> None:
    """``nosuch:x`` is a device name, not ``nosuch`` and a red cross (rich's ``:x:`` emoji code)."""
    proc = run_cli("run", "--device", "nosuch:x")
    assert proc.returncode == 2, proc.stderr
    assert "nosuch:x" in proc.stderr and "❌" not in proc.stderr


def test_markup_in_a_model_and_device_name_prints_as_is(tmp_path: Path) -> None:
    """A model named ``[bold]tiny:x:`` is shown with its brackets in the report's table, not as bold."""
    bundle = request_bundle(tmp_path, "r1", device={**LOCAL_DEVICE, "name": "[red]box:x:[/]"})
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["model"]["catalog_name"] = "[bold]tiny:x:"
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    proc = run_cli("report", str(bundle))
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("[bold]tiny:x:")]
    assert rows, proc.stdout
    assert "[red]box:x:[/]" in proc.stdout and "❌" not in proc.stdout


def test_the_report_says_why_a_fresh_local_run_has_no_cost(tmp_path: Path) -> None:
    """An electricity price but no power sensor, no max_w and no hardware price: the report gave "no cost
    was derived ... by this version of infercost"; it says what the after-run summary says."""
    from bench.report import cost_view
    from bench.report.summary import summarize

    fresh = {"name": "Fresh box", "kind": "local", "backend": "llama_cpp", "kwh_usd": 0.16,
             "as_of": "2026-11-26", "source": "test values"}  # fmt: skip
    path = request_bundle(tmp_path, "fresh", device=fresh, energy=False)
    proc = run_cli("report", str(path))
    assert proc.returncode == 0, proc.stderr
    why = "no energy was measured (no power sensor; the profile states no max_w) and the device's price is unknown"
    assert f"$/1M out: {why}." in " ".join(proc.stdout.split()), proc.stdout
    assert "this version of infercost" not in proc.stdout
    bundle = read_bundle(path)
    header = cost_view.cost_header(summarize(enrich(bundle), bundle.manifest, run_dir=str(path)))
    assert header == f"cost on this machine: not priced: {why}"
    # a price without the lifetime to spread it over is not "unknown"
    proc = run_cli("report", str(path), "--hardware-usd", "900")
    assert "lifetime_years and utilization to spread the device's price over" in " ".join(proc.stdout.split())


@pytest.mark.parametrize(("word", "columns"), [("sonnet", "80"), ("sonnet", "160"), (None, "160")])
def test_every_price_database_name_prints_whole_on_one_line(word: str | None, columns: str) -> None:
    """The names are what ``--device NAME`` takes: ``aws:global.anthropic.claude-sonnet-4-20250514-v1:0``
    folded over two lines at 44 characters, and squeezing the table to 80 columns must not cut them.
    (``None``: the whole database, whose longest name is over 70 characters.)"""
    argv = ["prices", *([word] if word else [])]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": columns}
    names = [m["name"] for m in json.loads(run_cli(*argv, "--json", timeout=60).stdout)["models"]]
    assert max(map(len, names)) > 44, names
    proc = subprocess.run(
        [sys.executable, "-m", "bench", *argv], env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= int(columns)
    words = {word for line in lines for word in line.split()}
    assert [n for n in names if n not in words] == []


@pytest.mark.parametrize(
    ("argv", "command", "reason"),
    [
        (["run", "--sample", "0"], "infercost run", "argument --sample: expected 1 or more, got 0"),
        (
            ["run", "--cache-ttl", "7m"],
            "infercost run",
            "argument --cache-ttl: invalid choice: '7m' (choose from ",
        ),
        (["run", "-r", "0"], "infercost run", "argument --repetitions/-r: expected 1 or more, got 0"),
        (
            ["db", "nosuch"],
            "infercost db",
            "argument sync|query|migrate|status: invalid choice: 'nosuch' (choose from ",
        ),
        (["devices", "show"], "infercost devices show", "the following arguments are required: name"),
        (["nosuch"], "infercost", "argument COMMAND: invalid choice: 'nosuch' (choose from "),
    ],
)
def test_a_rejected_option_is_one_line_pointing_at_help(argv: list[str], command: str, reason: str) -> None:
    """argparse printed the whole usage block (16 lines for ``run``) above its reason. (The list of
    choices is argparse's own wording, which Python versions quote differently.)"""
    proc = run_cli(*argv, timeout=60)
    assert proc.returncode == 2
    assert proc.stdout == "" and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith(f"{command}: error: {reason}"), proc.stderr
    assert proc.stderr.endswith(f" (see {command} --help)\n"), proc.stderr


# a price database name whose provider has no entry in infercost's endpoint table (bench/devices/providers.py)
AWS = "aws:anthropic.claude-sonnet-4-5-20250929"
MINI = ROOT / "tests" / "fixtures" / "suites" / "mini.toml"


def test_a_name_without_a_known_endpoint_still_prices(tmp_path: Path) -> None:
    """661 of the names ``infercost prices`` lists were refused even by the commands that only price."""
    local = request_bundle(tmp_path, "local")
    proc = run_cli("breakeven", str(local), "--cloud", AWS, "--json", timeout=120)
    assert proc.returncode == 0, proc.stderr
    (cloud,) = json.loads(proc.stdout)["clouds"]
    assert cloud["profile"] == AWS and cloud["pricing"] == "tokens" and cloud["usd_per_task"] > 0
    shown = run_cli("devices", "show", AWS, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert 'provider = "aws"' in shown.stdout and "base_url" not in shown.stdout


def test_running_it_takes_base_url(fake_server: ServerThread, tmp_path: Path) -> None:
    refused = run_cli("run", "--device", AWS, "--suite", str(MINI), "--out", str(tmp_path), timeout=120)
    assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1, refused.stderr
    assert "no endpoint for provider 'aws'" in refused.stderr and "--base-url URL" in refused.stderr
    assert not list(tmp_path.iterdir())  # refused before a bundle was started
    proc = run_cli(
        "run", "--device", AWS, "--base-url", fake_server.base_url, "--suite", str(MINI), "-r", "1", "-w", "0",
        "--out", str(tmp_path), timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = tmp_path.iterdir()
    bundle = read_bundle(run_dir)
    assert (
        bundle.manifest.device.base_url == fake_server.base_url and bundle.manifest.device.provider == "aws"
    )
    records = [r for r in enrich(bundle) if not r.warmup]
    assert records and all(r.status == "ok" and r.cost_api_usd and r.cost_api_usd > 0 for r in records)
    # today's prices for it are looked up again by its name (the database entry, still no endpoint)
    repriced = run_cli("report", str(run_dir), "--reprice", timeout=120)
    assert repriced.returncode == 0 and "$/task" in repriced.stdout, repriced.stderr


def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path: Path) -> None:
    """``infercost breakeven RUN --json | head -c 10`` printed a BrokenPipeError traceback and called it
    a bug (exit 70); it ends quietly with 141, as a shell reports a writer whose reader left."""
    local = request_bundle(tmp_path, "local")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with (tmp_path / "stderr").open("w+") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench", "breakeven", str(local), "--json"],
            env=env, stdout=subprocess.PIPE, stderr=stderr,
        )  # fmt: skip
        assert proc.stdout is not None
        proc.stdout.close()  # the reader is gone before the first line
        assert proc.wait(timeout=120) == 141
        stderr.seek(0)
        assert stderr.read() == ""

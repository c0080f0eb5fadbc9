"""The price database on Python 3.10 (docs/prices.md#python-310): genai-prices 0.2 needs Python 3.11, so
pyproject gives 3.10 (JetPack 6's) the last 0.1 release, and infercost's reading of the database must work
on that release's API and data as well as on 0.2's.

CI has no Python 3.10, so these run the reading code on this interpreter with the 0.1 package put ahead of
the installed 0.2 in a child process's ``PYTHONPATH`` (``make install`` installs it, without dependencies,
into ``.venv/genai-prices-py310``): the API and the data are 0.1's. That it installs and runs on a real
3.10 was checked by hand (docs/prices.md); 0.1's own ``Requires-Python`` is checked here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import Distribution, distributions, metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from bench.devices.price_db import database
from bench.userfiles import tomllib
from tests.helpers import ROOT
from tests.helpers.price_db_probe import shipped_profiles

if sys.version_info < (3, 11):
    pytest.skip(
        "on Python 3.10 the installed release is 0.1: test_price_db.py reads it", allow_module_level=True
    )

OVERLAY = Path(sys.prefix) / "genai-prices-py310"
PY310 = {"python_version": "3.10", "python_full_version": "3.10.12"}  # JetPack 6 (Ubuntu 22.04)


@pytest.fixture(scope="module")
def overlay() -> Distribution:
    found = [d for d in distributions(path=[str(OVERLAY)]) if d.metadata["Name"] == "genai-prices"]
    if not found:
        message = f"{OVERLAY} holds no genai-prices: `make install` puts the Python 3.10 release there"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found[0]


def _child(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(OVERLAY)]), "COLUMNS": "160"}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def probed(overlay: Distribution) -> dict[str, Any]:
    proc = _child("-m", "tests.helpers.price_db_probe")
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def test_the_overlay_is_the_release_pyproject_gives_python_3_10(overlay: Distribution) -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    reqs = [r for r in map(Requirement, deps) if r.name == "genai-prices"]
    on_310 = [r for r in reqs if r.marker is None or r.marker.evaluate(PY310)]
    assert len(on_310) == 1, f"Python 3.10 must get exactly one genai-prices requirement: {reqs}"
    assert on_310[0].specifier.contains(overlay.version), (overlay.version, str(on_310[0]))
    # the release installs on 3.10 by its own word, and the installed 0.2 would not (why the split exists)
    assert SpecifierSet(overlay.metadata["Requires-Python"]).contains("3.10.12")
    assert not SpecifierSet(metadata("genai-prices")["Requires-Python"]).contains("3.10.12")


def test_the_child_reads_the_3_10_release_and_dates_it(overlay: Distribution, probed: dict[str, Any]) -> None:
    assert Path(probed["module"]).is_relative_to(OVERLAY), probed["module"]
    assert probed["version"] == overlay.version != database().version
    assert probed["label"] == f"genai-prices {overlay.version} (data as of {probed['data_date']})"
    assert probed["providers"] >= 40 and probed["token_apis"] >= 1_500, probed


def test_every_shipped_profile_is_priced_by_the_same_model_on_3_10(probed: dict[str, Any]) -> None:
    here = shipped_profiles()  # the installed 0.2
    assert probed["shipped"] == here
    assert sum(ref is not None for ref in here.values()) >= 9


def test_bills_agree_with_the_3_10_release_calculator(probed: dict[str, Any]) -> None:
    agreement = probed["agreement"]
    assert agreement["providers"] == probed["nameable_providers"] >= 40, agreement
    assert agreement["usages"] == agreement["models"] * 30 and agreement["calculator_refused"] == [], (
        agreement
    )
    assert agreement["disagreements"] == [], agreement


def test_the_prices_command_prints_the_3_10_release_and_its_date(overlay: Distribution) -> None:
    proc = _child("-m", "bench", "prices", "claude-sonnet-4-5")
    assert proc.returncode == 0, proc.stderr
    assert f"genai-prices {overlay.version} (data as of 20" in proc.stdout
    assert "anthropic:claude-sonnet-4-5" in proc.stdout and "$22.5" in proc.stdout  # its long-context tier


def test_without_the_package_only_what_needs_a_database_price_fails_in_one_line() -> None:
    """An install that lacks genai-prices (``pip install --no-deps``, a vendored tree): a profile with its
    own prices still loads; a device the database must price stops with one line naming what to install."""
    blocked = "import sys; sys.modules['genai_prices'] = None; from bench.cli import main; sys.exit(main(sys.argv[1:]))"
    own = _child("-c", blocked, "devices", "show", "deepinfra-llama-3.1-8b")
    assert own.returncode == 0 and "deepinfra" in own.stdout, own.stderr
    proc = _child("-c", blocked, "run", "--device", "anthropic:claude-haiku-4-5", "--suite", "default")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "genai-prices package, which is not installed" in proc.stderr
    assert (
        "'genai-prices>=0.2.5,<0.3'" in proc.stderr
        and "'genai-prices>=0.1.13,<0.2' on Python 3.10" in proc.stderr
    )

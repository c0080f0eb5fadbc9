"""User paths an acceptance review found wrong, each run through the CLI as a user would.

Text from users, bundles and price lists prints verbatim (no rich markup or emoji codes read into it).
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import run_cli
from tests.helpers.bundles import LOCAL_DEVICE, request_bundle


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

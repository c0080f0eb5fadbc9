"""A command line that behaves the same across commands (issue 20, part 6): ``--json`` is one JSON document
on stdout, with a format version, for every command; a run written with ``run --out DIR`` is named by its
id in every command that takes runs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.helpers import FIXTURES, ROOT, run_cli
from tests.helpers.bundles import sweep_of

BUNDLES = FIXTURES / "bundles"
MINI = str(ROOT / "tests" / "fixtures" / "suites" / "mini.toml")
FORMAT = re.compile(r"^infercost-[a-z-]+/\d+$")


def _doc(proc) -> dict:  # type: ignore[no-untyped-def]
    assert proc.returncode in (0, 1), proc.stderr
    doc = json.loads(proc.stdout)  # stdout is the document alone
    assert isinstance(doc, dict) and FORMAT.match(doc["format"]), doc.get("format")
    return doc


def test_every_json_output_carries_a_format_version(tmp_path: Path) -> None:
    priced = str(BUNDLES / "smollm2-mini-priced")
    rules = tmp_path / "g.toml"
    rules.write_text('[absolute]\npass_rate = ">= 50%"\n')
    db = f"duckdb:{tmp_path / 'x.duckdb'}"
    runs = tmp_path / "runs"
    shutil.copytree(BUNDLES / "smollm2-mini-priced", runs / "priced")
    assert run_cli("db", "sync", "--runs-root", str(runs), "--store", db).returncode == 0
    docs = {
        "report": _doc(run_cli("report", priced, "--json")),
        "sweep": _doc(run_cli("report", str(sweep_of(tmp_path / "sweep")), "--json")),
        "compare": _doc(run_cli("compare", priced, priced, "--json")),
        "gate": _doc(run_cli("gate", priced, "--rules", str(rules), "--json")),
        "choose": _doc(run_cli("choose", priced, "--rules", str(rules), "--json")),
        "breakeven": _doc(run_cli("breakeven", priced, "--json")),
        "db-summary": _doc(run_cli("report", "--store", db, "--summary", "--json")),
        "query": _doc(
            run_cli("db", "query", "SELECT count(*) AS n FROM current_runs", "--store", db, "--json")
        ),
        "history": _doc(run_cli("history", "--store", db, "--json")),
        "device": _doc(run_cli("devices", "show", "openai-gpt-4o-mini", "--json")),
    }
    for kind, doc in docs.items():
        assert doc["format"].startswith(f"infercost-{kind}/"), (kind, doc["format"])
    # the same figure under the same name and value in every document that carries it
    rate = docs["report"]["rows"][0]["pass_rate"]
    assert docs["db-summary"]["rows"][0]["pass_rate"] == pytest.approx(rate)
    assert docs["history"]["metric"] == "decode_tps_mean"
    assert docs["compare"]["metrics"]["pass_rate"]["baseline_mean"] == pytest.approx(rate)


@pytest.mark.engine
def test_a_run_written_elsewhere_is_named_by_its_id(tmp_path: Path) -> None:
    """``run --out DIR`` then every command that reads runs, by run id, from the working directory."""
    proc = run_cli("run", "--suite", MINI, "-r", "1", "-w", "0", "--out", str(tmp_path / "elsewhere"), "--json",
                   cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    rid = summary["run_id"]
    assert not (tmp_path / "reports" / "runs" / rid).exists()  # it lives under --out, not the runs root
    rules = tmp_path / "g.toml"
    rules.write_text('[absolute]\npass_rate = ">= 0%"\n')
    report = _doc(run_cli("report", rid, "--json", cwd=tmp_path))
    assert report["rows"][0]["run_id"] == rid
    assert report["rows"][0]["pass_rate"] == pytest.approx(summary["overall"]["pass_rate"])
    assert _doc(run_cli("compare", rid, rid, "--json", cwd=tmp_path))["baseline"]["run_ids"] == [rid]
    assert _doc(run_cli("gate", rid, "--rules", str(rules), "--json", cwd=tmp_path))["exit_code"] == 0
    assert _doc(run_cli("choose", rid, "--rules", str(rules), "--by", "latency", "--json", cwd=tmp_path))[
        "winner"
    ]
    assert _doc(run_cli("breakeven", rid, "--json", cwd=tmp_path))["run_id"] == rid
    missing = run_cli("report", "no-such-run", cwd=tmp_path)
    assert missing.returncode == 2 and "no bundle 'no-such-run'" in missing.stderr

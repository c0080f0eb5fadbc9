"""Control characters from untrusted text (answers, task fields, names in profiles) never reach a report
as they are: every format shows the visible escape (``\\u202e``) instead of the character itself."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.report.markdown import md_escape
from bench.textsafe import TERMINAL_KEEP, neutralize_controls
from tests.helpers import FIXTURES, run_cli
from tests.helpers.http import fake_server, write_profile
from tests.servers.fake_openai import ServerThread

__all__ = ["fake_server"]  # the session fixture, used by name below

# bidi override, NUL, ESC (a terminal colour sequence), CR, BEL, a C1 CSI, the line separator, a
# right-to-left mark, a bidi isolate and a byte-order mark: each a different way to make text lie
PLANT = "gnp\u202eexe.\x00tail\x1b[31mred\rover\x07\x9bC1\u2028ls\u200frlm\u2066iso\ufeffbom"


def _unsafe_left(text: str) -> list[str]:
    return [c for c in ("\u202e", "\x00", "\x1b", "\r", "\x07", "\x9b", "\u2028", "\u200f", "\u2066", "\ufeff")
            if c in text]  # fmt: skip


def test_neutralize_keeps_tab_and_newline_and_escapes_the_rest() -> None:
    out = neutralize_controls("a\tb\nc" + PLANT + "\r\nz\ud800")
    assert "\t" in out and "\n" in out
    assert _unsafe_left(out) == [] and "\ud800" not in out
    assert "\\u202e" in out and "\\u0000" in out and "\\u001b" in out and "\\ud800" in out
    assert out.encode("utf-8")  # a lone surrogate could not even be written before
    assert neutralize_controls("plain text, ünïcödé, 中文, emoji 🙂") == "plain text, ünïcödé, 中文, emoji 🙂"
    # the terminal stream keeps rich's own ESC and CR, but still no bidi override or NUL
    term = neutralize_controls(PLANT, keep=TERMINAL_KEEP)
    assert "\x1b" in term and "\r" in term and "\u202e" not in term and "\x00" not in term


def test_markdown_escape_is_one_line_without_controls() -> None:
    out = md_escape(PLANT)
    assert "\n" not in out and _unsafe_left(out) == []


@pytest.fixture(scope="module")
def hostile_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of a recorded bundle whose answers, check details, category and device/model names carry
    every control character above."""
    dst = tmp_path_factory.mktemp("ctl") / "gemma3-mini-ctl"
    shutil.copytree(FIXTURES / "bundles" / "gemma3-mini", dst)
    manifest = json.loads((dst / "manifest.json").read_text())
    manifest["device"]["name"] = "dev" + PLANT
    manifest["suite"]["name"] = "suite" + PLANT
    (dst / "manifest.json").write_text(json.dumps(manifest))
    lines = []
    for line in (dst / "records.jsonl").read_text().splitlines():
        rec = json.loads(line)
        rec["output_text"] = "answer " + PLANT
        rec["check_detail"] = "detail " + PLANT
        rec["category"] = "cat" + PLANT
        lines.append(json.dumps(rec))
    (dst / "records.jsonl").write_text("\n".join(lines) + "\n")
    return dst


@pytest.mark.parametrize("fmt", ["md", "html", "csv"])
def test_every_report_file_format_neutralizes(hostile_bundle: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"r.{fmt}"
    proc = run_cli("report", str(hostile_bundle), "--csv" if fmt == "csv" else "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text(encoding="utf-8")
    assert _unsafe_left(text) == [], fmt
    assert "\\u202e" in text  # shown, not silently dropped


def test_json_on_stdout_holds_escapes_that_parse_back(hostile_bundle: Path) -> None:
    proc = run_cli("report", str(hostile_bundle), "--json")
    assert proc.returncode == 0, proc.stderr
    assert _unsafe_left(proc.stdout) == []
    rows = json.loads(proc.stdout)["rows"]  # JSON escapes: the document parses, to the original text
    assert any(r.get("category") == "cat" + PLANT for r in rows)


def test_terminal_report_and_stderr_neutralize(hostile_bundle: Path) -> None:
    proc = run_cli("report", str(hostile_bundle))
    assert proc.returncode == 0, proc.stderr
    for stream in (proc.stdout, proc.stderr):
        assert _unsafe_left(stream) == []
    assert "\\u202e" in proc.stdout


def test_the_after_run_summary_neutralizes_suite_text(fake_server: ServerThread, tmp_path: Path) -> None:
    suite = tmp_path / "s.toml"
    suite.write_text(
        '[[tasks]]\nid = "t"\ncategory = "cat\\u001b[31mRED\\u202eevil\\u0007"\nprompt = "hi"\n'
        'check = { type = "contains", values = ["x"] }\n'
    )
    device = write_profile(tmp_path / "d.toml", fake_server.base_url)
    proc = run_cli("run", "--device", str(device), "--suite", str(suite), "-r", "1", "-w", "0",
                   "--out", str(tmp_path / "runs"), "--power", "none")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert _unsafe_left(proc.stdout + proc.stderr) == [] and "\\u001b[31mRED" in proc.stdout

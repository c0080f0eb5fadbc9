"""The HTML report in a real browser: headless Chromium (Debian's `chromium`, installed by .ci/run).

- it renders: a screenshot of the page is taken and is not blank;
- the page logs nothing to the console (no CSP violation, no failed load, no error);
- hostile model output (`<script>`, `<img onerror>`, `<svg onload>`) stays text: it is not in the DOM as
  elements and does not run — checked once as published (with its Content-Security-Policy) and once with
  the CSP stripped, so escaping alone is shown to be enough;
- mismatched runs stay separate rows.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import FIXTURES, run_cli

B = FIXTURES / "bundles"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs headless Chromium (apt-get install -y chromium; .ci/run installs it)"
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
]


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("html") / "report.html"
    proc = run_cli(
        "report",
        str(B / "gemma3-mini-xss"),
        str(B / "smollm2-mini-priced"),
        str(B / "smollm2-mini-1thread"),
        str(B / "smollm2-mini"),
        str(B / "smollm2-mini-cloud"),
        "-o",
        str(out),
        "--title",
        "Report <script>document.title='PWNED-TITLE'</script>",
    )
    assert proc.returncode == 0, proc.stderr
    return out


def test_screenshot_renders_and_console_is_clean(hostile_report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    proc = chromium(tmp_path, "--window-size=1280,2400", f"--screenshot={shot}", hostile_report.as_uri())
    assert shot.is_file(), proc.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (2400, 1280)
    assert pixels.std() > 20, "the screenshot is (nearly) blank"
    assert console_messages(proc.stderr) == []


def test_hostile_output_is_text_not_markup(hostile_report: Path, tmp_path: Path) -> None:
    proc = chromium(tmp_path, "--dump-dom", hostile_report.as_uri())
    dom = proc.stdout
    assert "<h1>" in dom, proc.stderr[-2000:]
    assert console_messages(proc.stderr) == []
    _assert_inert(dom)


def test_escaping_alone_stops_the_payloads(hostile_report: Path, tmp_path: Path) -> None:
    """Without the CSP safety net the payloads would run if anything were unescaped: they must not."""
    html = hostile_report.read_text()
    stripped = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
    assert stripped != html
    page = tmp_path / "no-csp.html"
    page.write_text(stripped)
    proc = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert "<h1>" in proc.stdout, proc.stderr[-2000:]
    _assert_inert(proc.stdout)
    assert console_messages(proc.stderr) == []


def _assert_inert(dom: str) -> None:
    # a payload that ran would have set document.title to PWNED-SCRIPT / -IMG / -SVG
    title = re.search(r"<title>(.*?)</title>", dom, re.S)
    assert title and title.group(1) == "Report &lt;script&gt;document.title='PWNED-TITLE'&lt;/script&gt;"
    assert "<script" not in dom.lower()
    assert "onerror=" not in dom.replace("onerror=&quot;", "").replace('onerror="document', "")
    assert not re.search(r"<img[^>]*onerror", dom, re.I)
    assert not re.search(r"<svg[^>]*onload", dom, re.I)
    assert not re.search(r"<b[^>]*onmouseover", dom, re.I)
    # the payloads are on the page, as text
    assert "&lt;script&gt;document.title='PWNED-SCRIPT'" in dom
    assert "&lt;img src=x onerror=" in dom
    assert "{{ 7*7 }}" in dom and ">49<" not in dom  # no template evaluation of model output


def test_mismatched_runs_are_separate_rows(hostile_report: Path) -> None:
    html = hostile_report.read_text()
    results = html.split('id="results"')[1].split('id="charts"')[0]
    rows = re.findall(r"<tr><td class=\"left\">([^<]+)</td>", results)
    assert len(rows) == 5, rows
    assert len(set(rows)) == 5
    assert "kept apart: they differ in backend_settings" in html

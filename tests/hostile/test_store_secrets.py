"""A store password never reaches the terminal, whichever form ``--store`` or the environment gives it
in: userinfo, libpq's query string (``?user=u&password=...``), ``sslpassword``, a key=value connection
string given by mistake, ``PGPASSWORD``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench.results.db.url import display_url, parse_store_url
from tests.helpers import FIXTURES, ROOT

SECRET = "hunter2-Secret-9f8e"

FORMS = [
    f"postgresql://127.0.0.1:1/db?user=u&password={SECRET}",
    f"postgresql://u:{SECRET}@127.0.0.1:1/db",
    f"postgresql://u:{SECRET.replace('-', '%2D')}@127.0.0.1:1/db",
    f"postgres://127.0.0.1:1/db?sslpassword={SECRET}&user=u",
    f"postgresql://127.0.0.1:1/db?PASSWORD={SECRET}",
    f"host=127.0.0.1 port=1 password={SECRET} dbname=x",
    f"host=127.0.0.1 password='{SECRET} with space' dbname=x",
]


@pytest.mark.parametrize("url", FORMS)
def test_display_never_shows_the_password(url: str) -> None:
    assert SECRET not in display_url(url) and "%2D" not in display_url(url).split("@")[0]
    if "://" in url:
        scrubbed = parse_store_url(url).scrubber().scrub(f"server said: bad password {SECRET} for {url}")
        assert SECRET not in scrubbed


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env}, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("url", FORMS)
def test_push_and_query_print_no_password(url: str) -> None:
    bundle = str(FIXTURES / "bundles" / "smollm2-mini")
    for proc in (
        _cli("push", bundle, "--store", url),
        _cli("push", bundle, INFERCOST_STORE=url),
        _cli("db", "query", "SELECT 1", "--store", url),
        _cli("db", "status", "--store", url, PGPASSWORD=SECRET),
    ):
        assert proc.returncode in (2, 4), proc.stderr
        assert SECRET not in proc.stdout + proc.stderr and "Traceback" not in proc.stderr

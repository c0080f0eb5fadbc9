"""A throwaway PostgreSQL cluster from the distribution's binaries, for tests and the push benchmark.

``initdb`` into a temp dir, ``pg_ctl start`` listening only on a Unix socket inside that dir (no TCP port
to collide with), SCRAM password authentication so wrong credentials are really refused. PostgreSQL
refuses to run as root: as root the cluster runs as the ``postgres`` system user (``runuser``), which
the Debian package creates. Without the binaries the fixture skips, saying what to install.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

ADMIN, ADMIN_PASSWORD = "infercost_admin", "admin-Secret-123"
PUSHER, PUSHER_PASSWORD = "infercost_pusher", "pusher-Secret-456"


def find_bindir() -> Path | None:
    """The directory of initdb/pg_ctl: on PATH, else Debian's /usr/lib/postgresql/N/bin (newest)."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(candidates[-1]).parent if candidates else None


@dataclass
class PgCluster:
    base: Path
    bindir: Path
    run_as: str | None
    port: int = 5432

    @property
    def socket_dir(self) -> str:
        return str(self.base)

    def _cmd(self, *args: str) -> list[str]:
        return ["runuser", "-u", self.run_as, "--", *args] if self.run_as else list(args)

    def start(self, fsync: bool = False) -> None:
        data = self.base / "data"
        pwfile = self.base / "pw"
        pwfile.write_text(ADMIN_PASSWORD + "\n")
        if self.run_as:
            uid = pwd.getpwnam(self.run_as).pw_uid
            os.chown(self.base, uid, -1)
            os.chown(pwfile, uid, -1)
        subprocess.run(
            self._cmd(str(self.bindir / "initdb"), "-D", str(data), "-U", ADMIN, f"--pwfile={pwfile}",
                      "--auth=scram-sha-256", "-E", "UTF8", "--no-sync"),
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        opts = f"-k {self.base} -c listen_addresses='' -p {self.port} -c fsync={'on' if fsync else 'off'}"
        subprocess.run(
            self._cmd(str(self.bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l",
                      str(self.base / "log"), "-w", "-t", "60", "start"),
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip

    def stop(self) -> None:
        subprocess.run(
            self._cmd(str(self.bindir / "pg_ctl"), "-D", str(self.base / "data"), "-m", "immediate", "stop"),
            capture_output=True, timeout=60,
        )  # fmt: skip

    def url(self, db: str = "postgres", user: str = ADMIN, password: str | None = ADMIN_PASSWORD) -> str:
        cred = user + (f":{quote(password, safe='')}" if password is not None else "")
        return f"postgresql://{cred}@/{db}?host={quote(self.socket_dir, safe='')}&port={self.port}"

    def admin_sql(self, *statements: str, db: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(db), autocommit=True) as con:
            for st in statements:
                con.execute(st)  # type: ignore[arg-type]

    def fresh_db(self, name: str) -> str:
        """A new empty database; the pusher role may connect but create nothing (PostgreSQL 15 default)."""
        self.admin_sql(f'CREATE DATABASE "{name}"')
        self.admin_sql("REVOKE CREATE ON SCHEMA public FROM PUBLIC", db=name)
        return name


def start_cluster(fsync: bool = False) -> PgCluster:
    bindir = find_bindir()
    if bindir is None:
        raise FileNotFoundError("PostgreSQL server binaries (initdb, pg_ctl) not found")
    run_as = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise FileNotFoundError("running as root and there is no 'postgres' system user") from None
        run_as = "postgres"
    base = Path(tempfile.mkdtemp(prefix="infercost-pg-"))
    cluster = PgCluster(base, bindir, run_as)
    try:
        cluster.start(fsync=fsync)
        cluster.admin_sql(f"CREATE ROLE {PUSHER} LOGIN PASSWORD '{PUSHER_PASSWORD}'")
    except BaseException:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)
        raise
    return cluster


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: pip install 'psycopg[binary]'")
    try:
        cluster = start_cluster()
    except FileNotFoundError as exc:
        pytest.skip(f"{exc}: install the distribution's package (apt-get install -y postgresql)")
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"PostgreSQL would not start here: {exc.stderr.decode(errors='replace')[-300:]}")
    yield cluster
    cluster.stop()
    shutil.rmtree(cluster.base, ignore_errors=True)

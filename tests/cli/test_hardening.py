"""Issue 12's hostile inputs, end to end: the CLI as a user runs it against the misbehaving local server.

One test (or more) per item that did not hold; the sandbox items (1, 2, 3a) are in tests/test_sandbox.py,
item 9 in tests/test_checks.py, item 10 in tests/test_variability.py. The 3a end-to-end case is here:
an answer that hunts for the key through /proc, graded by a real run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.devices.profiles import MAX_THREADS
from bench.results.bundle import read_bundle
from bench.userfiles import MAX_INPUT_BYTES
from tests.helpers import ROOT, run_cli
from tests.helpers.http import write_profile
from tests.servers.fake_openai import ServerThread

FAST = {"max_retries": 0, "first_byte_timeout_s": 2.0, "idle_timeout_s": 2.0, "connect_timeout_s": 2.0}
MINI = ROOT / "tests" / "fixtures" / "suites" / "mini.toml"
KEY = "sk-hostile-0123456789abcdefXYZ"


def suite_file(path: Path, *tasks: str) -> Path:
    path.write_text('name = "hostile"\n' + "".join(tasks))
    return path


def task(tid: str, content: str, check: str = '{ type = "none" }') -> str:
    return f'[[tasks]]\nid = {json.dumps(tid)}\nmax_tokens = 64\nmessages = [{{ role = "user", content = {json.dumps(content)} }}]\ncheck = {check}\n'


def run_with_key(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "INFERCOST_HOSTILE_KEY": KEY, "COLUMNS": "160"}
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=180, check=False,
    )  # fmt: skip


def keyed_device(tmp: Path, server: ServerThread) -> Path:
    return write_profile(tmp / "d.toml", server.base_url, top='api_key_env = "INFERCOST_HOSTILE_KEY"', **FAST)


def one_line_exit_2(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and proc.stderr.strip().count("\n") == 0, proc.stderr
    return proc.stderr


def every_text(tmp: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in tmp.rglob("*") if p.is_file())


# ------------------------------------------------------------------------------------- 3: secrets
def test_a_key_echoed_inside_the_answer_is_stored_and_shown_nowhere(
    fake_server: ServerThread, tmp_path: Path
) -> None:
    suite = suite_file(tmp_path / "s.toml", task("echo", "scenario=echo-auth hello"))
    out = tmp_path / "runs"
    proc = run_with_key("run", "--device", str(keyed_device(tmp_path, fake_server)), "--suite", str(suite),
                        "-r", "1", "-w", "0", "--out", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run_dir = next(out.glob("*/manifest.json")).parent
    record = read_bundle(run_dir).records[0]
    assert record.output_text is not None and "you sent Bearer ***" in record.output_text
    html = tmp_path / "r.html"
    rep = run_with_key("report", str(run_dir), "-o", str(html))
    assert rep.returncode == 0, rep.stderr
    assert html.exists()
    shown = run_with_key("report", str(run_dir))
    for text in (every_text(tmp_path), proc.stdout, proc.stderr, rep.stdout, rep.stderr, shown.stdout):
        assert KEY not in text


def test_an_answer_hunting_the_key_in_proc_finds_nothing(fake_server: ServerThread, tmp_path: Path) -> None:
    hunt = (
        "ANSWER:```python\nimport os\nfound = []\n"
        "for pid in [p for p in os.listdir('/proc') if p.isdigit()] + [str(os.getppid())]:\n"
        "    try:\n        env = open('/proc/%s/environ' % pid, 'rb').read()\n    except OSError:\n        continue\n"
        "    found += [v for v in env.split(b'\\0') if v.startswith(b'INFERCOST_HOSTILE_KEY=')]\n"
        "def f():\n    return 1\n"
        "assert not found, 'LEAK %r' % found\n```"
    )
    check = '{ type = "python-test", asserts = "assert f() == 1", timeout_s = 10 }'
    suite = suite_file(tmp_path / "s.toml", task("hunt", "scenario=echo-answer " + hunt, check))
    out = tmp_path / "runs"
    proc = run_with_key("run", "--device", str(keyed_device(tmp_path, fake_server)), "--suite", str(suite),
                        "-r", "1", "-w", "0", "--out", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    bundle = read_bundle(next(out.glob("*/manifest.json")).parent)
    record = bundle.records[0]
    assert record.passed is True, record.check_detail  # it found nothing: not even a masked key
    assert bundle.manifest.sandbox is not None and bundle.manifest.sandbox.summary  # what isolated it
    assert KEY not in every_text(tmp_path) + proc.stdout + proc.stderr


# --------------------------------------------------------------------------------- 5: --threads
@pytest.mark.parametrize("threads", ["100000", str(MAX_THREADS + 1)])
def test_absurd_thread_counts_are_refused_before_loading(threads: str, tmp_path: Path) -> None:
    t0 = time.monotonic()
    msg = one_line_exit_2(run_cli("run", "--suite", str(MINI), "--threads", threads, "--out", str(tmp_path)))
    assert f"--threads {threads}: must be between 1 and {MAX_THREADS}" in msg and "logical cores" in msg
    assert time.monotonic() - t0 < 30 and not list(tmp_path.glob("*/manifest.json"))


def test_zero_threads_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_cli("run", "--suite", str(MINI), "--threads", "0", "--out", str(tmp_path))
    assert proc.returncode == 2 and "--threads" in proc.stderr and "expected 1 or more" in proc.stderr
    assert "Traceback" not in proc.stderr and not list(tmp_path.glob("*/manifest.json"))


def test_a_profile_with_absurd_n_threads_is_refused(tmp_path: Path) -> None:
    device = tmp_path / "d.toml"
    device.write_text('name = "x"\n[llama_cpp]\nn_threads = 4096\n')
    msg = one_line_exit_2(
        run_cli("run", "--suite", str(MINI), "--device", str(device), "--out", str(tmp_path))
    )
    assert "n_threads" in msg and str(MAX_THREADS) in msg


@pytest.mark.engine
def test_more_threads_than_logical_cores_is_warned_about(tmp_path: Path) -> None:
    logical = os.cpu_count() or 1
    proc = run_cli("run", "--suite", str(MINI), "-r", "1", "-w", "0", "--threads", str(logical + 1),
                   "--out", str(tmp_path), "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"the engine ran {logical + 1} threads on {logical} logical cores" in proc.stderr
    assert "--threads" in proc.stderr  # the remedy
    warnings = json.loads(proc.stdout)["warnings"]
    assert any(w["kind"] == "oversubscribed_threads" for w in warnings)


# ----------------------------------------------------------------------------- 6: input file limits
@pytest.mark.parametrize("flag", ["--suite", "--device"])
def test_special_files_are_refused_with_one_line(flag: str, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    for path in ("/dev/zero", str(fifo)):
        given = {"--suite": str(MINI), flag: path}  # the flag under test gets the special file
        args = ["run", "--out", str(tmp_path), *(x for kv in given.items() for x in kv)]
        t0 = time.monotonic()
        msg = one_line_exit_2(run_cli(*args, timeout=60))
        assert "not a regular file" in msg and time.monotonic() - t0 < 30


def test_oversized_input_files_are_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    with big.open("wb") as f:
        f.truncate(MAX_INPUT_BYTES + 1)  # sparse: no disk used
    msg = one_line_exit_2(run_cli("run", "--suite", str(big), "--out", str(tmp_path)))
    assert f"over the {MAX_INPUT_BYTES // 2**20} MiB limit" in msg
    msg = one_line_exit_2(run_cli("gate", str(tmp_path), "--rules", "/dev/zero"))
    assert "not a regular file" in msg


# --------------------------------------------------------------------------- 7: 200 without choices
def test_a_200_body_without_choices_is_an_error_record(fake_server: ServerThread, tmp_path: Path) -> None:
    suite = suite_file(tmp_path / "s.toml", task("nochoices", "scenario=no-choices hi"))
    device = write_profile(tmp_path / "d.toml", fake_server.base_url, **FAST)
    out = tmp_path / "runs"
    proc = run_cli(
        "run", "--device", str(device), "--suite", str(suite), "-r", "1", "-w", "0", "--out", str(out)
    )
    assert proc.returncode == 3, proc.stderr
    record = read_bundle(next(out.glob("*/manifest.json")).parent).records[0]
    assert record.status == "error" and record.error is not None
    assert "no 'choices'" in record.error and "chat.completion" in record.error  # the body's first bytes


# -------------------------------------------------------------------------- 8: non-finite numbers
@pytest.mark.parametrize(
    "line", ["price_usd = 1e309", "kwh_usd = nan", "max_w = inf", "[http]\nidle_timeout_s = inf"]
)
def test_non_finite_profile_numbers_are_refused(line: str, tmp_path: Path) -> None:
    device = tmp_path / "d.toml"
    device.write_text(f'name = "x"\n{line}\n')
    msg = one_line_exit_2(
        run_cli("run", "--suite", str(MINI), "--device", str(device), "--out", str(tmp_path))
    )
    assert "finite number" in msg


# ----------------------------------------------------------------------------- 9: schema $ref (CLI)
def test_a_suite_with_an_unresolvable_ref_fails_to_load(tmp_path: Path) -> None:
    check = '{ type = "json", schema = { "$ref" = "#/$defs/nowhere" } }'
    suite = suite_file(tmp_path / "s.toml", task("j", "give json", check))
    msg = one_line_exit_2(run_cli("run", "--suite", str(suite), "--out", str(tmp_path)))
    assert "cannot be resolved" in msg and "tasks[0]" in msg


# ------------------------------------------------------------------------------------- 11: smaller
@pytest.fixture()
def interrupted(fake_server: ServerThread, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A finished run over the fake server, then cut back as a kill would leave it (a torn last line)."""
    suite = tmp_path / "suite.toml"
    suite.write_text(MINI.read_text())
    device = write_profile(tmp_path / "d.toml", fake_server.base_url, **FAST)
    out = tmp_path / "runs"
    proc = run_cli(
        "run", "--device", str(device), "--suite", str(suite), "-r", "1", "-w", "0", "--out", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    run_dir = next(out.glob("*/manifest.json")).parent
    lines = (run_dir / "records.jsonl").read_text().splitlines(keepends=True)
    (run_dir / "records.jsonl").write_text(lines[0] + lines[1][:40])
    m = json.loads((run_dir / "manifest.json").read_text())
    m.update(complete=False, finished_utc=None, counts={})
    (run_dir / "manifest.json").write_text(json.dumps(m))
    return run_dir, suite, device


def test_a_dropped_torn_line_is_one_note_not_a_python_warning(interrupted: tuple[Path, Path, Path]) -> None:
    run_dir, _, _ = interrupted
    proc = run_cli("report", str(run_dir))
    assert proc.returncode == 0, proc.stderr
    assert "UserWarning" not in proc.stderr and ".py:" not in proc.stderr
    notes = [ln for ln in proc.stderr.splitlines() if "torn last line" in ln]
    assert len(notes) == 1 and notes[0].startswith("infercost: note:"), proc.stderr


def test_resume_with_another_suite_says_a_different_suite(interrupted: tuple[Path, Path, Path]) -> None:
    run_dir, _, device = interrupted
    other = suite_file(run_dir.parent.parent / "other.toml", task("x", "hello"))
    msg = one_line_exit_2(
        run_cli("run", "--resume", str(run_dir), "--suite", str(other), "--device", str(device))
    )
    assert "a different suite" in msg and "changed since the run" not in msg


def test_a_csv_power_trace_that_never_appears_is_warned_about(
    fake_server: ServerThread, tmp_path: Path
) -> None:
    device = write_profile(tmp_path / "d.toml", fake_server.base_url, **FAST)
    trace = tmp_path / "meter" / "never.csv"
    proc = run_cli("run", "--device", str(device), "--suite", str(MINI), "-r", "1", "-w", "0",
                   "--out", str(tmp_path / "runs"), "--power", f"csv:{trace}", "--idle-seconds", "0")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"the power trace {trace} did not appear during the run" in proc.stderr


def test_registered_secrets_are_masked_in_every_form_at_the_boundaries() -> None:
    import io

    from bench.redaction import ScrubbingStream, register_secret, scrub_secrets

    secret = 'sk-z/"quoted"+key-0123'
    register_secret(secret)
    for form in (secret, "sk-z%2F%22quoted%22%2Bkey-0123", 'sk-z/\\"quoted\\"+key-0123'):
        assert scrub_secrets(f"before {form} after") == "before *** after"
    sink = io.StringIO()
    ScrubbingStream(sink).write(f"printed: {secret}\n")
    assert sink.getvalue() == "printed: ***\n"

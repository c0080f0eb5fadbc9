"""Figures for the HTTP backend (issue: "Cloud and server backend: any OpenAI-compatible API over httpx").

1. Client throughput: against tests/servers/fake_openai.py streaming pre-built chunks as fast as it can
   (server pinned to one CPU, client to another), chunks the client parses per second of wall time and
   per CPU-second of the client process (goal: >= 20,000 on one core).
2. Client TTFT overhead on loopback: client TTFT minus the server's own time to first byte (request body
   read → first response byte written), both on CLOCK_MONOTONIC (Linux perf_counter_ns and
   monotonic_ns share it), median over sequential requests (goal: <= 1 ms). Split into the send side
   (client dispatch → server has the body) and the receive side (server writes → client has content).
   Also: the same TTFT with ``generate()`` (one ``run_until_complete`` per request, as the sequential
   runner calls it) and with ``agenerate()`` inside one running loop, to show the loop costs nothing.
3. Open-loop accuracy: ``--rate 50`` through ``execute_run`` (the CLI's own path) against the fast server;
   actual dispatch minus the seeded Poisson schedule, p50/p99/max (goal: p99 <= 5 ms).
4. Decode-window fidelity: against a fake server that writes one chunk every 10 ms and stamps its first
   and last content write, the client's first→last content window relative to the server's (the client
   half of "decode rates within 10%": how much of any gap the client itself could be causing).
5. Decode rates side by side: the default suite in-process and through ``python -m llama_cpp.server``
   (same model, 2 threads, cache-bust, same seed), mean decode tok/s and their ratio (goal: within 10%);
   with ``--llama-server PATH`` also through llama.cpp's own C++ server (one slot, flash attention off).
   Skipped with --skip-server; only this with --only-server.

Timing figures on a shared 2-core VM are noisy; rerun on a quiet machine before quoting them.

    python tests/benchmarks/bench_http.py [--chunks 20000] [--requests 300] [--rate-requests 500]
                                          [--skip-server] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.backends.http.client import OpenAIHttpBackend  # noqa: E402
from bench.devices.http_settings import HttpSettings  # noqa: E402
from bench.devices.profiles import DeviceProfile, host_facts  # noqa: E402
from bench.results.bundle import read_bundle  # noqa: E402
from bench.run.orchestrate import RunOptions, execute_run, prepare_run  # noqa: E402
from bench.run.traffic import TrafficOptions  # noqa: E402
from bench.suite.loader import Task  # noqa: E402
from tests.helpers.http import free_port, llama_server_command  # noqa: E402

CLIENT_CPU, SERVER_CPU = 0, 1


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def start(cmd: list[str], url: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"server did not start: {cmd}")


def task(scenario: str, max_tokens: int) -> Task:
    return Task.model_validate(
        {
            "id": "t",
            "messages": [{"role": "user", "content": f"scenario={scenario}"}],
            "max_tokens": max_tokens,
            "check": {"type": "none"},
        }
    )


def fake_backend(base: str) -> OpenAIHttpBackend:
    device = DeviceProfile(
        name="fake", backend="openai_http", base_url=base, model="fake-model", http=HttpSettings()
    )
    backend = OpenAIHttpBackend(device)
    backend.load()
    return backend


def client_throughput(base: str, n_chunks: int, rounds: int) -> dict[str, Any]:
    backend = fake_backend(base)
    t = task(f"fast:{n_chunks}", n_chunks)
    backend.generate(t)  # warm the connection and the server's pre-built frames
    per_wall, per_cpu = [], []
    for _ in range(rounds):
        cpu0 = time.process_time()
        g = backend.generate(t)
        cpu = time.process_time() - cpu0
        wall = (g.t_end_ns - g.t_dispatch_ns) / 1e9
        assert len(g.content_ns) == n_chunks, len(g.content_ns)
        per_wall.append(n_chunks / wall)
        per_cpu.append(n_chunks / cpu)
    backend.close()
    return {
        "chunks_per_request": n_chunks,
        "chunks_per_s_wall_median": statistics.median(per_wall),
        "chunks_per_cpu_s_median": statistics.median(per_cpu),
        "rounds": rounds,
    }


def ttft_overhead(base: str, n: int) -> dict[str, Any]:
    backend = fake_backend(base)
    t = task("fast:8", 8)
    for _ in range(20):
        backend.generate(t)
    httpx.get(f"{base}/_stamps")  # (stamps accumulate; take the tail below)
    gens = [backend.generate(t) for _ in range(n)]

    async def in_loop() -> list[Any]:
        return [await backend.agenerate(t) for _ in range(n)]

    gens_loop = backend.run(in_loop())
    stamps = httpx.get(f"{base}/_stamps").json()[-2 * n :]
    backend.close()
    ttft_sync = [(g.content_ns[0] - g.t_dispatch_ns) / 1e6 for g in gens]
    ttft_loop = [(g.content_ns[0] - g.t_dispatch_ns) / 1e6 for g in gens_loop]
    return {
        **overhead_figures(gens, stamps[:n]),
        "ttft_ms_median_generate": statistics.median(ttft_sync),
        "ttft_ms_median_agenerate_in_one_loop": statistics.median(ttft_loop),
    }


def overhead_figures(gens: list[Any], stamps: list[dict[str, int]]) -> dict[str, Any]:
    """Client TTFT minus the server's time to first byte, per request, and its send and receive sides."""
    over, send, recv = [], [], []
    for g, s in zip(gens, stamps, strict=True):
        client = g.content_ns[0] - g.t_dispatch_ns
        server = s["first_byte_ns"] - s["recv_ns"]
        over.append((client - server) / 1e6)
        send.append((s["recv_ns"] - g.t_dispatch_ns) / 1e6)
        recv.append((g.content_ns[0] - s["first_byte_ns"]) / 1e6)
    return {
        "requests": len(gens),
        "overhead_ms_median": statistics.median(over),
        "overhead_ms_p90": pct(over, 90),
        "send_side_ms_median": statistics.median(send),
        "receive_side_ms_median": statistics.median(recv),
    }


def decode_fidelity(base: str, n_chunks: int, gap_ms: float, rounds: int) -> dict[str, Any]:
    """The client's decode window against the server's own (first → last content write)."""
    backend = fake_backend(base)
    t = task(f"paced:{n_chunks}:{gap_ms:g}", n_chunks)
    errs = []
    for _ in range(rounds):
        g = backend.generate(t)
        s = httpx.get(f"{base}/_stamps").json()[-1]
        client_ms = (g.content_ns[-1] - g.content_ns[0]) / 1e6
        server_ms = (s["last_content_ns"] - s["first_byte_ns"]) / 1e6
        errs.append((client_ms - server_ms) / server_ms)
    backend.close()
    return {
        "chunks": n_chunks,
        "gap_ms": gap_ms,
        "decode_window_rel_error_median": statistics.median(errs),
        "decode_window_rel_error_max_abs": max(abs(e) for e in errs),
    }


def open_loop(base: str, n: int, rate: float, out: Path) -> dict[str, Any]:
    suite = out / "fast.toml"
    suite.write_text(
        'name = "fast"\n[[tasks]]\nid = "fast"\nmax_tokens = 64\n'
        'messages = [{ role = "user", content = "scenario=fast:64" }]\ncheck = { type = "none" }\n'
    )
    device = out / "fake.toml"
    device.write_text(f'name = "fake"\nbackend = "openai_http"\nbase_url = "{base}"\nmodel = "fake-model"\n')
    opts = RunOptions(
        device=str(device),
        suite=str(suite),
        repetitions=n,
        warmup=0,
        out=out / "runs",
        seed=1,
        traffic=TrafficOptions(rate=rate),
    )
    outcome = execute_run(prepare_run(opts))
    recs = read_bundle(outcome.run_dir).records
    dev = [(r.start_ns - r.scheduled_ns) / 1e6 for r in recs if r.scheduled_ns is not None]
    span = (max(r.scheduled_ns or 0 for r in recs) - min(r.scheduled_ns or 0 for r in recs)) / 1e9
    return {
        "rate_rps": rate,
        "requests": len(dev),
        "errors": sum(r.status != "ok" for r in recs),
        "achieved_arrivals_per_s": (len(dev) - 1) / span,
        "deviation_ms_p50": pct(dev, 50),
        "deviation_ms_p99": pct(dev, 99),
        "deviation_ms_max": max(dev),
        "deviation_ms_min": min(dev),
    }


def run_default(out: Path, label: str, device: str, base_url: str | None) -> dict[str, Any]:
    opts = RunOptions(
        device=device, suite="default", repetitions=1, warmup=1, out=out / label,
        base_url=base_url, cache_bust=True, seed=42,
    )  # fmt: skip
    outcome = execute_run(prepare_run(opts))
    recs = [r for r in read_bundle(outcome.run_dir).records if not r.warmup]
    return {
        "decode_tps": statistics.mean(r.decode_tps for r in recs if r.decode_tps),
        "ttft_ms_median": statistics.median(r.ttft_ms for r in recs if r.ttft_ms),
        "sources": sorted({str(r.token_count_source) for r in recs}),
        "texts": {r.task_id: r.output_text for r in recs},
    }


def decode_side_by_side(out: Path, threads: int, llama_server: Path | None) -> dict[str, Any]:
    """The default suite in-process, through llama_cpp.server, and through llama-server if given."""
    from bench.models.catalog import resolve_model

    model = resolve_model("smollm2-135m")
    local = out / "local.toml"
    local.write_text(f'name = "in-process"\n[llama_cpp]\nflash_attn = false\nn_threads = {threads}\n')
    base_run = run_default(out, "in_process", str(local), None)
    servers = {"llama_cpp_server": llama_server_command(model.path, 0, threads)}
    if llama_server is not None:  # llama.cpp's C++ server: one slot (the whole context), flash attention off
        servers["llama_server"] = [
            str(llama_server), "-m", str(model.path), "--host", "127.0.0.1", "--port", "0", "-c", "4096",
            "-t", str(threads), "-np", "1", "-fa", "off", "--no-webui",
        ]  # fmt: skip
    results: dict[str, Any] = {
        "threads": threads,
        "in_process": {k: v for k, v in base_run.items() if k != "texts"},
    }
    for name, cmd in servers.items():
        port = free_port()
        cmd = [str(port) if c == "0" and cmd[i - 1] == "--port" else c for i, c in enumerate(cmd)]
        base = f"http://127.0.0.1:{port}/v1"
        server = start(cmd, f"{base}/models")
        try:
            run = run_default(out, name, "local-server", base)
        finally:
            server.terminate()
            server.wait(10)
        texts = run.pop("texts")
        run["ratio_decode_over_in_process"] = run["decode_tps"] / base_run["decode_tps"]
        run["identical_answers"] = sum(texts[t] == a for t, a in base_run["texts"].items())
        run["tasks"] = len(texts)
        results[name] = run
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--chunks", type=int, default=20000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--rate", type=float, default=50.0)
    p.add_argument("--rate-requests", type=int, default=500)
    p.add_argument("--skip-server", action="store_true")
    p.add_argument("--only-server", action="store_true", help="only figure 5")
    p.add_argument("--server-threads", type=int, default=2, help="engine threads on both sides (2)")
    p.add_argument(
        "--llama-server", type=Path, default=None, help="llama.cpp's llama-server binary, to compare too"
    )
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    cpus = os.cpu_count() or 1
    pinned = cpus >= 2 and hasattr(os, "sched_setaffinity")
    results: dict[str, Any] = {"host": host_facts(), "pinned": pinned, "load_avg": os.getloadavg()}
    if not args.only_server:
        client_figures(args, results, pinned)
    if not args.skip_server:
        with tempfile.TemporaryDirectory() as tmp:
            results["decode_side_by_side"] = decode_side_by_side(
                Path(tmp), args.server_threads, args.llama_server
            )
        print(json.dumps(results["decode_side_by_side"]), flush=True)
    results["load_avg_after"] = os.getloadavg()
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps(results, indent=2, default=str))


def client_figures(args: argparse.Namespace, results: dict[str, Any], pinned: bool) -> None:
    """Figures 1-3 against the fake server: server on one CPU, this process on another."""
    port = free_port()
    base = f"http://127.0.0.1:{port}/v1"
    cmd = [sys.executable, str(ROOT / "tests" / "servers" / "fake_openai.py"), "--port", str(port)]
    if pinned:
        cmd += ["--cpu", str(SERVER_CPU)]
    fake = start(cmd, f"{base}/models")
    every_cpu = os.sched_getaffinity(0) if pinned else set()
    if pinned:
        os.sched_setaffinity(0, {CLIENT_CPU})
    try:
        results["client_throughput"] = client_throughput(base, args.chunks, args.rounds)
        print(json.dumps(results["client_throughput"]), flush=True)
        results["ttft_overhead"] = ttft_overhead(base, args.requests)
        print(json.dumps(results["ttft_overhead"]), flush=True)
        results["decode_fidelity"] = decode_fidelity(base, 200, 10.0, args.rounds)
        print(json.dumps(results["decode_fidelity"]), flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            results["open_loop"] = open_loop(base, args.rate_requests, args.rate, Path(tmp))
        print(json.dumps(results["open_loop"]), flush=True)
    finally:
        fake.terminate()
        fake.wait(10)
        if pinned:
            os.sched_setaffinity(0, every_cpu)


if __name__ == "__main__":
    main()

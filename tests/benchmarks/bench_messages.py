"""The native Messages backend's own cost, side by side with the OpenAI path (issue 23).

Both fakes (``tests/servers/fake_openai.py`` and ``tests/servers/fake_anthropic.py``) stream pre-built
frames as fast as they can, pinned to one CPU with this client on the other; the same client measures:

1. Events parsed per second: a stream of N content events (OpenAI chunks / Messages ``text_delta``
   events, each with its ``event:`` line), events per second of wall time and per CPU-second of the
   client process (goal: ≥ 20,000 on one core, as the OpenAI path).
2. TTFT overhead on loopback: client TTFT minus the server's own time to first byte (request body read →
   first response byte written), both on CLOCK_MONOTONIC, median over sequential requests (goal: ≤ 1 ms).
3. Where that overhead goes, per request (a second pass, with httpcore's ``trace`` extension set by a
   request event hook, so the first pass stays uninstrumented): the client before the request's first
   byte goes out (body, httpx request, pool), the request on the loopback until the server has read it
   (the server's own asyncio HTTP parsing included), the response's first bytes until httpcore has its
   headers, and from there to the client's content stamp (httpx's response handling, the first read).

The two wire formats are measured in one process, alternating rounds and, for the TTFT figures, alternating
request by request (which goes first alternates too), so load from elsewhere hits both alike; the load
average at each phase is recorded with the figures. Timing figures on a shared 2-core VM are noisy: rerun on
a quiet machine before quoting them.

    python tests/benchmarks/bench_messages.py [--events 20000] [--rounds 5] [--requests 300] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.backends.http.client import HttpBackend  # noqa: E402
from bench.devices.profiles import DeviceProfile, host_facts  # noqa: E402
from tests.benchmarks.bench_http import CLIENT_CPU, SERVER_CPU, overhead_figures, start, task  # noqa: E402
from tests.helpers.http import free_port  # noqa: E402

WIRES = {
    "openai_http": ("fake_openai.py", "fake-model"),
    "anthropic_messages": ("fake_anthropic.py", "claude-haiku-4-5"),
}


def backend_for(wire: str, base: str) -> HttpBackend:
    device = DeviceProfile(name=f"fake {wire}", backend=wire, base_url=base, model=WIRES[wire][1])  # type: ignore[arg-type]
    backend = HttpBackend(device)
    backend.load()
    return backend


def throughput_round(backend: HttpBackend, n: int) -> tuple[float, float]:
    t = task(f"fast:{n}", n)
    cpu0 = time.process_time()
    g = backend.generate(t)
    cpu = time.process_time() - cpu0
    assert len(g.content_ns) == n, (len(g.content_ns), n)
    wall = (g.t_end_ns - g.t_dispatch_ns) / 1e9
    return n / wall, n / cpu


def ttft_pairs(
    backends: dict[str, HttpBackend],
    bases: dict[str, str],
    n: int,
    traced: dict[str, list[dict[str, int]]] | None,
) -> dict[str, tuple[list[Any], list[dict[str, int]]]]:
    """``n`` requests per wire format, interleaved (who goes first alternates); each wire's generations and
    its server's stamps. ``traced``: collect httpcore's trace stamps per request into it."""
    t = task("fast:8", 8)
    for wire, b in backends.items():
        for _ in range(20):
            if traced is not None:
                traced[wire].append({})
            b.generate(t)
    gens: dict[str, list[Any]] = {w: [] for w in backends}
    order = list(backends)
    for i in range(n):
        for wire in order if i % 2 == 0 else order[::-1]:
            if traced is not None:
                traced[wire].append({})
            gens[wire].append(backends[wire].generate(t))
    return {w: (gens[w], httpx.get(f"{bases[w]}/_stamps").json()[-n:]) for w in backends}


def add_tracer(backend: HttpBackend, sink: list[dict[str, int]]) -> None:
    """Stamp httpcore's trace events (first of each name) into ``sink[-1]`` for every request."""

    async def trace(name: str, info: dict[str, Any]) -> None:
        sink[-1].setdefault(name, time.perf_counter_ns())

    async def hook(request: httpx.Request) -> None:
        request.extensions["trace"] = trace

    assert backend._client is not None
    backend._client.event_hooks["request"].append(hook)


def breakdown(
    gens: list[Any], stamps: list[dict[str, int]], traces: list[dict[str, int]]
) -> dict[str, float]:
    """Median ms of each part of the TTFT overhead (see the module docstring, item 3)."""
    parts: dict[str, list[float]] = {
        "client_before_first_byte_out": [],
        "request_on_loopback_until_server_read": [],
        "server_own_time_excluded": [],
        "response_until_headers_parsed": [],
        "headers_parsed_to_content_stamp": [],
    }
    for g, s, tr in zip(gens, stamps, traces, strict=True):
        out = tr["http11.send_request_headers.started"]
        heads = tr["http11.receive_response_headers.complete"]
        parts["client_before_first_byte_out"].append((out - g.t_dispatch_ns) / 1e6)
        parts["request_on_loopback_until_server_read"].append((s["recv_ns"] - out) / 1e6)
        parts["server_own_time_excluded"].append((s["first_byte_ns"] - s["recv_ns"]) / 1e6)
        parts["response_until_headers_parsed"].append((heads - s["first_byte_ns"]) / 1e6)
        parts["headers_parsed_to_content_stamp"].append((g.content_ns[0] - heads) / 1e6)
    return {f"{k}_ms_median": statistics.median(v) for k, v in parts.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=20000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    pinned = (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity")
    results: dict[str, Any] = {"host": host_facts(), "pinned": pinned, "load_avg_before": os.getloadavg()}
    servers, backends, bases = {}, {}, {}
    every_cpu = os.sched_getaffinity(0) if pinned else set()
    try:
        for wire, (script, _) in WIRES.items():
            port = free_port()
            bases[wire] = f"http://127.0.0.1:{port}/v1"
            cmd = [sys.executable, str(ROOT / "tests" / "servers" / script), "--port", str(port)]
            servers[wire] = start(
                [*cmd, "--cpu", str(SERVER_CPU)] if pinned else cmd, f"{bases[wire]}/_stamps"
            )
        if pinned:
            os.sched_setaffinity(0, {CLIENT_CPU})
        backends = {wire: backend_for(wire, bases[wire]) for wire in WIRES}
        for b in backends.values():  # warm: connections, the servers' pre-built frames
            throughput_round(b, args.events)
        rates: dict[str, list[tuple[float, float]]] = {w: [] for w in WIRES}
        results["load_avg_throughput"] = os.getloadavg()
        for _ in range(args.rounds):  # alternating, so outside load hits both formats alike
            for wire, b in backends.items():
                rates[wire].append(throughput_round(b, args.events))
        results["load_avg_ttft"] = os.getloadavg()
        plain = ttft_pairs(backends, bases, args.requests, None)
        traced: dict[str, list[dict[str, int]]] = {w: [] for w in WIRES}
        for wire, b in backends.items():
            add_tracer(b, traced[wire])
        results["load_avg_breakdown"] = os.getloadavg()
        split = ttft_pairs(backends, bases, args.requests, traced)
        for wire in WIRES:
            results[wire] = {
                "events_per_request": args.events,
                "events_per_s_wall_median": statistics.median(r[0] for r in rates[wire]),
                "events_per_cpu_s_median": statistics.median(r[1] for r in rates[wire]),
                "rounds": args.rounds,
                "ttft": overhead_figures(*plain[wire]),
                "ttft_traced": {
                    **overhead_figures(*split[wire]),
                    **breakdown(*split[wire], traced[wire][-args.requests :]),
                },
            }
            print(json.dumps({wire: results[wire]}), flush=True)
    finally:
        for b in backends.values():
            b.close()
        for proc in servers.values():
            proc.terminate()
            proc.wait(10)
        if pinned:
            os.sched_setaffinity(0, every_cpu)
    results["load_avg_after"] = os.getloadavg()
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()

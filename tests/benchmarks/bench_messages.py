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
   With ``--url-as-text``, each wire format also goes through a second backend that hands httpx the POST
   URL as text, as the client did before dc1ca72 (httpx then parses it on every request), interleaved
   with the rest: the before/after of the client's own time before its first byte goes out.

The two wire formats are measured in one process, alternating rounds and, for the TTFT figures, alternating
request by request (which goes first alternates too), so load from elsewhere hits both alike; the load
average at each phase is recorded with the figures. Timing figures on a shared 2-core VM are noisy: rerun on
a quiet machine before quoting them.

    python tests/benchmarks/bench_messages.py [--events 20000] [--rounds 5] [--requests 300] [--url-as-text]
                                              [--out FILE]
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
from tests.benchmarks.bench_http import (  # noqa: E402
    CLIENT_CPU,
    SERVER_CPU,
    overhead_figures,
    pct,
    start,
    task,
)
from tests.helpers.http import free_port  # noqa: E402

TEXT_URL = " (URL as text)"
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
    clients: dict[str, tuple[HttpBackend, str]], n: int, traced: dict[str, list[dict[str, int]]] | None
) -> dict[str, tuple[list[Any], list[dict[str, int]]]]:
    """``n`` requests per client (name → backend and its server's base URL), interleaved request by
    request (who goes first alternates); each client's generations and its server's stamps for them.
    ``traced``: a client's httpcore trace stamps are collected into ``traced[name]``."""
    t = task("fast:8", 8)
    sent: dict[str, list[str]] = {}  # base URL → the clients that sent to it, in order
    gens: dict[str, list[Any]] = {name: [] for name in clients}

    def one(name: str, keep: bool) -> None:
        backend, base = clients[name]
        if traced is not None:
            traced[name].append({})
        g = backend.generate(t)
        if keep:
            gens[name].append(g)
            sent.setdefault(base, []).append(name)

    for name in clients:
        for _ in range(20):
            one(name, keep=False)
    order = list(clients)
    for i in range(n):
        for name in order if i % 2 == 0 else order[::-1]:
            one(name, keep=True)
    stamps: dict[str, list[dict[str, int]]] = {name: [] for name in clients}
    for base, names in sent.items():
        for name, stamp in zip(names, httpx.get(f"{base}/_stamps").json()[-len(names) :], strict=True):
            stamps[name].append(stamp)
    return {name: (gens[name], stamps[name]) for name in clients}


def add_tracer(backend: HttpBackend, sink: list[dict[str, int]]) -> None:
    """Stamp httpcore's trace events (first of each name) into ``sink[-1]`` for every request."""

    async def trace(name: str, info: dict[str, Any]) -> None:
        sink[-1].setdefault(name, time.perf_counter_ns())

    async def hook(request: httpx.Request) -> None:
        request.extensions["trace"] = trace

    assert backend._client is not None
    backend._client.event_hooks["request"].append(hook)


def spread(gens: list[Any], stamps: list[dict[str, int]]) -> dict[str, float]:
    """The overhead's lower quantiles and the share of requests over the 1 ms goal: on a shared machine the
    overhead is two modes (the client and server woken at once, or one of them waiting behind another
    job for a scheduler slice), and a median near 50% delayed flips between them."""
    over = sorted(
        (g.content_ns[0] - g.t_dispatch_ns - (s["first_byte_ns"] - s["recv_ns"])) / 1e6
        for g, s in zip(gens, stamps, strict=True)
    )
    return {
        "overhead_ms_p10": pct(over, 10),
        "overhead_ms_p25": pct(over, 25),
        "share_over_1ms": sum(o > 1.0 for o in over) / len(over),
    }


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
    p.add_argument(
        "--url-as-text",
        action="store_true",
        help="also trace, interleaved, each wire with the POST URL passed as text (the client before dc1ca72)",
    )
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
        clients = {wire: (backends[wire], bases[wire]) for wire in WIRES}
        results["load_avg_ttft"] = os.getloadavg()
        plain = ttft_pairs(clients, args.requests, None)
        if args.url_as_text:
            for wire in WIRES:
                old = backends[f"{wire}{TEXT_URL}"] = backend_for(wire, bases[wire])
                old._post_url = old._url  # type: ignore[method-assign,assignment]
                clients[f"{wire}{TEXT_URL}"] = (old, bases[wire])
        traced: dict[str, list[dict[str, int]]] = {name: [] for name in clients}
        for name, (b, _) in clients.items():
            add_tracer(b, traced[name])
        results["load_avg_breakdown"] = os.getloadavg()
        split = ttft_pairs(clients, args.requests, traced)
        for name in clients:
            wire = name.removesuffix(TEXT_URL)
            if name == wire:
                results[wire] = {
                    "events_per_request": args.events,
                    "events_per_s_wall_median": statistics.median(r[0] for r in rates[wire]),
                    "events_per_cpu_s_median": statistics.median(r[1] for r in rates[wire]),
                    "rounds": args.rounds,
                    "ttft": {**overhead_figures(*plain[wire]), **spread(*plain[wire])},
                }
            results[wire]["ttft_traced" if name == wire else "ttft_traced_url_as_text"] = {
                **overhead_figures(*split[name]),
                **breakdown(*split[name], traced[name][-args.requests :]),
            }
        for wire in WIRES:
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

"""Figures for agent workloads (issue 14), on the in-process engine (SmolLM2-135M):

1. Harness overhead per step: the time of an agent task not spent in the model or in tools, per step
   (goal: <= 2 ms median). The model runs for real; its replies are forced to a scripted trajectory
   (SmolLM2 rarely calls tools), so the loop parses, runs real tools and builds records every step.
2. Prefix reuse on a 6-step task: Σ prefill tokens (the engine's own count) and step TTFT with the KV
   cache of the previous step kept vs re-prefilled, interleaved round by round (this 2-core VM is noisy).
3. Trace replay: the trace the loop wrote, replayed open-loop on the same backend, reproduces the
   recorded prompt and completion tokens of every step exactly.

    python tests/benchmarks/bench_agent.py [--rounds 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.backends.base import ChatRequest, Generation  # noqa: E402
from bench.backends.llama_cpp import LlamaCppBackend  # noqa: E402
from bench.devices.profiles import LlamaCppSettings, host_facts  # noqa: E402
from bench.models.catalog import resolve_model  # noqa: E402
from bench.results.schema import Record  # noqa: E402
from bench.run.agent import AgentLoop  # noqa: E402
from bench.run.agent_protocol import to_text_protocol  # noqa: E402
from bench.suite.loader import Task  # noqa: E402

SIX_STEPS = [  # five real tool calls, then the answer: six model calls
    {"tool": "list_files", "arguments": {"path": "config"}},
    {"tool": "read_file", "arguments": {"path": "config/settings.ini"}},
    {"tool": "grep", "arguments": {"pattern": "widget", "path": "data/prices.csv"}},
    {"tool": "grep", "arguments": {"pattern": "tax_rate", "path": "config"}},
    {"tool": "calculator", "arguments": {"expression": "3 * 12.50 * (1 + 0.08)"}},
]
TASK = Task.model_validate(
    {
        "id": "six-steps",
        "category": "lookup-compute",
        "messages": [{"role": "user", "content": "How much do 3 widgets cost including tax? Use the tools."}],
        "check": {"type": "number", "value": 40.5, "tolerance": 0.01},
        "agent": {
            "tools": ["list_files", "read_file", "grep", "calculator"],
            "max_steps": 8,
            "max_tokens_per_call": 8,
        },
    }
)


class Forced:
    """The real model generates (timed as usual); its text is then replaced by the scripted reply."""

    name = "forced"

    def __init__(self, backend: LlamaCppBackend) -> None:
        self.backend = backend
        self.replies: list[str] = []
        self.gens: list[Generation] = []

    def native_tools(self) -> bool:
        return False

    def chat(self, request: ChatRequest, *, progress: Any = None) -> Generation:
        gen = self.backend.chat(request)
        gen.text = self.replies.pop(0)
        self.gens.append(gen)
        return gen


SINK = open(os.devnull, "w")  # noqa: SIM115 - records are serialized and written as the bundle writer does


def one_task(forced: Forced, prefix_cache: bool) -> tuple[Record, list[Record], list[dict[str, Any]]]:
    forced.replies = [json.dumps(c) for c in SIX_STEPS] + ["3 widgets with tax cost 40.50 EUR."]
    forced.gens = []
    records: list[Record] = []
    trace: list[dict[str, Any]] = []

    def append(rec: Record) -> None:  # what BundleWriter.append does: one JSON line, flushed
        SINK.write(rec.model_dump_json(exclude_none=False) + "\n")
        SINK.flush()
        records.append(rec)

    def write_trace(line: dict[str, Any]) -> None:  # what AgentRunner writes to trace.jsonl
        SINK.write(json.dumps(line, ensure_ascii=False) + "\n")
        SINK.flush()
        trace.append(line)

    loop = AgentLoop(
        forced,  # type: ignore[arg-type]
        run_id="bench",
        anchor_ns=0,
        append=append,
        trace=write_trace,
        prefix_cache=prefix_cache,
    )
    summary = loop.run_task(TASK, 0, False)
    return summary, records, trace


class Instant:
    """A model that answers at once with the scripted replies: the loop's own cost, without an engine
    competing for the CPU (on a 2-core VM the engine's threads leave the harness preempted)."""

    name = "instant"

    def __init__(self) -> None:
        self.replies: list[str] = []
        self.gens: list[Generation] = []

    def native_tools(self) -> bool:
        return False

    def chat(self, request: ChatRequest, *, progress: Any = None) -> Generation:
        t0 = time.perf_counter_ns()
        gen = Generation(t0, t0 + 1, [t0 + 1], self.replies.pop(0), 100, 8, "engine", "stop")
        self.gens.append(gen)
        return gen


def instant_harness_ms(n: int) -> list[float]:
    backend = Instant()
    out = []
    for _ in range(n):
        summary, _r, _t = one_task(backend, True)  # type: ignore[arg-type]
        out.append((summary.harness_s or 0.0) / 6 * 1e3)
    return out


class Nonce:
    """Through a server: ``off`` puts a unique line first in every request, so the server's own KV
    prefix reuse (llama_cpp.server keeps the previous prompt's cache) finds nothing to reuse."""

    def __init__(self, inner: Any, off: bool) -> None:
        self.inner, self.off, self.n = inner, off, 0
        self.name = "nonce"

    def native_tools(self) -> bool:
        return False

    def chat(self, request: ChatRequest, *, progress: Any = None) -> Generation:
        if self.off:
            self.n += 1
            first = {
                **request.messages[0],
                "content": f"[request {self.n} {time.time_ns()}]\n" + request.messages[0]["content"],
            }
            request = ChatRequest(
                [first, *request.messages[1:]], None, request.max_tokens, request.temperature, request.seed
            )
        return self.inner.chat(request)


def server_figures(rounds: int) -> dict[str, Any]:
    """Step TTFT of the 6-step task through llama_cpp.server, its prefix reuse on vs defeated."""
    import subprocess

    import httpx

    from bench.backends.http.client import OpenAIHttpBackend
    from bench.devices.profiles import load_device
    from tests.helpers.http import free_port, llama_server_command, write_profile

    port = free_port()
    proc = subprocess.Popen(
        llama_server_command(resolve_model("smollm2-135m").path, port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            profile = load_device(str(write_profile(Path(tmp) / "p.toml", base, model="smollm2")))
        http = OpenAIHttpBackend(profile)
        http.load()
        ttft: dict[str, list[list[float]]] = {"on": [], "off": []}
        for _ in range(rounds):
            for mode in ("on", "off"):
                forced = Forced(Nonce(http, mode == "off"))  # type: ignore[arg-type]
                _s, records, _t = one_task(forced, True)
                ttft[mode].append([r.ttft_ms or 0.0 for r in records if r.kind == "model"])
        http.close()
    finally:
        proc.terminate()
        proc.wait(10)
    return {
        f"step_ttft_ms_server_reuse_{m}": [
            round(statistics.median(col), 1) for col in zip(*rows, strict=True)
        ]
        for m, rows in ttft.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--instant-only", action="store_true", help="only the loop's own cost (no engine)")
    ap.add_argument("--server-only", action="store_true", help="only the llama_cpp.server TTFT figure")
    args = ap.parse_args()
    if args.server_only:
        print(json.dumps(server_figures(args.rounds), indent=2))
        return
    instant = instant_harness_ms(30)
    if args.instant_only:
        print(
            json.dumps(
                {"instant_harness_ms_per_step": {"median": statistics.median(instant), "max": max(instant)}}
            )
        )
        return
    backend = LlamaCppBackend(resolve_model("smollm2-135m"), LlamaCppSettings(n_ctx=4096))
    backend.load()
    forced = Forced(backend)
    one_task(forced, True)  # warm up
    harness_per_step: list[float] = []
    on_prefill: list[int] = []
    off_prefill: list[int] = []
    ttft: dict[str, list[list[float]]] = {"on": [], "off": []}
    prompt_tokens: list[int] = []
    for _ in range(args.rounds):
        for mode in ("on", "off"):
            summary, records, _trace = one_task(forced, mode == "on")
            assert summary.passed and summary.steps == 6, (summary.stop_reason, summary.check_detail)
            harness_per_step.append((summary.harness_s or 0.0) / 6 * 1e3)
            prefilled = sum(int((g.engine_timings or {}).get("prompt_eval_tokens", 0)) for g in forced.gens)
            (on_prefill if mode == "on" else off_prefill).append(prefilled)
            ttft[mode].append([r.ttft_ms or 0.0 for r in records if r.kind == "model"])
            prompt_tokens = [r.prompt_tokens or 0 for r in records if r.kind == "model"]
    # replay the last trace open-loop: same context, the recorded number of output tokens
    _summary, _records, trace = one_task(forced, True)
    matches = 0
    for i, line in enumerate(trace):
        req = line["request"]
        gen = backend.chat(ChatRequest(to_text_protocol(req["messages"], req["tools"]), None,
                                       max_tokens=8, reuse_prefix=i > 0,
                                       exact_tokens=line["usage"]["completion_tokens"]))  # fmt: skip
        matches += (gen.prompt_tokens, gen.completion_tokens) == (
            line["usage"]["prompt_tokens"], line["usage"]["completion_tokens"])  # fmt: skip
    backend.close()
    step_ttft = {m: [statistics.median(col) for col in zip(*rows, strict=True)] for m, rows in ttft.items()}
    result = {
        "date": dt.date.today().isoformat(),
        "host": {k: host_facts().get(k) for k in ("cpu_model", "cpu_count", "platform")},
        "rounds": args.rounds,
        "harness_ms_per_step": {"median": statistics.median(harness_per_step), "max": max(harness_per_step)},
        "harness_ms_per_step_instant_model": {"median": statistics.median(instant), "max": max(instant)},
        "six_step_task": {
            "prompt_tokens_per_step": prompt_tokens,
            "prefill_tokens_reuse_on": statistics.median(on_prefill),
            "prefill_tokens_reuse_off": statistics.median(off_prefill),
            "step_ttft_ms_reuse_on": [round(x, 1) for x in step_ttft["on"]],
            "step_ttft_ms_reuse_off": [round(x, 1) for x in step_ttft["off"]],
        },
        "replay_steps_matching": f"{matches}/{len(trace)}",
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()

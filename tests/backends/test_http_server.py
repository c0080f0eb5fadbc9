"""The HTTP backend against a real ``llama_cpp.server`` running SmolLM2, through the CLI as users run it.

The cross-check runs the same suite in-process and through the server at temperature 0, both with
``--cache-bust`` and the same ``--seed`` (so both see the same prompts): the answers must be identical,
and the token counts equal or their difference shown with each side's source.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from bench.results.bundle import read_bundle
from tests.helpers import ROOT, run_cli
from tests.helpers.http import write_profile

MINI = str(ROOT / "tests" / "fixtures" / "suites" / "mini.toml")
SERVER_HTTP = {"tokenizer": "smollm2-135m", "extra_body": {"repeat_penalty": 1.0}, "shape_eos": "min_tokens"}


@pytest.fixture(scope="module")
def server_profile(llama_server: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_profile(
        tmp_path_factory.mktemp("dev") / "srv.toml", llama_server, model="smollm2-135m", **SERVER_HTTP
    )


def _run(*args: str) -> dict:  # type: ignore[type-arg]
    proc = run_cli("run", *args, "--json", timeout=720)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_shipped_local_server_profile_runs_mini_suite(llama_server: str, tmp_path: Path) -> None:
    summary = _run(
        "--device", "local-server", "--base-url", llama_server, "--suite", MINI, "-r", "1", "-w", "1",
        "--cache-bust", "--out", str(tmp_path),
    )  # fmt: skip
    assert summary["overall"]["errors"] == 0 and summary["overall"]["n"] == 3
    bundle = read_bundle(summary["run_dir"])
    m = bundle.manifest
    assert m.device.base_url == llama_server and m.device.backend == "openai_http"
    assert m.backend.name == "openai_http" and m.backend.tokenizer["has_chat_template"] is True
    assert m.backend.preflight["models"] and m.settings.cache_bust is True
    assert m.model is None  # the endpoint's identity is base_url + model name (compat.key_properties)
    for r in bundle.records:
        assert r.status == "ok" and r.http_status == 200 and r.token_count_source == "tokenizer"
        assert r.n_chunks and r.chunk_tokens and len(r.chunk_tokens) == r.n_chunks
        assert r.ttft_ms and r.e2e_ms and r.prompt_tokens and r.completion_tokens
        assert r.stream_end_ms is not None and r.stream_end_ms >= r.e2e_ms


@pytest.mark.slow
@pytest.mark.timeout(1500)  # ~1 min on a quiet 2-core machine; a shared one can be 10x slower
def test_cross_check_in_process_vs_server(server_profile: Path, tmp_path: Path) -> None:
    """The default suite, end to end through the CLI on both backends: identical answers."""
    local = tmp_path / "local.toml"
    local.write_text(
        'name = "in-process, flash attention off"\n[llama_cpp]\nflash_attn = false\nn_threads = 2\n'
    )
    common = ("--suite", "default", "-r", "1", "-w", "0", "--cache-bust", "--seed", "42")
    a = _run("--device", str(local), *common, "--out", str(tmp_path / "a"))
    b = _run("--device", str(server_profile), *common, "--out", str(tmp_path / "b"))
    ra = {r.task_id: r for r in read_bundle(a["run_dir"]).records}
    rb = {r.task_id: r for r in read_bundle(b["run_dir"]).records}
    assert set(ra) == set(rb) and len(ra) >= 24
    different = [t for t in ra if ra[t].output_text != rb[t].output_text]
    assert not different, {t: (ra[t].output_text, rb[t].output_text) for t in different[:3]}
    counts = []
    for t in ra:
        x, y = ra[t], rb[t]
        assert x.token_count_source == "engine" and y.token_count_source == "tokenizer"
        assert x.prompt_tokens == y.prompt_tokens, t  # same template, same tokenizer
        counts.append((t, x.completion_tokens, y.completion_tokens))
    # re-tokenizing an answer may differ from the engine's tokens; show any difference, keep it small
    off = [(t, e, k) for t, e, k in counts if e != k]
    print(f"completion tokens differ on {len(off)}/{len(counts)} tasks (engine vs tokenizer): {off}")
    assert all(abs(e - k) <= max(2, e // 10) for _t, e, k in off), off  # type: ignore[operator]
    assert a["overall"]["pass_rate"] == b["overall"]["pass_rate"]


def test_closed_loop_concurrency_gives_the_same_answers(server_profile: Path, tmp_path: Path) -> None:
    # prompts as written (no per-request prefix), so both runs ask exactly the same questions
    seq = _run(
        "--device", str(server_profile), "--suite", MINI, "-r", "2", "-w", "0", "--warm-cache",
        "--out", str(tmp_path),
    )  # fmt: skip
    conc = _run(
        "--device", str(server_profile), "--suite", MINI, "-r", "2", "-w", "1", "--concurrency", "3",
        "--slo-ttft-ms", "60000", "--warm-cache", "--out", str(tmp_path),
    )  # fmt: skip
    o = conc["overall"]
    assert o["errors"] == 0 and o["n"] == 6 and o["request_throughput_rps"] > 0 and o["output_tps_total"] > 0
    assert o["goodput_rps"] == pytest.approx(o["request_throughput_rps"]) and o["slo_attainment"] == 1.0
    bundle = read_bundle(conc["run_dir"])
    assert bundle.manifest.settings.mode == "closed_loop" and bundle.manifest.settings.concurrency == 3
    assert bundle.manifest.backend.settings.recorded()["max_connections"] == 3
    assert len(bundle.records) == 9 and sum(r.warmup for r in bundle.records) == 3
    # requests overlapped: some started before an earlier one ended
    starts = sorted((r.start_ns, r.end_ns) for r in bundle.records if not r.warmup)
    assert any(b0 < a1 for (_a0, a1), (b0, _b1) in itertools.pairwise(starts))
    texts = {(r.task_id, r.output_text) for r in read_bundle(seq["run_dir"]).records}
    assert {(r.task_id, r.output_text) for r in bundle.records} == texts


def test_shapes_over_http_size_prompts_and_ignore_eos(server_profile: Path, tmp_path: Path) -> None:
    suite = tmp_path / "sh.toml"
    suite.write_text(
        'name = "sh"\n'
        '[[tasks]]\nid = "pp64"\nshape = { prompt_tokens = 64, gen_tokens = 1 }\ncheck = { type = "none" }\n'
        '[[tasks]]\nid = "tg16"\nshape = { prompt_tokens = 0, gen_tokens = 16 }\ncheck = { type = "none" }\n'
    )
    summary = _run(
        "--device", str(server_profile), "--suite", str(suite), "-r", "1", "-w", "0", "--out", str(tmp_path)
    )
    rows = {r["test"]: r for r in summary["shapes"]}
    assert rows["pp64"]["tps_mean"] > 0 and rows["tg16"]["tps_mean"] > 0
    recs = {r.task_id: r for r in read_bundle(summary["run_dir"]).records}
    assert recs["pp64"].prompt_tokens == 64 and recs["tg16"].completion_tokens == 16


def _long_prompt_suite(path: Path) -> Path:
    """Three tasks whose prompts (~450 tokens each) take a prefill a cache hit visibly skips."""
    text = " ".join(f"Item {i}: the {w} box holds {i * 7 % 13} marbles." for i, w in enumerate(
        ["red", "blue", "green", "white", "black", "brown"] * 6
    ))  # fmt: skip
    tasks = "".join(
        f'[[tasks]]\nid = "{tid}"\nmax_tokens = 4\ncheck = {{ type = "none" }}\n'
        f'messages = [{{ role = "user", content = "{question} {text}" }}]\n'
        # the question first: no task's prompt shares a prefix with another's beyond the chat template
        for tid, question in (("sum", "How many boxes?"), ("red", "Which box is first?"), ("last", "Last?"))
    )
    path.write_text('name = "long"\n' + tasks)
    return path


def test_default_run_measures_fresh_prompts_and_warm_cache_warns(
    server_profile: Path, tmp_path: Path
) -> None:
    """llama_cpp.server reuses the previous request's KV prefix. By default every request gets its own
    prefix, so the measured TTFT is a fresh prefill's, like the warmup's; ``--warm-cache`` sends the
    warmup's prompt again, the server skips its prefill, TTFT collapses, and the run says so."""
    suite = _long_prompt_suite(tmp_path / "long.toml")
    common = ("--device", str(server_profile), "--suite", str(suite), "-r", "2", "-w", "1")

    def ttft(summary: dict) -> tuple[float, float]:  # type: ignore[type-arg]
        recs = read_bundle(summary["run_dir"]).records
        first = [r.ttft_ms for r in recs if r.warmup]
        repeats = [r.ttft_ms for r in recs if not r.warmup]
        return sorted(first)[1], sorted(repeats)[len(repeats) // 2]  # type: ignore[type-var, return-value]

    fresh = _run(*common, "--out", str(tmp_path / "fresh"))
    m = read_bundle(fresh["run_dir"]).manifest
    assert m.settings.cache_bust is True and m.settings.warm_cache is False
    first_ms, repeat_ms = ttft(fresh)
    assert repeat_ms > 0.5 * first_ms, (first_ms, repeat_ms)  # a fresh prefill every time
    assert "cached_prompts" not in [w["kind"] for w in fresh["warnings"]]

    warm = _run(*common, "--warm-cache", "--out", str(tmp_path / "warm"))
    m = read_bundle(warm["run_dir"]).manifest
    assert m.settings.cache_bust is False and m.settings.warm_cache is True
    first_ms, repeat_ms = ttft(warm)
    assert repeat_ms < 0.35 * first_ms, (first_ms, repeat_ms)  # the prompt cache answered
    (w,) = [w for w in warm["warnings"] if w["kind"] == "cached_prompts"]
    assert w["details"]["tasks"] == 3 and "--warm-cache" in w["remedy"]
    print(
        f"TTFT p50 default {fresh['overall'].get('ttft_p50_ms')} ms, --warm-cache {warm['overall'].get('ttft_p50_ms')} ms"
    )

"""The result-bundle schema: one ``Record`` per request, one ``Manifest`` per run.

Format history (bump ``SCHEMA_VERSION`` only for a *changed meaning*; new optional fields do not bump it
and readers ignore fields they do not know):

- 1 (infercost 0.1): first version. ``records.jsonl`` lines are ``Record``; ``manifest.json`` is
  ``Manifest``. Timing stamps are ``perf_counter_ns`` relative to ``Manifest.anchor_perf_ns``.
  Agent tasks (docs/agents.md) added optional fields, no version bump: ``kind`` is None for a
  single-shot request (every record before them), ``"model"`` / ``"tool"`` for one call inside an agent
  task (linked by ``task_id``, ``repetition``, ``step``), ``"agent"`` for the task's summary. Readers that
  aggregate per task use the task-level records (``kind`` None or ``"agent"``, see ``task_level``); per
  call latency uses the call-level ones (``kind`` None or ``"model"``, see ``call_level``). All four
  kinds are built by one factory, ``bench.run.records.RecordFactory``.
  Shapes at a depth and in parallel (docs/shapes.md) added optional fields, no version bump:
  ``depth_tokens``, ``depth_ms``, ``parallel_seqs``, ``shared_prompt``, ``n_kv_tokens``, ``pp_ms``,
  ``tg_ms``; None on every record before them.
  Public benchmarks (docs/benchmarks.md) added optional fields, no version bump: ``calls`` (the tool
  calls of a reply, as written) and ``turn`` (a multi-turn task's user turn); the manifest's
  ``suite.source`` and ``suite.subset`` say where a suite came from and which part of it ran.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bench.results.manifest_parts import (
    DeviceFacts,
    EngineSettings,
    HygieneFacts,
    HygieneSnapshot,
    PowerFacts,
    ResumeFacts,
    SandboxFacts,
)
from bench.results.migrate import upgrade

__all__ = [
    "SCHEMA_VERSION",
    "BackendFacts",
    "DeviceFacts",
    "EngineSettings",
    "HostFacts",
    "HygieneFacts",
    "HygieneSnapshot",
    "Manifest",
    "ModelFacts",
    "PowerFacts",
    "Record",
    "RecordKind",
    "ResumeFacts",
    "RunSettingsFacts",
    "SandboxFacts",
    "SourceFacts",
    "Status",
    "StopReason",
    "SubsetFacts",
    "SuiteFacts",
    "TokenCountSource",
    "call_level",
    "task_level",
]

SCHEMA_VERSION = 1

Status = Literal["ok", "error", "timeout", "cancelled"]
TokenCountSource = Literal["engine", "usage", "tokenizer", "chunks"]
RecordKind = Literal["model", "tool", "agent"]
StopReason = Literal["answer", "max_steps", "token_budget", "error"]


class Record(BaseModel):
    """One request. Raw stamps (``start_ns``/``end_ns``, ``ttft_ms`` + ``itl_ms``) are kept so every
    statistic can be recomputed at read time."""

    model_config = ConfigDict(extra="ignore")

    run_id: str
    task_id: str
    category: str
    repetition: int
    warmup: bool
    status: Status
    error: str | None = None
    started_utc: str
    start_ns: int = Field(description="dispatch, perf_counter_ns relative to the manifest anchor")
    end_ns: int = Field(description="stream end, perf_counter_ns relative to the manifest anchor")
    ttft_ms: float | None = None
    e2e_ms: float | None = None
    itl_ms: list[float] = Field(default_factory=list)
    tpot_ms: float | None = None
    decode_tps: float | None = None
    prefill_tps: float | None = None
    prefill_source: Literal["client", "engine"] = "client"
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_tokens: int | None = None
    token_count_source: TokenCountSource | None = None
    finish_reason: str | None = None
    passed: bool | None = None
    check_detail: str | None = None
    output_text: str | None = None
    output_sha256: str | None = None
    prompt_sha256: str | None = None
    peak_rss_mb: float | None = None
    engine_timings: dict[str, float] | None = None
    shape: str | None = None
    cached_tokens: int | None = None  # cache reads, part of prompt_tokens (OpenAI's convention)
    # cache writes where the API reports them (Anthropic's cache_creation_input_tokens), part of
    # prompt_tokens too; the 1-hour-TTL share of them (Anthropic bills it at a higher rate)
    cache_write_tokens: int | None = None
    cache_write_1h_tokens: int | None = None
    # energy over the request window (gross), minus the idle baseline (net); filled by the power layer
    energy_j: float | None = None
    energy_net_j: float | None = None
    energy_source: Literal["counter", "sampled", "apportioned", "estimated"] | None = None
    avg_power_w: float | None = None
    # cost of this request (docs/cost.md): total and its parts; filled by the cost layer
    cost_usd: float | None = None
    cost_energy_usd: float | None = None
    cost_hardware_usd: float | None = None
    cost_api_usd: float | None = None
    # what the cost rests on: sensor energy ("measured"), modelled energy ("estimated"), token counts ×
    # list prices ("tokens"), a subscription fee spread over stated tasks ("subscription"), or hardware
    # amortization alone because energy is unknown ("hardware"), a rented GPU's hourly rate × busy time
    # ("rented"); cost_tier says which token tier priced it ("batch"; None: interactive list prices)
    cost_source: Literal["measured", "estimated", "tokens", "subscription", "hardware", "rented"] | None = (
        None
    )
    cost_tier: Literal["batch"] | None = None
    # over HTTP (openai_http, anthropic_messages): what the wire showed. A chunk is not a token: n_chunks
    # counts content chunks, chunk_tokens their tokens where a tokenizer counted them; every failed attempt is
    # in retries (the last one too when the request failed); retry_delay_ms: first → final dispatch
    n_chunks: int | None = None
    chunk_tokens: list[int] | None = None
    http_status: int | None = None
    server_model: str | None = None
    stream_end_ms: float | None = Field(default=None, description="dispatch → end of stream ([DONE])")
    ttft_thinking_ms: float | None = Field(
        default=None, description="dispatch → first hidden-reasoning (thinking) token, beside ttft_ms"
    )
    retries: list[dict[str, Any]] | None = None
    retry_delay_ms: float | None = None
    # open-loop load (--rate): when the seeded Poisson schedule said this request should start
    scheduled_ns: int | None = Field(default=None, description="relative to the manifest anchor")
    # agent tasks (docs/agents.md): None = a single-shot request; model/tool = one call of an agent
    # task at ``step``; agent = the task's summary (its window spans the whole task)
    kind: RecordKind | None = None
    step: int | None = None
    turn: int | None = None  # the user turn of a multi-turn agent task (BFCL), from 0
    # the tool calls a reply made, as the model wrote them ({"name", "arguments"}): a tool-offered
    # request's (what the tool_call check judged) or an agent model call's
    calls: list[dict[str, str]] | None = None
    tool_name: str | None = None
    tool_error: bool | None = None
    tool_cpu_s: float | None = Field(default=None, description="child CPU seconds (user + system)")
    tool_peak_rss_mb: float | None = None
    tool_output_bytes: int | None = None
    # summary only: the time split (model = Σ dispatch→stream end per call, tool = Σ tool wall,
    # harness = wall − model − tool, never negative), counts, tokens by tier and why the loop stopped
    steps: int | None = None
    model_calls: int | None = None
    tool_calls: int | None = None
    tool_errors: int | None = None
    stop_reason: StopReason | None = None
    wall_s: float | None = None
    model_s: float | None = None
    tool_s: float | None = None
    harness_s: float | None = None
    input_fresh_tokens: int | None = None
    prefix_hit_ratio: float | None = None
    # shapes at a depth and in parallel (docs/shapes.md), in-process only. depth_tokens: evaluated into
    # the KV cache before the request, untimed (depth_ms: how long that took, in no latency);
    # parallel_seqs: B sequences decoded together (prompt_tokens and completion_tokens count all of
    # them); pp_ms / tg_ms: llama-batched-bench's T_PP and T_TG; n_kv_tokens: KV cells held at the end
    # (N_KV), read back from the engine
    depth_tokens: int | None = None
    depth_ms: float | None = None
    parallel_seqs: int | None = None
    shared_prompt: bool | None = None
    n_kv_tokens: int | None = None
    pp_ms: float | None = None
    tg_ms: float | None = None


def task_level(records: Iterable[Record]) -> list[Record]:
    """One record per attempt at a task: single-shot requests and agent summaries (pass rate, cost,
    energy per task). Per-call agent records are left out so nothing is counted twice."""
    return [r for r in records if r.kind is None or r.kind == "agent"]


def call_level(records: Iterable[Record]) -> list[Record]:
    """One record per model request: single-shot requests and agent model calls (latency, tokens)."""
    return [r for r in records if r.kind is None or r.kind == "model"]


class _Part(BaseModel):
    """A typed part of the manifest. Fields a newer infercost adds are kept (``extra="allow"``) so a
    bundle read and rewritten (``--resume``) by this version loses nothing; code reads declared fields
    only, so a renamed fact fails mypy instead of silently reading None."""

    model_config = ConfigDict(extra="allow")


class HostFacts(_Part):
    """The machine that ran (``bench.devices.profiles.host_facts``): runs on different hosts never pool."""

    hostname: str | None = None
    os: str | None = None
    machine: str | None = None
    cpu_model: str | None = None
    cpu_logical: int | None = None
    cpu_physical: int | None = None
    memory_gb: float | None = None
    python: str | None = None
    in_container: bool | None = None
    llc_bytes: int | None = None  # last-level cache, for the roofline's "fits in cache" verdict


class ModelFacts(_Part):
    """A local GGUF model: its identity is the file's sha256 (``ResolvedModel.manifest``)."""

    ref: str | None = None
    catalog_name: str | None = None
    file_name: str | None = None
    path: str | None = None
    sha256: str | None = None
    size_bytes: int | None = None
    tensor_bytes: int | None = None
    architecture: str | None = None
    name: str | None = None
    n_params: int | None = None
    quantization: str | None = None
    context_length: int | None = None
    has_chat_template: bool | None = None
    gguf_version: int | None = None


class BackendFacts(_Part):
    """What the backend reported after loading. ``settings`` are the engine's own (llama.cpp context
    parameters, or the HTTP client's), compared exactly by ``--resume`` and pooling."""

    name: str | None = None
    engine: str | None = None
    engine_version: str | None = None
    settings: EngineSettings = Field(default_factory=EngineSettings)
    model: str | None = None  # over HTTP: the endpoint's model name
    base_url: str | None = None
    prompt_format: str | None = None
    plain_completion_stop: str | None = None
    gpu_offload_supported: bool | None = None
    system_info: str | None = None  # llama.cpp's build features (AVX2, CUDA, Metal, ...)
    agent_protocol: str | None = None  # agent suites: "native" tool calls or the "text" JSON protocol


class SourceFacts(_Part):
    """A public benchmark's provenance (``bench.suite.loader.SuiteSource``): the package that carried
    its data, that package's version and licence, the category run and the prompt style."""

    benchmark: str | None = None
    package: str | None = None
    version: str | None = None
    licence: str | None = None
    category: str | None = None
    prompt_style: str | None = None
    n_available: int | None = None


class SubsetFacts(_Part):
    """Which part of the suite ran (``--tasks``, ``--sample``, ``--seed``): of ``n_total`` tasks,
    ``n_selected``."""

    tasks: str | None = None
    sample: int | None = None
    seed: int | None = None
    n_selected: int | None = None
    n_total: int | None = None


class SuiteFacts(_Part):
    """The suite run: ``hash`` is over its validated content, so layout changes do not matter."""

    name: str | None = None
    version: str | None = None
    hash: str | None = None
    path: str | None = None
    n_tasks: int | None = None
    is_shapes: bool = False
    source: SourceFacts | None = None  # a public benchmark's package, version, licence, category, style
    subset: SubsetFacts | None = None  # the part of the suite that ran (None: all of it)


class RunSettingsFacts(_Part):
    """Every run setting under the name of its ``RunOptions`` field, so ``--resume`` restores and
    compares them all (``bench.run.orchestrate``)."""

    repetitions: int | None = None
    warmup: int | None = None
    no_text: bool = False
    min_time_s: float | None = None
    cooldown_s: float | None = None
    # cost and roofline inputs given on the command line (readers: reader flag > these > profile)
    kwh_usd: float | None = None
    hardware_usd: float | None = None
    memory_bandwidth_gbs: float | None = None
    tasks_per_month: float | None = None
    power_mode: str | None = None
    batch: bool = False  # --batch: token APIs priced at their batch tier (docs/prices.md)
    seed: int | None = None
    # every request's prompt made unique (the default over HTTP; None: a bundle from before it was recorded)
    cache_bust: bool | None = None
    warm_cache: bool = False  # --warm-cache: prompts repeated as written, a server's prompt cache measured
    # load shape (bench.run.traffic.TrafficOptions.manifest)
    mode: str | None = None
    concurrency: int | None = None
    rate_rps: float | None = None
    slo_ttft_ms: float | None = None
    slo_tpot_ms: float | None = None
    synthetic: bool = False  # the suite's prompts were generated, not written (reports say so)
    prefix_cache: bool | None = None  # agent suites: the previous step's KV cache kept (None: no agents)
    # part of the suite (--tasks, --sample with ``seed``) and a public benchmark's --prompt-style
    tasks: str | None = None
    sample: int | None = None
    prompt_style: str | None = None
    cache_ttl: str | None = None  # --cache-ttl: the Messages backend's cache breakpoints' TTL (docs/http.md)


class Manifest(BaseModel):
    """What was run, where, with what: the key properties that decide whether runs may be pooled.

    Every part is typed (``bench.results.manifest_parts`` for the device, power, hygiene, resumes and
    sandbox): readers read attributes, never keys. A manifest written by an earlier version is brought to
    this shape by ``bench.results.migrate.upgrade`` before it is validated."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        return upgrade(data)

    schema_version: int = SCHEMA_VERSION
    tool: str = "infercost"
    tool_version: str
    tool_commit: str | None = None  # git commit of the infercost checkout that ran it, when known
    run_id: str
    started_utc: str
    finished_utc: str | None = None
    complete: bool = False
    interrupted: bool = False
    anchor_perf_ns: int
    command: list[str] = Field(default_factory=list)
    host: HostFacts
    device: DeviceFacts
    model: ModelFacts | None = None
    backend: BackendFacts
    suite: SuiteFacts
    settings: RunSettingsFacts
    power: PowerFacts | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    # machine state at start and end of the run (bench/run/hygiene.py): {"start": {...}, "end": {...}}
    hygiene: HygieneFacts | None = None
    # one entry per `infercost run --resume` session that continued this bundle (bench/run/resume.py)
    resumes: list[ResumeFacts] = Field(default_factory=list)
    # what isolated model-written code (python-test checks) on this machine (bench/sandbox, docs/security.md)
    sandbox: SandboxFacts | None = None

"""HTTP endpoints over httpx: hosted APIs and local servers, measured like local runs.

One client for every wire format (``bench.backends.http.wire_format``): OpenAI-compatible endpoints
(``openai_http``, ``wire``) and Anthropic's Messages API (``anthropic_messages``, ``messages``) share the
connection pool, pacing, timeouts, retries, the SSE reader and the record building here; the wire format
builds the request body and accumulates the stream.

One asyncio event loop lives as long as the backend. The sequential runner calls ``generate``, which runs
one request on that loop (``run_until_complete``); the load generator (``bench.run.traffic``) runs many
``agenerate`` coroutines on the same loop and the same connection pool. The loop's own cost is outside
every timed span: the dispatch stamp is the first thing ``agenerate`` takes, before the body is built,
as the in-process backend stamps before templating and tokenizing.

Timing: each network read is stamped with ``perf_counter_ns`` as it arrives, and every SSE event in it
gets that stamp (two events in one read arrived together). TTFT is dispatch → first read holding
non-empty visible content; hidden reasoning (thinking) is not content, and the time to its first token is
kept beside TTFT as ``ttft_thinking_ms``; e2e is dispatch → the last content; the end of the stream (usage
frame, ``[DONE]``, ``message_stop``) is kept apart as ``stream_end_ms``. Reads go through ``aiter_raw``
with ``Accept-Encoding: identity``, so no decompressor buffers the stream.

Failures (see ``bench.backends.http.retry``): 401/403 raise ``EnvironmentNotReady`` (the run stops, exit
4); 429 and
5xx and connection failures are retried within the request's budget while nothing has been received;
a stream cut after content, a malformed chunk, or a timeout (first byte, idle gap, total — enforced by one
watchdog timer, not a per-read timeout) ends the request as an error or timeout record carrying the
partial answer. Every failed attempt is listed in the record. Two requests in a row that never reached
the endpoint stop the run: the endpoint went away.

Secrets: the key is read from the environment at ``load`` and lives only in the client's headers; every
message leaving this module passes through ``Redactor.scrub``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio
import httpx

from bench.backends.base import ChatRequest, Generation, ProgressFn, RequestFailed
from bench.backends.http.messages import MessagesWire
from bench.backends.http.retry import RETRYABLE_STATUS, FailedAttempt, RetryBudget, parse_retry_after
from bench.backends.http.sse import SSEParser
from bench.backends.http.wire import OpenAIWire
from bench.backends.http.wire_format import ChunkError, RequestPlan, StreamAccumulator, WireFormat
from bench.devices.http_settings import HttpSettings
from bench.devices.profiles import DeviceProfile
from bench.errors import BenchError, EnvironmentNotReady, UsageError
from bench.models.tokenizer import PLAIN_STOP, GgufTokenizer
from bench.redaction import Redactor
from bench.results.schema import Status, TokenCountSource
from bench.suite.loader import Task

__all__ = ["WIRE_FORMATS", "HttpBackend", "OpenAIHttpBackend"]

T = TypeVar("T")
_PROGRESS_EVERY_NS = 100_000_000
_ERROR_BODY_LIMIT = 64 * 1024
_DEAD_ENDPOINT_REQUESTS = 2  # consecutive requests that never reached the endpoint → stop the run
_RETRY_AFTER_STATUS = frozenset({429, 503, 529})  # answers that may say how long to wait
_JSON_CONTENT = {"Content-Type": "application/json"}

# a profile's ``backend`` → its wire format (a new native API: one module, one line here; docs/http.md)
WIRE_FORMATS: dict[str, type[WireFormat]] = {"openai_http": OpenAIWire, "anthropic_messages": MessagesWire}


@dataclass
class _Attempt:
    """How one HTTP attempt ended."""

    t_dispatch: int
    state: StreamAccumulator
    t_stream_end: int = 0
    http_status: int | None = None
    failure: str | None = None  # None: the stream completed
    status: Status = "ok"
    retryable: bool = False
    reached: bool = True  # False: never got an HTTP response (connect/DNS failure)
    retry_after_s: float | None = None


class _Watchdog:
    """First-byte, idle and total timeouts with one timer, rescheduled lazily (no per-read cost)."""

    def __init__(self, scope: anyio.CancelScope, s: HttpSettings, t0: int) -> None:
        self.scope = scope
        self.t0 = t0
        self.first_byte_ns = int(min(s.first_byte_timeout_s, s.total_timeout_s) * 1e9)
        self.idle_ns = int(s.idle_timeout_s * 1e9)
        self.total_ns = int(s.total_timeout_s * 1e9)
        self.last_read = 0  # 0 until the first body byte
        self.reason: str | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()
        self._arm(self.first_byte_ns / 1e9)

    def _arm(self, delay_s: float) -> None:
        self._handle = self._loop.call_later(max(delay_s, 0.0), self._check)

    def _check(self) -> None:
        now = time.perf_counter_ns()
        total_left = self.t0 + self.total_ns - now
        if self.last_read == 0:
            left, what = self.t0 + self.first_byte_ns - now, "first byte"
        else:
            left, what = self.last_read + self.idle_ns - now, "idle gap between chunks"
        if total_left <= 0:
            left, what = total_left, "total"
        if left <= 0:
            limit = {"first byte": self.first_byte_ns, "total": self.total_ns}.get(what, self.idle_ns)
            self.reason = f"timeout ({what} > {limit / 1e9:g} s)"
            self.scope.cancel()
            return
        self._arm(min(left, total_left) / 1e9)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


class HttpBackend:
    """An HTTP endpoint in the wire format its profile names: requests over SSE, retries, timeouts."""

    def __init__(self, device: DeviceProfile, *, max_connections: int = 1, seed: int | None = None) -> None:
        assert device.base_url and device.model  # DeviceProfile validates this
        self.wire: WireFormat = WIRE_FORMATS[device.backend]()
        self.name = self.wire.backend
        self.device = device
        self.settings = device.http
        self.base_url = device.base_url.rstrip("/")
        self.model = device.model
        self.max_connections = max(1, max_connections)
        self._rng = random.Random(seed)
        self.redactor = Redactor()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None
        self.tokenizer: GgufTokenizer | None = None
        self.plain_chat = False
        self._next_slot_ns = 0
        self._unreached = 0
        # parsed once: httpx re-parses a URL given as text on every request (~40 µs, inside the timed span)
        self._post_urls: dict[str, httpx.URL] = {}

    # ----------------------------------------------------------------------------------------- load
    def load(self) -> dict[str, Any]:
        s = self.settings
        key_env = self.device.api_key_env
        key: str | None = None
        if key_env:
            key = os.environ.get(key_env, "")
            if not key:
                raise EnvironmentNotReady(
                    f"device '{self.device.name}': environment variable {key_env} is not set",
                    fix=f"export {key_env}=<your API key> (the key is read from the environment only)",
                )
            self.redactor.add(key)
        # the profile's own (non-secret) headers may replace the wire format's, e.g. an API version
        headers = {"Accept-Encoding": "identity", **self.wire.headers(key, s), **s.headers}
        tokenizer_facts = None
        if s.tokenizer:
            from bench.models.catalog import resolve_model

            resolved = resolve_model(s.tokenizer)
            self.tokenizer = GgufTokenizer(resolved.path)
            tokenizer_facts = {
                "ref": s.tokenizer,
                "file_name": resolved.path.name,
                "sha256": resolved.sha256,
                "has_chat_template": self.tokenizer.has_chat_template,
            }
            self.plain_chat = (
                self.wire.text_completions and s.api == "auto" and not self.tokenizer.has_chat_template
            )
        self._loop = asyncio.new_event_loop()
        limits = httpx.Limits(
            max_connections=self.max_connections, max_keepalive_connections=self.max_connections
        )
        timeout = httpx.Timeout(connect=s.connect_timeout_s, read=None, write=s.connect_timeout_s, pool=None)
        self._client = httpx.AsyncClient(
            headers=headers, limits=limits, timeout=timeout, trust_env=not _is_loopback(self.base_url)
        )
        preflight = self.run(self._preflight())
        plain = self.wire.text_completions and (self.plain_chat or s.api == "completions")
        return {
            "name": self.name,
            "engine": self.wire.engine,
            "engine_version": f"httpx {httpx.__version__}",
            "base_url": self.base_url,
            "model": self.model,
            "prompt_format": "plain_completion" if plain else self.wire.prompt_format,
            "plain_completion_stop": PLAIN_STOP if plain else None,
            "tokenizer": tokenizer_facts,
            "preflight": preflight,
            "settings": {
                **s.model_dump(mode="json", exclude={"headers"}),
                "header_names": sorted(s.headers),
                "max_connections": self.max_connections,
                "authenticated": bool(key_env),
            },
        }

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the backend's loop (the load generator uses this too)."""
        if self._loop is None:
            raise BenchError("backend used before load()")
        return self._loop.run_until_complete(coro)

    def close(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for t in pending:
                t.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            if self._client is not None:
                loop.run_until_complete(self._client.aclose())
        finally:
            self._client = None
            loop.close()
            if self.tokenizer is not None:
                self.tokenizer.close()

    # ------------------------------------------------------------------------------------ preflight
    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _post_url(self, path: str) -> httpx.URL:
        url = self._post_urls.get(path)
        if url is None:
            url = self._post_urls[path] = httpx.URL(self._url(path))
        return url

    def _refused(self, status: int, body: bytes) -> EnvironmentNotReady:
        env = self.device.api_key_env
        what = f"the key from ${env}" if env else "the request (no api_key_env is set in the profile)"
        msg = self.redactor.scrub(self.wire.error_message(body))
        return EnvironmentNotReady(
            f"{self.base_url} refused {what}: HTTP {status} {msg}".strip(),
            fix="check the key, its permissions and the endpoint; no request was retried",
        )

    async def _preflight(self) -> dict[str, Any]:
        """Fail before anything is timed: unreachable endpoint, refused key, unknown model."""
        assert self._client is not None
        mode = self.settings.preflight
        facts: dict[str, Any] = {"mode": mode}
        if mode == "none":
            return facts
        t0 = time.perf_counter_ns()
        ids: list[str] | None = None
        if mode == "models":
            resp = await self._preflight_call("GET", "/models", None)
            facts["server_header"] = resp.headers.get("server")
            if resp.status_code in (401, 403):
                raise self._refused(resp.status_code, resp.content)
            if resp.status_code == 200:
                try:
                    data = resp.json().get("data") or []
                    ids = [str(m.get("id")) for m in data if isinstance(m, dict)]
                except (ValueError, AttributeError):
                    ids = None
            elif resp.status_code not in (404, 405):
                raise EnvironmentNotReady(
                    f"{self._url('/models')} answered HTTP {resp.status_code}: "
                    + self.redactor.scrub(self.wire.error_message(resp.content)),
                    fix="is base_url the API root (ending in /v1)?",
                )
            facts["models"] = ids[:20] if ids is not None else None
        if ids is None or self.model not in ids:
            await self._one_token_request(ids)
            facts["one_token_request"] = True
        facts["ms"] = round((time.perf_counter_ns() - t0) / 1e6, 2)
        return facts

    async def _preflight_call(self, method: str, path: str, body: dict[str, Any] | None) -> httpx.Response:
        assert self._client is not None
        s = self.settings
        try:
            return await self._client.request(
                method,
                self._url(path),
                json=body,
                timeout=httpx.Timeout(s.connect_timeout_s, read=min(s.first_byte_timeout_s, 60.0)),
            )
        except httpx.TimeoutException as exc:
            raise EnvironmentNotReady(
                f"endpoint {self.base_url} did not answer in time ({type(exc).__name__})",
                fix="is the server up and reachable? point another address with --base-url",
            ) from None
        except httpx.HTTPError as exc:
            raise EnvironmentNotReady(
                f"endpoint {self.base_url} is unreachable "
                f"({self.redactor.scrub(str(exc)) or type(exc).__name__})",
                fix="start the server or point --base-url at it",
            ) from None

    async def _one_token_request(self, listed: list[str] | None) -> None:
        probe = Task.model_validate(
            {
                "id": "preflight",
                "messages": [{"role": "user", "content": "Say OK."}],
                "max_tokens": 1,
                "check": {"type": "none"},
            }
        )
        plan = self.wire.request(probe, self.model, self.settings, tokenizer=None, plain_chat=self.plain_chat)
        body = {k: v for k, v in plan.body.items() if k not in ("stream", "stream_options")}
        resp = await self._preflight_call("POST", plan.path, body)
        if resp.status_code in (401, 403):
            raise self._refused(resp.status_code, resp.content)
        if resp.status_code == 404 or (resp.status_code == 400 and "model" in resp.text.lower()):
            shown = f" (it lists: {', '.join(listed[:8])})" if listed else ""
            raise UsageError(
                f"model '{self.model}' is not served at {self.base_url}{shown}: "
                + self.redactor.scrub(self.wire.error_message(resp.content)),
                fix="fix `model` in the device profile or pass --model NAME",
            )
        if resp.status_code >= 400 and resp.status_code != 429:
            raise EnvironmentNotReady(
                f"{self._url(plan.path)} answered a one-token request with HTTP {resp.status_code}: "
                + self.redactor.scrub(self.wire.error_message(resp.content))
            )

    # ------------------------------------------------------------------------------------- generate
    def generate(self, task: Task, *, progress: ProgressFn | None = None) -> Generation:
        return self.run(self.agenerate(task, progress=progress))

    async def _pace(self) -> None:
        """Stay under the profile's requests_per_minute (waiting here is before dispatch, not timed)."""
        rpm = self.settings.requests_per_minute
        if rpm is None:
            return
        now = time.perf_counter_ns()
        slot = max(now, self._next_slot_ns)
        self._next_slot_ns = slot + int(60e9 / rpm)
        if slot > now:
            await asyncio.sleep((slot - now) / 1e9)

    def native_tools(self) -> bool:
        return True

    def chat(self, request: ChatRequest, *, progress: ProgressFn | None = None) -> Generation:
        """One agent step with native tools; ``extra["tool_calls"]`` holds the reassembled calls."""
        return self.run(self.achat(request, progress=progress))

    async def achat(self, request: ChatRequest, *, progress: ProgressFn | None = None) -> Generation:
        await self._pace()
        t_first = time.perf_counter_ns()
        plan = self.wire.chat_request(request, self.model, self.settings)
        return await self._send(plan, t_first, progress)

    async def agenerate(self, task: Task, *, progress: ProgressFn | None = None) -> Generation:
        await self._pace()
        t_first = time.perf_counter_ns()
        plan = self.wire.request(
            task, self.model, self.settings, tokenizer=self.tokenizer, plain_chat=self.plain_chat
        )
        return await self._send(plan, t_first, progress)

    async def _send(self, plan: RequestPlan, t_first: int, progress: ProgressFn | None) -> Generation:
        body = json.dumps(plan.body, ensure_ascii=False).encode("utf-8")
        budget = RetryBudget(self.settings, self._rng)
        failures: list[FailedAttempt] = []
        t_dispatch = t_first
        while True:
            att = await self._attempt(plan.path, body, t_dispatch, progress)
            if att.failure is None:
                self._unreached = 0
                return self._generation(plan, att, t_first, failures)
            elapsed_ms = (time.perf_counter_ns() - att.t_dispatch) / 1e6
            wait = budget.wait_for(att.retry_after_s) if att.retryable else None
            failures.append(
                FailedAttempt(
                    attempt=len(failures) + 1,
                    reason=att.failure,
                    status=att.http_status,
                    elapsed_ms=round(elapsed_ms, 3),
                    wait_ms=round((wait or 0.0) * 1e3, 3),
                    retry_after_s=att.retry_after_s,
                )
            )
            if wait is None:
                self._note_reach(att, failures)
                gen = self._generation(plan, att, t_first, failures)
                why = att.failure
                if att.retryable and failures[:-1]:
                    why += f" (gave up after {len(failures)} attempts)"
                elif att.retryable and att.retry_after_s is not None:
                    why += f" (Retry-After {att.retry_after_s:g} s exceeds the retry budget)"
                raise RequestFailed(self.redactor.scrub(why), status=att.status, partial=gen)
            await asyncio.sleep(wait)
            t_dispatch = time.perf_counter_ns()

    def _note_reach(self, att: _Attempt, failures: list[FailedAttempt]) -> None:
        """Stop the run when the endpoint has gone away, instead of failing every request slowly."""
        if att.reached:
            self._unreached = 0
            return
        self._unreached += 1
        if self._unreached >= _DEAD_ENDPOINT_REQUESTS:
            raise EnvironmentNotReady(
                f"endpoint {self.base_url} stopped answering: {self._unreached} requests in a row never "
                f"reached it ({failures[-1].reason})",
                fix="check the server; finished records are kept",
            )

    async def _attempt(
        self, path: str, body: bytes, t_dispatch: int, progress: ProgressFn | None
    ) -> _Attempt:
        assert self._client is not None
        att = _Attempt(t_dispatch=t_dispatch, state=self.wire.new_stream())
        state, parser = att.state, SSEParser()
        watchdog: _Watchdog | None = None
        try:
            with anyio.CancelScope() as scope:
                watchdog = _Watchdog(scope, self.settings, t_dispatch)
                req = self._client.build_request(
                    "POST", self._post_url(path), content=body, headers=_JSON_CONTENT
                )
                resp = await self._client.send(req, stream=True)
                try:
                    att.http_status = resp.status_code
                    if resp.status_code != 200:
                        return await self._http_failure(att, resp)
                    if resp.headers.get("content-type", "").startswith("application/json"):
                        raw = await resp.aread()  # a server that ignored stream=true
                        t = time.perf_counter_ns()
                        watchdog.last_read = t
                        state.feed_body(raw, t)
                    else:
                        await self._read_stream(resp, att, parser, watchdog, progress)
                finally:
                    await resp.aclose()
        except ChunkError as exc:
            att.failure, att.status = str(exc), "error"
            # a busy signal before anything arrived (Anthropic's overloaded_error event) is retried
            # like a 529; once content arrived, never (its tokens would be counted twice)
            att.retryable = exc.retryable and not (state.content_ns or state.tool_ns)
        except httpx.TimeoutException as exc:  # connect/write timeouts (reads are the watchdog's)
            att.failure, att.status = f"timeout ({type(exc).__name__})", "timeout"
            att.retryable = not state.content_ns
            att.reached = not isinstance(exc, httpx.ConnectTimeout)
        except httpx.ConnectError as exc:
            att.failure, att.retryable, att.reached = f"connect failed: {exc}", True, False
            att.status = "error"
        except httpx.HTTPError as exc:  # reset, cut stream, protocol error
            if state.done:  # everything arrived; the server just closed the connection rudely
                pass
            elif state.content_ns:
                att.status = "error"
                att.failure = f"stream cut after {len(state.content_ns)} content chunks: {exc}"
            else:
                att.status = "error"
                att.failure, att.retryable = f"connection failed before any content: {exc}", True
        finally:
            if watchdog is not None:
                watchdog.stop()
        if not (state.done and att.t_stream_end):
            att.t_stream_end = time.perf_counter_ns()
        if watchdog is not None and watchdog.reason is not None and not state.done:
            att.failure, att.status = watchdog.reason, "timeout"
            att.retryable = False
        problem = state.end_problem() if att.failure is None and att.status == "ok" else None
        if problem is not None:
            att.failure, att.retryable = problem
            att.status = "error"
        if att.failure is not None:
            att.failure = self.redactor.scrub(att.failure)
        return att

    async def _read_stream(
        self,
        resp: httpx.Response,
        att: _Attempt,
        parser: SSEParser,
        watchdog: _Watchdog,
        progress: ProgressFn | None,
    ) -> None:
        state = att.state
        feed = state.feed
        now = time.perf_counter_ns
        last_progress = att.t_dispatch
        async for raw in resp.aiter_raw():
            t = now()
            watchdog.last_read = t
            for ev in parser.feed(raw):
                feed(ev.data, t, ev.event)
            if state.done and not att.t_stream_end:
                # read on to the end of the body (so the connection goes back to the pool) but stamp
                # the end of the stream now, and do not wait long for a server that keeps it open
                att.t_stream_end = t
                watchdog.idle_ns = min(watchdog.idle_ns, 2_000_000_000)
            if progress is not None and t - last_progress >= _PROGRESS_EVERY_NS:
                last_progress = t
                progress(len(state.content_ns), t - att.t_dispatch)
        for ev in parser.close():
            feed(ev.data, now(), ev.event)

    async def _http_failure(self, att: _Attempt, resp: httpx.Response) -> _Attempt:
        status = resp.status_code
        raw = b""
        async for part in resp.aiter_raw():
            raw += part
            if len(raw) > _ERROR_BODY_LIMIT:
                break
        if status in (401, 403):
            raise self._refused(status, raw)
        att.failure = f"HTTP {status}: {self.wire.error_message(raw)}"
        att.status = "error"
        att.retryable = status in RETRYABLE_STATUS
        if status in _RETRY_AFTER_STATUS:
            att.retry_after_s = parse_retry_after(resp.headers)
        return att

    # ----------------------------------------------------------------------------------- generation
    def _generation(
        self, plan: RequestPlan, att: _Attempt, t_first: int, failures: list[FailedAttempt]
    ) -> Generation:
        state = att.state
        text = state.text
        counts = state.counts()
        prompt, completion, reasoning = counts.prompt, counts.completion, counts.reasoning
        source: TokenCountSource | None = "usage" if completion is not None else None
        tok = self.tokenizer
        if completion is None and tok is not None and (state.content_ns or att.failure is None):
            completion, source = tok.count_text(text), "tokenizer"
            prompt = self._count_prompt(plan) if prompt is None else prompt
        if completion is None and state.content_ns:
            completion, source = len(state.content_ns), "chunks"
        content_ns = state.content_ns or state.tool_ns  # a reply that only calls tools: its deltas
        t_end = content_ns[-1] if content_ns else att.t_stream_end
        if source == "usage" and state.finish_ns is not None and state.finish_ns > t_end:
            # the server's count includes the end-of-generation token (llama-server and vLLM count EOS),
            # which has no text but whose generation ends at the finish chunk: time it to there, so the
            # decode rate divides the tokens counted by the time they took
            t_end = state.finish_ns
        extra: dict[str, Any] = {
            "n_chunks": len(state.content_ns),
            "http_status": att.http_status,
            "stream_end_ms": round((att.t_stream_end - att.t_dispatch) / 1e6, 4),
            "server_model": state.server_model,
            "cached_tokens": counts.cached,
            "cache_write_tokens": counts.cache_write,
            "cache_write_1h_tokens": counts.cache_write_1h,
        }
        if state.first_reasoning_ns is not None:
            extra["ttft_thinking_ms"] = round((state.first_reasoning_ns - att.t_dispatch) / 1e6, 4)
        if tok is not None and state.pieces:
            extra["chunk_tokens"] = [tok.count_text(p) for p in state.pieces]
        if calls := state.tool_calls:
            extra["tool_calls"] = calls
        if failures:
            extra["retries"] = [f.as_dict() for f in failures]
            extra["retry_delay_ms"] = round((att.t_dispatch - t_first) / 1e6, 3)
        return Generation(
            t_dispatch_ns=att.t_dispatch,
            t_end_ns=t_end,
            content_ns=content_ns,
            text=text,
            prompt_tokens=prompt,
            completion_tokens=completion,
            token_count_source=source,
            finish_reason=state.finish_reason if att.failure is None else (state.finish_reason or "error"),
            reasoning_tokens=reasoning,
            engine_timings=state.timings,
            prefill_source="client",
            extra=extra,
        )

    def _count_prompt(self, plan: RequestPlan) -> int | None:
        assert self.tokenizer is not None
        if plan.messages is not None:
            try:
                return self.tokenizer.count_chat(plan.messages)
            except Exception:  # a template that cannot render these messages (tool turns): no count
                return None
        return self.tokenizer.count_prompt(plan.prompt or "")


# the name this class had when OpenAI's format was the only one (kept for the load generator and tests)
OpenAIHttpBackend = HttpBackend

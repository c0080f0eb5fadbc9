"""A small OpenAI-compatible server that misbehaves on purpose, or streams as fast as it can.

Raw asyncio HTTP/1.1 (keep-alive, chunked transfer encoding) rather than a framework, so a test controls
every byte: frames split mid-line, ``\\r\\n`` line endings, comments and keep-alives, a connection cut
mid-stream, a stalled first byte. The scenario is chosen by ``scenario=NAME`` anywhere in the prompt;
scenarios that fail "the first k times" count attempts per distinct prompt.

Scenarios: ``ok`` (default), ``usage`` (usage + llama.cpp timings + reasoning + cached tokens),
``fragmented`` (comments, keep-alives, CRLF, frames split byte by byte), ``429`` (twice, Retry-After-ms),
``429-date`` (once, Retry-After as an HTTP date), ``usage-negative``/``-huge``/``-float``/``-bool``/
``-nested`` (a usage count that cannot be real), ``429-long`` (Retry-After one hour), ``500`` (once),
``500-always``, ``reset`` (connection dropped before any byte, once), ``cut`` (3 chunks then the
connection dies), ``garbage`` (a malformed JSON frame after 2 chunks), ``error-frame`` (an error object
mid-stream), ``slow-first-byte`` (headers after 3 s), ``idle`` (2 chunks then a 3 s stall), ``no-done``
(ends with finish_reason but no [DONE]), ``slow`` (50 ms between chunks), ``eos`` (the finish chunk 50 ms after the last content, and usage
counting that end-of-generation token, as llama-server does), ``401`` (refuses, echoing the Authorization header it got, as a
careless proxy might), ``fast:N`` (N pre-built chunks written back to back, for the client benchmarks), ``paced:N:MS`` (N chunks,
one every MS milliseconds: a steady decoder whose true rate the server stamps), ``anthropic-cache`` (usage
with 600 cached and 300 cache-written prompt tokens, 200 of them at the 1-hour TTL), ``no-choices`` (a 200 JSON
body that is not a completion), ``echo-auth`` (streams back the Authorization header it got, inside the
answer), ``echo-answer`` (answers with whatever follows ``ANSWER:`` in the prompt: a test writes the
model's answer, e.g. hostile code for a python-test check), ``tools`` (a request with
``tools`` whose last message is not a tool result gets a streamed ``tool_calls`` reply: a calculator call
whose arguments arrive split over several deltas, and a second call with arguments that are not JSON;
after a tool result, a plain answer; usage with cached tokens growing per step), ``tools-billed`` (the
same conversation, its usage as a provider that bills every tier reports it: cache reads, cache writes
in Anthropic's ``cache_creation_input_tokens`` and hidden reasoning inside ``completion_tokens``; only
the well-formed call, so ``run --trace`` accepts the run's trace), ``hostile-tools``
(the worst tool calls we could think of, ``HOSTILE_STEPS``, one reply per step, then a final answer;
``{auth}`` in an argument or the answer becomes the Authorization header the server got: a hostile
endpoint echoing the key into the trajectory).

Every request is stamped with ``time.monotonic_ns()`` (on Linux the same clock as the client's
``perf_counter_ns``) when its body has been read and when the first response byte is written;
``GET /_stamps`` returns them. ``--key K`` makes the server demand ``Authorization: Bearer K``.

Run standalone: ``python tests/servers/fake_openai.py --port 8099 [--key K] [--cpu N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.utils
import json
import os
import re
import threading
import time
from collections import Counter
from typing import Any

WORDS = [
    "The",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "the",
    "lazy",
    "dog",
    "and",
    "keeps",
    "running",
    "far",
    "away",
]
_SCENARIO = re.compile(r"scenario=([a-z0-9:-]+)")

# ``hostile-tools``: each step's tool calls as (name, arguments as the model would send them). The calls
# aim at every bound docs/security.md names: deadlines (backtracking patterns, endless code, cross
# joins), memory (a 250 MB blob, an 8 GiB allocation, a billion-digit round), output (floods), the
# workspace walls (links and paths out, /proc), and the loop's own limits (too many calls, bad JSON,
# unknown tools, oversized arguments).
HOSTILE_STEPS: list[list[tuple[str, str]]] = [
    [
        ("grep", json.dumps({"pattern": "^(.|.)*Z"})),
        ("grep", json.dumps({"pattern": "^(\\S+\\s*)+!$", "path": "logs"})),
        ("grep", json.dumps({"pattern": "{auth}"})),
        ("list_files", json.dumps({"path": "../.."})),
    ],
    [
        ("calculator", json.dumps({"expression": "round(1, -10**9)"})),
        ("calculator", json.dumps({"expression": "9**9**9"})),
        ("sqlite_query", json.dumps({"query": "SELECT zeroblob(250000000)"})),
        (
            "sqlite_query",
            json.dumps(
                {
                    "query": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) "
                    "SELECT group_concat(x) FROM c"
                }
            ),
        ),
        (
            "sqlite_query",
            json.dumps(
                {
                    "query": "SELECT count(*) FROM orders a, orders b, orders c, orders d, "
                    "orders e, orders f, orders g, orders h"
                }
            ),
        ),
    ],
    [
        ("read_file", json.dumps({"path": "../../../../../../proc/self/environ"})),
        ("read_file", json.dumps({"path": "/proc/self/environ"})),
        ("read_file", json.dumps({"path": "shop.db", "max_lines": 1000})),
        ("read_file", json.dumps({"path": "logs/server.log", "max_lines": 1000})),
    ],
    [
        ("python", json.dumps({"code": "x = bytearray(8 * 2**30)"})),
        ("python", json.dumps({"code": "while True: pass"})),
        ("python", json.dumps({"code": "import os\nwhile True:\n    os.fork()"})),
        ("python", json.dumps({"code": "while True: print('x' * 65536)"})),
        ("python", json.dumps({"code": "print(open('/proc/1/environ').read())"})),
    ],
    [("calculator", json.dumps({"expression": "1+1"}))] * 10,  # two over the per-reply limit
    [
        ("shell", json.dumps({"cmd": "cat /etc/shadow"})),
        ("calculator", "{not json"),
        ("grep", json.dumps({"pattern": "a" * 20001})),
        ("read_file", json.dumps({"path": "x", "max_lines": 10**9})),
    ],
]


_STREAM_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _event(obj: dict[str, Any] | str) -> bytes:
    payload = obj if isinstance(obj, str) else json.dumps(obj)
    return f"data: {payload}\n\n".encode()


class FakeOpenAI:
    def __init__(self, key: str | None = None) -> None:
        self.key = key
        self.attempts: Counter[str] = Counter()
        self.stamps: list[dict[str, int]] = []
        self.requests: list[dict[str, Any]] = []
        self.seen_auth: list[str] = []
        self._fast_cache: dict[int, list[bytes]] = {}

    # ------------------------------------------------------------------------------------ protocol
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                recv_ns = time.monotonic_ns()
                keep = await self.route(method, path, headers, body, writer, recv_ns)
                if not keep:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def send_json(
        self, writer: asyncio.StreamWriter, status: int, obj: Any, extra: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(obj).encode()
        reason = {200: "OK", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}.get(
            status, "Error"
        )
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        )
        for k, v in (extra or {}).items():
            head += f"{k}: {v}\r\n"
        writer.write(head.encode() + b"\r\n" + data)
        await writer.drain()

    async def route(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        writer: asyncio.StreamWriter,
        recv_ns: int,
    ) -> bool:
        auth = headers.get("authorization", "")
        if auth:
            self.seen_auth.append(auth)
        if path.endswith("/_stamps"):
            await self.send_json(writer, 200, self.stamps)
            return True
        if self.key is not None and auth != f"Bearer {self.key}":
            await self.send_json(
                writer, 401, {"error": {"message": f"Incorrect API key provided: {auth or 'none'}"}}
            )
            return True
        if path.endswith("/models"):
            await self.send_json(writer, 200, {"object": "list", "data": [{"id": "fake-model"}]})
            return True
        if method != "POST" or not path.endswith("completions"):
            await self.send_json(writer, 404, {"error": {"message": f"no route {path}"}})
            return True
        req = json.loads(body or b"{}")
        self.requests.append(req)
        chat = path.endswith("/chat/completions")
        prompt = json.dumps(req.get("messages")) if chat else str(req.get("prompt", ""))
        match = _SCENARIO.search(prompt)
        scenario = match.group(1) if match else "ok"
        n = self.attempts[prompt]
        self.attempts[prompt] += 1
        if scenario == "no-choices":  # a 200 JSON body that is not a completion: an endpoint fault
            await self.send_json(writer, 200, {"object": "chat.completion", "id": "x", "model": "fake-model"})
            return True
        if scenario in ("echo-auth", "echo-answer"):  # the credential, or the test's answer, as content
            base = {"id": "cmpl-fake", "model": "fake-model", "created": 0}
            texts = [f"you sent {auth}", " ok"]
            if scenario == "echo-answer":
                last = (req.get("messages") or [{}])[-1].get("content", "") if chat else prompt
                texts = [str(last).split("ANSWER:", 1)[-1]]
            await self.start_stream(writer)
            for text in texts:
                writer.write(_chunk(_event({**base, "choices": [{"index": 0, "delta": {"content": text}}]})))
            end = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            writer.write(_chunk(_event(end)) + _chunk(_event("[DONE]")) + b"0\r\n\r\n")
            await writer.drain()
            return True
        if scenario == "401":  # echo the credential, as a careless proxy might: the client must scrub it
            await self.send_json(writer, 401, {"error": {"message": f"Incorrect API key provided: {auth}"}})
            return True
        return await self.scenario(scenario, n, req, chat, writer, recv_ns)

    # ----------------------------------------------------------------------------------- scenarios
    def frames(self, req: dict[str, Any], chat: bool, n_words: int, scenario: str) -> list[bytes]:
        max_tokens = int(req.get("max_tokens") or req.get("max_completion_tokens") or 16)
        words = [(" " if i else "") + WORDS[i % len(WORDS)] for i in range(min(n_words, max_tokens))]
        base = {"id": "cmpl-fake", "model": req.get("model", "fake-model"), "created": 0}
        out = []
        if chat:
            out.append(_event({**base, "choices": [{"index": 0, "delta": {"role": "assistant"}}]}))
        if scenario == "usage":
            for r in ("Let me", " think."):
                out.append(_event({**base, "choices": [{"index": 0, "delta": {"reasoning_content": r}}]}))
        for w in words:
            choice = {"index": 0, "delta": {"content": w}} if chat else {"index": 0, "text": w}
            out.append(_event({**base, "choices": [{**choice, "finish_reason": None}]}))
        finish = "length" if len(words) >= max_tokens else "stop"
        last = {"index": 0, "delta": {}} if chat else {"index": 0, "text": ""}
        out.append(_event({**base, "choices": [{**last, "finish_reason": finish}]}))
        if (req.get("stream_options") or {}).get("include_usage"):
            n_out = len(words) + (1 if scenario == "eos" else 0)  # llama-server counts the EOS token
            usage: dict[str, Any] = {"prompt_tokens": 11, "completion_tokens": n_out, "total_tokens": 0}
            extra: dict[str, Any] = {}
            if scenario == "usage":
                usage["completion_tokens"] += 5
                usage["completion_tokens_details"] = {"reasoning_tokens": 5}
                usage["prompt_tokens_details"] = {"cached_tokens": 4}
                extra["timings"] = {
                    "prompt_n": 7,
                    "prompt_ms": 1.5,
                    "predicted_n": len(words),
                    "predicted_ms": 9.0,
                }
            hostile = {"usage-negative": ("completion_tokens", -7), "usage-huge": ("prompt_tokens", 10**15),
                       "usage-float": ("completion_tokens", 1e18), "usage-bool": ("completion_tokens", True),
                       "usage-nested": ("prompt_tokens_details", {"cached_tokens": -3})}  # fmt: skip
            if scenario in hostile:  # counts that cannot be real: the record is an error, not priced
                usage[hostile[scenario][0]] = hostile[scenario][1]
            if scenario == "anthropic-cache":  # Anthropic's cache counts beside OpenAI's (docs/prices.md)
                usage.update(prompt_tokens=1000, prompt_tokens_details={"cached_tokens": 600})
                usage["cache_creation_input_tokens"] = 300
                usage["cache_creation"] = {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200}
            out.append(_event({**base, "choices": [], "usage": usage, **extra}))
        if scenario != "no-done":
            out.append(_event("[DONE]"))
        return out

    async def start_stream(self, writer: asyncio.StreamWriter, first: bytes = b"") -> None:
        writer.write(_STREAM_HEAD + first)
        await writer.drain()

    async def scenario(
        self,
        scenario: str,
        n: int,
        req: dict[str, Any],
        chat: bool,
        writer: asyncio.StreamWriter,
        recv_ns: int,
    ) -> bool:
        if scenario in ("tools", "tools-billed"):
            return await self.tools(req, writer, billed=scenario == "tools-billed")
        if scenario == "hostile-tools":
            return await self.hostile_tools(req, writer)
        if scenario.startswith("fast:"):
            return await self.fast(int(scenario.split(":")[1]), req, chat, writer, recv_ns)
        if scenario.startswith("paced:"):
            _, n_chunks, gap_ms = scenario.split(":")
            return await self.paced(int(n_chunks), float(gap_ms) / 1e3, req, chat, writer, recv_ns)
        if scenario == "429" and n % 3 < 2:
            await self.send_json(writer, 429, {"error": {"message": "slow down"}}, {"retry-after-ms": "30"})
            return True
        if scenario == "429-date" and n % 2 == 0:
            date = email.utils.formatdate(time.time() + 1, usegmt=True)
            await self.send_json(writer, 429, {"error": {"message": "slow down"}}, {"Retry-After": date})
            return True
        if scenario == "429-long":
            await self.send_json(writer, 429, {"error": {"message": "quota"}}, {"Retry-After": "3600"})
            return True
        if (scenario == "500" and n % 2 == 0) or scenario == "500-always":
            await self.send_json(writer, 500, {"error": {"message": "internal"}})
            return True
        if scenario == "reset" and n % 2 == 0:
            writer.transport.abort()
            return False
        if scenario == "slow-first-byte":
            await asyncio.sleep(3.0)
        frames = self.frames(req, chat, 12, scenario)
        if scenario == "fragmented":
            blob = b": ping\n\n" + b"".join(
                f.replace(b"\n", b"\r\n") + b":keep-alive\r\n\r\n" for f in frames
            )
            await self.start_stream(writer)
            for i in range(0, len(blob), 7):  # every frame split at odd places, CRLF pairs included
                writer.write(_chunk(blob[i : i + 7]))
                await writer.drain()
                await asyncio.sleep(0)
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            return True
        await self.start_stream(writer)
        for i, frame in enumerate(frames):
            if scenario == "cut" and i == 4:
                writer.transport.abort()
                return False
            if scenario == "garbage" and i == 3:
                writer.write(_chunk(b'data: {"choices": [{"delta": {"content": "x"\n\n'))
            if scenario == "error-frame" and i == 3:
                writer.write(_chunk(_event({"error": {"message": "model overloaded"}})))
            if scenario == "idle" and i == 3:
                await asyncio.sleep(3.0)
            if scenario == "slow" or (scenario == "eos" and b'"finish_reason": "' in frame):
                await asyncio.sleep(0.05)  # eos: the end-of-generation token takes a decode step too
            writer.write(_chunk(frame))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async def tools(self, req: dict[str, Any], writer: asyncio.StreamWriter, billed: bool = False) -> bool:
        """Native tool calling as OpenAI streams it (see the module docstring, scenarios ``tools`` and
        ``tools-billed``). The usage depends only on the conversation, so a replay of the same requests
        is billed the same."""
        base = {"id": "cmpl-fake", "model": req.get("model", "fake-model"), "created": 0}
        messages = req.get("messages") or []
        step = sum(1 for m in messages if m.get("role") == "assistant")
        frames = [_event({**base, "choices": [{"index": 0, "delta": {"role": "assistant"}}]})]

        def delta(d: dict[str, Any], finish: str | None = None) -> bytes:
            return _event({**base, "choices": [{"index": 0, "delta": d, "finish_reason": finish}]})

        if req.get("tools") and (not messages or messages[-1].get("role") != "tool"):
            first = {
                "index": 0,
                "id": "call_a",
                "type": "function",
                "function": {"name": "calculator", "arguments": ""},
            }
            frames.append(delta({"tool_calls": [first]}))
            for piece in ('{"expr', 'ession": ', '"6 * ', '7"}'):
                frames.append(delta({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
            second = {
                "index": 1,
                "id": "call_b",
                "type": "function",
                "function": {"name": "calculator", "arguments": "{not json"},
            }
            if not billed:  # a billed conversation stays replayable: its one call is well formed
                frames.append(delta({"tool_calls": [second]}))
            frames.append(delta({}, "tool_calls"))
            n_out = 12
        else:
            for word in ("The", " answer", " is", " 42."):
                frames.append(delta({"content": word}))
            frames.append(delta({}, "stop"))
            n_out = 4
        prompt = 40 + 30 * step
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": n_out,
            "total_tokens": prompt + n_out,
            "prompt_tokens_details": {"cached_tokens": 30 * step},
        }
        if billed:  # each step writes its new suffix to the cache and thinks before it answers
            usage["cache_creation_input_tokens"] = 25
            usage["completion_tokens"] = n_out + 9 + step
            usage["completion_tokens_details"] = {"reasoning_tokens": 9 + step}
        if (req.get("stream_options") or {}).get("include_usage"):
            frames.append(_event({**base, "choices": [], "usage": usage}))
        frames.append(_event("[DONE]"))
        await self.start_stream(writer)
        for frame in frames:
            writer.write(_chunk(frame))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async def hostile_tools(self, req: dict[str, Any], writer: asyncio.StreamWriter) -> bool:
        """``HOSTILE_STEPS`` one reply per step (streamed as ``tool_calls``), then an answer that echoes
        the key; ``{auth}`` anywhere becomes the Authorization header this request carried."""
        auth = self.seen_auth[-1] if self.seen_auth else ""
        base = {"id": "cmpl-fake", "model": req.get("model", "fake-model"), "created": 0}
        step = sum(1 for m in req.get("messages") or [] if m.get("role") == "assistant")

        def delta(d: dict[str, Any], finish: str | None = None) -> bytes:
            return _event({**base, "choices": [{"index": 0, "delta": d, "finish_reason": finish}]})

        frames = [delta({"role": "assistant"})]
        if step < len(HOSTILE_STEPS):
            for i, (name, args) in enumerate(HOSTILE_STEPS[step]):
                call = {"index": i, "id": f"call_{step}_{i}", "type": "function",
                        "function": {"name": name, "arguments": args.replace("{auth}", auth)}}  # fmt: skip
                frames.append(delta({"tool_calls": [call]}))
            frames.append(delta({}, "tool_calls"))
        else:
            frames += [delta({"content": f"The answer is 42 ({auth})."}), delta({}, "stop")]
        if (req.get("stream_options") or {}).get("include_usage"):
            usage = {"prompt_tokens": 50 + 40 * step, "completion_tokens": 20, "total_tokens": 70 + 40 * step}
            frames.append(_event({**base, "choices": [], "usage": usage}))
        frames.append(_event("[DONE]"))
        await self.start_stream(writer)
        writer.write(b"".join(_chunk(f) for f in frames) + b"0\r\n\r\n")
        await writer.drain()
        return True

    async def fast(
        self, n: int, req: dict[str, Any], chat: bool, writer: asyncio.StreamWriter, recv_ns: int
    ) -> bool:
        key = n * 2 + int(chat)
        if key not in self._fast_cache:  # pre-built: the server's cost per chunk is a buffer copy
            self._fast_cache[key] = [
                _chunk(f) for f in self.frames({**req, "max_tokens": n, "stream_options": {}}, chat, n, "ok")
            ]
        frames = self._fast_cache[key]
        batches = [b"".join(frames[i : i + 64]) for i in range(0, len(frames), 64)]
        first_ns = time.monotonic_ns()
        writer.write(_STREAM_HEAD + batches[0])  # headers and the first chunks in one write
        self.stamps.append({"recv_ns": recv_ns, "first_byte_ns": first_ns})
        await writer.drain()
        for batch in batches[1:]:
            writer.write(batch)
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async def paced(
        self,
        n: int,
        gap_s: float,
        req: dict[str, Any],
        chat: bool,
        writer: asyncio.StreamWriter,
        recv_ns: int,
    ) -> bool:
        """One content chunk every ``gap_s`` (a steady decoder); stamps the first and last content write."""
        frames = self.frames({**req, "max_tokens": n, "stream_options": {}}, chat, n, "ok")
        head, content, tail = frames[: int(chat)], frames[int(chat) : int(chat) + n], frames[int(chat) + n :]
        writer.write(_STREAM_HEAD + b"".join(_chunk(f) for f in head))
        stamps: dict[str, int] = {"recv_ns": recv_ns}
        start = time.monotonic_ns()
        for i, frame in enumerate(content):
            delay = start + int(i * gap_s * 1e9) - time.monotonic_ns()
            if delay > 0:
                await asyncio.sleep(delay / 1e9)
            stamps["last_content_ns"] = time.monotonic_ns()
            stamps.setdefault("first_byte_ns", stamps["last_content_ns"])
            writer.write(_chunk(frame))
            await writer.drain()
        writer.write(b"".join(_chunk(f) for f in tail) + b"0\r\n\r\n")
        await writer.drain()
        self.stamps.append(stamps)
        return True


class ServerThread:
    """The fake server on a free loopback port, in a background thread (for tests). ``app``: another
    fake on the same HTTP plumbing (``tests/servers/fake_anthropic.py``)."""

    def __init__(self, key: str | None = None, app: FakeOpenAI | None = None) -> None:
        self.app = app if app is not None else FakeOpenAI(key)
        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()

        writers: set[asyncio.StreamWriter] = set()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.add(writer)
            try:
                await self.app.handle(reader, writer)
            finally:
                writers.discard(writer)
                writer.close()

        def serve() -> None:
            asyncio.set_event_loop(self.loop)
            server = self.loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()
            # shut down completely (open connections, their handlers, the loop), so no socket or pending
            # task is left for the garbage collector to warn about in whichever test runs next
            server.close()
            for writer in list(writers):
                writer.transport.abort()
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        ready.wait(10)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        if self.loop.is_closed():  # stopped already
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=8099)
    p.add_argument("--key", default=None)
    p.add_argument("--cpu", type=int, default=None, help="pin the server to this CPU")
    args = p.parse_args()
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    app = FakeOpenAI(args.key)

    async def serve() -> None:
        server = await asyncio.start_server(app.handle, "127.0.0.1", args.port, backlog=1024)
        print(f"listening on {args.port}", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main()

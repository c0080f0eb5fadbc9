"""infercost's bill against the price database's own calculator (``genai_prices.calc_price``), for random
usages of database models: the agreement test (tests/cost/test_price_db.py) and the full sweep
(tests/benchmarks/bench_price_db.py) share it.

A usage draws a prompt from 1 token to 1M (or the model's context window) on a log scale, a quarter of
them just around a context-length tier's start, cache reads and writes (some with a 1-hour TTL), visible
and reasoning output, a request time from mid-2023 to mid-2027 at any minute of the day (dated price
changes, off-peak windows) and, for a third, the batch tier. Both sides get the same counts: the
database's ``Usage`` counts reads, writes and reasoning inside input and output, as infercost's records
do for reads and writes (reasoning is apart in a record, so output = completion + reasoning).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from typing import Any

from bench.cost.tiers import TokenRates
from bench.devices.price_db import DbModel

START = dt.datetime(2023, 6, 1, tzinfo=dt.timezone.utc)
SPAN_S = int((dt.datetime(2027, 6, 30, tzinfo=dt.timezone.utc) - START).total_seconds())
REL = 1e-9


@dataclass(frozen=True)
class Usage:
    prompt: int
    read: int
    write: int
    write_1h: int
    completion: int
    reasoning: int
    at: dt.datetime
    batch: bool


def _log_int(rng: random.Random, lo: int, hi: int) -> int:
    return min(hi, max(lo, int(math.exp(rng.uniform(math.log(lo), math.log(hi + 1))))))


def usages(rng: random.Random, model: DbModel, n: int) -> list[Usage]:
    limit = min(model.schedule.context_window or 1_000_000, 1_000_000)
    starts = sorted({s for p in model.schedule.periods for s in p.prices.tier_starts() if s < limit})
    out = []
    for _ in range(n):
        if starts and rng.random() < 0.25:
            prompt = max(1, min(limit, rng.choice(starts) + rng.randint(-2, 2)))
        else:
            prompt = _log_int(rng, 1, limit)
        read = 0 if rng.random() < 0.3 else rng.randint(0, prompt)
        write = 0 if rng.random() < 0.4 else rng.randint(0, prompt - read)
        write_1h = 0 if rng.random() < 0.5 else rng.randint(0, write)
        completion = _log_int(rng, 1, 65_536) - 1
        reasoning = 0 if rng.random() < 0.5 else _log_int(rng, 1, 32_768)
        at = START + dt.timedelta(seconds=rng.randrange(SPAN_S))
        out.append(Usage(prompt, read, write, write_1h, completion, reasoning, at, rng.random() < 1 / 3))
    return out


@dataclass
class Agreement:
    models: int = 0
    usages: int = 0
    disagreements: list[str] = field(default_factory=list)
    calculator_refused: list[str] = field(default_factory=list)  # usages calc_price itself raises on
    providers: set[str] = field(default_factory=set)


def compare(model: DbModel, ref: str, cases: list[Usage], result: Agreement) -> None:
    """Bill every case both ways; a relative difference above 1e-9 is a disagreement."""
    import genai_prices

    result.models += 1
    result.providers.add(model.provider_id)
    rates = {False: TokenRates(model.schedule), True: TokenRates(model.schedule, batch=True)}
    for u in cases:
        usage = genai_prices.Usage(
            input_tokens=u.prompt,
            cache_read_tokens=u.read,
            cache_write_tokens=u.write,
            cache_write_1h_tokens=u.write_1h,
            output_tokens=u.completion + u.reasoning,
            output_reasoning_tokens=u.reasoning,
        )
        context: Any = {"processing": "batch"} if u.batch else None
        try:
            want = float(
                genai_prices.calc_price(
                    usage,
                    ref,
                    provider_id=model.provider_id,
                    genai_request_timestamp=u.at,
                    price_context=context,
                ).total_price
            )
        except (ValueError, LookupError) as exc:
            result.calculator_refused.append(f"{model.ref} {u}: {exc}")
            continue
        got = rates[u.batch].price_usage(
            prompt_tokens=u.prompt,
            completion_tokens=u.completion,
            reasoning_tokens=u.reasoning,
            cache_read_tokens=u.read,
            cache_write_tokens=u.write,
            cache_write_1h_tokens=u.write_1h,
            started_utc=u.at.isoformat(),
        )
        result.usages += 1
        if abs(got - want) > REL * max(abs(want), 1e-300):
            result.disagreements.append(f"{model.ref} {u}: infercost {got!r} vs calc_price {want!r}")

"""A token API's rates as billed: input, output, cache read, cache write (default and 1-hour TTL) and the
batch tier, read from a profile or from the profile a manifest recorded (docs/prices.md).

One ``TokenRates`` is built per bundle (or per cloud profile), then prices every record with plain
arithmetic: pricing 100k records stays well under a second (tests/benchmarks/bench_tiers.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.cost import formulas as cost
from bench.results.schema import Record

__all__ = ["BATCH_LATENCY_NOTE", "TokenRates", "field_getter", "rates_from"]

BATCH_LATENCY_NOTE = (
    "batch tier: priced at the provider's batch rates; a batch job returns within hours (up to 24 h), "
    "so the latency measured here would not be what a batch user sees (not interactive)"
)


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class TokenRates:
    """USD per 1M tokens for each tier, and the discount taken off them all (0: interactive)."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None
    cache_write_1h: float | None = None
    discount: float = 0.0
    batch: bool = False

    def price(self, rec: Record) -> float | None:
        """One record as billed (None: it has no token counts)."""
        prompt, completion = rec.prompt_tokens, rec.completion_tokens
        if prompt is None or completion is None:
            return None
        read = min(rec.cached_tokens or 0, prompt)
        write = min(rec.cache_write_tokens or 0, prompt - read)
        write_1h = min(rec.cache_write_1h_tokens or 0, write)
        return cost.tiered_token_cost_usd(
            prompt_tokens=prompt,
            output_tokens=completion + (rec.reasoning_tokens or 0),
            input_usd_per_mtok=self.input,
            output_usd_per_mtok=self.output,
            cache_read_tokens=read,
            cache_write_tokens=write,
            cache_write_1h_tokens=write_1h,
            cache_read_usd_per_mtok=self.cache_read,
            cache_write_usd_per_mtok=self.cache_write,
            cache_write_1h_usd_per_mtok=self.cache_write_1h,
            discount=self.discount,
        )

    def at_cached_share(self, prompt_tokens: float, output_tokens: float, share: float) -> float:
        """USD for ``prompt_tokens`` of which ``share`` are cache reads (a warm cache: no writes)."""
        read = self.input if self.cache_read is None else self.cache_read
        usd = (prompt_tokens * (1 - share) * self.input + prompt_tokens * share * read) / 1e6
        return (usd + output_tokens * self.output / 1e6) * (1.0 - self.discount)

    def label(self) -> str:
        """``$1 in / $5 out / $0.1 read / $1.25 write (1h $2) per 1M tok`` (and the batch tier)."""
        parts = [f"${self.input:g} in", f"${self.output:g} out"]
        if self.cache_read is not None:
            parts.append(f"${self.cache_read:g} cache read")
        if self.cache_write is not None:
            parts.append(
                f"${self.cache_write:g} cache write"
                + (f" (1h ${self.cache_write_1h:g})" if self.cache_write_1h is not None else "")
            )
        text = " / ".join(parts) + " per 1M tok"
        if self.batch:
            text += f", batch tier ({self.discount:.0%} off)" if self.discount else ", batch tier"
        return text


def field_getter(obj: object) -> Callable[[str], Any]:
    """``rates_from``'s reader for an object with the profile's fields as attributes."""

    def get(name: str) -> Any:
        return getattr(obj, name, None)

    return get


def rates_from(get: Callable[[str], Any], batch: bool = False) -> tuple[TokenRates | None, str | None]:
    """The rates of a token-priced profile (``get(field)`` reads a profile or a manifest's device dict).

    With ``batch``: the batch tier (explicit batch rates, or the discount off every tier); returns the
    list rates and a reason when the profile publishes no batch tier. None: not a token API."""
    inp, out = _num(get("input_usd_per_mtok")), _num(get("output_usd_per_mtok"))
    if inp is None or out is None:
        return None, None
    read = _num(get("cache_read_usd_per_mtok"))
    if read is None:
        read = _num(get("cached_input_usd_per_mtok"))
    rates = TokenRates(
        inp, out, read, _num(get("cache_write_usd_per_mtok")), _num(get("cache_write_1h_usd_per_mtok"))
    )
    if not batch:
        return rates, None
    discount = _num(get("batch_discount"))
    b_in, b_out = _num(get("batch_input_usd_per_mtok")), _num(get("batch_output_usd_per_mtok"))
    if discount is not None:
        return TokenRates(inp, out, read, rates.cache_write, rates.cache_write_1h, discount, True), None
    if b_in is not None and b_out is not None:
        scale = b_in / inp if inp else 1.0

        def scaled(v: float | None) -> float | None:
            return None if v is None else v * scale

        return TokenRates(
            b_in, b_out, scaled(read), scaled(rates.cache_write), scaled(rates.cache_write_1h), 0.0, True
        ), None
    return rates, "the profile publishes no batch tier: priced at its interactive list prices"

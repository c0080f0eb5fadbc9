"""Parallel shapes as llama-batched-bench prints them: ``PP | TG | B | N_KV | T_PP s | S_PP t/s | T_TG s |
S_TG t/s | T s | S t/s``, one row per parallel shape (docs/shapes.md).

Rebuilt at read time from what each record holds (raw first, derived after): T_PP = ``pp_ms``, T_TG =
``tg_ms``, B = ``parallel_seqs``, N_KV = ``n_kv_tokens`` (read back from the engine's KV cache), PP =
``prompt_tokens`` per sequence (the shared prompt counts once), TG = ``completion_tokens`` / B. The
rates follow llama-batched-bench's definitions exactly:

- S_PP = (PP if the prompt is shared else B × PP) / T_PP
- S_TG = B × TG / T_TG
- S = (prompt tokens evaluated + B × TG) / (T_PP + T_TG)

Each row is the mean over the measured (not warm-up) successful repetitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.report.tables import Column, TextTable
from bench.results import stats
from bench.results.schema import Record

__all__ = ["BATCHED_HEADER", "batched_markdown", "batched_row", "batched_rows", "batched_table"]

BATCHED_HEADER = ["PP", "TG", "B", "N_KV", "T_PP s", "S_PP t/s", "T_TG s", "S_TG t/s", "T s", "S t/s"]


def batched_row(r: Record) -> dict[str, Any] | None:
    """One record's llama-batched-bench fields; None for a record that is not a finished parallel shape."""
    if not r.parallel_seqs or r.pp_ms is None or r.tg_ms is None or r.status != "ok":
        return None
    b = r.parallel_seqs
    prompt = r.prompt_tokens or 0
    gen = r.completion_tokens or 0
    t_pp, t_tg = r.pp_ms / 1e3, r.tg_ms / 1e3
    return {
        "shape": r.shape,
        "pp": prompt if r.shared_prompt else prompt // b,
        "tg": gen // b,
        "b": b,
        "n_kv": r.n_kv_tokens,
        "t_pp_s": t_pp,
        "s_pp_tps": prompt / t_pp if t_pp > 0 else None,
        "t_tg_s": t_tg,
        "s_tg_tps": gen / t_tg if t_tg > 0 and gen else None,
        "t_s": t_pp + t_tg,
        "s_tps": (prompt + gen) / (t_pp + t_tg) if t_pp + t_tg > 0 else None,
    }


_MEANS = ("t_pp_s", "s_pp_tps", "t_tg_s", "s_tg_tps", "t_s", "s_tps")


def batched_rows(records: Sequence[Record]) -> list[dict[str, Any]]:
    """One row per parallel shape, means over its measured repetitions (``n``: how many)."""
    per: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if r.warmup:
            continue
        row = batched_row(r)
        if row is not None:
            per.setdefault(str(row["shape"]), []).append(row)
    out = []
    for shape, rows in per.items():
        first = rows[0]
        out.append(
            {
                "shape": shape,
                **{k: first[k] for k in ("pp", "tg", "b", "n_kv")},
                **{k: stats.mean([x[k] for x in rows]) for k in _MEANS},
                "n": len(rows),
            }
        )
    return out


def _cells(row: dict[str, Any]) -> list[str]:
    def num(v: Any, fmt: str) -> str:
        return "–" if v is None else format(v, fmt)

    return [
        str(row["pp"]), str(row["tg"]), str(row["b"]), num(row["n_kv"], "d"),
        num(row["t_pp_s"], ".3f"), num(row["s_pp_tps"], ".2f"), num(row["t_tg_s"], ".3f"),
        num(row["s_tg_tps"], ".2f"), num(row["t_s"], ".3f"), num(row["s_tps"], ".2f"),
    ]  # fmt: skip


def batched_markdown(rows: list[dict[str, Any]]) -> str:
    """llama-batched-bench's own Markdown table (its ``-o md`` layout), so the rows paste beside its own."""
    body = [_cells(r) for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(BATCHED_HEADER)]
    lines = ["|" + "|".join(f" {h:>{w}} " for h, w in zip(BATCHED_HEADER, widths, strict=True)) + "|"]
    lines.append("|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|")
    for b in body:
        lines.append("|" + "|".join(f" {c:>{w}} " for c, w in zip(b, widths, strict=True)) + "|")
    return "\n".join(lines)


def batched_table(runs: Sequence[Any]) -> TextTable | None:
    """The report's table (a run column first); None when no run has a parallel shape. ``runs``:
    ``bench.report.runs.Run`` (anything with ``label`` and ``records``)."""
    cols = [Column("run", "run", "left"), Column("shape", "test", "left")]
    cols += [Column(h.lower().replace(" ", "_"), h) for h in BATCHED_HEADER]
    body = [[run.label, str(row["shape"]), *_cells(row)] for run in runs for row in batched_rows(run.records)]
    if not body:
        return None
    return TextTable(
        cols,
        body,
        notes=[
            "llama-batched-bench's fields: B sequences of PP prompt + TG generated tokens decoded together; "
            "S_PP = prompt tokens evaluated / T_PP, S_TG = B × TG / T_TG, S = all tokens / T; "
            "N_KV read back from the KV cache. Means over measured repetitions."
        ],
    )

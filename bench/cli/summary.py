"""The run summary as people read it: hyperfine's warnings after the results, the by-category table,
llama-bench's own Markdown table for shapes, the cost block."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from bench.cli.console import err, out
from bench.report.layout import OPTIONAL_COLUMNS, SUMMARY_COLUMNS
from bench.report.markdown import aligned_md_table
from bench.results.metrics.display import ESTIMATE_MARK
from bench.results.metrics.registry import FIELDS
from bench.textsafe import neutralize_controls

__all__ = ["print_cost", "print_llama_bench", "print_summary", "print_warnings", "summary_table"]


def print_warnings(summary: dict[str, Any]) -> None:
    """hyperfine's shape: what is wrong, then what to do, after the results."""
    for w in summary.get("warnings", []):
        err.print(f"[yellow]warning:[/] {escape(w['message'])}. {escape(w['remedy'])}", markup=True)


def _ci_line(o: dict[str, Any]) -> str | None:
    parts = []
    if o.get("pass_rate_ci_low") is not None and o.get("pass_rate_ci_high") is not None:
        parts.append(f"pass rate {o['pass_rate_ci_low']:.0%}–{o['pass_rate_ci_high']:.0%} (Wilson)")
    if o.get("decode_tps_ci_low") is not None and o.get("decode_tps_ci_high") is not None:
        parts.append(f"decode {o['decode_tps_ci_low']:.1f}–{o['decode_tps_ci_high']:.1f} tok/s (mean)")
    return "95% CI: " + " · ".join(parts) if parts else None


def print_summary(summary: dict[str, Any]) -> None:
    from bench.report.energy import power_note

    if summary.get("prompt_format") == "plain_completion":
        err.print(
            "[yellow]note:[/] the model has no chat template; tasks ran as plain completion (recorded)",
            markup=True,
        )
    if summary.get("benchmark"):
        out.print(f"benchmark: {summary['benchmark']}", highlight=False)
    if "shapes" in summary:
        print_llama_bench(summary["shapes"])
        if summary.get("batched"):
            from bench.report.batched_view import batched_markdown

            out.print()
            out.print(batched_markdown(summary["batched"]), highlight=False)
    else:
        out.print(summary_table(summary))
    if summary.get("agents"):
        from bench.cli.agent_view import agent_table

        out.print(agent_table(summary["agents"]))
        o = summary["overall"]
        out.print(
            f"agent time: model {FIELDS['model_seconds_share'].format(o['model_seconds_share'])} · tools "
            f"{FIELDS['tool_seconds_share'].format(o['tool_seconds_share'])} · harness "
            f"{FIELDS['harness_seconds_share'].format(o['harness_seconds_share'])}; cached input "
            f"{FIELDS['cached_input_share'].format(o['cached_input_share'])} "
            f"(protocol {summary.get('agent_protocol')})"
        )
        from bench.cli.agent_view import energy_lines

        for line in energy_lines(summary["agents"]):
            out.print(line, highlight=False)
    note = power_note(summary)
    if note:
        out.print(note)
    o = summary["overall"]
    if o.get("request_throughput_rps") is not None and (o["n"] > 1 or o.get("goodput_rps") is not None):
        line = ", ".join(
            f"{FIELDS[k].format(o[k])} {FIELDS[k].label}"
            for k in ("request_throughput_rps", "output_tps_total", "goodput_rps", "slo_attainment")
            if o.get(k) is not None
        )
        out.print(f"throughput: {line} (over {o['window_s']:.1f} s)")
    passed = f"{o['passed']}/{o['checked']} passed" if o["checked"] else "no checks"
    out.print(f"{passed} · {o['n']} measured requests · bundle: {summary['run_dir']}")
    ci = _ci_line(o)
    if ci:
        out.print(ci)
    print_cost(summary)


def print_cost(summary: dict[str, Any]) -> None:
    from bench.report import cost_view

    header = cost_view.cost_header(summary)
    table = cost_view.cost_table(summary)
    out.print()
    if header:
        out.print(header)
    if table is not None:
        out.print(table)
    for note in (summary.get("cost") or {}).get("notes", []):
        out.print(f"[yellow]note:[/] {escape(note)}", markup=True)
    clouds = cost_view.cloud_table(summary)
    if clouds is not None:
        out.print()
        out.print(clouds)
        hint = cost_view.local_hint(summary)
        if hint:
            out.print(hint, markup=False, highlight=False)
    for warning in cost_view.stale_warnings(summary):
        out.print(f"[yellow]stale:[/] {escape(warning)}", markup=True)
    line = cost_view.roofline_line(summary)
    if line:
        out.print()
        out.print(line)


def summary_table(summary: dict[str, Any]) -> Table:
    """By category, then overall; columns and formats from the field registry."""
    table = Table(
        title=neutralize_controls(f"{summary['suite']} · {summary['model']} · {summary['device']}"),
        title_justify="left",
        box=None,
    )
    table.add_column("category", no_wrap=True)
    rows = [*summary["by_category"].items(), ("overall", summary["overall"])]
    shown = [
        c
        for c in SUMMARY_COLUMNS
        if c != "decode_tps_sd" and (c not in OPTIONAL_COLUMNS or any(m.get(c) is not None for _, m in rows))
    ]
    for name in shown:
        f = FIELDS[name]
        label = f.label + (" ms" if f.unit == "ms" else "")
        table.add_column(label, justify="right", no_wrap=True)
    for i, (name, m) in enumerate(rows):
        cells = []
        for col in shown:
            if col == "decode_tps_mean":
                mean, sd = m["decode_tps_mean"], m["decode_tps_sd"]
                text = FIELDS[col].format(mean)
                if mean is not None and sd is not None:
                    text += f" ± {FIELDS['decode_tps_sd'].format(sd)}"
                cells.append(text)
            else:  # a model's number, not a measurement, is marked ≈
                cells.append(FIELDS[col].format(m[col], estimated=bool(m.get("energy_estimated"))))
        last = i == len(rows) - 1
        table.add_row(  # a category is suite text: no terminal control reaches the screen through it
            neutralize_controls(name), *cells, style="bold" if last else None, end_section=i == len(rows) - 2
        )
    return table


def print_llama_bench(rows: list[dict[str, Any]]) -> None:
    """llama-bench's own Markdown table, so results paste next to published ones."""
    header = ["model", "size", "params", "backend", "threads", "test", "t/s"]
    body = []
    for r in rows:
        tps = "–" if r["tps_mean"] is None else f"{r['tps_mean']:.2f}"
        if r["tps_sd"] is not None:
            tps += f" ± {r['tps_sd']:.2f}"
        body.append([r["model"], r["size"], r["params"], r["backend"], str(r["threads"]), r["test"], tps])
    print(aligned_md_table(header, body, right={1, 2, 4, 5, 6}))
    energy = [r for r in rows if r.get("energy_per_task_j") is not None]
    if energy:  # per test, J per token *of that test* (prompt tokens for pp, generated for tg)
        print()
        marks = [ESTIMATE_MARK if r.get("energy_estimated") else "" for r in energy]
        print(
            aligned_md_table(
                ["test", "J/test", "J/tok", "avg W"],
                [
                    [
                        r["test"],
                        f"{m}{r['energy_per_task_j']:.3f}",
                        "–" if r["j_per_token"] is None else f"{m}{r['j_per_token']:.4f}",
                        "–" if r["avg_power_w"] is None else f"{m}{r['avg_power_w']:.1f}",
                    ]
                    for r, m in zip(energy, marks, strict=True)
                ],
                right={1, 2, 3},
            )
        )

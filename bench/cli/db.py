"""``infercost db sync|query|migrate|status``, ``infercost push`` and ``infercost history``, and the
``--store``/``--where`` reading of ``report``: the command logic; ``app.py`` only parses and dispatches.

Store URLs come from ``--store`` or ``INFERCOST_STORE`` and are printed only without their password.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.cli.jsonout import emit
from bench.errors import EXIT_OK, UsageError
from bench.results.bundle import DEFAULT_RUNS_ROOT
from bench.run.flags import positive_int, positive_number
from bench.textsafe import neutralize_controls

if TYPE_CHECKING:  # imported lazily at run time: `infercost --help` must not load DuckDB or pandas
    from bench.report.build import Report, ReportOptions
    from bench.report.runs import Run
    from bench.results.bundle import Bundle
    from bench.results.db.store import Store
    from bench.results.db.url import StoreURL
    from bench.results.schema import Record

__all__ = [
    "add_parsers",
    "add_store_filters",
    "cmd_db",
    "cmd_history",
    "cmd_push",
    "from_store",
    "register",
    "store_report",
    "stored_runs",
    "stored_view",
    "stored_views",
    "summary_report",
]


def register(sub: Any) -> None:
    """Add ``db``, ``push`` and ``history`` with their handlers."""
    from bench.cli.console import err, out

    add_parsers(sub)
    sub.choices["db"].set_defaults(handler=lambda args, _argv: cmd_db(args, out, err))
    sub.choices["push"].set_defaults(handler=lambda args, _argv: cmd_push(args, out))
    sub.choices["history"].set_defaults(handler=lambda args, _argv: cmd_history(args, out, err))


def add_parsers(sub: Any) -> None:
    """The db, push and history subcommands (``sub``: the main parser's subparsers)."""
    db = sub.add_parser("db", help="results database: sync bundles into it, query it, migrate it")
    dbs = db.add_subparsers(dest="db_command", metavar="sync|query|migrate|status")
    sync = dbs.add_parser("sync", help="index every bundle under the runs root (incremental)")
    sync.add_argument("--runs-root", type=Path, default=DEFAULT_RUNS_ROOT, help="bundles (reports/runs)")
    sync.add_argument("--store", default=None, help="database (default: reports/infercost.duckdb)")
    sync.add_argument("--skip-bad", action="store_true", help="leave unreadable bundles out, saying so")
    query = dbs.add_parser("query", help="run one read-only SQL statement (bounded: docs/database.md)")
    query.add_argument("sql", help='e.g. "SELECT device_name, count(*) FROM current_runs GROUP BY 1"')
    query.add_argument("--store", default=None, help="postgresql://... or duckdb:PATH (default: embedded)")
    query.add_argument("--json", action="store_true", help="print rows as JSON")
    query.add_argument("--max-rows", type=positive_int, default=10_000, help="rows shown at most (10000)")
    query.add_argument("--timeout", type=positive_number, default=30.0, help="seconds before it stops (30)")
    query.add_argument(
        "--allow-files", action="store_true",
        help="embedded store: let the query read and write files (read_csv, COPY TO); off by default",
    )  # fmt: skip
    migrate = dbs.add_parser("migrate", help="create or upgrade the tables (database owner)")
    migrate.add_argument("--store", default=None, help="postgresql://... or duckdb:PATH (default: embedded)")
    migrate.add_argument("--grant", metavar="ROLE", default=None, help="let ROLE push: SELECT, INSERT only")
    status = dbs.add_parser("status", help="schema version and row counts")
    status.add_argument("--store", default=None, help="postgresql://... or duckdb:PATH (default: embedded)")

    push = sub.add_parser("push", help="upload bundles to a shared store (one transaction, idempotent)")
    push.add_argument("runs", nargs="+", metavar="RUN", help="bundles, run ids, or dirs of them")
    push.add_argument("--store", default=None, help="postgresql://USER@HOST/DB (or INFERCOST_STORE)")

    hist = sub.add_parser(
        "history", help="a metric over time from the results database, change points marked"
    )
    hist.add_argument(
        "--metric",
        default="decode_tps_mean",
        help="a registry metric: decode_tps_mean (default), ttft_p50_ms, cost_per_task_usd, pass_rate, ...",
    )
    hist.add_argument("--device", default=None, help="device name (or its start)")
    hist.add_argument("--task", default=None, help="one task id (default: every task)")
    add_store_filters(hist)
    hist.add_argument("--min-effect", type=float, default=0.05, help="smallest change marked (0.05 = 5%%)")
    hist.add_argument("-o", "--output", type=Path, default=None, help="FILE.png/.svg chart or FILE.md page")
    hist.add_argument("--json", action="store_true", help="print the points as JSON")


def add_store_filters(parser: argparse.ArgumentParser, note: str = "") -> None:
    parser.add_argument(
        "--store",
        default=None,
        help="read runs from postgresql://... or duckdb:PATH (or INFERCOST_STORE)"
        + (f"; {note}" if note else ""),
    )
    parser.add_argument(
        "--where", nargs="+", default=None, metavar="KEY=VALUE",
        help="filter stored runs: device= model= suite= backend= run= since= until=",
    )  # fmt: skip


def derived_records(bundle: Bundle) -> list[Record]:
    """What a database stores for a bundle: its records with energy and cost derived as every reader
    derives them (``bench.cost.enrich``, at the profile's prices), so its figures are the report's."""
    from bench.cost.enrich import enrich

    return enrich(bundle)


def _scrub(text: str, store: Store) -> str:
    return str(store.url.scrubber().scrub(text))


# ---------------------------------------------------------------------------------------- db
def cmd_db(args: argparse.Namespace, out: Console, err: Console) -> int:
    from bench.results.db.open import open_store, resolve_store

    if args.db_command is None:
        raise UsageError(
            "infercost db: say what to do", fix="infercost db sync | query SQL | migrate | status"
        )
    url = resolve_store(args.store)
    if args.db_command == "sync":
        if url.engine != "duckdb":
            raise UsageError(
                f"db sync --store {url.display}: sync indexes into an embedded file",
                fix="push bundles to a shared store with: infercost push RUN... --store URL",
            )
        from bench.results.db.embedded import open_embedded

        embedded = open_embedded(url)
        try:
            result = embedded.sync(args.runs_root, skip_bad=args.skip_bad, derive=derived_records)
        finally:
            embedded.close()
        for bad in result.bad:
            err.print(f"[yellow]skipped:[/] {escape(bad)}", markup=True)
        for dup in result.duplicates:
            err.print(f"[yellow]one run id, several bundles:[/] {escape(dup)}", markup=True)
        out.print(
            f"{url.display}: {len(result.push.stored)} run(s) indexed ({result.push.records} records), "
            f"{result.unchanged + len(result.push.skipped)} unchanged, {len(result.removed)} removed",
            markup=False,
        )
        return EXIT_OK
    if args.db_command == "migrate":
        with open_store(url) as store:
            applied = store.migrate()
            if args.grant:
                if url.engine != "postgres":
                    raise UsageError("--grant: roles exist only on a PostgreSQL store")
                store.grant(args.grant)  # type: ignore[attr-defined]
            version = store.version()
        done = f"applied migration(s) {applied}" if applied else f"at schema version {version}"
        granted = f"; {args.grant} may SELECT and INSERT" if args.grant else ""
        out.print(f"{url.display}: {done}{granted}", markup=False)
        return EXIT_OK
    if args.db_command == "status":
        with open_store(url, read_only=True) as store:
            version = store.version()
            out.print(f"{url.display}: schema version {version}", markup=False)
            for table, n in store.iter_tables():
                out.print(f"  {table:16} {n:>10,}", markup=False)
        return EXIT_OK
    return _query(args, url, out)


def _query(args: argparse.Namespace, url: StoreURL, out: Console) -> int:
    from bench.results.db.open import open_for_query
    from bench.results.db.store import QueryLimits

    limits = QueryLimits(max_rows=args.max_rows, timeout_s=args.timeout, allow_files=args.allow_files)
    with open_for_query(url, limits) as store:
        result = store.user_query(args.sql, limits)
    more = "; more rows exist (raise --max-rows, or add LIMIT/GROUP BY)" if result.truncated else ""
    if args.json:
        rows = [dict(zip(result.columns, r, strict=True)) for r in result.rows]
        emit("query", {"columns": result.columns, "rows": rows})
        if more:
            from bench.cli.console import err

            err.print(f"first {len(result.rows)} row(s){more}", markup=False)
        return EXIT_OK
    table = Table(box=None)
    for c in result.columns:
        table.add_column(neutralize_controls(c))
    for row in result.rows:
        table.add_row(*("–" if v is None else _cell(v) for v in row))
    out.print(table)
    out.print(f"{len(result.rows)} row(s){more}", markup=False)
    return EXIT_OK


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}" if math.isfinite(v) else str(v)
    return neutralize_controls(str(v))  # stored text (answers, names) may carry terminal controls


# -------------------------------------------------------------------------------------- push
def cmd_push(args: argparse.Namespace, out: Console) -> int:
    from bench.report.runs import find_bundles
    from bench.results.db.open import open_store
    from bench.results.db.url import store_from_env

    url = store_from_env(args.store)
    if url is None:
        raise UsageError(
            "push: no store given", fix="pass --store postgresql://USER@HOST/DB or set INFERCOST_STORE"
        )
    paths = find_bundles(args.runs)  # every bundle resolved before the store is touched
    with open_store(url) as store:
        result = store.push(paths, derive=derived_records)
    out.print(
        f"{url.display}: {len(result.stored)} run(s) stored ({result.records} records), "
        f"{len(result.skipped)} already there",
        markup=False,
    )
    return EXIT_OK


# ----------------------------------------------------------------------------------- reading
def _open_for_reading(store_flag: str | None) -> Store:
    """The named store, or the embedded default synced with reports/runs first (created on first use)."""
    from bench.results.db.open import open_store, resolve_store
    from bench.results.db.url import store_from_env

    explicit = store_from_env(store_flag)
    if explicit is not None:
        return open_store(explicit, read_only=True)
    from bench.results.db.embedded import open_embedded

    url = resolve_store(None)
    embedded = open_embedded(url)
    try:
        embedded.sync(DEFAULT_RUNS_ROOT, derive=derived_records)
    finally:
        embedded.close()
    return open_store(url, read_only=True)


def from_store(args: argparse.Namespace, refs: Sequence[str] | None = None) -> bool:
    """Whether ``report`` (``choose``) reads a database: --store or --where given, or no bundles named
    and INFERCOST_STORE set; no bundles and no store is a usage error."""
    import os

    from bench.results.db.url import ENV_VAR

    if args.store or args.where:
        return True
    if refs is None:
        refs = args.bundles
    if refs:
        return False
    if os.environ.get(ENV_VAR):
        return True
    raise UsageError(
        f"{args.command}: no bundles given",
        fix="name bundles or run ids, or read a database with --store/--where",
    )


def store_report(args: argparse.Namespace, options: ReportOptions) -> Report:
    """``report --store URL --where ...``: the runs the filters match, read from the database."""
    from bench.report.build import build_report
    from bench.report.runs import runs_from_bundles
    from bench.results.bundle import gc_paused
    from bench.results.db.filters import parse_where

    where = parse_where(args.where)
    with _open_for_reading(args.store) as store:
        bundles = store.load_bundles(where)
        display = store.display
    if not bundles:
        raise UsageError(f"{display}: no stored run matches {_where_text(args.where)}")
    runs = runs_from_bundles(bundles, options.enrich)
    with gc_paused():
        return build_report(runs, options)


def summary_report(args: argparse.Namespace, out: Console) -> int:
    """``report --store URL --summary``: one row per run, aggregated by the database itself, labelled and
    formatted by the field registry like every other view."""
    from bench.results.db.filters import parse_where
    from bench.results.db.summary import ID_COLUMNS, SUMMARY_FIGURES, summary
    from bench.results.metrics.display import ESTIMATE_NOTE
    from bench.results.metrics.registry import FIELDS, fields_json

    where = parse_where(args.where)
    with _open_for_reading(args.store) as store:
        result = summary(store, where)
        display = store.display
    if not result.rows:
        raise UsageError(f"{display}: no stored run matches {_where_text(args.where)}")
    rows = [dict(zip(result.columns, r, strict=True)) for r in result.rows]
    if args.json:
        doc = {
            "store": display,
            "fields": fields_json(SUMMARY_FIGURES),
            "rows": [{k: _plain(v) for k, v in row.items()} for row in rows],
        }
        emit("db-summary", doc)
        return EXIT_OK
    table = Table(title=f"{display}: {len(result.rows)} run(s)", title_justify="left", box=None)
    for _col, label in ID_COLUMNS:
        table.add_column(label, justify="left")
    for name in SUMMARY_FIGURES:
        table.add_column(FIELDS[name].header, justify="right")
    for row in rows:
        ids = [str(row["started_utc"])[:16], *(str(row[c]) for c, _ in ID_COLUMNS[1:])]
        est = bool(row["energy_estimated"])
        cells = [FIELDS[n].format(_plain(row[n]), estimated=est) for n in SUMMARY_FIGURES]
        table.add_row(*ids, *cells)
    out.print(table)
    if any(row["energy_estimated"] for row in rows):
        out.print(ESTIMATE_NOTE, markup=False)
    return EXIT_OK


def _plain(value: Any) -> Any:
    """A database value as Python reads a figure: Decimal → float (DuckDB returns avg() of a CASE so)."""
    from decimal import Decimal

    return float(value) if isinstance(value, Decimal) else value


def _view(bundle: Bundle, display: str) -> Run:
    """A stored run as the gate sees it (``gate.load_run``'s steps: complete, enriched, summarized)."""
    from bench.cost.enrich import enrich
    from bench.errors import BundleError
    from bench.report.runs import Run

    if not bundle.manifest.complete:
        raise BundleError(
            f"{display}: stored run {bundle.manifest.run_id} did not finish (complete: false)",
            fix="choose a complete run",
        )
    source = f"{display} {bundle.manifest.run_id}"
    return Run([bundle.path], [bundle.manifest], enrich(bundle), list(bundle.warnings), source=source)


def _stored_bundle(store: Store, ref: str, where_items: Sequence[str] | None) -> Bundle:
    """The stored run whose id is (or starts with) ``ref``, or with ``latest`` the newest complete run
    matching ``--where``."""
    from bench.results.db.filters import parse_where

    where = parse_where(where_items) if ref == "latest" else parse_where([*(where_items or []), f"run={ref}"])
    rows = [r for r in store.runs(where).rows if r[8]]  # complete runs, oldest first
    exact = [r for r in rows if r[0] == ref]
    if ref != "latest" and not exact and len(rows) > 1:
        raise UsageError(
            f"{ref}: {len(rows)} stored runs start with it",
            fix="give more of the run id, or latest with --where filters",
        )
    pick = exact[0] if exact else (rows[-1] if rows else None)
    if pick is None:
        raise UsageError(f"{store.display}: no complete stored run matches {ref} {_where_text(where_items)}")
    return store.load_bundle(pick[0], pick[1])


def stored_view(store_flag: str | None, ref: str, where_items: Sequence[str] | None) -> Run:
    """``gate --baseline REF --store URL``: a stored run as the gate sees it."""
    with _open_for_reading(store_flag) as store:
        return _view(_stored_bundle(store, ref, where_items), store.display)


def stored_runs(store_flag: str | None, refs: Sequence[str], where_items: Sequence[str] | None) -> list[Run]:
    """``compare A B --store URL``: stored runs as reports see them (enriched, labelled)."""
    from bench.report.runs import assign_labels, runs_from_bundles

    with _open_for_reading(store_flag) as store:
        bundles = [_stored_bundle(store, ref, where_items) for ref in refs]
    runs = runs_from_bundles(bundles)
    assign_labels(runs)
    return runs


def stored_views(store_flag: str | None, where_items: Sequence[str] | None) -> list[Run]:
    """``choose --store URL --where ...``: every complete stored run matching the filters."""
    from bench.results.db.filters import parse_where

    with _open_for_reading(store_flag) as store:
        bundles = store.load_bundles(parse_where(where_items), complete_only=True)
        display = store.display
    if not bundles:
        raise UsageError(f"{display}: no complete stored run matches {_where_text(where_items)}")
    return [_view(b, display) for b in bundles]


def _where_text(items: Sequence[str] | None) -> str:
    return " ".join(items) if items else "(no filter)"


def cmd_history(args: argparse.Namespace, out: Console, err: Console) -> int:
    from bench.report.history_chart import text_bars, write_history
    from bench.results.db.filters import parse_where
    from bench.results.db.history import history, history_metric

    spec, warning = history_metric(args.metric)
    if warning:
        err.print(f"[yellow]warning:[/] {escape(warning)}", markup=True)
    where = parse_where(args.where, device=args.device)
    with _open_for_reading(args.store) as store:
        points = history(store, spec.name, where, task=args.task, min_effect=args.min_effect)
        display = store.display
    if not points:
        raise UsageError(
            f"{display}: no {spec.name} values for {_where_text(args.where)}"
            + (f" device={args.device}" if args.device else "") + (f" task={args.task}" if args.task else ""),
            fix="widen the filters; infercost db query \"SELECT DISTINCT device_name FROM current_runs\"",
        )  # fmt: skip
    if args.json:
        from dataclasses import asdict

        emit("history", {"metric": spec.name, "field": spec.as_json(), "points": [asdict(p) for p in points]})
        return EXIT_OK
    title = f"{spec.name}: {spec.description}"
    title += f" · over time · {args.device or 'every device'} · {args.task or 'every task'}"
    table = Table(title=title, title_justify="left", box=None)
    head = spec.header
    for col in ("started (UTC)", "run", "device", "model", "n", head, "vs previous"):
        table.add_column(col, justify="right" if col in ("n", head) else "left")
    md = [f"| started (UTC) | run | device | model | n | {head} | vs previous |",
          "|---|---|---|---|--:|--:|---|"]  # fmt: skip
    for p in points:
        mark = "◆ " if p.change_point else ""
        cells = [p.started_utc[:19], p.run_id, p.device, p.model, str(p.n), spec.format(p.value),
                 mark + p.verdict]  # fmt: skip
        table.add_row(*cells, style="bold" if p.change_point else None)
        md.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    out.print(table)
    for line in text_bars(points, spec):
        out.print(line, markup=False, highlight=False)
    n_cp = sum(p.change_point for p in points)
    out.print(
        f"◆ change point: significant (Mann–Whitney U, as compare) and at least {args.min_effect:.0%} "
        f"against the device's previous run · {n_cp} found",
        markup=False,
    )
    if args.output is not None:
        for path in write_history(points, spec, title, args.output, md):
            err.print(f"wrote {path}", markup=False)
    return EXIT_OK

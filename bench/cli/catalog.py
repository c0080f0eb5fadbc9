"""The listings: ``infercost suites``, ``models``, ``devices [show NAME]`` and ``prices [WORD]``."""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table
from rich.text import Text

from bench.cli.console import out
from bench.cli.jsonout import emit
from bench.errors import EXIT_OK, BenchError

__all__ = ["register"]


def register(sub: Any) -> None:
    sub.add_parser("suites", help="list the prompt suites in prompts/").set_defaults(
        handler=lambda args, _argv: cmd_suites(args)
    )
    sub.add_parser("models", help="list the catalog models and whether they are installed").set_defaults(
        handler=lambda args, _argv: cmd_models(args)
    )
    devices = sub.add_parser("devices", help="list the device profiles in devices/ (or: devices show NAME)")
    devices.add_argument("--stale", action="store_true", help="list only prices older than 180 days")
    devices_sub = devices.add_subparsers(dest="devices_command", metavar="show")
    show = devices_sub.add_parser("show", help="print one resolved profile")
    show.add_argument("name", help="profile NAME, PATH or auto")
    show.add_argument("--power-mode", default=None, help="resolve the profile in this power mode")
    show.add_argument("--json", action="store_true", help="print the resolved profile as JSON")
    devices.set_defaults(handler=lambda args, _argv: cmd_devices(args))
    prices = sub.add_parser(
        "prices", help="the token APIs the price database knows, with their tiers (NAME for --device)"
    )
    prices.add_argument("word", nargs="?", default=None, help="only models whose name contains WORD")
    prices.add_argument("--json", action="store_true", help="print the models and their prices as JSON")
    prices.set_defaults(handler=lambda args, _argv: cmd_prices(args))


def cmd_suites(_args: argparse.Namespace) -> int:
    from bench.suite.loader import list_suites, load_suite

    table = Table(title="prompt suites (prompts/)", title_justify="left")
    for col in ("name", "tasks", "categories", "hash", "description"):
        table.add_column(col)
    for path in list_suites():
        try:
            s = load_suite(path)
        except BenchError as exc:
            table.add_row(path.stem, "–", "–", "–", Text.assemble(("invalid:", "red"), f" {exc}"))
            continue
        table.add_row(s.name, str(len(s.tasks)), ", ".join(s.categories), s.suite_hash[:12], s.description)
    out.print(table)
    out.print(_public_suites())
    return EXIT_OK


def _public_suites() -> Table:
    """The public benchmarks ``--suite`` takes, built from their packages (docs/benchmarks.md)."""
    from bench.suite.sources import load_source_suite, source_suite_names

    table = Table(
        title="public benchmarks (docs/benchmarks.md; --tasks / --sample for a part)", title_justify="left"
    )
    for col in ("name", "tasks", "source", "licence"):
        table.add_column(col)
    for name in source_suite_names():
        try:
            s = load_source_suite(name)
        except BenchError as exc:  # its package is not installed: say how to install it
            table.add_row(name, "–", Text.assemble(("not installed:", "yellow"), f" {exc.fix or exc}"), "–")
            continue
        src = s.source
        assert src is not None
        table.add_row(name, str(len(s.tasks)), f"{src.benchmark}: {src.package} {src.version}", src.licence)
    return table


def cmd_models(_args: argparse.Namespace) -> int:
    from bench.models.catalog import CATALOG, DEFAULT_MODEL

    table = Table(title="model catalog (installed from PyPI, no hub needed)", title_justify="left")
    for col in ("name", "model", "params", "quant", "size", "chat template", "installed"):
        table.add_column(col, justify="right" if col in ("params", "size") else "left")
    missing = []
    for name, m in CATALOG.items():
        installed = m.installed()
        if not installed:
            missing.append(m)
        table.add_row(
            name + (" (default)" if name == DEFAULT_MODEL else ""),
            m.title,
            m.params,
            m.quant,
            f"{m.size_mb} MB",
            "yes" if m.chat_template else "no (plain completion)",
            Text("yes", style="green") if installed else Text("no", style="red"),
        )
    out.print(table)
    for m in missing:
        out.print(f"install {m.name}: {m.install_command}")
    return EXIT_OK


def cmd_devices(args: argparse.Namespace) -> int:
    from bench.devices.profiles import auto_profile, list_devices, load_device
    from bench.report import cost_view

    if args.devices_command == "show":
        profile = load_device(args.name, power_mode=args.power_mode)
        if args.json:
            emit("device", {**profile.public_dict(), "origin": profile.origin})
        else:
            for line in cost_view.device_lines(args.name, profile):
                out.print(line, markup=False)
        return EXIT_OK
    rows: list[Any] = [("auto", auto_profile(), None)]
    for path in list_devices():
        try:
            rows.append((path.stem, load_device(str(path)), None))
        except BenchError as exc:
            rows.append((path.stem, None, str(exc)))
    if args.stale:
        stale = [w for key, p, _ in rows if p is not None for w in cost_view.profile_warnings(key, p)]
        for line in stale:
            out.print(line, markup=False, highlight=False)
        if not stale:
            out.print("no price is older than 180 days", markup=False)
        return EXIT_OK
    out.print(cost_view.devices_table(rows))
    return EXIT_OK


def cmd_prices(args: argparse.Namespace) -> int:
    """``infercost prices [WORD]``: every token API of the price database (or those matching WORD), the
    name that selects it, and its prices with their context-length tiers, batch tier and dated changes."""
    from bench.devices.price_db import database
    from bench.report import cost_view

    db = database()
    found = db.search(args.word)
    if args.json:
        doc = {
            "database": {"package": "genai-prices", "version": db.version, "data_date": db.data_date},
            "models": [
                {
                    "name": name,
                    "model": m.name,
                    "provider": m.provider_name,
                    "deprecated": m.deprecated,
                    "other_units": list(m.other_units),
                    "prices": m.schedule.model_dump(mode="json", exclude_none=True),
                }
                for name, m in found
            ],
        }
        emit("prices", doc)
        return EXIT_OK
    if not found:
        raise BenchError(
            f"no model of the price database ({db.label}) matches '{args.word}'",
            fix="try a provider (anthropic, openai, groq) or a family (claude, gpt, llama)",
        )
    out.print(cost_view.prices_table(db.label, found, width=out.width))
    return EXIT_OK

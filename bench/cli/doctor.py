"""``infercost doctor``: is this machine ready to measure? Checks, states and fixes."""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table
from rich.text import Text

from bench.cli.console import out
from bench.cli.jsonout import emit
from bench.errors import EXIT_ENV_NOT_READY, EXIT_OK

__all__ = ["register"]


def register(sub: Any) -> None:
    doctor = sub.add_parser("doctor", help="is this machine ready to measure? sensors, power mode, load")
    doctor.add_argument("--device", default="auto", help="profile NAME or PATH (for estimate watts)")
    doctor.add_argument("--power", default=None, metavar="SENSOR", help="insist on this sensor")
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")
    doctor.set_defaults(handler=lambda args, _argv: cmd_doctor(args))


def cmd_doctor(args: argparse.Namespace) -> int:
    from bench.devices.profiles import load_device
    from bench.run.doctor import is_ready, run_checks

    device = load_device(args.device)
    checks = run_checks(idle_w=device.idle_w, max_w=device.max_w, insist=args.power or device.power_sensor)
    ready = is_ready(checks)
    if args.json:
        emit("doctor", {"ready": ready, "checks": [c.as_dict() for c in checks]})
    else:
        table = Table(title="infercost doctor", title_justify="left", box=None)
        for col in ("check", "state", "detail"):
            table.add_column(col, overflow="fold")
        color = {"ok": "green", "warn": "yellow", "fail": "red", "info": "dim"}
        for c in checks:
            table.add_row(c.name, Text(c.state, style=color[c.state]), c.detail)
        out.print(table)
        for c in checks:
            if c.fix and c.state in ("fail", "warn"):
                out.print(Text.assemble((f"{c.name}:", color[c.state]), f" {c.fix}"), soft_wrap=True)
        verdict = ("ready to measure", "") if ready else ("not ready", "red")
        out.print(Text.assemble(verdict, "" if ready else ": fix the failing checks above"))
    return EXIT_OK if ready else EXIT_ENV_NOT_READY

"""Command line: parse, call, print, exit. The only package that prints results or exits.

Each command group lives in its own module with a ``register(subparsers)`` that declares its parser and
its handler; this module builds the parser from them and maps outcomes to exit codes once. Expected
mistakes (``BenchError``) print one line and exit with their code (2 for bad input, 4 for an environment
that is not ready); Ctrl-C exits 130 with every finished record kept; anything else is a bug: its
traceback is printed and the exit code is 70.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from collections.abc import Sequence

from rich.markup import escape

from bench import __version__
from bench.cli import catalog, cost, db, doctor, gate, results, run, sweep
from bench.cli.console import NOTED, err
from bench.cli.parser import Parser
from bench.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, EXIT_PIPE_CLOSED, BenchError
from bench.redaction import ScrubbingStream
from bench.run.runner import RunInterrupted

__all__ = ["build_parser", "main"]

# the order commands appear in `infercost --help`
_COMMAND_GROUPS = (run, sweep, gate, doctor, results, catalog, cost, db)


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="infercost",
        description="What does a task cost, how fast, and how well: on this device versus that cloud API.",
    )
    p.add_argument("--version", action="version", version=f"infercost {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for group in _COMMAND_GROUPS:
        group.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Everything printed passes through ``ScrubbingStream``: no configured secret reaches a terminal."""
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = ScrubbingStream(stdout), ScrubbingStream(stderr)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_note  # the library's warnings, as the tool's own one-line notes
            return _main(argv)
    finally:
        sys.stdout, sys.stderr = stdout, stderr


def _show_note(message: Warning | str, *_args: object, **_kwargs: object) -> None:
    text = str(message)
    if text not in NOTED:
        NOTED.add(text)
        err.print(f"[yellow]infercost: note:[/] {escape(text)}", markup=True, highlight=False)


def _main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    try:
        code: int = args.handler(args, argv)
        return code
    except BenchError as exc:
        err.print(f"[red]infercost: error:[/] {escape(str(exc))}", markup=True, highlight=False)
        return exc.exit_code
    except RunInterrupted as exc:
        err.print(f"[yellow]infercost:[/] {escape(str(exc))}", markup=True)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        err.print("[yellow]infercost:[/] interrupted", markup=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `infercost ... | head`: not 0, so a piped gate never reads as passed; what is left unflushed goes
        # nowhere instead of raising again at exit (Python's documented recipe)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)  # standard output's descriptor
        return EXIT_PIPE_CLOSED
    except Exception:
        traceback.print_exc()
        err.print(
            "[red]infercost: internal error[/] (a bug; please report it with the traceback above)",
            markup=True,
        )
        return EXIT_INTERNAL

"""The argument parser every command is declared on: a rejected option is one line, not the usage block.

argparse prints the whole usage (16 lines for ``run``) before its one-line reason; the project's rule for
bad input is one line naming the fix, exit 2, no traceback. The fix for a bad option is the command's
``--help``, so the line ends by pointing there. Subparsers are built from their parent's class
(``add_subparsers``' default ``parser_class``), so every command and subcommand answers the same way.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

from bench.cli.console import err
from bench.errors import EXIT_USAGE

__all__ = ["Parser"]


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        err.print(f"{self.prog}: error: {message} (see {self.prog} --help)")
        self.exit(EXIT_USAGE)

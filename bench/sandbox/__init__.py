"""Running model-written code (python-test checks, later the agent ``python`` tool) under OS limits.

See ``spawn.py`` for the guarantees and docs/security.md for what holds on each platform.
"""

from bench.sandbox.fork import bounded_call, limit_memory
from bench.sandbox.spawn import (
    Isolation,
    Limits,
    SandboxResult,
    harden_harness,
    probe_isolation,
    run_python,
)

__all__ = [
    "Isolation",
    "Limits",
    "SandboxResult",
    "bounded_call",
    "harden_harness",
    "limit_memory",
    "probe_isolation",
    "run_python",
]

"""Running model-written code (python-test checks, later the agent ``python`` tool) under OS limits.

See ``spawn.py`` for the guarantees and docs/security.md for what holds on each platform.
"""

from bench.sandbox.spawn import (
    Isolation,
    Limits,
    SandboxResult,
    harden_harness,
    probe_isolation,
    run_python,
)

__all__ = ["Isolation", "Limits", "SandboxResult", "harden_harness", "probe_isolation", "run_python"]

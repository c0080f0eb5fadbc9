"""One exception tree for the whole package.

Library code raises these; only ``bench.cli.app`` catches them, prints the one-line message and exits with
the code the error carries (the exit-code table in docs/cli.md). Anything that is *not* a ``BenchError`` is a
bug: the CLI prints its traceback and exits 70.

Every message names the place (file, field, flag) and, where there is one, the fix: an expected mistake
must never show the user a traceback.
"""

from __future__ import annotations

__all__ = [
    "EXIT_ENV_NOT_READY",
    "EXIT_FAILED",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PIPE_CLOSED",
    "EXIT_REQUEST_ERRORS",
    "EXIT_USAGE",
    "BackendError",
    "BenchError",
    "BundleError",
    "EnvironmentNotReady",
    "ModelError",
    "ProfileError",
    "SuiteError",
    "UsageError",
]

EXIT_OK = 0
EXIT_FAILED = 1  # gate: a rule failed; choose: no candidate qualifies
EXIT_USAGE = 2  # usage or input error
EXIT_REQUEST_ERRORS = 3  # run finished but some requests errored
EXIT_ENV_NOT_READY = 4  # doctor found problems, sensor unreadable, endpoint unreachable
EXIT_INTERNAL = 70  # a bug: the traceback is kept
EXIT_INTERRUPTED = 130  # Ctrl-C: every finished record is kept
EXIT_PIPE_CLOSED = 141  # the reader of stdout left early (128 + SIGPIPE, as a shell reports such a writer)


class BenchError(Exception):
    """Base of every error the user can cause or fix; carries its exit code and an optional fix."""

    exit_code: int = EXIT_USAGE

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        if self.fix:
            return f"{self.message} ({self.fix})" if "\n" not in self.fix else f"{self.message}\n{self.fix}"
        return self.message


class UsageError(BenchError):
    """A bad flag or flag combination."""


class SuiteError(BenchError):
    """A prompt suite that cannot be read or does not validate."""


class ProfileError(BenchError):
    """A device profile that cannot be read or does not validate."""


class ModelError(BenchError):
    """A model that is unknown, missing, truncated or not a GGUF file."""


class BundleError(BenchError):
    """A result bundle that cannot be read (missing, corrupt, unknown schema version)."""


class BackendError(BenchError):
    """A backend that cannot start (engine not installed, model fails to load)."""


class EnvironmentNotReady(BenchError):
    """The machine or endpoint is not ready: unreadable sensor, unreachable endpoint, refused key."""

    exit_code = 4

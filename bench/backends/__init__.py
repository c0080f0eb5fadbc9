"""Backends run one request at a time and return raw timestamps; the runner turns them into records."""

from bench.backends.base import Backend, Generation, RequestFailed

__all__ = ["Backend", "Generation", "RequestFailed"]

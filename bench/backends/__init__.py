"""Backends run a request and return raw timestamps; the runner turns them into records.

The HTTP backend also runs many at once on its event loop (`agenerate`), for `bench.run.traffic`.
"""

from bench.backends.base import Backend, Generation, RequestFailed

__all__ = ["Backend", "Generation", "RequestFailed"]

"""Manifests written by earlier versions, brought to the shape this version's typed parts read.

Every manifest passes through ``upgrade`` before it is validated (``Manifest``'s own validator), whether
read from a bundle, from a results database or built in code, so no reader ever meets an older shape.

What earlier versions wrote (schema version 1 throughout; every ``manifest.json`` in the project's
history loads, tests/results/test_manifest_parts.py): the parts grew, nothing was renamed. Runs before the
run-hygiene and resume work have no ``hygiene``, ``resumes`` or ``sandbox``; profiles before price tiers
and rented GPUs have 12 to 36 of today's 51 device fields; power before the sampler's own figures has only
``sensor``, ``rate_hz`` and ``idle_w``. Every field of a typed part is optional, so all of these read as
None (or empty) without a step here, and what a version wrote that this one does not know is kept.

The steps, in order (a renamed or re-shaped field gets its step here, with the bundles that need it):

1. a list or map part written as ``null`` (``resumes``, ``counts``, ``command``) reads as empty: readers
   iterate them without asking whether they exist.

Schema versions this version does not know are refused before ``upgrade`` runs
(``bench.results.bundle``). Record lines are not touched here: their later fields are optional already.
"""

from __future__ import annotations

from typing import Any

__all__ = ["upgrade"]

_EMPTY_WHEN_NULL: dict[str, type[list[Any]] | type[dict[str, Any]]] = {
    "resumes": list,
    "counts": dict,
    "command": list,
}


def upgrade(data: Any) -> Any:
    """``data`` (a manifest as JSON) in this version's shape; anything but an object is left to the
    validator to refuse."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for key, empty in _EMPTY_WHEN_NULL.items():
        if key in out and out[key] is None:
            out[key] = empty()
    return out

"""infercost's reading of whichever genai-prices this interpreter imports, as JSON on stdout: run as
``python -m tests.helpers.price_db_probe`` in a child process whose ``PYTHONPATH`` puts another release
ahead of the installed one (tests/cost/test_price_db_py310.py: the 0.1 release Python 3.10 installs).

It says which release was read and how infercost dates it, how many providers and token APIs it names,
what every shipped profile resolves to, and how infercost's bill agrees with that release's own
``calc_price`` on one model of every provider × 30 random usages (the sweep of tests/cost/test_price_db.py,
smaller: a child process on a CI budget).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from bench.devices.price_db import database
from bench.devices.profiles import load_device
from bench.errors import BenchError
from tests.helpers import ROOT
from tests.helpers.price_sweep import Agreement, compare, usages

USAGES_PER_MODEL = 30


def shipped_profiles() -> dict[str, str | None]:
    """Each shipped profile → the database entry it is priced by (None: priced by its own fields, or
    not a token API); a profile that does not load gives its one-line error."""
    out: dict[str, str | None] = {}
    for path in sorted((ROOT / "devices").glob("*.toml")):
        try:
            prices = load_device(str(path)).token_prices
        except BenchError as exc:
            out[path.stem] = f"error: {exc}"
            continue
        out[path.stem] = (
            prices.source.ref if prices is not None and prices.source.kind == "genai-prices" else None
        )
    return out


def probe() -> dict[str, object]:
    import genai_prices

    db = database()
    by_provider: dict[str, list[str]] = {}
    for name, m in db.nameable():
        by_provider.setdefault(m.provider_id, []).append(name)
    rng = random.Random(310)
    result = Agreement()
    for provider in sorted(by_provider):
        _, _, ref = rng.choice(by_provider[provider]).partition(":")
        named = db.lookup(provider, ref)  # as --device provider:ref finds it
        compare(named, ref, usages(rng, named, USAGES_PER_MODEL), result)
    return {
        "module": str(Path(genai_prices.__file__).resolve()),
        "version": db.version,
        "label": db.label,
        "data_date": db.data_date.isoformat(),
        "providers": len(db.providers),
        "token_apis": len(db.token_apis()),
        "nameable_providers": len(by_provider),
        "shipped": shipped_profiles(),
        "agreement": {
            "models": result.models,
            "providers": len(result.providers),
            "usages": result.usages,
            "disagreements": result.disagreements[:5],
            "calculator_refused": result.calculator_refused[:5],
        },
    }


if __name__ == "__main__":
    json.dump(probe(), sys.stdout, indent=1)

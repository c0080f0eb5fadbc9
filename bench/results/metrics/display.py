"""How figures read: dollars one way, estimates marked one way, significant digits for small numbers.

Every view (run summary, report tables and charts, compare, gate, choose, history, the database summary,
the sweep table, break-even) formats through the field registry (``Field.format``), which calls these, so a
figure reads the same wherever it is shown:

- a computed dollar figure: ``$1,234.50`` from one dollar up, else three significant digits in plain
  decimals (``$0.0420``, ``$0.000106``: costs per task span 1e-8..1e2, and a reader compares digits, not
  exponents); a *quoted* price (what a profile or a flag says: ``$0.16/kWh``) as written (``price``);
- a figure resting on a model rather than a sensor (estimated energy, and a cost built on it): ``≈``
  before the number, and a note saying what ``≈`` means.
"""

from __future__ import annotations

import math

__all__ = ["ESTIMATE_MARK", "ESTIMATE_NOTE", "price", "significant", "usd"]

ESTIMATE_MARK = "≈"
ESTIMATE_NOTE = "≈ estimated energy (a model, not a sensor), and cost built on it"


def significant(value: float, digits: int) -> str:
    """``digits`` significant digits in plain decimals: 0.00000819, 0.000106, 15.9."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}"


def usd(value: float | None) -> str:
    """A computed dollar figure: ``$1,234.50`` · ``$0.0420`` · ``$0.000000224``; "–" when absent."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    sign = "-" if value < 0 else ""
    v = abs(value)
    if v == 0:
        return "$0"
    if v >= 1:
        return f"{sign}${v:,.2f}"
    return f"{sign}${significant(v, 3)}"


def price(value: float | None) -> str:
    """A quoted price, as the profile or flag wrote it: ``$0.16``, ``$1,999``, ``$0.075``; "–" if none."""
    if value is None:
        return "–"
    return f"${value:,.10g}" if abs(value) >= 1000 else f"${value:g}"

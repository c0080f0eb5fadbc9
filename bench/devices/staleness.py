"""How old a price is, and when it is too old to trust without checking (docs/prices.md).

Prices are data with dates (docs/prices.md): a price read 15 months ago may no longer be the one a user is
billed. Every table that prints a price prints its age next to it; a price older than
``STALE_AFTER_DAYS`` is flagged with the source to check. "Today" is the real clock unless a caller passes
another day, so tests (and a report regenerated later) can pin it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["DAYS_PER_MONTH", "STALE_AFTER_DAYS", "PriceAge", "price_age", "today"]

STALE_AFTER_DAYS = 180
DAYS_PER_MONTH = 365.25 / 12


def today() -> dt.date:
    """The real clock's date: the one place infercost asks it (tests monkeypatch this function)."""
    return dt.date.today()


def _as_date(value: dt.date | str | None) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


@dataclass(frozen=True)
class PriceAge:
    """A price's date and its age on ``on`` (a day)."""

    as_of: dt.date
    on: dt.date
    source: str | None = None

    @property
    def days(self) -> int:
        return (self.on - self.as_of).days

    @property
    def months(self) -> int:
        return round(self.days / DAYS_PER_MONTH)

    @property
    def stale(self) -> bool:
        return self.days > STALE_AFTER_DAYS

    @property
    def age_text(self) -> str:
        """``12 days`` below two months, else ``15 months``; a date after today says so."""
        if self.days < 0:
            return "dated in the future"
        if self.days < 60:
            return f"{self.days} day{'s' if self.days != 1 else ''}"
        return f"{self.months} months"

    @property
    def short(self) -> str:
        """For a table cell: ``2025-09-01 (15 months, STALE)``."""
        flag = ", STALE" if self.stale else ""
        return f"{self.as_of.isoformat()} ({self.age_text}{flag})"

    @property
    def warning(self) -> str | None:
        """The flag line for a stale price: ``price as of 2025-09-01, 15 months old: check SOURCE``."""
        if not self.stale:
            return None
        return (
            f"price as of {self.as_of.isoformat()}, {self.age_text} old: check {self.source or 'its source'}"
        )


def price_age(
    as_of: dt.date | str | None, source: str | None = None, on: dt.date | None = None
) -> PriceAge | None:
    """The age of a price dated ``as_of`` (a date or ISO string) on ``on`` (default: today).

    None when the price is undated."""
    day = _as_date(as_of)
    if day is None:
        return None
    return PriceAge(day, on or today(), source)

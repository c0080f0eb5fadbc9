"""The price database: genai-prices' bundled snapshot of ~2,300 models from ~47 providers, read lazily and
never updated behind the user's back (docs/prices.md).

- **Lazily**: importing genai-prices costs ~0.17 s, so nothing imports this module's database until a
  command needs a price from it (a device named ``provider:model``, a cloud profile without its own
  prices, ``infercost prices``); ``infercost --help`` and the commands that price nothing never load it.
- **Offline, explicitly updated**: genai-prices can fetch newer prices from the network, but only when a
  caller starts its ``UpdatePrices`` background task; infercost never does. It builds its own
  ``DataSnapshot`` from the data bundled with the installed package (so a snapshot another library set in
  the same process is not used either). Newer prices come from upgrading the package
  (``pip install -U genai-prices``): an explicit act, recorded as the version in every manifest that uses it.
- **Dated by its own data**: the package carries no release date, so the data's date is the newest day on
  which a price in it took effect, up to today (a price change it announces for a later day does not
  count until that day comes; from then on the date may be later than the snapshot: docs/prices.md).

A model's prices become a ``PriceSchedule`` (``bench.devices.token_prices``): its context-length tiers,
its dated price changes and daily windows, and its batch prices (the database's ``processing = batch``
variant), with the database's version and data date as the source. Only the prices that a text request's
token counts reach are kept; a model billed by other units too (web searches, audio, images) is listed
with them, and they are never part of a request's cost here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

from bench.devices.staleness import today
from bench.devices.token_prices import (
    Period,
    PriceSchedule,
    PriceSet,
    PriceSource,
    Rate,
    Tier,
    TieredRate,
    When,
)
from bench.errors import ProfileError

__all__ = ["DbModel", "PriceDatabase", "database", "split_name"]

PACKAGE = "genai-prices"
# the database's price keys that a request's token counts reach, by the name a profile gives them
_KEYS = {
    "input_mtok": "input_usd_per_mtok",
    "output_mtok": "output_usd_per_mtok",
    "cache_read_mtok": "cache_read_usd_per_mtok",
    "cache_write_mtok": "cache_write_usd_per_mtok",
    "cache_write_1h_mtok": "cache_write_1h_usd_per_mtok",
    "output_reasoning_mtok": "reasoning_usd_per_mtok",
    "requests_kcount": "usd_per_1k_requests",
}
_BATCH = {"processing": "batch"}  # the database's price context for the batch tier


def split_name(name: str) -> tuple[str, str] | None:
    """``anthropic:claude-sonnet-4-5`` → (provider, model); None when ``name`` is not of that form (a
    profile name, a path)."""
    provider, sep, model = name.partition(":")
    if not sep or not provider or not model or "/" in provider or provider.endswith(".toml"):
        return None
    return provider.strip().lower(), model.strip()


@dataclass(frozen=True)
class DbModel:
    """One model of one provider, as the database prices it."""

    provider_id: str
    provider_name: str
    model_id: str
    name: str
    schedule: PriceSchedule
    deprecated: bool = False
    other_units: tuple[str, ...] = ()  # priced units a text request never uses (web searches, audio, ...)

    @property
    def ref(self) -> str:
        return f"{self.provider_id}:{self.model_id}"


def _rate(value: Any) -> Rate:
    if isinstance(value, Decimal):
        return float(value)
    return TieredRate(
        base=float(value.base),
        tiers=tuple(Tier(above_tokens=t.start, usd_per_mtok=float(t.price)) for t in value.tiers),
    )


def _price_set(model_price: Any) -> tuple[PriceSet, set[str]]:
    values: dict[str, Rate] = {}
    other: set[str] = set()
    for key, value in vars(model_price).items():
        if value is None or key.startswith("_"):
            continue
        if key in _KEYS:
            values[_KEYS[key]] = _rate(value)
        else:
            other.add(key)
    return PriceSet.model_validate(values), other


def _when(constraint: Any) -> When | None:
    if constraint is None:
        return None
    if hasattr(constraint, "start_date"):
        return When(starts=constraint.start_date)

    def utc(t: dt.time) -> dt.time:
        if t.tzinfo is None:
            return t
        return dt.datetime.combine(dt.date(1970, 1, 1), t).astimezone(dt.timezone.utc).time()

    return When(daily_from=utc(constraint.start_time), daily_until=utc(constraint.end_time))


@dataclass
class PriceDatabase:
    """The installed genai-prices data, with infercost's reading of it."""

    version: str
    providers: list[Any]
    snapshot: Any
    data_date: dt.date
    _schedules: dict[tuple[str, str], DbModel | None] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{PACKAGE} {self.version} (data as of {self.data_date.isoformat()})"

    def _convert(self, provider: Any, model: Any) -> DbModel | None:
        """The model as infercost prices it; None when it is not a token API (no input or output price in
        some period: embeddings, speech, images)."""
        key = (provider.id, model.id)
        if key in self._schedules:
            return self._schedules[key]
        conditional = model.prices if isinstance(model.prices, list) else None
        other: set[str] = set()
        periods = []
        for cond in conditional or [None]:
            price_set, extra = _price_set(model.prices if cond is None else cond.prices)
            other |= extra
            periods.append(Period(when=None if cond is None else _when(cond.constraint), prices=price_set))
        # the database's calculator ignores request variants for a model reached through another
        # provider's list (a fallback), so infercost does too
        own = any(m is model for m in provider.models)
        batch = [
            Period(when=_when(v.constraint), prices=_price_set(v.prices)[0])
            for v in (model.price_variants or [])
            if own and dict(v.when) == _BATCH
        ]
        batch = [b for b in batch if b.prices.given()]
        if any(p.prices.input_usd_per_mtok is None or p.prices.output_usd_per_mtok is None for p in periods):
            self._schedules[key] = None
            return None
        schedule = PriceSchedule(
            periods=tuple(periods),
            batch=tuple(batch),
            source=PriceSource(
                kind="genai-prices",
                version=self.version,
                as_of=self.data_date,
                ref=f"{provider.id}/{model.id}",
            ),
            context_window=model.context_window,
        )
        found = DbModel(
            provider_id=provider.id,
            provider_name=provider.name,
            model_id=model.id,
            name=model.name or model.id,
            schedule=schedule,
            deprecated=bool(model.deprecated),
            other_units=tuple(sorted(other)),
        )
        self._schedules[key] = found
        return found

    def lookup(self, provider: str, model: str) -> DbModel:
        """The model the database finds for ``model`` at ``provider`` (its own matching rules, aliases
        and dated names included); a one-line ``ProfileError`` naming what is known otherwise."""
        try:
            found_provider, found_model = self.snapshot.find_provider_model(model, None, provider, None)
        except LookupError:
            known = {p.id for p in self.providers}
            if provider not in known:
                raise ProfileError(
                    f"{provider}:{model}: the price database ({self.label}) has no provider '{provider}'",
                    fix=f"known providers: {', '.join(sorted(known))}; or write a profile with its prices",
                ) from None
            raise ProfileError(
                f"{provider}:{model}: the price database ({self.label}) has no model '{model}' at {provider}",
                fix=f"`infercost prices {provider}` lists its models; or write a profile with the prices",
            ) from None
        converted = self._convert(found_provider, found_model)
        if converted is None:
            raise ProfileError(
                f"{provider}:{model}: '{found_model.id}' is not priced by input and output tokens in the "
                f"price database ({self.label})",
                fix="name a chat model, or write a profile with its prices",
            )
        return converted

    def token_apis(self) -> list[DbModel]:
        """Every model of every provider that is priced by input and output tokens."""
        out = []
        for provider in self.providers:
            for model in provider.models:
                converted = self._convert(provider, model)
                if converted is not None:
                    out.append(converted)
        return out

    def nameable(self) -> list[tuple[str, DbModel]]:
        """Every token API with the name that reaches it (``provider:model`` for ``--device``): its id
        where the database's own lookup finds it by id, else a name its match rule accepts (an exact
        alias, a prefix); a model no name reaches is left out."""
        out = []
        for provider in self.providers:
            for model in provider.models:
                converted = self._convert(provider, model)
                if converted is None:
                    continue
                for ref in (model.id, *_refs(model.match)):
                    try:
                        _p, found = self.snapshot.find_provider_model(ref, None, provider.id, None)
                    except LookupError:
                        continue
                    if found is model:
                        out.append((f"{provider.id}:{ref}", converted))
                        break
        return out

    def search(self, word: str | None) -> list[tuple[str, DbModel]]:
        """Nameable token APIs whose name, provider or model name contains ``word`` (case-insensitive;
        None: all)."""
        needle = (word or "").lower()
        return [
            (name, m)
            for name, m in self.nameable()
            if not needle or needle in f"{name} {m.model_id} {m.name} {m.provider_name}".lower()
        ]


def _refs(match: Any) -> list[str]:
    """Names a model's match rule accepts as they are: an exact name, a prefix, a substring (a regular
    expression gives none)."""
    for attr in ("equals", "starts_with", "contains"):
        if isinstance(getattr(match, attr, None), str):
            return [getattr(match, attr)]
    if hasattr(match, "or_"):
        return [ref for clause in match.or_ for ref in _refs(clause)]
    return []


def _data_date(providers: list[Any], on: dt.date) -> dt.date:
    days = [
        c.constraint.start_date
        for p in providers
        for m in p.models
        for c in [*(m.prices if isinstance(m.prices, list) else []), *(m.price_variants or [])]
        if c.constraint is not None and hasattr(c.constraint, "start_date") and c.constraint.start_date <= on
    ]
    return max(days) if days else on


@cache
def database() -> PriceDatabase:
    """The installed database (loaded once per process). A one-line ``ProfileError`` when genai-prices
    is not installed (pyproject installs 0.2 on Python ≥ 3.11 and the 0.1 release on 3.10: same API,
    older data)."""
    try:
        from importlib.metadata import version

        from genai_prices.data import providers
        from genai_prices.data_snapshot import DataSnapshot
    except ImportError:
        raise ProfileError(
            "prices from the database need the genai-prices package, which is not installed",
            fix="pip install 'genai-prices>=0.2.5,<0.3' ('genai-prices>=0.1.13,<0.2' on Python 3.10), "
            "or give the prices in the profile",
        ) from None
    snapshot = DataSnapshot(providers=providers, from_auto_update=False)
    return PriceDatabase(
        version=version(PACKAGE),
        providers=providers,
        snapshot=snapshot,
        data_date=_data_date(providers, today()),
    )

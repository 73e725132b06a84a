"""Per region and instance type: offered or not, and the price of each capacity type.

Data: `catalog/data/prices_<cloud>.json`, written by `gpuforge prices refresh` (public price
APIs) or by `gpuforge.cloud.snapshot` (the public copies the shipped files came from). Every
figure is one of three things, never a guess:

- `priced`: a $/h with the source and the date of that source;
- `not-sold`: the cloud does not sell it (e.g. no spot in any zone), with the source that says so;
- `unknown`: no public figure was reachable, with the reason.

An offer's `offered` is True, False (no offer in that region, per the named source) or None
(unknown). Zones are what the source lists: AWS zone IDs (`use1-az1`; names such as
`us-east-1a` map to IDs differently per account), none for Azure.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal

from gpuforge.cloud.capacity import capacity_facts

Status = Literal["priced", "not-sold", "unknown"]
CLOUDS = ("aws", "azure")


@dataclass(frozen=True)
class Source:
    """Where figures came from: a public file or API, and the date of its data."""

    key: str
    title: str
    url: str
    as_of: str  # ISO date or date-time of the data (not of when we read it)
    as_of_note: str | None = None


@dataclass(frozen=True)
class Figure:
    """One price fact: priced (with $/h and date), not sold, or unknown (with the reason)."""

    status: Status
    source: Source
    usd_per_hour: float | None = None
    as_of: str | None = None
    reason: str | None = None
    by_zone: dict[str, float] = field(default_factory=dict)  # spot: price per zone that sells it
    # spot: the Spot Instance Advisor's bucket of the share of instances interrupted per month
    interruption_frequency: str | None = None

    @property
    def priced(self) -> bool:
        return self.status == "priced" and self.usd_per_hour is not None

    def describe(self) -> str:
        if self.priced:
            return f"${self.usd_per_hour:,.4g}/h ({self.source.title}, {(self.as_of or '')[:10]})"
        return f"{self.status}: {self.reason or ''} ({self.source.title})"


@dataclass(frozen=True)
class Offer:
    """What one cloud offers for one instance type in one region."""

    cloud: str
    instance_type: str
    region: str
    offered: bool | None
    offered_source: Source
    offered_reason: str | None
    zones: tuple[str, ...]
    on_demand: Figure
    spot: Figure
    capacity_block: Figure

    def figure(self, capacity_type: str) -> Figure:
        """The figure a capacity type is billed at (a reservation at the on-demand rate)."""
        facts = capacity_facts(self.cloud, capacity_type)
        if not facts.sold or facts.billed_at is None:
            return Figure("not-sold", self.capacity_block.source, reason=facts.notes)
        return {"on-demand": self.on_demand, "spot": self.spot, "capacity-block": self.capacity_block}[facts.billed_at]


def _load(cloud: str) -> dict[str, Any]:
    return json.loads(resources.files("gpuforge.catalog").joinpath("data", f"prices_{cloud}.json").read_text())


def _figure(raw: dict[str, Any], sources: dict[str, Source]) -> Figure:
    src = sources[raw["source"]]
    status = raw["status"]
    usd = raw.get("usd_per_hour")
    if status == "priced" and (usd is None or usd <= 0):
        raise ValueError(f"priced figure without a positive price: {raw}")
    if status != "priced" and not raw.get("reason"):
        raise ValueError(f"{status} figure without a reason: {raw}")
    return Figure(
        status,
        src,
        usd_per_hour=usd,
        as_of=raw.get("as_of") or (src.as_of if status == "priced" else None),
        reason=raw.get("reason"),
        by_zone=dict(raw.get("by_zone") or {}),
        interruption_frequency=raw.get("interruption_frequency"),
    )


@cache
def _offers(cloud: str) -> dict[tuple[str, str], Offer]:
    return parse(_load(cloud), cloud)


def parse(data: dict[str, Any], cloud: str) -> dict[tuple[str, str], Offer]:
    """Offers keyed by (instance type, region) from a price file's JSON; raises on bad rows."""
    sources = {k: Source(k, v["title"], v["url"], v["as_of"], v.get("as_of_note")) for k, v in data["sources"].items()}
    out: dict[tuple[str, str], Offer] = {}
    for row in data["offers"]:
        key = (row["instance_type"], row["region"])
        if key in out:
            raise ValueError(f"prices_{cloud}.json: {key} listed twice")
        out[key] = Offer(
            cloud=cloud,
            instance_type=row["instance_type"],
            region=row["region"],
            offered=row["offered"],
            offered_source=sources[row["offered_source"]],
            offered_reason=row.get("offered_reason"),
            zones=tuple(row.get("zones") or ()),
            on_demand=_figure(row["on_demand"], sources),
            spot=_figure(row["spot"], sources),
            capacity_block=_figure(row["capacity_block"], sources),
        )
    return out


def sources(cloud: str) -> dict[str, Source]:
    """Every source the price file of `cloud` cites."""
    data = _load(cloud)
    return {k: Source(k, v["title"], v["url"], v["as_of"], v.get("as_of_note")) for k, v in data["sources"].items()}


def all_offers(cloud: str | None = None) -> list[Offer]:
    """Every offer row (of one cloud, or both)."""
    return [o for c in CLOUDS if cloud in (None, c) for o in _offers(c).values()]


def offer(cloud: str, instance_type: str, region: str) -> Offer | None:
    """The offer row, or None when the catalog has no row for that type and region."""
    return _offers(cloud).get((instance_type, region))


def price(cloud: str, instance_type: str, region: str, capacity_type: str = "on-demand") -> Figure | None:
    """The figure a capacity type of that type is billed at in that region (None: no row)."""
    o = offer(cloud, instance_type, region)
    return o.figure(capacity_type) if o else None


def regions_offering(cloud: str, instance_type: str, capacity_type: str | None = None) -> list[str]:
    """Regions with a known offer of the type (and a price for `capacity_type` when given)."""
    out = []
    for (it, region), o in sorted(_offers(cloud).items(), key=lambda kv: kv[0][1]):
        if it != instance_type or o.offered is not True:
            continue
        if capacity_type is not None and not o.figure(capacity_type).priced:
            continue
        out.append(region)
    return out


def median_zone_price(by_zone: dict[str, float]) -> float:
    """The figure a multi-zone spot pool is costed at: the median of its zones' prices."""
    return round(statistics.median(by_zone.values()), 6)


_GENERATION = [0]


def generation() -> int:
    """Bumped by reload(): callers that memoise figures put it in their keys."""
    return _GENERATION[0]


def reload() -> None:
    """Forget loaded files (after `gpuforge prices refresh` rewrote them)."""
    _offers.cache_clear()
    _GENERATION[0] += 1

"""`gpuforge prices refresh`: rebuild the price files from the public, credential-free price APIs.

- AWS on-demand: the Price List bulk API. `region_index.json` names each region's current offer
  file; the per-region file (hundreds of MB) is read as CSV, line by line, keeping only Linux,
  shared-tenancy, no-pre-installed-software, on-demand hourly rows of the catalog's types (the
  filter SkyPilot's fetch_aws.py uses:
  https://github.com/skypilot-org/skypilot/blob/master/sky/catalog/data_fetchers/fetch_aws.py).
  A type with such a row is offered in the region; without one it is not.
- AWS spot: the Spot pricing page's published price file (`spot.js`, a JSONP `callback({...})`),
  the credential-free stand-in for DescribeSpotPriceHistory: one Linux price per region and type.
- Azure: the Retail Prices API (https://learn.microsoft.com/rest/api/cost-management/retail-prices/
  azure-retail-prices), `$filter` on service, price type, region and the catalog's sizes, following
  `NextPageLink`. Items of products ending " Windows" and meters ending " Low Priority" are skipped;
  SKU names ending " Spot" are spot prices, the rest pay-as-you-go (Karpenter for Azure's rule:
  Azure/karpenter-provider-azure pkg/providers/pricing/pricing.go, processPage / categorizePrices).

Endpoints come from flags or GPUFORGE_AWS_PRICING_URL, GPUFORGE_AWS_SPOT_URL and
GPUFORGE_AZURE_PRICES_URL, so tests point them at recorded responses on 127.0.0.1. Progress goes
to stderr; the result is a diff of what changed and the date of the new figures.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from gpuforge.cloud.snapshot import CAPACITY_BLOCK_DOCS, _fig

AWS_PRICING_URL = "https://pricing.us-east-1.amazonaws.com"
AWS_SPOT_URL = "https://website.spot.ec2.aws.a2z.com/spot.js"
AWS_SPOT_ADVISOR_URL = "https://spot-bid-advisor.s3.amazonaws.com/spot-advisor-data.json"
AZURE_PRICES_URL = "https://prices.azure.com/api/retail/prices"
AZURE_API_VERSION = "2023-01-01-preview"  # the version Karpenter for Azure calls
TIMEOUT_S = 120

Progress = Callable[[str], None]


def _stderr(msg: str) -> None:
    from gpuforge.progress import note  # the project's one progress channel (stderr)

    note(msg)


@dataclass(frozen=True)
class Endpoints:
    aws_pricing: str = AWS_PRICING_URL
    aws_spot: str = AWS_SPOT_URL
    aws_spot_advisor: str = AWS_SPOT_ADVISOR_URL
    azure_prices: str = AZURE_PRICES_URL

    @classmethod
    def from_env(cls, **overrides: str | None) -> Endpoints:
        env = {
            "aws_pricing": os.environ.get("GPUFORGE_AWS_PRICING_URL"),
            "aws_spot": os.environ.get("GPUFORGE_AWS_SPOT_URL"),
            "aws_spot_advisor": os.environ.get("GPUFORGE_AWS_SPOT_ADVISOR_URL"),
            "azure_prices": os.environ.get("GPUFORGE_AZURE_PRICES_URL"),
        }
        kw = {k: v for k, v in {**env, **{k: v for k, v in overrides.items() if v}}.items() if v}
        return cls(**kw)


def _open(url: str) -> Any:
    req = urllib.request.Request(url, headers={"User-Agent": "gpuforge-prices-refresh"})
    return urllib.request.urlopen(req, timeout=TIMEOUT_S)


def _check_url(url: str) -> str:
    if urllib.parse.urlparse(url).scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {url}")
    return url


def _get_json(url: str) -> Any:
    with _open(_check_url(url)) as r:
        return json.loads(r.read().decode("utf-8"))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- AWS on-demand (bulk CSV)

# keep only the rows an EKS Linux node pays (SkyPilot fetch_aws.py _get_pricing_table filter)
_AWS_ROW_FILTER = {
    "TermType": {"OnDemand"},
    "Operating System": {"Linux"},
    "Tenancy": {"Shared"},
    "Pre Installed S/W": {"NA", ""},
    "CapacityStatus": {"Used"},
    "Unit": {"Hrs"},
}


def parse_aws_offer_csv(lines: Iterable[str], types: set[str]) -> tuple[dict[str, float], str | None]:
    """Linux on-demand $/h per catalog type from an AmazonEC2 per-region offer file (CSV).

    The file opens with five metadata rows ("Publication Date" among them), then the header.
    Returns (prices, publication date).
    """
    it = iter(lines)
    meta: dict[str, str] = {}
    for _ in range(5):
        row = next(csv.reader([next(it)]))
        if len(row) >= 2:
            meta[row[0]] = row[1]
    header = next(csv.reader([next(it)]))
    col = {name: i for i, name in enumerate(header)}
    missing = [c for c in [*_AWS_ROW_FILTER, "Instance Type", "PricePerUnit"] if c not in col]
    if missing:
        raise ValueError(f"AWS offer file has no column(s) {missing}")
    # where the file has a market option column, only plain on-demand rows (not e.g. capacity
    # block rows) are an on-demand price
    market = col.get("Market Option")
    out: dict[str, float] = {}
    for row in csv.reader(it):
        if len(row) < len(header):
            continue
        t = row[col["Instance Type"]]
        if t not in types:
            continue
        if any(row[col[k]] not in allowed for k, allowed in _AWS_ROW_FILTER.items()):
            continue
        if market is not None and row[market] not in ("OnDemand", ""):
            continue
        price = float(row[col["PricePerUnit"]] or 0)
        if price > 0:
            out[t] = price
    return out, meta.get("Publication Date")


def _aws_offer_lines(url: str) -> Iterator[str]:
    with _open(_check_url(url)) as r:
        yield from io.TextIOWrapper(r, encoding="utf-8", newline="")


def parse_spot_js(text: str) -> dict[str, dict[str, float]]:
    """Linux spot $/h per region and type from the Spot pricing page's `spot.js` (JSONP).

    Shape: callback({"config": {"regions": [{"region": "us-east-1", "instanceTypes":
    [{"sizes": [{"size": "g5.xlarge", "valueColumns": [{"name": "linux", "prices":
    {"USD": "0.41"}}]}]}]}]}}). Prices that are not numbers ("N/A*") are skipped.
    """
    body = text[text.index("(") + 1 : text.rindex(")")]
    data = json.loads(body)
    out: dict[str, dict[str, float]] = {}
    for reg in data["config"]["regions"]:
        prices = out.setdefault(reg["region"], {})
        for group in reg.get("instanceTypes", []):
            for size in group.get("sizes", []):
                for vc in size.get("valueColumns", []):
                    if vc.get("name") != "linux":
                        continue
                    try:
                        p = float(vc["prices"]["USD"])
                    except (KeyError, TypeError, ValueError):
                        continue
                    if p > 0:
                        prices[size["size"]] = p
    return out


def parse_spot_advisor(data: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Linux interruption-frequency label per region and type from the Spot Instance Advisor's
    data file: `spot_advisor[region]["Linux"][type]["r"]` indexes `ranges[]`, whose `label` is
    the bucket of the share of instances interrupted per month ("<5%", "5-10%", ...)."""
    labels = {r["index"]: r["label"] for r in data.get("ranges", [])}
    out: dict[str, dict[str, str]] = {}
    for region, by_os in (data.get("spot_advisor") or {}).items():
        for t, v in (by_os.get("Linux") or {}).items():
            if v.get("r") in labels:
                out.setdefault(region, {})[t] = labels[v["r"]]
    return out


def fetch_aws(instances: list[dict[str, Any]], regions: list[str], previous: dict[str, Any] | None, ep: Endpoints, progress: Progress = _stderr) -> dict[str, Any]:
    """prices_aws.json from the Price List bulk API and spot.js."""
    types = {i["name"] for i in instances}
    base = ep.aws_pricing.rstrip("/")
    progress(f"aws: region index {base}/offers/v1.0/aws/AmazonEC2/current/region_index.json")
    index = _get_json(f"{base}/offers/v1.0/aws/AmazonEC2/current/region_index.json")["regions"]
    od: dict[str, dict[str, float]] = {}
    published: dict[str, str] = {}
    missing_regions: set[str] = set()
    for n, region in enumerate(sorted(regions), 1):
        entry = index.get(region)
        if not entry:
            missing_regions.add(region)
            progress(f"aws: [{n}/{len(regions)}] {region}: not in the region index")
            continue
        url = urllib.parse.urljoin(base + "/", entry["currentVersionUrl"].lstrip("/"))
        url = url[: -len(".json")] + ".csv" if url.endswith(".json") else url
        progress(f"aws: [{n}/{len(regions)}] {region}: streaming {url}")
        prices, pub = parse_aws_offer_csv(_aws_offer_lines(url), types)
        od[region] = prices
        published[region] = pub or _now()
        progress(f"aws: [{n}/{len(regions)}] {region}: {len(prices)} catalog types priced")
    progress(f"aws: spot prices {ep.aws_spot}")
    with _open(_check_url(ep.aws_spot)) as r:
        spot = parse_spot_js(r.read().decode("utf-8"))
    spot_at = _now()
    progress(f"aws: spot interruption frequencies {ep.aws_spot_advisor}")
    advisor = parse_spot_advisor(_get_json(ep.aws_spot_advisor))
    prev_zones = {(o["instance_type"], o["region"]): (o.get("zones") or [], o.get("zones_source") or o["offered_source"]) for o in (previous or {}).get("offers", [])}
    prev_sources = (previous or {}).get("sources", {})
    offers = []
    for inst in sorted(instances, key=lambda i: i["name"]):
        t = inst["name"]
        for region in sorted(regions):
            row: dict[str, Any] = {"instance_type": t, "region": region}
            if region in missing_regions:
                reason = f"{region} is not in the AWS price list's region index"
                row.update(offered=None, offered_source="aws-price-list", offered_reason=reason, zones=[])
                row.update(on_demand=_fig("unknown", "aws-price-list", reason=reason), spot=_fig("unknown", "aws-spot", reason=reason),
                           capacity_block=_fig("unknown", "aws-capacity-blocks", reason=reason))
                offers.append(row)
                continue
            price = od[region].get(t)
            offered = price is not None
            not_offered = f"the {region} price list has no Linux on-demand price for {t}"
            zones, zones_source = prev_zones.get((t, region), ([], None))
            row.update(offered=offered, offered_source="aws-price-list", zones=zones if offered else [])
            if not offered:
                row["offered_reason"] = not_offered
            elif zones and zones_source:
                row["zones_source"] = zones_source
            row["on_demand"] = _fig("priced", "aws-price-list", price, as_of=published[region]) if offered else _fig("not-sold", "aws-price-list", reason=not_offered)
            sp = spot.get(region, {}).get(t)
            if not offered:
                row["spot"] = _fig("not-sold", "aws-price-list", reason=not_offered)
            elif region not in spot:
                row["spot"] = _fig("unknown", "aws-spot", reason=f"spot.js has no {region} section")
            elif sp is None or not inst.get("spot", True):
                row["spot"] = _fig("not-sold", "aws-spot", reason=f"spot.js lists no Linux spot price for {t} in {region}")
            else:
                freq = advisor.get(region, {}).get(t)
                row["spot"] = _fig("priced", "aws-spot", sp, **({"interruption_frequency": freq} if freq else {}))
            cb = inst.get("capacity_blocks")
            if not offered:
                row["capacity_block"] = _fig("not-sold", "aws-price-list", reason=not_offered)
            elif cb is False:
                row["capacity_block"] = _fig("not-sold", "aws-capacity-blocks", reason=f"{t} is not in the EC2 Capacity Blocks instance type list")
            else:
                row["capacity_block"] = _fig(
                    "unknown",
                    "aws-capacity-blocks",
                    reason="a Capacity Block's price is quoted per offering (DescribeCapacityBlockOfferings upfrontFee, a signed API); "
                    "give the price you pay as target.capacity_price_usd_per_hour",
                )
            offers.append(row)
    sources: dict[str, Any] = {
        "aws-price-list": {
            "title": "AWS Price List bulk API, AmazonEC2 per-region offer files (Linux on-demand)",
            "url": f"{base}/offers/v1.0/aws/AmazonEC2/current/region_index.json",
            "as_of": max(published.values()) if published else _now(),
        },
        "aws-spot": {
            "title": "AWS Spot pricing page price file (spot.js, Linux); interruption frequency from the Spot Instance Advisor",
            "url": ep.aws_spot,
            "as_of": spot_at,
        },
        "aws-capacity-blocks": CAPACITY_BLOCK_DOCS,
    }
    used = {str(o["zones_source"]) for o in offers if o.get("zones_source")}
    for key in used:
        if key in prev_sources:
            sources[key] = prev_sources[key]
    return {"cloud": "aws", "sources": sources, "offers": offers}


# ---------------------------------------------------------------- Azure Retail Prices API


def azure_filter(region: str, skus: list[str]) -> str:
    sku_or = " or ".join(f"armSkuName eq '{s}'" for s in sorted(skus))
    return f"serviceName eq 'Virtual Machines' and priceType eq 'Consumption' and armRegionName eq '{region}' and ({sku_or})"


def azure_items(base: str, region: str, skus: list[str], progress: Progress) -> Iterator[dict[str, Any]]:
    """Every item of the filtered query, following NextPageLink."""
    query = urllib.parse.urlencode({"api-version": AZURE_API_VERSION, "$filter": azure_filter(region, skus)})
    url: str | None = f"{base}?{query}"
    page = 0
    while url:
        page += 1
        data = _get_json(url)
        progress(f"azure: {region}: page {page}, {len(data.get('Items') or [])} items")
        yield from data.get("Items") or []
        url = data.get("NextPageLink") or None


def classify_azure(items: Iterable[dict[str, Any]]) -> tuple[dict[str, float], dict[str, float]]:
    """(pay-as-you-go, spot) $/h per ARM SKU name, Linux only (Karpenter for Azure's rule)."""
    od: dict[str, float] = {}
    spot: dict[str, float] = {}
    for it in items:
        if it.get("productName", "").endswith(" Windows") or it.get("meterName", "").endswith(" Low Priority"):
            continue
        if it.get("type", "Consumption") != "Consumption" or it.get("unitOfMeasure", "1 Hour") != "1 Hour":
            continue
        target = spot if it.get("skuName", "").endswith(" Spot") else od
        price = float(it.get("retailPrice") or 0)
        if price > 0:
            target[it["armSkuName"]] = price
    return od, spot


def fetch_azure(instances: list[dict[str, Any]], regions: list[str], ep: Endpoints, progress: Progress = _stderr) -> dict[str, Any]:
    """prices_azure.json from the Retail Prices API."""
    skus = sorted(i["name"] for i in instances)
    at = _now()
    offers = []
    for n, region in enumerate(sorted(regions), 1):
        progress(f"azure: [{n}/{len(regions)}] {region}")
        od, spot = classify_azure(azure_items(ep.azure_prices, region, skus, progress))
        for t in skus:
            offered = t in od
            not_offered = f"the Retail Prices API has no Linux pay-as-you-go price for {t} in {region}"
            offers.append(
                {
                    "instance_type": t,
                    "region": region,
                    "offered": offered,
                    "offered_source": "azure-retail",
                    **({} if offered else {"offered_reason": not_offered}),
                    "zones": [],
                    "on_demand": _fig("priced", "azure-retail", od[t]) if offered else _fig("not-sold", "azure-retail", reason=not_offered),
                    "spot": (
                        _fig("priced", "azure-retail", spot[t])
                        if offered and t in spot
                        else _fig("not-sold", "azure-retail", reason=not_offered if not offered else f"no Spot meter for {t} in {region}")
                    ),
                    "capacity_block": _fig("not-sold", "aws-capacity-blocks", reason="capacity blocks are an AWS offering"),
                }
            )
    offers.sort(key=lambda o: (o["instance_type"], o["region"]))
    return {
        "cloud": "azure",
        "sources": {
            "azure-retail": {"title": "Azure Retail Prices API (Virtual Machines, Consumption, Linux)", "url": ep.azure_prices, "as_of": at},
            "aws-capacity-blocks": CAPACITY_BLOCK_DOCS,
        },
        "offers": offers,
    }


# ---------------------------------------------------------------- diff


def _flat(data: dict[str, Any]) -> dict[tuple[str, str, str], str]:
    out = {}
    for o in data.get("offers", []):
        k = (o["instance_type"], o["region"])
        out[(*k, "offered")] = {True: "offered", False: "not offered", None: "unknown"}[o["offered"]]
        for f in ("on_demand", "spot", "capacity_block"):
            fig = o[f]
            out[(*k, f)] = f"{fig['usd_per_hour']:g}" if fig["status"] == "priced" else fig["status"]
    return out


def diff(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """One line per changed fact: `type region figure: old -> new (+x%)`."""
    a, b = _flat(old or {}), _flat(new)
    lines = []
    for key in sorted(set(a) | set(b)):
        before, after = a.get(key, "absent"), b.get(key, "absent")
        if before == after:
            continue
        pct = ""
        try:
            pct = f" ({(float(after) / float(before) - 1) * 100:+.1f}%)"
        except (ValueError, ZeroDivisionError):
            pass
        lines.append(f"{key[0]} {key[1]} {key[2].replace('_', '-')}: {before} -> {after}{pct}")
    return lines


def refresh(
    data_dir: Path,
    clouds: Iterable[str] = ("aws", "azure"),
    endpoints: Endpoints | None = None,
    dry_run: bool = False,
    out: TextIO | None = None,
    progress: Progress = _stderr,
) -> int:
    """Fetch, write `prices_<cloud>.json` under `data_dir` (unless dry_run), print the diff."""
    out = out or sys.stdout
    ep = endpoints or Endpoints.from_env()
    instances = json.loads((data_dir / "instances.json").read_text())["instances"]
    regions = json.loads((data_dir / "regions.json").read_text())["regions"]
    for c in clouds:
        path = data_dir / f"prices_{c}.json"
        previous = json.loads(path.read_text()) if path.exists() else None
        insts = [i for i in instances if i["cloud"] == c]
        regs = [r["name"] for r in regions if r["cloud"] == c]
        new = fetch_aws(insts, regs, previous, ep, progress) if c == "aws" else fetch_azure(insts, regs, ep, progress)
        changes = diff(previous, new)
        dates = sorted({s["as_of"] for s in new["sources"].values() if s["as_of"] != "undated"})
        print(f"{c}: {len(changes)} change(s); prices as of {', '.join(dates)}", file=out)
        for line in changes:
            print(f"  {line}", file=out)
        if not dry_run:
            from gpuforge.cloud.snapshot import dump

            path.write_text(dump(new))
            print(f"{c}: wrote {path}", file=out)
    if not dry_run:
        from gpuforge.cloud.offers import reload

        reload()
    return 0

"""Build the shipped price files from the public copies of the price data they came from.

The machine this project is built on cannot reach the price APIs, so the shipped
`prices_aws.json` / `prices_azure.json` are derived, by this code, from public copies of those
APIs' answers (kept in the repository under `reference/prices/`, see its README):

- `karpenter_aws_gpu_on_demand.json`: AWS Price List, Linux on-demand, us-east-1, from
  aws/karpenter-provider-aws's generated pricing (2026-07-20);
- `skypilot_aws_gpu_excerpt.csv`: per region and zone ID, on-demand and spot $/h and which zones
  offer each type, from skypilot-org/skypilot-catalog's AWS catalog (undated file; early 2025,
  see the source note);
- `karpenter_azure_gpu_on_demand.json`: Azure Retail Prices API, Consumption Linux, every region,
  from Azure/karpenter-provider-azure's generated pricing (2026-06-18).

Rules, so that nothing is guessed: a figure is `priced` only where a source gives it; a regional
AWS on-demand price from the older copy is used only when that copy's us-east-1 price for the
type still equals the 2026 price list's (otherwise AWS changed the price since, and the regional
figure is `unknown`); an instance type absent from the regional copy is `unknown` outside
us-east-1. `gpuforge prices refresh` replaces all of it with live figures.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from gpuforge.cloud.offers import median_zone_price

KARPENTER_AWS = {
    "title": "aws/karpenter-provider-aws zz_generated.pricing_aws.go (AWS Price List API, Linux on-demand, us-east-1)",
    "url": "https://github.com/aws/karpenter-provider-aws/blob/1d927085dd81a9df9301e613f371dac5b4d16bfe/pkg/providers/pricing/zz_generated.pricing_aws.go",
}
SKYPILOT_AWS = {
    "title": "skypilot-org/skypilot-catalog catalogs/v7/aws/vms.csv (AWS price list, spot price history and zone offerings)",
    "url": "https://github.com/skypilot-org/skypilot-catalog/blob/001367d22a0033fac286a8c71aeac7109e431bcb/catalogs/v7/aws/vms.csv",
    "as_of": "2025-05-15",
    "as_of_note": (
        "The file carries no date; 2025-05-15 is the latest date its content allows: it lists "
        "p5en.48xlarge (GA December 2024) but not p6-b200.48xlarge (GA 15 May 2025), and its P4/P5 "
        "on-demand prices predate AWS's June 2025 price cut (p5.48xlarge us-east-1 98.32 $/h there, "
        "55.04 $/h in the 2026-07-20 price list). Spot prices are that snapshot's."
    ),
}
KARPENTER_AZURE = {
    "title": "Azure/karpenter-provider-azure zz_generated.pricing.go (Azure Retail Prices API, Consumption, Linux)",
    "url": "https://github.com/Azure/karpenter-provider-azure/blob/352646f599290c3a6d2f9710fb535a7b288f88ed/pkg/providers/pricing/zz_generated.pricing.go",
}
CAPACITY_BLOCK_DOCS = {
    "title": "EC2 User Guide: Capacity Blocks for ML (supported instance types; price quoted per offering)",
    "url": "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-capacity-blocks.html",
    "as_of": "undated",
}
NO_PUBLIC_COPY = {
    "title": "no public figure reached when this snapshot was built",
    "url": "https://prices.azure.com/api/retail/prices",
    "as_of": "undated",
}


def _fig(status: str, source: str, usd: float | None = None, reason: str | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"status": status, "source": source}
    if usd is not None:
        out["usd_per_hour"] = usd
    if reason:
        out["reason"] = reason
    out.update(extra)
    return out


def build_aws(instances: list[dict[str, Any]], regions: list[str], karpenter: dict[str, Any], skypilot_csv: str) -> dict[str, Any]:
    """prices_aws.json from the us-east-1 price list copy and the regional snapshot rows."""
    karp: dict[str, float] = karpenter["on_demand"]["us-east-1"]
    rows: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for r in csv.DictReader(skypilot_csv.splitlines()):
        rows[(r["InstanceType"], r["Region"])].append(r)
    in_snapshot = {t for t, _ in rows}
    offers = []
    for inst in sorted(instances, key=lambda i: i["name"]):
        t = inst["name"]
        us1 = rows.get((t, "us-east-1"))
        snap_us1 = float(us1[0]["Price"]) if us1 and us1[0]["Price"] else None
        for region in sorted(regions):
            rr = rows.get((t, region), [])
            row: dict[str, Any] = {"instance_type": t, "region": region}
            if rr:
                row.update(offered=True, offered_source="skypilot-aws", zones=sorted({r["AvailabilityZone"] for r in rr}))
            elif region == "us-east-1" and t in karp:
                row.update(offered=True, offered_source="karpenter-aws", zones=[])
            elif t in in_snapshot:
                row.update(offered=False, offered_source="skypilot-aws", offered_reason=f"the regional snapshot lists no {t} offering in {region}", zones=[])
            else:
                row.update(
                    offered=None,
                    offered_source="skypilot-aws",
                    offered_reason=f"{t} is newer than the regional snapshot; only the us-east-1 price list copy knows it",
                    zones=[],
                )
            not_offered = f"{t} is not offered in {region}"
            # on-demand
            if row["offered"] is False:
                od = _fig("not-sold", "skypilot-aws", reason=not_offered)
            elif region == "us-east-1":
                od = (
                    _fig("priced", "karpenter-aws", karp[t])
                    if t in karp
                    else _fig("unknown", "karpenter-aws", reason=f"the 2026-07-20 us-east-1 price list copy has no on-demand price for {t}")
                )
            elif row["offered"] is None:
                od = _fig("unknown", "skypilot-aws", reason=row["offered_reason"])
            elif not rr[0]["Price"]:
                od = _fig("unknown", "skypilot-aws", reason=f"the regional snapshot has no on-demand price for {t} in {region}")
            elif snap_us1 is None or t not in karp:
                od = _fig("unknown", "skypilot-aws", reason=f"cannot check the snapshot's {t} prices against the 2026 us-east-1 price list")
            elif abs(snap_us1 - karp[t]) > 1e-6 * karp[t]:
                od = _fig(
                    "unknown",
                    "skypilot-aws",
                    reason=(
                        f"AWS changed the {t} price after the regional snapshot (us-east-1: {snap_us1:g} there, "
                        f"{karp[t]:g} in the 2026-07-20 price list), so its {region} figure is stale"
                    ),
                )
            else:
                od = _fig("priced", "skypilot-aws", float(rr[0]["Price"]))
            # spot
            if row["offered"] is False:
                spot = _fig("not-sold", "skypilot-aws", reason=not_offered)
            elif not inst.get("spot", True):
                spot = _fig("not-sold", "skypilot-aws", reason=f"{t} is not sold as spot")
            elif rr:
                by_zone = {r["AvailabilityZone"]: float(r["SpotPrice"]) for r in rr if r["SpotPrice"]}
                spot = (
                    _fig("priced", "skypilot-aws", median_zone_price(by_zone), by_zone=dict(sorted(by_zone.items())))
                    if by_zone
                    else _fig("not-sold", "skypilot-aws", reason=f"no zone of {region} had a spot price for {t} in the snapshot")
                )
            else:
                spot = _fig("unknown", "skypilot-aws", reason=f"the regional snapshot has no {t} row for {region}, so no spot price")
            # capacity block
            cb_flag = inst.get("capacity_blocks")
            if row["offered"] is False:
                cb = _fig("not-sold", "skypilot-aws", reason=not_offered)
            elif cb_flag is False:
                cb = _fig("not-sold", "aws-capacity-blocks", reason=f"{t} is not in the EC2 Capacity Blocks instance type list")
            elif cb_flag is True:
                cb = _fig(
                    "unknown",
                    "aws-capacity-blocks",
                    reason="a Capacity Block's price is quoted per offering (DescribeCapacityBlockOfferings upfrontFee, a signed API); "
                    "give the price you pay as target.capacity_price_usd_per_hour",
                )
            else:
                cb = _fig("unknown", "aws-capacity-blocks", reason=f"whether {t} is sold as a Capacity Block is not in the docs read")
            row.update(on_demand=od, spot=spot, capacity_block=cb)
            offers.append(row)
    return {
        "cloud": "aws",
        "sources": {
            "karpenter-aws": {**KARPENTER_AWS, "as_of": karpenter["generated_at"]},
            "skypilot-aws": SKYPILOT_AWS,
            "aws-capacity-blocks": CAPACITY_BLOCK_DOCS,
        },
        "offers": offers,
    }


def build_azure(instances: list[dict[str, Any]], regions: list[str], karpenter: dict[str, Any]) -> dict[str, Any]:
    """prices_azure.json from the Retail Prices API copy (on-demand, every region)."""
    od_by_region: dict[str, dict[str, float]] = karpenter["on_demand"]
    offers = []
    for inst in sorted(instances, key=lambda i: i["name"]):
        t = inst["name"]
        for region in sorted(regions):
            if region not in od_by_region:
                raise ValueError(f"the Azure price copy has no region {region}")
            price = od_by_region[region].get(t)
            offered = price is not None
            not_offered = f"{t} has no Linux pay-as-you-go price in {region} in the Retail Prices API copy"
            offers.append(
                {
                    "instance_type": t,
                    "region": region,
                    "offered": offered,
                    "offered_source": "karpenter-azure",
                    **({} if offered else {"offered_reason": not_offered}),
                    "zones": [],
                    "on_demand": _fig("priced", "karpenter-azure", price) if offered else _fig("not-sold", "karpenter-azure", reason=not_offered),
                    "spot": (
                        _fig(
                            "unknown",
                            "none",
                            reason="no public copy of the Retail Prices API's Spot meters for this region was reachable; "
                            "`gpuforge prices refresh` fetches them",
                        )
                        if offered
                        else _fig("not-sold", "karpenter-azure", reason=not_offered)
                    ),
                    "capacity_block": _fig("not-sold", "aws-capacity-blocks", reason="capacity blocks are an AWS offering"),
                }
            )
    return {
        "cloud": "azure",
        "sources": {
            "karpenter-azure": {**KARPENTER_AZURE, "as_of": karpenter["generated_at"]},
            "aws-capacity-blocks": CAPACITY_BLOCK_DOCS,
            "none": NO_PUBLIC_COPY,
        },
        "offers": offers,
    }


def build_all(reference_dir: Path, catalog_dir: Path) -> dict[str, dict[str, Any]]:
    """Both price files, from the reference copies and the catalog's instance and region lists."""
    instances = json.loads((catalog_dir / "instances.json").read_text())["instances"]
    regions = json.loads((catalog_dir / "regions.json").read_text())["regions"]
    by_cloud = {c: [i for i in instances if i["cloud"] == c] for c in ("aws", "azure")}
    region_names = {c: [r["name"] for r in regions if r["cloud"] == c] for c in ("aws", "azure")}
    return {
        "aws": build_aws(
            by_cloud["aws"],
            region_names["aws"],
            json.loads((reference_dir / "karpenter_aws_gpu_on_demand.json").read_text()),
            (reference_dir / "skypilot_aws_gpu_excerpt.csv").read_text(),
        ),
        "azure": build_azure(
            by_cloud["azure"],
            region_names["azure"],
            json.loads((reference_dir / "karpenter_azure_gpu_on_demand.json").read_text()),
        ),
    }


def dump(data: dict[str, Any]) -> str:
    """The on-disk form: stable key order, one offer per block."""
    return json.dumps(data, indent=1, sort_keys=False) + "\n"

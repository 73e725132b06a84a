"""Integrity of the regional price files: every instance type x region has a price or says why not.

The raw JSON is read as well as the loaders, and the shipped files are rebuilt from the public
copies they came from (reference/prices in the repository) to prove nothing in them was edited by hand.
"""

from __future__ import annotations

import json
import statistics
from datetime import date
from pathlib import Path

import pytest
from gpuforge import catalog, cloud
from gpuforge.cloud import offers as cloud_offers
from gpuforge.cloud import snapshot

DATA = Path(catalog.__file__).parent / "data"
REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "prices"
# the regions the issue asks for, at least
REQUIRED_REGIONS = {
    "aws": ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "eu-north-1", "ap-northeast-1", "ap-southeast-1"],
    "azure": ["eastus", "eastus2", "westus3", "westeurope", "northeurope", "swedencentral", "uksouth", "japaneast"],
}
# AWS zone IDs start with a per-region code (use1-az1 is in us-east-1)
ZONE_ID_PREFIX = {
    "us-east-1": "use1-", "us-east-2": "use2-", "us-west-2": "usw2-", "eu-west-1": "euw1-",
    "eu-central-1": "euc1-", "eu-north-1": "eun1-", "ap-northeast-1": "apne1-", "ap-southeast-1": "apse1-",
}


def _iso_date(s: str) -> date:
    return date.fromisoformat(s[:10])


@pytest.mark.parametrize("cloud_name", ["aws", "azure"])
def test_required_regions_are_in_the_catalog(cloud_name):
    names = {r.name for r in catalog.all_regions(cloud_name)}
    assert set(REQUIRED_REGIONS[cloud_name]) <= names


@pytest.mark.parametrize("cloud_name", ["aws", "azure"])
def test_every_type_and_region_has_exactly_one_row(cloud_name):
    raw = json.loads((DATA / f"prices_{cloud_name}.json").read_text())["offers"]
    keys = [(o["instance_type"], o["region"]) for o in raw]
    assert len(keys) == len(set(keys)), "a type x region listed twice"
    want = {(i.name, r.name) for i in catalog.all_instances(cloud_name) for r in catalog.all_regions(cloud_name)}
    assert set(keys) == want


@pytest.mark.parametrize("o", cloud.all_offers(), ids=lambda o: f"{o.cloud}:{o.instance_type}@{o.region}")
def test_every_figure_is_priced_not_sold_or_unknown_with_reason(o):
    figures = {"on_demand": o.on_demand, "spot": o.spot, "capacity_block": o.capacity_block}
    if o.offered is False:
        assert o.offered_reason
        assert all(f.status == "not-sold" and f.reason for f in figures.values()), "not offered, so nothing is sold"
    if o.offered is None:
        assert o.offered_reason and o.on_demand.status == "unknown"
    for name, f in figures.items():
        if f.status == "priced":
            assert f.usd_per_hour and f.usd_per_hour > 0, name
            assert _iso_date(f.as_of or "") >= date(2025, 1, 1), f"{name}: price without a date"
            assert f.source.title and f.source.url.startswith("https://"), name
        else:
            assert f.reason, f"{name} is {f.status} without a reason"
    if o.offered is True and o.cloud == "aws":
        # an AWS type offered in a region has an on-demand price or says why not
        assert o.on_demand.priced or o.on_demand.reason


@pytest.mark.parametrize("o", [o for o in cloud.all_offers("aws") if o.spot.priced], ids=lambda o: f"{o.instance_type}@{o.region}")
def test_aws_spot_is_the_median_of_zones_that_offer_the_type(o):
    assert o.spot.by_zone and set(o.spot.by_zone) <= set(o.zones)
    assert all(z.startswith(ZONE_ID_PREFIX[o.region]) for z in o.zones)
    assert o.spot.usd_per_hour == pytest.approx(statistics.median(o.spot.by_zone.values()))


# The examples of the issue: types a European team was planned onto that the region does not offer.
@pytest.mark.parametrize(
    "cloud_name,instance_type,region",
    [
        ("aws", "g6e.12xlarge", "eu-west-1"),
        ("aws", "p5.48xlarge", "eu-west-1"),
        ("azure", "Standard_ND96isr_H200_v5", "westeurope"),
    ],
)
def test_issue_examples_are_not_offered(cloud_name, instance_type, region):
    o = cloud.offer(cloud_name, instance_type, region)
    assert o is not None and o.offered is False
    assert cloud.regions_offering(cloud_name, instance_type), "but some region offers it"


def test_regional_prices_differ_from_us_east_1():
    # eu-west-1 and Tokyo cost more than us-east-1 for the same type (the bug: US prices everywhere)
    us = cloud.price("aws", "g5.xlarge", "us-east-1")
    for region in ("eu-west-1", "ap-northeast-1"):
        p = cloud.price("aws", "g5.xlarge", region)
        assert p and us and p.usd_per_hour > us.usd_per_hour
    az_us = cloud.price("azure", "Standard_NC24ads_A100_v4", "eastus")
    az_eu = cloud.price("azure", "Standard_NC24ads_A100_v4", "swedencentral")
    assert az_us and az_eu and az_eu.usd_per_hour > az_us.usd_per_hour * 1.12


def test_spot_is_sold_below_on_demand_somewhere():
    o = cloud.offer("aws", "g5.xlarge", "us-east-1")
    assert o and o.spot.priced and o.spot.usd_per_hour < o.on_demand.usd_per_hour


def test_capacity_types_per_cloud():
    assert cloud.CAPACITY_TYPES["aws"] == ("on-demand", "spot", "capacity-block", "reserved")
    assert cloud.CAPACITY_TYPES["azure"] == ("on-demand", "spot", "reserved")
    assert cloud.capacity_facts("aws", "spot").interruption_notice_s == 120
    assert cloud.capacity_facts("aws", "reserved").billed_at == "on-demand"


def test_a_reservation_is_billed_at_the_on_demand_figure():
    o = cloud.offer("aws", "g6e.xlarge", "us-east-1")
    assert o and o.figure("reserved") is o.on_demand


def test_stale_regional_prices_are_unknown_not_used():
    # AWS cut P5 prices after the regional snapshot; its eu-north-1 figure must not be used
    o = cloud.offer("aws", "p5.48xlarge", "eu-north-1")
    assert o and o.offered is True and o.on_demand.status == "unknown" and "stale" in (o.on_demand.reason or "")


def test_shipped_files_are_rebuilt_exactly_from_the_public_copies():
    built = snapshot.build_all(REFERENCE, DATA)
    for name, data in built.items():
        assert (DATA / f"prices_{name}.json").read_text() == snapshot.dump(data), (
            f"prices_{name}.json differs from its sources; after adding a catalog type or region run `gpuforge prices snapshot`"
        )


def test_loader_refuses_a_priced_figure_without_price():
    src = {"s": cloud.Source("s", "t", "https://x", "2026-01-01")}
    with pytest.raises(ValueError):
        cloud_offers._figure({"status": "priced", "source": "s"}, src)
    with pytest.raises(ValueError):
        cloud_offers._figure({"status": "unknown", "source": "s"}, src)


def test_cli_snapshot_rebuilds_the_files(tmp_path):
    import shutil

    from gpuforge.cli import main

    for name in ("instances.json", "regions.json"):
        shutil.copy(DATA / name, tmp_path / name)
    assert main(["prices", "snapshot", "--data-dir", str(tmp_path), "--reference-dir", str(REFERENCE)]) == 0
    for c in ("aws", "azure"):
        assert (tmp_path / f"prices_{c}.json").read_text() == (DATA / f"prices_{c}.json").read_text()


def test_instance_rows_reference_prices_agree_with_the_regional_offers():
    # instances.json keeps one reference price per type; the planner prices from gpuforge.cloud,
    # so the two must never disagree
    for inst in catalog.all_instances():
        for p in inst.prices:
            f = cloud.price(inst.cloud, inst.name, p.region)
            assert f is not None and f.priced and f.usd_per_hour == pytest.approx(p.usd_per_hour), (inst.name, p.region)

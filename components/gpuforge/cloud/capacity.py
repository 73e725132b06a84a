"""Capacity types each cloud sells, how each is billed, and what an interruption looks like.

One row per (cloud, capacity type), each with the documentation it comes from. The planner
reads `billed_at` to know which price applies, and `interruption_notice_s` to tell a spot plan
how much warning a reclaimed node gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CapacityType = Literal["on-demand", "spot", "capacity-block", "reserved"]
BilledAt = Literal["on-demand", "spot", "capacity-block"]


@dataclass(frozen=True)
class CapacityFacts:
    """How one capacity type works on one cloud.

    `billed_at` names the price that applies: a reservation is billed at the on-demand rate on
    both clouds, a capacity block at the price quoted for the block. `interruption_notice_s` is
    None where the cloud does not reclaim the capacity.
    """

    cloud: str
    capacity_type: CapacityType
    sold: bool
    billed_at: BilledAt | None
    interruption_notice_s: int | None
    notes: str
    sources: tuple[str, ...]


_FACTS = (
    CapacityFacts(
        "aws", "on-demand", True, "on-demand", None,
        "pay per second, no commitment",
        ("https://aws.amazon.com/ec2/pricing/on-demand/",),
    ),
    CapacityFacts(
        "aws", "spot", True, "spot", 120,
        "EC2 reclaims a Spot Instance with a two-minute interruption notice",
        ("https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html",),
    ),
    CapacityFacts(
        "aws", "capacity-block", True, "capacity-block", None,
        "reserved GPU capacity for a fixed window, paid up front; the price is quoted per offering "
        "(DescribeCapacityBlockOfferings upfrontFee, a signed API), not in the public price list",
        (
            "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-capacity-blocks.html",
            "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CapacityBlockOffering.html",
        ),
    ),
    CapacityFacts(
        "aws", "reserved", True, "on-demand", None,
        "an On-Demand Capacity Reservation is charged at the equivalent On-Demand rate whether used or not",
        ("https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/capacity-reservations-pricing-billing.html",),
    ),
    CapacityFacts(
        "azure", "on-demand", True, "on-demand", None,
        "pay-as-you-go (regular priority)",
        ("https://azure.microsoft.com/pricing/details/virtual-machines/linux/",),
    ),
    CapacityFacts(
        "azure", "spot", True, "spot", 30,
        "Azure evicts a Spot VM with at least 30 seconds of notice through Scheduled Events",
        (
            "https://learn.microsoft.com/azure/virtual-machines/spot-vms",
            "https://learn.microsoft.com/azure/virtual-machines/linux/scheduled-events",
        ),
    ),
    CapacityFacts(
        "azure", "capacity-block", False, None, None,
        "capacity blocks are an AWS offering",
        ("https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-capacity-blocks.html",),
    ),
    CapacityFacts(
        "azure", "reserved", True, "on-demand", None,
        "an on-demand capacity reservation is billed at the pay-as-you-go rate whether used or not",
        ("https://learn.microsoft.com/azure/virtual-machines/capacity-reservation-overview",),
    ),
)

CAPACITY_TYPES: dict[str, tuple[CapacityType, ...]] = {
    cloud: tuple(f.capacity_type for f in _FACTS if f.cloud == cloud and f.sold) for cloud in ("aws", "azure")
}


def capacity_facts(cloud: str, capacity_type: str) -> CapacityFacts:
    """The facts for one capacity type on one cloud (KeyError when unknown)."""
    for f in _FACTS:
        if f.cloud == cloud and f.capacity_type == capacity_type:
            return f
    raise KeyError(f"no capacity type {capacity_type!r} on {cloud}")

"""What each cloud offers: regions, instance-type offers, prices per capacity type, capacity types.

The planner and the components ask this package; they never read price files themselves.
Submodules: `offers` (per region x instance type: offered or not, on-demand / spot /
capacity-block price, zones, each with its source and date), `capacity` (capacity types per
cloud and what an interruption means), `refresh` (rebuilds the price files from the public
price APIs), `snapshot` (rebuilds the shipped files from the public copies they came from).
Other seams add their own files here (allocatable resources, node images).
"""

from gpuforge.cloud.capacity import CAPACITY_TYPES, CapacityFacts, capacity_facts
from gpuforge.cloud.offers import Figure, Offer, Source, all_offers, offer, price, regions_offering

__all__ = [
    "CAPACITY_TYPES",
    "CapacityFacts",
    "Figure",
    "Offer",
    "Source",
    "all_offers",
    "capacity_facts",
    "offer",
    "price",
    "regions_offering",
]

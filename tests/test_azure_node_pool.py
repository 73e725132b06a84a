"""gpuforge.azure.GpuNodePool under Pulumi mocks: what each kind of plan registers, and every
bad input refused before anything is registered."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from gpuforge import catalog
from gpuforge.azure import GpuNodePool, GpuNodePoolArgs, versions
from gpuforge.azure.node_pool import agent_pool_name, temp_disk_gib
from gpuforge.catalog import Region
from gpuforge.errors import SpecError
from gpuforge.plan import NodePoolPlan

AGENT_POOL = "azure-native:containerservice:AgentPool"
PPG = "azure-native:compute:ProximityPlacementGroup"
CRG = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/cap/providers/Microsoft.Compute/capacityReservationGroups/h100"


def single_gpu(**kw) -> NodePoolPlan:
    """One A100 80GB PCIe per node, replicas spread over three zones."""
    base = dict(name="llama-8b-a100", cloud="azure", region="eastus2", instance_type="Standard_NC24ads_A100_v4",
                gpu="a100-80gb-pcie", gpus_per_node=1, nodes_per_replica=1, desired_nodes=2, min_nodes=1, max_nodes=4,
                zones=("1", "2", "3"))
    base.update(kw)
    return NodePoolPlan(**base)


def nd_single_node(**kw) -> NodePoolPlan:
    """One 8x H100 ND node per replica: NVLink inside the node, no InfiniBand needed."""
    base = dict(name="llama-70b-h100", cloud="azure", region="eastus", instance_type="Standard_ND96isr_H100_v5",
                gpu="h100-80gb", gpus_per_node=8, nodes_per_replica=1, desired_nodes=1, min_nodes=1, max_nodes=1, zone="1")
    base.update(kw)
    return NodePoolPlan(**base)


def multi_node_ib(**kw) -> NodePoolPlan:
    """One replica over two 8x H200 nodes, linked by InfiniBand in one zone and placement group."""
    base = dict(name="llama-405b-h200", cloud="azure", region="eastus2", instance_type="Standard_ND96isr_H200_v5",
                gpu="h200", gpus_per_node=8, nodes_per_replica=2, desired_nodes=2, min_nodes=2, max_nodes=2, zone="2",
                fabric="infiniband", placement_group=True)
    base.update(kw)
    return NodePoolPlan(**base)


def build(name: str, plan: NodePoolPlan, **kw) -> GpuNodePool:
    return GpuNodePool(name, GpuNodePoolArgs.from_plan(plan, cluster_name="aks-1", resource_group_name="rg-1", **kw))


def value(output):
    return asyncio.get_event_loop().run_until_complete(output.future())


# --- what each kind of plan registers ------------------------------------------------------

def test_single_gpu_pool_spreads_zones_and_autoscales(pulumi_mocks):
    pool = build("np-single", single_gpu())
    pulumi_mocks.wait(pool, pool.agent_pool)
    ap = pulumi_mocks.one(AGENT_POOL, "np-single")
    i = ap.inputs
    assert ap.parent == "np-single"
    assert i["vmSize"] == "Standard_NC24ads_A100_v4"
    assert i["agentPoolName"] == "llama8ba100"
    assert (i["resourceName"], i["resourceGroupName"]) == ("aks-1", "rg-1")
    assert (i["mode"], i["type"], i["osType"], i["osSKU"]) == ("User", "VirtualMachineScaleSets", "Linux", "Ubuntu")
    assert (i["count"], i["enableAutoScaling"], i["minCount"], i["maxCount"]) == (2, True, 1, 4)
    assert i["availabilityZones"] == ["1", "2", "3"]
    assert i["nodeTaints"] == ["nvidia.com/gpu=present:NoSchedule"]
    assert i["nodeLabels"] == {
        "nvidia.com/gpu.present": "true",
        "gpuforge.io/pool": "llama-8b-a100",
        "gpuforge.io/gpu": "a100-80gb-pcie",
        "gpuforge.io/fabric-domain": "none",  # replicas spread over three zones
    }
    assert i["gpuProfile"] == {"driver": "Install"}
    assert i["scaleSetPriority"] == "Regular"
    for absent in ("scaleSetEvictionPolicy", "spotMaxPrice", "proximityPlacementGroupID", "gpuInstanceProfile"):
        assert absent not in i
    # NC24ads_A100_v4 has a 64 GiB temp disk: AKS's 128 GiB default OS disk cannot be Ephemeral.
    assert i["osDiskType"] == "Managed"
    assert pulumi_mocks.of_type(PPG) == []
    assert (pool.infiniband, pool.driver_managed_by_aks) == (False, True)
    assert pool.quota_family == "StandardNCADSA100v4Family"
    assert pool.quota_vcpus == 24 * 4
    assert pool.model_cache_disk == "os-managed"


def test_single_a10_pool_has_ephemeral_os_disk(pulumi_mocks):
    plan = single_gpu(name="qwen-7b-a10", instance_type="Standard_NV36ads_A10_v5", gpu="a10", desired_nodes=1,
                      min_nodes=1, max_nodes=1, zones=(), zone="3")
    pool = build("np-a10", plan)
    pulumi_mocks.wait(pool, pool.agent_pool)
    i = pulumi_mocks.one(AGENT_POOL, "np-a10").inputs
    assert i["vmSize"] == "Standard_NV36ads_A10_v5"
    assert i["osDiskType"] == "Ephemeral"
    assert "osDiskSizeGB" not in i  # AKS sizes it to the whole 1440 GiB temp disk
    assert (i["count"], i["enableAutoScaling"]) == (1, False)
    assert "minCount" not in i and "maxCount" not in i
    assert i["availabilityZones"] == ["3"]
    assert i["nodeLabels"]["gpuforge.io/gpu"] == "a10"
    assert i["nodeLabels"]["gpuforge.io/fabric-domain"] == "eastus2-3"  # one zone
    assert pool.quota_family == "StandardNVADSA10v5Family"
    assert pool.model_cache_disk == "os-ephemeral"


def test_eight_gpu_nd_single_node_pool(pulumi_mocks):
    pool = build("np-nd", nd_single_node())
    pulumi_mocks.wait(pool, pool.agent_pool)
    i = pulumi_mocks.one(AGENT_POOL, "np-nd").inputs
    assert i["vmSize"] == "Standard_ND96isr_H100_v5"
    assert (i["count"], i["enableAutoScaling"]) == (1, False)
    assert i["availabilityZones"] == ["1"]
    assert i["osDiskType"] == "Ephemeral"
    assert i["nodeLabels"]["gpuforge.io/gpu"] == "h100-80gb"
    assert i["nodeLabels"]["gpuforge.io/fabric-domain"] == "eastus-1"
    assert "proximityPlacementGroupID" not in i
    assert pool.infiniband is False
    assert pool.quota_family == "standardNDSH100v5Family"
    assert pool.quota_vcpus == 96
    assert pool.model_cache_disk == "nvme"  # 8 local NVMe disks


def test_multi_node_infiniband_pool_is_one_zone_with_placement_group(pulumi_mocks):
    pool = build("np-ib", multi_node_ib())
    pulumi_mocks.wait(pool, pool.agent_pool, pool.placement_group)
    ap = pulumi_mocks.one(AGENT_POOL, "np-ib")
    ppg = pulumi_mocks.one(PPG, "np-ib-ppg")
    assert ppg.parent == "np-ib"
    assert ppg.inputs["zones"] == ["2"]
    assert ppg.inputs["location"] == "eastus2"
    assert ppg.inputs["proximityPlacementGroupType"] == "Standard"
    assert ppg.inputs["intent"] == {"vmSizes": ["Standard_ND96isr_H200_v5"]}
    i = ap.inputs
    assert i["vmSize"] == "Standard_ND96isr_H200_v5"
    assert i["availabilityZones"] == ["2"]
    assert i["proximityPlacementGroupID"] == "np-ib-ppg-id"
    assert (i["count"], i["enableAutoScaling"]) == (2, False)
    assert i["osSKU"] == "Ubuntu"
    # InfiniBand links the VMs of one scale set: the agent pool is the fabric domain.
    assert i["nodeLabels"]["gpuforge.io/fabric-domain"] == i["agentPoolName"]
    assert i["nodeLabels"]["gpuforge.io/pool"] == "llama-405b-h200"
    assert i["nodeLabels"]["gpuforge.io/gpu"] == "h200"
    assert pool.infiniband is True
    assert pool.quota_family == "standardNDISRH200V5Family"
    assert value(pool.proximity_placement_group_id) == "np-ib-ppg-id"


def test_spot_pool_sets_priority_eviction_price_and_the_aks_spot_taint(pulumi_mocks):
    pool = build("np-spot", single_gpu(name="spot-a100", capacity_type="spot", spot_max_price=2.5))
    pulumi_mocks.wait(pool, pool.agent_pool)
    i = pulumi_mocks.one(AGENT_POOL, "np-spot").inputs
    assert (i["scaleSetPriority"], i["scaleSetEvictionPolicy"], i["spotMaxPrice"]) == ("Spot", "Delete", 2.5)
    assert i["nodeTaints"] == [versions.GPU_TAINT, "kubernetes.azure.com/scalesetpriority=spot:NoSchedule"]


def test_spot_without_a_price_pays_up_to_on_demand(pulumi_mocks):
    pool = build("np-spot2", single_gpu(name="spot-b", capacity_type="spot"))
    pulumi_mocks.wait(pool, pool.agent_pool)
    assert pulumi_mocks.one(AGENT_POOL, "np-spot2").inputs["spotMaxPrice"] == -1


def test_gpu_operator_pools_skip_the_aks_driver_and_never_use_the_retired_tag(pulumi_mocks):
    pool = build("np-nodrv", multi_node_ib(name="ib-operator"), gpu_driver="None", tags={"team": "ml"})
    pulumi_mocks.wait(pool, pool.agent_pool)
    i = pulumi_mocks.one(AGENT_POOL, "np-nodrv").inputs
    assert i["gpuProfile"] == {"driver": "None"}
    assert i["tags"] == {"team": "ml"}
    assert not any("skip" in k.lower() for k in i["tags"])
    assert pool.driver_managed_by_aks is False


def test_mig_profile_on_a100(pulumi_mocks):
    plan = nd_single_node(name="mig-a100", instance_type="Standard_ND96asr_v4", gpu="a100-40gb")
    pool = build("np-mig", plan, mig_profile="MIG1g")
    pulumi_mocks.wait(pool, pool.agent_pool)
    assert pulumi_mocks.one(AGENT_POOL, "np-mig").inputs["gpuInstanceProfile"] == "MIG1g"


def test_reserved_capacity_and_max_pods_and_plan_labels(pulumi_mocks):
    plan = nd_single_node(name="reserved-h100", capacity_type="reserved", capacity_reservation_id=CRG,
                          labels={"team": "inference"})
    pool = build("np-crg", plan, max_pods=60, vnet_subnet_id="subnet-id")
    pulumi_mocks.wait(pool, pool.agent_pool)
    i = pulumi_mocks.one(AGENT_POOL, "np-crg").inputs
    assert i["capacityReservationGroupID"] == CRG
    assert i["maxPods"] == 60
    assert i["vnetSubnetID"] == "subnet-id"
    assert i["nodeLabels"]["team"] == "inference"
    assert i["nodeLabels"]["gpuforge.io/fabric-domain"] == "h100"  # the reservation group
    assert i["scaleSetPriority"] == "Regular"


def test_planner_labels_are_kept_and_gpuforge_labels_win(pulumi_mocks):
    # the planner labels every pool with its pool, GPU and deployment
    labels = {"gpuforge.io/pool": "stale", "gpuforge.io/gpu": "h100-80gb", "gpuforge.io/deployment": "llama-70b"}
    pool = build("np-labels", nd_single_node(name="llama-70b-ndisrh100v5", labels=labels))
    pulumi_mocks.wait(pool, pool.agent_pool)
    assert pulumi_mocks.one(AGENT_POOL, "np-labels").inputs["nodeLabels"] == {
        "nvidia.com/gpu.present": "true",
        "gpuforge.io/pool": "llama-70b-ndisrh100v5",
        "gpuforge.io/gpu": "h100-80gb",
        "gpuforge.io/deployment": "llama-70b",
        "gpuforge.io/fabric-domain": "eastus-1",
    }


def test_direct_args_without_a_plan(pulumi_mocks):
    args = GpuNodePoolArgs(cluster_name="aks-1", resource_group_name="rg-1", region="westus3",
                           vm_size="Standard_NC40ads_H100_v5", name="h100nvl", pool="mistral", node_count=0,
                           min_count=0, max_count=3, zones=("1",), os_disk_size_gb=256)
    pool = GpuNodePool("np-direct", args)
    pulumi_mocks.wait(pool, pool.agent_pool)
    i = pulumi_mocks.one(AGENT_POOL, "np-direct").inputs
    assert (i["agentPoolName"], i["count"], i["minCount"], i["maxCount"]) == ("h100nvl", 0, 0, 3)
    assert (i["osDiskType"], i["osDiskSizeGB"]) == ("Ephemeral", 256)
    assert i["nodeLabels"]["gpuforge.io/gpu"] == "h100-nvl-94gb"


def test_component_outputs_are_registered(pulumi_mocks):
    pool = build("np-out", nd_single_node(name="outputs"))
    pulumi_mocks.wait(pool, pool.agent_pool)
    assert value(pool.agent_pool_name) == "np-out"  # the mock echoes the resource name
    assert pool.node_taints == [versions.GPU_TAINT]
    assert pool.zones == ["1"]


# --- helpers -------------------------------------------------------------------------------

@pytest.mark.parametrize("plan_name, expected", [
    ("gpu", "gpu"),                      # already valid
    ("Llama-8B", "llama8b"),             # lowercased, hyphen dropped
    ("8b-pool", "g8bpool"),              # must start with a letter
])
def test_agent_pool_names(plan_name, expected):
    assert agent_pool_name(plan_name) == expected


def test_long_agent_pool_names_stay_distinct():
    a, b = agent_pool_name("llama-70b-h100-east-a"), agent_pool_name("llama-70b-h100-east-b")
    assert a != b and len(a) == len(b) == 12 and a.isalnum() and a[0].isalpha()


def test_temp_disk_is_read_from_the_catalog():
    assert temp_disk_gib(catalog.get_instance("Standard_NC24ads_A100_v4", "azure")) == 64
    assert temp_disk_gib(catalog.get_instance("Standard_ND96asr_v4", "azure")) == 6000


# --- bad input -----------------------------------------------------------------------------

def _args(plan: NodePoolPlan, **kw) -> GpuNodePoolArgs:
    return GpuNodePoolArgs.from_plan(plan, cluster_name="aks-1", resource_group_name="rg-1", **kw)


def _direct(**kw) -> GpuNodePoolArgs:
    base = dict(cluster_name="aks-1", resource_group_name="rg-1", region="eastus2", vm_size="Standard_NV36ads_A10_v5",
                name="gpu", zones=("1",))
    base.update(kw)
    return GpuNodePoolArgs(**base)


BAD = [
    # unknown VM size: the nearest catalog names are offered
    (lambda: _args(nd_single_node(instance_type="Standard_ND96isr_H100_v6")),
     "node_pools.llama-70b-h100.instance_type", "not an Azure GPU VM size", "Standard_ND96isr_H100_v5"),
    # an AWS instance type in an Azure plan
    (lambda: _args(nd_single_node(instance_type="p5.48xlarge")),
     "node_pools.llama-70b-h100.instance_type", "AWS instance type", "exact Azure size name"),
    # InfiniBand on a size without it
    (lambda: _args(single_gpu(fabric="infiniband", zones=(), zone="1")),
     "node_pools.llama-8b-a100.fabric", "Standard_NC24ads_A100_v4 has no InfiniBand", "Standard_ND96isr_H100_v5"),
    # InfiniBand across zones
    (lambda: _args(multi_node_ib(zone=None, zones=("1", "2"))),
     "node_pools.llama-405b-h200.zone", "InfiniBand pools need one zone, got 1, 2", "keep one zone"),
    # InfiniBand without a zone where the region has zones: refuse to guess
    (lambda: _args(multi_node_ib(zone=None, placement_group=False)),
     "node_pools.llama-405b-h200.zone", "none given", "pick one of 1, 2, 3"),
    # a zone the region does not have
    (lambda: _args(nd_single_node(zone="4")),
     "node_pools.llama-70b-h100.zone", "eastus offers Standard_ND96isr_H100_v5 in zones 1, 2, 3", "pick from 1, 2, 3"),
    # unknown region
    (lambda: _args(nd_single_node(region="eastus9")),
     "node_pools.llama-70b-h100.region", "'eastus9' is not an Azure region", "eastus"),
    # proximity placement group over several zones
    (lambda: _args(single_gpu(placement_group=True)),
     "node_pools.llama-8b-a100.placement_group", "maps to one zone", "keep one zone"),
    # MIG on a GPU without it
    (lambda: _args(single_gpu(instance_type="Standard_NV36ads_A10_v5", gpu="a10"), mig_profile="MIG1g"),
     "node_pools.llama-8b-a100.mig_profile", "NVIDIA A10 in Standard_NV36ads_A10_v5 does not support MIG", "Standard_ND96asr_v4"),
    # MIG profile AKS does not know
    (lambda: _args(nd_single_node(instance_type="Standard_ND96asr_v4", gpu="a100-40gb"), mig_profile="MIG5g"),
     "node_pools.llama-70b-h100.mig_profile", "'MIG5g' is not an AKS GPU instance profile", "MIG1g, MIG2g, MIG3g, MIG4g, MIG7g"),
    # AKS-installed drivers on MI300X (AKS enforces gpuProfile.driver None there)
    (lambda: _args(nd_single_node(instance_type="Standard_ND96isr_MI300X_v5", gpu="mi300x")),
     "node_pools.llama-70b-h100.gpu_driver", "AKS accepts None for Standard_ND96isr_MI300X_v5", "GPU operator"),
    # a driver value that is not one
    (lambda: _args(single_gpu(), gpu_driver="skip"),
     "node_pools.llama-8b-a100.gpu_driver", "'skip'", "Install, None"),
    # a plan for the other cloud
    (lambda: _args(nd_single_node(cloud="aws")),
     "node_pools.llama-70b-h100.cloud", "planned for 'aws'", "gpuforge.aws"),
    # EFA is AWS-only
    (lambda: _args(nd_single_node(fabric="efa")),
     "node_pools.llama-70b-h100.fabric", "'efa' is AWS-only", "infiniband"),
    # Capacity Blocks are EC2-only
    (lambda: _args(nd_single_node(capacity_type="capacity-block")),
     "node_pools.llama-70b-h100.capacity_type", "EC2 offering", "capacity reservation group"),
    # reserved without a reservation
    (lambda: _args(nd_single_node(capacity_type="reserved")),
     "node_pools.llama-70b-h100.capacity_reservation_id", "no reservation is named", "resource id"),
    # malformed reservation id
    (lambda: _args(nd_single_node(capacity_type="reserved", capacity_reservation_id="crg-1")),
     "node_pools.llama-70b-h100.capacity_reservation_id", "not a capacity reservation group id", "capacityReservationGroups"),
    # autoscaling bounds that do not hold the desired count
    (lambda: _args(single_gpu(desired_nodes=5)),
     "node_pools.llama-8b-a100.desired_nodes", "bounds 1..4 do not hold 5 nodes", "min_count <= node_count"),
    # spot max price on a regular pool, and a non-price
    (lambda: _args(single_gpu(spot_max_price=3.0)),
     "node_pools.llama-8b-a100.spot_max_price", "regular-priority pool", "set spot"),
    (lambda: _args(single_gpu(capacity_type="spot", spot_max_price=0.0)),
     "node_pools.llama-8b-a100.spot_max_price", "0.0 is not a price", "-1"),
    # max pods beyond what overlay allows
    (lambda: _args(single_gpu(), max_pods=300),
     "node_pools.llama-8b-a100.max_pods", "300 is outside", "10..250"),
    # InfiniBand on Azure Linux
    (lambda: _args(multi_node_ib(), os_sku="AzureLinux"),
     "node_pools.llama-405b-h200.os_sku", "Ubuntu nodes only", "Ubuntu"),
    # an OS that does not run NVIDIA nodes
    (lambda: _args(single_gpu(), os_sku="Flatcar"),
     "node_pools.llama-8b-a100.os_sku", "'Flatcar' does not run NVIDIA GPU nodes", "Ubuntu, AzureLinux"),
    # Ephemeral OS bigger than the temp disk (direct args: from_plan picks Managed here)
    (lambda: _direct(vm_size="Standard_NC24ads_A100_v4"),
     "gpu_node_pool.os_disk_type", "does not fit the 64 GiB temp disk", "os_disk_type 'Managed'"),
    (lambda: _direct(os_disk_type="Premium"),
     "gpu_node_pool.os_disk_type", "'Premium' is not an OS disk type", "Ephemeral, Managed"),
    # an agent pool name AKS rejects
    (lambda: _direct(name="GPU_pool"),
     "gpu_node_pool.name", "not an AKS Linux pool name", "'gpupool'"),
    # one autoscaling bound only
    (lambda: _direct(min_count=1),
     "gpu_node_pool.min_count", "only one autoscaling bound", "both"),
    # labels gpuforge or AKS own
    (lambda: _direct(labels={"kubernetes.azure.com/mode": "x"}),
     "gpu_node_pool.labels", "not a label key this pool may set", "outside the kubernetes.azure.com"),
    (lambda: _direct(labels={"node-role.kubernetes.io/gpu": ""}),
     "gpu_node_pool.labels", "'node-role.kubernetes.io/gpu' is not a label key", "kubelet reserve"),
    (lambda: _direct(labels={"team": "a b"}),
     "gpu_node_pool.labels", "not a label value", "63"),
    # spot with a capacity reservation
    (lambda: _direct(spot=True, capacity_reservation_group_id=CRG),
     "gpu_node_pool.capacity_reservation_group_id", "Spot VMs cannot draw from a capacity reservation", "on-demand"),
]


@pytest.mark.parametrize("make, path, reason, fix", BAD)
def test_bad_input_is_refused_before_anything_is_registered(pulumi_mocks, make, path, reason, fix):
    with pytest.raises(SpecError) as err:
        GpuNodePool(f"bad-{abs(hash(path + reason)) % 10**8}", make())
    hits = [p for p in err.value.problems if p.path == path and reason in p.reason]
    assert hits, f"no problem at {path} with {reason!r} in:\n{err.value}"
    assert fix in hits[0].fix, hits[0]
    assert pulumi_mocks.resources == []


def test_spot_on_a_size_without_spot_offers(pulumi_mocks, monkeypatch):
    real = catalog.get_instance
    no_spot = dataclasses.replace(real("Standard_ND96isr_H200_v5", "azure"), spot=False)
    monkeypatch.setattr(catalog, "get_instance", lambda name, cloud=None: no_spot if name == no_spot.name else real(name, cloud))
    with pytest.raises(SpecError) as err:
        GpuNodePool("bad-spot", _args(multi_node_ib(capacity_type="spot")))
    [p] = [p for p in err.value.problems if p.path == "node_pools.llama-405b-h200.capacity_type"]
    assert "Standard_ND96isr_H200_v5 is not sold as Spot" in p.reason and "on-demand" in p.fix
    assert pulumi_mocks.resources == []


def test_zone_the_region_does_not_offer_for_that_size(pulumi_mocks, monkeypatch):
    real = catalog.get_region
    east2 = real("azure", "eastus2")
    limited = Region(cloud="azure", name="eastus2", zones=east2.zones, offerings={"Standard_ND96isr_H200_v5": ("3",)})
    monkeypatch.setattr(catalog, "get_region", lambda cloud, name: limited if (cloud, name) == ("azure", "eastus2") else real(cloud, name))
    with pytest.raises(SpecError) as err:
        GpuNodePool("bad-offer", _args(multi_node_ib(zone="2")))
    [p] = [p for p in err.value.problems if p.path == "node_pools.llama-405b-h200.zone"]
    assert p.reason == "'2': eastus2 offers Standard_ND96isr_H200_v5 in zones 3"
    assert p.fix == "pick from 3"


def test_every_problem_is_reported_at_once(pulumi_mocks):
    plan = single_gpu(fabric="infiniband", zones=("1", "2"), desired_nodes=9, cloud="aws")
    with pytest.raises(SpecError) as err:
        GpuNodePool("bad-many", _args(plan, mig_profile="MIG9g", max_pods=5))
    paths = {p.path for p in err.value.problems}
    assert {"node_pools.llama-8b-a100.cloud", "node_pools.llama-8b-a100.fabric", "node_pools.llama-8b-a100.zone",
            "node_pools.llama-8b-a100.desired_nodes", "node_pools.llama-8b-a100.mig_profile",
            "node_pools.llama-8b-a100.max_pods"} <= paths
    text = str(err.value)
    assert text.startswith("GpuNodePool 'bad-many': ") and "To fix:" in text
    assert pulumi_mocks.resources == []

"""GpuNodePool: one AKS agent pool (a VM scale set) for one planned GPU pool."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_azure_native.compute as compute
import pulumi_azure_native.containerservice as containerservice

from gpuforge import catalog
from gpuforge.azure import versions
from gpuforge.catalog import InstanceType, Region
from gpuforge.errors import Problem, SpecError
from gpuforge.plan import NodePoolPlan

# AKS Linux agent pool names: lowercase letters and digits, starting with a letter, 1-12 chars.
AGENT_POOL_NAME = re.compile(r"^[a-z][a-z0-9]{0,11}$")
CAPACITY_RESERVATION_GROUP_ID = re.compile(
    r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/Microsoft\.Compute/capacityReservationGroups/[^/]+$",
    re.IGNORECASE,
)
LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")
OS_SKUS = ("Ubuntu", "AzureLinux")
OS_DISK_TYPES = ("Ephemeral", "Managed")
# AKS creates a Managed OS disk of this size when none is given and Ephemeral does not fit; an
# Ephemeral one needs a temp disk at least this large (articles/aks/concepts-storage.md).
DEFAULT_OS_DISK_GB = 128

# Where a problem's path points when the args came from a plan: the NodePoolPlan field.
PLAN_FIELDS = {
    "vm_size": "instance_type",
    "zones": "zone",
    "spot": "capacity_type",
    "infiniband": "fabric",
    "proximity_placement_group": "placement_group",
    "node_count": "desired_nodes",
    "min_count": "min_nodes",
    "max_count": "max_nodes",
    "capacity_reservation_group_id": "capacity_reservation_id",
}


def agent_pool_name(pool_name: str) -> str:
    """An AKS agent pool name for a plan pool name: `[a-z][a-z0-9]{0,11}`, distinct per name."""
    base = re.sub(r"[^a-z0-9]", "", pool_name.lower())
    if not base or not base[0].isalpha():
        base = "g" + base
    if len(base) <= 12:
        return base
    return base[:8] + hashlib.sha256(pool_name.encode()).hexdigest()[:4]


def temp_disk_gib(inst: InstanceType) -> int | None:
    """The size's local temp disk in GiB, as the catalog records it (None when unknown)."""
    value = getattr(inst, "temp_disk_gib", None)
    if value is not None:
        return int(value)
    match = re.search(r"temp disk: (\d+) disks?, ([\d,]+) GiB", inst.notes or "")
    return int(match.group(2).replace(",", "")) if match and match.group(1) == "1" else None


#: Node image / Kubernetes upgrades without surge nodes: AKS cordons, drains and reimages one
#: node at a time instead of first adding an extra GPU VM (the default surge of 10% rounds up
#: to one more VM, which needs spare GPU quota and capacity). maxSurge 0 with maxUnavailable is
#: the AKS pattern for capacity-constrained pools (AgentPoolUpgradeSettings in the pinned
#: 2025-09-01 API; https://learn.microsoft.com/azure/aks/stateful-workload-upgrades uses
#: --max-surge 0 --max-unavailable 1).
GPU_UPGRADE_SETTINGS = containerservice.AgentPoolUpgradeSettingsArgs(max_surge="0", max_unavailable="1")


@dataclass
class GpuNodePoolArgs:
    """One GPU agent pool.

    Attributes:
        cluster_name / resource_group_name: the AKS cluster (`AksCluster.cluster_name`).
        region: the cluster's region (checks zones against the catalog).
        vm_size: Azure VM size, e.g. `Standard_ND96isr_H100_v5`.
        name: AKS agent pool name (`[a-z][a-z0-9]{0,11}`).
        pool: gpuforge pool name, the `gpuforge.io/pool` label.
        node_count / min_count / max_count: fixed count, or autoscaling bounds when they differ.
        zones: availability zones; exactly one for InfiniBand and proximity-placement pools.
        infiniband: nodes talk over InfiniBand (ND "r" sizes, all nodes in this one scale set).
        proximity_placement_group: create a proximity placement group for the pool.
        spot / spot_max_price: Spot priority (evicted VMs are deleted); price -1 = up to on-demand.
        capacity_reservation_group_id: an on-demand capacity reservation group to draw from.
        gpu_driver: `Install` (AKS installs the NVIDIA driver) or `None` (the GPU operator does).
        mig_profile: MIG instance profile (`MIG1g` .. `MIG7g`) on MIG-capable GPUs.
        os_disk_type: `Ephemeral` (on the local temp disk), `Managed`, or None for AKS's choice.
        os_disk_size_gb: None lets AKS size an Ephemeral disk to the whole temp disk, so the
            container images and the model cache (emptyDir) live on local SSD.
        max_pods: pods per node (AKS default with Azure CNI overlay: 250).
        os_sku: `Ubuntu` or `AzureLinux` (InfiniBand needs Ubuntu).
        vnet_subnet_id: node subnet. A cluster on its own VNet needs one in that VNet; None
            only suits clusters whose VNet AKS manages.
        labels / tags: extra node labels and scale set tags.
    """

    cluster_name: pulumi.Input[str]
    resource_group_name: pulumi.Input[str]
    region: str
    vm_size: str
    name: str
    pool: str = ""
    node_count: int = 1
    min_count: int | None = None
    max_count: int | None = None
    zones: Sequence[str] = ()
    infiniband: bool = False
    proximity_placement_group: bool = False
    spot: bool = False
    spot_max_price: float | None = None
    capacity_reservation_group_id: str | None = None
    gpu_driver: str = "Install"
    mig_profile: str | None = None
    os_disk_type: str | None = "Ephemeral"
    os_disk_size_gb: int | None = None
    max_pods: int | None = None
    os_sku: str = versions.GPU_POOL_OS_SKU
    vnet_subnet_id: pulumi.Input[str] | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    path: str = "gpu_node_pool"
    plan_fields: bool = False
    plan_problems: tuple[Problem, ...] = ()

    @classmethod
    def from_plan(
        cls,
        pool: NodePoolPlan,
        *,
        cluster_name: pulumi.Input[str],
        resource_group_name: pulumi.Input[str],
        gpu_driver: str = "Install",
        mig_profile: str | None = None,
        vnet_subnet_id: pulumi.Input[str] | None = None,
        **overrides: Any,
    ) -> GpuNodePoolArgs:
        """Args for one planned pool; `overrides` set any other field (max_pods, os_disk_type...)."""
        problems: list[Problem] = []
        where = f"node_pools.{pool.name}"
        if pool.cloud != "azure":
            problems.append(Problem(f"{where}.cloud", f"pool is planned for {pool.cloud!r}",
                                    "plan with target.cloud: azure, or build it with gpuforge.aws"))
        if pool.fabric == "efa":
            problems.append(Problem(f"{where}.fabric", "'efa' is AWS-only", "plan fabric 'infiniband' or 'none' for Azure"))
        if pool.capacity_type == "capacity-block":
            problems.append(Problem(f"{where}.capacity_type", "'capacity-block' is an EC2 offering",
                                    "use on-demand, spot or reserved (an Azure capacity reservation group)"))
        if pool.capacity_type == "reserved" and not pool.capacity_reservation_id:
            problems.append(Problem(f"{where}.capacity_reservation_id", "capacity_type is 'reserved' but no reservation is named",
                                    "set capacity_reservation_id to the capacity reservation group's resource id"))
        zones = (pool.zone,) if pool.zone else tuple(pool.zones)
        spot = pool.capacity_type == "spot"
        try:
            temp = temp_disk_gib(catalog.get_instance(pool.instance_type, "azure"))
        except KeyError:
            temp = None  # reported by problems()
        # Ephemeral wherever AKS's default OS disk fits the temp disk (every catalog size but
        # NC24ads_A100_v4, 64 GiB); Managed there, as AKS itself would choose.
        os_disk_type = "Managed" if temp is not None and temp < DEFAULT_OS_DISK_GB else "Ephemeral"
        kwargs: dict[str, Any] = {
            "cluster_name": cluster_name,
            "resource_group_name": resource_group_name,
            "region": pool.region,
            "vm_size": pool.instance_type,
            "name": agent_pool_name(pool.name),
            "pool": pool.pool_label or pool.name,
            "node_count": pool.desired_nodes,
            "min_count": pool.min_nodes,
            "max_count": pool.max_nodes,
            "zones": zones,
            "infiniband": pool.fabric == "infiniband",
            "proximity_placement_group": pool.placement_group,
            "spot": spot,
            "spot_max_price": (pool.spot_max_price if pool.spot_max_price is not None else -1.0) if spot else pool.spot_max_price,
            "capacity_reservation_group_id": pool.capacity_reservation_id if pool.capacity_type == "reserved" else None,
            "gpu_driver": gpu_driver,
            "mig_profile": mig_profile,
            "os_disk_type": os_disk_type,
            "vnet_subnet_id": vnet_subnet_id,
            "labels": dict(pool.labels),
            "path": where,
            "plan_fields": True,
            "plan_problems": tuple(problems),
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    # --- facts the rest of gpuforge reads --------------------------------------------------
    @property
    def autoscaling(self) -> bool:
        return self.min_count is not None and self.max_count is not None and self.min_count != self.max_count

    @property
    def driver_managed_by_aks(self) -> bool:
        return self.gpu_driver == "Install"

    def instance(self) -> InstanceType | None:
        try:
            return catalog.get_instance(self.vm_size, "azure")
        except KeyError:
            return None

    def fabric_domain(self) -> str:
        """The `gpuforge.io/fabric-domain` label: nodes sharing it are close on the network.

        InfiniBand links the VMs of one scale set, and a placement group holds one pool, so
        for those the agent pool is the domain; then a capacity reservation group; then the
        one zone (`<region>-<zone>`, as AWS zone names read); else "none". Same rules as
        gpuforge.aws.
        """
        if self.infiniband or self.proximity_placement_group:
            return self.name
        if self.capacity_reservation_group_id:
            return _label_value(self.capacity_reservation_group_id.rsplit("/", 1)[-1])
        if len(self.zones) == 1:
            return f"{self.region}-{self.zones[0]}"
        return "none"

    def node_labels(self) -> dict[str, str]:
        inst = self.instance()
        return {
            **dict(self.labels),
            "nvidia.com/gpu.present": "true",
            "gpuforge.io/pool": _label_value(self.pool or self.name),
            "gpuforge.io/gpu": inst.gpu if inst else "unknown",
            "gpuforge.io/fabric-domain": self.fabric_domain(),
        }

    def node_taints(self) -> list[str]:
        taints = [versions.GPU_TAINT]
        if self.spot:
            # AKS adds this taint to every Spot pool anyway; declaring it keeps the recorded
            # state equal to what Azure reports, so refreshes show no drift.
            taints.append(versions.SPOT_TAINT)
        return taints

    # --- validation --------------------------------------------------------------------------
    def _p(self, name: str) -> str:
        return f"{self.path}.{PLAN_FIELDS.get(name, name) if self.plan_fields else name}"

    def problems(self) -> list[Problem]:
        out = list(self.plan_problems)
        inst = self._instance_problems(out)
        region = self._region_problems(out)
        self._count_problems(out)
        if not AGENT_POOL_NAME.fullmatch(self.name):
            out.append(Problem(self._p("name"), f"{self.name!r} is not an AKS Linux pool name",
                               f"use 1-12 lowercase letters and digits starting with a letter, e.g. {agent_pool_name(self.name)!r}"))
        if inst is None:
            return out
        zones = self._zone_problems(out, inst, region)
        self._fabric_problems(out, inst, region, zones)
        self._priority_problems(out, inst)
        self._gpu_problems(out, inst)
        self._disk_problems(out, inst)
        self._label_problems(out)
        if self.max_pods is not None and not 10 <= self.max_pods <= 250:
            out.append(Problem(self._p("max_pods"), f"{self.max_pods} is outside what AKS allows with Azure CNI overlay (10..250)",
                               "pick 10..250, or leave it unset for 250"))
        if self.os_sku not in OS_SKUS:
            out.append(Problem(self._p("os_sku"), f"{self.os_sku!r} does not run NVIDIA GPU nodes on AKS",
                               f"use one of {', '.join(OS_SKUS)}"))
        return out

    def _instance_problems(self, out: list[Problem]) -> InstanceType | None:
        inst = self.instance()
        if inst is not None:
            return inst
        names = [i.name for i in catalog.all_instances("azure")]
        try:
            other = catalog.get_instance(self.vm_size)
        except KeyError:
            other = None
        if other is not None:
            reason = f"{self.vm_size!r} is an {other.cloud.upper()} instance type, not an Azure VM size"
        else:
            reason = f"{self.vm_size!r} is not an Azure GPU VM size the catalog knows"
        near = catalog.nearest(self.vm_size, names)
        out.append(Problem(self._p("vm_size"), reason, f"use an exact Azure size name, e.g. {', '.join(near or sorted(names)[:3])}"))
        return None

    def _region_problems(self, out: list[Problem]) -> Region | None:
        try:
            return catalog.get_region("azure", self.region)
        except KeyError:
            names = [r.name for r in catalog.all_regions("azure")]
            near = catalog.nearest(self.region, names)
            out.append(Problem(self._p("region"), f"{self.region!r} is not an Azure region the catalog knows",
                               f"use one of: {', '.join(near or names)}"))
            return None

    def _count_problems(self, out: list[Problem]) -> None:
        if not 0 <= self.node_count <= 1000:
            out.append(Problem(self._p("node_count"), f"{self.node_count} is outside 0..1000", "pick a node count AKS allows (0..1000)"))
        if (self.min_count is None) != (self.max_count is None):
            out.append(Problem(self._p("min_count"), "only one autoscaling bound is set", "set both min_count and max_count, or neither"))
        elif (
            self.min_count is not None
            and self.max_count is not None
            and not 0 <= self.min_count <= self.node_count <= self.max_count <= 1000
        ):
                out.append(Problem(self._p("node_count"),
                                   f"bounds {self.min_count}..{self.max_count} do not hold {self.node_count} nodes",
                                   "keep 0 <= min_count <= node_count <= max_count <= 1000"))

    def _zone_problems(self, out: list[Problem], inst: InstanceType, region: Region | None) -> tuple[str, ...]:
        if region is None:
            return tuple(self.zones)
        offered = region.offerings.get(inst.name, region.zones)
        bad = [z for z in self.zones if z not in offered]
        if bad:
            where = f"zones {', '.join(offered)}" if offered else "no availability zone"
            out.append(Problem(self._p("zones"), f"{', '.join(map(repr, bad))}: {self.region} offers {inst.name} in {where}",
                               f"pick from {', '.join(offered)}" if offered else "leave zones empty for a regional pool"))
        return tuple(z for z in self.zones if z in offered)

    def _fabric_problems(self, out: list[Problem], inst: InstanceType, region: Region | None, zones: tuple[str, ...]) -> None:
        offered = region.offerings.get(inst.name, region.zones) if region else ()
        if self.infiniband:
            if not inst.infiniband:
                ib = sorted(i.name for i in catalog.all_instances("azure") if i.infiniband and i.gpu_count == inst.gpu_count) or \
                    sorted(i.name for i in catalog.all_instances("azure") if i.infiniband)
                out.append(Problem(self._p("infiniband"), f"{inst.name} has no InfiniBand",
                                   f"use an ND 'r' size ({', '.join(ib)}), or plan fabric 'none' for single-node replicas"))
            if len(self.zones) > 1:
                out.append(Problem(self._p("zones"), f"InfiniBand pools need one zone, got {', '.join(self.zones)}",
                                   "keep one zone: InfiniBand only links VMs of one scale set, and one placement"))
            elif not self.zones and offered:
                out.append(Problem(self._p("zones"), "InfiniBand pools need one zone, none given",
                                   f"pick one of {', '.join(offered)} (where your quota for {inst.quota_family} is)"))
            if self.os_sku != "Ubuntu":
                out.append(Problem(self._p("os_sku"), f"{self.os_sku!r}: the AKS InfiniBand setup supports Ubuntu nodes only",
                                   "use os_sku 'Ubuntu'"))
        if self.proximity_placement_group and len(self.zones) > 1:
            out.append(Problem(self._p("proximity_placement_group"),
                               f"a proximity placement group maps to one zone, the pool spans {', '.join(self.zones)}",
                               "keep one zone, or turn the placement group off"))

    def _priority_problems(self, out: list[Problem], inst: InstanceType) -> None:
        if self.spot:
            if not inst.spot:
                out.append(Problem(self._p("spot"), f"{inst.name} is not sold as Spot",
                                   "use on-demand capacity, or a size with Spot offers"))
            if self.capacity_reservation_group_id:
                out.append(Problem(self._p("capacity_reservation_group_id"), "Spot VMs cannot draw from a capacity reservation",
                                   "use on-demand priority with the reservation, or drop the reservation"))
        if self.spot_max_price is not None:
            if not self.spot:
                out.append(Problem(self._p("spot_max_price"), f"{self.spot_max_price} is set on a regular-priority pool",
                                   "set spot, or drop spot_max_price"))
            elif self.spot_max_price != -1 and self.spot_max_price <= 0:
                out.append(Problem(self._p("spot_max_price"), f"{self.spot_max_price} is not a price",
                                   "use -1 (pay up to the on-demand price) or a USD/hour amount above 0"))
        if self.capacity_reservation_group_id and not CAPACITY_RESERVATION_GROUP_ID.fullmatch(self.capacity_reservation_group_id):
            out.append(Problem(self._p("capacity_reservation_group_id"),
                               f"{self.capacity_reservation_group_id!r} is not a capacity reservation group id",
                               "pass /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Compute/capacityReservationGroups/<name>"))

    def _gpu_problems(self, out: list[Problem], inst: InstanceType) -> None:
        allowed = inst.azure_gpu_driver or versions.GPU_DRIVERS
        if self.gpu_driver not in allowed:
            out.append(Problem(self._p("gpu_driver"), f"{self.gpu_driver!r}: AKS accepts {', '.join(allowed)} for {inst.name}",
                               "use 'None' and install drivers with the GPU operator" if allowed == ("None",)
                               else f"use one of {', '.join(allowed)}"))
        if self.mig_profile is not None:
            try:
                gpu = catalog.get_gpu(inst.gpu)
            except KeyError:
                gpu = None
            if gpu is not None and not gpu.mig:
                mig_sizes = sorted(i.name for i in catalog.all_instances("azure") if _mig(i.gpu))
                out.append(Problem(self._p("mig_profile"), f"{gpu.name} in {inst.name} does not support MIG",
                                   f"drop mig_profile, or use a MIG-capable size ({', '.join(mig_sizes)})"))
            if self.mig_profile not in versions.MIG_PROFILES:
                out.append(Problem(self._p("mig_profile"), f"{self.mig_profile!r} is not an AKS GPU instance profile",
                                   f"use one of {', '.join(versions.MIG_PROFILES)}"))

    def _disk_problems(self, out: list[Problem], inst: InstanceType) -> None:
        if self.os_disk_type is not None and self.os_disk_type not in OS_DISK_TYPES:
            out.append(Problem(self._p("os_disk_type"), f"{self.os_disk_type!r} is not an OS disk type",
                               f"use one of {', '.join(OS_DISK_TYPES)}"))
        temp = temp_disk_gib(inst)
        if self.os_disk_type == "Ephemeral" and temp is not None:
            size = self.os_disk_size_gb if self.os_disk_size_gb is not None else DEFAULT_OS_DISK_GB
            if size > temp:
                out.append(Problem(self._p("os_disk_type"),
                                   f"an Ephemeral OS disk of {size} GiB does not fit the {temp} GiB temp disk of {inst.name}",
                                   f"set os_disk_size_gb to at most {temp}, or os_disk_type 'Managed'"))

    def _label_problems(self, out: list[Problem]) -> None:
        for key, value in self.labels.items():
            prefix = key.rpartition("/")[0]
            reserved = prefix == "kubernetes.azure.com" or prefix.endswith(("kubernetes.io", "k8s.io"))
            if not LABEL_KEY.fullmatch(key) or reserved:
                out.append(Problem(self._p("labels"), f"{key!r} is not a label key this pool may set",
                                   "use a key outside the kubernetes.azure.com, kubernetes.io and k8s.io prefixes, "
                                   "which AKS and the kubelet reserve"))
            if not LABEL_VALUE.fullmatch(str(value)):
                out.append(Problem(self._p("labels"), f"{key}={value!r} is not a label value",
                                   "use <= 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric"))


def _mig(gpu_id: str) -> bool:
    try:
        return catalog.get_gpu(gpu_id).mig
    except KeyError:
        return False


def _label_value(text: str) -> str:
    value = re.sub(r"[^A-Za-z0-9._-]", "-", text)[:63]
    return value.strip("-._") or "none"


class GpuNodePool(pulumi.ComponentResource):
    """An AKS user agent pool of GPU VMs, tainted for GPU pods, with optional placement group.

    `infiniband` and `driver_managed_by_aks` tell the Kubernetes platform what to install: the
    NVIDIA Network Operator for InfiniBand pools, and the GPU operator's driver only where AKS
    does not install one.
    """

    agent_pool_name: pulumi.Output[str]
    vm_size: str
    quota_family: str | None
    quota_vcpus: int
    infiniband: bool
    driver_managed_by_aks: bool
    node_labels: dict[str, str]
    node_taints: list[str]
    zones: list[str]
    model_cache_disk: str
    proximity_placement_group_id: pulumi.Output[str] | None

    def __init__(self, name: str, args: GpuNodePoolArgs, opts: pulumi.ResourceOptions | None = None):
        problems = args.problems()
        if problems:
            raise SpecError(f"GpuNodePool {name!r}", problems)
        super().__init__("gpuforge:azure:GpuNodePool", name, None, opts)
        inst = args.instance()
        assert inst is not None  # problems() reported an unknown size

        self.vm_size = inst.name
        self.quota_family = inst.quota_family
        # Azure quotas count vCPUs: the family quota for regular VMs, the regional Spot quota
        # for Spot ones; this is what the pool needs at its largest.
        self.quota_vcpus = inst.vcpus * (args.max_count if args.max_count is not None else args.node_count)
        self.infiniband = args.infiniband
        self.driver_managed_by_aks = args.driver_managed_by_aks
        self.node_labels = args.node_labels()
        self.node_taints = args.node_taints()
        self.zones = list(args.zones)
        if inst.local_nvme_gb:
            self.model_cache_disk = "nvme"
        elif args.os_disk_type == "Managed":
            self.model_cache_disk = "os-managed"
        else:
            self.model_cache_disk = "os-ephemeral"

        self.proximity_placement_group_id = None
        self.placement_group: compute.ProximityPlacementGroup | None = None
        if args.proximity_placement_group:
            ppg = self.placement_group = compute.ProximityPlacementGroup(
                f"{name}-ppg",
                resource_group_name=args.resource_group_name,
                location=args.region,
                proximity_placement_group_type="Standard",
                zones=self.zones or None,
                # Telling Azure the size lets it pick a datacenter that has it.
                intent=compute.ProximityPlacementGroupPropertiesIntentArgs(vm_sizes=[inst.name]) if self.zones else None,
                tags=dict(args.tags) or None,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.proximity_placement_group_id = ppg.id

        ignore = ["count"] if args.autoscaling else []  # the cluster autoscaler owns it
        pool = self.agent_pool = containerservice.AgentPool(
            name,
            agent_pool_name=args.name,
            resource_group_name=args.resource_group_name,
            resource_name_=args.cluster_name,
            mode=containerservice.AgentPoolMode.USER,
            type="VirtualMachineScaleSets",
            vm_size=inst.name,
            count=args.node_count,
            enable_auto_scaling=args.autoscaling,
            min_count=args.min_count if args.autoscaling else None,
            max_count=args.max_count if args.autoscaling else None,
            availability_zones=self.zones or None,
            proximity_placement_group_id=self.proximity_placement_group_id,
            node_taints=self.node_taints,
            node_labels=self.node_labels,
            os_type="Linux",
            os_sku=args.os_sku,
            os_disk_type=args.os_disk_type,
            os_disk_size_gb=args.os_disk_size_gb,
            max_pods=args.max_pods,
            scale_set_priority="Spot" if args.spot else "Regular",
            scale_set_eviction_policy="Delete" if args.spot else None,
            spot_max_price=args.spot_max_price if args.spot else None,
            capacity_reservation_group_id=args.capacity_reservation_group_id,
            gpu_profile=containerservice.GPUProfileArgs(driver=args.gpu_driver),
            gpu_instance_profile=args.mig_profile,
            vnet_subnet_id=args.vnet_subnet_id,
            upgrade_settings=GPU_UPGRADE_SETTINGS,
            tags=dict(args.tags) or None,
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=ignore),
        )
        self.agent_pool_name = pool.name

        self.register_outputs({
            "agent_pool_name": self.agent_pool_name,
            "vm_size": self.vm_size,
            "quota_family": self.quota_family,
            "quota_vcpus": self.quota_vcpus,
            "infiniband": self.infiniband,
            "driver_managed_by_aks": self.driver_managed_by_aks,
            "node_labels": self.node_labels,
            "node_taints": self.node_taints,
            "zones": self.zones,
            "model_cache_disk": self.model_cache_disk,
            "proximity_placement_group_id": self.proximity_placement_group_id,
        })

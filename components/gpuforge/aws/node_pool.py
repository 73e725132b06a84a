"""One EKS managed node group per planned GPU pool, through a launch template.

The launch template carries what a managed node group cannot say by itself: EFA interfaces
per network card, the cluster placement group, capacity-block market options, IMDSv2, the
encrypted gp3 root volume and the instance-store setup for the model cache.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from gpuforge import catalog
from gpuforge.aws import iam
from gpuforge.aws._validation import label_value, lookup_instance, lookup_region, zone_problems
from gpuforge.aws.versions import (
    AMI_AL2_GPU_RETIRED,
    AMI_TYPES_WITH_DEVICE_PLUGIN,
    DEFAULT_GPU_AMI_TYPE,
    GPU_AMI_TYPES,
)
from gpuforge.catalog import InstanceType, Region
from gpuforge.errors import Problem, SpecError
from gpuforge.plan import NodePoolPlan

CapacityType = Literal["on-demand", "spot", "capacity-block", "reserved"]
CAPACITY_TYPES: tuple[str, ...] = ("on-demand", "spot", "capacity-block", "reserved")
#: gpuforge capacity type -> EKS node group capacityType. An On-Demand Capacity Reservation
#: is on-demand capacity targeted through the launch template.
EKS_CAPACITY_TYPE = {"on-demand": "ON_DEMAND", "spot": "SPOT", "capacity-block": "CAPACITY_BLOCK", "reserved": "ON_DEMAND"}
#: Capacity AWS already places together; a forced cluster placement group on top of it leads
#: to insufficient-capacity launch failures (EC2 UG capacity-blocks-using).
RESERVED_CAPACITY = ("capacity-block", "reserved")

LABEL_POOL = "gpuforge.io/pool"
#: The label Cluster Autoscaler (>= 1.15) reads on AWS to know a node has GPUs, so it waits for
#: the device plugin instead of scaling up again (kubernetes/autoscaler cloudprovider/aws/README.md
#: "GPU Node Groups").
LABEL_ACCELERATOR = "k8s.amazonaws.com/accelerator"
#: Node group updates: replace one node at a time and never launch the replacement first. The
#: MINIMAL strategy "terminates the old instances before launching the new instances ... useful
#: ... with hardware accelerators such as GPUs" (EKS API NodegroupUpdateConfig.updateStrategy,
#: https://docs.aws.amazon.com/eks/latest/APIReference/API_NodegroupUpdateConfig.html), so an
#: AMI update needs no spare GPU capacity (nor room in a capacity block or reservation).
GPU_UPDATE_CONFIG = {"max_unavailable": 1, "update_strategy": "MINIMAL"}
LABEL_GPU = "gpuforge.io/gpu"
LABEL_FABRIC_DOMAIN = "gpuforge.io/fabric-domain"
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}

# Root (AL2023) or data (Bottlerocket) volume. Without instance-store NVMe it also holds the
# model cache, so it starts larger. gp3 at 6000 IOPS / 500 MiB/s keeps 10-20 GiB vLLM image
# pulls from being disk-bound (gp3 baseline is 3000 / 125).
ROOT_GIB_WITH_NVME = 200
ROOT_GIB_WITHOUT_NVME = 500
MIN_ROOT_GIB = 50
ROOT_IOPS = 6000
ROOT_THROUGHPUT_MIBPS = 500
BOTTLEROCKET_OS_GIB = 4
# IMDSv2 responses die after one hop: processes on the node (kubelet, hostNetwork add-ons)
# reach the metadata service, pods in their own network namespace (one hop more) do not, so no
# pod can take the node's IAM role. Pods that need AWS use EKS Pod Identity instead (vpc-cni,
# EBS CSI and the Cluster Autoscaler have associations, aws/cluster.py). The EC2 guide says a
# container is one more hop, so with hop limit 1 its IMDSv2 response does not return
# (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html); the EKS
# best practices guide, "Restrict access to the instance profile assigned to the worker node",
# recommends IMDSv2 with hop limit 1 for this
# (https://docs.aws.amazon.com/eks/latest/best-practices/identity-and-access-management.html).
IMDS_HOP_LIMIT = 1


@dataclass
class GpuNodePoolArgs:
    """What one GPU node pool needs; usable with or without the planner.

    Attributes:
        cluster_name: EKS cluster the nodes join.
        region: AWS region (checked against the catalog).
        instance_type: exact EC2 instance type, e.g. "p5.48xlarge".
        subnet_ids_by_zone: private subnet per zone (`Network.private_subnet_ids_by_zone`);
            keys must be plain zone names.
        desired_nodes, min_nodes, max_nodes: scaling; min and max default to desired.
        nodes_per_replica: nodes one model replica spans; > 1 makes this a fabric pool.
        zone: the one zone every node goes to; required for multi-node EFA pools and for
            capacity blocks / reservations. Never guessed.
        zones: zones a spread pool may use (ignored when `zone` is set); empty = all subnets.
        capacity_type: on-demand, spot, capacity-block (EC2 Capacity Blocks for ML) or
            reserved (an On-Demand Capacity Reservation).
        capacity_reservation_id: the `cr-...` id of the capacity block or reservation.
        capacity_block_instance_count: instances the capacity block holds; required for
            capacity blocks so an oversized pool fails here instead of at launch.
        spot_max_price: refused: managed node groups cannot take one (see problems()).
        efa: attach EFA interfaces; None = when the instance has EFA and a replica spans nodes.
        placement_group: cluster placement group; None = for multi-node EFA replicas, except on
            reserved capacity.
        ami_type: AL2023_x86_64_NVIDIA (default) or BOTTLEROCKET_x86_64_NVIDIA (or the ARM
            variants); AL2_x86_64_GPU is refused.
        root_volume_gib: root (AL2023) or data (Bottlerocket) gp3 volume size.
        root_volume_kms_key_arn: KMS key for the volume; None = the account's EBS default key.
        node_role_arn: an existing node role; None = the pool creates its own.
        attach_cni_policy: when the pool creates its role, attach AmazonEKS_CNI_Policy. Keep it
            for clusters whose vpc-cni runs on the node identity; `EksCluster` clusters give
            vpc-cni a Pod Identity role, so pass `not cluster.cni_pod_identity` there.
        ssm_access: when the pool creates its role, attach AmazonSSMManagedInstanceCore.
        vpc_id: VPC of the EFA security group (required with EFA).
        cluster_security_group_id: cluster security group, put on every EFA interface (with
            interfaces in the template EKS no longer adds it; required with EFA).
        labels: extra node labels; the gpuforge.io/* labels win on conflict.
        pool_name: value of the gpuforge.io/pool label; None = the component name.
        autoscaler_owns_desired: ignore drift of the desired size (an autoscaler moves it).
        kubernetes_version: node group version; None = the cluster's.
        tags: added to every resource and instance.
    """

    cluster_name: pulumi.Input[str]
    region: str
    instance_type: str
    subnet_ids_by_zone: Mapping[str, pulumi.Input[str]]
    desired_nodes: int = 1
    min_nodes: int | None = None
    max_nodes: int | None = None
    nodes_per_replica: int = 1
    zone: str | None = None
    zones: Sequence[str] = ()
    capacity_type: CapacityType = "on-demand"
    capacity_reservation_id: str | None = None
    capacity_block_instance_count: int | None = None
    spot_max_price: float | None = None
    efa: bool | None = None
    placement_group: bool | None = None
    ami_type: str = DEFAULT_GPU_AMI_TYPE
    root_volume_gib: int | None = None
    root_volume_kms_key_arn: pulumi.Input[str] | None = None
    node_role_arn: pulumi.Input[str] | None = None
    attach_cni_policy: bool = True
    ssm_access: bool = False
    vpc_id: pulumi.Input[str] | None = None
    cluster_security_group_id: pulumi.Input[str] | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    pool_name: str | None = None
    autoscaler_owns_desired: bool = False
    kubernetes_version: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_plan(
        cls,
        pool: NodePoolPlan,
        *,
        cluster_name: pulumi.Input[str],
        subnet_ids_by_zone: Mapping[str, pulumi.Input[str]],
        vpc_id: pulumi.Input[str] | None = None,
        cluster_security_group_id: pulumi.Input[str] | None = None,
        node_role_arn: pulumi.Input[str] | None = None,
        **overrides,
    ) -> GpuNodePoolArgs:
        """Args for the planned pool; `overrides` set any other field (ami_type, counts, ...).

        Raises:
            SpecError: the plan is for another cloud.
        """
        if pool.cloud != "aws":
            raise SpecError(
                f"NodePoolPlan {pool.name!r}",
                [Problem("target.cloud", f"the pool is planned for {pool.cloud!r}", "use gpuforge.azure for Azure plans")],
            )
        kwargs: dict[str, Any] = dict(
            cluster_name=cluster_name,
            region=pool.region,
            instance_type=pool.instance_type,
            subnet_ids_by_zone=subnet_ids_by_zone,
            desired_nodes=pool.desired_nodes,
            min_nodes=pool.min_nodes,
            max_nodes=pool.max_nodes,
            nodes_per_replica=pool.nodes_per_replica,
            zone=pool.zone,
            zones=tuple(pool.zones),
            capacity_type=pool.capacity_type,
            capacity_reservation_id=pool.capacity_reservation_id,
            capacity_block_instance_count=pool.capacity_block_instance_count,
            spot_max_price=pool.spot_max_price,
            efa=pool.fabric == "efa",
            placement_group=pool.placement_group,
            labels=dict(pool.labels),
            pool_name=pool.pool_label or pool.name,
            vpc_id=vpc_id,
            cluster_security_group_id=cluster_security_group_id,
            node_role_arn=node_role_arn,
        )
        if pool.capacity_type == "capacity-block":
            # Created at zero: before the block starts no instance can launch in it, and a
            # desired size above zero would fail the node group's creation (EKS user guide,
            # https://docs.aws.amazon.com/eks/latest/userguide/capacity-blocks.html: "If you create
            # a ... node group prior to the capacity reservation becoming active, then set the
            # desired capacity to 0"; capacity-blocks-mng.html: desired 0 when upgrading). The
            # node autoscaler grows it to the pending replicas once the block is active.
            kwargs.update(desired_nodes=0, min_nodes=0)
        kwargs.update(overrides)
        return cls(**kwargs)

    # --- validation -----------------------------------------------------------------------
    @property
    def _min(self) -> int:
        return self.desired_nodes if self.min_nodes is None else self.min_nodes

    @property
    def _max(self) -> int:
        return self.desired_nodes if self.max_nodes is None else self.max_nodes

    def problems(self) -> list[Problem]:
        """Every impossible combination, each with its path and a fix."""
        out: list[Problem] = []
        inst, found = lookup_instance("instance_type", self.instance_type)
        out += found
        region, found = lookup_region("region", self.region)
        out += found
        out += self._ami_problems(inst)
        out += self._scaling_problems()
        if not self.subnet_ids_by_zone:
            out.append(Problem("subnet_ids_by_zone", "no subnets given", "pass Network.private_subnet_ids_by_zone"))
        if self.capacity_type not in CAPACITY_TYPES:
            out.append(
                Problem("capacity_type", f"{self.capacity_type!r} is not a capacity type", f"use one of {', '.join(CAPACITY_TYPES)}")
            )
            return out
        out += self._zone_problems(region)
        if inst is not None:
            out += self._fabric_problems(inst, region)
            out += self._capacity_problems(inst)
        if self.root_volume_gib is not None and self.root_volume_gib < MIN_ROOT_GIB:
            out.append(
                Problem(
                    "root_volume_gib",
                    f"{self.root_volume_gib} GiB cannot hold the NVIDIA AMI, a vLLM image and a model cache",
                    f"use at least {MIN_ROOT_GIB} GiB (default {ROOT_GIB_WITH_NVME}, or {ROOT_GIB_WITHOUT_NVME} without instance-store NVMe)",
                )
            )
        return out

    def _ami_problems(self, inst: InstanceType | None) -> list[Problem]:
        if self.ami_type == AMI_AL2_GPU_RETIRED:
            return [
                Problem(
                    "ami_type",
                    f"{self.ami_type}: Amazon EKS stopped publishing Amazon Linux 2 AMIs on 2025-11-26",
                    f"use {DEFAULT_GPU_AMI_TYPE} (default) or BOTTLEROCKET_x86_64_NVIDIA",
                )
            ]
        if self.ami_type not in GPU_AMI_TYPES:
            return [Problem("ami_type", f"{self.ami_type!r} is not an accelerated EKS AMI type", f"use one of {', '.join(GPU_AMI_TYPES)}")]
        if inst is not None and inst.eks_ami_types and self.ami_type not in inst.eks_ami_types:
            return [
                Problem(
                    "ami_type",
                    f"{self.ami_type} is not published for {inst.name}",
                    f"use one of {', '.join(inst.eks_ami_types)}",
                )
            ]
        return []

    def _scaling_problems(self) -> list[Problem]:
        out = []
        lo, want, hi, per = self._min, self.desired_nodes, self._max, self.nodes_per_replica
        if per < 1:
            out.append(Problem("nodes_per_replica", f"{per} is below 1", "use 1 for single-node replicas"))
            return out
        if not 0 <= lo <= want <= hi or hi < 1:
            out.append(
                Problem(
                    "desired_nodes",
                    f"min {lo} / desired {want} / max {hi} is not 0 <= min <= desired <= max with max >= 1",
                    "order the counts so min <= desired <= max",
                )
            )
        if per > 1:
            for label, n in (("min_nodes", lo), ("desired_nodes", want), ("max_nodes", hi)):
                if n % per:
                    out.append(
                        Problem(
                            label,
                            f"{n} nodes is not a whole number of {per}-node replicas",
                            f"use a multiple of {per}",
                        )
                    )
        return out

    def _zone_problems(self, region: Region | None) -> list[Problem]:
        out = []
        known = list(self.subnet_ids_by_zone)
        for path, zone in [("zone", self.zone)] + [(f"zones[{i}]", z) for i, z in enumerate(self.zones)]:
            if zone is None:
                continue
            bad_region = zone_problems(path, zone, region)
            out += bad_region
            if not bad_region and known and zone not in known:
                out.append(
                    Problem(
                        path,
                        f"no private subnet in {zone} (subnets cover {', '.join(known)})",
                        f"add {zone} to the Network zones, or pick one of {', '.join(known)}",
                    )
                )
        return out

    def candidate_zones(self, region: Region | None) -> list[str]:
        """Zones that could host a one-zone pool: offered in the region and with a subnet."""
        if region is None:
            return list(self.subnet_ids_by_zone)
        offered = region.offerings.get(self.instance_type) or region.zones
        return [z for z in region.zones if z in offered and (not self.subnet_ids_by_zone or z in self.subnet_ids_by_zone)]

    def efa_enabled(self, inst: InstanceType) -> bool:
        if self.efa is None:
            return inst.efa and self.nodes_per_replica > 1
        return self.efa

    def placement_group_enabled(self, inst: InstanceType) -> bool:
        if self.placement_group is None:
            return self.nodes_per_replica > 1 and self.efa_enabled(inst) and self.capacity_type not in RESERVED_CAPACITY
        return self.placement_group

    def _one_zone_reason(self, inst: InstanceType) -> str | None:
        """Why the fabric layout pins the pool to one zone, or None."""
        if inst.efa and self.efa_enabled(inst) and self.nodes_per_replica > 1:
            return "multi-node EFA pools"
        if self.placement_group_enabled(inst):
            return "a cluster placement group"
        return None

    def _fabric_problems(self, inst: InstanceType, region: Region | None) -> list[Problem]:
        out = []
        if self.efa and not inst.efa:
            alternatives = [i.name for i in catalog.all_instances("aws") if i.gpu == inst.gpu and i.efa]
            out.append(
                Problem(
                    "efa",
                    f"{inst.name} has no Elastic Fabric Adapter",
                    f"use an EFA type such as {', '.join(alternatives[:3])}" if alternatives else "set efa=False, or pick an EFA instance type (p4d, p5, p5en, p6-b200)",
                )
            )
            return out
        efa = self.efa_enabled(inst)
        what = self._one_zone_reason(inst)
        if self.zone is None and what:
            out.append(
                Problem(
                    "zone",
                    f"{what} need all nodes in one zone, and none is set",
                    f"set zone to one of: {', '.join(self.candidate_zones(region)) or 'a zone with a private subnet'}",
                )
            )
        if self.placement_group and self.capacity_type in RESERVED_CAPACITY:
            out.append(
                Problem(
                    "placement_group",
                    f"a cluster placement group on {self.capacity_type} capacity: AWS already co-locates it, and forcing a group causes insufficient-capacity failures",
                    "leave placement_group unset (or False)",
                )
            )
        if efa:
            if self.vpc_id is None:
                out.append(Problem("vpc_id", "EFA needs a security group, and no vpc_id is given", "pass Network.vpc_id"))
            if self.cluster_security_group_id is None:
                out.append(
                    Problem(
                        "cluster_security_group_id",
                        "EFA interfaces carry their own security groups, so the cluster security group must be given",
                        "pass EksCluster.cluster_security_group_id",
                    )
                )
        return out

    def _capacity_problems(self, inst: InstanceType) -> list[Problem]:
        out = []
        kind = self.capacity_type
        if kind == "spot":
            if self.capacity_reservation_id or self.capacity_block_instance_count:
                out.append(
                    Problem(
                        "capacity_type",
                        "spot together with a capacity block / reservation: reserved capacity is never spot",
                        "use capacity_type='capacity-block' (or 'reserved') for the reservation, or drop the reservation for spot",
                    )
                )
            if not inst.spot:
                out.append(Problem("capacity_type", f"{inst.name} is not offered as spot", "use on-demand or a capacity block"))
            if self.spot_max_price is not None:
                out.append(
                    Problem(
                        "spot_max_price",
                        f"{self.spot_max_price} USD/h: EKS managed node groups refuse spot request options in their launch template and pay at most the on-demand price",
                        "drop spot_max_price",
                    )
                )
        elif self.spot_max_price is not None:
            out.append(Problem("spot_max_price", f"set with capacity_type {kind!r}", "drop spot_max_price, or use capacity_type='spot'"))
        if kind in RESERVED_CAPACITY:
            if not self.capacity_reservation_id:
                out.append(
                    Problem(
                        "capacity_reservation_id",
                        f"capacity_type {kind!r} needs the reservation id",
                        "set capacity_reservation_id to the cr-... id from the EC2 console or describe-capacity-reservations",
                    )
                )
            elif not re.fullmatch(r"cr-[0-9a-f]{8,17}", self.capacity_reservation_id):
                out.append(
                    Problem("capacity_reservation_id", f"{self.capacity_reservation_id!r} is not a capacity reservation id", "use the cr-... id")
                )
            if self.zone is None and not self._one_zone_reason(inst):
                out.append(
                    Problem("zone", f"{kind} capacity lives in one availability zone, and none is set", "set zone to the reservation's zone")
                )
        elif self.capacity_reservation_id:
            out.append(
                Problem(
                    "capacity_reservation_id",
                    f"a reservation id with capacity_type {kind!r}",
                    "use capacity_type='capacity-block' or 'reserved', or drop the id",
                )
            )
        if kind == "capacity-block":
            if inst.capacity_blocks is False:
                out.append(
                    Problem("capacity_type", f"{inst.name} is not sold as EC2 Capacity Blocks", "use on-demand or spot, or a p4d/p5/p5e/p5en type")
                )
            count = self.capacity_block_instance_count
            if count is None:
                out.append(
                    Problem(
                        "capacity_block_instance_count",
                        "a capacity block holds a fixed number of instances, and it is not given",
                        "set capacity_block_instance_count to the count you bought",
                    )
                )
            elif self._max > count:
                out.append(
                    Problem(
                        "max_nodes",
                        f"max {self._max} / desired {self.desired_nodes} nodes, but the capacity block holds {count}",
                        f"lower max_nodes and desired_nodes to {count} or fewer, or buy a larger block",
                    )
                )
        elif self.capacity_block_instance_count is not None:
            out.append(
                Problem(
                    "capacity_block_instance_count",
                    f"set with capacity_type {kind!r}",
                    "use capacity_type='capacity-block', or drop capacity_block_instance_count",
                )
            )
        return out


@dataclass(frozen=True)
class _Decisions:
    instance: InstanceType
    efa: bool
    efa_interfaces: int
    placement_group: bool
    subnet_zones: tuple[str, ...]
    local_nvme: bool
    root_volume_gib: int
    pool_name: str


def _decide(name: str, args: GpuNodePoolArgs) -> _Decisions:
    inst = catalog.get_instance(args.instance_type, "aws")
    efa = args.efa_enabled(inst)
    if args.zone:
        zones: tuple[str, ...] = (args.zone,)
    elif args.zones:
        zones = tuple(args.zones)
    else:
        zones = tuple(args.subnet_ids_by_zone)
    local_nvme = bool(inst.local_nvme_gb)
    return _Decisions(
        instance=inst,
        efa=efa,
        # One EFA per network card (EC2 EFA limitations), up to what the type allows.
        efa_interfaces=min(inst.max_efa_interfaces, inst.network_cards) if efa else 0,
        placement_group=args.placement_group_enabled(inst),
        subnet_zones=zones,
        local_nvme=local_nvme,
        root_volume_gib=args.root_volume_gib or (ROOT_GIB_WITH_NVME if local_nvme else ROOT_GIB_WITHOUT_NVME),
        pool_name=args.pool_name or name,
    )


def al2023_user_data() -> str:
    """MIME user data with a nodeadm NodeConfig striping instance-store NVMe into RAID0.

    nodeadm mounts the array and moves containerd, kubelet and pod logs onto it, so images
    and emptyDir model caches land on NVMe. A managed node group merges this partial
    NodeConfig with the cluster details it generates.
    """
    text = (
        'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="GPUFORGE"\n\n'
        "--GPUFORGE\nContent-Type: application/node.eks.aws\n\n"
        "---\napiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n"
        "  instance:\n    localStorage:\n      strategy: RAID0\n\n"
        "--GPUFORGE--\n"
    )
    return base64.b64encode(text.encode()).decode()


def bottlerocket_user_data() -> str:
    """Bottlerocket settings TOML doing the same with `apiclient ephemeral-storage`.

    The command pair is the one Karpenter writes for `instanceStorePolicy: RAID0` on
    Bottlerocket (aws/karpenter-provider-aws, amifamily bootstrap); bootstrap commands need
    Bottlerocket 1.22 or newer.
    """
    text = (
        "[settings.bootstrap-commands.000-mount-instance-storage]\n"
        'commands = [["apiclient", "ephemeral-storage", "init"], '
        '["apiclient", "ephemeral-storage", "bind", "--dirs", "/var/lib/containerd", "/var/lib/kubelet", "/var/log/pods"]]\n'
        'essential = true\nmode = "always"\n'
    )
    return base64.b64encode(text.encode()).decode()


def _ebs(size: int, kms_key: pulumi.Input[str] | None) -> dict:
    ebs = {
        "volume_size": size,
        "volume_type": "gp3",
        "iops": ROOT_IOPS,
        "throughput": ROOT_THROUGHPUT_MIBPS,
        "encrypted": "true",
        "delete_on_termination": "true",
    }
    if kms_key is not None:
        ebs["kms_key_id"] = kms_key
    return ebs


class GpuNodePool(pulumi.ComponentResource):
    """An EKS managed node group for one planned GPU pool.

    Attributes:
        node_group_name: the EKS node group name.
        launch_template_id: its launch template.
        node_role_arn: the node role (given or created).
        placement_group_name: the cluster placement group, or None.
        efa_security_group_id: the EFA self-referencing security group, or None.
        device_plugin_included: the AMI ships the NVIDIA device plugin (Bottlerocket), so the
            Kubernetes layer must not install another one.
        efa_enabled: the nodes carry EFA interfaces (the EFA device plugin is still needed).
        efa_interfaces: EFA interfaces per node.
        local_nvme: instance-store NVMe is striped under kubelet/containerd (emptyDir is fast).
        labels: the node labels serving pods select on.
        zones: zones the node group's subnets are in.
    """

    node_group_name: pulumi.Output[str]
    launch_template_id: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    placement_group_name: pulumi.Output[str] | None
    efa_security_group_id: pulumi.Output[str] | None

    def __init__(self, name: str, args: GpuNodePoolArgs, opts: pulumi.ResourceOptions | None = None):
        problems = args.problems()
        if problems:
            raise SpecError(f"GpuNodePool {name!r}", problems)
        super().__init__("gpuforge:aws:GpuNodePool", name, None, opts)
        d = _decide(name, args)
        child = pulumi.ResourceOptions(parent=self)
        tags = {**args.tags, LABEL_POOL: d.pool_name}

        self.device_plugin_included = args.ami_type in AMI_TYPES_WITH_DEVICE_PLUGIN
        self.efa_enabled = d.efa
        self.efa_interfaces = d.efa_interfaces
        self.local_nvme = d.local_nvme
        self.zones = d.subnet_zones
        self.ami_type = args.ami_type

        role_deps: list[pulumi.Resource] = []
        if args.node_role_arn is None:
            role, role_deps = iam.node_role(
                f"{name}-node",
                self,
                iam.partition(self),
                cni_policy=args.attach_cni_policy,
                ssm=args.ssm_access,
                tags=tags,
            )
            self.node_role_arn = role.arn
        else:
            self.node_role_arn = pulumi.Output.from_input(args.node_role_arn)

        self.placement_group_name = None
        fabric_domain: pulumi.Input[str]
        placement = None
        if d.placement_group:
            pg_name = label_value(f"{pulumi.get_project()}-{pulumi.get_stack()}-{name}")
            group = aws.ec2.PlacementGroup(f"{name}-pg", name=pg_name, strategy="cluster", tags=tags, opts=child)
            self.placement_group_name = group.name
            placement = {"group_name": group.name}
            fabric_domain = pg_name
        elif args.capacity_type in RESERVED_CAPACITY:
            fabric_domain = label_value(args.capacity_reservation_id or "")
        elif len(d.subnet_zones) == 1:
            fabric_domain = d.subnet_zones[0]
        else:
            fabric_domain = "none"

        self.efa_security_group_id = None
        network_interfaces = None
        if d.efa:
            sg = aws.ec2.SecurityGroup(
                f"{name}-efa",
                vpc_id=args.vpc_id,
                description=f"EFA traffic between {d.pool_name} nodes",
                tags={**tags, "Name": f"{name}-efa"},
                opts=child,
            )
            # "An EFA requires a security group that allows all inbound and outbound traffic
            # to and from the security group itself" (EC2 UG, efa-start).
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-efa-in",
                security_group_id=sg.id,
                referenced_security_group_id=sg.id,
                ip_protocol="-1",
                description="EFA from the pool itself",
                opts=child,
            )
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-efa-out",
                security_group_id=sg.id,
                referenced_security_group_id=sg.id,
                ip_protocol="-1",
                description="EFA to the pool itself",
                opts=child,
            )
            self.efa_security_group_id = sg.id
            groups = [args.cluster_security_group_id, sg.id]
            # Card 0 / device 0 is an `efa` interface (EFA + ENA) and carries the primary IP.
            # Every other card gets one `efa-only` interface at device index 0 (EC2 UG,
            # efa-acc-inst-types: "use the next unused network card index, device index 0,
            # for EFA-only"); card 0 itself cannot be efa-only.
            network_interfaces = [
                {
                    "network_card_index": card,
                    "device_index": 0,
                    "interface_type": "efa" if card == 0 else "efa-only",
                    "security_groups": groups,
                    "delete_on_termination": "true",
                }
                for card in range(d.efa_interfaces)
            ]

        bottlerocket = args.ami_type.startswith("BOTTLEROCKET")
        if bottlerocket:
            # Bottlerocket boots from a small OS volume and keeps images and pods on xvdb.
            block_devices = [
                {"device_name": "/dev/xvda", "ebs": _ebs(BOTTLEROCKET_OS_GIB, args.root_volume_kms_key_arn)},
                {"device_name": "/dev/xvdb", "ebs": _ebs(d.root_volume_gib, args.root_volume_kms_key_arn)},
            ]
        else:
            block_devices = [{"device_name": "/dev/xvda", "ebs": _ebs(d.root_volume_gib, args.root_volume_kms_key_arn)}]
        user_data = None
        if d.local_nvme:
            user_data = bottlerocket_user_data() if bottlerocket else al2023_user_data()

        market = None
        reservation = None
        if args.capacity_type == "capacity-block":
            market = {"market_type": "capacity-block"}
        if args.capacity_type in RESERVED_CAPACITY:
            reservation = {"capacity_reservation_target": {"capacity_reservation_id": args.capacity_reservation_id}}

        instance_tags = {**tags, "Name": f"{name}"}
        template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            description=f"gpuforge GPU pool {d.pool_name}: {args.instance_type}",
            instance_type=args.instance_type,
            update_default_version=True,
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                "http_put_response_hop_limit": IMDS_HOP_LIMIT,
                "instance_metadata_tags": "disabled",
            },
            block_device_mappings=block_devices,
            network_interfaces=network_interfaces,
            placement=placement,
            instance_market_options=market,
            capacity_reservation_specification=reservation,
            user_data=user_data,
            tag_specifications=[
                {"resource_type": "instance", "tags": instance_tags},
                {"resource_type": "volume", "tags": instance_tags},
                {"resource_type": "network-interface", "tags": instance_tags},
            ],
            tags=tags,
            opts=child,
        )
        self.launch_template_id = template.id

        self.labels: dict[str, pulumi.Input[str]] = {
            **args.labels,
            "nvidia.com/gpu.present": "true",
            LABEL_POOL: label_value(d.pool_name),
            LABEL_GPU: d.instance.gpu,
            LABEL_FABRIC_DOMAIN: fabric_domain,
            LABEL_ACCELERATOR: d.instance.gpu,
        }
        group = aws.eks.NodeGroup(
            name,
            cluster_name=args.cluster_name,
            node_role_arn=self.node_role_arn,
            subnet_ids=[args.subnet_ids_by_zone[z] for z in d.subnet_zones],
            ami_type=args.ami_type,
            capacity_type=EKS_CAPACITY_TYPE[args.capacity_type],
            scaling_config={"desired_size": args.desired_nodes, "min_size": args._min, "max_size": args._max},
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            labels=self.labels,
            taints=[GPU_TAINT],
            update_config=GPU_UPDATE_CONFIG,
            version=args.kubernetes_version,
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=role_deps,
                ignore_changes=["scalingConfig.desiredSize"] if args.autoscaler_owns_desired else None,
            ),
        )
        self.node_group_name = group.node_group_name
        if d.efa:
            # Scale-up from zero: the autoscaler builds a template node from the instance type
            # (GPUs) and the node group (labels, taints), but cannot know the EFA device plugin's
            # resource, which multi-node pods request; an ASG tag tells it (kubernetes/autoscaler
            # cloudprovider/aws/README.md, "k8s.io/cluster-autoscaler/node-template/resources/
            # <resource-name>"). EKS does not copy node group tags to its ASG, so tag it here.
            aws.autoscaling.Tag(
                f"{name}-efa-template",
                autoscaling_group_name=group.resources.apply(_asg_name),
                tag={
                    "key": "k8s.io/cluster-autoscaler/node-template/resources/vpc.amazonaws.com/efa",
                    "value": str(d.efa_interfaces),
                    "propagate_at_launch": False,
                },
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.register_outputs(
            {
                "node_group_name": self.node_group_name,
                "launch_template_id": self.launch_template_id,
                "node_role_arn": self.node_role_arn,
                "placement_group_name": self.placement_group_name,
                "efa_security_group_id": self.efa_security_group_id,
            }
        )


def _asg_name(resources: Any) -> str | None:
    """The Auto Scaling group name in a node group's `resources` output."""

    def field_of(value: Any, snake: str, camel: str) -> Any:
        found = getattr(value, snake, None)
        if found is None and isinstance(value, dict):
            found = dict.get(value, camel, dict.get(value, snake))
        return found

    for r in resources or []:
        for g in field_of(r, "autoscaling_groups", "autoscalingGroups") or []:
            name = field_of(g, "name", "name")
            if name:
                return name
    return None

"""Whole deployments: a shared GPU cluster and one ModelDeployment per model.

`GpuCluster` builds the network, the EKS or AKS cluster and the Kubernetes GPU platform for
every planned pool; `ModelDeployment` adds one model's GPU node pool, vLLM server and SLA
monitoring on it. Several ModelDeployments share one GpuCluster. Cloud SDKs are imported
only for the cloud in use, so an AWS stack never loads pulumi-azure-native.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from gpuforge.errors import Problem, SpecError
from gpuforge.plan import NodePoolPlan, Plan
from gpuforge.spec import ClusterSpec, DeploymentSpec, api_endpoint_problems


def replicas_that_fit(pool: NodePoolPlan, serving: Any, nodes: int | None = None) -> int:
    """Replicas `nodes` GPU nodes of the pool hold (default: its max size): whole multi-node
    replicas, or as many single-node replicas as the node's GPUs fit."""
    nodes = pool.max_nodes if nodes is None else nodes
    if pool.nodes_per_replica > 1:
        return nodes // pool.nodes_per_replica
    per_node = max(1, pool.gpus_per_node // max(1, serving.gpus_per_replica))
    return nodes * per_node


def aws_caller_arn(parent: pulumi.Resource) -> pulumi.Output[str]:
    """The ARN of the identity the AWS provider runs as."""
    import pulumi_aws as aws

    return aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent)).arn


def _warn(message: str | None) -> None:
    if message:
        pulumi.log.warn(message)


@dataclass
class GpuClusterArgs:
    """A cluster for a set of plans (all on one cloud and region).

    Attributes:
        name: cluster name (EKS cluster / AKS managed cluster).
        plans: every plan that will run on the cluster; they decide fabric add-ons.
        cluster: the stack's cluster spec (new or existing, admins, endpoint access,
            monitoring prerequisites, node autoscaling).
        kube_prometheus_stack: install kube-prometheus-stack; None: as the cluster spec says
            (yes, unless it names an existing Prometheus).
    """

    name: str
    plans: Sequence[Plan]
    cluster: ClusterSpec = field(default_factory=ClusterSpec)
    kube_prometheus_stack: bool | None = None
    serving_namespaces: tuple[str, ...] = ()  # created once here, shared by the model servers

    def problems(self) -> list[Problem]:
        out: list[Problem] = []
        if not self.plans:
            out.append(Problem("deployments", "no plans", "plan at least one deployment"))
            return out
        clouds = {(p.node_pool.cloud, p.node_pool.region) for p in self.plans}
        if len(clouds) > 1:
            out.append(
                Problem(
                    "target",
                    f"deployments sharing a cluster were planned onto {sorted(clouds)}",
                    "pin target.cloud and target.region at the stack level so every deployment lands on one cluster",
                )
            )
        c = self.cluster
        cloud = self.plans[0].node_pool.cloud
        out += api_endpoint_problems(c, "cluster")
        if c.mode == "existing" and cloud == "aws" and not (c.vpc_id and c.subnet_ids_by_zone):
            out.append(Problem("cluster.subnet_ids_by_zone", "an existing EKS cluster needs the VPC and node subnets", "set cluster.vpc_id and cluster.subnet_ids_by_zone"))
        if c.mode == "existing" and cloud == "azure" and not c.resource_group:
            out.append(Problem("cluster.resource_group", "an existing AKS cluster needs its resource group", "set cluster.resource_group"))
        if c.mode == "existing" and cloud == "azure" and not c.subnet_id:
            out.append(
                Problem(
                    "cluster.subnet_id",
                    "an existing AKS cluster needs the subnet its node pools use; without it the GPU pools would land in a new VNet "
                    "the cluster cannot reach",
                    "set cluster.subnet_id to the vnetSubnetId of its pools "
                    "(az aks nodepool list -g <rg> --cluster-name <name> --query '[].vnetSubnetId' -o tsv)",
                )
            )
        if c.resource_group_exists and (cloud != "azure" or c.mode == "existing" or not c.resource_group):
            out.append(
                Problem(
                    "cluster.resource_group_exists",
                    "only means something for a new AKS cluster in a named resource group",
                    "drop it, or set cluster.resource_group to the existing group",
                )
            )
        if c.register_infiniband_feature and cloud != "azure":
            out.append(Problem("cluster.register_infiniband_feature", "an Azure subscription feature, the stack is on AWS", "drop it"))
        out += self._autoscaling_problems()
        if not c.node_autoscaler:
            blocks = sorted(q.name for p in self.plans for q in p.pools if q.capacity_type == "capacity-block")
            if blocks:
                out.append(
                    Problem(
                        "cluster.node_autoscaler",
                        f"off, but capacity-block pools {blocks} are created at zero (before the block starts) and "
                        "only the autoscaler grows them",
                        "keep node_autoscaler on for capacity blocks",
                    )
                )
        if c.mode == "new" and cloud == "azure" and not c.admin_principals:
            out.append(
                Problem(
                    "cluster.admin_principals",
                    "a new AKS cluster has local accounts disabled and Entra ID RBAC on: nobody could use it",
                    "list the Entra ID group object ids that administer the cluster",
                )
            )
        return out

    def _autoscaling_problems(self) -> list[Problem]:
        """KEDA never asks for more replicas than the GPU pools may grow to."""
        out: list[Problem] = []
        for p in self.plans:
            pool, serving = p.node_pool, p.serving
            # a spot plan's base and spot pools both hold its replicas
            can_grow_to = sum(replicas_that_fit(q, serving) for q in p.pools)
            if serving.max_replicas > can_grow_to:
                out.append(
                    Problem(
                        f"deployments.{p.deployment}.target.max_replicas",
                        f"KEDA may scale to {serving.max_replicas} replicas but pool {pool.name!r} grows to {pool.max_nodes} "
                        f"nodes, which hold {can_grow_to}; the extra pods would stay Pending",
                        f"lower target.max_replicas to {can_grow_to}, or raise the pool's max nodes",
                    )
                )
        return out

    @property
    def installs_prometheus(self) -> bool:
        return self.cluster.installs_prometheus() if self.kube_prometheus_stack is None else self.kube_prometheus_stack

    @property
    def cloud(self) -> str:
        return self.plans[0].node_pool.cloud

    @property
    def region(self) -> str:
        return self.plans[0].node_pool.region


class GpuCluster(pulumi.ComponentResource):
    """Network, EKS/AKS cluster and GPU platform shared by every model on the stack."""

    provider: Any  # pulumi_kubernetes.Provider
    cluster_name: pulumi.Output[str]

    def __init__(self, name: str, args: GpuClusterArgs, opts: pulumi.ResourceOptions | None = None):
        problems = args.problems()
        if problems:
            raise SpecError(f"GpuCluster {name!r}", problems)
        super().__init__("gpuforge:index:GpuCluster", name, None, opts)
        self.args = args
        self.cloud = args.cloud
        child = pulumi.ResourceOptions(parent=self)
        pools = [pool for p in args.plans for pool in p.pools]
        self.network: Any  # gpuforge.aws.Network or gpuforge.azure.Network
        self.cluster: Any  # EksCluster or AksCluster
        if args.cloud == "aws":
            self._aws(name, args, pools, child)
        else:
            self._azure(name, args, pools, child)

        from gpuforge.k8s import GpuPlatform, GpuPlatformArgs
        from gpuforge.k8s.platform import ExistingPrometheus

        c = args.cluster
        platform_args = GpuPlatformArgs.from_plans(
            pools,
            [p.serving for p in args.plans],
            node_image=self.node_image,
            kube_prometheus_stack=args.installs_prometheus,
            prometheus=(
                ExistingPrometheus(c.prometheus.url, c.prometheus.namespace, dict(c.prometheus.selector_labels)) if c.prometheus else None
            ),
            node_autoscaler=self.node_autoscaler,
            serving_namespaces=tuple(args.serving_namespaces),
            installed=tuple(args.cluster.installed_addons),
        )
        self.platform = GpuPlatform(f"{name}-platform", platform_args, pulumi.ResourceOptions(parent=self, provider=self.provider))
        self.register_outputs({"cluster_name": self.cluster_name, "cloud": self.cloud})

    def _aws(self, name: str, args: GpuClusterArgs, pools: list[NodePoolPlan], child: pulumi.ResourceOptions) -> None:
        from gpuforge.aws import EksCluster, EksClusterArgs, Network, NetworkArgs
        from gpuforge.aws.versions import DEFAULT_GPU_AMI_TYPE

        c = args.cluster
        if c.mode == "existing":
            net_args = NetworkArgs(cluster_name=args.name, region=args.region, vpc_id=c.vpc_id, private_subnet_ids_by_zone=dict(c.subnet_ids_by_zone))
        else:
            zones = sorted({z for p in pools for z in (p.zones or ((p.zone,) if p.zone else ()))})
            net_args = NetworkArgs.from_plan(pools[0], args.name, **({"zones": zones} if len(zones) >= 2 else {}))
        self.network = Network(f"{name}-network", net_args, child)
        if c.mode == "existing":
            cluster_args = EksClusterArgs(cluster_name=c.name or args.name, region=args.region, existing=True)
        else:
            cluster_args = EksClusterArgs.from_plan(
                pools[0],
                args.name,
                self.network.private_subnet_ids,
                admin_principal_arns=list(c.admin_principals),
                # The creator's own access entry only when no admin is listed: EKS refuses a
                # second entry for the same principal (the Pulumi identity is usually an admin).
                bootstrap_creator_admin=c.creator_is_admin(),
                endpoint_public_access=not c.private_endpoint_only,
                public_access_cidrs=list(c.public_endpoint_cidrs),
                allow_public_from_anywhere=c.allow_api_from_anywhere,
                cluster_autoscaler=c.node_autoscaler,
            )
        self.cluster = EksCluster(f"{name}-eks", cluster_args, child)
        if c.mode == "new" and c.admin_principals:
            # Which access entry the identity running pulumi ends up with is only known at run
            # time (EKS: a second entry for one principal is a 409; no entry is Unauthorized).
            from gpuforge.aws.iam import caller_access_warning
            from gpuforge.testing import OFFLINE_CALLER_ARN

            admins, creator = tuple(c.admin_principals), c.creator_is_admin()
            # The offline preview has no real identity to check.
            aws_caller_arn(self).apply(
                lambda arn: None if arn == OFFLINE_CALLER_ARN else _warn(caller_access_warning(arn, admins, creator))
            )
        if c.mode == "existing" and c.node_autoscaler:
            pulumi.log.warn(
                "existing EKS cluster: gpuforge installs no node autoscaler on it; the GPU node group's size is left to "
                "the cluster's own (Cluster Autoscaler or Karpenter). Without one, set cluster.node_autoscaler: false.",
                self,
            )
        self.provider = self.cluster.provider
        self.cluster_name = self.cluster.cluster_name
        self.node_image = DEFAULT_GPU_AMI_TYPE
        self.node_autoscaler = None
        association = self.cluster.cluster_autoscaler_association
        if association is not None:
            from gpuforge.aws.cluster import CLUSTER_AUTOSCALER_SERVICE_ACCOUNT
            from gpuforge.k8s.platform import NodeAutoscaler

            self.node_autoscaler = NodeAutoscaler(
                self.cluster.cluster_name, args.region, CLUSTER_AUTOSCALER_SERVICE_ACCOUNT, depends_on=(association,)
            )

    def _azure(self, name: str, args: GpuClusterArgs, pools: list[NodePoolPlan], child: pulumi.ResourceOptions) -> None:
        from gpuforge.azure import AksCluster, AksClusterArgs, Network, NetworkArgs

        c = args.cluster
        self.network = Network(
            f"{name}-network",
            NetworkArgs(
                location=args.region,
                resource_group_name=c.resource_group,
                # A new cluster's group is created here unless the stack says it exists.
                create_resource_group=c.mode == "new" and not c.resource_group_exists,
                existing_subnet_id=c.subnet_id,
            ),
            child,
        )
        overrides: dict[str, Any] = {
            "private_cluster": c.private_endpoint_only,
            "authorized_ip_ranges": tuple(c.public_endpoint_cidrs),
            "allow_public_from_anywhere": c.allow_api_from_anywhere,
            "network_scope": self.network.vnet_id,
            "register_infiniband_feature": c.register_infiniband_feature,
        }
        if c.mode == "existing":
            overrides["existing_cluster_name"] = c.name
        self.cluster = AksCluster(
            f"{name}-aks",
            AksClusterArgs.from_plan(
                pools,
                resource_group_name=self.network.resource_group_name,
                admin_group_object_ids=list(c.admin_principals),
                node_subnet_id=self.network.node_subnet_id,
                **overrides,
            ),
            child,
        )
        self.provider = self.cluster.provider
        self.cluster_name = self.cluster.cluster_name
        self.node_image = "Install"
        self.node_autoscaler = None  # AKS: the managed cluster autoscaler, enabled per GPU pool

    @property
    def autoscales(self) -> bool:
        """GPU pools follow the replicas KEDA asks for (the spec's node_autoscaler)."""
        return self.args.cluster.node_autoscaler

    def sized_plan(self, plan: Plan) -> Plan:
        """The plan as this cluster runs it: without a node autoscaler the pools stay at the
        planned size, so KEDA's maximum comes down to the planned replicas."""
        if self.autoscales:
            return plan
        from dataclasses import replace

        def fixed(pool: NodePoolPlan) -> NodePoolPlan:
            return replace(pool, min_nodes=pool.desired_nodes, max_nodes=pool.desired_nodes)

        serving = replace(plan.serving, max_replicas=plan.serving.replicas, min_replicas=min(plan.serving.min_replicas, plan.serving.replicas))
        # a spot pool the plan leaves empty (every planned replica on the on-demand base) would
        # stay empty with nothing to scale it, and a managed node group needs a max size of at
        # least 1 (gpuforge.aws.node_pool's scaling check; EKS API NodegroupScalingConfig,
        # https://docs.aws.amazon.com/eks/latest/APIReference/API_NodegroupScalingConfig.html): no spot pool then
        spot = fixed(plan.spot_pool) if plan.spot_pool is not None and plan.spot_pool.desired_nodes > 0 else None
        return replace(plan, node_pool=fixed(plan.node_pool), spot_pool=spot, serving=serving)

    def node_pool(self, name: str, pool: NodePoolPlan, opts: pulumi.ResourceOptions) -> Any:
        """Build the cloud's GPU node pool for one planned pool on this cluster."""
        if self.cloud == "aws":
            from gpuforge.aws import GpuNodePool, GpuNodePoolArgs

            node_role = self.cluster.node_role_arn
            return GpuNodePool(
                name,
                GpuNodePoolArgs.from_plan(
                    pool,
                    cluster_name=self.cluster_name,
                    subnet_ids_by_zone=self.network.private_subnet_ids_by_zone,
                    vpc_id=self.network.vpc_id,
                    cluster_security_group_id=self.cluster.cluster_security_group_id,
                    node_role_arn=node_role,
                    # The autoscaler moves desiredSize; a re-run must not reset it (EKS API
                    # NodegroupScalingConfig: "you shouldn't change the desiredSize value directly").
                    autoscaler_owns_desired=self.autoscales,
                ),
                opts,
            )
        from gpuforge.azure import GpuNodePool as AksNodePool
        from gpuforge.azure import GpuNodePoolArgs as AksNodePoolArgs

        return AksNodePool(
            name,
            AksNodePoolArgs.from_plan(
                pool,
                cluster_name=self.cluster_name,
                resource_group_name=self.network.resource_group_name,
                vnet_subnet_id=self.network.node_subnet_id,
            ),
            opts,
        )


@dataclass
class ModelDeploymentArgs:
    """One model on a GpuCluster.

    Attributes:
        spec: the validated deployment spec.
        plan: its plan; None = run the planner here.
        cluster: the shared cluster; None = build one for this deployment alone.
        hf_token: the Hugging Face token, a Pulumi secret (stack config), or None for open models.
    """

    spec: DeploymentSpec
    plan: Plan | None = None
    cluster: GpuCluster | None = None
    hf_token: pulumi.Input[str] | None = None


class ModelDeployment(pulumi.ComponentResource):
    """A planned model served on GPUs: node pool, vLLM server, autoscaling and monitoring."""

    endpoint: pulumi.Output[str]

    def __init__(self, name: str, args: ModelDeploymentArgs, opts: pulumi.ResourceOptions | None = None):
        plan = args.plan
        if plan is None:
            from gpuforge.sizing.planner import plan_deployment

            plan = plan_deployment(args.spec).to_plan()
        super().__init__("gpuforge:index:ModelDeployment", name, None, opts)
        cluster = args.cluster or GpuCluster(
            f"{name}-cluster",
            GpuClusterArgs(name=args.spec.cluster.name or name, plans=[plan], cluster=args.spec.cluster, serving_namespaces=(args.spec.serving.namespace,)),
            pulumi.ResourceOptions(parent=self),
        )
        plan = cluster.sized_plan(plan)
        self.plan = plan
        self.node_pool = cluster.node_pool(f"{name}-gpu", plan.node_pool, pulumi.ResourceOptions(parent=self))
        # a spot plan that keeps min_replicas on on-demand: the spot pool for the other replicas
        self.spot_pool = (
            cluster.node_pool(f"{name}-gpu-spot", plan.spot_pool, pulumi.ResourceOptions(parent=self)) if plan.spot_pool else None
        )

        from gpuforge.k8s import (
            ModelServer,
            ModelServerArgs,
            ServingMonitoring,
            ServingMonitoringArgs,
        )

        pools_built = [self.node_pool] + ([self.spot_pool] if self.spot_pool else [])
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=cluster.provider, depends_on=pools_built)
        serving = args.spec.serving
        platform = cluster.platform
        cache_overrides: dict[str, Any] = {}
        if serving.shared_cache is not None:
            from gpuforge.k8s import ModelCache

            sc = serving.shared_cache
            cache_overrides["model_cache"] = ModelCache.pvc(
                sc.claim_name or f"{plan.serving.name}-model-cache", size_gib=sc.size_gib, storage_class=sc.storage_class
            )
        if serving.drain_seconds is not None:
            cache_overrides["drain_seconds"] = serving.drain_seconds
        server_args = ModelServerArgs.from_plan(
            plan.serving,
            namespace=serving.namespace,
            pool=plan.node_pool,
            node_image=getattr(cluster, "node_image", None),
            efa_image=serving.efa_image,
            **cache_overrides,
            hf_token=args.hf_token,
            allowed_namespaces=tuple(serving.allowed_namespaces),
            expose=serving.expose,
            gateway_name=serving.gateway_name,
            hostname=serving.hostname,
            crd_dependencies=tuple(platform.crd_dependencies),
            create_namespace=serving.namespace not in platform.namespaces,
            namespace_dependencies=tuple(platform.namespaces[n] for n in (serving.namespace,) if n in platform.namespaces),
            # KEDA queries the Prometheus that exists: the one the platform installed or named.
            **({"prometheus_url": platform.prometheus_url} if platform.prometheus_url else {}),  # type: ignore[arg-type]
            **({"monitoring_namespace": platform.prometheus_namespace} if platform.prometheus_namespace else {}),  # type: ignore[arg-type]
        )
        self.server = ModelServer(f"{name}-server", server_args, k8s_opts)
        monitoring_args = ServingMonitoringArgs.from_plan(
            plan.serving,
            namespace=serving.namespace,
            dcgm=platform.dcgm_target,
            prometheus_labels=platform.prometheus_labels,
            crd_dependencies=tuple(platform.crd_dependencies),
            namespace_dependencies=tuple(platform.namespaces[n] for n in (serving.namespace,) if n in platform.namespaces),
        )
        self.monitoring = ServingMonitoring(
            f"{name}-monitoring", monitoring_args, pulumi.ResourceOptions(parent=self, provider=cluster.provider, depends_on=[self.server])
        )
        s = plan.summary
        self.endpoint = self.server.endpoint
        self.outputs = {
            "cloud": s["cloud"],
            "region": s["region"],
            "instance_type": s["instance_type"],
            "nodes": s["nodes"],
            "layout": f"TP={s['tensor_parallel']} x PP={s['pipeline_parallel']} x {s['replicas']} replica(s), {s['precision']}, KV {s['kv_cache_dtype']}",
            "predicted_ttft_p95_ms": s["predicted"]["ttft_p95_ms"],
            "predicted_itl_p95_ms": s["predicted"]["itl_p95_ms"],
            "monthly_cost_usd": s["cost_per_month"],
            "capacity_type": s.get("capacity_type"),
            "price_date": s["price_date"],
            "price_source": s.get("price_source"),
            "endpoint": self.endpoint,
        }
        if self.server.api_key is not None:
            # a Pulumi secret: `pulumi stack output --show-secrets` reveals it to the stack's owners
            self.outputs["api_key"] = self.server.api_key
        self.register_outputs(self.outputs)

"""AWS infrastructure for a plan: VPC, EKS cluster and GPU node pools (pulumi-aws, no awsx/eks).

    pool = plan.node_pool
    network = Network("net", NetworkArgs.from_plan(pool, cluster_name="llm"))
    cluster = EksCluster("llm", EksClusterArgs.from_plan(pool, "llm", network.private_subnet_ids))
    gpus = GpuNodePool(pool.name, GpuNodePoolArgs.from_plan(
        pool,
        cluster_name=cluster.cluster_name,
        subnet_ids_by_zone=network.private_subnet_ids_by_zone,
        vpc_id=network.vpc_id,
        cluster_security_group_id=cluster.cluster_security_group_id,
        node_role_arn=cluster.node_role_arn,
    ))
    # Kubernetes components take pulumi.ResourceOptions(provider=cluster.provider).

See docs/aws.md for what each kind of plan creates.
"""

from gpuforge.aws.cluster import EksCluster, EksClusterArgs, kubeconfig
from gpuforge.aws.network import Network, NetworkArgs
from gpuforge.aws.node_pool import (
    GPU_TAINT,
    LABEL_FABRIC_DOMAIN,
    LABEL_GPU,
    LABEL_POOL,
    GpuNodePool,
    GpuNodePoolArgs,
)

__all__ = [
    "GPU_TAINT",
    "LABEL_FABRIC_DOMAIN",
    "LABEL_GPU",
    "LABEL_POOL",
    "EksCluster",
    "EksClusterArgs",
    "GpuNodePool",
    "GpuNodePoolArgs",
    "Network",
    "NetworkArgs",
    "kubeconfig",
]

"""Azure infrastructure for a gpuforge plan: network, AKS cluster and GPU node pools.

Imports only the pulumi-azure-native submodules it uses (containerservice, network, resources,
compute, features), never the whole package, and never pulumi-aws.
"""

from gpuforge.azure.cluster import AksCluster, AksClusterArgs
from gpuforge.azure.network import Network, NetworkArgs
from gpuforge.azure.node_pool import GpuNodePool, GpuNodePoolArgs

__all__ = [
    "AksCluster",
    "AksClusterArgs",
    "GpuNodePool",
    "GpuNodePoolArgs",
    "Network",
    "NetworkArgs",
]

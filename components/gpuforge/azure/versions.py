"""Version-like defaults for `gpuforge.azure`, in one place. All chosen 2026-11-21.

Changing one of these changes what a stack registers (and, for the Kubernetes version, upgrades
a running cluster), so each carries where its value comes from.
"""

from __future__ import annotations

# AKS Kubernetes minor version for new clusters. AKS release calendar
# (MicrosoftDocs/azure-aks-docs articles/aks/supported-kubernetes-versions.md @fb060ab,
# 2026-08-21): 1.36 GA Jun 2026, end of life Jun 2027; 1.37 GA Oct 2026 is still rolling out
# region by region. A `<major>.<minor>` alias makes AKS pick the latest GA patch at create time
# and never upgrades on its own when re-applied (same page, "Alias minor version").
KUBERNETES_VERSION = "1.36"

# REST API version pulumi-azure-native 3.29.0 uses for containerservice resources (its
# generated agent_pool.py / managed_cluster.py: "Uses Azure REST API version 2025-09-01").
# `gpuProfile.driver` exists there; `gpuProfile.nvidia` (managed GPU preview) does not.
CONTAINERSERVICE_API_VERSION = "2025-09-01"

# System (controller) node pool: 4 vCPU / 16 GiB with a local temp disk, so the OS disk can be
# ephemeral; two nodes spread over zones keep CoreDNS, metrics-server and operators up through
# a node upgrade. Dsv5 is GA in every region that offers the GPU sizes in the catalog.
SYSTEM_POOL_VM_SIZE = "Standard_D4ds_v5"
SYSTEM_POOL_NODE_COUNT = 2

# Node image for GPU pools. Ubuntu is the AKS default and the only OS the AKS InfiniBand guide
# (Azure/aks-rdma-infiniband, 2026-07-16) supports; Azure Linux also takes NVIDIA sizes.
GPU_POOL_OS_SKU = "Ubuntu"

# AKS Microsoft Entra server application id: the audience every AKS user token is issued for
# ("How to use kubelogin with AKS", articles/aks/kubelogin-authentication.md @fb060ab).
AKS_ENTRA_SERVER_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"

# How the generated kubeconfig gets a token: `kubelogin get-token --login <mode>`. azurecli
# reuses `az login` (also what `azure/login` sets up in CI); the others are the non-interactive
# kubelogin modes (same page).
KUBELOGIN_DEFAULT_LOGIN = "azurecli"
KUBELOGIN_LOGINS = ("azurecli", "workloadidentity", "msi", "spn")

# Subscription feature that makes AKS place one pool's ND "r" VMs on the same physical
# InfiniBand network (articles/aks/use-amd-gpus.md "Register the AKSInfinibandSupport feature";
# Azure/aks-rdma-infiniband README).
INFINIBAND_FEATURE_NAMESPACE = "Microsoft.ContainerService"
INFINIBAND_FEATURE_NAME = "AKSInfinibandSupport"

# Taints. The GPU taint is gpuforge's (same as on EKS); the spot taint is the one AKS itself
# puts on every Spot pool (articles/aks/spot-node-pool.md, "Limitations").
GPU_TAINT = "nvidia.com/gpu=present:NoSchedule"
SPOT_TAINT = "kubernetes.azure.com/scalesetpriority=spot:NoSchedule"

# gpuProfile.driver values (containerservice GPUDriver enum in the pinned SDK). The node-pool
# tag `SkipGPUDriverInstall` stopped working on 2025-08-14 (AKS
# includes/skip-gpu-driver-install-retirement.md); `None` replaces it.
GPU_DRIVERS = ("Install", "None")

# gpuInstanceProfile values (containerservice GPUInstanceProfile enum in the pinned SDK).
MIG_PROFILES = ("MIG1g", "MIG2g", "MIG3g", "MIG4g", "MIG7g")

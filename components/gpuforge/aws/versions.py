"""Pinned versions and AMI choices for the AWS components, in one place.

Chosen 2026-11-21. Every add-on version below is a published Amazon EKS add-on build for
Kubernetes `EKS_KUBERNETES_VERSION`; re-check them together when that version moves:

    aws eks describe-addon-versions --kubernetes-version 1.36 --addon-name <name> \
        --query 'addons[].addonVersions[].addonVersion'
"""

from __future__ import annotations

from types import MappingProxyType

# Newest EKS minor with published add-on builds in the sources read on 2026-11-21 (EKS user
# guide add-on tables list 1.36; EKS Distro also builds 1-37, but no EKS add-on table for it
# was found). Standard support runs 14 months from the EKS release.
EKS_KUBERNETES_VERSION = "1.36"

# EKS user guide, "CoreDNS versions" table, row 1.36 (docs.aws.amazon.com/ja_jp/eks/latest/
# userguide/managing-coredns.md, the newest rendering found).
COREDNS_VERSION = "v1.14.3-eksbuild.3"
# EKS user guide, "kube-proxy versions" table, row 1.36 (docs.aws.amazon.com/ja_jp/eks/latest/
# userguide/managing-kube-proxy.md).
KUBE_PROXY_VERSION = "v1.36.0-eksbuild.14"
# No EKS user guide rendering with a 1.36 row was found for the three below; they are the builds
# public EKS 1.36 stacks pin (found through code search, 2026-08..11), one of them recording
# vpc-cni, coredns and the agent as "verified against AWS for Kubernetes 1.36 on 2026-08-09"
# and another the EBS CSI build as the console default for 1.36. The VPC CNI build is shared
# by EKS 1.30-1.36 and is above the 1.18.5 floor `efa-only` interfaces need (EKS UG node-efa).
VPC_CNI_VERSION = "v1.22.3-eksbuild.1"
POD_IDENTITY_AGENT_VERSION = "v1.3.10-eksbuild.3"
EBS_CSI_DRIVER_VERSION = "v1.63.1-eksbuild.1"

#: add-on name -> pinned version, as `aws.eks.Addon(addon_name=..., addon_version=...)` takes them.
ADDON_VERSIONS: MappingProxyType[str, str] = MappingProxyType(
    {
        "vpc-cni": VPC_CNI_VERSION,
        "kube-proxy": KUBE_PROXY_VERSION,
        "eks-pod-identity-agent": POD_IDENTITY_AGENT_VERSION,
        "coredns": COREDNS_VERSION,
        "aws-ebs-csi-driver": EBS_CSI_DRIVER_VERSION,
    }
)

#: Lowest VPC CNI that attaches `efa-only` interfaces (EKS user guide, node-efa).
VPC_CNI_MIN_FOR_EFA_ONLY = (1, 18, 5)

# Accelerated EKS AMI types (EKS API Nodegroup.amiType). EKS stopped publishing AL2 AMIs on
# 2025-11-26 (EKS user guide), so AL2_x86_64_GPU is refused rather than offered.
AMI_AL2023_NVIDIA = "AL2023_x86_64_NVIDIA"
AMI_AL2023_ARM_NVIDIA = "AL2023_ARM_64_NVIDIA"
AMI_BOTTLEROCKET_NVIDIA = "BOTTLEROCKET_x86_64_NVIDIA"
AMI_BOTTLEROCKET_ARM_NVIDIA = "BOTTLEROCKET_ARM_64_NVIDIA"
AMI_AL2_GPU_RETIRED = "AL2_x86_64_GPU"
DEFAULT_GPU_AMI_TYPE = AMI_AL2023_NVIDIA
GPU_AMI_TYPES = (AMI_AL2023_NVIDIA, AMI_AL2023_ARM_NVIDIA, AMI_BOTTLEROCKET_NVIDIA, AMI_BOTTLEROCKET_ARM_NVIDIA)
#: Bottlerocket NVIDIA variants ship the NVIDIA Kubernetes device plugin; AL2023 NVIDIA does not
#: (EKS user guide, ml-eks-optimized-ami).
AMI_TYPES_WITH_DEVICE_PLUGIN = frozenset({AMI_BOTTLEROCKET_NVIDIA, AMI_BOTTLEROCKET_ARM_NVIDIA})

# The small on-demand node group that runs cluster controllers (CoreDNS, EBS CSI, operators).
SYSTEM_AMI_TYPE = "AL2023_x86_64_STANDARD"
SYSTEM_INSTANCE_TYPE = "m7i.large"

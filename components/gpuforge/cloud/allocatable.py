"""What a GPU node leaves for pods: capacity minus the kubelet's reservations, per cloud.

The scheduler places a pod only where its requests fit the node's *allocatable* resources
(capacity - kube-reserved - system-reserved - eviction threshold) minus what the node's
DaemonSets already request. A pod that asks for the whole node stays Pending; pods sized from
allocatable divided by the replicas placed on a node all schedule.

Sources:
- EKS (AL2023 and Bottlerocket accelerated AMIs, managed node groups): nodeadm's kubelet
  defaults, awslabs/amazon-eks-ami nodeadm/internal/kubelet/config.go (commit e48b98ad):
  kubeReserved cpu = 6% of the first core, 1% of the second, 0.5% of cores 3-4, 0.25% above
  (getCPUMillicoresToReserve); memory = 11 MiB x maxPods + 255 MiB
  (getMemoryMebibytesToReserve); evictionHard memory.available 100Mi; maxPods from
  nodeadm/internal/kubelet/eni-max-pods.txt (commit 26412050). EKS may set a lower maxPods on
  managed node groups; the file's value is the larger reservation, so pods sized from it fit
  either way.
- AKS 1.29+: learn.microsoft.com/azure/aks/node-resource-reservations: kube-reserved CPU by
  core count (1: 60m, 2: 100m, 4: 140m, 8: 180m, 16: 260m, 32: 420m, 64: 740m), memory =
  min(20 MB x maxPods + 50 MB, 25% of memory), eviction memory.available < 100Mi; maxPods 250
  (Azure CNI overlay default, gpuforge.azure.node_pool). The CPU table stops at 64 cores; above
  it gpuforge continues its 10m-per-core slope (between 4 and 64 cores every step adds 10m per
  core), stated in docs/engine.md as an extrapolation.
- Node capacity: the kernel and firmware keep part of the instance's nominal memory, so the
  kubelet's capacity is below the size the cloud sells. Karpenter estimates it with
  VM_MEMORY_OVERHEAD_PERCENT, default 0.075 (karpenter.sh/docs/reference/settings); gpuforge
  applies the same 7.5% to both clouds.
- DaemonSets (CNI, kube-proxy, device plugins, DCGM exporter, node exporter, CSI node): their
  requests come from chart defaults that gpuforge does not render, so a fixed allowance is kept
  back (DAEMONSET_CPU_M, DAEMONSET_MEMORY_MIB); it is an allowance, not a measurement.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

MIB_PER_GIB = 1024

# Requests of the node DaemonSets, kept back from every GPU node (an allowance, see above).
DAEMONSET_CPU_M = 1000
DAEMONSET_MEMORY_MIB = 2048

VM_MEMORY_OVERHEAD = 0.075  # Karpenter's default VM_MEMORY_OVERHEAD_PERCENT
EVICTION_MEMORY_MIB = 100  # EKS nodeadm evictionHard and AKS 1.29+: memory.available 100Mi

# nodeadm/internal/kubelet/eni-max-pods.txt (awslabs/amazon-eks-ami @ 26412050), GPU types
EKS_MAX_PODS: dict[str, int] = {
    "g4dn.xlarge": 29, "g4dn.2xlarge": 29, "g4dn.4xlarge": 29, "g4dn.8xlarge": 58, "g4dn.12xlarge": 234,
    "g4dn.16xlarge": 58, "g4dn.metal": 737,
    "g5.xlarge": 58, "g5.2xlarge": 58, "g5.4xlarge": 234, "g5.8xlarge": 234, "g5.12xlarge": 737,
    "g5.16xlarge": 234, "g5.24xlarge": 737, "g5.48xlarge": 345,
    "g6.xlarge": 58, "g6.2xlarge": 58, "g6.4xlarge": 234, "g6.8xlarge": 234, "g6.12xlarge": 234,
    "g6.16xlarge": 737, "g6.24xlarge": 737, "g6.48xlarge": 737,
    "g6e.xlarge": 58, "g6e.2xlarge": 58, "g6e.4xlarge": 234, "g6e.8xlarge": 234, "g6e.12xlarge": 292,
    "g6e.16xlarge": 737, "g6e.24xlarge": 492, "g6e.48xlarge": 492,
    "gr6.4xlarge": 234, "gr6.8xlarge": 234,
    "p4d.24xlarge": 737, "p4de.24xlarge": 737,
    "p5.4xlarge": 118, "p5.48xlarge": 100, "p5e.48xlarge": 100, "p5en.48xlarge": 198,
    "p6-b200.48xlarge": 198,
}
AKS_MAX_PODS = 250
# learn.microsoft.com/azure/aks/node-resource-reservations, "CPU reservations"
AKS_CPU_RESERVED_M: tuple[tuple[int, int], ...] = ((1, 60), (2, 100), (4, 140), (8, 180), (16, 260), (32, 420), (64, 740))


@dataclass(frozen=True)
class Allocatable:
    """A node's resources as the scheduler sees them, after reservations and DaemonSets."""

    cpu_m: int  # millicores pods may request
    memory_mib: int
    kube_reserved_cpu_m: int
    kube_reserved_memory_mib: int
    eviction_memory_mib: int
    max_pods: int
    source: str


def eks_kube_reserved_cpu_m(vcpus: int) -> int:
    """nodeadm getCPUMillicoresToReserve: 600, 100, 50, 25 per ten-thousand of each range."""
    total = vcpus * 1000
    ranges = (0, 1000, 2000, 4000, total)
    per_10k = (600, 100, 50, 25)
    out = 0
    for i, pct in enumerate(per_10k):
        start, end = ranges[i], ranges[i + 1]
        if total > start:
            out += (min(total, end) - start) * pct // 10000
    return out


def eks_kube_reserved_memory_mib(max_pods: int) -> int:
    """nodeadm getMemoryMebibytesToReserve: 11 MiB per pod + 255 MiB."""
    return 11 * max_pods + 255


def aks_kube_reserved_cpu_m(vcpus: int) -> int:
    """The AKS table, linear between its rows, 10m per core beyond 64 cores."""
    table = AKS_CPU_RESERVED_M
    if vcpus <= table[0][0]:
        return table[0][1]
    for (c0, m0), (c1, m1) in itertools.pairwise(table):
        if vcpus <= c1:
            return math.ceil(m0 + (m1 - m0) * (vcpus - c0) / (c1 - c0))
    last_c, last_m = table[-1]
    return last_m + 10 * (vcpus - last_c)


def aks_kube_reserved_memory_mib(memory_gib: float, max_pods: int = AKS_MAX_PODS) -> int:
    """min(20 MB x maxPods + 50 MB, 25% of memory); MB read as MiB (the larger reservation)."""
    return math.ceil(min(20 * max_pods + 50, 0.25 * memory_gib * MIB_PER_GIB))


def node_allocatable(cloud: str, instance_type: str, vcpus: int, memory_gib: float) -> Allocatable:
    """What pods may request on one node of this instance type (after DaemonSets)."""
    memory_mib = int(memory_gib * MIB_PER_GIB * (1 - VM_MEMORY_OVERHEAD))  # kubelet capacity
    if cloud == "aws":
        max_pods = EKS_MAX_PODS.get(instance_type, 737)  # unknown type: the file's largest common value
        cpu_r, mem_r = eks_kube_reserved_cpu_m(vcpus), eks_kube_reserved_memory_mib(max_pods)
        source = "EKS nodeadm kubelet defaults (amazon-eks-ami nodeadm/internal/kubelet/config.go)"
    elif cloud == "azure":
        max_pods = AKS_MAX_PODS
        cpu_r, mem_r = aks_kube_reserved_cpu_m(vcpus), aks_kube_reserved_memory_mib(memory_gib, max_pods)
        source = "AKS 1.29+ node resource reservations (learn.microsoft.com/azure/aks/node-resource-reservations)"
    else:
        raise ValueError(f"unknown cloud {cloud!r}")
    return Allocatable(
        cpu_m=vcpus * 1000 - cpu_r - DAEMONSET_CPU_M,
        memory_mib=memory_mib - mem_r - EVICTION_MEMORY_MIB - DAEMONSET_MEMORY_MIB,
        kube_reserved_cpu_m=cpu_r,
        kube_reserved_memory_mib=mem_r,
        eviction_memory_mib=EVICTION_MEMORY_MIB,
        max_pods=max_pods,
        source=source,
    )


@dataclass(frozen=True)
class PodRequests:
    """CPU and memory one serving pod requests so that `per_node` of them fit a node."""

    cpu: int  # whole cores (Kubernetes quantity "N")
    memory_gib: int

    @property
    def cpu_m(self) -> int:
        return self.cpu * 1000

    @property
    def memory_mib(self) -> int:
        return self.memory_gib * MIB_PER_GIB


def pod_requests(alloc: Allocatable, per_node: int) -> PodRequests:
    """Allocatable divided by the pods placed on the node, rounded down to whole cores / GiB."""
    per_node = max(1, per_node)
    return PodRequests(cpu=max(1, alloc.cpu_m // per_node // 1000), memory_gib=max(1, alloc.memory_mib // per_node // MIB_PER_GIB))


def fits(alloc: Allocatable, requests: PodRequests, pods: int) -> bool:
    """The scheduler's NodeResourcesFit check for `pods` identical pods on one node."""
    return pods * requests.cpu_m <= alloc.cpu_m and pods * requests.memory_mib <= alloc.memory_mib

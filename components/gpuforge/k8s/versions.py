"""Version-like defaults for `gpuforge.k8s`, in one place. All chosen 2026-11-21.

Each chart pin is the newest release found in the upstream repository snapshot read on that
date (tag, commit and the file the version was read from are given), with the Helm repository
its own README installs from. Changing a pin changes what every stack installs, so bump them
one at a time and read the chart's upgrade notes.
"""

from __future__ import annotations

from dataclasses import dataclass

# The serving image runs the vLLM release the memory estimator is calibrated to.
from gpuforge.sizing.versions import VLLM_VERSION

# vllm-project publishes the OpenAI-compatible server as `vllm/vllm-openai:v<version>`
# (Docker Hub); its ENTRYPOINT is ["vllm", "serve"].
VLLM_IMAGE_TAG = f"vllm/vllm-openai:v{VLLM_VERSION}"
# Digests by release, so a tag moved on Docker Hub cannot change what runs. Each is copied from
# public files that pin it (never computed here: no registry is reachable); docs/security.md.
# 0.19.0: the linux/amd64 image (every GPU instance type in the catalog is x86_64), as pinned by
# two unrelated public GitHub files (search index ids 67212677147, "FP8 vLLM amd64 image
# vllm/vllm-openai:v0.19.0@sha256:7a0f...", and 53757436524, a BuildKit script's
# VLLM_BASE_IMAGE built with --opt platform=linux/amd64), read 2026-11-30.
VLLM_IMAGE_DIGESTS = {
    "0.19.0": "sha256:7a0f0fdd2771464b6976625c2b2d5dd46f566aa00fbc53eceab86ef50883da90",
}
# tag@digest: the tag says which release, the digest is what the kubelet pulls
VLLM_IMAGE = (
    f"{VLLM_IMAGE_TAG}@{VLLM_IMAGE_DIGESTS[VLLM_VERSION]}" if VLLM_VERSION in VLLM_IMAGE_DIGESTS else VLLM_IMAGE_TAG
)


@dataclass(frozen=True)
class HelmChart:
    """A pinned Helm chart: `chart` is a name in `repo`, or a full `oci://` reference."""

    chart: str
    version: str
    repo: str | None = None


# NVIDIA/k8s-device-plugin tag v0.20.0 (460230bc, 2026-08-19),
# deployments/helm/nvidia-device-plugin/Chart.yaml `version: "0.20.0"`.
NVIDIA_DEVICE_PLUGIN_CHART = HelmChart("nvidia-device-plugin", "0.20.0", "https://nvidia.github.io/k8s-device-plugin")

# NVIDIA/gpu-operator tag v26.7.0 (10ee5b36, 2026-08-20); the chart is published with the tag as
# its version (README: `helm repo add nvidia https://helm.ngc.nvidia.com/nvidia`). The same tag
# is the source of ../shared/crds/nvidia.com/clusterpolicy.yaml.
GPU_OPERATOR_CHART = HelmChart("gpu-operator", "v26.7.0", "https://helm.ngc.nvidia.com/nvidia")

# NVIDIA/dcgm-exporter tag 4.5.3-4.8.2 (691c9276, 2026-05-06), deployment/Chart.yaml
# `version: "4.8.2"`; repo from the project README (`helm repo add gpu-helm-charts ...`).
DCGM_EXPORTER_CHART = HelmChart("dcgm-exporter", "4.8.2", "https://nvidia.github.io/dcgm-exporter/helm-charts")

# aws/eks-charts @52396092 (2026-08-03), stable/aws-efa-k8s-device-plugin/Chart.yaml
# `version: v0.5.30` (appVersion v0.5.20); `helm repo add eks https://aws.github.io/eks-charts`.
EFA_DEVICE_PLUGIN_CHART = HelmChart("aws-efa-k8s-device-plugin", "v0.5.30", "https://aws.github.io/eks-charts")

# Mellanox/network-operator tag v26.4.1 (85afd6d9, 2026-07-24),
# deployment/network-operator/Chart.yaml `version: 26.4.1` (the v26.7.0 tags are still rc).
# The Azure AKS InfiniBand guide (Azure/aks-rdma-infiniband @700dabb) installs this chart line.
NETWORK_OPERATOR_CHART = HelmChart("network-operator", "26.4.1", "https://helm.ngc.nvidia.com/nvidia")

# Images the NicClusterPolicy deploys, from Mellanox/network-operator v26.4.1 hack/release.yaml
# (`Mofed` and `RdmaSharedDevicePlugin`).
DOCA_DRIVER_IMAGE = ("nvcr.io/nvidia/mellanox", "doca-driver", "doca3.4.1-26.04-1.1.0.0-1")
RDMA_SHARED_DEVICE_PLUGIN_IMAGE = ("nvcr.io/nvidia/mellanox", "k8s-rdma-shared-dev-plugin", "network-operator-v26.4.1")

# kedacore/charts tag v2.20.2 (cbb9bb8c, 2026-07-31), keda/Chart.yaml `version: 2.20.2`. The
# same KEDA release is the source of ../shared/crds/keda.sh/*.yaml.
KEDA_CHART = HelmChart("keda", "2.20.2", "https://kedacore.github.io/charts")

# kubernetes-sigs/lws tag v0.10.0 (2161f38f, 2026-08-11): site/content/en/docs/installation
# "Install by Helm" (`helm install lws oci://registry.k8s.io/lws/charts/lws --version=0.10.0`).
# Same release as ../shared/crds/leaderworkerset.x-k8s.io/leaderworkerset.yaml.
LWS_CHART = HelmChart("oci://registry.k8s.io/lws/charts/lws", "0.10.0")

# prometheus-community/helm-charts tag kube-prometheus-stack-88.5.3 (ea930bae, 2026-08-21),
# charts/kube-prometheus-stack/Chart.yaml `version: 88.5.3` (prometheus-operator v0.93.1,
# whose CRDs match ../shared/crds/monitoring.coreos.com at v0.93.0).
KUBE_PROMETHEUS_STACK_CHART = HelmChart(
    "kube-prometheus-stack", "88.5.3", "https://prometheus-community.github.io/helm-charts"
)

# kubernetes/autoscaler @b7081620 (2026-07-13), cluster-autoscaler/charts/cluster-autoscaler/
# Chart.yaml `version: 9.59.0` (appVersion 1.35.0); repo from the chart README
# (`helm repo add autoscaler https://kubernetes.github.io/autoscaler`).
CLUSTER_AUTOSCALER_CHART = HelmChart("cluster-autoscaler", "9.59.0", "https://kubernetes.github.io/autoscaler")
# The autoscaler image follows the cluster's Kubernetes minor (cluster-autoscaler/README.md @55c37cd5,
# "Releases": "We recommend using Cluster Autoscaler with the Kubernetes control plane ... version
# for which it was meant", and the latest patch of that minor); tag cluster-autoscaler-1.36.1 (35e8a280, 2026-07-22) for
# EKS 1.36 (gpuforge.aws.versions.EKS_KUBERNETES_VERSION).
CLUSTER_AUTOSCALER_IMAGE_TAG = "v1.36.1"

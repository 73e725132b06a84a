"""Small builders shared by the Kubernetes components: labels, tolerations, names, quantities."""

from __future__ import annotations

import math
import re
from typing import Any

from gpuforge.errors import Problem

# Every gpuforge GPU node carries this label with its pool's name (NodePoolPlan.name); pods
# select their pool with it and the node daemons use it to find GPU nodes without NFD.
POOL_LABEL = "gpuforge.io/pool"
# The GPU pools are tainted `nvidia.com/gpu=<value>:NoSchedule` (EKS and AKS alike).
GPU_TAINT_KEY = "nvidia.com/gpu"
# AKS puts this taint on every Spot pool (articles/aks/spot-node-pool.md, "Limitations").
AZURE_SPOT_TAINT = {
    "key": "kubernetes.azure.com/scalesetpriority",
    "operator": "Equal",
    "value": "spot",
    "effect": "NoSchedule",
}

APP_NAME = "vllm"
HTTP_PORT = 8000
MANAGED_BY = "gpuforge"

# Where GpuPlatform's kube-prometheus-stack serves Prometheus: release and fullname
# `kube-prometheus-stack`, service `<fullname>-prometheus` (chart templates/prometheus/service.yaml).
MONITORING_NAMESPACE = "monitoring"
KUBE_PROMETHEUS_STACK_RELEASE = "kube-prometheus-stack"
DEFAULT_PROMETHEUS_URL = f"http://{KUBE_PROMETHEUS_STACK_RELEASE}-prometheus.{MONITORING_NAMESPACE}.svc:9090"
# kube-prometheus-stack's own Prometheus selects monitors and rules carrying `release: <release>`
# unless told otherwise; GpuPlatform tells it otherwise, the label keeps existing installs working.
PROMETHEUS_SELECTOR_LABELS = {"release": KUBE_PROMETHEUS_STACK_RELEASE}

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def gpu_toleration() -> dict[str, Any]:
    return {"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}


def node_tolerations(cloud: str, spot: bool = True) -> list[dict[str, Any]]:
    """Tolerations a pod needs to land on gpuforge GPU nodes of `cloud` (Spot pools included)."""
    out = [gpu_toleration()]
    if cloud == "azure" and spot:
        out.append(dict(AZURE_SPOT_TAINT))
    return out


def gpu_node_affinity(pools: tuple[str, ...] = ()) -> dict[str, Any]:
    """Required node affinity on gpuforge GPU nodes: the named pools, or any pool."""
    expr: dict[str, Any] = {"key": POOL_LABEL, "operator": "Exists"}
    if pools:
        expr = {"key": POOL_LABEL, "operator": "In", "values": sorted(pools)}
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [expr]}]}
        }
    }


def instance_labels(name: str, component: str | None = None) -> dict[str, str]:
    """The recommended `app.kubernetes.io/*` labels of one model deployment."""
    out = {
        "app.kubernetes.io/name": APP_NAME,
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }
    if component:
        out["app.kubernetes.io/component"] = component
    return out


def selector_labels(name: str, component: str | None = None) -> dict[str, str]:
    """The subset of `instance_labels` that selectors match on (stable across upgrades)."""
    out = {"app.kubernetes.io/name": APP_NAME, "app.kubernetes.io/instance": name}
    if component:
        out["app.kubernetes.io/component"] = component
    return out


def gib(value: float) -> str:
    """A memory quantity in whole GiB, rounded up (`"17Gi"`)."""
    return f"{max(1, math.ceil(value))}Gi"


def dns_label_problems(path: str, value: str, max_len: int = 63) -> list[Problem]:
    """Problems with `value` as a DNS-1123 label (names of namespaces, services, ...)."""
    if not value or len(value) > max_len or not _DNS1123_LABEL.match(value):
        return [
            Problem(
                path,
                f"{value!r} is not a DNS-1123 label of at most {max_len} characters",
                "use lower-case letters, digits and '-', starting and ending with a letter or digit",
            )
        ]
    return []


def promql_str(value: str) -> str:
    """A PromQL string literal body (backslashes and double quotes escaped)."""
    return value.replace("\\", "\\\\").replace('"', '\\"')



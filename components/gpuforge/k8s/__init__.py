"""Kubernetes side of gpuforge: GPU platform add-ons, vLLM serving and SLA monitoring.

Runs on any cluster through the `pulumi_kubernetes` provider passed in `opts` (the EKS / AKS
cluster components expose one). Each component takes typed args with a `from_plan(...)` /
`from_plans(...)` constructor, so it can be used with or without the planner.
"""

from gpuforge.k8s.dashboard import DashboardInputs, build_dashboard
from gpuforge.k8s.manifests import POOL_LABEL
from gpuforge.k8s.model_server import ModelCache, ModelServer, ModelServerArgs, startup_budget_s
from gpuforge.k8s.monitoring import (
    DcgmTarget,
    ServingMonitoring,
    ServingMonitoringArgs,
    alert_rules,
)
from gpuforge.k8s.platform import RDMA_RESOURCE, GpuPlatform, GpuPlatformArgs
from gpuforge.k8s.versions import VLLM_IMAGE

__all__ = [
    "POOL_LABEL",
    "RDMA_RESOURCE",
    "VLLM_IMAGE",
    "DashboardInputs",
    "DcgmTarget",
    "GpuPlatform",
    "GpuPlatformArgs",
    "ModelCache",
    "ModelServer",
    "ModelServerArgs",
    "ServingMonitoring",
    "ServingMonitoringArgs",
    "alert_rules",
    "build_dashboard",
    "startup_budget_s",
]

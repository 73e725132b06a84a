"""`GpuPlatform`: the cluster add-ons GPU serving needs, as pinned Helm releases."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from gpuforge.errors import Problem, SpecError
from gpuforge.k8s import versions
from gpuforge.k8s.manifests import (
    DEFAULT_PROMETHEUS_URL,
    KUBE_PROMETHEUS_STACK_RELEASE,
    MANAGED_BY,
    MONITORING_NAMESPACE,
    POOL_LABEL,
    PROMETHEUS_SELECTOR_LABELS,
    dns_label_problems,
    gpu_node_affinity,
    node_tolerations,
)
from gpuforge.k8s.monitoring import DcgmTarget
from gpuforge.plan import Cloud, NodePoolPlan, ServingPlan

# Node daemons (device plugins, DCGM exporter) run in kube-system like the EKS and AKS docs
# install them; operators get their own namespaces.
SYSTEM_NAMESPACE = "kube-system"
GPU_OPERATOR_NAMESPACE = "gpu-operator"
NETWORK_OPERATOR_NAMESPACE = "network-operator"
KEDA_NAMESPACE = "keda"
LWS_NAMESPACE = "lws-system"

# The RDMA shared device plugin resource (`rdma/<resourceName>`) every IB pod requests once: it
# hands the pod all InfiniBand HCAs of the node; rdmaHcaMax = pods that may share them (the
# value of the Azure AKS InfiniBand guide and the network-operator example).
RDMA_RESOURCE = "rdma/ib"
RDMA_HCA_MAX = 63
# The network operator reconciles exactly one NicClusterPolicy, named this.
NIC_CLUSTER_POLICY_NAME = "nic-cluster-policy"
# The label the network operator's operands select nodes by: the RDMA shared device plugin
# DaemonSet has `nodeSelector: feature.node.kubernetes.io/pci-15b3.present: "true"`
# (Mellanox/network-operator v26.4.1 manifests/state-rdma-shared-device-plugin/
# 0060_rdma-shared-dev-plugin-ds.yaml:116; pkg/nodeinfo/attributes.go:32 NodeLabelMlnxNIC). NFD
# writes it from a NodeFeatureRule (label names without a namespace get NFD's
# `feature.node.kubernetes.io/`).
MLNX_NIC_LABEL = "feature.node.kubernetes.io/pci-15b3.present"
MLNX_VENDOR = "15b3"
# PCI class 0207 is "InfiniBand controller" (PCI-SIG class codes: 02 network, 07 InfiniBand);
# 0200 is Ethernet. The chart's own rule matches both (deployment/network-operator/templates/
# nodefeaturerules.yaml: class In [0200, 0207]); on Azure every VM with accelerated networking
# has a Mellanox Ethernet VF (0200), so only 0207 marks the InfiniBand nodes.
PCI_CLASS_INFINIBAND = "0207"
INFINIBAND_NODE_FEATURE_RULE = "gpuforge-infiniband-nics"

# Add-ons an existing cluster may already run (`cluster.installed_addons`): gpuforge then installs
# neither the release nor the objects that would collide with the existing install.
ADDONS = (
    "nvidia-device-plugin",
    "gpu-operator",
    "dcgm-exporter",
    "aws-efa-k8s-device-plugin",
    "network-operator",
    "node-feature-discovery",
    "keda",
    "lws",
    "kube-prometheus-stack",
)

# How pools' node images relate to what must be installed (EKS UG ml-eks-optimized-ami and
# ml-eks-k8s-device-plugin; AKS use-nvidia-gpu / gpuProfile.driver).
_AWS_DEFAULT_AMI = "AL2023_x86_64_NVIDIA"
_AZURE_DEFAULT_DRIVER = "Install"


@dataclass(frozen=True)
class ExistingPrometheus:
    """A Prometheus already on the cluster, run by the prometheus-operator (its CRDs installed).

    Attributes:
        url: in-cluster URL KEDA's Prometheus scaler queries.
        namespace: where it runs (the model servers' NetworkPolicies admit scrapes from it).
        selector_labels: labels its monitor and rule selectors require.
    """

    url: str
    namespace: str
    selector_labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeAutoscaler:
    """The Cluster Autoscaler for EKS managed node groups (AKS has its own, set per pool).

    Attributes:
        cluster_name: the EKS cluster whose tagged node groups it discovers.
        region: the cluster's region.
        service_account: the Kubernetes service account its Pod Identity association names.
        depends_on: resources its credentials need first (the Pod Identity association).
    """

    cluster_name: pulumi.Input[str]
    region: str
    service_account: str = "cluster-autoscaler"
    depends_on: Sequence[pulumi.Resource] = ()


@dataclass
class GpuPlatformArgs:
    """What to install. Every add-on can be switched off when the cluster already has it.

    Attributes:
        cloud: `aws` or `azure`.
        node_image_has_driver: the NVIDIA driver and container toolkit come with the node (EKS
            AL2023 / Bottlerocket NVIDIA AMIs, AKS `gpuProfile.driver: Install`).
        node_image_has_device_plugin: the node image runs the NVIDIA device plugin (Bottlerocket).
        gpu_operator: use the NVIDIA GPU Operator; None = only when the nodes lack the driver.
        device_plugin: install the NVIDIA device plugin (standalone, or as the operator's operand).
        dcgm_exporter: install DCGM exporter (the operator's, when the operator is used).
        efa: install the AWS EFA device plugin (`vpc.amazonaws.com/efa`).
        infiniband_pools: AKS pools with InfiniBand: install the NVIDIA Network Operator and a
            NicClusterPolicy exposing `rdma/ib` on their nodes.
        install_doca_driver: let the NicClusterPolicy install NVIDIA's DOCA-OFED driver.
        keda: install KEDA (autoscaling on Prometheus queries).
        lws: install the LeaderWorkerSet controller (multi-node replicas).
        kube_prometheus_stack: install Prometheus, Alertmanager, Grafana and kube-state-metrics.
        prometheus: an existing Prometheus to use instead (exclusive with kube_prometheus_stack).
        node_autoscaler: install the Cluster Autoscaler (EKS); None: none (AKS runs its own).
        serving_namespaces: namespaces to create for the model servers, once per cluster (pass
            `create_namespace=False` to ModelServers that share one).
        installed: add-ons (names in ADDONS) the cluster already runs: not installed again. An
            installed network operator keeps its own NicClusterPolicy (it must expose `rdma/ib`);
            an installed Node Feature Discovery keeps the operators' NFD off.
    """

    cloud: Cloud
    node_image_has_driver: bool = True
    node_image_has_device_plugin: bool = False
    gpu_operator: bool | None = None
    device_plugin: bool = True
    dcgm_exporter: bool = True
    efa: bool = False
    infiniband_pools: tuple[str, ...] = ()
    install_doca_driver: bool = True
    keda: bool = True
    lws: bool = False
    kube_prometheus_stack: bool = False
    monitoring_namespace: str = MONITORING_NAMESPACE
    serving_namespaces: tuple[str, ...] = ()
    tolerate_spot: bool = True
    installed: tuple[str, ...] = ()

    def effective(self) -> GpuPlatformArgs:
        """These args with every add-on the cluster already runs switched off."""
        have = set(self.installed)
        return replace(
            self,
            gpu_operator=False if "gpu-operator" in have else self.gpu_operator,
            node_image_has_driver=True if "gpu-operator" in have else self.node_image_has_driver,
            device_plugin=self.device_plugin and not have & {"nvidia-device-plugin", "gpu-operator"},
            dcgm_exporter=self.dcgm_exporter and not have & {"dcgm-exporter", "gpu-operator"},
            efa=self.efa and "aws-efa-k8s-device-plugin" not in have,
            infiniband_pools=() if "network-operator" in have else self.infiniband_pools,
            keda=self.keda and "keda" not in have,
            lws=self.lws and "lws" not in have,
            kube_prometheus_stack=self.kube_prometheus_stack and "kube-prometheus-stack" not in have,
        )
    prometheus: ExistingPrometheus | None = None
    node_autoscaler: NodeAutoscaler | None = None

    @property
    def uses_gpu_operator(self) -> bool:
        return (not self.node_image_has_driver) if self.gpu_operator is None else self.gpu_operator

    def problems(self) -> list[Problem]:
        out: list[Problem] = []
        if self.cloud not in ("aws", "azure"):
            out.append(Problem("cloud", f"{self.cloud!r} is not a supported cloud", "use aws or azure"))
        if self.efa and self.cloud != "aws":
            out.append(Problem("efa", f"EFA exists only on AWS, cloud is {self.cloud!r}", "set efa: false"))
        if self.infiniband_pools and self.cloud != "azure":
            out.append(
                Problem(
                    "infiniband_pools",
                    f"InfiniBand pools {list(self.infiniband_pools)} need AKS, cloud is {self.cloud!r}",
                    "leave infiniband_pools empty on AWS (EFA pools use efa: true)",
                )
            )
        for i, pool in enumerate(self.infiniband_pools):
            out += dns_label_problems(f"infiniband_pools[{i}]", pool)
        if not self.node_image_has_driver and self.gpu_operator is False:
            out.append(
                Problem(
                    "gpu_operator",
                    "the node image has no NVIDIA driver and the GPU operator is switched off: nothing installs it",
                    "set gpu_operator: true (it installs driver and toolkit), or use a node image with the driver",
                )
            )
        for i, addon in enumerate(self.installed):
            if addon not in ADDONS:
                out.append(
                    Problem(f"cluster.installed_addons[{i}]", f"{addon!r} is not an add-on gpuforge installs",
                            f"use one of {', '.join(ADDONS)}")
                )
        out += dns_label_problems("monitoring_namespace", self.monitoring_namespace)
        out += self._monitoring_problems()
        if self.node_autoscaler is not None and self.cloud != "aws":
            out.append(
                Problem(
                    "node_autoscaler",
                    "the Cluster Autoscaler release is for EKS managed node groups",
                    "on AKS leave node_autoscaler unset: the managed cluster autoscaler runs per pool (enableAutoScaling)",
                )
            )
        for i, ns in enumerate(self.serving_namespaces):
            out += dns_label_problems(f"serving_namespaces[{i}]", ns)
        return out

    def _monitoring_problems(self) -> list[Problem]:
        out: list[Problem] = []
        if self.prometheus is None:
            return out
        if self.kube_prometheus_stack:
            out.append(
                Problem(
                    "prometheus",
                    "an existing Prometheus is named and kube_prometheus_stack is also on",
                    "drop one of them: two operators would reconcile the same monitors",
                )
            )
        out += dns_label_problems("prometheus.namespace", self.prometheus.namespace)
        if not self.prometheus.url.startswith(("http://", "https://")):
            out.append(Problem("prometheus.url", f"{self.prometheus.url!r} is not an http(s) URL", "use the in-cluster URL"))
        return out

    @property
    def prometheus_url(self) -> str | None:
        """The Prometheus KEDA and the alerts use: the one installed here, or the named one."""
        if self.prometheus is not None:
            return self.prometheus.url
        if not self.kube_prometheus_stack:
            return None
        if self.monitoring_namespace == MONITORING_NAMESPACE:
            return DEFAULT_PROMETHEUS_URL
        return f"http://{KUBE_PROMETHEUS_STACK_RELEASE}-prometheus.{self.monitoring_namespace}.svc:9090"

    @property
    def prometheus_namespace(self) -> str | None:
        if self.prometheus is not None:
            return self.prometheus.namespace
        return self.monitoring_namespace if self.kube_prometheus_stack else None

    @property
    def prometheus_labels(self) -> dict[str, str]:
        """Labels monitors and rules carry so the Prometheus in use selects them."""
        if self.prometheus is not None:
            return dict(self.prometheus.selector_labels)
        return dict(PROMETHEUS_SELECTOR_LABELS)

    @classmethod
    def from_plans(
        cls,
        pools: Sequence[NodePoolPlan],
        servings: Sequence[ServingPlan] = (),
        *,
        node_image: str | None = None,
        **overrides: Any,
    ) -> GpuPlatformArgs:
        """The add-ons the planned pools and serving layouts need.

        Args:
            pools: every GPU pool of the cluster.
            servings: the serving plans that will run on them.
            node_image: AWS: the managed node group AMI type (default AL2023_x86_64_NVIDIA);
                Azure: the pools' `gpuProfile.driver` (`Install`, the default, or `None`).
            **overrides: any GpuPlatformArgs field, e.g. kube_prometheus_stack=True.
        """
        if not pools:
            raise SpecError("GpuPlatform", [Problem("pools", "no GPU pools given", "pass the plan's node pools")])
        clouds = {p.cloud for p in pools}
        if len(clouds) > 1:
            raise SpecError(
                "GpuPlatform",
                [Problem("pools", f"pools span clouds {sorted(clouds)}", "build one GpuPlatform per cluster")],
            )
        cloud = pools[0].cloud
        has_driver, has_plugin = _node_image_facts(cloud, node_image)
        multi_node = any(p.multi_node for p in pools) or any(s.nodes_per_replica > 1 for s in servings)
        args = cls(
            cloud=cloud,
            node_image_has_driver=has_driver,
            node_image_has_device_plugin=has_plugin,
            efa=any(p.fabric == "efa" and p.multi_node for p in pools),
            infiniband_pools=tuple(sorted(p.name for p in pools if p.fabric == "infiniband" and p.multi_node)),
            lws=multi_node,
        )
        return replace(args, **overrides)


def _node_image_facts(cloud: str, node_image: str | None) -> tuple[bool, bool]:
    """(driver and toolkit on the node, device plugin on the node) for a node image."""
    if cloud == "azure":
        return (node_image or _AZURE_DEFAULT_DRIVER) == "Install", False
    ami = (node_image or _AWS_DEFAULT_AMI).upper()
    if ami.startswith("BOTTLEROCKET") and "NVIDIA" in ami:
        return True, True
    if (ami.startswith("AL2023") and "NVIDIA" in ami) or ami == "AL2_X86_64_GPU":
        return True, False
    return False, False  # CUSTOM or a non-GPU AMI: assume nothing is there


class GpuPlatform(pulumi.ComponentResource):
    """NVIDIA device plugin or GPU Operator, DCGM exporter, EFA / RDMA device plugins, KEDA,
    LeaderWorkerSet and optionally kube-prometheus-stack, each a pinned `helm.v3.Release`.

    `crd_dependencies` lists the releases that install CRDs the serving components use
    (KEDA, LeaderWorkerSet, prometheus-operator); pass it to ModelServer / ServingMonitoring so
    their custom resources are created after the CRDs exist.
    """

    releases: dict[str, k8s.helm.v3.Release]
    crd_dependencies: list[pulumi.Resource]
    dcgm_target: DcgmTarget | None
    prometheus_url: str | None

    def __init__(self, name: str, args: GpuPlatformArgs, opts: pulumi.ResourceOptions | None = None):
        problems = args.problems()
        if problems:
            raise SpecError(f"GpuPlatform {name!r}", problems)
        super().__init__("gpuforge:k8s:GpuPlatform", name, None, opts)
        self._name = name
        installed = set(args.installed)
        args = args.effective()
        self._args = args
        self._tolerations = node_tolerations(args.cloud, args.tolerate_spot)
        self.releases = {}
        self.namespaces: dict[str, k8s.core.v1.Namespace] = {}
        self.crd_dependencies = []
        self.dcgm_target = None
        self.prometheus_url = None
        namespaces = self.namespaces

        def ns(namespace: str, privileged: bool = False, serving: bool = False) -> list[pulumi.Resource]:
            if namespace == SYSTEM_NAMESPACE:
                return []
            if namespace not in namespaces:
                labels = {"app.kubernetes.io/managed-by": MANAGED_BY}
                if serving:
                    from gpuforge.k8s.security import serving_namespace_labels

                    labels.update(serving_namespace_labels())
                if privileged:
                    # Operands mount host paths and load kernel modules.
                    labels["pod-security.kubernetes.io/enforce"] = "privileged"
                namespaces[namespace] = k8s.core.v1.Namespace(
                    f"{name}-ns-{namespace}",
                    metadata={"name": namespace, "labels": labels},
                    opts=pulumi.ResourceOptions(parent=self),
                )
            return [namespaces[namespace]]

        for namespace in sorted(set(args.serving_namespaces)):
            self._serving_namespace(namespace, ns(namespace, serving=True))

        if args.uses_gpu_operator:
            self._release(
                "gpu-operator",
                versions.GPU_OPERATOR_CHART,
                GPU_OPERATOR_NAMESPACE,
                self._gpu_operator_values(),
                ns(GPU_OPERATOR_NAMESPACE, privileged=True),
            )
            if args.dcgm_exporter:
                self.dcgm_target = DcgmTarget.gpu_operator(GPU_OPERATOR_NAMESPACE)
        else:
            if args.device_plugin and not args.node_image_has_device_plugin:
                self._release(
                    "nvidia-device-plugin",
                    versions.NVIDIA_DEVICE_PLUGIN_CHART,
                    SYSTEM_NAMESPACE,
                    self._device_plugin_values(),
                    [],
                )
            if args.dcgm_exporter:
                self._release(
                    "dcgm-exporter", versions.DCGM_EXPORTER_CHART, SYSTEM_NAMESPACE, self._dcgm_values(), []
                )
                self.dcgm_target = DcgmTarget.standalone(SYSTEM_NAMESPACE, "dcgm-exporter")

        if "gpu-operator" in installed and "dcgm-exporter" not in installed:
            self.dcgm_target = DcgmTarget.gpu_operator(GPU_OPERATOR_NAMESPACE)
        elif "dcgm-exporter" in installed:
            self.dcgm_target = DcgmTarget.standalone(SYSTEM_NAMESPACE, "dcgm-exporter")

        if args.efa:
            self._release(
                "aws-efa-k8s-device-plugin",
                versions.EFA_DEVICE_PLUGIN_CHART,
                SYSTEM_NAMESPACE,
                {"tolerations": self._tolerations},
                [],
            )

        if args.infiniband_pools:
            operator = self._release(
                "network-operator",
                versions.NETWORK_OPERATOR_CHART,
                NETWORK_OPERATOR_NAMESPACE,
                self._network_operator_values(),
                ns(NETWORK_OPERATOR_NAMESPACE, privileged=True),
            )
            # (An installed operator keeps its own, single NicClusterPolicy: see effective().)
            after = pulumi.ResourceOptions(parent=self, depends_on=[operator])
            self.node_feature_rule = k8s.apiextensions.CustomResource(
                f"{name}-infiniband-nics",
                api_version="nfd.k8s-sigs.io/v1alpha1",
                kind="NodeFeatureRule",
                metadata={
                    "name": INFINIBAND_NODE_FEATURE_RULE,
                    "labels": {"app.kubernetes.io/managed-by": MANAGED_BY},
                },
                spec=infiniband_node_feature_rule_spec(),
                opts=after,
            )
            self.nic_cluster_policy = k8s.apiextensions.CustomResource(
                f"{name}-nic-cluster-policy",
                api_version="mellanox.com/v1alpha1",
                kind="NicClusterPolicy",
                metadata={"name": NIC_CLUSTER_POLICY_NAME, "labels": {"app.kubernetes.io/managed-by": MANAGED_BY}},
                spec=self.nic_cluster_policy_spec(),
                opts=after,
            )

        if args.keda:
            keda = self._release("keda", versions.KEDA_CHART, KEDA_NAMESPACE, {}, ns(KEDA_NAMESPACE))
            self.crd_dependencies.append(keda)

        if args.lws:
            lws = self._release("lws", versions.LWS_CHART, LWS_NAMESPACE, {}, ns(LWS_NAMESPACE))
            self.crd_dependencies.append(lws)

        self._monitoring_prerequisites(ns)
        self._node_autoscaler()

        self.register_outputs(
            {
                "releases": {k: r.name for k, r in self.releases.items()},
                "namespaces": sorted(self.namespaces),
                "prometheus_url": self.prometheus_url,
            }
        )

    # --- cluster-level prerequisites (monitoring, node autoscaling) -------------------------
    def _monitoring_prerequisites(self, ns: Any) -> None:
        """kube-prometheus-stack (its CRDs gate every monitor and rule), or the named Prometheus.

        Sets `prometheus_url` (KEDA's Prometheus scaler address), `prometheus_namespace` and
        `prometheus_labels`; the release joins `crd_dependencies` so ServiceMonitors, PodMonitors
        and PrometheusRules wait for the CRDs it installs.
        """
        args = self._args
        self.prometheus_url = args.prometheus_url
        self.prometheus_namespace = args.prometheus_namespace
        self.prometheus_labels = args.prometheus_labels
        self.monitoring_release: k8s.helm.v3.Release | None = None
        if args.kube_prometheus_stack:
            self.monitoring_release = self._release(
                KUBE_PROMETHEUS_STACK_RELEASE,
                versions.KUBE_PROMETHEUS_STACK_CHART,
                args.monitoring_namespace,
                self._kube_prometheus_stack_values(),
                ns(args.monitoring_namespace, privileged=True),
            )
            self.crd_dependencies.append(self.monitoring_release)

    def _node_autoscaler(self) -> None:
        """The Cluster Autoscaler on EKS: grows a GPU node group when replicas KEDA adds stay
        Pending, up to the node group's max (the plan's max_nodes), and shrinks it again."""
        auto = self._args.node_autoscaler
        self.node_autoscaler_release: k8s.helm.v3.Release | None = None
        if auto is None:
            return
        self.node_autoscaler_release = self._release(
            "cluster-autoscaler",
            versions.CLUSTER_AUTOSCALER_CHART,
            SYSTEM_NAMESPACE,
            cluster_autoscaler_values(auto),
            list(auto.depends_on),
        )


    # --- releases -----------------------------------------------------------------------
    def _serving_namespace(self, namespace: str, deps: list[pulumi.Resource]) -> None:
        """A serving namespace is locked down: default-deny ingress, no IMDS (k8s/security.py)."""
        from gpuforge.k8s import security

        security.default_deny_policy(
            f"{self._name}-default-deny-{namespace}", namespace, pulumi.ResourceOptions(parent=self, depends_on=deps)
        )

    def _release(
        self,
        release: str,
        chart: versions.HelmChart,
        namespace: str,
        values: dict[str, Any],
        depends_on: list[pulumi.Resource],
    ) -> k8s.helm.v3.Release:
        r = k8s.helm.v3.Release(
            f"{self._name}-{release}",
            name=release,
            chart=chart.chart,
            version=chart.version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo) if chart.repo else None,
            namespace=namespace,
            values=values,
            # Wait for the release's workloads (and admission webhooks) to be ready before the
            # custom resources that depend on it are created.
            skip_await=False,
            timeout=900,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )
        self.releases[release] = r
        return r

    def _gpu_daemon_placement(self) -> dict[str, Any]:
        return {"affinity": gpu_node_affinity(), "tolerations": self._tolerations}

    def _device_plugin_values(self) -> dict[str, Any]:
        # The chart's default affinity needs NFD / GFD labels, which EKS and AKS nodes do not
        # carry; select gpuforge GPU nodes by their pool label instead.
        values = self._gpu_daemon_placement()
        values["tolerations"] = [{"key": "CriticalAddonsOnly", "operator": "Exists"}] + self._tolerations
        return values

    def _dcgm_values(self) -> dict[str, Any]:
        # ServingMonitoring owns the ServiceMonitor, so the chart's (which needs the
        # prometheus-operator CRDs at install time) stays off.
        return {"serviceMonitor": {"enabled": False}, **self._gpu_daemon_placement()}

    def _gpu_operator_values(self) -> dict[str, Any]:
        a = self._args
        return {
            # The network operator deploys NFD too; two NFD masters fight over labels.
            "nfd": {"enabled": not a.infiniband_pools},
            "driver": {"enabled": not a.node_image_has_driver},
            "toolkit": {"enabled": not a.node_image_has_driver},
            "devicePlugin": {"enabled": a.device_plugin and not a.node_image_has_device_plugin},
            "dcgmExporter": {"enabled": a.dcgm_exporter, "serviceMonitor": {"enabled": False}},
            "daemonsets": {"tolerations": self._tolerations},
        }

    def _network_operator_values(self) -> dict[str, Any]:
        # The chart's own NodeFeatureRule labels every node with a Mellanox Ethernet or IB PCI
        # function, which on Azure is every node with accelerated networking; gpuforge's rule
        # (infiniband_node_feature_rule_spec) labels InfiniBand controllers only.
        values: dict[str, Any] = {
            "nfd": {"enabled": "node-feature-discovery" not in self._args.installed, "deployNodeFeatureRules": False},
        }
        if values["nfd"]["enabled"]:
            # The NFD worker must run on the GPU nodes to see their PCI devices: the chart's
            # tolerations (control plane, nvidia.com/gpu) plus the AKS Spot taint.
            values["node-feature-discovery"] = {
                "worker": {
                    "tolerations": [
                        {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"},
                        *self._tolerations,
                    ]
                }
            }
        return values

    def nic_cluster_policy_spec(self) -> dict[str, Any]:
        """The NicClusterPolicy spec: RDMA shared device plugin (and DOCA driver) on IB pools."""
        repo, image, version = versions.RDMA_SHARED_DEVICE_PLUGIN_IMAGE
        config = {
            "configList": [
                {
                    "resourceName": RDMA_RESOURCE.split("/", 1)[1],
                    "rdmaHcaMax": RDMA_HCA_MAX,
                    "selectors": {"vendors": ["15b3"], "linkTypes": ["infiniband"]},
                }
            ]
        }
        spec: dict[str, Any] = {
            "nodeAffinity": gpu_node_affinity(self._args.infiniband_pools)["nodeAffinity"],
            "tolerations": self._tolerations,
            "rdmaSharedDevicePlugin": {
                "repository": repo,
                "image": image,
                "version": version,
                "config": json.dumps(config, indent=2),
            },
        }
        if self._args.install_doca_driver:
            drepo, dimage, dversion = versions.DOCA_DRIVER_IMAGE
            spec["ofedDriver"] = {
                "repository": drepo,
                "image": dimage,
                "version": dversion,
                "upgradePolicy": {
                    "autoUpgrade": True,
                    "maxParallelUpgrades": 1,
                    "drain": {"enable": True, "force": True, "deleteEmptyDir": True, "timeoutSeconds": 300},
                },
            }
        return spec

    def _kube_prometheus_stack_values(self) -> dict[str, Any]:
        return {
            "fullnameOverride": KUBE_PROMETHEUS_STACK_RELEASE,
            "prometheus": {
                "prometheusSpec": {
                    # Pick up monitors and rules from every namespace, whatever their labels.
                    "serviceMonitorSelectorNilUsesHelmValues": False,
                    "podMonitorSelectorNilUsesHelmValues": False,
                    "ruleSelectorNilUsesHelmValues": False,
                }
            },
            "grafana": {
                "sidecar": {
                    "dashboards": {
                        "enabled": True,
                        "label": "grafana_dashboard",
                        "labelValue": "1",
                        "searchNamespace": "ALL",
                    }
                }
            },
        }


def cluster_autoscaler_values(auto: NodeAutoscaler) -> dict[str, Any]:
    """Helm values of the cluster-autoscaler chart (kubernetes/autoscaler charts/cluster-autoscaler
    values.yaml at the pinned chart) for EKS managed node groups."""
    return {
        "cloudProvider": "aws",
        "awsRegion": auto.region,
        # Finds the node groups EKS tags k8s.io/cluster-autoscaler/{enabled,<cluster>} (the
        # chart's default autoDiscovery.tags), i.e. every managed node group of the cluster.
        "autoDiscovery": {"clusterName": auto.cluster_name},
        "fullnameOverride": "cluster-autoscaler",
        "image": {"tag": versions.CLUSTER_AUTOSCALER_IMAGE_TAG},
        # The Pod Identity association names this service account.
        "rbac": {"serviceAccount": {"create": True, "name": auto.service_account}},
        "extraArgs": {
            # vLLM pods keep the downloaded weights in an emptyDir; with the default (true) a
            # GPU node running one could never be scaled down (FAQ.md, parameters table).
            "skip-nodes-with-local-storage": False,
            # Pick the node group that wastes the least CPU / memory when several fit.
            "expander": "least-waste",
        },
    }


def infiniband_node_feature_rule_spec() -> dict[str, Any]:
    """NodeFeatureRule (nfd.k8s-sigs.io/v1alpha1, NFD v0.19): label nodes that have a Mellanox
    InfiniBand controller with the label the network operator's operands select on."""
    return {
        "rules": [
            {
                "name": "gpuforge: Mellanox InfiniBand controllers",
                "labels": {MLNX_NIC_LABEL.split("/", 1)[1]: "true"},
                "matchFeatures": [
                    {
                        "feature": "pci.device",
                        "matchExpressions": {
                            "vendor": {"op": "In", "value": [MLNX_VENDOR]},
                            "class": {"op": "In", "value": [PCI_CLASS_INFINIBAND]},
                        },
                    }
                ],
            }
        ]
    }


__all__ = [
    "ADDONS",
    "POOL_LABEL",
    "RDMA_RESOURCE",
    "ExistingPrometheus",
    "GpuPlatform",
    "GpuPlatformArgs",
    "NodeAutoscaler",
    "infiniband_node_feature_rule_spec",
]

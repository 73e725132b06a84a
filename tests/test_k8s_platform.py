"""GpuPlatform under Pulumi mocks: which charts, at which pins, with which values, per cloud."""

from __future__ import annotations

import json
from dataclasses import replace

import jsonschema
import k8s_validation as kv
import pytest
from gpuforge.errors import SpecError
from gpuforge.k8s import GpuPlatform, GpuPlatformArgs, versions
from gpuforge.plan import ServingPlan
from tests_support import P5_EFA_POOL

RELEASE = "kubernetes:helm.sh/v3:Release"
NCP = "kubernetes:mellanox.com/v1alpha1:NicClusterPolicy"

P5_PAIR = P5_EFA_POOL  # the pool name the assertions below use
G6E_SINGLE = replace(
    P5_PAIR,
    name="g6e",
    instance_type="g6e.2xlarge",
    gpu="l40s",
    gpus_per_node=1,
    nodes_per_replica=1,
    desired_nodes=2,
    min_nodes=1,
    max_nodes=4,
    zone=None,
    fabric="none",
    placement_group=False,
)
ND_IB = replace(
    P5_PAIR,
    name="ndv5-ib",
    cloud="azure",
    region="eastus2",
    instance_type="Standard_ND96isr_H100_v5",
    zone="1",
    fabric="infiniband",
    placement_group=False,
    capacity_type="spot",
)

CHARTS = {
    "nvidia-device-plugin": versions.NVIDIA_DEVICE_PLUGIN_CHART,
    "gpu-operator": versions.GPU_OPERATOR_CHART,
    "dcgm-exporter": versions.DCGM_EXPORTER_CHART,
    "aws-efa-k8s-device-plugin": versions.EFA_DEVICE_PLUGIN_CHART,
    "network-operator": versions.NETWORK_OPERATOR_CHART,
    "keda": versions.KEDA_CHART,
    "lws": versions.LWS_CHART,
    "kube-prometheus-stack": versions.KUBE_PROMETHEUS_STACK_CHART,
}


def build(recorder, name: str, args: GpuPlatformArgs) -> GpuPlatform:
    platform = GpuPlatform(name, args)
    recorder.wait(*kv.resources_of(platform))
    return platform


def releases(recorder, name: str) -> dict[str, dict]:
    """Release name -> recorded inputs (values unwrapped) of one platform."""
    out = {}
    for r in recorder.resources:
        if r.type == RELEASE and r.parent == name:
            inputs = kv.unwrap(r.inputs)
            out[inputs["name"]] = inputs
    return out


def test_aws_al2023_with_efa_pair(pulumi_mocks):
    build(pulumi_mocks, "aws1", GpuPlatformArgs.from_plans([P5_PAIR, G6E_SINGLE]))
    rel = releases(pulumi_mocks, "aws1")
    # AL2023 NVIDIA AMI: driver and toolkit on the node, no device plugin -> standalone charts.
    assert set(rel) == {"nvidia-device-plugin", "dcgm-exporter", "aws-efa-k8s-device-plugin", "keda", "lws"}
    assert rel["nvidia-device-plugin"]["namespace"] == "kube-system"
    for values in (rel["nvidia-device-plugin"]["values"], rel["dcgm-exporter"]["values"]):
        terms = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert terms["nodeSelectorTerms"] == [
            {"matchExpressions": [{"key": "gpuforge.io/pool", "operator": "Exists"}]}
        ]
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in values["tolerations"]
    assert rel["dcgm-exporter"]["values"]["serviceMonitor"] == {"enabled": False}
    assert rel["aws-efa-k8s-device-plugin"]["values"]["tolerations"][0]["key"] == "nvidia.com/gpu"


def test_every_release_is_pinned_and_named(pulumi_mocks):
    build(pulumi_mocks, "pins", GpuPlatformArgs.from_plans([P5_PAIR], kube_prometheus_stack=True, node_image="CUSTOM"))
    build(pulumi_mocks, "pins-az", GpuPlatformArgs.from_plans([ND_IB]))
    seen = {**releases(pulumi_mocks, "pins"), **releases(pulumi_mocks, "pins-az")}
    assert set(seen) == set(CHARTS)
    for name, inputs in seen.items():
        chart = CHARTS[name]
        assert inputs["chart"] == chart.chart and inputs["version"] == chart.version, name
        assert inputs.get("repositoryOpts", {}).get("repo") == chart.repo, name
        assert inputs["namespace"], name
        assert inputs.get("skipAwait") is False


def test_bottlerocket_brings_its_own_device_plugin(pulumi_mocks):
    build(pulumi_mocks, "br", GpuPlatformArgs.from_plans([G6E_SINGLE], node_image="BOTTLEROCKET_x86_64_NVIDIA"))
    rel = releases(pulumi_mocks, "br")
    assert "nvidia-device-plugin" not in rel and "gpu-operator" not in rel
    assert "dcgm-exporter" in rel
    assert "lws" not in rel and "aws-efa-k8s-device-plugin" not in rel  # no multi-node pools


def test_gpu_operator_installs_driver_only_when_the_image_lacks_it(pulumi_mocks):
    build(pulumi_mocks, "op-custom", GpuPlatformArgs.from_plans([G6E_SINGLE], node_image="CUSTOM"))
    build(pulumi_mocks, "op-al2023", GpuPlatformArgs.from_plans([G6E_SINGLE], gpu_operator=True))
    build(
        pulumi_mocks,
        "op-br",
        GpuPlatformArgs.from_plans([G6E_SINGLE], node_image="BOTTLEROCKET_x86_64_NVIDIA", gpu_operator=True),
    )
    custom = releases(pulumi_mocks, "op-custom")["gpu-operator"]["values"]
    al2023 = releases(pulumi_mocks, "op-al2023")["gpu-operator"]["values"]
    br = releases(pulumi_mocks, "op-br")["gpu-operator"]["values"]
    assert (custom["driver"], custom["toolkit"], custom["devicePlugin"]) == (
        {"enabled": True},
        {"enabled": True},
        {"enabled": True},
    )
    assert (al2023["driver"], al2023["toolkit"], al2023["devicePlugin"]) == (
        {"enabled": False},
        {"enabled": False},
        {"enabled": True},
    )
    assert br["devicePlugin"] == {"enabled": False} and br["driver"] == {"enabled": False}
    assert custom["dcgmExporter"] == {"enabled": True, "serviceMonitor": {"enabled": False}}
    assert "nvidia-device-plugin" not in releases(pulumi_mocks, "op-custom")
    assert "dcgm-exporter" not in releases(pulumi_mocks, "op-custom")  # the operator's operand instead


def test_gpu_operator_values_are_clusterpolicy_fields(pulumi_mocks):
    """The chart copies these value blocks into the ClusterPolicy spec: check them against its CRD."""
    build(pulumi_mocks, "op-cp", GpuPlatformArgs.from_plans([ND_IB], node_image="None"))
    values = releases(pulumi_mocks, "op-cp")["gpu-operator"]["values"]
    schema = kv.crd_schemas()[("nvidia.com", "v1", "ClusterPolicy")]["properties"]["spec"]
    for block in ("driver", "toolkit", "devicePlugin", "dcgmExporter", "daemonsets"):
        validator = jsonschema.Draft4Validator(
            {"type": "object", "properties": {block: schema["properties"][block]}, "additionalProperties": False}
        )
        errors = [e.message for e in validator.iter_errors({block: values[block]})]
        assert errors == [], (block, errors)
    assert values["nfd"] == {"enabled": False}  # the network operator runs NFD on InfiniBand clusters


def test_azure_infiniband_pools_get_network_operator_and_rdma(pulumi_mocks):
    build(pulumi_mocks, "az", GpuPlatformArgs.from_plans([ND_IB]))
    rel = releases(pulumi_mocks, "az")
    assert set(rel) == {"nvidia-device-plugin", "dcgm-exporter", "network-operator", "keda", "lws"}
    assert rel["network-operator"]["values"]["nfd"]["deployNodeFeatureRules"] is False
    ncp = pulumi_mocks.one(NCP)
    spec = kv.unwrap(ncp.inputs)["spec"]
    assert kv.unwrap(ncp.inputs)["metadata"]["name"] == "nic-cluster-policy"
    term = spec["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    assert term == {"matchExpressions": [{"key": "gpuforge.io/pool", "operator": "In", "values": ["ndv5-ib"]}]}
    config = json.loads(spec["rdmaSharedDevicePlugin"]["config"])["configList"]
    # `rdma/ib`: every InfiniBand HCA (Mellanox vendor 15b3, IB link) of the node, shared by pods
    assert config == [
        {"resourceName": "ib", "rdmaHcaMax": 63, "selectors": {"vendors": ["15b3"], "linkTypes": ["infiniband"]}}
    ]
    assert spec["ofedDriver"]["image"] == "doca-driver"
    # AKS Spot pools carry their own taint; the daemons must tolerate it.
    spot = {
        "key": "kubernetes.azure.com/scalesetpriority",
        "operator": "Equal",
        "value": "spot",
        "effect": "NoSchedule",
    }
    assert spot in spec["tolerations"] and spot in rel["nvidia-device-plugin"]["values"]["tolerations"]


def test_azure_without_driver_uses_the_operator(pulumi_mocks):
    build(pulumi_mocks, "az-none", GpuPlatformArgs.from_plans([replace(ND_IB, fabric="none")], node_image="None"))
    values = releases(pulumi_mocks, "az-none")["gpu-operator"]["values"]
    assert values["driver"] == {"enabled": True} and values["toolkit"] == {"enabled": True}
    assert values["nfd"] == {"enabled": True}


def test_each_addon_can_be_switched_off(pulumi_mocks):
    args = GpuPlatformArgs.from_plans(
        [P5_PAIR], keda=False, lws=False, efa=False, dcgm_exporter=False, device_plugin=False
    )
    platform = build(pulumi_mocks, "off", args)
    assert releases(pulumi_mocks, "off") == {}
    assert platform.crd_dependencies == [] and platform.dcgm_target is None


def test_shared_serving_namespaces_are_created_once(pulumi_mocks):
    platform = build(pulumi_mocks, "ns", GpuPlatformArgs.from_plans([G6E_SINGLE], serving_namespaces=("llm", "llm")))
    created = [kv.unwrap(r.inputs)["metadata"]["name"] for r in pulumi_mocks.resources if r.type.endswith(":Namespace")]
    assert created.count("llm") == 1 and "llm" in platform.namespaces


def test_kube_prometheus_stack_values_and_url(pulumi_mocks):
    platform = build(pulumi_mocks, "kps", GpuPlatformArgs.from_plans([G6E_SINGLE], kube_prometheus_stack=True))
    values = releases(pulumi_mocks, "kps")["kube-prometheus-stack"]["values"]
    spec = values["prometheus"]["prometheusSpec"]
    assert spec["podMonitorSelectorNilUsesHelmValues"] is False
    assert spec["ruleSelectorNilUsesHelmValues"] is False
    assert values["grafana"]["sidecar"]["dashboards"]["label"] == "grafana_dashboard"
    assert platform.prometheus_url == "http://kube-prometheus-stack-prometheus.monitoring.svc:9090"
    # KEDA and kube-prometheus-stack install CRDs the serving objects use (no LWS: single-node pools)
    assert platform.crd_dependencies == [platform.releases["keda"], platform.releases["kube-prometheus-stack"]]


@pytest.mark.parametrize("pools", [[P5_PAIR, G6E_SINGLE], [ND_IB]], ids=["aws", "azure"])
def test_platform_manifests_validate(pulumi_mocks, pools):
    name = f"valid-{pools[0].cloud}"
    build(pulumi_mocks, name, GpuPlatformArgs.from_plans(pools, kube_prometheus_stack=True))
    recorded = [r for r in pulumi_mocks.resources if r.parent == name]
    assert any(r.type != RELEASE for r in recorded)
    assert kv.validate_recorded(recorded) == []


def test_contradictions_are_refused_at_once(pulumi_mocks):
    args = GpuPlatformArgs(
        cloud="aws", node_image_has_driver=False, gpu_operator=False, infiniband_pools=("x",), efa=True
    )
    bad = replace(args, cloud="azure")
    with pytest.raises(SpecError) as e:
        GpuPlatform("bad", bad)
    assert {p.path for p in e.value.problems} == {"efa", "gpu_operator"}
    with pytest.raises(SpecError) as e:
        GpuPlatform("bad2", args)
    assert {p.path for p in e.value.problems} == {"infiniband_pools", "gpu_operator"}
    assert pulumi_mocks.resources == []


def test_from_plans_reads_lws_need_from_serving_plans():
    serving = ServingPlan(
        name="x",
        model="m",
        served_model_name="x",
        revision=None,
        tensor_parallel_size=8,
        pipeline_parallel_size=2,
        nodes_per_replica=2,
        gpus_per_node=8,
        max_model_len=4096,
        max_num_seqs=8,
        max_num_batched_tokens=4096,
        gpu_memory_utilization=0.9,
        dtype="bfloat16",
        quantization=None,
        kv_cache_dtype="auto",
        replicas=1,
        min_replicas=1,
        max_replicas=1,
        spread_zones=False,
        weights_gib_total=100,
        per_replica_max_concurrency=8,
        ttft_p95_ms_sla=1000,
        itl_p95_ms_sla=50,
        vllm_version="0.19.0",
    )
    assert not GpuPlatformArgs.from_plans([G6E_SINGLE]).lws
    assert GpuPlatformArgs.from_plans([G6E_SINGLE], [serving]).lws


# --- InfiniBand node features and existing clusters (issue 13) ------------------------------------
NFR = "kubernetes:nfd.k8s-sigs.io/v1alpha1:NodeFeatureRule"


def test_infiniband_nodes_get_the_label_the_rdma_plugin_selects(pulumi_mocks):
    """The RDMA shared device plugin DaemonSet selects `feature.node.kubernetes.io/pci-15b3.present`
    (network-operator v26.4.1 manifests/state-rdma-shared-device-plugin, line 116); with the chart's
    rule off nothing wrote it and `rdma/ib` never appeared."""
    build(pulumi_mocks, "az-nfr", GpuPlatformArgs.from_plans([ND_IB]))
    rule = kv.unwrap(pulumi_mocks.one(NFR).inputs)
    assert rule["metadata"]["name"] == "gpuforge-infiniband-nics"
    (r,) = rule["spec"]["rules"]
    # NFD puts label names without a namespace under feature.node.kubernetes.io/.
    assert r["labels"] == {"pci-15b3.present": "true"}
    (match,) = r["matchFeatures"]
    assert match["feature"] == "pci.device"
    # Mellanox InfiniBand controllers only: not the Ethernet VFs (0200) of accelerated networking.
    assert match["matchExpressions"] == {"vendor": {"op": "In", "value": ["15b3"]}, "class": {"op": "In", "value": ["0207"]}}
    values = releases(pulumi_mocks, "az-nfr")["network-operator"]["values"]
    assert values["nfd"] == {"enabled": True, "deployNodeFeatureRules": False}
    tolerations = values["node-feature-discovery"]["worker"]["tolerations"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in tolerations
    assert any(t["key"] == "kubernetes.azure.com/scalesetpriority" for t in tolerations)  # Spot GPU pools
    # Created after the operator (whose NFD installs the NodeFeatureRule CRD), valid against NFD v0.19's CRD.
    recorded = [x for x in pulumi_mocks.resources if x.parent == "az-nfr"]
    assert kv.validate_recorded(recorded) == []


def test_nic_cluster_policy_validates_against_the_vendored_crd():
    ncp_schema = kv.crd_schemas()[("mellanox.com", "v1alpha1", "NicClusterPolicy")]
    assert "rdmaSharedDevicePlugin" in ncp_schema["properties"]["spec"]["properties"]
    assert "ofedDriver" in ncp_schema["properties"]["spec"]["properties"]


@pytest.mark.parametrize(
    "installed, absent",
    [
        (("keda", "lws"), {"keda", "lws"}),
        (("network-operator",), {"network-operator"}),
        (("gpu-operator",), {"nvidia-device-plugin", "dcgm-exporter", "gpu-operator"}),
        (("aws-efa-k8s-device-plugin", "dcgm-exporter"), {"aws-efa-k8s-device-plugin", "dcgm-exporter"}),
    ],
    ids=["keda-lws", "network-operator", "gpu-operator", "efa-dcgm"],
)
def test_existing_cluster_addons_are_not_installed_twice(pulumi_mocks, installed, absent):
    pools = [ND_IB] if "network-operator" in installed else [P5_PAIR]
    name = "have-" + "-".join(installed)
    platform = build(pulumi_mocks, name, GpuPlatformArgs.from_plans(pools, kube_prometheus_stack=True, installed=installed))
    rel = releases(pulumi_mocks, name)
    assert not set(rel) & absent
    kinds = {r.type for r in pulumi_mocks.resources if r.parent == name}
    created_ns = {kv.unwrap(r.inputs)["metadata"]["name"] for r in pulumi_mocks.resources if r.parent == name and r.type.endswith(":Namespace")}
    if "network-operator" in installed:
        # its own NicClusterPolicy stays the only one; no namespace of ours next to it
        assert NCP not in kinds and NFR not in kinds and "network-operator" not in created_ns
    if "keda" in installed:
        assert "keda" not in created_ns and all(d is not None for d in platform.crd_dependencies)
    if "gpu-operator" in installed:
        assert platform.dcgm_target is not None and platform.dcgm_target.namespace == "gpu-operator"


def test_unknown_installed_addon_is_refused():
    with pytest.raises(SpecError, match="installed_addons"):
        GpuPlatform("x", GpuPlatformArgs.from_plans([P5_PAIR], installed=("istio",)))

"""ServingMonitoring under Pulumi mocks: scrape objects, SLA-derived alerts, the dashboard."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import k8s_validation as kv
import pulumi
import pulumi_kubernetes as k8s
import pytest
from gpuforge.errors import SpecError
from gpuforge.k8s import DcgmTarget, ServingMonitoring, ServingMonitoringArgs, alert_rules
from gpuforge.k8s.monitoring import ITL_BUCKETS_S, TTFT_BUCKETS_S, bucket_weights
from gpuforge.plan import ServingPlan

RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
POD_MONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
SERVICE_MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"

PLAN = ServingPlan(
    name="llama-70b",
    model="meta-llama/Llama-3.3-70B-Instruct",
    served_model_name="llama-70b",
    revision=None,
    tensor_parallel_size=8,
    pipeline_parallel_size=1,
    nodes_per_replica=1,
    gpus_per_node=8,
    max_model_len=32768,
    max_num_seqs=128,
    max_num_batched_tokens=8192,
    gpu_memory_utilization=0.9,
    dtype="bfloat16",
    quantization="fp8",
    kv_cache_dtype="fp8",
    replicas=2,
    min_replicas=2,
    max_replicas=4,
    spread_zones=False,
    weights_gib_total=70.0,
    per_replica_max_concurrency=64,
    ttft_p95_ms_sla=500,
    itl_p95_ms_sla=50,
    vllm_version="0.19.0",
    cloud="aws",
    pool_name="p5",
    gpu="h100-80gb",
    gpu_memory_gib=79.19,
    cost_per_hour=110.08,
)
TWO_NODE = replace(
    PLAN, name="llama-405b", served_model_name="llama-405b", pipeline_parallel_size=2, nodes_per_replica=2
)

# Alerts whose threshold is the SLA or a plan number, and the number it must follow.
SLA_DERIVED = {
    "VLLMTTFTP95AboveSLA": "ttft",
    "VLLMTTFTErrorBudgetFastBurn": "ttft",
    "VLLMTTFTErrorBudgetSlowBurn": "ttft",
    "VLLMITLP95AboveSLA": "itl",
    "VLLMITLErrorBudgetFastBurn": "itl",
    "VLLMITLErrorBudgetSlowBurn": "itl",
    "VLLMRequestQueueGrowing": "capacity",
    "VLLMReplicasBelowMinimum": "min_replicas",
    "GPUMemoryNearlyFull": "gpu_memory_utilization",
}


def build(recorder, name: str, args: ServingMonitoringArgs) -> ServingMonitoring:
    mon = ServingMonitoring(name, args)
    recorder.wait(*kv.resources_of(mon))
    return mon


def rules_of(recorder, name: str) -> dict[str, dict]:
    rule = next(r for r in recorder.resources if r.type == RULE and r.parent == name)
    groups = kv.unwrap(rule.inputs)["spec"]["groups"]
    return {r["alert"]: r for g in groups for r in g["rules"]}


def test_manifests_validate(pulumi_mocks):
    build(pulumi_mocks, "m-valid", ServingMonitoringArgs.from_plan(PLAN, namespace="llm"))
    build(
        pulumi_mocks,
        "m-valid-lws",
        ServingMonitoringArgs.from_plan(TWO_NODE, namespace="llm", dcgm=DcgmTarget.gpu_operator()),
    )
    recorded = [r for r in pulumi_mocks.resources if r.parent in ("m-valid", "m-valid-lws")]
    assert {r.type for r in recorded} == {RULE, POD_MONITOR, SERVICE_MONITOR, CONFIG_MAP}
    assert kv.validate_recorded(recorded) == []


def test_pod_monitor_scrapes_the_api_pods(pulumi_mocks):
    build(pulumi_mocks, "m-pm", ServingMonitoringArgs.from_plan(TWO_NODE, namespace="llm"))
    pm = kv.unwrap(pulumi_mocks.one(POD_MONITOR, "m-pm-vllm").inputs)
    assert pm["metadata"]["namespace"] == "llm"
    assert pm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert pm["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "vllm",
        "app.kubernetes.io/instance": "llama-405b",
        "app.kubernetes.io/component": "server",  # LWS leaders only: workers run Ray, not vLLM's API
    }
    assert pm["spec"]["podMetricsEndpoints"] == [{"port": "http", "path": "/metrics", "interval": "15s"}]


@pytest.mark.parametrize(
    "target, selector, port",
    [
        (
            DcgmTarget.standalone(),
            {"app.kubernetes.io/name": "dcgm-exporter", "app.kubernetes.io/instance": "dcgm-exporter"},
            "metrics",
        ),
        (DcgmTarget.gpu_operator(), {"app": "nvidia-dcgm-exporter"}, "gpu-metrics"),
    ],
    ids=["chart", "operator"],
)
def test_dcgm_service_monitor(pulumi_mocks, target, selector, port):
    name = f"m-sm-{port}"
    build(pulumi_mocks, name, ServingMonitoringArgs.from_plan(PLAN, namespace="llm", dcgm=target))
    sm = kv.unwrap(pulumi_mocks.one(SERVICE_MONITOR, f"{name}-dcgm").inputs)["spec"]
    assert sm["selector"]["matchLabels"] == selector
    assert sm["namespaceSelector"] == {"matchNames": [target.namespace]}
    assert sm["endpoints"][0]["port"] == port
    assert sm["endpoints"][0]["honorLabels"] is True  # keep DCGM's pod label: the pod using the GPU


def test_dcgm_monitors_of_two_deployments_keep_disjoint_series(pulumi_mocks):
    build(pulumi_mocks, "m-a", ServingMonitoringArgs.from_plan(PLAN, namespace="llm"))
    build(pulumi_mocks, "m-b", ServingMonitoringArgs.from_plan(TWO_NODE, namespace="llm"))
    eps = {
        name: kv.unwrap(pulumi_mocks.one(SERVICE_MONITOR, f"{name}-dcgm").inputs)["spec"]["endpoints"][0]
        for name in ("m-a", "m-b")
    }
    # distinct target labels: the two scrapes of one exporter never produce the same series
    assert eps["m-a"]["relabelings"][0]["replacement"] == "llama-70b"
    assert eps["m-b"]["relabelings"][0]["replacement"] == "llama-405b"
    keep = {name: ep["metricRelabelings"][0] for name, ep in eps.items()}
    assert all(k["action"] == "keep" and k["sourceLabels"] == ["namespace", "pod"] for k in keep.values())
    # Prometheus joins the source labels with ";" and anchors the regex
    def kept(name: str, pod: str) -> bool:
        return re.fullmatch(keep[name]["regex"], f"llm;{pod}") is not None

    assert kept("m-a", "llama-70b-5d8f7c9b4-abcde") and not kept("m-a", "llama-405b-0")
    assert kept("m-b", "llama-405b-0-1") and not kept("m-b", "llama-70b-5d8f7c9b4-abcde")


def test_every_alert_says_what_to_do(pulumi_mocks):
    build(pulumi_mocks, "m-doc", ServingMonitoringArgs.from_plan(PLAN, namespace="llm"))
    rules = rules_of(pulumi_mocks, "m-doc")
    expected = set(SLA_DERIVED) | {
        "VLLMKVCacheNearlyFull",
        "GPUXidError",
        "GPUMetricsMissing",
        "GPUTemperatureHigh",
        "VLLMPodOOMKilled",
        "VLLMPodRestarting",
        "VLLMScrapeMissing",
    }
    assert set(rules) == expected
    for name, rule in rules.items():
        ann = rule["annotations"]
        assert set(ann) == {"summary", "description", "runbook"}, name
        assert all(len(ann[k]) > 20 for k in ann), name
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["labels"]["gpuforge_deployment"] == "llama-70b"


def test_alerts_use_the_pinned_vllm_and_dcgm_metric_names(pulumi_mocks):
    build(pulumi_mocks, "m-names", ServingMonitoringArgs.from_plan(PLAN, namespace="llm"))
    exprs = {k: v["expr"] for k, v in rules_of(pulumi_mocks, "m-names").items()}
    assert "vllm:time_to_first_token_seconds_bucket" in exprs["VLLMTTFTP95AboveSLA"]
    assert "vllm:inter_token_latency_seconds_bucket" in exprs["VLLMITLErrorBudgetFastBurn"]
    assert "vllm:kv_cache_usage_perc" in exprs["VLLMKVCacheNearlyFull"]
    assert "vllm:num_requests_waiting" in exprs["VLLMRequestQueueGrowing"]
    assert "DCGM_FI_DEV_FB_USED" in exprs["GPUMemoryNearlyFull"]
    assert "DCGM_FI_DEV_FB_FREE" in exprs["GPUMemoryNearlyFull"]
    assert "DCGM_FI_DEV_XID_ERRORS" in exprs["GPUXidError"]
    assert 'reason="OOMKilled"' in exprs["VLLMPodOOMKilled"]
    assert 'model_name="llama-70b"' in exprs["VLLMTTFTP95AboveSLA"]
    # the superseded names must not come back
    assert not any("gpu_cache_usage_perc" in e or "time_per_output_token" in e for e in exprs.values())


def _threshold_values(expr: str) -> list[str]:
    return re.findall(r'> ([0-9.e-]+)|< ([0-9.e-]+)|le="([0-9.]+)"', expr)


def test_every_sla_alert_threshold_follows_the_sla():
    """Change the SLA (and the plan numbers alerts derive from); every derived threshold moves."""
    a = ServingMonitoringArgs.from_plan(PLAN, namespace="llm")
    b = ServingMonitoringArgs.from_plan(
        replace(
            PLAN,
            ttft_p95_ms_sla=1000,
            itl_p95_ms_sla=100,
            per_replica_max_concurrency=32,
            min_replicas=3,
            gpu_memory_utilization=0.95,
        ),
        namespace="llm",
    )
    ra = {r["alert"]: r["expr"] for r in alert_rules(a)}
    rb = {r["alert"]: r["expr"] for r in alert_rules(b)}
    for alert in SLA_DERIVED:
        assert _threshold_values(ra[alert]) != _threshold_values(rb[alert]), alert
    # and they are the SLA itself, in seconds
    assert ra["VLLMTTFTP95AboveSLA"].endswith("> 0.5") and rb["VLLMTTFTP95AboveSLA"].endswith("> 1")
    assert ra["VLLMITLP95AboveSLA"].endswith("> 0.05") and rb["VLLMITLP95AboveSLA"].endswith("> 0.1")
    assert 'le="0.5"' in ra["VLLMTTFTErrorBudgetFastBurn"] and 'le="1.0"' in rb["VLLMTTFTErrorBudgetFastBurn"]
    assert "> 64 and" in ra["VLLMRequestQueueGrowing"] and "> 32 and" in rb["VLLMRequestQueueGrowing"]
    assert ra["VLLMReplicasBelowMinimum"].endswith("< 2") and rb["VLLMReplicasBelowMinimum"].endswith("< 3")
    assert ra["GPUMemoryNearlyFull"].endswith("> 0.94") and rb["GPUMemoryNearlyFull"].endswith("> 0.99")
    # burn-rate limits: 14.4x and 6x the 5% budget a p95 SLA leaves
    assert ra["VLLMTTFTErrorBudgetFastBurn"].count("> 0.72") == 2
    assert ra["VLLMITLErrorBudgetSlowBurn"].count("> 0.3") == 2


@pytest.mark.parametrize(
    "sla_s, buckets, expected",
    [
        (0.5, TTFT_BUCKETS_S, [(0.5, 1.0)]),  # on an edge: exact
        (2.0, TTFT_BUCKETS_S, [(1.0, 0.333333), (2.5, 0.666667)]),  # between 1 s and 2.5 s
        (0.005, ITL_BUCKETS_S, [(0.01, 0.5)]),  # below vLLM's smallest ITL bucket (10 ms)
        (5000.0, TTFT_BUCKETS_S, [(2560.0, 1.0)]),  # beyond the largest edge
    ],
)
def test_bucket_weights(sla_s, buckets, expected):
    assert bucket_weights(sla_s, buckets) == expected


def test_workload_kind_picks_the_ready_metric_and_pod_names():
    dep = ServingMonitoringArgs.from_plan(PLAN, namespace="llm")
    lws = ServingMonitoringArgs.from_plan(TWO_NODE, namespace="llm")
    assert 'deployment="llama-70b"' in dep.ready_replicas_expr
    assert 'statefulset="llama-405b"' in lws.ready_replicas_expr
    assert re.fullmatch(dep.pod_regex, "llama-70b-7d9c8f6b5-x2x9q")
    assert not re.fullmatch(dep.pod_regex, "llama-70b-2")
    assert re.fullmatch(lws.pod_regex, "llama-405b-0") and re.fullmatch(lws.pod_regex, "llama-405b-0-1")
    assert not re.fullmatch(lws.pod_regex, "llama-405b-small-0")


def test_without_dcgm_no_gpu_alerts_and_no_service_monitor(pulumi_mocks):
    args = ServingMonitoringArgs.from_plan(replace(PLAN, min_replicas=0), namespace="llm", dcgm=None)
    build(pulumi_mocks, "m-nodcgm", args)
    rules = rules_of(pulumi_mocks, "m-nodcgm")
    assert not any(name.startswith("GPU") for name in rules)
    assert "VLLMReplicasBelowMinimum" not in rules  # availability target 0
    assert not [r for r in pulumi_mocks.resources if r.type == SERVICE_MONITOR and r.parent == "m-nodcgm"]


def test_dashboard_config_map(pulumi_mocks):
    build(pulumi_mocks, "m-dash", ServingMonitoringArgs.from_plan(PLAN, namespace="llm"))
    cm = kv.unwrap(pulumi_mocks.one(CONFIG_MAP, "m-dash-dashboard").inputs)
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    dash = json.loads(cm["data"]["llama-70b.json"])
    panels = {p["title"]: p for p in dash["panels"]}
    for title in (
        "Request rate",
        "Time to first token",
        "Inter-token latency",
        "End-to-end request latency",
        "Tokens per second",
        "Queue",
        "KV-cache usage",
        "GPU utilisation",
        "GPU memory used",
        "GPU power",
        "Cost per hour (USD)",
    ):
        assert title in panels, title
    ttft_line = panels["Time to first token"]["fieldConfig"]["defaults"]["thresholds"]["steps"][-1]["value"]
    itl_line = panels["Inter-token latency"]["fieldConfig"]["defaults"]["thresholds"]["steps"][-1]["value"]
    assert (ttft_line, itl_line) == (0.5, 0.05)
    assert [t["legendFormat"] for t in panels["Time to first token"]["targets"]] == ["p50", "p95", "p99"]
    # $110.08/h at 2 planned replicas -> $55.04 per ready replica
    assert "* 55.0400" in panels["Cost per hour (USD)"]["targets"][0]["expr"]
    assert "DCGM_FI_DEV_POWER_USAGE" in panels["GPU power"]["targets"][0]["expr"]


def test_monitors_wait_for_the_prometheus_crds(pulumi_mocks):
    deps: dict[str, list[str]] = {}
    monitor = pulumi.runtime.settings.get_monitor()
    register = monitor.RegisterResource

    def recording(request):
        deps[request.name] = list(request.dependencies)
        return register(request)

    monitor.RegisterResource = recording
    crds = k8s.helm.v3.Release("crd-kps", chart="kube-prometheus-stack", version="88.5.3")
    build(pulumi_mocks, "m-deps", ServingMonitoringArgs.from_plan(PLAN, namespace="llm", crd_dependencies=[crds]))
    import asyncio

    urn = asyncio.get_event_loop().run_until_complete(crds.urn.future())
    for r in pulumi_mocks.resources:
        if r.parent == "m-deps":
            assert (urn in deps[r.name]) == (r.type != CONFIG_MAP), r.type


def test_bad_args_are_refused_at_once(pulumi_mocks):
    args = replace(
        ServingMonitoringArgs.from_plan(PLAN, namespace="llm"),
        ttft_p95_ms=0,
        per_replica_max_concurrency=0,
        gpu_memory_utilization=1.2,
    )
    with pytest.raises(SpecError) as e:
        ServingMonitoring("m-bad", args)
    assert {p.path for p in e.value.problems} == {
        "sla.ttft_p95_ms",
        "per_replica_max_concurrency",
        "gpu_memory_utilization",
    }
    assert pulumi_mocks.resources == []


# --- alerts that mean something (issue 13) ---------------------------------------------------------
def test_xid_alert_fires_on_new_events_not_on_the_last_value():
    """DCGM_FI_DEV_XID_ERRORS keeps the last XID code: `> 0` alone pages forever after one error."""
    rules = {r["alert"]: r for r in alert_rules(ServingMonitoringArgs.from_plan(PLAN, namespace="llm"))}
    expr = rules["GPUXidError"]["expr"]
    assert re.search(r"changes\(DCGM_FI_DEV_XID_ERRORS\{[^}]*\}\[10m\]\)\) > 0", expr)
    # ... and a reset of the gauge to 0 (exporter restart) is not an event.
    assert re.search(r"max by \(pod, gpu\) \(DCGM_FI_DEV_XID_ERRORS\{[^}]*\}\) > 0 and ", expr)
    assert rules["GPUXidError"]["for"] == "0m"


def test_missing_scrapes_are_alerted():
    rules = {r["alert"]: r for r in alert_rules(ServingMonitoringArgs.from_plan(PLAN, namespace="llm"))}
    # prometheus-operator's job label for a PodMonitor is <namespace>/<name>.
    assert rules["VLLMScrapeMissing"]["expr"] == 'absent(up{job="llm/llama-70b-vllm"} == 1)'
    assert "absent(DCGM_FI_DEV_GPU_UTIL{" in rules["GPUMetricsMissing"]["expr"]
    # No replica is expected with min_replicas 0: no scrape alert then.
    idle = {r["alert"] for r in alert_rules(ServingMonitoringArgs.from_plan(replace(PLAN, min_replicas=0), namespace="llm"))}
    assert "VLLMScrapeMissing" not in idle


def test_multi_node_groups_and_fabric_are_alerted(pulumi_mocks):
    plan = replace(TWO_NODE, fabric="efa")
    args = ServingMonitoringArgs.from_plan(plan, namespace="llm")
    assert args.fabric_check and args.workload_kind == "LeaderWorkerSet"
    build(pulumi_mocks, "m-mn", args)
    rules = rules_of(pulumi_mocks, "m-mn")
    degraded = rules["VLLMMultiNodeGroupDegraded"]["expr"]
    # LWS names each group's worker StatefulSet after its leader pod, <lws>-<group>.
    assert 'statefulset=~"llama-405b-[0-9]+"' in degraded
    assert "kube_statefulset_replicas" in degraded and "kube_statefulset_status_replicas_ready" in degraded
    assert "gpuforge_nccl_fabric_ok" in rules["NCCLFabricNotUsed"]["expr"]
    assert rules["NCCLFabricNotUsed"]["labels"]["severity"] == "critical"
    assert 'job="llm/llama-405b-fabric"' in rules["NCCLFabricCheckMissing"]["expr"]
    fabric = kv.unwrap(pulumi_mocks.one(POD_MONITOR, "m-mn-fabric").inputs)
    assert fabric["spec"]["podMetricsEndpoints"][0]["port"] == "fabric"
    # every pod of the group, leader and workers
    assert fabric["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": "llama-405b"}
    assert kv.validate_recorded([r for r in pulumi_mocks.resources if r.parent == "m-mn"]) == []
    single = {r["alert"] for r in alert_rules(ServingMonitoringArgs.from_plan(PLAN, namespace="llm"))}
    assert not single & {"VLLMMultiNodeGroupDegraded", "NCCLFabricNotUsed", "NCCLFabricCheckMissing"}

"""`ServingMonitoring`: scrape configs, SLA alerts and a Grafana dashboard for one deployment."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

from gpuforge.errors import Problem, SpecError
from gpuforge.k8s.dashboard import DashboardInputs, build_dashboard
from gpuforge.k8s.manifests import (
    PROMETHEUS_SELECTOR_LABELS,
    dns_label_problems,
    instance_labels,
    promql_str,
    selector_labels,
)
from gpuforge.plan import ServingPlan

# Histogram bucket edges (seconds) of vLLM's latency metrics, read from vllm/v1/metrics/loggers.py
# (PrometheusStatLogger) of the 0.12 line, the newest copy available offline (identical in the
# 0.10 copy; 0.19 not read). Burn-rate alerts count requests above the SLA from these
# buckets; the p95 alerts do not depend on them.
TTFT_BUCKETS_S = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
    2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
)  # fmt: skip
ITL_BUCKETS_S = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0,
    2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
)  # fmt: skip

# The SLA is a p95: 5% of requests may be slower. Multi-window burn-rate alerting from the
# Google SRE workbook ("Alerting on SLOs"): page when the budget burns 14.4x over
# 1 h (confirmed over 5 m), ticket at 6x over 6 h (confirmed over 30 m).
ERROR_BUDGET = 0.05
# Window in which a change of the last-XID gauge counts as a new XID event.
XID_WINDOW = "10m"
BURN_WINDOWS = (
    ("FastBurn", 14.4, "1h", "5m", "critical", "2m"),
    ("SlowBurn", 6.0, "6h", "30m", "warning", "15m"),
)

WorkloadKind = Literal["Deployment", "LeaderWorkerSet"]


@dataclass(frozen=True)
class DcgmTarget:
    """Where DCGM exporter's Service lives and how to select it."""

    namespace: str
    selector: dict[str, str]
    port: str

    @classmethod
    def standalone(cls, namespace: str = "kube-system", release: str = "dcgm-exporter") -> DcgmTarget:
        """The `dcgm-exporter` Helm chart (Service port `metrics`, chart selector labels)."""
        return cls(
            namespace,
            {"app.kubernetes.io/name": "dcgm-exporter", "app.kubernetes.io/instance": release},
            "metrics",
        )

    @classmethod
    def gpu_operator(cls, namespace: str = "gpu-operator") -> DcgmTarget:
        """The GPU Operator's operand (assets/state-dcgm-exporter/0400_service.yaml)."""
        return cls(namespace, {"app": "nvidia-dcgm-exporter"}, "gpu-metrics")


def _num(x: float) -> str:
    return f"{round(float(x), 6):g}"


def _le(edge: float) -> str:
    # prometheus_client renders bucket edges with repr(float): 0.5 -> "0.5", 1.0 -> "1.0".
    return repr(float(edge))


def bucket_weights(sla_s: float, buckets: Sequence[float]) -> list[tuple[float, float]]:
    """(bucket edge, weight) pairs whose weighted bucket rates estimate the requests <= the SLA.

    Exact when the SLA is a bucket edge; otherwise linear interpolation between the two
    neighbouring edges (the estimate `histogram_quantile` makes). Below the smallest edge the
    lower neighbour is 0 s (no request is faster); above the largest, the largest edge.
    """
    edges = sorted(buckets)
    for e in edges:
        if abs(e - sla_s) < 1e-12:
            return [(e, 1.0)]
    if sla_s > edges[-1]:
        return [(edges[-1], 1.0)]
    hi = min(e for e in edges if e > sla_s)
    lower = [e for e in edges if e < sla_s]
    if not lower:
        return [(hi, round(sla_s / hi, 6))]
    lo = max(lower)
    f = round((sla_s - lo) / (hi - lo), 6)
    return [(lo, round(1 - f, 6)), (hi, f)]


@dataclass
class ServingMonitoringArgs:
    """What to watch for one model deployment and the SLA its alerts are derived from.

    Attributes:
        name, namespace: the ModelServer's name and namespace.
        served_model_name: the `model_name` label vLLM puts on its metrics.
        workload_kind: Deployment (single-node replicas) or LeaderWorkerSet (multi-node).
        ttft_p95_ms, itl_p95_ms: the SLA.
        per_replica_max_concurrency: requests one replica serves within the SLA (from the plan).
        min_replicas: the availability target; fewer ready replicas page.
        gpu_memory_utilization: vLLM's memory budget; the GPU-memory alert sits above it.
        cost_per_hour: the whole deployment at `replicas`, for the dashboard.
        dcgm: DCGM exporter's Service (None: no GPU alerts or panels).
        dcgm_service_monitor: create a DCGM ServiceMonitor keeping this deployment's GPUs only.
        nodes_per_replica: pods per replica (>1: LeaderWorkerSet groups; degraded-group alert).
        fabric_check: multi-node pods serve the NCCL fabric check on port `fabric`: scrape it
            and alert when NCCL did not choose the fabric.
        prometheus_labels: labels on monitors and rules so an existing Prometheus selects them.
        crd_dependencies: resources that install the monitoring.coreos.com CRDs.
    """

    name: str
    namespace: str
    served_model_name: str
    workload_kind: WorkloadKind
    ttft_p95_ms: float
    itl_p95_ms: float
    per_replica_max_concurrency: int
    min_replicas: int
    replicas: int
    max_replicas: int
    gpu_memory_utilization: float
    cost_per_hour: float = 0.0
    dcgm: DcgmTarget | None = field(default_factory=DcgmTarget.standalone)
    dcgm_service_monitor: bool = True
    nodes_per_replica: int = 1
    fabric_check: bool = False
    kv_cache_usage_ratio: float = 0.9
    gpu_temperature_celsius: float = 85.0
    restarts_per_30m: int = 2
    prometheus_labels: dict[str, str] = field(default_factory=lambda: dict(PROMETHEUS_SELECTOR_LABELS))
    grafana_dashboard: bool = True
    scrape_interval: str = "15s"
    crd_dependencies: Sequence[pulumi.Resource] = ()
    namespace_dependencies: Sequence[pulumi.Resource] = ()  # the Namespace, when created elsewhere (GpuPlatform)

    @classmethod
    def from_plan(cls, serving: ServingPlan, *, namespace: str, **overrides: Any) -> ServingMonitoringArgs:
        """Alerts and dashboard for the planned deployment `serving` in `namespace`."""
        args = cls(
            name=serving.name,
            namespace=namespace,
            served_model_name=serving.served_model_name,
            workload_kind="LeaderWorkerSet" if serving.nodes_per_replica > 1 else "Deployment",
            ttft_p95_ms=serving.ttft_p95_ms_sla,
            itl_p95_ms=serving.itl_p95_ms_sla,
            per_replica_max_concurrency=serving.per_replica_max_concurrency,
            min_replicas=serving.min_replicas,
            replicas=serving.replicas,
            max_replicas=serving.max_replicas,
            gpu_memory_utilization=serving.gpu_memory_utilization,
            cost_per_hour=serving.cost_per_hour,
            nodes_per_replica=serving.nodes_per_replica,
            fabric_check=serving.nodes_per_replica > 1 and serving.fabric in ("efa", "infiniband"),
        )
        return replace(args, **overrides)

    def problems(self) -> list[Problem]:
        out = dns_label_problems("name", self.name, 40) + dns_label_problems("namespace", self.namespace)
        if self.workload_kind not in ("Deployment", "LeaderWorkerSet"):
            out.append(Problem("workload_kind", f"{self.workload_kind!r} is not Deployment or LeaderWorkerSet"))
        for path, v in (("sla.ttft_p95_ms", self.ttft_p95_ms), ("sla.itl_p95_ms", self.itl_p95_ms)):
            if not v or v <= 0:
                out.append(Problem(path, f"{v!r} ms is not a latency target", "set a positive number of ms"))
        if self.per_replica_max_concurrency < 1:
            out.append(
                Problem(
                    "per_replica_max_concurrency",
                    f"{self.per_replica_max_concurrency} requests per replica",
                    "use the plan's per-replica capacity (at least 1)",
                )
            )
        if self.min_replicas < 0 or self.max_replicas < max(1, self.min_replicas):
            out.append(
                Problem(
                    "sla.min_replicas",
                    f"min_replicas {self.min_replicas} / max_replicas {self.max_replicas} are inconsistent",
                    "keep 0 <= min_replicas <= max_replicas and max_replicas >= 1",
                )
            )
        if not 0 < self.gpu_memory_utilization < 1:
            out.append(Problem("gpu_memory_utilization", f"{self.gpu_memory_utilization} is not in (0, 1)"))
        if not 0 < self.kv_cache_usage_ratio <= 1:
            out.append(Problem("kv_cache_usage_ratio", f"{self.kv_cache_usage_ratio} is not in (0, 1]"))
        return out

    # --- PromQL building blocks ---------------------------------------------------------
    @property
    def vllm_selector(self) -> str:
        return f'namespace="{promql_str(self.namespace)}", model_name="{promql_str(self.served_model_name)}"'

    @property
    def pod_regex(self) -> str:
        if self.workload_kind == "LeaderWorkerSet":
            return f"{self.name}-[0-9]+(-[0-9]+)?"  # leader <lws>-<group>, worker <lws>-<group>-<index>
        return f"{self.name}-[a-z0-9]+-[a-z0-9]+"  # <deployment>-<replicaset hash>-<suffix>

    @property
    def pod_selector(self) -> str:
        return f'namespace="{promql_str(self.namespace)}", pod=~"{self.pod_regex}"'

    @property
    def vllm_job(self) -> str:
        # prometheus-operator names a PodMonitor's job `<namespace>/<podmonitor name>`.
        return f"{self.namespace}/{self.name}-vllm"

    @property
    def fabric_job(self) -> str:
        return f"{self.namespace}/{self.name}-fabric"

    @property
    def ready_replicas_expr(self) -> str:
        ns = promql_str(self.namespace)
        if self.workload_kind == "LeaderWorkerSet":
            # LWS runs each group's leader in a StatefulSet named after the LeaderWorkerSet; a
            # leader is ready only once vLLM serves, which needs the whole group.
            return f'sum(kube_statefulset_status_replicas_ready{{namespace="{ns}", statefulset="{self.name}"}})'
        return f'sum(kube_deployment_status_replicas_available{{namespace="{ns}", deployment="{self.name}"}})'

    @property
    def gpu_memory_ratio(self) -> float:
        """GPU-memory alert threshold: above vLLM's own budget, which it allocates at start.

        vLLM takes `gpu_memory_utilization` of the card up front (0.19 does not count the
        CUDA-graph pool in it), so the card sits at that level when healthy; 4 points above it
        means something outside the budget is growing. Never below 90% of the card.
        """
        return round(min(0.99, max(0.90, self.gpu_memory_utilization + 0.04)), 4)


def alert_rules(a: ServingMonitoringArgs) -> list[dict[str, Any]]:
    """The PrometheusRule alert rules of one deployment, every threshold from the SLA / plan."""
    v, p, ns = a.vllm_selector, a.pod_selector, a.namespace
    where = f"{a.name} in namespace {ns}"
    kube = f"kubectl -n {ns}"
    workload = "deployment" if a.workload_kind == "Deployment" else "leaderworkerset"
    base_labels = {"gpuforge_deployment": a.name, "namespace": ns}
    rules: list[dict[str, Any]] = []

    def rule(alert: str, expr: str, for_: str, severity: str, summary: str, description: str, runbook: str):
        rules.append(
            {
                "alert": alert,
                "expr": expr,
                "for": for_,
                "labels": {**base_labels, "severity": severity},
                "annotations": {"summary": summary, "description": description, "runbook": runbook},
            }
        )

    latency = (
        (
            "TTFT",
            "time to first token",
            "vllm:time_to_first_token_seconds",
            a.ttft_p95_ms,
            TTFT_BUCKETS_S,
            "Long prompts or a long queue delay the first token. Check the Queue and KV-cache panels: "
            f"requests waiting means too few replicas -- check `{kube} get scaledobject,hpa` is scaling and "
            f"whether max_replicas ({a.max_replicas}) or the GPU pool's max size is reached, then raise them. "
            "An empty queue with slow TTFT means prompts are longer than planned: re-plan with the observed "
            "prompt length (workload.input_tokens). If one pod alone is slow, check its GPU alerts and delete it.",
        ),
        (
            "ITL",
            "inter-token latency",
            "vllm:inter_token_latency_seconds",
            a.itl_p95_ms,
            ITL_BUCKETS_S,
            "Decode steps are slow: too many sequences per replica. Check requests in flight per replica against "
            f"the planned {a.per_replica_max_concurrency}; if higher, the autoscaler is behind -- check "
            f"`{kube} get scaledobject,hpa` and the GPU pool's max size. If load is within plan, check GPU "
            "utilisation, power and temperature for throttling, and for multi-node replicas the fabric (NCCL "
            "falling back to TCP shows in the pod logs with NCCL_DEBUG=INFO).",
        ),
    )
    for short, long, metric, sla_ms, buckets, advice in latency:
        sla_s = sla_ms / 1000.0
        rule(
            f"VLLM{short}P95AboveSLA",
            f"histogram_quantile(0.95, sum by (le) (rate({metric}_bucket{{{v}}}[5m]))) > {_num(sla_s)}",
            "10m",
            "warning",
            f"{long} p95 of {a.name} is above its {sla_ms:g} ms SLA",
            f"p95 {long} over the last 5 minutes is {{{{ $value | humanizeDuration }}}} for {where}; "
            f"the SLA is {sla_ms:g} ms.",
            advice,
        )
        weights = bucket_weights(sla_s, buckets)
        edges_ms = " and ".join(f"{e * 1000:g} ms" for e, _ in weights)
        for tier, burn, long_w, short_w, severity, for_ in BURN_WINDOWS:
            limit = _num(burn * ERROR_BUDGET)

            def slow_ratio(window: str, metric: str = metric, weights: list = weights) -> str:
                total = f"sum(rate({metric}_count{{{v}}}[{window}]))"
                within = " + ".join(
                    f'sum(rate({metric}_bucket{{{v}, le="{_le(e)}"}}[{window}]))'
                    + ("" if w == 1 else f" * {_num(w)}")
                    for e, w in weights
                )
                return f"(({total} - ({within})) / {total})"

            rule(
                f"VLLM{short}ErrorBudget{tier}",
                f"{slow_ratio(long_w)} > {limit} and {slow_ratio(short_w)} > {limit}",
                for_,
                severity,
                f"{a.name} burns its {long} error budget {burn:g}x too fast",
                f"More than {float(limit):.0%} of requests to {where} had a {long} above the {sla_ms:g} ms "
                f"SLA over the last {long_w} and {short_w}; the SLA allows 5% (p95). Counted from vLLM's "
                f"histogram buckets at {edges_ms}.",
                advice,
            )

    rule(
        "VLLMRequestQueueGrowing",
        f"sum(vllm:num_requests_waiting{{{v}}}) > {a.per_replica_max_concurrency} "
        f"and deriv(sum(vllm:num_requests_waiting{{{v}}})[15m:1m]) > 0",
        "15m",
        "warning",
        f"Requests keep piling up in front of {a.name}",
        f"{{{{ $value }}}} requests wait, more than one replica's capacity "
        f"({a.per_replica_max_concurrency}), and the queue has grown for 15 minutes in {where}.",
        f"The autoscaler is not keeping up. `{kube} describe scaledobject {a.name}` and `{kube} get hpa`: at "
        f"max_replicas ({a.max_replicas}) raise it; replicas Pending means the GPU pool is at its max size or "
        "out of capacity (check the node group / cloud quota). Until then, shed load at the client.",
    )
    rule(
        "VLLMKVCacheNearlyFull",
        f"max by (pod) (vllm:kv_cache_usage_perc{{{v}}}) > {_num(a.kv_cache_usage_ratio)}",
        "15m",
        "warning",
        f"KV cache of {{{{ $labels.pod }}}} above {a.kv_cache_usage_ratio:.0%}",
        f"The KV cache of {{{{ $labels.pod }}}} ({where}) has been above {a.kv_cache_usage_ratio:.0%} for 15 "
        "minutes; new requests wait and running ones get preempted.",
        "Contexts are longer or more numerous than planned. Scale out (check the ScaledObject's KV trigger), "
        "or re-plan with the observed context lengths (a larger GPU, fp8 KV cache or a lower max_model_len).",
    )
    if a.min_replicas >= 1:
        rule(
            "VLLMReplicasBelowMinimum",
            f"({a.ready_replicas_expr} or on() vector(0)) < {a.min_replicas}",
            "15m",
            "critical",
            f"{a.name} has fewer ready replicas than its availability target ({a.min_replicas})",
            f"Only {{{{ $value }}}} replicas of {where} are ready; the SLA asks for at least {a.min_replicas}.",
            f"`{kube} get pods -l app.kubernetes.io/instance={a.name}` and `{kube} describe {workload} "
            f"{a.name}`. Pending pods: no free GPU node -- check the pool's size, Spot interruptions or "
            "capacity. CrashLoopBackOff: read the logs (wrong model revision, missing HF token, out of GPU "
            "memory at start). Still starting: the model is downloading; wait for the startup probe.",
        )
    if a.min_replicas >= 1:
        rule(
            "VLLMScrapeMissing",
            f'absent(up{{job="{promql_str(a.vllm_job)}"}} == 1)',
            "10m",
            "critical",
            f"Prometheus scrapes no vLLM server of {a.name}",
            f"No /metrics target of {where} has been up for 10 minutes: latency, queue and KV-cache alerts "
            "and the autoscaler's queries see nothing.",
            f"Check the PodMonitor {a.name}-vllm is selected by Prometheus (Status > Targets), the pods run "
            f"(`{kube} get pods -l app.kubernetes.io/instance={a.name}`), and the NetworkPolicy admits the "
            "monitoring namespace on port 8000.",
        )
    if a.workload_kind == "LeaderWorkerSet":
        # LWS runs each group's workers in a StatefulSet named after the group's leader pod,
        # `<lws>-<group index>` (lws v0.10.0 pkg/controllers/pod_controller.go:438).
        workers = f'namespace="{promql_str(ns)}", statefulset=~"{a.name}-[0-9]+"'
        rule(
            "VLLMMultiNodeGroupDegraded",
            f"max by (statefulset) (kube_statefulset_replicas{{{workers}}}) - "
            f"max by (statefulset) (kube_statefulset_status_replicas_ready{{{workers}}}) > 0",
            "10m",
            "critical",
            f"Multi-node group {{{{ $labels.statefulset }}}} of {a.name} is missing {{{{ $value }}}} worker(s)",
            f"{{{{ $value }}}} worker pod(s) of group {{{{ $labels.statefulset }}}} ({where}) have not been ready "
            f"for 10 minutes. A replica needs all {a.nodes_per_replica} nodes: the group serves nothing.",
            f"`{kube} get pods -l leaderworkerset.sigs.k8s.io/name={a.name}`. Pending: no free node in the fabric "
            "domain (placement group / InfiniBand scale set) or missing fabric resources (EFA / rdma/ib device "
            "plugin). Init:* : the model download is still running or failing (`kubectl logs <pod> -c "
            "model-download`). CrashLoop: read the worker's log; a worker restart re-creates the whole group.",
        )
    if a.fabric_check:
        fab = f'namespace="{promql_str(ns)}", pod=~"{a.pod_regex}"'
        rule(
            "NCCLFabricNotUsed",
            f"max by (pod, network, expected) (gpuforge_nccl_network_info{{{fab}}}) "
            f"and on (pod) (max by (pod) (gpuforge_nccl_fabric_ok{{{fab}}}) == 0)",
            "0m",
            "critical",
            "NCCL in {{ $labels.pod }} uses {{ $labels.network }}, not {{ $labels.expected }}",
            f"The fabric check of {{{{ $labels.pod }}}} ({where}) found NCCL on network {{{{ $labels.network }}}} "
            "instead of {{ $labels.expected }}: cross-node traffic of the replica runs over TCP sockets and the "
            "planned latency does not hold.",
            "EFA: the image must be the one built from images/vllm-efa/Dockerfile (aws-ofi-nccl) and the pod "
            "must get `vpc.amazonaws.com/efa` devices (EFA device plugin). InfiniBand: the pod must get "
            "`rdma/ib` (Network Operator's RDMA shared device plugin) and the node its IB driver. The pod log "
            "has the `gpuforge: fabric check` line; NCCL's own log is under /tmp/nccl in the container.",
        )
        rule(
            "NCCLFabricCheckMissing",
            f'absent(up{{job="{promql_str(a.fabric_job)}"}} == 1) and on() {a.ready_replicas_expr} > 0',
            "15m",
            "warning",
            f"The NCCL fabric check of {a.name} is not scraped",
            f"Replicas of {where} are ready but no fabric-check target (port 9402) is up, so a fallback of "
            "NCCL to TCP would go unnoticed.",
            f"Check the PodMonitor {a.name}-fabric in Prometheus (Status > Targets) and that the NetworkPolicy "
            "admits the monitoring namespace on port 9402.",
        )
    oom = f'{p}, reason="OOMKilled"'
    rule(
        "VLLMPodOOMKilled",
        f"max by (pod, container) (kube_pod_container_status_last_terminated_reason{{{oom}}}) == 1 "
        f"and on (pod, container) increase(kube_pod_container_status_restarts_total{{{p}}}[30m]) > 0",
        "0m",
        "warning",
        f"{{{{ $labels.pod }}}} of {a.name} was OOM-killed",
        f"Container {{{{ $labels.container }}}} of {{{{ $labels.pod }}}} ({where}) ran out of host memory "
        "(its cgroup limit), not GPU memory.",
        "The memory limit is sized to the node minus system headroom, and /dev/shm counts against it. Look "
        f"at `{kube} describe pod <pod>` and the logs before the kill: shared memory filling up (NCCL, Ray "
        "object store) or CPU offload. Lower the shm size or max_num_seqs, or use a node with more memory.",
    )
    rule(
        "VLLMPodRestarting",
        f"increase(kube_pod_container_status_restarts_total{{{p}}}[30m]) > {a.restarts_per_30m}",
        "0m",
        "warning",
        f"{{{{ $labels.pod }}}} of {a.name} keeps restarting",
        f"{{{{ $value }}}} restarts in 30 minutes for {{{{ $labels.pod }}}} ({where}).",
        f"`{kube} logs <pod> --previous`. Startup probe failures: the download or load takes longer than "
        "the probe allows (raise ModelServerArgs.startup_budget_s). Liveness failures under load: the engine "
        "is stuck; check GPU XID alerts. Multi-node: one crashing pod restarts its whole group.",
    )
    if a.dcgm is not None:
        g = a.pod_selector
        rule(
            "GPUMemoryNearlyFull",
            f"max by (pod, gpu) (DCGM_FI_DEV_FB_USED{{{g}}} / (DCGM_FI_DEV_FB_USED{{{g}}} + "
            f"DCGM_FI_DEV_FB_FREE{{{g}}})) > {_num(a.gpu_memory_ratio)}",
            "10m",
            "warning",
            f"GPU {{{{ $labels.gpu }}}} of {{{{ $labels.pod }}}} above {a.gpu_memory_ratio:.0%} of its memory",
            f"vLLM was planned to use {a.gpu_memory_utilization:.0%} of each GPU; GPU {{{{ $labels.gpu }}}} of "
            f"{{{{ $labels.pod }}}} ({where}) has been above {a.gpu_memory_ratio:.0%} for 10 minutes.",
            "Memory beyond vLLM's budget (CUDA graphs, NCCL buffers, another process on the GPU) is growing "
            "toward an out-of-memory crash. Check nothing else runs on the node's GPUs; if vLLM itself, lower "
            "gpu_memory_utilization in the plan and redeploy.",
        )
        # DCGM_FI_DEV_XID_ERRORS is a gauge holding the *last* XID code of the GPU, which stays
        # set after the error (dcgm-exporter default-counters.csv: "Value of the last XID error
        # encountered"). Alerting on its value pages forever after one error; a new event is a
        # change of that value within the window (to a non-zero code: an exporter restart
        # resets it to 0). Repeats of the same code do not change the gauge and are not seen.
        rule(
            "GPUXidError",
            f"max by (pod, gpu) (DCGM_FI_DEV_XID_ERRORS{{{g}}}) > 0 "
            f"and max by (pod, gpu) (changes(DCGM_FI_DEV_XID_ERRORS{{{g}}}[{XID_WINDOW}])) > 0",
            "0m",
            "critical",
            "GPU {{ $labels.gpu }} under {{ $labels.pod }} reported XID {{ $value }}",
            f"The driver reported a new XID error (code {{{{ $value }}}}) on a GPU serving {where} in the last "
            f"{XID_WINDOW}.",
            "Look the code up in NVIDIA's XID catalogue. 48, 63/64, 74, 79, 92, 94, 95: the GPU or NVLink is "
            "faulty -- cordon the node (`kubectl cordon <node>`), delete the pod so it moves, and replace the "
            "instance. 13, 31, 43: usually an application fault; restart the pod and watch for repeats.",
        )
        rule(
            "GPUMetricsMissing",
            f"absent(DCGM_FI_DEV_GPU_UTIL{{{g}}})" + (f" and on() {a.ready_replicas_expr} > 0"),
            "15m",
            "warning",
            f"No GPU metrics for {a.name}",
            f"DCGM exporter reports no GPU of {where} although replicas are ready: GPU alerts (XID, memory, "
            "temperature) cannot fire.",
            "Check the DCGM exporter pods on the GPU nodes and their ServiceMonitor target in Prometheus "
            "(Status > Targets); the exporter must map GPUs to pods (kubelet pod-resources socket).",
        )
        rule(
            "GPUTemperatureHigh",
            f"max by (pod, gpu) (DCGM_FI_DEV_GPU_TEMP{{{g}}}) > {_num(a.gpu_temperature_celsius)}",
            "10m",
            "warning",
            f"GPU {{{{ $labels.gpu }}}} of {{{{ $labels.pod }}}} above {a.gpu_temperature_celsius:g} C",
            f"A GPU serving {where} has run above {a.gpu_temperature_celsius:g} C for 10 minutes; it will "
            "throttle clocks and latency will rise.",
            "Cloud GPUs are cooled by the provider: a hot GPU is a host problem. Cordon the node, move the "
            "pod and report the instance to the cloud provider if it persists.",
        )
    return rules


class ServingMonitoring(pulumi.ComponentResource):
    """PodMonitor for vLLM, ServiceMonitor for DCGM exporter, SLA alerts and a Grafana dashboard."""

    rule_name: pulumi.Output[str]

    def __init__(self, name: str, args: ServingMonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        problems = args.problems()
        if problems:
            raise SpecError(f"ServingMonitoring {name!r}", problems)
        super().__init__("gpuforge:k8s:ServingMonitoring", name, None, opts)
        crd_opts = pulumi.ResourceOptions(parent=self, depends_on=list(args.crd_dependencies) + list(args.namespace_dependencies))
        labels = {**instance_labels(args.name, "monitoring"), **args.prometheus_labels}

        self.pod_monitor = k8s.apiextensions.CustomResource(
            f"{name}-vllm",
            api_version="monitoring.coreos.com/v1",
            kind="PodMonitor",
            metadata={"name": f"{args.name}-vllm", "namespace": args.namespace, "labels": labels},
            spec={
                # Only pods running the API server expose /metrics (LWS workers run headless).
                "selector": {"matchLabels": selector_labels(args.name, "server")},
                "namespaceSelector": {"matchNames": [args.namespace]},
                "podMetricsEndpoints": [{"port": "http", "path": "/metrics", "interval": args.scrape_interval}],
            },
            opts=crd_opts,
        )

        if args.fabric_check:
            # The launch wrapper's NCCL fabric check, on every pod of a group (leader and workers).
            self.fabric_monitor = k8s.apiextensions.CustomResource(
                f"{name}-fabric",
                api_version="monitoring.coreos.com/v1",
                kind="PodMonitor",
                metadata={"name": f"{args.name}-fabric", "namespace": args.namespace, "labels": labels},
                spec={
                    "selector": {"matchLabels": selector_labels(args.name)},
                    "namespaceSelector": {"matchNames": [args.namespace]},
                    "podMetricsEndpoints": [{"port": "fabric", "path": "/metrics", "interval": "60s"}],
                },
                opts=crd_opts,
            )

        if args.dcgm is not None and args.dcgm_service_monitor:
            self.dcgm_monitor = k8s.apiextensions.CustomResource(
                f"{name}-dcgm",
                api_version="monitoring.coreos.com/v1",
                kind="ServiceMonitor",
                metadata={"name": f"{args.name}-dcgm", "namespace": args.namespace, "labels": labels},
                spec={
                    "selector": {"matchLabels": dict(args.dcgm.selector)},
                    "namespaceSelector": {"matchNames": [args.dcgm.namespace]},
                    "endpoints": [
                        {
                            "port": args.dcgm.port,
                            "path": "/metrics",
                            "interval": args.scrape_interval,
                            # Keep DCGM's pod / namespace labels (the pod using the GPU) instead
                            # of the exporter's own target labels.
                            "honorLabels": True,
                            # One such monitor per deployment: a target label keeps their
                            # scrapes apart and each keeps only its own pods' GPUs, so several
                            # deployments on one cluster never ingest a series twice.
                            "relabelings": [
                                {"action": "replace", "targetLabel": "gpuforge_deployment", "replacement": args.name}
                            ],
                            "metricRelabelings": [
                                {
                                    "action": "keep",
                                    "sourceLabels": ["namespace", "pod"],
                                    "regex": f"{args.namespace};{args.pod_regex}",
                                }
                            ],
                        }
                    ],
                },
                opts=crd_opts,
            )

        self.rule = k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata={"name": f"{args.name}-slo", "namespace": args.namespace, "labels": labels},
            spec={"groups": [{"name": f"gpuforge.{args.name}", "rules": alert_rules(args)}]},
            opts=crd_opts,
        )
        self.rule_name = pulumi.Output.from_input(f"{args.name}-slo")

        if args.grafana_dashboard:
            dash = build_dashboard(
                DashboardInputs(
                    name=args.name,
                    served_model_name=args.served_model_name,
                    vllm_selector=args.vllm_selector,
                    gpu_selector=args.pod_selector,
                    ready_replicas_expr=args.ready_replicas_expr,
                    ttft_sla_s=args.ttft_p95_ms / 1000.0,
                    itl_sla_s=args.itl_p95_ms / 1000.0,
                    per_replica_max_concurrency=args.per_replica_max_concurrency,
                    kv_cache_usage_ratio=args.kv_cache_usage_ratio,
                    cost_per_hour=args.cost_per_hour,
                    planned_replicas=args.replicas,
                )
            )
            self.dashboard = k8s.core.v1.ConfigMap(
                f"{name}-dashboard",
                metadata={
                    "name": f"{args.name}-dashboard",
                    "namespace": args.namespace,
                    # Picked up by Grafana's dashboard sidecar (kube-prometheus-stack default).
                    "labels": {**instance_labels(args.name, "monitoring"), "grafana_dashboard": "1"},
                },
                data={f"{args.name}.json": json.dumps(dash, indent=1, sort_keys=True)},
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.namespace_dependencies)),
            )

        self.register_outputs({"rule_name": self.rule_name})


__all__ = ["DcgmTarget", "ServingMonitoring", "ServingMonitoringArgs", "alert_rules", "bucket_weights"]

"""`ModelServer`: vLLM's OpenAI-compatible server for one model, on one GPU pool."""

from __future__ import annotations

import math
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

from gpuforge.errors import Problem, SpecError
from gpuforge.k8s import security
from gpuforge.k8s.manifests import (
    AZURE_SPOT_TAINT,
    DEFAULT_PROMETHEUS_URL,
    HTTP_PORT,
    MONITORING_NAMESPACE,
    POOL_LABEL,
    dns_label_problems,
    flag_value,
    gib,
    gpu_toleration,
    instance_labels,
    promql_str,
    selector_labels,
)
from gpuforge.k8s.platform import RDMA_RESOURCE
from gpuforge.k8s.versions import VLLM_IMAGE
from gpuforge.plan import CAPACITY_LABEL, Cloud, Fabric, NodePoolPlan, ServingPlan

# --- start-up time model (docs/serving.md, "Probes") -----------------------------------------
# Assumed rates; the startup probe is a deadline, not an estimate, so they are pessimistic.
HF_DOWNLOAD_GIB_PER_S = 0.1  # Hugging Face hub to one node, ~0.9 Gbit/s
LOAD_GIB_PER_S = 1.0  # safetensors from the node's disk into GPU memory
ENGINE_INIT_S = 600  # profiling run, torch.compile and CUDA-graph capture
PROBE_PERIOD_S = 10

# --- pod sizing --------------------------------------------------------------------------------
# The pod takes the whole node; keep back what the kubelet reserves (kube/system-reserved,
# eviction threshold) and what the node daemons (CNI, kube-proxy, device plugins, DCGM exporter,
# node exporter) request.
CPU_FRACTION, CPU_RESERVED = 0.9, 2
MEMORY_FRACTION, MEMORY_RESERVED_GIB = 0.9, 4.0

CACHE_MOUNT = "/model-cache"
RAY_PORT = 6379
SERVER, WORKER = "server", "worker"

Expose = Literal["cluster", "gateway", "ingress"]


def startup_budget_s(weights_gib_total: float, nodes_per_replica: int = 1) -> int:
    """Seconds to allow for download, load and engine start (rounded up to a minute).

    Every node downloads the whole checkpoint in parallel; each loads its share of it.
    """
    download = weights_gib_total / HF_DOWNLOAD_GIB_PER_S
    load = weights_gib_total / max(1, nodes_per_replica) / LOAD_GIB_PER_S
    return int(math.ceil((ENGINE_INIT_S + download + load) / 60.0) * 60)


@dataclass(frozen=True)
class ModelCache:
    """Where the Hugging Face cache lives (mounted at /model-cache, HF_HOME below it).

    `empty_dir` lives on the kubelet's disk and dies with the pod; `host_path` (the node's NVMe
    mount) survives pod restarts on the same node; `pvc` uses a claim (ReadWriteMany when more
    than one node mounts it), created when `storage_class` is given.
    """

    kind: Literal["empty_dir", "host_path", "pvc"] = "empty_dir"
    path: str | None = None
    claim_name: str | None = None
    size_gib: float | None = None
    storage_class: str | None = None
    access_mode: str = "ReadWriteMany"

    @classmethod
    def empty_dir(cls, size_gib: float | None = None) -> ModelCache:
        return cls("empty_dir", size_gib=size_gib)

    @classmethod
    def host_path(cls, path: str) -> ModelCache:
        return cls("host_path", path=path)

    @classmethod
    def pvc(
        cls,
        claim_name: str,
        *,
        size_gib: float | None = None,
        storage_class: str | None = None,
        access_mode: str = "ReadWriteMany",
    ) -> ModelCache:
        return cls(
            "pvc", claim_name=claim_name, size_gib=size_gib, storage_class=storage_class, access_mode=access_mode
        )


@dataclass
class ModelServerArgs:
    """One vLLM deployment: the engine, the replica layout, the node it runs on, how it is reached.

    Attributes:
        name: DNS-1123 name of every object (max 40 characters).
        namespace: where it runs.
        model: Hugging Face repo id vLLM loads.
        engine_args: `vllm serve` flags (ServingPlan.engine_args()); TP x PP must equal
            gpus_per_node x nodes_per_replica.
        gpus_per_node, nodes_per_replica: the replica layout; >1 node makes a LeaderWorkerSet.
        pool_name: value of the nodes' `gpuforge.io/pool` label.
        node_vcpus, node_memory_gib: the node's size; the pod requests it minus headroom.
        weights_gib_total: checkpoint size, for the startup probe and the emptyDir cache size.
        fabric, efa_interfaces: multi-node fabric (`vpc.amazonaws.com/efa: efa_interfaces` or
            `rdma/ib: 1`).
        hf_token: a Pulumi secret with a Hugging Face token (stored in a Kubernetes Secret), or
            hf_token_secret_name: an existing Secret with key `token`; mounted as a file
            (HF_TOKEN_PATH), never an environment variable.
        api_key: the key clients send (`Authorization: Bearer ...`), a Pulumi secret; or
            api_key_secret_name: an existing Secret with key `api-key`. Neither: a random key is
            generated (pulumi_random) and exported as the secret output `api_key`.
            require_api_key=False serves without one (docs/security.md).
        run_as_non_root: None decides (non-root unless multi-node RDMA or a host_path cache
            need root, gpuforge.k8s.security.needs_root); True / False force it.
        expose: `cluster` (ClusterIP only), `gateway` (HTTPRoute) or `ingress`.
        allowed_namespaces: namespaces whose pods may call the API (NetworkPolicy).
        rollout_surge: the pool has room for one more replica during a rollout.
        placement_domain_label: node label whose values are fabric domains each holding one
            multi-node group (LWS exclusive topology); None = the pool is one domain.
        crd_dependencies: resources that install the KEDA / LWS / Gateway CRDs.
    """

    name: str
    namespace: str
    model: str
    engine_args: tuple[str, ...]
    gpus_per_node: int
    pool_name: str
    node_vcpus: int
    node_memory_gib: float
    weights_gib_total: float
    cloud: Cloud = "aws"
    nodes_per_replica: int = 1
    replicas: int = 1
    min_replicas: int = 1
    max_replicas: int = 1
    per_replica_max_concurrency: int = 0
    fabric: Fabric = "none"
    efa_interfaces: int = 0
    spread_zones: bool = False
    spot: bool = False
    prefer_on_demand: bool = False  # a spot plan's base replicas: prefer nodes labelled on-demand
    image: str = VLLM_IMAGE
    hf_token: pulumi.Input[str] | None = None
    hf_token_secret_name: str | None = None
    api_key: pulumi.Input[str] | None = None
    api_key_secret_name: str | None = None
    require_api_key: bool = True
    run_as_non_root: bool | None = None
    model_cache: ModelCache = field(default_factory=ModelCache)
    shm_gib: float | None = None
    startup_budget_s: int | None = None
    autoscaling: bool = True
    prometheus_url: str = DEFAULT_PROMETHEUS_URL
    prometheus_bearer_secret: str | None = None
    target_utilisation: float = 0.8
    kv_cache_target: float = 0.8
    allowed_namespaces: tuple[str, ...] = ()
    monitoring_namespace: str = MONITORING_NAMESPACE
    expose: Expose = "cluster"
    gateway_name: str | None = None
    gateway_namespace: str | None = None
    hostname: str | None = None
    ingress_class: str | None = None
    ingress_controller_namespace: str | None = None
    rollout_surge: bool = False
    placement_domain_label: str | None = None
    create_namespace: bool = True
    wait_for_ready: bool = True
    crd_dependencies: Sequence[pulumi.Resource] = ()
    namespace_dependencies: Sequence[pulumi.Resource] = ()  # the Namespace, when created elsewhere (GpuPlatform)

    # --- derived --------------------------------------------------------------------------
    @property
    def multi_node(self) -> bool:
        return self.nodes_per_replica > 1

    @property
    def served_model_name(self) -> str:
        return flag_value(list(self.engine_args), "--served-model-name") or self.model

    @property
    def service_name(self) -> str:
        # Not `name`: LeaderWorkerSet creates a headless Service of its own name.
        return f"{self.name}-api"

    @property
    def cpu_request(self) -> int:
        return max(1, math.floor(self.node_vcpus * CPU_FRACTION) - CPU_RESERVED)

    @property
    def memory_request_gib(self) -> int:
        return max(1, math.floor(self.node_memory_gib * MEMORY_FRACTION - MEMORY_RESERVED_GIB))

    @property
    def shm_size_gib(self) -> int:
        """/dev/shm: NCCL's intra-node buffers and the Ray object store need more than 64 MiB."""
        if self.shm_gib is not None:
            return math.ceil(self.shm_gib)
        return int(min(max(2, 2 * self.gpus_per_node), max(1, self.memory_request_gib // 4)))

    @property
    def startup_seconds(self) -> int:
        return self.startup_budget_s or startup_budget_s(self.weights_gib_total, self.nodes_per_replica)

    @property
    def inflight_target(self) -> int:
        """Requests in flight per replica the autoscaler aims for (capacity x utilisation)."""
        return max(1, math.floor(self.per_replica_max_concurrency * self.target_utilisation))

    @property
    def scale_down_stabilization_s(self) -> int:
        """At least 10 minutes, longer for slow cold starts (HPA caps the window at 1 h)."""
        return int(min(3600, max(600, self.startup_seconds)))

    def problems(self) -> list[Problem]:
        out = dns_label_problems("name", self.name, 40) + dns_label_problems("namespace", self.namespace)
        out += dns_label_problems("pool_name", self.pool_name)
        if not self.model:
            out.append(Problem("model.id", "no model given", "set the Hugging Face repo id"))
        if self.gpus_per_node < 1 or self.nodes_per_replica < 1:
            out.append(
                Problem(
                    "layout",
                    f"{self.gpus_per_node} GPUs per node x {self.nodes_per_replica} nodes per replica",
                    "use at least one GPU and one node",
                )
            )
        else:
            tp = int(flag_value(list(self.engine_args), "--tensor-parallel-size") or 1)
            pp = int(flag_value(list(self.engine_args), "--pipeline-parallel-size") or 1)
            if tp * pp != self.gpus_per_node * self.nodes_per_replica:
                out.append(
                    Problem(
                        "engine_args",
                        f"tensor x pipeline parallel = {tp} x {pp} = {tp * pp} GPUs, but a replica has "
                        f"{self.gpus_per_node} x {self.nodes_per_replica} = "
                        f"{self.gpus_per_node * self.nodes_per_replica}",
                        "make --tensor-parallel-size x --pipeline-parallel-size equal the replica's GPUs",
                    )
                )
        if self.node_vcpus < 2 + CPU_RESERVED:
            out.append(
                Problem("node_vcpus", f"{self.node_vcpus} vCPUs leave nothing for vLLM", "use a larger node size")
            )
        if self.memory_request_gib < self.shm_size_gib + 2:
            out.append(
                Problem(
                    "node_memory_gib",
                    f"{self.node_memory_gib} GiB leaves {self.memory_request_gib} GiB for the pod, not enough "
                    f"for a {self.shm_size_gib} GiB /dev/shm plus the server",
                    "use a node with more memory or set shm_gib lower",
                )
            )
        if self.weights_gib_total <= 0:
            out.append(Problem("weights_gib_total", f"{self.weights_gib_total} GiB", "pass the checkpoint size"))
        if not (0 <= self.min_replicas <= self.max_replicas and self.max_replicas >= 1):
            out.append(
                Problem(
                    "sla.min_replicas",
                    f"min_replicas {self.min_replicas}, max_replicas {self.max_replicas}",
                    "keep 0 <= min_replicas <= max_replicas and max_replicas >= 1",
                )
            )
        elif not self.min_replicas <= self.replicas <= self.max_replicas:
            out.append(
                Problem(
                    "replicas",
                    f"{self.replicas} is outside [{self.min_replicas}, {self.max_replicas}]",
                    "plan replicas between the autoscaling bounds",
                )
            )
        if self.autoscaling and self.per_replica_max_concurrency < 1:
            out.append(
                Problem(
                    "per_replica_max_concurrency",
                    f"{self.per_replica_max_concurrency}: autoscaling needs the per-replica capacity",
                    "pass the plan's per_replica_max_concurrency or set autoscaling: false",
                )
            )
        if not 0 < self.target_utilisation <= 1 or not 0 < self.kv_cache_target <= 1:
            out.append(
                Problem(
                    "target_utilisation",
                    f"{self.target_utilisation} / {self.kv_cache_target} must be in (0, 1]",
                    "use a fraction such as 0.8",
                )
            )
        if self.fabric == "efa" and self.cloud != "aws":
            out.append(Problem("fabric", f"EFA on {self.cloud}", "EFA exists only on AWS"))
        if self.fabric == "infiniband" and self.cloud != "azure":
            out.append(Problem("fabric", f"InfiniBand on {self.cloud}", "gpuforge uses InfiniBand on AKS only"))
        if self.multi_node and self.fabric == "efa" and self.efa_interfaces < 1:
            out.append(
                Problem(
                    "efa_interfaces",
                    "a multi-node replica on EFA needs the node's EFA interface count",
                    "pass efa_interfaces (the catalog's max_efa_interfaces of the instance type)",
                )
            )
        if self.multi_node and self.spread_zones:
            out.append(
                Problem(
                    "sla.spread_zones",
                    "multi-node replicas share one zone (their fabric and placement group)",
                    "drop spread_zones, or plan single-node replicas",
                )
            )
        if self.placement_domain_label == POOL_LABEL and self.multi_node and self.max_replicas > 1:
            out.append(
                Problem(
                    "placement_domain_label",
                    f"{POOL_LABEL} makes the whole pool one domain, and LWS exclusive topology puts one group "
                    f"per domain: max_replicas {self.max_replicas} could never schedule",
                    "use a label with one value per fabric domain, or leave it unset",
                )
            )
        if self.hf_token is not None and self.hf_token_secret_name:
            out.append(
                Problem("model.hf_token", "both hf_token and hf_token_secret_name given", "pass only one of them")
            )
        out += self._security_problems()
        if self.expose not in ("cluster", "gateway", "ingress"):
            out.append(Problem("serving.expose", f"{self.expose!r}", "use cluster, gateway or ingress"))
        if self.expose == "gateway" and not self.gateway_name:
            out.append(
                Problem("serving.gateway_name", "expose: gateway needs the Gateway to attach to", "set gateway_name")
            )
        for i, ns in enumerate(self.allowed_namespaces):
            out += dns_label_problems(f"serving.allowed_namespaces[{i}]", ns)
        c = self.model_cache
        if c.kind == "host_path" and not (c.path or "").startswith("/"):
            out.append(Problem("model_cache.path", f"{c.path!r} is not an absolute path", "give the NVMe mount"))
        if c.kind == "pvc":
            if not c.claim_name:
                out.append(Problem("model_cache.claim_name", "no claim name", "name the PVC"))
            if c.storage_class and not c.size_gib:
                out.append(Problem("model_cache.size_gib", "a new PVC needs a size", "set size_gib"))
            if c.access_mode == "ReadWriteOnce" and (self.multi_node or self.max_replicas > 1):
                out.append(
                    Problem(
                        "model_cache.access_mode",
                        "a ReadWriteOnce claim mounts on one node, but several pods on different nodes use it",
                        "use ReadWriteMany storage (EFS / Azure Files) or host_path",
                    )
                )
        return out

    def _security_problems(self) -> list[Problem]:
        out: list[Problem] = []
        if self.api_key is not None and self.api_key_secret_name:
            out.append(Problem("api_key", "both api_key and api_key_secret_name given", "pass only one of them"))
        if not self.require_api_key and (self.api_key is not None or self.api_key_secret_name):
            out.append(Problem("require_api_key", "false, but a key is given", "drop the key, or require it"))
        if self.run_as_non_root and self.root_reason:
            out.append(Problem("run_as_non_root", f"true, but {self.root_reason}", "leave run_as_non_root unset"))
        return out

    @property
    def root_reason(self) -> str | None:
        """Why the pods run as root (None: they run as a non-root user)."""
        rdma = self.multi_node and self.fabric in ("efa", "infiniband")
        return security.needs_root(rdma, self.model_cache.kind == "host_path")

    @property
    def non_root(self) -> bool:
        return self.run_as_non_root if self.run_as_non_root is not None else self.root_reason is None

    @classmethod
    def from_plan(
        cls,
        serving: ServingPlan,
        *,
        namespace: str = "llm",
        pool: NodePoolPlan | None = None,
        node_vcpus: int | None = None,
        node_memory_gib: float | None = None,
        efa_interfaces: int | None = None,
        **overrides: Any,
    ) -> ModelServerArgs:
        """The server the plan decided. Node size and EFA count come from the catalog entry of
        `pool.instance_type` unless given; `pool` also decides rollout surge and Spot tolerations.
        """
        inst = None
        if pool is not None and (node_vcpus is None or node_memory_gib is None or efa_interfaces is None):
            from gpuforge.catalog import get_instance

            inst = get_instance(pool.instance_type, pool.cloud)
        if node_vcpus is None or node_memory_gib is None:
            if inst is None:
                raise SpecError(
                    f"ModelServer {serving.name!r}",
                    [Problem("node", "the node size is unknown", "pass pool= or node_vcpus and node_memory_gib")],
                )
            node_vcpus = node_vcpus if node_vcpus is not None else inst.vcpus
            node_memory_gib = node_memory_gib if node_memory_gib is not None else inst.memory_gib
        if efa_interfaces is None:
            efa_interfaces = inst.max_efa_interfaces if (inst is not None and serving.fabric == "efa") else 0
        npr = serving.nodes_per_replica
        args = cls(
            name=serving.name,
            namespace=namespace,
            model=serving.model,
            engine_args=tuple(serving.engine_args()),
            gpus_per_node=serving.gpus_per_node,
            pool_name=serving.pool_name or (pool.name if pool else ""),
            node_vcpus=int(node_vcpus),
            node_memory_gib=float(node_memory_gib),
            weights_gib_total=serving.weights_gib_total,
            cloud=serving.cloud,
            nodes_per_replica=npr,
            replicas=serving.replicas,
            min_replicas=serving.min_replicas,
            max_replicas=serving.max_replicas,
            per_replica_max_concurrency=serving.per_replica_max_concurrency,
            fabric=serving.fabric,
            efa_interfaces=efa_interfaces,
            spread_zones=serving.spread_zones,
            # a plan with an on-demand base and a spot pool runs the same pods on both
            spot=bool(pool and pool.capacity_type == "spot") or serving.on_demand_replicas > 0,
            prefer_on_demand=serving.on_demand_replicas > 0,
            rollout_surge=bool(pool and pool.max_nodes - serving.max_replicas * npr >= npr),
        )
        return replace(args, **overrides)


# --- pod pieces ---------------------------------------------------------------------------------
def fabric_env(fabric: Fabric) -> list[dict[str, str]]:
    """NCCL / libfabric environment for a multi-node replica's fabric."""
    if fabric == "efa":
        return [
            # libfabric's EFA provider; GPUDirect RDMA over EFA (p4d / p5 / p6).
            {"name": "FI_PROVIDER", "value": "efa"},
            {"name": "FI_EFA_USE_DEVICE_RDMA", "value": "1"},
            {"name": "NCCL_DEBUG", "value": "WARN"},
            # Bootstrap and Ray traffic stay on the pod's primary interface.
            {"name": "NCCL_SOCKET_IFNAME", "value": "eth0"},
        ]
    if fabric == "infiniband":
        return [
            {"name": "NCCL_IB_DISABLE", "value": "0"},
            # Azure ND v4/v5 guidance (azhpc images' /etc/nccl.conf).
            {"name": "NCCL_IB_PCI_RELAXED_ORDERING", "value": "1"},
            {"name": "CUDA_DEVICE_ORDER", "value": "PCI_BUS_ID"},
            {"name": "NCCL_SOCKET_IFNAME", "value": "eth0"},
            {"name": "NCCL_DEBUG", "value": "WARN"},
        ]
    return []


def fabric_resources(a: ModelServerArgs) -> dict[str, str]:
    if not a.multi_node:
        return {}
    if a.fabric == "efa":
        return {"vpc.amazonaws.com/efa": str(a.efa_interfaces)}
    if a.fabric == "infiniband":
        # The RDMA shared device plugin gives the pod every IB HCA of the node for one unit.
        return {RDMA_RESOURCE: "1"}
    return {}


def serve_command(a: ModelServerArgs) -> list[str]:
    """`vllm serve <model> <engine args> --host --port [--distributed-executor-backend ray]`."""
    cmd = ["vllm", "serve", a.model, *a.engine_args, "--host", "0.0.0.0", "--port", str(HTTP_PORT)]
    if a.multi_node:
        cmd += ["--distributed-executor-backend", "ray"]
    return cmd


def leader_script(a: ModelServerArgs) -> str:
    """Ray head, wait for every GPU of the group to join, then serve."""
    gpus = a.gpus_per_node * a.nodes_per_replica
    count = 'python3 -c "import ray; ray.init(address=\'auto\', logging_level=\'ERROR\'); ' \
        'print(int(ray.cluster_resources().get(\'GPU\', 0)))"'
    return "\n".join(
        [
            "set -euo pipefail",
            f"ray start --head --port={RAY_PORT} --disable-usage-stats",
            f'until [ "$({count} 2>/dev/null || echo 0)" -ge {gpus} ]; do',
            f'  echo "waiting for {gpus} GPUs in the Ray cluster"; sleep 5',
            "done",
            "exec " + shlex.join(serve_command(a)),
        ]
    )


def worker_script() -> str:
    """Join the group's Ray head; `$(LWS_LEADER_ADDRESS)` is expanded by the kubelet."""
    return "\n".join(
        [
            "set -euo pipefail",
            "until python3 -c 'import socket, sys; socket.create_connection((sys.argv[1], "
            f"{RAY_PORT}), timeout=2)' \"$(LWS_LEADER_ADDRESS)\"; do",
            '  echo "waiting for the Ray head"; sleep 5',
            "done",
            f"exec ray start --address=$(LWS_LEADER_ADDRESS):{RAY_PORT} --block",
        ]
    )


def _probe(path: str, period: int, timeout: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    }


class ModelServer(pulumi.ComponentResource):
    """vLLM on a GPU pool: Deployment (single-node replicas) or LeaderWorkerSet (multi-node),
    Service, PodDisruptionBudget, NetworkPolicy, optional HTTPRoute / Ingress and a KEDA
    ScaledObject. Custom resources wait for `args.crd_dependencies`.
    """

    service_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    api_key: pulumi.Output[str] | None  # secret; None when the key is in an existing Secret or not required

    def __init__(self, name: str, args: ModelServerArgs, opts: pulumi.ResourceOptions | None = None):
        problems = args.problems()
        if problems:
            raise SpecError(f"ModelServer {name!r}", problems)
        super().__init__("gpuforge:k8s:ModelServer", name, None, opts)
        self._args = args
        a = args
        ns_deps: list[pulumi.Resource] = []
        if a.create_namespace:
            self.namespace = k8s.core.v1.Namespace(
                f"{name}-ns",
                metadata={"name": a.namespace, "labels": security.serving_namespace_labels()},
                opts=pulumi.ResourceOptions(parent=self),
            )
            ns_deps = [self.namespace]
            self.default_deny = security.default_deny_policy(
                f"{name}-default-deny", a.namespace, pulumi.ResourceOptions(parent=self, depends_on=ns_deps)
            )
        ns_deps += list(a.namespace_dependencies)
        child = pulumi.ResourceOptions(parent=self, depends_on=ns_deps)
        crd_child = pulumi.ResourceOptions(parent=self, depends_on=ns_deps + list(a.crd_dependencies))

        token_secret = a.hf_token_secret_name
        if a.hf_token is not None:
            token_secret = f"{a.name}-hf-token"
            self.hf_token_secret = k8s.core.v1.Secret(
                f"{name}-hf-token",
                metadata={"name": token_secret, "namespace": a.namespace, "labels": instance_labels(a.name)},
                type="Opaque",
                string_data={"token": pulumi.Output.secret(a.hf_token)},
                opts=pulumi.ResourceOptions.merge(
                    child, pulumi.ResourceOptions(additional_secret_outputs=["data", "stringData"])
                ),
            )

        api_key_secret = self._api_key(name, child)
        self._api_key_secret = api_key_secret

        if a.model_cache.kind == "pvc" and a.model_cache.storage_class:
            self.cache_claim = k8s.core.v1.PersistentVolumeClaim(
                f"{name}-cache",
                metadata={
                    "name": a.model_cache.claim_name,
                    "namespace": a.namespace,
                    "labels": instance_labels(a.name),
                },
                spec={
                    "accessModes": [a.model_cache.access_mode],
                    "storageClassName": a.model_cache.storage_class,
                    "resources": {"requests": {"storage": gib(a.model_cache.size_gib or 0)}},
                },
                opts=child,
            )

        if a.multi_node:
            self.workload = k8s.apiextensions.CustomResource(
                f"{name}-lws",
                api_version="leaderworkerset.x-k8s.io/v1",
                kind="LeaderWorkerSet",
                metadata=self._lws_metadata(),
                spec=self._lws_spec(token_secret),
                opts=crd_child,
            )
        else:
            self.workload = k8s.apps.v1.Deployment(
                f"{name}-deployment",
                metadata=self._deployment_metadata(),
                spec=self._deployment_spec(token_secret),
                opts=child,
            )

        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": a.service_name, "namespace": a.namespace, "labels": instance_labels(a.name, SERVER)},
            spec={
                "type": "ClusterIP",
                "selector": selector_labels(a.name, SERVER),
                "ports": [{"name": "http", "port": HTTP_PORT, "targetPort": "http", "protocol": "TCP"}],
            },
            opts=child,
        )

        self.pdb = k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata={"name": a.name, "namespace": a.namespace, "labels": instance_labels(a.name)},
            spec={
                # One pod at a time. For a LeaderWorkerSet losing any pod recreates its whole
                # group, so one eviction takes one replica down and blocks the next until it is back.
                "maxUnavailable": 1,
                "selector": {"matchLabels": selector_labels(a.name)},
                "unhealthyPodEvictionPolicy": "AlwaysAllow",
            },
            opts=child,
        )

        self.network_policy = k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata={"name": a.name, "namespace": a.namespace, "labels": instance_labels(a.name)},
            spec=self._network_policy_spec(),
            opts=child,
        )

        if a.expose == "gateway":
            parent_ref: dict[str, Any] = {"name": a.gateway_name}
            if a.gateway_namespace:
                parent_ref["namespace"] = a.gateway_namespace
            route_spec: dict[str, Any] = {
                "parentRefs": [parent_ref],
                # Only the OpenAI API; /metrics and /health stay inside the cluster.
                "rules": [
                    {
                        "matches": [{"path": {"type": "PathPrefix", "value": "/v1"}}],
                        "backendRefs": [{"name": a.service_name, "port": HTTP_PORT}],
                    }
                ],
            }
            if a.hostname:
                route_spec["hostnames"] = [a.hostname]
            self.route = k8s.apiextensions.CustomResource(
                f"{name}-route",
                api_version="gateway.networking.k8s.io/v1",
                kind="HTTPRoute",
                metadata={"name": a.name, "namespace": a.namespace, "labels": instance_labels(a.name)},
                spec=route_spec,
                opts=crd_child,
            )
        elif a.expose == "ingress":
            rule: dict[str, Any] = {
                "http": {
                    "paths": [
                        {
                            "path": "/v1",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": a.service_name, "port": {"number": HTTP_PORT}}},
                        }
                    ]
                }
            }
            if a.hostname:
                rule["host"] = a.hostname
            ingress_spec: dict[str, Any] = {"rules": [rule]}
            if a.ingress_class:
                ingress_spec["ingressClassName"] = a.ingress_class
            self.ingress = k8s.networking.v1.Ingress(
                f"{name}-ingress",
                metadata={"name": a.name, "namespace": a.namespace, "labels": instance_labels(a.name)},
                spec=ingress_spec,
                opts=child,
            )

        if a.autoscaling:
            auth_ref = None
            if a.prometheus_bearer_secret:
                self.trigger_auth = k8s.apiextensions.CustomResource(
                    f"{name}-prometheus-auth",
                    api_version="keda.sh/v1alpha1",
                    kind="TriggerAuthentication",
                    metadata={"name": f"{a.name}-prometheus", "namespace": a.namespace},
                    spec={
                        "secretTargetRef": [
                            {"parameter": "bearerToken", "name": a.prometheus_bearer_secret, "key": "token"}
                        ]
                    },
                    opts=crd_child,
                )
                auth_ref = {"name": f"{a.name}-prometheus", "kind": "TriggerAuthentication"}
            self.scaled_object = k8s.apiextensions.CustomResource(
                f"{name}-scaler",
                api_version="keda.sh/v1alpha1",
                kind="ScaledObject",
                metadata={"name": a.name, "namespace": a.namespace, "labels": instance_labels(a.name)},
                spec=self._scaled_object_spec(auth_ref),
                opts=crd_child,
            )

        self.service_name = pulumi.Output.from_input(a.service_name)
        self.endpoint = pulumi.Output.from_input(
            f"http://{a.service_name}.{a.namespace}.svc.cluster.local:{HTTP_PORT}/v1"
        )
        self.api_key_secret_name = pulumi.Output.from_input(api_key_secret or "")
        self.register_outputs(
            {
                "service_name": self.service_name,
                "endpoint": self.endpoint,
                "api_key": self.api_key,
                "api_key_secret_name": self.api_key_secret_name,
            }
        )

    def _api_key(self, name: str, child: pulumi.ResourceOptions) -> str | None:
        """The Secret holding the API key (created unless an existing one is named); sets
        `self.api_key` (a secret Output, or None when the key lives in a Secret we did not make)."""
        a = self._args
        self.api_key = None
        if not a.require_api_key:
            return None
        if a.api_key_secret_name:
            return a.api_key_secret_name
        key = a.api_key if a.api_key is not None else security.generated_api_key(f"{name}-api-key", pulumi.ResourceOptions(parent=self))
        self.api_key = pulumi.Output.secret(key)
        secret_name = f"{a.name}-api-key"
        self.api_key_secret = security.api_key_secret(f"{name}-api-key", secret_name, a.namespace, a.name, self.api_key, child)
        return secret_name

    # --- pod template -------------------------------------------------------------------------
    def _env(self, token_secret: str | None, role: str = SERVER) -> list[dict[str, Any]]:
        a = self._args
        env: list[dict[str, Any]] = [
            {"name": "HF_HOME", "value": f"{CACHE_MOUNT}/huggingface"},
            {"name": "VLLM_NO_USAGE_STATS", "value": "1"},
            {"name": "DO_NOT_TRACK", "value": "1"},
        ]
        env += security.writable_env()
        if token_secret:
            env.append(security.hf_token_volume(token_secret)[2])  # a file, not the value
        if role == SERVER and self._api_key_secret:
            env.append(security.api_key_env(self._api_key_secret))
        if a.multi_node:
            env += fabric_env(a.fabric)
        return env

    def _resources(self) -> dict[str, Any]:
        a = self._args
        fabric = fabric_resources(a)
        requests = {
            "cpu": str(a.cpu_request),
            "memory": gib(a.memory_request_gib),
            "nvidia.com/gpu": str(a.gpus_per_node),
            **fabric,
        }
        # No CPU limit (throttling slows tokenisation); memory limit = request so the pod is never
        # the first to go when the node runs short.
        limits = {"memory": gib(a.memory_request_gib), "nvidia.com/gpu": str(a.gpus_per_node), **fabric}
        return {"requests": requests, "limits": limits}

    def _volumes(self, token_secret: str | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        a = self._args
        c = a.model_cache
        if c.kind == "host_path":
            cache: dict[str, Any] = {"hostPath": {"path": c.path, "type": "DirectoryOrCreate"}}
        elif c.kind == "pvc":
            cache = {"persistentVolumeClaim": {"claimName": c.claim_name}}
        else:
            size = c.size_gib if c.size_gib is not None else a.weights_gib_total * 1.2 + 10
            cache = {"emptyDir": {"sizeLimit": gib(size)}}
        volumes = [
            {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": gib(a.shm_size_gib)}},
            {"name": "model-cache", **cache},
        ]
        mounts = [{"name": "shm", "mountPath": "/dev/shm"}, {"name": "model-cache", "mountPath": CACHE_MOUNT}]
        extra_volumes, extra_mounts = security.writable_volumes()
        volumes += extra_volumes
        mounts += extra_mounts
        if token_secret:
            volume, mount, _ = security.hf_token_volume(token_secret)
            volumes.append(volume)
            mounts.append(mount)
        return volumes, mounts

    def _container(self, token_secret: str | None, role: str) -> dict[str, Any]:
        a = self._args
        _, mounts = self._volumes(token_secret)
        # RDMA memory registration pins pages: lift the locked-memory limit.
        caps = ("IPC_LOCK",) if a.multi_node and a.fabric in ("efa", "infiniband") else ()
        container: dict[str, Any] = {
            "name": "vllm" if role == SERVER else "vllm-worker",
            "image": a.image,
            "env": self._env(token_secret, role),
            "resources": self._resources(),
            "volumeMounts": mounts,
            "securityContext": security.container_security_context(a.non_root, caps),
        }
        if role == WORKER:
            container["command"] = ["/bin/bash", "-c", worker_script()]
            return container
        if a.multi_node:
            container["command"] = ["/bin/bash", "-c", leader_script(a)]
        else:
            cmd = serve_command(a)
            container["command"], container["args"] = cmd[:2], cmd[2:]
        container["ports"] = [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}]
        if a.multi_node:
            container["ports"].append({"name": "ray", "containerPort": RAY_PORT, "protocol": "TCP"})
        container["startupProbe"] = _probe("/health", PROBE_PERIOD_S, 5, math.ceil(a.startup_seconds / PROBE_PERIOD_S))
        container["readinessProbe"] = _probe("/health", 10, 5, 3)
        container["livenessProbe"] = _probe("/health", 30, 10, 4)
        return container

    def _pod_spec(self, token_secret: str | None, role: str) -> dict[str, Any]:
        a = self._args
        volumes, _ = self._volumes(token_secret)
        tolerations = [gpu_toleration()]
        if a.spot and a.cloud == "azure":
            tolerations.append(dict(AZURE_SPOT_TAINT))
        spec: dict[str, Any] = {
            "nodeSelector": {POOL_LABEL: a.pool_name},
            "tolerations": tolerations,
            # A Service named like vLLM's settings would inject VLLM_PORT and break the server.
            "enableServiceLinks": False,
            # the server never calls the Kubernetes API: no token to steal
            "automountServiceAccountToken": False,
            "securityContext": security.pod_security_context(a.non_root),
            "terminationGracePeriodSeconds": 60,
            "containers": [self._container(token_secret, role)],
            "volumes": volumes,
        }
        if a.prefer_on_demand:
            # the on-demand pool is sized for min_replicas and never scales: filling it first
            # keeps those replicas off spot capacity (the spot pool takes the rest)
            spec["affinity"] = {
                "nodeAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": 100, "preference": {"matchExpressions": [{"key": CAPACITY_LABEL, "operator": "In", "values": ["on-demand"]}]}}
                    ]
                }
            }
        if a.spread_zones and not a.multi_node:
            spec["topologySpreadConstraints"] = [
                {
                    "maxSkew": 1,
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": {"matchLabels": selector_labels(a.name, SERVER)},
                }
            ]
        return spec

    def _await_annotations(self) -> dict[str, str]:
        a = self._args
        if not a.wait_for_ready:
            return {"pulumi.com/skipAwait": "true"}
        # `pulumi up` waits for the model to load (default would give up after 10 minutes).
        return {"pulumi.com/timeoutSeconds": str(a.startup_seconds + 600)}

    def _deployment_metadata(self) -> dict[str, Any]:
        a = self._args
        return {
            "name": a.name,
            "namespace": a.namespace,
            "labels": instance_labels(a.name, SERVER),
            "annotations": self._await_annotations(),
        }

    def _rollout(self) -> tuple[int, int]:
        """(maxSurge, maxUnavailable): surge only when the pool has a spare replica's nodes."""
        return (1, 0) if self._args.rollout_surge else (0, 1)

    def _deployment_spec(self, token_secret: str | None) -> dict[str, Any]:
        a = self._args
        surge, unavailable = self._rollout()
        spec: dict[str, Any] = {
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": selector_labels(a.name, SERVER)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}},
            # A rollout is not stuck while the new pod downloads the model.
            "progressDeadlineSeconds": a.startup_seconds + 300,
            "template": {
                "metadata": {"labels": instance_labels(a.name, SERVER)},
                "spec": self._pod_spec(token_secret, SERVER),
            },
        }
        if not a.autoscaling:
            spec["replicas"] = a.replicas  # with KEDA, the HPA owns the replica count
        return spec

    def _lws_metadata(self) -> dict[str, Any]:
        a = self._args
        meta: dict[str, Any] = {"name": a.name, "namespace": a.namespace, "labels": instance_labels(a.name)}
        if a.placement_domain_label:
            # One group per fabric domain, leader and workers inside it.
            meta["annotations"] = {"leaderworkerset.sigs.k8s.io/exclusive-topology": a.placement_domain_label}
        return meta

    def _lws_spec(self, token_secret: str | None) -> dict[str, Any]:
        a = self._args
        surge, unavailable = self._rollout()
        spec: dict[str, Any] = {
            # Workers start with the leader: the leader only turns ready once they joined Ray.
            "startupPolicy": "LeaderCreated",
            "rolloutStrategy": {
                "type": "RollingUpdate",
                "rollingUpdateConfiguration": {"maxSurge": surge, "maxUnavailable": unavailable},
            },
            "leaderWorkerTemplate": {
                "size": a.nodes_per_replica,
                # A dead worker breaks the NCCL communicator: restart the whole group.
                "restartPolicy": "RecreateGroupOnPodRestart",
                "leaderTemplate": {
                    "metadata": {"labels": instance_labels(a.name, SERVER)},
                    "spec": self._pod_spec(token_secret, SERVER),
                },
                "workerTemplate": {
                    "metadata": {"labels": instance_labels(a.name, WORKER)},
                    "spec": self._pod_spec(token_secret, WORKER),
                },
            },
        }
        if not a.autoscaling:
            spec["replicas"] = a.replicas
        return spec

    def _network_policy_spec(self) -> dict[str, Any]:
        a = self._args
        http = [{"protocol": "TCP", "port": HTTP_PORT}]
        callers = list(a.allowed_namespaces)
        if a.expose == "gateway" and a.gateway_namespace:
            callers.append(a.gateway_namespace)
        if a.expose == "ingress" and a.ingress_controller_namespace:
            callers.append(a.ingress_controller_namespace)

        def from_namespaces(names: list[str]) -> list[dict[str, Any]]:
            return [
                {
                    "namespaceSelector": {
                        "matchExpressions": [
                            {"key": "kubernetes.io/metadata.name", "operator": "In", "values": sorted(set(names))}
                        ]
                    }
                }
            ]

        ingress: list[dict[str, Any]] = []
        if callers:
            ingress.append({"from": from_namespaces(callers), "ports": http})
        # Prometheus scrapes /metrics on the same port.
        ingress.append({"from": from_namespaces([a.monitoring_namespace]), "ports": http})
        if a.multi_node:
            # Ray, NCCL bootstrap and vLLM's own traffic between the pods of a group.
            ingress.append({"from": [{"podSelector": {"matchLabels": selector_labels(a.name)}}]})
        return {
            "podSelector": {"matchLabels": selector_labels(a.name)},
            "policyTypes": ["Ingress"],
            "ingress": ingress,
        }

    def _scaled_object_spec(self, auth_ref: dict[str, str] | None) -> dict[str, Any]:
        a = self._args
        sel = f'namespace="{promql_str(a.namespace)}", model_name="{promql_str(a.served_model_name)}"'
        if a.multi_node:
            # Scale whole groups through the LeaderWorkerSet's scale subresource, not pods.
            target = {"apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet", "name": a.name}
        else:
            target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": a.name}

        def trigger(trigger_name: str, query: str, threshold: str) -> dict[str, Any]:
            meta = {"serverAddress": a.prometheus_url, "query": query, "threshold": threshold}
            t: dict[str, Any] = {
                "type": "prometheus",
                "name": trigger_name,
                "metricType": "AverageValue",
                "metadata": meta,
            }
            if auth_ref:
                meta["authModes"] = "bearer"
                t["authenticationRef"] = auth_ref
            return t

        return {
            "scaleTargetRef": target,
            "minReplicaCount": a.min_replicas,
            "maxReplicaCount": a.max_replicas,
            "pollingInterval": 15,
            "cooldownPeriod": 300,
            # Prometheus unreachable: hold the planned size instead of guessing.
            "fallback": {"failureThreshold": 3, "replicas": max(a.min_replicas, a.replicas)},
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    "behavior": {
                        "scaleDown": {
                            "stabilizationWindowSeconds": a.scale_down_stabilization_s,
                            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 300}],
                        },
                        "scaleUp": {
                            "stabilizationWindowSeconds": 0,
                            "policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}],
                        },
                    }
                }
            },
            "triggers": [
                # AverageValue: replicas = ceil(query / threshold). Waiting requests count with the
                # running ones, so a queue adds replicas in proportion to its length.
                trigger(
                    "requests-in-flight",
                    f"(sum(vllm:num_requests_running{{{sel}}}) + sum(vllm:num_requests_waiting{{{sel}}})) "
                    "or vector(0)",
                    str(a.inflight_target),
                ),
                trigger(
                    "kv-cache-usage",
                    f"sum(vllm:kv_cache_usage_perc{{{sel}}}) or vector(0)",
                    f"{a.kv_cache_target:g}",
                ),
            ],
        }


__all__ = [
    "ModelCache",
    "ModelServer",
    "ModelServerArgs",
    "fabric_env",
    "leader_script",
    "serve_command",
    "startup_budget_s",
    "worker_script",
]

"""`ModelServer`: vLLM's OpenAI-compatible server for one model, on one GPU pool."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

from gpuforge.engine import launch as engine_launch
from gpuforge.engine.launch import (
    EXPECTED_NCCL_NET,
    FABRIC_METRICS_PORT,
    NCCL_LOG_DIR,
    PRESTOP_S,
    SCRIPTS_DIR,
    Launch,
    drain_seconds,
    flag_value,
    multinode_problems,
    termination_grace_s,
    worker_prestop_command,
)
from gpuforge.errors import Problem, SpecError
from gpuforge.k8s import security
from gpuforge.k8s.images import VLLM_CUDA, ServingImage, default_image
from gpuforge.k8s.manifests import (
    AZURE_SPOT_TAINT,
    DEFAULT_PROMETHEUS_URL,
    HTTP_PORT,
    MONITORING_NAMESPACE,
    POOL_LABEL,
    dns_label_problems,
    gib,
    gpu_toleration,
    instance_labels,
    promql_str,
    selector_labels,
)
from gpuforge.k8s.platform import RDMA_RESOURCE
from gpuforge.plan import CAPACITY_LABEL, Cloud, Fabric, NodePoolPlan, ServingPlan

# --- start-up time model (docs/serving.md, "Probes") -----------------------------------------
# Assumed rates; the deadlines built from them are not estimates, so they are pessimistic.
HF_DOWNLOAD_GIB_PER_S = 0.1  # Hugging Face hub to one node, ~0.9 Gbit/s
LOAD_GIB_PER_S = 1.0  # safetensors from the node's disk into GPU memory
ENGINE_INIT_S = 600  # profiling run, torch.compile and CUDA-graph capture
PROBE_PERIOD_S = 10

# --- model cache -------------------------------------------------------------------------------
# Room the Hugging Face cache needs beyond the checkpoint: `.incomplete` partial files and lock
# files while downloading, tokenizer / config files, and headroom against the kubelet's
# ephemeral-storage eviction (an emptyDir over its sizeLimit evicts the pod).
CACHE_OVERHEAD = 1.1
CACHE_EXTRA_GIB = 10.0
# EKS AL2023 NVIDIA AMI with nodeadm `localStorage: RAID0` (gpuforge's AWS node pools): the
# instance-store NVMe disks are one md RAID0 mounted at /mnt/k8s-disks/0, and kubelet / containerd
# / pod logs are bind-mounted onto it (awslabs/amazon-eks-ami templates/shared/runtime/bin/
# setup-local-disks, `array_mount_point="${MNT_DIR}/0"`, MNT_DIR=/mnt/k8s-disks). A hostPath
# there keeps the checkpoint across pod restarts and group re-creations on the node.
AWS_NVME_CACHE_PATH = "/mnt/k8s-disks/0/gpuforge/model-cache"
AWS_NVME_AMI_PREFIX = "AL2023"
# AKS does not format or mount an ND VM's NVMe disks (they come up raw; AKS points to Azure
# Container Storage for them: articles/aks/best-practices-storage-nvme.md), so on Azure the cache
# is a per-pod Premium SSD claim (StorageClass `managed-csi-premium`, built into AKS:
# articles/aks/azure-csi-disk-storage-provision.md).
AZURE_CACHE_STORAGE_CLASS = "managed-csi-premium"

# --- pod sizing --------------------------------------------------------------------------------
# The pod takes the whole node; keep back what the kubelet reserves (kube/system-reserved,
# eviction threshold) and what the node daemons (CNI, kube-proxy, device plugins, DCGM exporter,
# node exporter) request.
CPU_FRACTION, CPU_RESERVED = 0.9, 2
MEMORY_FRACTION, MEMORY_RESERVED_GIB = 0.9, 4.0

CACHE_MOUNT = "/model-cache"
SERVER, WORKER = "server", "worker"
GPU_RESOURCE = {"cuda": "nvidia.com/gpu", "rocm": "amd.com/gpu"}

Expose = Literal["cluster", "gateway", "ingress"]


def _minutes(seconds: float) -> int:
    return int(math.ceil(seconds / 60.0) * 60)


def download_budget_s(download_gib: float) -> int:
    """Seconds the download step may take: the whole checkpoint at the assumed Hub rate."""
    return _minutes(max(0.0, download_gib) / HF_DOWNLOAD_GIB_PER_S)


def load_budget_s(weights_gib_total: float, nodes_per_replica: int = 1) -> int:
    """Seconds from a cached checkpoint to `/health`: each node loads its share, then engine start."""
    return _minutes(ENGINE_INIT_S + weights_gib_total / max(1, nodes_per_replica) / LOAD_GIB_PER_S)


def startup_budget_s(weights_gib_total: float, nodes_per_replica: int = 1, download_gib: float | None = None) -> int:
    """Seconds from pod start to a serving replica: download (every node downloads the whole
    checkpoint, in parallel), then load and engine start. `download_gib` is the size of the
    repository's files (default: the weights)."""
    dl = weights_gib_total if download_gib is None else download_gib
    return _minutes(dl / HF_DOWNLOAD_GIB_PER_S + ENGINE_INIT_S + weights_gib_total / max(1, nodes_per_replica) / LOAD_GIB_PER_S)


def plan_download_gib(serving: ServingPlan) -> float:
    """The checkpoint's download size: the plan's `checkpoint_download_gib` when the planner
    provides it; otherwise the runtime weights, doubled when fp8 is applied at load time to a
    16-bit checkpoint (the repository holds bf16 weights, twice the fp8 runtime size)."""
    explicit = float(getattr(serving, "checkpoint_download_gib", 0.0) or 0.0)
    if explicit > 0:
        return explicit
    if serving.quantization == "fp8":
        return serving.weights_gib_total * 2.0
    return serving.weights_gib_total


@dataclass(frozen=True)
class ModelCache:
    """Where the Hugging Face cache lives (mounted at /model-cache, HF_HOME below it).

    `empty_dir` lives on the kubelet's disk and dies with the pod; `host_path` (the node's NVMe
    mount) survives pod restarts on the same node; `pvc` uses one shared claim (ReadWriteMany
    when more than one node mounts it: EFS / FSx for Lustre, Azure Files / Blob), created when
    `storage_class` is given; `per_pod` gives every pod a claim of its own from `storage_class`
    (a generic ephemeral volume for a Deployment's pods, surviving container restarts; for a
    LeaderWorkerSet a `volumeClaimTemplates` claim, kept across group re-creations).
    A `size_gib` of None is sized from the checkpoint's download size.
    """

    kind: Literal["empty_dir", "host_path", "pvc", "per_pod"] = "empty_dir"
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

    @classmethod
    def per_pod(cls, storage_class: str, size_gib: float | None = None) -> ModelCache:
        return cls("per_pod", size_gib=size_gib, storage_class=storage_class, access_mode="ReadWriteOnce")

    @property
    def survives_pod_recreation(self) -> bool:
        return self.kind in ("host_path", "pvc")


def cache_size_gib(download_gib: float) -> float:
    """A cache volume that holds the downloaded checkpoint with its partial files and headroom."""
    return download_gib * CACHE_OVERHEAD + CACHE_EXTRA_GIB


def default_model_cache(
    cloud: str, local_nvme_gb: int | None, node_image: str | None, download_gib: float
) -> tuple[ModelCache, list[Problem]]:
    """The cache for a pool: the node's NVMe RAID where the node image mounts it, else per cloud.

    Returns the cache and the problems found (a checkpoint larger than the NVMe array).
    """
    need = cache_size_gib(download_gib)
    if cloud == "aws" and local_nvme_gb:
        ami = (node_image or "AL2023_x86_64_NVIDIA").upper()
        nvme_gib = local_nvme_gb * 1e9 / (1 << 30)
        if need > nvme_gib:
            return ModelCache.empty_dir(), [
                Problem(
                    "model_cache",
                    f"the checkpoint needs {need:.0f} GiB of cache, the instance's NVMe has {nvme_gib:.0f} GiB",
                    "use an instance with more instance storage or a shared cache (serving.model_cache.storage_class)",
                )
            ]
        if ami.startswith(AWS_NVME_AMI_PREFIX):
            return ModelCache.host_path(AWS_NVME_CACHE_PATH), []
        # Other AMIs (Bottlerocket binds the array under /var/lib/kubelet): an emptyDir is on the
        # NVMe array too, sized to the checkpoint, but dies with the pod.
        return ModelCache.empty_dir(), []
    if cloud == "azure":
        return ModelCache.per_pod(AZURE_CACHE_STORAGE_CLASS), []
    return ModelCache.empty_dir(), []


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
        node_vcpus, node_memory_gib: the node's size; without pod_cpu_request /
            pod_memory_request_gib (the plan's per-pod requests) the pod requests it minus headroom.
        weights_gib_total: weights in GPU memory (load time).
        download_gib: size of the checkpoint's files in the repository (cache size, download
            budget); 0 = weights_gib_total.
        revision: the repository revision to download (also `--revision` in engine_args).
        image: the serving image and what it can run (CUDA / ROCm, EFA plugin, Ray).
        fabric, efa_interfaces: multi-node fabric (`vpc.amazonaws.com/efa: efa_interfaces` or
            `rdma/ib: 1`).
        ttft_p95_ms, itl_p95_ms, output_tokens: the SLA and planned completion length, for the
            drain deadline (`--shutdown-timeout`); drain_seconds overrides it.
        fabric_check: multi-node pods report which network NCCL chose (log line and metrics).
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
    download_gib: float = 0.0
    revision: str | None = None
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
    image: ServingImage = VLLM_CUDA
    hf_token: pulumi.Input[str] | None = None
    hf_token_secret_name: str | None = None
    api_key: pulumi.Input[str] | None = None
    api_key_secret_name: str | None = None
    require_api_key: bool = True
    run_as_non_root: bool | None = None
    model_cache: ModelCache = field(default_factory=ModelCache)
    shm_gib: float | None = None
    startup_budget_s: int | None = None
    ttft_p95_ms: float = 0.0
    itl_p95_ms: float = 0.0
    output_tokens: int = 0
    drain_seconds: int | None = None
    fabric_check: bool = True
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
    plan_problems: tuple[Problem, ...] = ()
    # per-pod requests from the plan (ServingPlan.cpu_request / memory_request_gib); 0 = derive
    pod_cpu_request: int = 0
    pod_memory_request_gib: int = 0

    # --- derived --------------------------------------------------------------------------
    @property
    def multi_node(self) -> bool:
        return self.nodes_per_replica > 1

    @property
    def gpu_resource(self) -> str:
        return GPU_RESOURCE[self.image.accelerator]

    @property
    def checkpoint_gib(self) -> float:
        return self.download_gib if self.download_gib > 0 else self.weights_gib_total

    @property
    def cache_size_gib(self) -> float:
        c = self.model_cache
        return c.size_gib if c.size_gib is not None else cache_size_gib(self.checkpoint_gib)

    @property
    def shutdown_timeout_s(self) -> int:
        """vLLM's `--shutdown-timeout`: finish a planned-length request at the SLA (0 = abort)."""
        if self.drain_seconds is not None:
            return max(0, int(self.drain_seconds))
        if self.ttft_p95_ms <= 0 or self.itl_p95_ms <= 0:
            return 0
        return drain_seconds(self.ttft_p95_ms, self.itl_p95_ms, self.output_tokens)

    @property
    def termination_grace_s(self) -> int:
        return termination_grace_s(self.shutdown_timeout_s)

    @property
    def download_seconds(self) -> int:
        return download_budget_s(self.checkpoint_gib)

    @property
    def nccl_net(self) -> str | None:
        """The NCCL network a multi-node replica must use (None: single node or no fabric)."""
        if not self.multi_node:
            return None
        return EXPECTED_NCCL_NET.get(self.fabric)

    @property
    def launch(self) -> Launch:
        return Launch(
            model=self.model,
            engine_args=tuple(self.engine_args),
            port=HTTP_PORT,
            nnodes=self.nodes_per_replica,
            shutdown_timeout_s=self.shutdown_timeout_s,
            # The group waits at torch.distributed init for its slowest node's download and load.
            distributed_timeout_s=(self.download_seconds + self.startup_seconds) if self.multi_node else None,
        )

    @property
    def served_model_name(self) -> str:
        return flag_value(list(self.engine_args), "--served-model-name") or self.model

    @property
    def service_name(self) -> str:
        # Not `name`: LeaderWorkerSet creates a headless Service of its own name.
        return f"{self.name}-api"

    @property
    def cpu_request(self) -> int:
        """The plan's per-pod request (node allocatable / replicas per node), else the node minus headroom."""
        if self.pod_cpu_request:
            return self.pod_cpu_request
        return max(1, math.floor(self.node_vcpus * CPU_FRACTION) - CPU_RESERVED)

    @property
    def memory_request_gib(self) -> int:
        if self.pod_memory_request_gib:
            return self.pod_memory_request_gib
        return max(1, math.floor(self.node_memory_gib * MEMORY_FRACTION - MEMORY_RESERVED_GIB))

    @property
    def shm_size_gib(self) -> int:
        """/dev/shm: NCCL's intra-node buffers and the Ray object store need more than 64 MiB."""
        if self.shm_gib is not None:
            return math.ceil(self.shm_gib)
        return int(min(max(2, 2 * self.gpus_per_node), max(1, self.memory_request_gib // 4)))

    @property
    def startup_seconds(self) -> int:
        """The server container's startup probe budget: load and engine start (the download runs
        before, in the `model-download` init container)."""
        return self.startup_budget_s or load_budget_s(self.weights_gib_total, self.nodes_per_replica)

    @property
    def ready_seconds(self) -> int:
        """From pod start to ready: download, then load and engine start."""
        return self.download_seconds + self.startup_seconds

    @property
    def inflight_target(self) -> int:
        """Requests in flight per replica the autoscaler aims for (capacity x utilisation)."""
        return max(1, math.floor(self.per_replica_max_concurrency * self.target_utilisation))

    @property
    def scale_down_stabilization_s(self) -> int:
        """At least 10 minutes, longer for slow cold starts (HPA caps the window at 1 h)."""
        return int(min(3600, max(600, self.ready_seconds)))

    def problems(self) -> list[Problem]:
        out = dns_label_problems("name", self.name, 40) + dns_label_problems("namespace", self.namespace)
        out += list(self.plan_problems)
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
        out += multinode_problems(self.engine_args, self.gpus_per_node, self.nodes_per_replica, self.image.ray)
        if self.multi_node and not self.image.supports_fabric(self.fabric):
            if self.fabric == "efa":
                fix = (
                    "build images/vllm-efa/Dockerfile (vLLM + libfabric + aws-ofi-nccl), push it and set "
                    "serving.efa_image to its reference"
                )
            else:
                fix = "use an image with libibverbs (rdma-core), such as the stock vllm/vllm-openai image"
            out.append(
                Problem(
                    "serving.image",
                    f"{self.image.ref} has no NCCL transport for {self.fabric}: NCCL would fall back to TCP "
                    "sockets between the nodes of a replica",
                    fix,
                )
            )
        if self.image.vllm_version != VLLM_CUDA.vllm_version:
            out.append(
                Problem(
                    "serving.image",
                    f"{self.image.ref} runs vLLM {self.image.vllm_version}, sizing is calibrated to {VLLM_CUDA.vllm_version}",
                    f"use an image of vLLM {VLLM_CUDA.vllm_version}",
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
        if self.download_gib < 0:
            out.append(Problem("download_gib", f"{self.download_gib} GiB", "pass the checkpoint's download size"))
        if c.size_gib is not None and c.size_gib < self.checkpoint_gib:
            out.append(
                Problem(
                    "model_cache.size_gib",
                    f"{c.size_gib:g} GiB cannot hold the {self.checkpoint_gib:.0f} GiB checkpoint",
                    f"size the cache at least {cache_size_gib(self.checkpoint_gib):.0f} GiB (or leave it unset)",
                )
            )
        if c.kind == "per_pod" and not c.storage_class:
            out.append(Problem("model_cache.storage_class", "a per-pod cache claim needs a StorageClass", "set storage_class"))
        if c.kind == "host_path" and not (c.path or "").startswith("/"):
            out.append(Problem("model_cache.path", f"{c.path!r} is not an absolute path", "give the NVMe mount"))
        if c.kind == "pvc":
            if not c.claim_name:
                out.append(Problem("model_cache.claim_name", "no claim name", "name the PVC"))
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
        node_image: str | None = None,
        efa_image: str | None = None,
        **overrides: Any,
    ) -> ModelServerArgs:
        """The server the plan decided. Node size, EFA count and instance NVMe come from the
        catalog entry of `pool.instance_type` unless given; `pool` also decides rollout surge and
        Spot tolerations. `node_image` (EKS AMI type) decides whether the NVMe RAID is mounted
        where the cache can use it; `efa_image` is the EFA-capable image (images/vllm-efa).
        """
        from gpuforge import catalog

        inst = catalog.get_instance(pool.instance_type, pool.cloud) if pool is not None else None
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
        vendor = "nvidia"
        if serving.gpu:
            try:
                vendor = catalog.get_gpu(serving.gpu).vendor
            except KeyError:
                pass
        image = default_image("rocm" if vendor == "amd" else "cuda")
        if efa_image and serving.fabric == "efa" and npr > 1:
            from gpuforge.k8s.images import efa_image as _efa_image

            image = _efa_image(efa_image)
        download = plan_download_gib(serving)
        cache, cache_problems = default_model_cache(
            serving.cloud, inst.local_nvme_gb if inst is not None else None, node_image, download
        )
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
            download_gib=download,
            revision=serving.revision,
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
            image=image,
            model_cache=cache,
            ttft_p95_ms=serving.ttft_p95_ms_sla,
            itl_p95_ms=serving.itl_p95_ms_sla,
            output_tokens=int(getattr(serving, "output_tokens", 0) or 0),
            rollout_surge=bool(pool and pool.max_nodes - serving.max_replicas * npr >= npr),
            plan_problems=tuple(cache_problems),
            pod_cpu_request=serving.cpu_request,
            pod_memory_request_gib=serving.memory_request_gib,
        )
        return replace(args, **overrides)


# --- pod pieces ---------------------------------------------------------------------------------
def fabric_env(fabric: Fabric) -> list[dict[str, str]]:
    """NCCL / libfabric environment for a multi-node replica's fabric.

    NCCL's debug output goes to files under NCCL_LOG_DIR (NCCL_DEBUG_FILE, `%h`/`%p` = host and
    pid) at INFO for the INIT and NET subsystems, where the launch wrapper's fabric check reads
    which network each communicator chose ("Using network ...").
    """
    debug = [
        {"name": "NCCL_DEBUG", "value": "INFO"},
        {"name": "NCCL_DEBUG_SUBSYS", "value": "INIT,NET"},
        {"name": "NCCL_DEBUG_FILE", "value": f"{NCCL_LOG_DIR}/nccl.%h.%p.log"},
        # Bootstrap, torch.distributed (gloo) and vLLM's own messages stay on the pod interface.
        {"name": "NCCL_SOCKET_IFNAME", "value": "eth0"},
        {"name": "GLOO_SOCKET_IFNAME", "value": "eth0"},
    ]
    if fabric == "efa":
        return [
            # libfabric's EFA provider (AWS EFA user guide, "Get started with EFA and NCCL");
            # GPUDirect RDMA over EFA on p4d / p5 / p6.
            {"name": "FI_PROVIDER", "value": "efa"},
            {"name": "FI_EFA_USE_DEVICE_RDMA", "value": "1"},
            *debug,
        ]
    if fabric == "infiniband":
        return [
            {"name": "NCCL_IB_DISABLE", "value": "0"},
            # Azure ND v4/v5 guidance (azhpc images' /etc/nccl.conf).
            {"name": "NCCL_IB_PCI_RELAXED_ORDERING", "value": "1"},
            {"name": "CUDA_DEVICE_ORDER", "value": "PCI_BUS_ID"},
            *debug,
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


def serve_command(a: ModelServerArgs, role: str = "server") -> list[str]:
    """The `vllm serve` argv of one pod: single-node server, multi-node leader or headless worker."""
    if not a.multi_node:
        return a.launch.argv("server")
    return a.launch.argv("leader" if role == SERVER else "worker")


def _probe(path: str, period: int, timeout: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    }


def scripts_config_name(name: str) -> str:
    return f"{name}-launch"


def pdb_spec(a: ModelServerArgs) -> dict[str, Any]:
    """PodDisruptionBudget: voluntary evictions (node drains, upgrades, consolidation) take at
    most one replica at a time, and never block a drain for good.

    `maxUnavailable: 1` over every pod of the deployment. Deployment: one replica at a time; with
    a single replica the drain still proceeds (a budget that can never be met stalls node
    upgrades), and the replacement's startup is the outage. LeaderWorkerSet: evicting any pod of
    a group re-creates the whole group (`RecreateGroupOnPodRestart`), so after one eviction the
    group's other pods count as unavailable too and the next eviction waits until that replica
    serves again; a budget of the group size would let two groups lose one pod each.
    """
    return {
        "maxUnavailable": 1,
        "selector": {"matchLabels": selector_labels(a.name)},
        "unhealthyPodEvictionPolicy": "AlwaysAllow",
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
                    "resources": {"requests": {"storage": gib(a.cache_size_gib)}},
                },
                opts=child,
            )

        # The pod's launch wrapper, fabric check and download step (gpuforge.engine.launch).
        self.scripts = k8s.core.v1.ConfigMap(
            f"{name}-launch",
            metadata={"name": scripts_config_name(a.name), "namespace": a.namespace, "labels": instance_labels(a.name)},
            data=engine_launch.scripts(),
            opts=child,
        )
        child = pulumi.ResourceOptions(parent=self, depends_on=ns_deps + [self.scripts])
        crd_child = pulumi.ResourceOptions(parent=self, depends_on=ns_deps + [self.scripts] + list(a.crd_dependencies))

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
            spec=pdb_spec(a),
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
            {"name": "GPUFORGE_ROLE", "value": "worker" if role == WORKER else "server"},
        ]
        env += security.writable_env()
        if token_secret:
            env.append(security.hf_token_volume(token_secret)[2])  # a file, not the value
        if role == SERVER and self._api_key_secret:
            env.append(security.api_key_env(self._api_key_secret))
        if a.multi_node:
            env += fabric_env(a.fabric)
            if a.fabric_check and a.nccl_net:
                env += [
                    {"name": "GPUFORGE_NCCL_NET", "value": a.nccl_net},
                    {"name": "GPUFORGE_METRICS_PORT", "value": str(FABRIC_METRICS_PORT)},
                ]
        return env

    def _resources(self) -> dict[str, Any]:
        a = self._args
        fabric = fabric_resources(a)
        gpus = {a.gpu_resource: str(a.gpus_per_node)}
        requests = {"cpu": str(a.cpu_request), "memory": gib(a.memory_request_gib), **gpus, **fabric}
        # No CPU limit (throttling slows tokenisation); memory limit = request so the pod is never
        # the first to go when the node runs short.
        limits = {"memory": gib(a.memory_request_gib), **gpus, **fabric}
        return {"requests": requests, "limits": limits}

    def _cache_volume(self) -> dict[str, Any]:
        a = self._args
        c = a.model_cache
        if c.kind == "host_path":
            return {"hostPath": {"path": c.path, "type": "DirectoryOrCreate"}}
        if c.kind == "pvc":
            return {"persistentVolumeClaim": {"claimName": c.claim_name}}
        if c.kind == "per_pod":
            # Deployment pods: a generic ephemeral volume (one claim per pod, deleted with it).
            # LeaderWorkerSet pods get a volumeClaimTemplates claim instead (_lws_spec).
            return {
                "ephemeral": {
                    "volumeClaimTemplate": {
                        "metadata": {"labels": instance_labels(a.name)},
                        "spec": self._claim_spec(),
                    }
                }
            }
        return {"emptyDir": {"sizeLimit": gib(a.cache_size_gib)}}

    def _claim_spec(self) -> dict[str, Any]:
        a = self._args
        return {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": a.model_cache.storage_class,
            "resources": {"requests": {"storage": gib(a.cache_size_gib)}},
        }

    def _volumes(self, in_lws: bool = False, token_secret: str | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        a = self._args
        volumes: list[dict[str, Any]] = [
            {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": gib(a.shm_size_gib)}},
            {"name": "launch", "configMap": {"name": scripts_config_name(a.name), "defaultMode": 0o555}},
        ]
        if not (in_lws and a.model_cache.kind == "per_pod"):
            volumes.append({"name": "model-cache", **self._cache_volume()})
        mounts: list[dict[str, Any]] = [
            {"name": "shm", "mountPath": "/dev/shm"},
            {"name": "model-cache", "mountPath": CACHE_MOUNT},
            {"name": "launch", "mountPath": SCRIPTS_DIR, "readOnly": True},
        ]
        extra_volumes, extra_mounts = security.writable_volumes()
        volumes += extra_volumes
        mounts += extra_mounts
        if token_secret:
            volume, mount, _ = security.hf_token_volume(token_secret)
            volumes.append(volume)
            mounts.append(mount)
        return volumes, mounts

    def _download_container(self, token_secret: str | None) -> dict[str, Any]:
        """Init container: the checkpoint into the cache, with progress lines and retries."""
        a = self._args
        env: list[dict[str, Any]] = [
            {"name": "HF_HOME", "value": f"{CACHE_MOUNT}/huggingface"},
            {"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"},
            {"name": "GPUFORGE_MODEL", "value": a.model},
            {"name": "GPUFORGE_DOWNLOAD_GIB", "value": f"{a.checkpoint_gib:.1f}"},
        ]
        if a.revision:
            env.append({"name": "GPUFORGE_REVISION", "value": a.revision})
        env += security.writable_env()
        _, writable = security.writable_volumes()
        mounts = [
            {"name": "model-cache", "mountPath": CACHE_MOUNT},
            {"name": "launch", "mountPath": SCRIPTS_DIR, "readOnly": True},
            *writable,
        ]
        if token_secret:
            _, mount, token_env = security.hf_token_volume(token_secret)
            env.append(token_env)  # a file, not the value
            mounts.append(mount)
        return {
            "name": "model-download",
            "image": a.image.ref,
            "command": ["python3", f"{SCRIPTS_DIR}/download.py"],
            "env": env,
            # Downloading is network and disk work: a slice of the node, no GPU.
            "resources": {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"memory": "8Gi"}},
            "volumeMounts": mounts,
            "securityContext": security.container_security_context(a.non_root),
        }

    def _container(self, token_secret: str | None, role: str, in_lws: bool = False) -> dict[str, Any]:
        a = self._args
        _, mounts = self._volumes(in_lws, token_secret)
        argv = serve_command(a, role)
        # RDMA memory registration pins pages: lift the locked-memory limit.
        caps = ("IPC_LOCK",) if a.multi_node and a.fabric in ("efa", "infiniband") else ()
        container: dict[str, Any] = {
            "name": "vllm" if role == SERVER else "vllm-worker",
            "image": a.image.ref,
            "command": engine_launch.launch_command(argv),
            "env": self._env(token_secret, role),
            "resources": self._resources(),
            "volumeMounts": mounts,
            "securityContext": security.container_security_context(a.non_root, caps),
        }
        ports: list[dict[str, Any]] = []
        if role == SERVER:
            ports.append({"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"})
        if a.multi_node and a.fabric_check and a.nccl_net:
            ports.append({"name": "fabric", "containerPort": FABRIC_METRICS_PORT, "protocol": "TCP"})
        if ports:
            container["ports"] = ports
        if role == WORKER:
            # Stay in the group until the leader has drained its in-flight requests.
            container["lifecycle"] = {"preStop": {"exec": {"command": worker_prestop_command(HTTP_PORT)}}}
            return container
        # Endpoints and routes drop a terminating pod after a few seconds; keep serving until
        # then, then SIGTERM makes vLLM drain for --shutdown-timeout.
        container["lifecycle"] = {"preStop": {"sleep": {"seconds": PRESTOP_S}}}
        container["startupProbe"] = _probe("/health", PROBE_PERIOD_S, 5, math.ceil(a.startup_seconds / PROBE_PERIOD_S))
        container["readinessProbe"] = _probe("/health", 10, 5, 3)
        container["livenessProbe"] = _probe("/health", 30, 10, 4)
        return container

    def _pod_spec(self, token_secret: str | None, role: str, in_lws: bool = False) -> dict[str, Any]:
        a = self._args
        volumes, _ = self._volumes(in_lws, token_secret)
        tolerations = [gpu_toleration()]
        if a.image.accelerator == "rocm":
            tolerations.append({"key": "amd.com/gpu", "operator": "Exists", "effect": "NoSchedule"})
        if a.spot and a.cloud == "azure":
            tolerations.append(dict(AZURE_SPOT_TAINT))
        grace = a.termination_grace_s
        if role == WORKER:
            grace += PRESTOP_S  # outlives the leader's preStop, drain and exit
        spec: dict[str, Any] = {
            "nodeSelector": {POOL_LABEL: a.pool_name},
            "tolerations": tolerations,
            # A Service named like vLLM's settings would inject VLLM_PORT and break the server.
            "enableServiceLinks": False,
            # the server never calls the Kubernetes API: no token to steal
            "automountServiceAccountToken": False,
            "securityContext": security.pod_security_context(a.non_root),
            "terminationGracePeriodSeconds": grace,
            "initContainers": [self._download_container(token_secret)],
            "containers": [self._container(token_secret, role, in_lws)],
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

    def _template_annotations(self) -> dict[str, str]:
        # A change of the launch scripts rolls the pods (a ConfigMap change alone would not).
        digest = hashlib.sha256(json.dumps(engine_launch.scripts(), sort_keys=True).encode()).hexdigest()[:16]
        return {"gpuforge.io/launch-scripts": digest}

    def _await_annotations(self) -> dict[str, str]:
        a = self._args
        if not a.wait_for_ready:
            return {"pulumi.com/skipAwait": "true"}
        # `pulumi up` waits for the download and the load (default would give up after 10 minutes).
        return {"pulumi.com/timeoutSeconds": str(a.ready_seconds + 600)}

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
            # A rollout is not stuck while the new pod downloads and loads the model.
            "progressDeadlineSeconds": a.ready_seconds + 300,
            "template": {
                "metadata": {"labels": instance_labels(a.name, SERVER), "annotations": self._template_annotations()},
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
            # Workers start with the leader (they wait for its name to resolve, then join its
            # torch.distributed group); the leader only turns ready once the whole group serves.
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
                    "metadata": {"labels": instance_labels(a.name, SERVER), "annotations": self._template_annotations()},
                    "spec": self._pod_spec(token_secret, SERVER, in_lws=True),
                },
                "workerTemplate": {
                    "metadata": {"labels": instance_labels(a.name, WORKER), "annotations": self._template_annotations()},
                    "spec": self._pod_spec(token_secret, WORKER, in_lws=True),
                },
            },
        }
        if a.model_cache.kind == "per_pod":
            # One claim per pod (leader and workers), kept when the group is re-created so a
            # restart does not download the checkpoint again; deleted with the LeaderWorkerSet.
            spec["leaderWorkerTemplate"]["volumeClaimTemplates"] = [
                {"metadata": {"name": "model-cache", "labels": instance_labels(a.name)}, "spec": self._claim_spec()}
            ]
            spec["leaderWorkerTemplate"]["persistentVolumeClaimRetentionPolicy"] = {
                "whenDeleted": "Delete",
                "whenScaled": "Retain",
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
        # Prometheus scrapes /metrics on the same port (and the fabric check's port).
        scraped = list(http)
        if a.multi_node and a.fabric_check and a.nccl_net:
            scraped.append({"protocol": "TCP", "port": FABRIC_METRICS_PORT})
        ingress.append({"from": from_namespaces([a.monitoring_namespace]), "ports": scraped})
        if a.multi_node:
            # torch.distributed / NCCL bootstrap and vLLM's own traffic between the pods of a group.
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
    "cache_size_gib",
    "default_model_cache",
    "download_budget_s",
    "fabric_env",
    "load_budget_s",
    "pdb_spec",
    "plan_download_gib",
    "serve_command",
    "startup_budget_s",
]

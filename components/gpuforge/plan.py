"""The decision, as data: what the planner chose and what the cloud and Kubernetes code build.

Pure dataclasses with no Pulumi import. The planner (`gpuforge.sizing.planner`) produces a
`Plan`; `gpuforge.aws`, `gpuforge.azure` and `gpuforge.k8s` consume its `NodePoolPlan` and
`ServingPlan` parts and never recompute any sizing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Cloud = Literal["aws", "azure"]
CapacityType = Literal["on-demand", "spot", "capacity-block", "reserved"]
Fabric = Literal["efa", "infiniband", "none"]
# node label a spot plan's pools carry (on-demand | spot); serving pods prefer on-demand nodes
CAPACITY_LABEL = "gpuforge.io/capacity-type"


@dataclass(frozen=True)
class NodePoolPlan:
    """One GPU node pool: what to ask the cloud for.

    `desired_nodes` = `nodes_per_replica` x planned replicas; `min_nodes` / `max_nodes` are the
    autoscaling bounds (whole replicas). `zone` is set whenever a replica spans nodes (fabric
    pools need one zone) or the spec named one.
    """

    name: str
    cloud: Cloud
    region: str
    instance_type: str
    gpu: str  # catalog GPU id, e.g. "h100-80gb"
    gpus_per_node: int
    nodes_per_replica: int
    desired_nodes: int
    min_nodes: int
    max_nodes: int
    capacity_type: CapacityType = "on-demand"
    zone: str | None = None
    zones: tuple[str, ...] = ()  # zones the pool may use when replicas spread (single-node replicas)
    fabric: Fabric = "none"
    placement_group: bool = False
    capacity_reservation_id: str | None = None
    capacity_block_instance_count: int | None = None
    spot_max_price: float | None = None
    labels: dict[str, str] = field(default_factory=dict)
    pool_label: str = ""  # value of the nodes' gpuforge.io/pool label; "" = name (pods select on it)

    @property
    def multi_node(self) -> bool:
        return self.nodes_per_replica > 1


@dataclass(frozen=True)
class ServingPlan:
    """How vLLM runs on that pool: the engine arguments and the replica layout."""

    name: str  # deployment name, DNS-1123
    model: str  # Hugging Face repo id vLLM loads
    served_model_name: str
    revision: str | None
    tensor_parallel_size: int
    pipeline_parallel_size: int
    nodes_per_replica: int
    gpus_per_node: int
    max_model_len: int
    max_num_seqs: int
    max_num_batched_tokens: int
    gpu_memory_utilization: float
    dtype: str  # vLLM --dtype: auto, bfloat16, float16
    quantization: str | None  # vLLM --quantization, None when the checkpoint says it
    kv_cache_dtype: str  # auto | fp8
    replicas: int
    min_replicas: int
    max_replicas: int
    spread_zones: bool
    weights_gib_total: float  # whole checkpoint, for download / load time
    per_replica_max_concurrency: int  # requests one replica serves within the SLA
    ttft_p95_ms_sla: float
    itl_p95_ms_sla: float
    vllm_version: str
    fabric: Fabric = "none"
    cloud: Cloud = "aws"
    pool_name: str = ""  # NodePoolPlan.name the pods select on
    gpu: str = ""  # catalog GPU id
    gpu_memory_gib: float = 0.0  # usable memory of one GPU, for alert thresholds
    cost_per_hour: float = 0.0  # whole deployment at planned replicas, for the dashboard
    zones: tuple[str, ...] = ()
    on_demand_replicas: int = 0  # spot plans: replicas kept on the on-demand pool; pods prefer it
    output_tokens: int = 0  # planned completion length (workload.output_tokens), for the drain deadline
    # --- the checkpoint (gpuforge.engine.vllm) ------------------------------------------------
    engine: str = "vllm"
    precision: str = ""  # gpuforge precision the replica runs (bf16, fp16, fp8, int4-awq, ...)
    quantization_method: str | None = None  # the method vLLM applies (from the checkpoint, or fp8 online)
    allow_deprecated_quantization: bool = False  # fbgemm_fp8 checkpoints need the flag in 0.19.0
    checkpoint_download_gib: float = 0.0  # the repo's weight files as downloaded (not runtime weights)
    native_context: int = 0  # the longest --max-model-len vLLM accepts for the model
    # --- placement (gpuforge.cloud.allocatable) -------------------------------------------------
    replicas_per_node: int = 1  # pods the pool packs on one node
    cpu_request: int = 0  # per pod, whole cores: node allocatable / replicas_per_node
    memory_request_gib: int = 0  # per pod: node allocatable / replicas_per_node

    @property
    def gpus_per_replica(self) -> int:
        return self.tensor_parallel_size * self.pipeline_parallel_size

    def engine_args(self) -> list[str]:
        """The `vllm serve` arguments, in a stable order (gpuforge.engine.vllm.serve_args)."""
        from gpuforge.engine.vllm import serve_args

        return serve_args(
            served_model_name=self.served_model_name,
            tensor_parallel_size=self.tensor_parallel_size,
            pipeline_parallel_size=self.pipeline_parallel_size,
            max_model_len=self.max_model_len,
            max_num_seqs=self.max_num_seqs,
            max_num_batched_tokens=self.max_num_batched_tokens,
            gpu_memory_utilization=self.gpu_memory_utilization,
            dtype=self.dtype,
            kv_cache_dtype=self.kv_cache_dtype,
            revision=self.revision,
            quantization=self.quantization,
            allow_deprecated_quantization=self.allow_deprecated_quantization,
        )


@dataclass(frozen=True)
class Plan:
    """A whole sizing decision for one deployment: pools, serving, and the reasons."""

    deployment: str
    node_pool: NodePoolPlan
    serving: ServingPlan
    summary: dict[str, Any]  # the `chosen` object of `gpuforge plan --format json`
    # spot plans that keep min_replicas on on-demand: node_pool is the on-demand base, this the
    # spot pool for the rest (same gpuforge.io/pool label, so the same pods run on both)
    spot_pool: NodePoolPlan | None = None

    @property
    def pools(self) -> tuple[NodePoolPlan, ...]:
        """Every GPU pool the plan asks for."""
        return (self.node_pool,) + ((self.spot_pool,) if self.spot_pool else ())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

"""Latency and throughput of one vLLM replica: a roofline model plus continuous batching.

Physics, not curve fitting:
- decode is memory-bandwidth-bound: each step reads the (active) weights once plus the KV
  cache of every running sequence; it turns compute-bound only at large batches;
- prefill is compute-bound: 2 x active parameters x tokens, plus causal attention FLOPs that
  grow with the square of the prompt;
- tensor parallelism adds two all-reduces per layer (NVLink/NVSwitch or PCIe), pipeline
  parallelism adds a hand-off per stage (NVLink inside a node, EFA/InfiniBand across nodes);
- vLLM's chunked prefill folds prompt chunks into decode steps, which stretches inter-token
  latency while prompts are being processed; at p95 a step carries a prompt chunk;
- under a request rate, waiting for the prefill "server" follows an M/M/1 tail, and waiting
  for a batch slot (KV capacity or max_num_seqs) follows Erlang C (M/M/c).

The only tuned numbers are the per-generation efficiencies in `EFFICIENCY` and the link
constants in `LINKS`, calibrated as docs/accuracy.md shows.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from gpuforge.catalog import Gpu
from gpuforge.sizing.memory import MemoryEstimate

MS = 1e-3


@dataclass(frozen=True)
class Efficiency:
    """Achievable fractions of datasheet peaks for one GPU generation under vLLM."""

    mfu: float  # prefill GEMM throughput / dense peak
    mfu_decode: float  # decode-step GEMMs (M = running sequences) / dense peak
    mbu: float  # decode HBM read rate / datasheet bandwidth
    step_overhead_ms: float  # scheduler, sampling and launch gaps per engine step


# Calibrated on ../shared/reference/vllm-startup-logs/throughput_points.jsonl (Hopper: the
# vLLM fp8-KV blog's single-request ITL fit 6.44 ms + 4.37e-5 ms/token, and its c=8 runs;
# mfu_decode from the large-batch points: MLPerf v5.0 8xH200 offline and vLLM PR 18566,
# one value for every generation since no other generation has a large-batch point).
# Other generations keep the Hopper values scaled by what their memory systems are known to
# reach (GDDR6 parts reach a lower fraction of their bandwidth than HBM).
EFFICIENCY: dict[str, Efficiency] = {
    "hopper": Efficiency(mfu=0.55, mfu_decode=0.18, mbu=0.87, step_overhead_ms=0.9),
    "blackwell": Efficiency(mfu=0.50, mfu_decode=0.18, mbu=0.85, step_overhead_ms=0.9),
    "ampere": Efficiency(mfu=0.55, mfu_decode=0.18, mbu=0.82, step_overhead_ms=1.1),
    "ada": Efficiency(mfu=0.50, mfu_decode=0.18, mbu=0.80, step_overhead_ms=1.1),
    "turing": Efficiency(mfu=0.45, mfu_decode=0.18, mbu=0.75, step_overhead_ms=1.5),
    "cdna3": Efficiency(mfu=0.40, mfu_decode=0.18, mbu=0.70, step_overhead_ms=1.3),
}


@dataclass(frozen=True)
class Link:
    latency_us: float  # per collective call
    efficiency: float  # achieved / nominal bandwidth


LINKS = {
    "nvlink": Link(latency_us=8.0, efficiency=0.70),  # vLLM custom all-reduce over NVSwitch
    "pcie": Link(latency_us=25.0, efficiency=0.50),  # NCCL ring through the host bridge
    "efa": Link(latency_us=30.0, efficiency=0.60),
    "infiniband": Link(latency_us=10.0, efficiency=0.75),
}
# Node-to-node bandwidth per GPU, GB/s one way: EFA on p5 is 3200 Gb/s per 8 GPUs,
# InfiniBand NDR on ND H100 v5 is 400 Gb/s per GPU.
INTER_NODE_GBS_PER_GPU = {"efa": 50.0, "infiniband": 50.0}


@dataclass(frozen=True)
class Layout:
    gpu: Gpu
    tensor_parallel: int = 1
    pipeline_parallel: int = 1
    quantization: str = "none"
    kv_cache_dtype: str = "auto"
    dtype: str = "auto"
    gpus_per_node: int | None = None  # None: the whole replica in one node
    node_fabric: str = "none"  # efa | infiniband | none, between the nodes of a replica

    @property
    def gpus(self) -> int:
        return self.tensor_parallel * self.pipeline_parallel

    @property
    def nodes(self) -> int:
        per = self.gpus_per_node or self.gpus
        return max(1, math.ceil(self.gpus / per))


@dataclass(frozen=True)
class Workload:
    input_tokens: int
    output_tokens: int
    concurrency: int | None = None  # closed loop: users, each sends again when answered
    request_rate: float | None = None  # open loop: Poisson arrivals per second, per replica


@dataclass
class Performance:
    """Predicted behaviour of one replica (per replica, all requests together)."""

    ttft_ms: float
    ttft_p95_ms: float
    itl_ms: float
    itl_p95_ms: float
    e2e_ms: float
    output_tokens_per_s: float
    requests_per_s: float
    concurrency: float
    batch_capacity: int  # sequences one replica holds (KV cache and max_num_seqs)
    prefill_ms: float  # one prompt alone
    decode_step_ms: float  # one decode step at the running batch, no prompt in it
    utilisation: float  # fraction of engine time spent on prompts
    limited_by: str  # "memory-bandwidth" | "compute" | "kv-capacity" | "max-num-seqs"

    def to_dict(self) -> dict[str, float | str | int]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _peak_tflops(gpu: Gpu, quantization: str) -> float:
    if quantization == "fp8" and gpu.fp8_tflops:
        return gpu.fp8_tflops
    if quantization == "int8" and gpu.int8_tops:
        return gpu.int8_tops
    return gpu.bf16_tflops


def _allreduce_s(bytes_: float, tp: int, gpu: Gpu) -> float:
    """One all-reduce of `bytes_` across `tp` GPUs of one node."""
    if tp <= 1:
        return 0.0
    if gpu.nvlink_gbs:
        link, bw = LINKS["nvlink"], gpu.nvlink_gbs / 2  # one direction
    else:
        link, bw = LINKS["pcie"], gpu.pcie_gbs / 2
    return link.latency_us * 1e-6 + 2 * (tp - 1) / tp * bytes_ / (bw * 1e9 * link.efficiency)


def _handoff_s(bytes_: float, layout: Layout) -> float:
    """Pipeline-stage hand-offs for one step (pp - 1 of them)."""
    pp = layout.pipeline_parallel
    if pp <= 1:
        return 0.0
    cross = layout.nodes - 1  # hand-offs that leave a node
    inside = pp - 1 - cross
    t = 0.0
    if inside:
        nv = layout.gpu.nvlink_gbs or layout.gpu.pcie_gbs
        link = LINKS["nvlink" if layout.gpu.nvlink_gbs else "pcie"]
        t += inside * (link.latency_us * 1e-6 + bytes_ / (nv / 2 * 1e9 * link.efficiency))
    if cross:
        fabric = layout.node_fabric if layout.node_fabric in INTER_NODE_GBS_PER_GPU else "efa"
        link = LINKS[fabric]
        bw = INTER_NODE_GBS_PER_GPU[fabric] if layout.node_fabric != "none" else 3.0  # plain TCP
        t += cross * (link.latency_us * 1e-6 + bytes_ / (bw * 1e9 * link.efficiency))
    return t


class ReplicaModel:
    """Step-level cost model of one replica; `predict()` adds batching and queueing."""

    def __init__(self, model, layout: Layout, memory: MemoryEstimate):
        arch = model.arch
        self.arch = arch
        self.layout = layout
        self.memory = memory
        gpu = layout.gpu
        self.eff = EFFICIENCY[gpu.architecture]
        tp, pp = layout.tensor_parallel, layout.pipeline_parallel
        # weights one TP rank reads per step, over all PP stages (a token visits every stage)
        w_rank = memory.weights_gib_total * (1 << 30) / tp
        self.expert_fraction = 0.0
        if arch.is_moe:
            self.expert_fraction = arch.expert_params / max(1, arch.params_total)
        self.weight_bytes = w_rank
        self.active_params = model.params_active
        self.bw = gpu.memory_bandwidth_gbs * 1e9 * self.eff.mbu
        peak = _peak_tflops(gpu, layout.quantization) * 1e12
        self.flops = peak * self.eff.mfu
        self.decode_flops = peak * self.eff.mfu_decode
        self.attn_flops_bf16 = gpu.bf16_tflops * 1e12 * self.eff.mfu
        # per-token, per-layer KV bytes on one TP rank, with each layer's window
        page_token = memory.page_size_bytes / memory.block_size
        # (bytes per token, window or None, layers) per attention type
        self.kv_layers = [(page_token, w if k != "full" else None, n) for k, w, n in arch.attention_groups]
        self.n_layers = arch.num_layers
        self.attn_dim = arch.num_heads * (arch.qk_nope_head_dim + arch.qk_rope_head_dim if arch.is_mla else arch.head_dim)
        self.tp, self.pp = tp, pp
        self.act_bytes_per_token = arch.hidden_size * 2

    def kv_read_bytes(self, context: float) -> float:
        return sum(n * b * (min(context, w) if w else context) for b, w, n in self.kv_layers)

    def weights_read(self, batch: float) -> float:
        if not self.expert_fraction:
            return self.weight_bytes
        e, k = self.arch.num_experts, self.arch.experts_per_token
        touched = 1 - (1 - k / e) ** max(1.0, batch)
        return self.weight_bytes * (1 - self.expert_fraction + self.expert_fraction * touched)

    def decode_step_s(self, batch: float, context: float) -> tuple[float, str]:
        mem = (self.weights_read(batch) + batch * self.kv_read_bytes(context)) / self.bw
        attn = 4 * batch * context * self.attn_dim * self.n_layers / self.tp
        cmp = (2 * self.active_params * batch / self.tp) / self.decode_flops + attn / self.attn_flops_bf16
        comm = 2 * self.arch.num_layers / self.pp * _allreduce_s(batch * self.act_bytes_per_token, self.tp, self.layout.gpu)
        comm *= self.pp  # every stage's layers are on the token's path
        hand = _handoff_s(batch * self.act_bytes_per_token, self.layout)
        t = max(mem, cmp) + comm + hand + self.eff.step_overhead_ms * MS
        return t, ("compute" if cmp > mem else "memory-bandwidth")

    def prefill_s(self, tokens: float, context_before: float = 0.0) -> float:
        """Time to process `tokens` prompt tokens (attending to `context_before` earlier ones)."""
        linear = 2 * self.active_params * tokens / self.tp
        # causal attention over the full-attention layers; windowed layers attend to <= window
        span = context_before + tokens / 2
        attn = 0.0
        for _, w, n in self.kv_layers:
            attn += n * 4 * tokens * (min(span, w) if w else span) * self.attn_dim / self.tp
        compute = linear / self.flops + attn / self.attn_flops_bf16
        budget = max(1, self.memory.max_num_batched_tokens)
        chunks = math.ceil(tokens / budget)
        mem = chunks * self.weights_read(tokens) / self.bw
        comm = 2 * self.arch.num_layers * _allreduce_s(tokens * self.act_bytes_per_token, self.tp, self.layout.gpu)
        hand = _handoff_s(tokens * self.act_bytes_per_token, self.layout)
        return max(compute, mem) + comm + hand + chunks * self.eff.step_overhead_ms * MS


def _erlang_c(c: int, a: float) -> float:
    """Probability that an arrival waits in M/M/c with offered load a (< c)."""
    if a >= c:
        return 1.0
    term, total = 1.0, 1.0
    for k in range(1, c):
        term *= a / k
        total += term
    term *= a / c
    last = term * c / (c - a)
    return last / (total + last)


def predict(model, layout: Layout, workload: Workload, memory: MemoryEstimate) -> Performance:
    """Predict TTFT, ITL (mean and p95) and throughput of one replica under the workload."""
    rm = ReplicaModel(model, layout, memory)
    I, O = workload.input_tokens, workload.output_tokens
    seq_tokens = I + O
    kv_slots = memory.kv_cache_tokens // max(1, seq_tokens) if memory.kv_cache_tokens else 0
    capacity = max(0, min(memory.max_num_seqs, kv_slots))
    limit_reason = "kv-capacity" if kv_slots < memory.max_num_seqs else "max-num-seqs"
    prefill = rm.prefill_s(I)
    budget = memory.max_num_batched_tokens
    chunks = math.ceil(I / max(1, budget))
    mean_ctx = I + O / 2

    if capacity < 1:
        inf = float("inf")
        return Performance(inf, inf, inf, inf, inf, 0.0, 0.0, 0.0, 0, prefill / MS, inf, 1.0, "kv-capacity")

    def steady(batch: float) -> tuple[float, float, float, float, str]:
        """(ttft, itl, e2e, prefill-fraction, bound) with `batch` sequences running.

        Each of the other batch-1 sequences brings one prompt per lifetime (e2e), and its
        prefill time is folded into the decode steps everyone shares:
            itl = step + itl * (batch - 1) * prefill / e2e,   e2e = ttft + O * itl
        whose positive root is exact (a quadratic in itl), so it is monotone in the load.
        """
        step, bound = rm.decode_step_s(batch, mean_ctx)
        ttft = prefill + chunks * step
        others = max(0.0, batch - 1) * prefill
        b = ttft - others - step * O
        itl = (-b + math.sqrt(b * b + 4 * O * step * ttft)) / (2 * O)
        e2e = ttft + O * itl
        return ttft, itl, e2e, 1 - step / itl, bound

    if workload.request_rate:
        lam = workload.request_rate
        lo, hi = 0.01, float(capacity)
        # find the batch whose throughput matches the arrival rate (Little's law)
        if lam >= capacity / steady(capacity)[2]:
            batch = float(capacity)
        else:
            for _ in range(40):
                mid = (lo + hi) / 2
                if mid / steady(mid)[2] < lam:
                    lo = mid
                else:
                    hi = mid
            batch = (lo + hi) / 2
    else:
        users = workload.concurrency or 1
        batch = float(min(users, capacity))
    ttft, itl, e2e, frac, bound = steady(batch)
    throughput_rps = batch / e2e
    step, _ = rm.decode_step_s(batch, mean_ctx)

    # --- waiting: for a batch slot (Erlang C) and for the prefill server (M/M/1 tail) -----
    slot_wait95 = 0.0
    offered = (workload.request_rate or 0) * e2e
    users = workload.concurrency or 0
    if workload.request_rate and offered >= capacity:
        slot_wait95 = float("inf")
    elif workload.request_rate:
        pw = _erlang_c(capacity, offered)
        if pw > 0.05:
            slot_wait95 = math.log(pw / 0.05) / (capacity / e2e - workload.request_rate)
    elif users > capacity:
        # closed loop beyond capacity: the extra users queue for whole requests
        slot_wait95 = (users - capacity) / capacity * e2e * 1.0
        throughput_rps = capacity / e2e
    lam = workload.request_rate or throughput_rps
    rho = lam * prefill
    if rho >= 1:
        prefill_wait95 = float("inf")
    elif rho > 0.05:
        prefill_wait95 = math.log(rho / 0.05) / (1 / prefill - lam)
    else:
        prefill_wait95 = 0.0
    ttft_mean = ttft + (slot_wait95 / 3 if math.isfinite(slot_wait95) else slot_wait95)
    ttft_p95 = ttft + prefill_wait95 + slot_wait95

    # --- ITL p95: a step that carries a prompt chunk -------------------------------------
    steps_with_prompt = min(1.0, lam * chunks * step / max(1e-9, 1 - frac)) if lam else 0.0
    chunk_tokens = min(I, max(1, budget - int(batch)))
    stalled = step + rm.prefill_s(chunk_tokens)  # a prompt chunk rides on the decode step
    # p95 over tokens: if >= 5% of steps carry a prompt chunk, the p95 token waits for one;
    # otherwise it is a plain decode step (the stalls then show in the mean, not the p95)
    itl_p95 = stalled if steps_with_prompt >= 0.05 else step

    limited = bound
    if (users and users > capacity) or (workload.request_rate and offered >= capacity):
        limited = limit_reason
    return Performance(
        ttft_ms=ttft_mean / MS,
        ttft_p95_ms=ttft_p95 / MS,
        itl_ms=itl / MS,
        itl_p95_ms=itl_p95 / MS,
        e2e_ms=e2e / MS,
        output_tokens_per_s=throughput_rps * O,
        requests_per_s=throughput_rps,
        concurrency=batch,
        batch_capacity=capacity,
        prefill_ms=prefill / MS,
        decode_step_ms=step / MS,
        utilisation=min(1.0, rho),
        limited_by=limited,
    )

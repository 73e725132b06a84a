"""Latency and throughput of one vLLM replica: per-operation step costs plus vLLM's scheduler.

Physics first, then a few fitted efficiencies:

- **One engine step** (`StepModel.step_s`) runs the decode tokens of every running sequence
  and up to `max_num_batched_tokens` of prompt (chunked prefill) through the model once:
  - linear layers: the weights a TP rank holds are streamed from HBM once per step (for MoE,
    only the experts the step's tokens touch: E * (1 - (1 - k/E)^tokens) of them), or the
    GEMMs are compute-bound at 2 x active params x tokens, whichever takes longer;
  - attention: decode reads every running sequence's KV cache (per attention type: a sliding
    layer reads at most its window; MLA reads the compressed latent), prefill attention costs
    4 x tokens x span x heads x head_dim FLOPs (causal, windowed where the layer is);
  - tensor parallelism: two all-reduces per layer of tokens x hidden x 2 bytes, each a fixed
    latency (NVLink / PCIe) plus bytes over the link; pipeline stages add hand-offs
    (NVLink in a node, EFA / InfiniBand across nodes);
  - fixed costs: per step (scheduler, sampling, launch), per layer and per MoE layer
    (routing, token permutation, the grouped-GEMM launches a batch-1 step still pays).
- **The scheduler** (`predict`): continuous batching up to `max_num_seqs` and the KV-cache
  capacity; in steady state each step also carries the prompts of the requests that replace
  finished ones (B x I / O tokens per step), capped by the token budget; closed-loop users
  beyond what the engine holds wait for a slot; open-loop (Poisson) arrivals see the prefill
  queue (Kingman's approximation with deterministic service); a finite burst runs as waves;
  a finite open-loop run the engine cannot keep up with has no steady state and is replayed
  step by step (`_finite_run`: admission by the KV cache a prompt needs, preemption by
  recompute when the running sequences outgrow it, V0's prefill-only steps).

The fitted numbers (per GPU generation: bandwidth and compute efficiency, per-step / per-layer
/ per-MoE-layer costs; globally: all-reduce latencies, quantized-kernel efficiencies, arrival
variability) live in `data/perf_params.json`, written by `bench/fit_performance.py` from the
public measurements in ../shared/reference/perf-corpus (see docs/accuracy.md). Each
prediction carries the cross-validated error of the nearest (GPU generation, model family)
group from the same file.
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from gpuforge.catalog import Gpu
from gpuforge.sizing.memory import _QUANT_BYTES, MemoryEstimate

MS = 1e-3
PARAMS_FILE = "perf_params.json"

# Per-generation parameters and their physical meaning (units in the name).
GEN_PARAMS = ("mbu", "mfu", "step_ms", "layer_us", "moe_layer_us")
# Global parameters (shared by every generation).
GLOBAL_PARAMS = (
    "tp_sync_us",  # per all-reduce in a served step, beyond the kernel itself (launch, rank skew)
    "ar_nvlink_us",  # all-reduce kernel latency over NVLink / xGMI where no kernel table exists
    "ar_pcie_us",  # all-reduce kernel latency through PCIe where no kernel table exists
    "pcie_eff",  # achieved fraction of PCIe bandwidth for all-reduce payloads (no kernel table)
    "pcie_host_eff",  # the same without PCIe peer-to-peer (GeForce: through host memory)
    "qbw_fp8",  # weight-streaming efficiency of FP8 GEMM kernels relative to 16-bit ones
    "qmfu_fp8",  # FP8 GEMM compute efficiency relative to the 16-bit one (of the FP8 peak)
    "qbw_fp8b",  # the same for block-scaled FP8 checkpoints (weight_block_size, e.g. 128x128)
    "qmfu_fp8b",  # block-scaled FP8 GEMM compute efficiency relative to the 16-bit one
    "qmfu_fp4",  # FP4 GEMM compute efficiency relative to the 16-bit one (of the FP4 peak)
    "qbw_int4",  # weight-streaming efficiency of 4-bit weight-only kernels (Marlin/AWQ) vs 16-bit
    "qbw_int4_moe",  # the same for 4-bit experts in Marlin's fused-MoE kernel
    "qbw_fp8b_moe",  # the same for block-FP8 experts in the fused-MoE kernel
    "qbw_fp4",  # same for MXFP4 / NVFP4 MoE expert kernels (and MXFP4 checkpoints)
    "qbw_nvfp4",  # same for dense NVFP4 GEMMs (attention / dense MLP of NVFP4 checkpoints)
    "act_quant_us",  # per layer, quantizing activations for W8A8 / W4A4 GEMMs (FP8, NVFP4, INT8)
    "kv_eff",  # paged KV-cache reads (decode attention): achieved fraction of peak bandwidth
    "qbw_int8",  # same for 8-bit integer kernels (W8A8 / W8A16)
    "moe_eff",  # fused-MoE grouped GEMM efficiency relative to dense GEMMs
    "route_skew",  # router imbalance: the i-th most popular expert is chosen ~ i^-route_skew
    "ca2_closed",  # squared coefficient of variation of closed-loop arrivals at the prefill queue
    "v0_step",  # step-cost multiplier of the V0 engine (vLLM < 0.8)
    "request_ms",  # per-request API-server cost in TTFT (HTTP, tokenization, first detokenize)
    "seq_us",  # CPU cost per running sequence per step (scheduler, sampler, output processing)
    "v0_seq_us",  # the same in the V0 engine (vLLM < 0.8: Python scheduler and sampler per sequence)
    "sync_step_ms",  # V1 without async scheduling: CPU time per step between GPU steps
    "sync_seq_us",  # the same, per running sequence
    "v0_stream_us",  # V0 engine serving streamed requests: per sequence per step, its RequestOutput
    "closed_rounds",  # rounds of a closed-loop benchmark whose request count is not stated
)


@dataclass(frozen=True)
class GenParams:
    """Fitted efficiencies of one GPU generation under vLLM (see GEN_PARAMS)."""

    mbu: float
    mfu: float
    step_ms: float
    layer_us: float
    moe_layer_us: float


@dataclass(frozen=True)
class PerfParams:
    generations: dict[str, GenParams]
    glob: dict[str, float]
    uncertainty: dict[str, Any]
    meta: dict[str, Any]

    def gen(self, architecture: str) -> GenParams:
        return self.generations.get(architecture) or self.generations["hopper"]


def params_from_dict(d: dict[str, Any]) -> PerfParams:
    gens = {g: GenParams(**{k: float(v[k]) for k in GEN_PARAMS}) for g, v in d["generations"].items()}
    glob = {k: float(d["global"][k]) for k in GLOBAL_PARAMS}
    return PerfParams(gens, glob, d.get("uncertainty", {}), {k: v for k, v in d.items() if k not in ("generations", "global", "uncertainty")})


@lru_cache(maxsize=1)
def load_params() -> PerfParams:
    """The shipped fitted parameters (components/gpuforge/sizing/data/perf_params.json)."""
    text = resources.files("gpuforge.sizing").joinpath("data", PARAMS_FILE).read_text()
    return params_from_dict(json.loads(text))


# Node-to-node bandwidth per GPU, GB/s one way: EFA on p5 is 3200 Gb/s per 8 GPUs,
# InfiniBand NDR on ND H100 v5 is 400 Gb/s per GPU. Latencies: one message over the fabric.
INTER_NODE_GBS_PER_GPU = {"efa": 50.0, "infiniband": 50.0, "none": 3.0}
INTER_NODE_LATENCY_US = {"efa": 30.0, "infiniband": 10.0, "none": 100.0}
# vLLM's plain GPTQ kernel (csrc/quantization/gptq/q_gemm.cu): rows above which it rebuilds fp16
# weights for cuBLAS, and rows per pass of its quantized kernel
GPTQ_MAX_Q_GEMM_ROWS = 50
GPTQ_BLOCK_M = 8
NVLINK_EFF = 0.7  # achieved fraction of NVLink bandwidth for all-reduce payloads (bus bandwidth)


@dataclass(frozen=True)
class Layout:
    gpu: Gpu
    tensor_parallel: int = 1
    pipeline_parallel: int = 1
    quantization: str = "none"  # weight format, gpuforge.sizing.memory.WEIGHT_QUANTIZATIONS
    kv_cache_dtype: str = "auto"
    dtype: str = "auto"
    gpus_per_node: int | None = None  # None: the whole replica in one node
    node_fabric: str = "none"  # efa | infiniband | none, between the nodes of a replica
    # GEMM input precision when it differs from what `quantization` implies
    # (bf16 for weight-only W8A16, fp4 for NVFP4 W4A4); None = derived.
    compute_dtype: str | None = None
    engine_v0: bool = False  # the pre-0.8 V0 engine (only for replaying old measurements)
    engine_sync: bool = False  # V1 without async scheduling (vLLM < 0.14; replaying old measurements)
    # False: prompts run whole, in steps of their own, and decodes wait while any prompt is
    # scheduled (the V0 scheduler without chunked prefill: vllm 0.7.3 vllm/core/scheduler.py:1240-1244
    # "Don't schedule decodes if prefills are scheduled", whole prompts packed while they fit
    # max_num_batched_tokens, :74 and :1148). vLLM 0.19.0 always chunks; replay only.
    chunked_prefill: bool = True
    # True: 4-bit weight-only GEMMs run vLLM's plain GPTQ kernel instead of Marlin (the engine's
    # scheme "gptq": gpuforge.engine.vllm.quantization_scheme, e.g. for a run that passed
    # --quantization gptq). Replay only: gpuforge never forces it.
    gptq_plain: bool = False

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
    burst: int | None = None  # offline: this many requests submitted at once (throughput run)
    num_requests: int | None = None  # finite open-loop run (bounds the queue when overloaded)
    # closed-loop benchmark replay: the run lasts this many rounds of `concurrency` requests
    # and starts with all users at once (None: steady service, what a deployment sees)
    rounds: float | None = None
    # longest output of a burst (variable lengths): the burst lasts until it is done, with
    # fewer and fewer sequences decoding; None = every output is `output_tokens` long
    output_tokens_max: int | None = None
    # benchmark replay: every request has exactly these prompt and output lengths (a random
    # dataset with range ratio 1), so a closed loop's users stay in step when the engine keeps
    # them in step (see predict)
    fixed_lengths: bool = False


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
    limited_by: str  # "memory-bandwidth" | "compute" | "kv-capacity" | "max-num-seqs" | "token-budget"
    # cross-validated median |error| of the nearest measured group (fractions), and its name
    ttft_error: float = 0.0
    itl_error: float = 0.0
    throughput_error: float = 0.0
    error_group: str = ""
    uncertainty: dict[str, float] = field(default_factory=dict)
    ttft_median_ms: float = 0.0
    # 99th percentile of the per-token latency (the corpus measures p99, not p95: it checks
    # the tail model); like itl_p95_ms never below the mean
    itl_p99_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


# ---------------------------------------------------------------------------------------------
# precisions


def compute_dtype(layout: Layout) -> str:
    """The GEMM input precision vLLM's kernels run for this weight format on this GPU.

    The planner and `gpuforge estimate` pass the engine's answer (Layout.compute_dtype =
    gpuforge.engine.vllm EngineLayout.gemm_dtype, from the checkpoint's quantization scheme and
    vLLM's kernel selection). The guess below serves callers that state no scheme: the corpus
    restatement (sizing/calibration.py, which overrides it where a point says what ran) and
    direct model tests."""
    if layout.compute_dtype:
        return layout.compute_dtype
    q = layout.quantization
    gpu = layout.gpu
    if q == "fp8" and gpu.fp8_tflops:
        return "fp8"  # W8A8 fp8 (dynamic activation scales); without fp8 cores: Marlin W8A16
    if q == "int8" and gpu.int8_tops:
        return "int8"
    if q == "mxfp4" and gpu.architecture == "blackwell":
        return "fp8"  # FlashInfer / TRT-LLM MXFP4 x MXFP8 MoE on Blackwell
    if q == "nvfp4" and gpu.architecture == "blackwell":
        return "fp4"  # NVFP4 W4A4 on Blackwell FP4 tensor cores
    return "bf16"  # weight-only formats dequantize to 16-bit


def _peak_tflops(gpu: Gpu, dtype: str) -> float:
    if dtype == "fp8" and gpu.fp8_tflops:
        return gpu.fp8_tflops
    if dtype == "fp4" and gpu.fp8_tflops:
        return 2 * gpu.fp8_tflops  # Blackwell FP4 tensor cores: twice the FP8 rate
    if dtype == "int8" and gpu.int8_tops:
        return gpu.int8_tops
    return gpu.bf16_tflops


def weight_stream_eff(quant: str, glob: dict[str, float], fp8_block: bool = False) -> float:
    """How close the fused-MoE kernel streaming a format's routed experts gets to a 16-bit
    GEMV (1.0 = same): Marlin's fused MoE for 4-bit (fused_marlin_moe), the block-FP8 /
    MXFP4 / NVFP4 grouped GEMMs (vllm/model_executor/layers/fused_moe/ at 0.19.0)."""
    if quant in ("int4-awq", "int4-gptq"):
        return glob["qbw_int4_moe"]
    if quant in ("mxfp4", "nvfp4"):
        return glob["qbw_fp4"]
    if quant == "int8":
        return glob["qbw_int8"]
    if quant == "fp8":
        return glob["qbw_fp8b_moe"] if fp8_block else glob["qbw_fp8"]
    return 1.0


def dense_stream_eff(quant: str, glob: dict[str, float], fp8_block: bool = False) -> float:
    """The same for a format's dense GEMMs (attention, shared experts, dense MLPs). MXFP4
    checkpoints quantize only the experts (gpt-oss: the attention stays 16-bit)."""
    if quant in ("int4-awq", "int4-gptq"):
        return glob["qbw_int4"]
    if quant == "nvfp4":
        return glob["qbw_nvfp4"]
    if quant == "mxfp4":
        return 1.0
    if quant == "fp8" and fp8_block:
        return glob["qbw_fp8b"]
    return weight_stream_eff(quant, glob, fp8_block)


def sixteen_bit_bytes(arch, tp: int, quantization: str) -> float:
    """Bytes per TP rank of the linear layers a quantized checkpoint keeps in 16 bits (its
    ignore list, gpuforge.engine.vllm.unquantized_linear_groups), as sizing/memory.py counts
    them in the weights; 0 for 16-bit and MXFP4 checkpoints (the memory model keeps MXFP4's
    non-expert layers 16-bit already, and those stream as 16-bit: dense_stream_eff)."""
    if quantization in ("none", "mxfp4"):
        return 0.0
    cache = arch.__dict__.setdefault("_perf_w16", {})
    if tp not in cache:
        from gpuforge.sizing.memory import _group_params, _unquantized_groups

        total = 0.0
        for i, groups in _unquantized_groups(arch).items():
            moe = bool(arch.moe_layers and i < len(arch.moe_layers) and arch.moe_layers[i])
            total += sum(_group_params(arch, tp, g, moe) for g in groups) * 2
        cache[tp] = total
    return float(cache[tp])


def fp8_block_scaled(model, layout: Layout) -> bool:
    """True when FP8 weights come from a block-scaled checkpoint (`weight_block_size` in its
    quantization_config, e.g. DeepSeek / Qwen3 / MiniMax FP8 repos): vLLM runs them with its
    block-FP8 GEMM and fused-MoE kernels (vllm/model_executor/layers/quantization/fp8.py:287-288
    at 0.19.0, Fp8LinearMethod: `self.block_quant = self.weight_block_size is not None`), which
    AIConfigurator's kernel tables measure apart from per-tensor FP8 (data/kernel_tables.json
    `fp8_block`). FP8 quantized at load time (--quantization fp8 on a 16-bit checkpoint) and
    per-tensor / per-channel FP8 checkpoints are not block-scaled."""
    if layout.quantization != "fp8":
        return False
    cache = model.arch.__dict__  # frozen data: cache the answer on it (as model_family does)
    if "_perf_fp8_block" not in cache:
        from gpuforge.engine.vllm import UnsupportedQuantization, quantization_scheme

        try:
            scheme = quantization_scheme(model.arch.quantization_config)
        except UnsupportedQuantization:
            scheme = None
        cache["_perf_fp8_block"] = bool(scheme is not None and scheme.precision == "fp8" and scheme.weight_block)
    return bool(cache["_perf_fp8_block"])


# GPUs whose vLLM all-reduce kernels AIConfigurator measured (data/kernel_tables.json);
# the RTX 6000 Ada stand-in shares the L40S's die and PCIe Gen4 platform.
KERNEL_SYSTEM = {"a100-80gb": "a100_sxm", "a100-40gb": "a100_sxm", "h100-80gb": "h100_sxm", "h200": "h200_sxm", "b200": "b200_sxm",
                 "b300": "b300_sxm", "l40s": "l40s", "rtx-6000-ada": "l40s"}


@lru_cache(maxsize=1)
def kernel_tables() -> dict[str, Any]:
    """Derived kernel tables (bench/derive_kernel_tables.py from AIConfigurator's database)."""
    return json.loads(resources.files("gpuforge.sizing").joinpath("data", "kernel_tables.json").read_text())


def _measured_system(gpu_id: str) -> str | None:
    """The kernel-table system measured on this very GPU: None for GPUs without one and for the
    RTX 6000 Ada stand-in, which borrows the L40S's all-reduce curves (same PCIe platform) but
    not its kernel efficiencies."""
    system = KERNEL_SYSTEM.get(gpu_id)
    return None if system is None or (system == "l40s" and gpu_id != "l40s") else system


# the GPU generation of each kernel-table system (the fit's per-generation parameters)
KERNEL_GENERATION = {"a100_sxm": "ampere", "h100_sxm": "hopper", "h200_sxm": "hopper", "b200_sxm": "blackwell", "b300_sxm": "blackwell", "l40s": "ada"}


@lru_cache(maxsize=64)
def gemv_relative(gpu_id: str) -> float:
    """This GPU's measured 16-bit GEMV bandwidth efficiency over its generation's mean
    (data/kernel_tables.json: H100 SXM 0.79 vs H200 0.74 of peak, so `mbu`, fitted per
    generation, is scaled per GPU); 1.0 for GPUs without a kernel table."""
    systems = kernel_tables()["systems"]
    own = _measured_system(gpu_id)
    mine = ((systems.get(own or "") or {}).get("gemm", {}).get("bfloat16") or {}).get("bandwidth_eff")
    if not own or not mine:
        return 1.0
    gen = KERNEL_GENERATION
    peers: list[float] = []
    for system, e in systems.items():
        eff = (e.get("gemm", {}).get("bfloat16") or {}).get("bandwidth_eff")
        if eff and gen.get(system) == gen.get(own):
            peers.append(float(eff))
    return float(mine) / (sum(peers) / len(peers))


@lru_cache(maxsize=64)
def mla_module_fixed_s(gpu_id: str) -> float | None:
    """Seconds one MLA attention module costs at batch 1 beyond streaming its weights when it
    runs un-compiled (each projection, norm, RoPE and the decode kernel its own launch), as
    AIConfigurator measured vLLM 0.19.0's DeepseekV2MLAAttention in a CUDA graph without
    torch.compile (data/kernel_tables.json `mla_module`: 59-65 us on H100 / H200 / B200 /
    B300). None where it was not measured."""
    row = (kernel_tables()["systems"].get(_measured_system(gpu_id) or "") or {}).get("mla_module")
    if not row:
        return None
    return float(row["fixed_us"]) * 1e-6


def marlin_moe_relative(gpu_id: str, params: PerfParams) -> float:
    """How this GPU's Marlin fused MoE (4-bit experts) streams relative to what `qbw_int4_moe`
    x its generation's `mbu` x its GEMV scaling says, normalised over the GPUs measured.
    AIConfigurator's vLLM 0.19.0 tables (data/kernel_tables.json `marlin_moe`) put the kernel
    at 0.17 of datasheet bandwidth on H100, 0.135 on H200, 0.09 on B200 and 0.096 on B300:
    about the same absolute speed everywhere (64-68 us a layer for one DeepSeek-shaped token at
    TP8), so it does not speed up with HBM bandwidth as a GEMV does. 1.0 without a table."""
    want: dict[str, float] = {}
    for system, e in kernel_tables()["systems"].items():
        eff = (e.get("marlin_moe") or {}).get("stream_eff")
        if eff:  # what qbw_int4_moe would be there, given that GPU's mbu and GEMV scaling
            want[system] = float(eff) / (params.gen(KERNEL_GENERATION[system]).mbu * gemv_relative(e["normalised_by"]))
    mine = want.get(_measured_system(gpu_id) or "")
    if not mine:
        return 1.0
    return mine / (sum(want.values()) / len(want))


@lru_cache(maxsize=64)
def allreduce_alpha_beta(gpu_id: str, tp: int, nvlink: bool) -> tuple[float, float] | None:
    """(seconds, seconds per byte) of one vLLM custom all-reduce on `tp` GPUs, from the
    measured kernel table: the latency of a 1 KiB message and the slope from 1 to 32 MiB.
    None where nothing was measured for this GPU and link (NVLink tables: SXM boxes; the
    L40S table: PCIe)."""
    system = KERNEL_SYSTEM.get(gpu_id)
    if system and (system != "l40s") != nvlink:
        return None
    # vLLM 0.19.0 vllm/distributed/device_communicators/custom_all_reduce.py (CustomAllreduce
    # .__init__): "Custom allreduce is disabled because it's not supported on more than two
    # PCIe-only GPUs" - those all-reduces go through NCCL
    kind = "nccl_allreduce_us" if not nvlink and tp > 2 else "allreduce_us"
    table = (kernel_tables()["systems"].get(system) or {}).get(kind, {}) if system else {}
    pts = table.get(str(tp))
    if not pts:
        return None
    lat = dict((int(sz), us) for sz, us in pts)
    alpha = lat[1024] * 1e-6
    beta = (lat[32 << 20] - lat[1 << 20]) * 1e-6 / ((32 << 20) - (1 << 20))
    return alpha, max(0.0, beta)


@lru_cache(maxsize=256)
def _expert_popularity(experts: int, topk: int, skew: float, groups: int = 12) -> tuple[tuple[float, float], ...]:
    """Routers do not spread tokens evenly: expert i (by popularity rank) is chosen with a
    probability ~ i^-skew (skew 0 = uniform). Returns (share of the experts, log P(a token
    misses one of them)) for `groups` rank ranges, so that the fraction of experts a step of
    n tokens touches is 1 - sum(share * exp(log_miss * n))."""
    if topk >= experts:
        return ((1.0, -math.inf),)
    w = [(i + 1) ** -skew for i in range(experts)]
    # a token picks topk distinct experts: P(expert i) = min(1, c * w_i) with sum = topk
    lo, hi = 0.0, topk / w[-1]
    for _ in range(60):
        c = 0.5 * (lo + hi)
        lo, hi = (c, hi) if sum(min(1.0, c * x) for x in w) < topk else (lo, c)
    p = [min(1.0 - 1e-9, hi * x) for x in w]
    out = []
    edges = sorted({min(experts, round(experts ** (j / groups))) for j in range(groups + 1)} | {0})
    for a, b in itertools.pairwise(edges):
        if b > a:
            pm = sum(p[a:b]) / (b - a)
            out.append(((b - a) / experts, math.log(1 - pm)))
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# one engine step


class StepModel:
    """Cost of one engine step of one replica (seconds)."""

    def __init__(self, model, layout: Layout, memory: MemoryEstimate, params: PerfParams | None = None, streaming: bool = True):
        params = params or load_params()
        arch = model.arch
        gpu = layout.gpu
        g = params.gen(gpu.architecture)
        glob = params.glob
        self.arch, self.layout, self.memory = arch, layout, memory
        tp, pp = layout.tensor_parallel, layout.pipeline_parallel
        self.tp, self.pp = tp, pp
        self.n_layers = arch.num_layers
        self.n_moe = sum(arch.moe_layers) if arch.is_moe and arch.moe_layers else (arch.num_layers if arch.is_moe else 0)
        # bytes one TP rank streams per step, all PP stages on the token's path
        w_rank = memory.weights_gib_total * (1 << 30) / tp
        # modules the checkpoint keeps in 16 bits (its ignore list: NVIDIA's NVFP4 repos leave
        # every self_attn unquantized), sized as the memory estimate sizes them
        self.w16 = sixteen_bit_bytes(arch, tp, layout.quantization)
        if arch.is_moe and layout.quantization in _QUANT_BYTES:
            # routed experts at the format's bytes per parameter, as the memory estimate counts them
            self.w_expert = min(w_rank - self.w16, arch.expert_params * _QUANT_BYTES[layout.quantization] / tp)
        else:
            self.w_expert = w_rank * arch.expert_params / max(1, arch.params_total) if arch.is_moe else 0.0
        self.w_dense = w_rank - self.w_expert
        self.experts, self.topk = arch.num_experts, arch.experts_per_token
        bw = gpu.memory_bandwidth_gbs * 1e9 * g.mbu * gemv_relative(gpu.id)
        block = fp8_block_scaled(model, layout)
        # dense layers (attention, shared experts, dense MLPs) stream through the format's GEMM,
        # routed experts through its fused-MoE kernel: two kernels, two efficiencies
        self.inv_bw_dense = 1 / (bw * dense_stream_eff(layout.quantization, glob, block))
        marlin = marlin_moe_relative(gpu.id, params) if layout.quantization in ("int4-awq", "int4-gptq") else 1.0
        self.inv_bw_w = 1 / (bw * weight_stream_eff(layout.quantization, glob, block) * marlin)
        self.inv_bw_kv = 1 / bw
        # seconds to stream the dense layers: the 16-bit modules at the 16-bit GEMM's rate
        self.dense_s = (self.w_dense - self.w16) * self.inv_bw_dense + self.w16 / bw
        self.gptq_plain = layout.gptq_plain and layout.quantization in ("int4-gptq", "int4-awq")
        if self.gptq_plain:
            # vLLM's plain GPTQ kernel (csrc/quantization/gptq/q_gemm.cu gemm_half_q_half_cuda,
            # read at vllm-project/vllm@03b2ee5e): above MAX_Q_GEMM_ROWS (50) rows it rebuilds
            # each weight matrix in fp16 (reads 4-bit, writes 2 bytes a parameter) and runs
            # cuBLAS Hgemm on it (reads them back); at or below, the exllama kernel reads the
            # 4-bit weights once per BLOCK_M_SIZE_MAX (8) rows
            q_params = (self.w_dense - self.w16) / _QUANT_BYTES[layout.quantization]
            self.gptq_rebuild_s = ((self.w_dense - self.w16) + 2 * q_params) / bw
            self.gptq_fp16_s = (2 * q_params + self.w16) / bw
            self.gptq_q_s = (self.w_dense - self.w16) / bw
        self.bw = bw
        cd = compute_dtype(layout)
        peak = _peak_tflops(gpu, cd) * 1e12 * g.mfu * {"fp8": glob["qmfu_fp8b" if block else "qmfu_fp8"], "fp4": glob["qmfu_fp4"]}.get(cd, 1.0)
        self.active = model.params_active
        active_expert = arch.expert_params * arch.experts_per_token / arch.num_experts if arch.is_moe else 0.0
        dense_active = self.active - active_expert
        # FLOP time per token of the linear layers on one rank (MoE grouped GEMMs less efficient)
        self.lin_s_per_tok = 2 * dense_active / tp / peak
        if arch.is_moe:
            self.lin_s_per_tok += 2 * active_expert / tp / (peak * glob["moe_eff"])
        # KV bytes per token per layer group on one rank: (bytes, window or None, layers)
        page_token = memory.page_size_bytes / memory.block_size
        self.kv_layers = [(page_token, w if k != "full" else None, n) for k, w, n in arch.attention_groups]
        if arch.is_mla:
            self.attn_dim = arch.num_heads * (arch.kv_lora_rank + arch.qk_rope_head_dim)  # absorbed MLA
        else:
            self.attn_dim = arch.num_heads * arch.head_dim
        attn_peak = gpu.bf16_tflops * 1e12 * g.mfu
        # decode: KV bytes read per sequence = kv_full * context + sum(kv_w * min(context, w))
        # the attention kernels' own achieved fraction of the datasheet bandwidth (not the GEMVs')
        kv_bw = gpu.memory_bandwidth_gbs * 1e9 * glob["kv_eff"]
        self.kv_full = sum(n * b for b, w, n in self.kv_layers if not w) / kv_bw
        self.kv_win = [(n * b / kv_bw, w) for b, w, n in self.kv_layers if w]
        # prefill attention: 4 x tokens x span x heads x head_dim FLOPs per layer (causal)
        self.attn_full = sum(n for _, w, n in self.kv_layers if not w) * 4 * self.attn_dim / tp / attn_peak
        self.attn_win = [(n * 4 * self.attn_dim / tp / attn_peak, w) for _, w, n in self.kv_layers if w]
        self.act_bytes_per_token = arch.hidden_size * 2
        # all-reduce: two per layer, a latency plus the payload over the link between TP ranks
        self.comm_fixed, self.comm_per_tok = 0.0, 0.0
        if tp > 1:
            measured = allreduce_alpha_beta(gpu.id, tp, bool(gpu.nvlink_gbs))
            if measured:
                lat, per_byte = measured
            elif gpu.nvlink_gbs:
                lat, per_byte = glob["ar_nvlink_us"] * 1e-6, 2 * (tp - 1) / tp / (gpu.nvlink_gbs / 2 * 1e9 * NVLINK_EFF)
            else:
                # GeForce boards have PCIe peer-to-peer disabled, so NCCL stages the all-reduce
                # through host memory (its SHM transport) and vLLM's custom all-reduce, which
                # needs P2P, is off (vllm/distributed/device_communicators/custom_all_reduce.py:164 at 0.19.0)
                eff = glob["pcie_host_eff"] if "GeForce" in gpu.name else glob["pcie_eff"]
                lat, per_byte = glob["ar_pcie_us"] * 1e-6, 2 * (tp - 1) / tp / (gpu.pcie_gbs / 2 * 1e9 * eff)
            self.comm_fixed = 2 * self.n_layers * (lat + glob["tp_sync_us"] * 1e-6)
            self.comm_per_tok = 2 * self.n_layers * per_byte * self.act_bytes_per_token
        # pipeline: pp - 1 hand-offs of the step's activations (NVLink inside a node, the
        # inter-node fabric between nodes)
        if pp > 1:
            cross = layout.nodes - 1
            inside = pp - 1 - cross
            fabric = layout.node_fabric if layout.node_fabric in INTER_NODE_GBS_PER_GPU else "none"
            local_bw = (gpu.nvlink_gbs or gpu.pcie_gbs) / 2 * 1e9 * NVLINK_EFF
            self.comm_fixed += inside * glob["ar_nvlink_us"] * 1e-6 + cross * INTER_NODE_LATENCY_US[fabric] * 1e-6
            self.comm_per_tok += self.act_bytes_per_token * (inside / local_bw + cross / (INTER_NODE_GBS_PER_GPU[fabric] * 1e9))
        cpu = glob["v0_step"] if layout.engine_v0 else 1.0
        self.fixed = (g.step_ms * MS) * cpu + self.comm_fixed
        self.per_seq = (glob["v0_seq_us"] if layout.engine_v0 else glob["seq_us"]) * 1e-6
        if layout.engine_v0 and streaming:
            # V0 serving streamed requests builds and ships every running sequence's
            # RequestOutput each step, inside the engine loop; offline LLM.generate asks only
            # for the final output (vllm/entrypoints/llm.py:1977 at 0.19.0 sets
            # RequestOutputKind.FINAL_ONLY, as V0 releases did). V1 does that work in the API
            # server process, beside the engine (vllm/v1/engine/output_processor.py).
            self.per_seq += glob["v0_stream_us"] * 1e-6
        if layout.engine_sync and not layout.engine_v0:
            # V1 before async scheduling was on by default (vllm-project/vllm#27614, the last
            # item of the async-scheduling plan #27679; on in 0.19.0: vllm/config/vllm.py:755-788)
            # schedules step N+1 and prepares its inputs only after step N returns, so that CPU
            # work sits between GPU steps instead of overlapping them
            self.fixed += glob["sync_step_ms"] * MS
            self.per_seq += glob["sync_seq_us"] * 1e-6
        self.fixed += (g.layer_us * self.n_layers + g.moe_layer_us * self.n_moe) * 1e-6
        if layout.engine_v0 and arch.is_mla:
            # V0 never compiles the model: its compilation level defaults to 0 (vllm/config.py
            # at 0.7.3 :2861, at 0.9.2 :3984) and only V1 raises it to piecewise torch.compile
            # (0.7.3 :3295-3307, 0.9.2 :4558-4564), whose fusions the fitted per-layer cost
            # reflects. So a V0 MLA layer launches its attention module's dozen small kernels
            # one by one, which is what AIConfigurator's module table times (no torch.compile,
            # in a CUDA graph).
            mla = mla_module_fixed_s(gpu.id)
            if mla:
                self.fixed += mla * self.n_layers
        if cd in ("fp8", "fp4", "int8"):
            # W8A8 / W4A4 GEMMs quantize their input activations first: one more kernel per
            # linear layer (vllm/model_executor/layers/quantization/utils/fp8_utils.py
            # per_token_group_quant_fp8, scaled_fp8_quant; nvfp4 scaled_fp4_quant)
            self.fixed += glob["act_quant_us"] * 1e-6 * self.n_layers
        # log P(a token misses an expert); top-k == experts hits every expert (log 0 = -inf)
        self.miss = (math.log(1 - self.topk / self.experts) if self.topk < self.experts else -math.inf) if self.w_expert else 0.0
        self.routes = _expert_popularity(self.experts, self.topk, glob["route_skew"]) if self.w_expert else ()

    def touched(self, tokens: float) -> float:
        """Expected fraction of the routed experts a step of `tokens` tokens touches."""
        n = tokens if tokens > 1 else 1.0
        return 1.0 - sum(share * math.exp(lm * n) for share, lm in self.routes)

    def kv_read_bytes(self, context: float) -> float:
        return sum(n * b * (min(context, w) if w else context) for b, w, n in self.kv_layers)

    def weights_read(self, tokens: float) -> float:
        """Bytes of weights a step of `tokens` tokens streams (MoE: only the touched experts)."""
        if not self.w_expert:
            return self.w_dense
        return self.w_dense + self.w_expert * self.touched(tokens)

    def step_s(self, decode: float, context: float, prefill: float = 0.0, span: float = 0.0) -> float:
        """One step: `decode` sequences at mean `context`, plus `prefill` prompt tokens that
        attend to `span` earlier tokens on average."""
        tokens = decode + prefill
        lin = self.dense_s
        rebuild = 0.0
        if self.gptq_plain:
            if tokens > GPTQ_MAX_Q_GEMM_ROWS:
                lin, rebuild = self.gptq_fp16_s, self.gptq_rebuild_s
            else:
                lin = self.gptq_q_s * max(1, math.ceil(tokens / GPTQ_BLOCK_M)) + self.w16 / self.bw
        if self.w_expert:
            lin += self.w_expert * self.touched(tokens) * self.inv_bw_w
        cmp = tokens * self.lin_s_per_tok
        t = (lin if lin > cmp else cmp) + rebuild + self.fixed + tokens * self.comm_per_tok + decode * self.per_seq
        if decode:
            kv = self.kv_full * context
            for c, win in self.kv_win:
                kv += c * (context if context < win else win)
            t += decode * kv
        if prefill:
            a = self.attn_full * span
            for c, win in self.attn_win:
                a += c * (span if span < win else win)
            t += prefill * a + self.per_seq
        return t

    def bound(self, decode: float) -> str:
        stream = self.dense_s + (self.weights_read(decode) - self.w_dense) * self.inv_bw_w
        return "compute" if decode * self.lin_s_per_tok > stream else "memory-bandwidth"


# ---------------------------------------------------------------------------------------------
# the scheduler


def _uncertainty(params: PerfParams, architecture: str, family: str) -> tuple[str, dict[str, float]]:
    u = params.uncertainty
    for key in (f"{architecture}|{family}", architecture, "all"):
        row = u.get("groups", {}).get(key)
        if row:
            return key, row
    return "", {}


def model_family(arch) -> str:
    """dense | moe | mla | sliding: the family an accuracy group is keyed by."""
    cache = arch.__dict__  # frozen data: cache the answer on it (as memory.py does)
    if "_perf_family" not in cache:
        if arch.is_mla:
            fam = "mla"
        elif arch.is_moe:
            fam = "moe"
        elif any(la.kind != "full" for la in arch.layers):
            fam = "sliding"
        else:
            fam = "dense"
        cache["_perf_family"] = fam
    return cache["_perf_family"]


def _prefill_steps(sm: StepModel, n: float, I: int, budget: int) -> tuple[list[int], list[float]]:
    """`n` prompts of I tokens waiting together, run whole (no chunked prefill): each step
    takes as many as fit the token budget (vllm 0.7.3 vllm/core/scheduler.py:1148 with :74);
    (prompts per step, time each step ends)."""
    per_step = max(1, min(max(1, round(n)), budget // max(1, I)))
    full, rest = divmod(max(1, round(n)), per_step)
    sizes = [per_step] * full + ([rest] if rest else [])
    t, ends = 0.0, []
    for k in sizes:
        t += sm.step_s(0, 0, k * I, I / 2)
        ends.append(t)
    return sizes, ends


def _draining_decode_s(sm: StepModel, n: float, O: int, o_max: int, ctx: float, pieces: int = 8) -> float:
    """Decode time of `n` sequences started together whose outputs average O tokens and end
    by o_max: the batch drains as they finish. It holds at n for max(0, 2 O - o_max) steps,
    then falls linearly to none by o_max (the mean is n x O / o_max, as the tokens require);
    with 2 O < o_max it falls over 2 O steps and the longest output runs on alone. Summed
    over pieces, because a step's cost is not linear in its batch (weights stream once a
    step, a kernel can change with the row count)."""
    o, last = O - 1.0, o_max - 1.0  # the first token of each comes with its prefill
    plateau = max(0.0, 2.0 * o - last)
    fall = min(last, 2.0 * o) - plateau
    t = plateau * sm.step_s(n, ctx)
    for k in range(pieces):
        t += fall / pieces * sm.step_s(max(1.0, n * (1 - (k + 0.5) / pieces)), ctx)
    return t + max(0.0, last - 2.0 * o) * sm.step_s(1, ctx)


def _wave(sm: StepModel, n: float, I: int, O: int, budget: int, ctx: float, o_max: int | None = None, whole_prompts: bool = False) -> tuple[float, float, float, float]:
    """`n` prompts submitted at once (a burst, or a closed-loop run's first round):
    (time until all finish, mean TTFT, mean ITL, last TTFT). Their prompts fill the token
    budget step after step, then they decode together; the early ones decode during the
    later ones' prefill steps, which stretches their ITL. With outputs of mean O and longest
    o_max, the decode phase lasts o_max steps while the batch drains (_draining_decode_s).

    `whole_prompts` (no chunked prefill, Layout.chunked_prefill): a step holds as many whole
    prompts as fit the budget, its prompts get their first token when it ends, and no prompt
    decodes until the last prefill step is done, so every request waits out the prefill steps
    after its own before its second token."""
    if whole_prompts:
        sizes, ends = _prefill_steps(sm, n, I, budget)
        pre = ends[-1]
        mean_end = sum(k * e for k, e in zip(sizes, ends, strict=True)) / sum(sizes)
        step = sm.step_s(n, ctx)
        total = pre + (_draining_decode_s(sm, n, O, o_max, ctx) if o_max and o_max > O else (O - 1) * step)
        return total, mean_end, step + (pre - mean_end) / max(1, O - 1), pre
    pre_steps = math.ceil(n * I / budget)
    pre_step = sm.step_s(0, 0, n * I / pre_steps, I / 2)
    pre = pre_steps * pre_step
    step = sm.step_s(n, ctx)
    total = pre + (_draining_decode_s(sm, n, O, o_max, ctx) if o_max and o_max > O else (O - 1) * step)
    ttft = pre * (n + 1) / (2 * n)
    # each request waits out the prefill after its own first token before its second
    itl = step + (pre - ttft) / max(1, O - 1)
    return total, ttft, itl, pre


def _poisson_quantile(mean: float, q: float) -> int:
    """Smallest j with P(N <= j) >= q for N ~ Poisson(mean)."""
    if mean <= 0:
        return 0
    term = cdf = math.exp(-mean)
    j = 0
    while cdf < q and j < 10_000:
        j += 1
        term *= mean / j
        cdf += term
    return j


def _itl_tail(sm: StepModel, b: float, ctx: float, prompt: int, budget: int, prompts_per_step: float, decode_step: float) -> tuple[float, float]:
    """(p95, p99) of the per-token latency of a decoding batch of `b` sequences.

    Every decoding sequence gets one token per engine step, so the per-token latency is the
    step time, weighted equally over steps. A step is slower when vLLM's chunked prefill puts
    prompt tokens into it (vLLM 0.19.0 vllm/v1/core/sched/scheduler.py: running requests first,
    :383, then waiting prompts, :563, each cut to the token budget left of
    max_num_batched_tokens, :367 and :680). With prompts arriving at random, the number of prompt
    chunks a step carries is Poisson with mean `prompts_per_step` x chunks per prompt (a prompt
    longer than the room left in the budget is split into ceil(prompt / room) chunks); a step
    with j chunks runs min(j x chunk, room) prompt tokens next to the decodes. The quantile is
    that of the step time over this distribution: no prompt in 95% of the steps gives the
    plain decode step, more gives the stalled one.
    """
    room = max(1.0, budget - b)
    k = math.ceil(prompt / room)
    chunk = prompt / k
    chunks_per_step = prompts_per_step * k

    def at(q: float) -> float:
        j = _poisson_quantile(chunks_per_step, q)
        return decode_step if j == 0 else sm.step_s(b, ctx, min(j * chunk, room), prompt / 2)

    return at(0.95), at(0.99)



def _weighted_quantile(pairs: list[tuple[float, float]], q: float) -> float:
    """q-quantile of values weighted by counts: [(value, weight), ...]."""
    pairs = sorted(pairs)
    total = sum(w for _, w in pairs)
    acc = 0.0
    for v, w in pairs:
        acc += w
        if acc >= q * total:
            return v
    return pairs[-1][0] if pairs else 0.0


def _segment_quantile(segs: list[tuple[float, float, float]], q: float) -> float:
    """q-quantile of a mixture of uniform distributions [(weight, low, high), ...]: the CDF is
    piecewise linear, swept through its breakpoints."""
    events: list[tuple[float, float, float]] = []  # (value, slope change, jump)
    total = 0.0
    for w, lo, hi in segs:
        total += w
        if hi - lo > 1e-12:
            events += [(lo, w / (hi - lo), 0.0), (hi, -w / (hi - lo), 0.0)]
        else:
            events.append((lo, 0.0, w))
    events.sort()
    target, cdf, slope, last = q * total, 0.0, 0.0, events[0][0]
    for v, ds, jump in events:
        reach = cdf + slope * (v - last)
        if reach >= target and slope > 0:
            return last + (target - cdf) / slope
        cdf, last = reach + jump, v
        if cdf >= target:
            return v
        slope += ds
    return last


# V0 admits a prompt only while this fraction of the KV cache stays free (vllm 0.7.3
# vllm/core/block_manager.py:66 `watermark: float = 0.01`, checked at :139-146; the scheduler
# passes none, vllm/core/scheduler.py:458-464); V1's KVCacheManager keeps none
V0_KV_WATERMARK = 0.01


@dataclass
class FiniteRun:
    """A finite open-loop run replayed step by step (_finite_run); times in seconds."""

    ttft_mean: float
    ttft_median: float
    ttft_p95: float
    tpot_mean: float  # per request: (finish - first token) / (O - 1), averaged over requests
    itl_p95: float  # inter-token gaps, weighted by the tokens that saw them
    itl_p99: float
    e2e_mean: float
    makespan: float  # from the clock's start to the last request's last token
    requests_per_s: float  # the run's requests over its makespan (what the benchmark reports)
    batch: float  # time-averaged requests running
    prefill_share: float  # fraction of engine time in steps that carry prompt tokens


def _finite_run(sm: StepModel, n: int, rate: float, I: int, O: int, budget: int, max_seqs: int, kv_tokens: float, whole_prompts: bool) -> FiniteRun:
    """`n` requests of I prompt and O output tokens arriving at `rate` a second, run through
    vLLM's scheduler step by step: the replay of a benchmark the engine cannot keep up with,
    where no steady state exists (the queue grows while requests arrive, then drains).

    Requests are a fluid, so that every figure moves smoothly with the step costs (the fit
    differentiates them): they arrive evenly at `rate` (the mean of the benchmark clients'
    Poisson schedule: AccelMark loadgen/loadgen.py _run_online_async, vLLM
    benchmarks/benchmark_serving.py get_request), a prompt is taken once a whole request is
    waiting (or the last of them), and a step's prompts may be any fraction of a request. What
    that costs: a prompt split over several steps by chunked prefill gets its first token
    spread over them instead of at the last one (its TTFT early by about half its prefill),
    and burstiness (Poisson clumps) is averaged out (predict adds the steady state's waiting
    terms for it to the replay's TTFT).

    - Admission is by the KV cache a prompt needs now, not by what it will need: V0 admits a
      prompt while its blocks fit with 1% of the cache kept free (vllm 0.7.3
      vllm/core/block_manager.py:139-146, watermark 0.01 at :66), V1 while the blocks of the
      tokens it schedules this step fit (vLLM 0.19.0 vllm/v1/core/sched/scheduler.py:461,
      KVCacheManager.allocate_slots); both up to max_num_seqs, in arrival order, preempted
      requests first.
    - So the running sequences can outgrow the cache: when a decode step finds no room, the
      most recently admitted are preempted by recompute and go back to the front of the queue,
      to prefill prompt and output so far again (0.7.3 vllm/core/scheduler.py:738, recompute
      for single-sequence requests :1742-1744, back to the queue :1260;
      0.19.0 scheduler.py:500 and :976); V1 admits no waiting prompt in a step that preempted
      (:564).
    - `whole_prompts` (V0 without chunked prefill): while a waiting prompt can be admitted
      the step is a prefill step only, as many whole prompts as fit `budget`, and the running
      sequences do not decode in it (0.7.3 scheduler.py _schedule_default, :1231-1262);
      otherwise (V1, V0 with chunked prefill) every step decodes each running sequence first
      and gives the budget left to waiting prompt tokens in order (0.19.0 Scheduler.schedule:
      running requests first, then waiting ones, within max_num_batched_tokens).

    A prompt's first token comes at the end of the step that prefills it. Decode steps that
    change nothing but the sequences' lengths are taken together up to the next completion,
    the step the cache runs out, or the next waiting request that could be admitted (every
    output is O tokens, so the requests admitted in one step finish together)."""
    eps = 1e-9
    free_floor = V0_KV_WATERMARK * kv_tokens if whole_prompts else 0.0

    def arrived(at: float) -> float:  # request j's share [j, j + 1) comes in by its time (j + 1) / rate
        return min(float(n), rate * at)

    def arrival_sum(x0: float, x1: float) -> float:  # the share at x belongs to request floor(x), due at (x + 0.5) / rate on average
        return (x1 - x0) * ((x0 + x1) / 2 + 0.5) / rate

    t = stall = prefill_t = held_t = 0.0
    F = 0.0  # fresh requests prefilled so far
    D = 0.0  # decode steps so far: a running cohort's length grows without touching it
    # running cohorts in admission order: [requests, tokens generated - D, first token time,
    # sum of arrival times]; preempted ones wait as [requests, tokens generated, first token
    # time, sum of arrival times], first in line
    running: list[list[float]] = []
    requeued: list[list[float]] = []
    ending: list[tuple[float, int, list[float]]] = []  # heap: the cohort that finishes first on top
    ids = itertools.count()
    B = S = 0.0  # requests running; sum of their (tokens generated - D)
    segs: list[tuple[float, float, float]] = []  # first tokens: (requests, TTFT of the last, of the first)
    ttft_sum = 0.0
    gaps: list[tuple[float, float]] = []
    tpot_sum = e2e_sum = done = 0.0

    def start(k: float, generated: float, first: float, arrivals: float) -> None:
        nonlocal B, S
        c = [k, generated - D, first, arrivals]
        running.append(c)
        heapq.heappush(ending, (-c[1], next(ids), c))
        B += k
        S += k * c[1]

    def finish() -> None:
        nonlocal done, tpot_sum, e2e_sum, B, S
        while ending and (ending[0][2][0] <= eps or D - ending[0][0] >= O - eps):
            c = heapq.heappop(ending)[2]
            if c[0] <= eps:  # preempted away
                continue
            running.remove(c)
            B -= c[0]
            S -= c[0] * c[1]
            done += c[0]
            tpot_sum += c[0] * ((t - c[2]) / (O - 1) if O > 1 else 0.0)
            e2e_sum += c[0] * t - c[3]

    while done < n - 1e-6:
        A = arrived(t)
        used = B * (I + D) + S
        preempted = False
        while eps < B and used + B > kv_tokens + eps:
            # no room for the step's tokens: preempt the most recently admitted (recompute)
            c = running[-1]
            gen = c[1] + D
            # whole requests go (one at least, or what is left of the cohort), freeing the
            # room for the steps after
            k = min(c[0], max(1.0, (used + B - kv_tokens) / (I + gen + 1)))
            share = c[3] * k / c[0]
            requeued.insert(0, [k, gen, c[2], share])
            c[0] -= k
            c[3] -= share
            B -= k
            S -= k * c[1]
            used -= k * (I + gen)
            preempted = True
            if c[0] <= eps:
                running.pop()
        ctx = I + (S / B + D if eps < B else 0.0)
        fresh = A - F
        trigger = bool(requeued) or fresh >= 1 - eps or (n - eps <= A and fresh > eps)
        tokens = span = 0.0
        if trigger and not preempted and max_seqs - eps > B:
            # admit: preempted first, then fresh, each limited by the budget, the free slots
            # and the cache; V0 takes whole prompts, so at least one (or what is left)
            room = budget - (0.0 if whole_prompts else B)
            kv_room = kv_tokens - free_floor - used
            slots = max_seqs - B
            back: list[list[float]] = []
            queue = requeued + [[fresh, 0.0, -1.0, 0.0]]
            for c in queue:
                length = I + c[1]
                k = max(0.0, min(c[0], slots, room / length, kv_room / length))
                # a request is scheduled when the blocks of what it runs this step fit: a
                # whole prompt in V0, a chunk of up to the room left in V1
                whole = min(c[0], 1.0) * (length if whole_prompts else min(length, room))
                if k <= eps or (whole_prompts and k < min(c[0], 1.0) - eps) or kv_room < whole - eps:
                    break
                tokens += k * length
                span += k * length * length / 2
                room, kv_room, slots = room - k * length, kv_room - k * length, slots - k
                back.append([k, c[1], c[2], c[3] * k / c[0] if c[2] >= 0 else 0.0])
                if k < c[0] - eps:
                    break
        if tokens > 0:
            dt = sm.step_s(0 if whole_prompts else B, ctx, tokens, span / tokens)
            t += dt
            prefill_t += dt
            held_t += B * dt
            if whole_prompts:
                stall += dt
            else:
                if eps < B:
                    gaps.append((stall + dt, B))
                stall = 0.0
                D += 1
            for k, gen, first, arrivals in back:
                if first >= 0:  # a preempted cohort, prefilled again: its next token
                    requeued[0][0] -= k
                    requeued[0][3] -= arrivals
                    if requeued[0][0] <= eps:
                        requeued.pop(0)
                    start(k, gen + 1, first, arrivals)
                else:
                    a_sum = arrival_sum(F, F + k)
                    segs.append((k, t - (F + k + 0.5) / rate, t - (F + 0.5) / rate))
                    ttft_sum += k * t - a_sum
                    start(k, 1, t, a_sum)
                    F += k
            finish()
            continue
        if eps >= B:
            t = max(t, min(F + 1, n) / rate)
            continue
        # decode only: up to the next completion, the step the cache runs out, or the time a
        # whole request is waiting and could be admitted
        k = O - (D - ending[0][0])
        k = min(k, (kv_tokens - used) / B)
        step = sm.step_s(B, ctx + k / 2)
        if not trigger and n - eps > A and max_seqs - eps > B and used + I <= kv_tokens - free_floor:
            due = min(F + 1, n) / rate
            k = min(k, max(eps, (due - t) / step))
        t += k * step
        held_t += B * k * step
        gaps.append((stall + step, B))
        if k > 1:
            gaps.append((step, B * (k - 1)))
        stall = 0.0
        D += k
        finish()
    return FiniteRun(
        ttft_mean=ttft_sum / n, ttft_median=_segment_quantile(segs, 0.5), ttft_p95=_segment_quantile(segs, 0.95),
        tpot_mean=tpot_sum / n, itl_p95=_weighted_quantile(gaps, 0.95), itl_p99=_weighted_quantile(gaps, 0.99),
        e2e_mean=e2e_sum / n, makespan=t, requests_per_s=n / t, batch=held_t / t if t else 0.0, prefill_share=prefill_t / t if t else 0.0,
    )


def predict(model, layout: Layout, workload: Workload, memory: MemoryEstimate, params: PerfParams | None = None) -> Performance:
    """Predict TTFT, ITL (mean and p95) and throughput of one replica under the workload."""
    params = params or load_params()
    sm = StepModel(model, layout, memory, params, streaming=not workload.burst)
    glob = params.glob
    I, O = max(1, workload.input_tokens), max(1, workload.output_tokens)
    budget = max(1, memory.max_num_batched_tokens)
    kv_slots = int(memory.kv_cache_tokens // max(1, I + O)) if memory.kv_cache_tokens else 0
    capacity = max(0, min(memory.max_num_seqs, kv_slots))
    slot_reason = "kv-capacity" if kv_slots < memory.max_num_seqs else "max-num-seqs"
    group, err = _uncertainty(params, layout.gpu.architecture, model_family(model.arch))
    extra: dict[str, Any] = dict(ttft_error=err.get("ttft", 0.0), itl_error=err.get("itl", 0.0), throughput_error=err.get("throughput", 0.0), error_group=group, uncertainty=dict(err))
    request = glob["request_ms"] * MS  # API server: HTTP, tokenization, first detokenize

    # one prompt alone: ceil(I / budget) chunks, each a step of its own
    chunks = math.ceil(I / budget)
    chunk = I / chunks
    prefill_alone = sum(sm.step_s(0, 0, chunk, k * chunk + chunk / 2) for k in range(chunks))
    if capacity < 1:
        inf = float("inf")
        return Performance(inf, inf, inf, inf, inf, 0.0, 0.0, 0.0, 0, prefill_alone / MS, inf, 1.0, "kv-capacity", **extra, ttft_median_ms=inf, itl_p99_ms=inf)
    ctx = I + O / 2  # mean context of a decoding sequence

    def steady(b: float) -> tuple[float, float, float]:
        """(step, own prefill time, marginal s per prompt token) with `b` sequences decoding
        and every finished one replaced by a new prompt (B x I / O prompt tokens per step)."""
        room = max(1.0, budget - b)
        k = math.ceil(I / room)
        c = I / k
        plain = sm.step_s(b, ctx)
        with_chunk = sm.step_s(b, ctx, c, I / 2)
        # prompts arrive in chunks of c tokens: a fraction f of the steps carries one
        f = b / O * k
        if f < 1:
            step = (1 - f) * plain + f * with_chunk
        else:  # every step carries prompt tokens, up to the budget
            step = sm.step_s(b, ctx, min(b * I / O, room), I / 2)
        per_tok = (with_chunk - plain) / c
        return step, k * with_chunk, per_tok

    limited = ""
    whole = not layout.chunked_prefill
    # A closed loop of users whose requests all have the same lengths, on an engine that runs
    # prompts in steps of their own (no chunked prefill): the users start together, their
    # prompts are all prefilled before any of them decodes, so they decode in lockstep, finish
    # at the same step and send again together. Every round is the first round's wave.
    lockstep = bool(workload.concurrency and not workload.request_rate and workload.fixed_lengths and whole)
    if workload.burst or lockstep:
        # offline: `burst` prompts at once, run in waves of `capacity` (lockstep: the users)
        n = workload.burst or workload.concurrency or 1
        waves = math.ceil(n / capacity)
        wave = n / waves
        total, ttft_w, itl, pre = _wave(sm, wave, I, O, budget, ctx, workload.output_tokens_max, whole_prompts=whole)
        rps = n / (waves * total)
        ttft = ttft_w + (waves - 1) * total / 2
        ttft_med = ttft
        ttft_p95 = pre * 0.95 + (waves - 1) * total
        if whole:
            # a prompt's first token comes at the end of the step that holds it
            sizes, ends = _prefill_steps(sm, wave, I, budget)

            def end_of(q: float) -> float:
                acc = 0
                for k, end in zip(sizes, ends, strict=True):
                    acc += k
                    if acc >= q * sum(sizes):
                        return end
                return ends[-1]

            ttft_med = end_of(0.5) + (waves - 1) * total / 2
            ttft_p95 = end_of(0.95) + (waves - 1) * total
        if lockstep:
            # each user's next request waits for the API server's per-request work too
            rps = n / (waves * total + request)
        e2e = total * (waves + 1) / 2
        batch = wave
        rho = pre / total
        decode_step = sm.step_s(wave, ctx)
        itl_p95 = itl_p99 = max(itl, decode_step if lockstep else sm.step_s(wave, ctx, min(I, budget), I / 2))
        limited = sm.bound(wave) if waves == 1 else slot_reason
    else:
        rate = workload.request_rate
        users = workload.concurrency or 1
        # steady state: each step carries the b decode tokens and the prompts of the b / O
        # requests that replace finished ones (b x I / O tokens), within the token budget;
        # a larger running batch would admit prompts slower than requests finish (V1
        # schedules running requests first, waiting prompts in the budget left over:
        # vllm/v1/core/sched/scheduler.py Scheduler.schedule), so it shrinks to this
        held = min(float(capacity), max(1.0, budget * O / (I + O)))
        if held < capacity:
            slot_reason = "token-budget"
        ca2 = 1.0 if rate else glob["ca2_closed"]
        if rate:
            # open loop: the decoding batch b that completes `rate` requests a second (Little)
            b = min(held, max(1e-3, rate * O * sm.step_s(1, ctx)))
            for _ in range(30):
                nb = min(held, rate * O * steady(b)[0])
                if abs(nb - b) < 1e-3 * b:
                    b = nb
                    break
                b = 0.5 * (b + nb)
            b = max(1e-3, b)
        else:
            # closed loop: users split between decoding (b) and waiting for / in their prefill
            b = min(float(users), held)
            for _ in range(40):
                step, own, per_tok = steady(b)
                lam = b / (O * step)
                rho = min(0.999, lam * I * per_tok)
                ttft = 0.5 * step + own + ca2 / 2 * rho / (1 - rho) * own + request
                nb = min(held, users * O * step / (ttft + O * step))
                if abs(nb - b) < 1e-4 * max(1.0, b):
                    b = nb
                    break
                b = 0.5 * (b + nb)
        step, own, per_tok = steady(b)
        lam = b / (O * step)  # requests finishing (and starting) per second
        rho = min(0.999, lam * I * per_tok)
        wq = ca2 / 2 * rho / (1 - rho) * own  # Kingman, deterministic service
        ttft = 0.5 * step + own + wq
        wait_extra = 0.0
        if b * I / O > budget - b:
            # prompts no longer fit the token budget: prefill throughput caps the request rate
            lam = min(lam, max(1e-9, budget - b) / I / step)
            limited = "token-budget"
        run = None
        if rate:
            if rate > lam * 1.0005:
                # overloaded: arrivals outpace completions for as long as the run lasts, so
                # there is no steady state; a finite run is replayed step by step
                limited = limited or slot_reason
                if not workload.num_requests:
                    wait_extra = float("inf")
                else:
                    run = _finite_run(sm, workload.num_requests, rate, I, O, budget, memory.max_num_seqs, memory.kv_cache_tokens, whole)
            else:
                lam = rate
        elif users > b * 1.0005:
            # closed loop: users that hold no slot wait for one (Little's law on the queue)
            served = b + lam * (ttft + request)
            if users > served:
                wait_extra = (users - served) / lam
                limited = limited or slot_reason
        # exponential tail of the prefill wait: P(W > t) = rho * exp(-t * rho / wq)
        theta = wq / rho if rho > 0 else 0.0
        wq95 = theta * math.log(rho / 0.05) if rho > 0.05 else 0.0
        wq50 = theta * math.log(2 * rho) if rho > 0.5 else 0.0
        ttft_med = 0.5 * step + own + wq50 + wait_extra
        ttft_p95 = 0.5 * step + own + wq95 + (wait_extra * 1.5 if math.isfinite(wait_extra) else wait_extra)
        ttft = ttft + wait_extra
        rps = lam
        batch = b
        decode_step = sm.step_s(b, ctx)
        itl = step
        if not rate:
            # a request's own prompt is prefilled before its first token, so the steps it
            # decodes in carry only the other users' prompts, (users - 1) / users of them in a
            # closed loop (one user alone decodes in plain steps); Poisson arrivals do not
            # thin out for a request in flight, so the open loop keeps them all
            itl = decode_step + (step - decode_step) * (users - 1) / users
        itl_p95, itl_p99 = _itl_tail(sm, b, ctx, I, budget, lam * step, decode_step)
        if run is not None:
            # the replay's arrivals are even and join the moment they come; a Poisson arrival
            # also waits for the step in progress and behind the clumps of others, the steady
            # state's terms at the rate the engine sustains
            ttft, ttft_med, ttft_p95 = (x + 0.5 * step + w for x, w in ((run.ttft_mean, wq), (run.ttft_median, wq50), (run.ttft_p95, wq95)))
            e2e_run = run.e2e_mean + 0.5 * step + wq  # the same waits delay the whole request
            itl, itl_p95, itl_p99 = run.tpot_mean, run.itl_p95, run.itl_p99
            rps = run.requests_per_s
            batch, rho = run.batch, run.prefill_share
            decode_step = sm.step_s(batch, ctx)
        limited = limited or sm.bound(b)
        if not rate and workload.rounds and workload.rounds > 1 / 0.999:
            # a benchmark run: its first round starts every user at once
            r = workload.rounds
            total_w, ttft_w, itl_w, _ = _wave(sm, min(users, capacity), I, O, budget, ctx, whole_prompts=whole)
            ttft = ttft_w / r + ttft * (1 - 1 / r)
            ttft_med = ttft_w / r + ttft_med * (1 - 1 / r)
            itl = itl_w / r + itl * (1 - 1 / r)
            rps = users * r / (total_w + users * (r - 1) / max(1e-12, rps))
        e2e = e2e_run if run is not None else ttft + (O - 1) * itl
        ttft_p95 = max(ttft_p95, ttft)

    return Performance(
        ttft_ms=(ttft + request) / MS,
        ttft_p95_ms=(ttft_p95 + request) / MS,
        itl_ms=itl / MS,
        itl_p95_ms=max(itl_p95, itl) / MS,
        itl_p99_ms=max(itl_p99, itl_p95, itl) / MS,
        e2e_ms=(e2e + request) / MS,
        output_tokens_per_s=rps * O,
        requests_per_s=rps,
        concurrency=batch,
        batch_capacity=capacity,
        prefill_ms=prefill_alone / MS,
        decode_step_ms=decode_step / MS,
        utilisation=min(1.0, rho),
        limited_by=limited,
        **extra,
        ttft_median_ms=(ttft_med + request) / MS,
    )

"""Per-GPU memory, faithful to how the pinned vLLM release decides what fits.

The accounting follows vLLM's V1 engine (see `gpuforge.sizing.versions` for the sources):

    requested  = total_gpu_memory x gpu_memory_utilization
    non_kv     = weights + activation peak of the profile run + non-torch memory
    available  = requested - non_kv
    num_blocks = available // (page_size x layers sharing a block)   (min over PP stages)

Weights follow the layer split vLLM makes (`get_pp_indices`, column/row-parallel linears,
replicated KV heads when TP exceeds their count, vocab padded to 64 and sharded). KV pages
follow `vllm/v1/kv_cache_interface.py`: full, sliding-window and chunked-local attention,
MLA latent caches, and the hybrid grouping of `_get_kv_cache_groups_uniform_page_size`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

from gpuforge.catalog import Gpu
from gpuforge.engine.vllm import resolved_kv_cache_dtype, unquantized_linear_groups
from gpuforge.sizing.architecture import ModelArch
from gpuforge.sizing.versions import GIB, VLLM_VERSION, EngineConstants, engine_constants

WEIGHT_QUANTIZATIONS = ("none", "fp8", "int8", "int4-awq", "int4-gptq", "mxfp4", "nvfp4")
DTYPES = {"bfloat16": 2, "float16": 2, "float32": 4}
# Bytes per weight of a quantized linear layer: payload + scales (+ zeros).
# fp8/int8: one byte, per-channel fp32 scales (negligible). int4 GPTQ/AWQ with group size
# 128: half a byte + an fp16 scale per group (AWQ adds packed 4-bit zeros). mxfp4 (OCP MX):
# 4-bit values + one e8m0 scale per 32. nvfp4: 4-bit values + one fp8 (e4m3) scale per 16
# (+ a per-tensor fp32 scale). Which vLLM method loads each: gpuforge.engine.vllm.
_QUANT_BYTES = {
    "fp8": 1.0,
    "int8": 1.0,
    "int4-gptq": 0.5 + 2 / 128,
    "int4-awq": 0.5 + 2 / 128 + 0.5 / 128,
    "mxfp4": 0.5 + 1 / 32,
    "nvfp4": 0.5 + 1 / 16,
}


@dataclass(frozen=True)
class MemoryInputs:
    """One vLLM engine configuration on one GPU type."""

    tensor_parallel: int = 1
    pipeline_parallel: int = 1
    max_model_len: int | None = None  # None: vLLM's default for the model (ModelArch.max_model_len_default)
    gpu_memory_utilization: float = 0.9
    dtype: str = "auto"  # auto | bfloat16 | float16 | float32
    quantization: str = "none"  # see WEIGHT_QUANTIZATIONS
    kv_cache_dtype: str = "auto"  # auto | fp8
    block_size: int | None = None  # None: the engine default (16 on CUDA)
    max_num_seqs: int | None = None  # None: vLLM's default for this GPU
    max_num_batched_tokens: int | None = None


@dataclass
class MemoryEstimate:
    """Everything per GPU unless the name says otherwise (largest PP stage for weights)."""

    vllm_version: str
    gpu: str
    total_gpu_memory_gib: float
    requested_memory_gib: float
    weights_gib: float
    weights_gib_total: float
    activation_peak_gib: float
    non_torch_gib: float
    non_kv_gib: float
    kv_cache_gib: float
    kv_bytes_per_token: int
    page_size_bytes: int
    kv_cache_groups: int
    num_gpu_blocks: int
    kv_cache_tokens: int
    max_model_len: int
    max_concurrency: float
    blocks_per_request: int
    max_num_seqs: int
    max_num_batched_tokens: int
    block_size: int
    fits: bool
    problems: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@lru_cache(maxsize=1024)
def stage_layers(num_layers: int, pp: int) -> tuple[range, ...]:
    """Layer ranges per PP stage, as vLLM's `get_pp_indices` splits them.

    Extra layers (num_layers % pp) go to the stages before the last, counting back from the
    second-to-last, because the last stage also holds the LM head.
    """
    per = [num_layers // pp] * pp
    for i in range(2, num_layers % pp + 2):
        per[-i] += 1
    out, start = [], 0
    for n in per:
        out.append(range(start, start + n))
        start += n
    return tuple(out)


def weight_dtype_bytes(arch: ModelArch, dtype: str) -> int:
    if dtype == "auto":
        d = arch.torch_dtype.replace("torch.", "")
        # vLLM's "auto" keeps fp16/bf16 checkpoints as they are and serves fp32 ones in bf16
        return 2 if d in ("float32", "fp32") else DTYPES.get(d, 2)
    return DTYPES[dtype]


def kv_heads_per_gpu(arch: ModelArch, tp: int) -> int:
    """KV heads one rank holds: replicated when TP exceeds their count."""
    return max(1, arch.num_kv_heads // tp)


def _linear_bytes(params: float, quant: str, dtype_bytes: int) -> float:
    return params * (_QUANT_BYTES[quant] if quant != "none" else dtype_bytes)


def _layer_weight_bytes(arch: ModelArch, tp: int, quant: str, dtype_bytes: int, moe: bool) -> float:
    """Bytes one GPU holds for one decoder layer (dense or MoE MLP)."""
    h = arch.hidden_size
    kvh = kv_heads_per_gpu(arch, tp)
    if arch.is_mla:
        qk_head = arch.qk_nope_head_dim + arch.qk_rope_head_dim
        replicated = h * (arch.kv_lora_rank + arch.qk_rope_head_dim)  # kv_a (ReplicatedLinear)
        sharded = arch.kv_lora_rank * arch.num_heads * (arch.qk_nope_head_dim + arch.v_head_dim)
        sharded += arch.num_heads * arch.v_head_dim * h
        if arch.q_lora_rank:
            replicated += h * arch.q_lora_rank
            sharded += arch.q_lora_rank * arch.num_heads * qk_head
        else:
            sharded += h * arch.num_heads * qk_head
        attn_linear = replicated + sharded / tp
        small: float = arch.kv_lora_rank + arch.q_lora_rank
    else:
        q_o = 2 * h * arch.num_heads * arch.head_dim / tp
        kv = 2 * h * kvh * arch.head_dim
        attn_linear = q_o + kv
        small = (arch.num_heads / tp + 2 * kvh) * arch.head_dim if (arch.qkv_bias or arch.attention_bias) else 0
    attn_quant = "none" if quant == "mxfp4" else quant  # mxfp4 checkpoints quantize experts only
    total = _linear_bytes(attn_linear, attn_quant, dtype_bytes) + small * dtype_bytes
    if moe:
        expert = arch.num_experts * 3 * h * arch.moe_intermediate_size / tp
        shared = 3 * h * arch.shared_expert_intermediate_size / tp
        router = h * arch.num_experts  # replicated, kept in 16-bit
        total += _linear_bytes(expert, quant, dtype_bytes)
        total += _linear_bytes(shared, attn_quant, dtype_bytes) + router * dtype_bytes
        if arch.expert_bias:
            total += arch.num_experts * (2 * arch.moe_intermediate_size / tp + h) * dtype_bytes
    else:
        width = arch.dense_intermediate_size or arch.intermediate_size
        if arch.gated_mlp:
            total += _linear_bytes(3 * h * width / tp, attn_quant, dtype_bytes)
        else:
            total += _linear_bytes(2 * h * width / tp, attn_quant, dtype_bytes) + (width / tp + h) * dtype_bytes
    return total + 2 * h * dtype_bytes  # the two RMSNorms


def _moe_count(arch: ModelArch, layers: range) -> int:
    """MoE layers among `layers` (cached on the architecture, which is frozen data)."""
    if not arch.moe_layers:
        return 0
    cache = arch.__dict__.setdefault("_moe_count_cache", {})
    key = (layers.start, layers.stop)
    if key not in cache:
        cache[key] = sum(arch.moe_layers[layers.start : layers.stop])
    return cache[key]


def _unquantized_groups(arch: ModelArch) -> dict[int, frozenset[str]]:
    """Linear groups per layer the checkpoint keeps in 16-bit (gpuforge.engine.vllm), cached."""
    cache = arch.__dict__.setdefault("_unquantized_cache", {})
    if "groups" not in cache:
        cache["groups"] = unquantized_linear_groups(arch.quantization_config, arch.num_layers)
    return cache["groups"]


def _group_params(arch: ModelArch, tp: int, group: str, moe: bool) -> float:
    """Parameters one GPU holds of one linear group of one layer (see _layer_weight_bytes)."""
    h = arch.hidden_size
    if group in ("qkv", "o"):
        v_dim = arch.v_head_dim if arch.is_mla else arch.head_dim
        o = arch.num_heads * v_dim * h / tp
        if group == "o":
            return o
        if arch.is_mla:
            qk_head = arch.qk_nope_head_dim + arch.qk_rope_head_dim
            rest = h * (arch.kv_lora_rank + arch.qk_rope_head_dim) + arch.kv_lora_rank * arch.num_heads * (arch.qk_nope_head_dim + arch.v_head_dim) / tp
            if arch.q_lora_rank:
                return rest + h * arch.q_lora_rank + arch.q_lora_rank * arch.num_heads * qk_head / tp
            return rest + h * arch.num_heads * qk_head / tp
        return h * (arch.num_heads / tp + 2 * kv_heads_per_gpu(arch, tp)) * arch.head_dim
    if group == "experts":
        return arch.num_experts * 3 * h * arch.moe_intermediate_size / tp if moe else 0.0
    if group == "shared_expert":
        return 3 * h * arch.shared_expert_intermediate_size / tp if moe else 0.0
    if moe or not arch.gated_mlp:
        return 0.0  # dense gate/up/down names do not apply to an MoE layer's experts
    width = arch.dense_intermediate_size or arch.intermediate_size
    return (2 if group == "gate_up" else 1) * h * width / tp


def _unquantized_extra_bytes(arch: ModelArch, tp: int, layers: range, quant: str, dtype_bytes: int) -> float:
    """What the checkpoint's 16-bit modules (its ignore list) add over sizing them quantized."""
    if quant == "none":
        return 0.0
    groups = _unquantized_groups(arch)
    if not groups:
        return 0.0
    extra = dtype_bytes - _QUANT_BYTES[quant]
    moe_layers = arch.moe_layers
    total = 0.0
    for i in layers:
        for g in groups.get(i, ()):
            total += _group_params(arch, tp, g, bool(moe_layers and moe_layers[i])) * extra
    return total


def stage_weight_bytes(arch: ModelArch, tp: int, pp: int, stage: int, quant: str, dtype_bytes: int, vocab_padding: int) -> float:
    """Bytes of weights one GPU of PP stage `stage` holds."""
    h = arch.hidden_size
    layers = stage_layers(arch.num_layers, pp)[stage]
    n_moe = _moe_count(arch, layers)
    total = n_moe * _layer_weight_bytes(arch, tp, quant, dtype_bytes, True) if n_moe else 0.0
    if len(layers) - n_moe:
        total += (len(layers) - n_moe) * _layer_weight_bytes(arch, tp, quant, dtype_bytes, False)
    # modules the checkpoint's ignore list keeps in 16-bit (vLLM loads them unquantized)
    total += _unquantized_extra_bytes(arch, tp, layers, quant, dtype_bytes)
    vocab_rows = math.ceil(arch.vocab_size / vocab_padding) * vocab_padding
    embedding = math.ceil(vocab_rows / tp) * h * dtype_bytes
    if stage == 0:
        total += embedding
        # vision encoder / projector of multimodal wrappers: sharded like the LM, unquantized
        total += arch.extra_params / tp * dtype_bytes
    if stage == pp - 1:
        total += h * dtype_bytes  # final norm
        if not arch.tie_word_embeddings or pp > 1:
            total += embedding  # lm_head (a tied head gets its own copy on the last stage)
    # the rotary cos/sin cache vLLM builds once per process
    total += arch.max_position_embeddings * arch.rotary_dim * dtype_bytes
    return total


def page_size_bytes(arch: ModelArch, tp: int, block_size: int, kv_bytes: int) -> int:
    """Bytes of one KV block of one layer on one GPU."""
    if arch.is_mla:
        return block_size * (arch.kv_lora_rank + arch.qk_rope_head_dim) * kv_bytes
    return 2 * block_size * kv_heads_per_gpu(arch, tp) * arch.head_dim * kv_bytes


def _kv_groups(arch: ModelArch, layers: range) -> tuple[int, list[tuple[str, int | None, int]]]:
    """(group_size, [(kind, window, n_groups)]) per vLLM's uniform-page-size grouping."""
    cache = arch.__dict__.setdefault("_kv_groups_cache", {})  # per architecture (it is frozen data)
    key = (layers.start, layers.stop)
    if key not in cache:
        cache[key] = _kv_groups_of(arch.layers, layers.start, layers.stop)
    return cache[key]


def _kv_groups_of(pattern: tuple, start: int, stop: int) -> tuple[int, list[tuple[str, int | None, int]]]:
    by_type: dict[tuple[str, int | None], int] = {}
    for la in pattern[start:stop]:
        by_type[(la.kind, la.window)] = by_type.get((la.kind, la.window), 0) + 1
    counts = list(by_type.values())
    if len(counts) == 1:
        (kind, window), n = next(iter(by_type.items()))
        return n, [(kind, window, 1)]
    group_size = min(counts)
    if max(counts) < min(counts) * 1.5:
        group_size = max(counts)
    return group_size, [(k, w, math.ceil(n / group_size)) for (k, w), n in by_type.items()]


def _activation_bytes(arch: ModelArch, tp: int, tokens: int, seqs: int, dtype_bytes: int, last_stage: bool, k: EngineConstants) -> float:
    h = arch.hidden_size
    if arch.is_moe:
        width = arch.experts_per_token * 3 * arch.moe_intermediate_size / tp + arch.experts_per_token * h
        dense_w = 3 * (arch.dense_intermediate_size or arch.intermediate_size) / tp
        width = max(width, dense_w)
    else:
        width = 3 * (arch.dense_intermediate_size or arch.intermediate_size) / tp
    forward = tokens * dtype_bytes * (2 * h + width) * k.forward_overhead
    if not last_stage:
        return forward
    vocab_rows = math.ceil(arch.vocab_size / k.vocab_padding) * k.vocab_padding
    sampler = k.sampler_fp32_copies * seqs * vocab_rows * 4
    return max(forward, sampler)


def default_batch_limits(gpu: Gpu, k: EngineConstants) -> tuple[int, int]:
    """(max_num_seqs, max_num_batched_tokens) vLLM picks for the API server on this GPU."""
    if gpu.memory_gib >= k.large_gpu_threshold_gib and not gpu.id.startswith("a100"):
        return k.max_num_seqs_large, k.max_num_batched_tokens_large
    return k.max_num_seqs_small, k.max_num_batched_tokens_small


def estimate_memory(arch: ModelArch, gpu: Gpu, inputs: MemoryInputs, version: str = VLLM_VERSION) -> MemoryEstimate:
    """Estimate per-GPU memory, KV-cache capacity and whether the configuration starts."""
    k = engine_constants(version)
    tp, pp = inputs.tensor_parallel, inputs.pipeline_parallel
    dtype_bytes = weight_dtype_bytes(arch, inputs.dtype)
    quant = inputs.quantization or "none"
    if quant not in WEIGHT_QUANTIZATIONS:
        raise ValueError(f"quantization {quant!r} is not one of {', '.join(WEIGHT_QUANTIZATIONS)}")
    # "auto" is the checkpoint's KV dtype where its config names one (ModelOpt FP8 KV)
    kv_dtype = resolved_kv_cache_dtype(inputs.kv_cache_dtype, arch.quantization_config)
    kv_bytes = 1 if kv_dtype.startswith("fp8") else dtype_bytes
    block_size = inputs.block_size or k.default_block_size
    seqs_default, tokens_default = default_batch_limits(gpu, k)
    max_num_seqs = inputs.max_num_seqs or seqs_default
    # vLLM's own default (vllm/config/model.py _get_and_verify_max_len), see vllm_max_model_len
    max_model_len = inputs.max_model_len or arch.max_model_len_default or arch.max_position_embeddings
    max_batched = inputs.max_num_batched_tokens or tokens_default

    total = gpu.memory_gib * GIB
    requested = total * inputs.gpu_memory_utilization
    if pp > 1 and tp == 1:
        non_torch = k.non_torch_gib_pp_only * GIB
    elif tp > 1:
        non_torch = k.non_torch_gib_tp * GIB
    else:
        non_torch = k.non_torch_gib_tp1 * GIB
    page = page_size_bytes(arch, tp, block_size, kv_bytes)

    stages = stage_layers(arch.num_layers, pp)
    num_blocks = None
    worst = None
    weights_total = 0.0
    for s, layers in enumerate(stages):
        w = stage_weight_bytes(arch, tp, pp, s, quant, dtype_bytes, k.vocab_padding)
        weights_total += w * tp
        act = _activation_bytes(arch, tp, max_batched, max_num_seqs, dtype_bytes, s == pp - 1, k)
        available = requested - w - act - non_torch
        group_size, groups = _kv_groups(arch, layers)
        blocks = max(0, int(available // (page * group_size)))
        if num_blocks is None or blocks < num_blocks:
            num_blocks = blocks
        if worst is None or w > worst[0]:
            worst = (w, act, available, group_size, groups, layers)
    assert num_blocks is not None and worst is not None
    weights, act, available, group_size, groups, layers = worst
    # when TP > KV heads, vLLM replicates the KV projection per rank; the whole-checkpoint figure
    # is the unsharded model
    weights_total = sum(stage_weight_bytes(arch, 1, pp, s, quant, dtype_bytes, k.vocab_padding) for s in range(pp))
    n_groups = sum(n for _, _, n in groups)
    kv_tokens = num_blocks // n_groups * block_size

    # blocks one request of max_model_len needs, summed over the KV groups
    full_blocks = math.ceil(max_model_len / block_size)
    per_request = 0
    for kind, window, n in groups:
        if kind == "full" or window is None:
            need = full_blocks
        else:
            need = min(math.ceil((window - 1 + max_batched) / block_size) + 1, full_blocks)
        per_request += need * n
    max_concurrency = num_blocks / per_request if per_request else 0.0

    per_token = sum(page // block_size for i in layers)
    kv_gib = max(0.0, available) / GIB
    problems: list[str] = []
    fixes: list[str] = []
    fits = available > 0 and num_blocks >= per_request
    if not fits:
        short = (per_request * page * group_size - max(0.0, available)) / GIB
        if available <= 0:
            problems.append(
                f"weights {weights / GIB:.2f} GiB + activations {act / GIB:.2f} GiB + non-torch "
                f"{non_torch / GIB:.2f} GiB exceed the {requested / GIB:.2f} GiB vLLM may use per GPU "
                f"by {-available / GIB:.2f} GiB"
            )
        else:
            problems.append(
                f"one {max_model_len}-token request needs {per_request} KV blocks but only {num_blocks} fit "
                f"({short:.2f} GiB short per GPU)"
            )
        fixes += _fixes(arch, inputs, quant, kv_bytes, available, page, group_size, n_groups, block_size)
    return MemoryEstimate(
        vllm_version=version,
        gpu=gpu.id,
        total_gpu_memory_gib=round(gpu.memory_gib, 4),
        requested_memory_gib=round(requested / GIB, 4),
        weights_gib=round(weights / GIB, 4),
        weights_gib_total=round(weights_total / GIB, 4),
        activation_peak_gib=round(act / GIB, 4),
        non_torch_gib=round(non_torch / GIB, 4),
        non_kv_gib=round((weights + act + non_torch) / GIB, 4),
        kv_cache_gib=round(kv_gib, 4),
        kv_bytes_per_token=int(per_token),
        page_size_bytes=page,
        kv_cache_groups=n_groups,
        num_gpu_blocks=num_blocks,
        kv_cache_tokens=kv_tokens,
        max_model_len=max_model_len,
        max_concurrency=round(max_concurrency, 2),
        blocks_per_request=per_request,
        max_num_seqs=max_num_seqs,
        max_num_batched_tokens=max_batched,
        block_size=block_size,
        fits=fits,
        problems=problems,
        fixes=fixes,
    )


def _fixes(arch, inputs, quant, kv_bytes, available, page, group_size, n_groups, block_size) -> list[str]:
    out = []
    if available > 0:
        blocks = int(available // (page * group_size)) // n_groups
        tokens = blocks * block_size
        if tokens > 0:
            out.append(f"lower --max-model-len to {tokens} or less")
    if inputs.kv_cache_dtype == "auto" and kv_bytes > 1:
        out.append("use --kv-cache-dtype fp8 (halves KV memory)")
    if quant == "none":
        out.append("quantize the weights (fp8 on Hopper/Ada/Blackwell, int4-awq elsewhere)")
    out.append(f"raise --tensor-parallel-size above {inputs.tensor_parallel} or add pipeline stages")
    if inputs.gpu_memory_utilization < 0.95:
        out.append(f"raise --gpu-memory-utilization above {inputs.gpu_memory_utilization:g} (up to ~0.95)")
    return out

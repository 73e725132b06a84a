"""vLLM as gpuforge plans for it and serves it: one pinned release and its rules.

Everything here is read from the vLLM 0.19.0 release source (the `vllm-0.19.0` wheel on PyPI,
paths below are inside it, `vllm/...:line`). Each rule is one function that returns the reasons
a layout breaks it (empty: vLLM accepts it), so the planner, `gpuforge estimate` and the serving
component ask the same question and get the same answer. docs/engine.md lists them.

Vocabulary:
  precision  gpuforge's name for how weights are stored: bf16, fp16 (unquantized), fp8, int8,
             int4-awq, int4-gptq, mxfp4, nvfp4.
  scheme     what vLLM does with a checkpoint's `quantization_config` (`QuantScheme`): the
             method it resolves to, the compute capability it needs, the activation dtypes it
             accepts, the FP8 weight block.
  capability CUDA compute capability as an int, major * 10 + minor (vLLM's `to_int()`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from gpuforge.catalog import Gpu
    from gpuforge.sizing.architecture import ModelArch

# Chosen 2026-11-21: the release the calibration logs in ../shared/reference/vllm-startup-logs
# were taken with (llm-d-planner accuracy campaign, vLLM 0.19.0, V1 engine).
VLLM_VERSION = "0.19.0"
ENGINE = "vllm"

GIB = 1 << 30


# --- memory accounting constants (moved here from gpuforge.sizing.versions) --------------------
@dataclass(frozen=True)
class EngineConstants:
    """How one vLLM release accounts for memory (V1 engine).

    Sources: vllm/v1/worker/gpu_worker.py `determine_available_memory`,
    vllm/utils/mem_utils.py `memory_profiling`, vllm/engine/arg_utils.py `get_batch_defaults`,
    vllm/v1/core/kv_cache_utils.py, and the 0.19.0 start-up logs in
    ../shared/reference/vllm-startup-logs/cases.jsonl.
    """

    version: str
    # Non-torch memory growth during profiling (cuBLAS workspaces, NCCL / custom all-reduce
    # buffers). Read off the logs: 0.24-0.26 GiB at TP=1, 2.06-2.21 GiB at TP>=2, 0.07 GiB on
    # PP-only ranks (no all-reduce buffers).
    non_torch_gib_tp1: float = 0.25
    non_torch_gib_tp: float = 2.1
    non_torch_gib_pp_only: float = 0.07
    # The profile run samples `max_num_seqs` dummy rows: fp32 logits [max_num_seqs, vocab]
    # plus the sampler's temporaries (probs, logprobs, sorted copy). Fitted once across the
    # 0.19 logs (not per model): the peak is ~3.9 such fp32 buffers.
    sampler_fp32_copies: float = 3.9
    # Forward activations of a `max_num_batched_tokens` dummy batch: live tensors at the MLP
    # (input, residual, gate_up output, activation output) in the model dtype, x this factor
    # for the caching allocator's rounding and the attention workspace.
    forward_overhead: float = 1.35
    # CUDA graphs: estimated and logged, but not subtracted from KV memory in 0.19
    # (the log says 0.20 will subtract it).
    subtracts_cuda_graphs: bool = False
    default_block_size: int = 16
    # get_batch_defaults (OpenAI API server): >= 70 GiB and not A100 -> large defaults.
    large_gpu_threshold_gib: float = 70.0
    max_num_batched_tokens_large: int = 8192
    max_num_seqs_large: int = 1024
    max_num_batched_tokens_small: int = 2048
    max_num_seqs_small: int = 256
    # vocab rows are padded to a multiple of this for VocabParallelEmbedding
    # (vllm/model_executor/layers/vocab_parallel_embedding.py DEFAULT_VOCAB_PADDING_SIZE)
    vocab_padding: int = 64


ENGINE_CONSTANTS: dict[str, EngineConstants] = {
    "0.19.0": EngineConstants(version="0.19.0"),
}


def engine_constants(version: str = VLLM_VERSION) -> EngineConstants:
    """The constants of a supported vLLM release (KeyError names the supported ones)."""
    try:
        return ENGINE_CONSTANTS[version]
    except KeyError:
        raise KeyError(f"vLLM {version} is not calibrated; supported: {', '.join(ENGINE_CONSTANTS)}") from None


# --- precision vocabulary ----------------------------------------------------------------------
Precision = Literal["bf16", "fp16", "fp8", "int8", "int4-awq", "int4-gptq", "mxfp4", "nvfp4"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
UNQUANTIZED: tuple[str, ...] = ("bf16", "fp16")
# The activation dtype (vLLM --dtype) an unquantized precision means.
UNQUANTIZED_DTYPE = {"bf16": "bfloat16", "fp16": "float16"}
# The one precision vLLM can produce from a 16-bit checkpoint while loading it: Fp8Config with
# is_checkpoint_fp8_serialized=False quantizes each Linear / FusedMoE at load time
# (vllm/model_executor/layers/quantization/fp8.py:175-197 Fp8OnlineLinearMethod /
# Fp8OnlineMoEMethod). Every other quantized precision needs a checkpoint that ships it: the
# AWQ / GPTQ / compressed-tensors / MXFP4 / ModelOpt configs are read from the checkpoint
# (get_quant_config), so `--quantization awq_marlin` on a bf16 repo fails at start.
ONLINE_QUANTIZATION: dict[str, str] = {"fp8": "fp8"}


class UnsupportedQuantization(ValueError):
    """A checkpoint's quantization_config that gpuforge cannot size or vLLM 0.19.0 cannot run."""


@dataclass(frozen=True)
class QuantScheme:
    """What vLLM 0.19.0 does with one quantization: the method, and where it runs.

    `min_capability`: below it vLLM refuses to start (vllm/config/vllm.py:515
    `capability < quant_config.get_min_capability()` -> ValueError). `native_capability`: below
    it vLLM runs a weight-only Marlin kernel (16-bit activations, no low-precision tensor cores);
    None = the method has no such fallback. `act_dtypes`: the --dtype values vLLM accepts with
    it (vllm/config/vllm.py:522 `model_config.dtype not in supported_dtypes` -> ValueError).
    """

    method: str  # vLLM quantization method after its override pass (config/model.py:924-994)
    precision: str
    description: str
    min_capability: int
    act_dtypes: tuple[str, ...]
    source: str
    native_capability: int | None = None
    weight_block: tuple[int, int] | None = None  # FP8 block (n, k) the checkpoint was quantized with
    deprecated: bool = False  # in DEPRECATED_QUANTIZATION_METHODS: needs --allow-deprecated-quantization
    online: bool = False  # vLLM quantizes a 16-bit checkpoint at load time (--quantization is passed)
    #: what the GEMMs multiply where the native kernel runs: "fp8" / "int8" / "fp4" tensor-core
    #: inputs, or "bf16" for weight-only kernels (weights dequantized to 16-bit activations)
    gemm_inputs: str = "bf16"

    def runs_on(self, capability: int) -> bool:
        return capability >= self.min_capability

    def weight_only_on(self, capability: int) -> bool:
        """True where vLLM falls back to a weight-only kernel (16-bit activations)."""
        return self.native_capability is not None and capability < self.native_capability

    def gemm_dtype(self, capability: int) -> str:
        """The precision the GEMMs run in on a GPU of this capability (the performance model's
        compute dtype): the scheme's low-precision inputs, or bf16 under a weight-only kernel."""
        return "bf16" if self.weight_only_on(capability) else self.gemm_inputs


_BF16_HALF = ("bfloat16", "float16")
_CT_DTYPES = ("bfloat16", "float16")  # compressed_tensors.py:112 also allows float32 (not planned)

# Fp8Config: get_supported_act_dtypes [bf16, half] (fp8.py:141-142), min capability 75
# (fp8.py:145-146). Below sm89 the linear kernel is MarlinFP8ScaledMMLinearKernel, weight-only
# (vllm/model_executor/kernels/linear/scaled_mm/marlin.py:36-56, is_fp8_marlin_supported():
# has_device_capability(75), utils/marlin_utils_fp8.py:24-25); the 0.19.0 wheel ships the
# sm75 Marlin kernels (`_sm75_kernel_float16_fe4m3fn_float16` in vllm/_C.abi3.so).
FP8_ONLINE = QuantScheme(
    "fp8", "fp8", "FP8 weights quantized at load time (--quantization fp8)", 75, _BF16_HALF,
    "vllm/model_executor/layers/quantization/fp8.py:141-146", native_capability=89, online=True, gemm_inputs="fp8",
)


def _fp8_block(q: dict[str, Any]) -> tuple[int, int] | None:
    b = q.get("weight_block_size")
    if isinstance(b, (list, tuple)) and len(b) == 2:
        return int(b[0]), int(b[1])
    return None


def _modelopt_algo(q: dict[str, Any]) -> str | None:
    # vllm/model_executor/layers/quantization/modelopt.py:242-259 _extract_modelopt_quant_algo
    inner = q.get("quantization")
    if isinstance(inner, dict):
        return str(inner.get("quant_algo", "")).upper()
    return str(q.get("quant_algo", "")).upper()


_MARLIN_GROUP_SIZES = (-1, 32, 64, 128)  # utils/marlin_utils.py:30 MARLIN_SUPPORTED_GROUP_SIZES


def _compressed_tensors(q: dict[str, Any]) -> QuantScheme:
    """compressed_tensors.py:582-671 `_get_scheme_from_parts`, for the first config group."""
    groups = q.get("config_groups") or {}
    if not groups:
        raise UnsupportedQuantization("compressed-tensors config without config_groups")
    g = next(iter(groups.values()))
    w = g.get("weights") or {}
    a = g.get("input_activations")
    bits, typ = int(w.get("num_bits", 8)), str(w.get("type", "int"))
    strategy, gsize = str(w.get("strategy", "")), w.get("group_size")
    src = "vllm/model_executor/layers/quantization/compressed_tensors/compressed_tensors.py:582-671"
    if typ == "float" and bits == 4 and strategy == "tensor_group" and gsize == 16:
        # W4A4 NVFP4 (schemes/compressed_tensors_w4a4_nvfp4.py:31-32, min 75) or W4A16 NVFP4
        # (schemes/compressed_tensors_w4a16_nvfp4.py:30-31, min 75); FP4 tensor cores from sm100
        # (utils/nvfp4_utils.py:39-66 selects Marlin below that)
        kind = "W4A4" if a else "W4A16"
        return QuantScheme("compressed-tensors", "nvfp4", f"compressed-tensors NVFP4 {kind}", 75, _CT_DTYPES, src, native_capability=100, gemm_inputs="fp4" if a else "bf16")
    if typ == "float" and bits == 4 and strategy == "group" and gsize == 32:
        # schemes/compressed_tensors_w4a16_mxfp4.py:40-41
        return QuantScheme("compressed-tensors", "mxfp4", "compressed-tensors MXFP4 W4A16", 80, _CT_DTYPES, src)
    if typ == "float" and bits == 8:
        block = w.get("block_structure")
        wb = (int(block[0]), int(block[1])) if isinstance(block, (list, tuple)) and len(block) == 2 else None
        if a:
            # W8A8-FP8 needs sm89 (schemes/compressed_tensors_w8a8_fp8.py:96-97); below it vLLM
            # picks W8A16-FP8 (compressed_tensors.py:628-648), which needs sm75 (w8a16_fp8.py:50-51)
            return QuantScheme("compressed-tensors", "fp8", "compressed-tensors FP8 W8A8", 75, _CT_DTYPES, src, native_capability=89, weight_block=wb, gemm_inputs="fp8")
        return QuantScheme("compressed-tensors", "fp8", "compressed-tensors FP8 W8A16", 75, _CT_DTYPES, src, native_capability=None, weight_block=wb)
    if typ == "int" and bits == 8 and a and int(a.get("num_bits", 0)) == 8:
        # schemes/compressed_tensors_w8a8_int8.py:36-37
        return QuantScheme("compressed-tensors", "int8", "compressed-tensors INT8 W8A8", 75, _CT_DTYPES, src, gemm_inputs="int8")
    if typ == "int" and bits in (4, 8) and not a:
        # wNa16 (schemes/compressed_tensors_wNa16.py:80-81): Marlin, weight-only by design
        return QuantScheme("compressed-tensors", "int4-gptq" if bits == 4 else "int8", f"compressed-tensors INT{bits} W{bits}A16", 75, _CT_DTYPES, src)
    raise UnsupportedQuantization(f"compressed-tensors weights {typ}{bits} ({strategy}) with activations {a!r} are not a scheme gpuforge sizes")


def quant_method(quantization_config: dict[str, Any]) -> str:
    """The `quant_method` vLLM 0.19.0 reads from a checkpoint's quantization config.

    ModelOpt <= 0.29 writes no `quant_method` into hf_quant_config.json; vLLM sets it from the
    producer and `quantization.quant_algo` (vllm/transformers_utils/model_arch_config_convertor.py:169-204
    `_normalize_quantization_config`: FP8 / FP8_PER_CHANNEL_PER_TOKEN / FP8_PB_WO -> modelopt,
    NVFP4 -> modelopt_fp4, any other algo is refused) and normalises compressed_tensors.
    """
    q = quantization_config
    producer = q.get("producer")
    if isinstance(producer, dict) and producer.get("name") == "modelopt":
        inner = q.get("quantization")
        algo = inner.get("quant_algo") if isinstance(inner, dict) else None
        if algo is not None:
            upper = str(algo).upper()
            if upper in ("FP8", "FP8_PER_CHANNEL_PER_TOKEN", "FP8_PB_WO"):
                return "modelopt"
            if upper == "NVFP4":
                return "modelopt_fp4"
            raise UnsupportedQuantization(f"ModelOpt quant_algo {algo!r}: vLLM {VLLM_VERSION} refuses it (model_arch_config_convertor.py:190)")
    return str(q.get("quant_method", "")).lower().replace("compressed_tensors", "compressed-tensors")


def quantization_scheme(quantization_config: dict[str, Any] | None, requested: str | None = None) -> QuantScheme | None:
    """The scheme vLLM 0.19.0 applies to a checkpoint with this `quantization_config` (None: 16-bit).

    Takes the raw dict from config.json (or hf_quant_config.json). Follows
    vllm/config/model.py:924-994 `_verify_quantization`: overrides (gptq_marlin, awq_marlin,
    modelopt, modelopt_fp4, mxfp4) are tried before the plain method name. `requested` is the
    run's `--quantization` (None: not passed; gpuforge never passes it for gptq / awq): the
    Marlin overrides fire only when it is None or names Marlin, so `--quantization gptq` / `awq`
    keeps the plain kernel ("forcing gptq", gptq_marlin.py:219-238, awq_marlin.py:236-237).
    """
    q = quantization_config
    if not q:
        return None
    method = quant_method(q)
    qp = "vllm/model_executor/layers/quantization/"
    if method == "fp8":
        block = _fp8_block(q)
        desc = f"FP8 block {block[0]}x{block[1]}" if block else "FP8 per-tensor"
        return QuantScheme("fp8", "fp8", desc, 75, _BF16_HALF, qp + "fp8.py:141-146", native_capability=89, weight_block=block, gemm_inputs="fp8")
    if method == "fbgemm_fp8":
        # fbgemm_fp8.py:61-66; listed in DEPRECATED_QUANTIZATION_METHODS (quantization/__init__.py:39-45)
        return QuantScheme("fbgemm_fp8", "fp8", "FBGEMM FP8 (per-channel)", 80, _BF16_HALF, qp + "fbgemm_fp8.py:61-66", native_capability=89, deprecated=True, gemm_inputs="fp8")
    if method == "compressed-tensors":
        return _compressed_tensors(q)
    if method == "awq":
        bits, gsize, zp = q.get("bits", q.get("w_bit")), q.get("group_size", q.get("q_group_size")), q.get("zero_point")
        if bits == 4 and gsize in _MARLIN_GROUP_SIZES and zp is True and requested in (None, "marlin", "awq_marlin"):
            # AWQMarlinConfig.override_quantization_method (awq_marlin.py:231-255, 305-327)
            return QuantScheme("awq_marlin", "int4-awq", f"AWQ 4-bit g{gsize} (Marlin)", 75, _BF16_HALF, qp + "awq_marlin.py:202-207")
        if bits != 4:
            raise UnsupportedQuantization(f"AWQ with {bits} bits: vLLM's AWQ kernels are 4-bit only (awq.py)")
        # plain AWQ kernels: float16 activations only (awq.py:69-75)
        return QuantScheme("awq", "int4-awq", f"AWQ 4-bit g{gsize}", 75, ("float16",), qp + "awq.py:69-75")
    if method in ("gptq", "gptq_marlin"):
        bits, gsize, sym = q.get("bits"), q.get("group_size"), q.get("sym")
        prec = {4: "int4-gptq", 8: "int8"}.get(int(bits or 0))
        if prec is None:
            raise UnsupportedQuantization(f"GPTQ with {bits} bits is not a precision gpuforge sizes (4 or 8)")
        if sym is True and gsize in _MARLIN_GROUP_SIZES and q.get("desc_act") is not None and requested in (None, "marlin", "gptq_marlin"):
            # GPTQMarlinConfig.override_quantization_method (gptq_marlin.py:214-241, TYPE_MAP :97-100)
            return QuantScheme("gptq_marlin", prec, f"GPTQ {bits}-bit g{gsize} (Marlin)", 75, _BF16_HALF, qp + "gptq_marlin.py:179-184")
        # exllama GPTQ kernels: float16 only, sm60 (gptq.py:130-136)
        return QuantScheme("gptq", prec, f"GPTQ {bits}-bit g{gsize}", 60, ("float16",), qp + "gptq.py:130-136")
    if method == "mxfp4":
        # Mxfp4Config: min capability 80, bfloat16 activations only (mxfp4.py:50-59). The MoE
        # backends vLLM picks by default all take bf16 activations, Blackwell's FlashInfer TRT-LLM
        # one included; the MXFP8-activation ones only with VLLM_USE_FLASHINFER_MOE_MXFP4_MXFP8
        # (model_executor/layers/fused_moe/oracle/mxfp4.py:169-184, 309-320), which gpuforge
        # does not set: gemm inputs bf16
        return QuantScheme("mxfp4", "mxfp4", "MXFP4 (OCP MX) experts", 80, ("bfloat16",), qp + "mxfp4.py:50-59")
    if method in ("modelopt", "modelopt_fp4"):
        # a legacy hf_quant_config.json normalised to modelopt_fp4 keeps that name: the override
        # pass only fires on quant_method "modelopt" (modelopt.py:242-259), and vLLM takes the
        # config's own name (config/model.py:980-984)
        algo = _modelopt_algo(q)
        if algo == "FP8":
            # ModelOptFp8Config (modelopt.py:404-418): sm89, no Marlin fallback
            return QuantScheme("modelopt", "fp8", "ModelOpt FP8", 89, _BF16_HALF, qp + "modelopt.py:404-418", gemm_inputs="fp8")
        if algo and ("NVFP4" in algo or "FP4" in algo):
            # ModelOptNvFp4Config (modelopt.py:1009-1023): sm75 through Marlin, FP4 tensor cores
            # from sm100 (utils/nvfp4_utils.py:39-66)
            return QuantScheme("modelopt_fp4", "nvfp4", "ModelOpt NVFP4", 75, _BF16_HALF, qp + "modelopt.py:1009-1023", native_capability=100, gemm_inputs="fp4")
        raise UnsupportedQuantization(f"ModelOpt quant_algo {algo!r} is not a precision gpuforge sizes (FP8, NVFP4)")
    raise UnsupportedQuantization(
        f"quant_method {method!r} is not one gpuforge sizes for vLLM {VLLM_VERSION} "
        "(fp8, fbgemm_fp8, compressed-tensors, awq, gptq, mxfp4, modelopt)"
    )


def checkpoint_kv_cache_dtype(quantization_config: dict[str, Any] | None) -> str | None:
    """The KV-cache dtype `--kv-cache-dtype auto` becomes for this checkpoint (None: the model dtype).

    vLLM 0.19.0 resolves "auto" from a ModelOpt checkpoint's `kv_cache_quant_algo` (or
    `kv_cache_scheme`) before building the cache (vllm/engine/arg_utils.py:1567-1570
    `resolve_kv_cache_dtype_string`, vllm/utils/torch_utils.py:262-312
    `get_kv_cache_quant_algo_string`: FP8 -> fp8_e4m3). Other methods keep the model dtype.
    """
    q = quantization_config
    if not q:
        return None
    try:
        method = quant_method(q)
    except UnsupportedQuantization:
        return None
    if not method.startswith("modelopt"):
        return None
    inner = q.get("quantization", q)
    inner = inner if isinstance(inner, dict) else q
    algo = inner.get("kv_cache_scheme") or q.get("kv_cache_scheme") or inner.get("kv_cache_quant_algo") or q.get("kv_cache_quant_algo")
    if isinstance(algo, dict):
        ok = algo.get("dynamic") is False and algo.get("num_bits") == 8 and algo.get("type") == "float"
        return "fp8" if ok else None
    if isinstance(algo, str) and algo.lower() == "fp8":
        return "fp8"  # MODELOPT_TO_VLLM_KV_CACHE_DTYPE_MAP: fp8 -> fp8_e4m3 (one byte, as --kv-cache-dtype fp8)
    return None


def resolved_kv_cache_dtype(kv_cache_dtype: str, quantization_config: dict[str, Any] | None) -> str:
    """The KV-cache dtype vLLM runs with for a `--kv-cache-dtype` value (see checkpoint_kv_cache_dtype)."""
    if kv_cache_dtype != "auto":
        return kv_cache_dtype
    return checkpoint_kv_cache_dtype(quantization_config) or "auto"


# Linear groups of one decoder layer that a checkpoint can leave unquantized; vLLM fuses
# q/k/v (qkv_proj) and gate/up (gate_up_proj) and refuses a fused layer whose shards disagree
# (utils/quant_utils.py:461-478, compressed_tensors/utils.py:38-62), so each fused group is one unit.
LINEAR_GROUPS = ("qkv", "o", "gate_up", "down", "experts", "shared_expert")
_GROUP_NAMES = {
    "qkv": ("self_attn.q_proj", "self_attn.q_a_proj", "self_attn.kv_a_proj_with_mqa"),
    "o": ("self_attn.o_proj",),
    "gate_up": ("{mlp}.gate_proj",),
    "down": ("{mlp}.down_proj",),
    "experts": ("{mlp}.experts",),
    "shared_expert": ("{mlp}.shared_expert.gate_proj", "{mlp}.shared_experts.gate_proj"),
}


def _ignore_list(q: dict[str, Any]) -> list[str]:
    """The modules a quantization config keeps unquantized, under the key its method uses."""
    raw = q.get("quantization")
    inner: dict[str, Any] = raw if isinstance(raw, dict) else {}
    for key in ("ignore", "modules_to_not_convert", "ignored_layers", "exclude_modules"):
        for src in (q, inner):
            v = src.get(key)
            if isinstance(v, list) and v:
                return [str(x) for x in v]
    return []


def _skipped(name: str, entries: list[str], method: str) -> bool:
    """Does vLLM 0.19.0 leave module `name` unquantized for this ignore list.

    Exact names for every method (utils/quant_utils.py:437-491 is_layer_skipped), with the
    experts rule (an "experts" entry that contains the layer's experts prefix, :479-486);
    AWQ matches substrings (awq.py:99-104, awq_marlin.py:263-268 skip_with_substr=True);
    compressed-tensors also takes `re:` regexes (compressed_tensors/utils.py:153-171);
    ModelOpt also substrings and fnmatch wildcards (modelopt.py:145-180).
    """
    import re
    from fnmatch import fnmatch

    for e in entries:
        if e == name:
            return True
        if name.endswith(".experts") and "experts" in e and name in e:
            return True
        if method == "compressed-tensors" and e.startswith("re:") and re.match(e[3:], name):
            return True
        if method.startswith("modelopt") and (e in name or fnmatch(name, e)):
            return True
        if method in ("awq", "awq_marlin") and e in name:
            return True
    return False


def unquantized_linear_groups(quantization_config: dict[str, Any] | None, num_layers: int) -> dict[int, frozenset[str]]:
    """Per decoder layer, the linear groups (LINEAR_GROUPS) a quantized checkpoint keeps in 16-bit.

    Read from the checkpoint's ignore list (`ignore`, `modules_to_not_convert`, `ignored_layers`,
    ModelOpt's `exclude_modules`) as vLLM 0.19.0 matches it against each layer's prefix
    (`_skipped`). Module names follow the checkpoint's own prefix (`model.layers.N.` or a
    wrapper's `language_model.model.layers.N.`) and MLP name (`mlp` / `feed_forward`). MXFP4
    quantizes only the MoE experts (mxfp4.py get_quant_method); the memory model already keeps
    the rest in 16-bit, so nothing is listed for it. Embeddings, norms, routers and lm_head are
    16-bit in the memory model whatever the list says.
    """
    q = quantization_config
    if not q:
        return {}
    try:
        method = quant_method(q)
    except UnsupportedQuantization:
        return {}
    if method == "mxfp4":
        return {}
    entries = _ignore_list(q)
    if not entries:
        return {}
    import re

    text = [e for e in entries if not re.search(r"vision|visual|multi_modal|audio", e)]
    prefixes = {m.group(1) for e in text if (m := re.match(r"^(?:re:)?([A-Za-z_.]*?layers\.)(?:\d+|\*)\.", e))}
    prefixes = {p for p in prefixes if "\\" not in p and "*" not in p} or {"model.layers."}
    if any(e.startswith("re:") for e in text):
        prefixes |= {"model.layers.", "language_model.model.layers."}
    mlp = "feed_forward" if any(".feed_forward." in e or e.endswith(".feed_forward") for e in text) else "mlp"
    out: dict[int, frozenset[str]] = {}
    for i in range(num_layers):
        groups = set()
        for g, names in _GROUP_NAMES.items():
            for pre in prefixes:
                if any(_skipped(f"{pre}{i}." + n.format(mlp=mlp), text, method) for n in names):
                    groups.add(g)
        if groups:
            out[i] = frozenset(groups)
    return out


def precision_of_checkpoint(quantization_config: dict[str, Any] | None, torch_dtype: str) -> str:
    """The gpuforge precision a checkpoint ships in (from its quantization_config, else its dtype)."""
    scheme = quantization_scheme(quantization_config)
    if scheme is not None:
        return scheme.precision
    d = torch_dtype.replace("torch.", "")
    return "fp16" if d in ("float16", "half") else "bf16"


def scheme_for(checkpoint_precision: str, quantization_config: dict[str, Any] | None, precision: str) -> QuantScheme | None:
    """How vLLM runs `precision` from a checkpoint (None: unquantized). Raises ValueError when
    the checkpoint cannot be served at that precision (see `precision_problems`)."""
    problems = precision_problems(checkpoint_precision, precision)
    if problems:
        raise ValueError(problems[0])
    if checkpoint_precision in UNQUANTIZED:
        return FP8_ONLINE if precision == "fp8" else None
    return quantization_scheme(quantization_config)


def precision_problems(checkpoint_precision: str, precision: str) -> list[str]:
    """A checkpoint serves its own precision; a 16-bit one also bf16 / fp16 (a cast,
    config/model.py:2010-2022) and fp8 quantized at load time. Nothing else."""
    if precision not in PRECISIONS:
        return [f"{precision!r} is not a precision ({', '.join(PRECISIONS)})"]
    if checkpoint_precision in UNQUANTIZED:
        if precision in UNQUANTIZED or precision in ONLINE_QUANTIZATION:
            return []
        return [
            f"{precision} needs a checkpoint quantized to {precision}: vLLM {VLLM_VERSION} quantizes a "
            f"16-bit checkpoint at load time only to fp8"
        ]
    if precision != checkpoint_precision:
        return [f"the checkpoint ships in {checkpoint_precision}; {precision} needs another checkpoint"]
    return []


# --- GPUs ------------------------------------------------------------------------------------------


def capability(gpu: Gpu) -> int | None:
    """Compute capability as vLLM's DeviceCapability.to_int() (major*10+minor); None off CUDA."""
    cc = getattr(gpu, "compute_capability", None)
    if not cc:
        return None
    return int(cc[0]) * 10 + int(cc[1])


def platform_problems(gpu: Gpu) -> list[str]:
    """Can gpuforge's vLLM image run on this GPU at all."""
    # which vendors gpuforge's serving path deploys is the serving seam's rule (engine.launch)
    from gpuforge.engine.launch import serving_support_problem

    unserved = serving_support_problem(gpu.vendor, gpu.name)
    if unserved:
        return [unserved]
    cc = capability(gpu)
    if cc is None:
        return [f"{gpu.name} has no compute capability in the catalog"]
    if cc < 70:
        # vLLM's CUDA kernels start at Volta (platforms/cuda.py:140-150 supported_dtypes)
        return [f"{gpu.name} (sm{cc}) is older than any GPU vLLM {VLLM_VERSION} builds kernels for"]
    return []


def supported_dtypes(gpu: Gpu) -> tuple[str, ...]:
    """Activation dtypes the GPU supports in vLLM (vllm/platforms/cuda.py:140-150)."""
    cc = capability(gpu) or 0
    if cc >= 80:
        return ("bfloat16", "float16", "float32")
    if cc >= 60:
        return ("float16", "float32")
    return ("float32",)


# vllm/config/model.py:1903-1909 _FLOAT16_NOT_SUPPORTED_MODELS, checked on the top-level
# config's model_type (config/model.py:1919-1926 _check_valid_dtype).
FLOAT16_REFUSED_MODEL_TYPES = frozenset({"gemma2", "gemma3", "gemma3_text", "plamo2", "glm4"})


def dtype_problems(model_type: str, dtype: str, gpu: Gpu, scheme: QuantScheme | None) -> list[str]:
    """Is `--dtype dtype` accepted for this model, GPU and quantization."""
    out = []
    if dtype not in supported_dtypes(gpu):
        # platforms/cuda.py:460-480 check_if_supports_dtype
        out.append(f"{gpu.name} (sm{capability(gpu)}) has no {dtype}; vLLM refuses it (bfloat16 needs sm80)")
    if dtype == "float16" and model_type in FLOAT16_REFUSED_MODEL_TYPES:
        out.append(f"vLLM refuses float16 for model_type {model_type!r} (numerical instability, config/model.py:1903-1926)")
    if scheme is not None and dtype not in scheme.act_dtypes:
        out.append(f"{scheme.description} accepts activations in {', '.join(scheme.act_dtypes)} only, not {dtype} ({scheme.source})")
    return out


def engine_dtype(model_type: str, checkpoint_dtype: str, precision: str, gpu: Gpu, scheme: QuantScheme | None) -> str | None:
    """The --dtype to render: the precision's dtype, else the checkpoint's, else one the GPU,
    the model and the scheme all accept. None when no 16-bit dtype works (a problem)."""
    want = UNQUANTIZED_DTYPE.get(precision) or ("float16" if "float16" in checkpoint_dtype and "b" not in checkpoint_dtype else "bfloat16")
    order = [want] + [d for d in ("bfloat16", "float16") if d != want]
    if precision in UNQUANTIZED:
        order = [want]  # the user asked for this dtype
    for d in order:
        if not dtype_problems(model_type, d, gpu, scheme):
            return d
    return None


def quantization_problems(scheme: QuantScheme | None, gpu: Gpu) -> list[str]:
    """Minimum compute capability of the quantization method (vllm/config/vllm.py:510-521)."""
    if scheme is None:
        return []
    cc = capability(gpu) or 0
    if not scheme.runs_on(cc):
        return [f"{scheme.description} needs compute capability {scheme.min_capability / 10:.1f}; {gpu.name} has {cc / 10:.1f} ({scheme.source})"]
    return []


# KV-cache dtypes: on CUDA vLLM picks the first attention backend that supports the dtype and
# the GPU (platforms/cuda.py:51-112). fp8 KV cache: FLASH_ATTN only on Hopper with FA3
# (v1/attention/backends/fa_utils.py:157-161), FLASHINFER on sm75-sm121
# (backends/flashinfer.py:320-327, 393-396), TRITON_ATTN on any (backends/triton_attn.py:264-271,
# 353-354); MLA: TRITON_MLA on any (backends/mla/triton_mla.py:30-36, 62).
KV_CACHE_DTYPES = ("auto", "fp8")


def kv_cache_problems(kv_cache_dtype: str, gpu: Gpu) -> list[str]:
    if kv_cache_dtype not in KV_CACHE_DTYPES:
        return [f"--kv-cache-dtype {kv_cache_dtype!r} is not one gpuforge plans ({', '.join(KV_CACHE_DTYPES)})"]
    if kv_cache_dtype == "fp8" and (capability(gpu) or 0) < 75:
        return [f"no vLLM {VLLM_VERSION} attention backend stores an fp8 KV cache on {gpu.name}"]
    return []


# --- parallelism ------------------------------------------------------------------------------
def _padded_vocab(vocab: int, pad: int) -> int:
    return (vocab + pad - 1) // pad * pad


def tensor_parallel_problems(arch: ModelArch, tp: int, pp: int = 1) -> list[str]:
    """TP x PP divisibility vLLM asserts while building the model."""
    out = []
    # config/model.py:1105-1116 verify_with_parallel_config; linear.py:1011 QKVParallelLinear
    if arch.num_heads % tp:
        out.append(f"TP={tp} does not divide the {arch.num_heads} attention heads (config/model.py:1111)")
    # linear.py:1013-1016: KV heads are split when tp < kv heads, replicated when tp >= kv heads
    if not arch.is_mla and ((tp >= arch.num_kv_heads and tp % arch.num_kv_heads) or (tp < arch.num_kv_heads and arch.num_kv_heads % tp)):
        out.append(f"TP={tp} and the {arch.num_kv_heads} KV heads do not divide each other (linear.py:1013-1016)")
    # vocab_parallel_embedding.py:289: the padded vocabulary is split evenly across TP ranks
    padded = _padded_vocab(arch.vocab_size, engine_constants().vocab_padding)
    if padded % tp:
        out.append(f"TP={tp} does not divide the padded vocabulary of {padded} rows (vocab_parallel_embedding.py:289)")
    # linear.py:456 MergedColumnParallelLinear / :1417 RowParallelLinear split the MLP width
    widths = []
    if not arch.is_moe or arch.dense_intermediate_size:
        widths.append(arch.dense_intermediate_size or arch.intermediate_size)
    if arch.shared_expert_intermediate_size:
        widths.append(arch.shared_expert_intermediate_size)
    for w in widths:
        if w % tp:
            out.append(f"TP={tp} does not divide the MLP width {w} (linear.py:456, 1417)")
    if pp > arch.num_layers:
        out.append(f"PP={pp} exceeds the {arch.num_layers} layers (distributed/utils.py:95 get_pp_indices)")
    return out


def fp8_block_problems(arch: ModelArch, tp: int, block: tuple[int, int] | None) -> list[str]:
    """Block-FP8 checkpoints: every TP-sharded dimension must hold whole weight blocks.

    vllm/model_executor/layers/quantization/fp8.py:625-648 (Fp8MoEMethod.create_weights): the
    per-rank expert width must be a multiple of block_n, and of block_k when TP > 1;
    utils/fp8_utils.py:1425-1474 validate_fp8_block_shape: row-parallel inputs (o_proj,
    down_proj) a multiple of block_k, single column-parallel outputs a multiple of block_n
    (merged QKV / gate_up are exempt, linear.py:502-521). Reported upstream for
    Qwen3-30B-A3B-FP8 at TP=4 (vllm-project/vllm#25292) and Qwen3-235B-A22B-FP8 at TP=8 (#17569).
    """
    if block is None:
        return []
    bn, bk = block
    out = []

    def need(value: int, size: int, what: str, where: str) -> None:
        if value % size:
            out.append(f"block-FP8 at TP={tp}: {what} = {value} is not a multiple of the {size} weight block ({where})")

    if arch.is_moe:
        per_rank = arch.moe_intermediate_size // tp  # fused_moe/layer.py:426
        need(per_rank, bn, "expert width per rank", "fp8.py:637")
        if tp > 1:
            need(per_rank, bk, "expert down_proj input per rank", "fp8.py:643")
    if tp > 1:
        dense = [arch.dense_intermediate_size or arch.intermediate_size] if (not arch.is_moe or arch.dense_intermediate_size) else []
        if arch.shared_expert_intermediate_size:
            dense.append(arch.shared_expert_intermediate_size)
        for w in dense:
            need(w // tp, bk, "down_proj input per rank", "fp8_utils.py:1447-1456")
        v_dim = arch.v_head_dim if arch.is_mla else arch.head_dim
        need(arch.num_heads // tp * v_dim, bk, "o_proj input per rank", "fp8_utils.py:1447-1456")
        if arch.is_mla:
            qk = arch.qk_nope_head_dim + arch.qk_rope_head_dim
            if arch.q_lora_rank:
                need(arch.num_heads // tp * qk, bn, "q_b_proj output per rank", "fp8_utils.py:1458-1474")
            need(arch.num_heads // tp * (arch.qk_nope_head_dim + arch.v_head_dim), bn, "kv_b_proj output per rank", "fp8_utils.py:1458-1474")
    return out


# --- context ----------------------------------------------------------------------------------
def derived_max_model_len(config: dict[str, Any], tokenizer_max_length: int | None = None) -> int:
    """The longest --max-model-len vLLM 0.19.0 accepts for a config.json (without
    VLLM_ALLOW_LONG_MAX_MODEL_LEN): vllm/config/model.py:2038-2186 `_get_and_verify_max_len`
    with transformers_utils/model_arch_config_convertor.py:251-283. Implemented once, beside
    the config parser (gpuforge.sizing.architecture.vllm_max_model_len)."""
    from gpuforge.sizing.architecture import vllm_max_model_len

    return vllm_max_model_len(config, tokenizer_max_length)[1]


def context_problems(max_model_len: int, native: int, input_tokens: int, output_tokens: int) -> list[str]:
    """--max-model-len within the model's limit (config/model.py:2155-2186) and long enough for a request."""
    out = []
    if max_model_len > native:
        out.append(f"max_model_len {max_model_len} is above the model's limit of {native} tokens; vLLM refuses it without VLLM_ALLOW_LONG_MAX_MODEL_LEN (config/model.py:2155)")
    if max_model_len < input_tokens + output_tokens:
        out.append(f"max_model_len {max_model_len} is shorter than input_tokens + output_tokens = {input_tokens + output_tokens}")
    return out


# --- one layout, every rule -------------------------------------------------------------------
@dataclass(frozen=True)
class EngineLayout:
    """The vLLM configuration of one replica, as the rules see it."""

    gpu: Gpu
    tensor_parallel: int
    pipeline_parallel: int
    precision: str
    kv_cache_dtype: str
    dtype: str | None  # None: no 16-bit dtype works (a problem of its own)
    scheme: QuantScheme | None

    @property
    def gemm_dtype(self) -> str:
        """What the GEMMs multiply on this GPU ("bf16" = 16-bit, fp16 where bf16 is absent)."""
        cc = capability(self.gpu)
        if self.scheme is None or cc is None:
            return "bf16"
        return self.scheme.gemm_dtype(cc)


def resolve_layout(arch: ModelArch, checkpoint_precision: str, quantization_config: dict[str, Any] | None,
                   gpu: Gpu, tp: int, pp: int, precision: str, kv_cache_dtype: str) -> tuple[EngineLayout | None, list[str]]:
    """(the layout vLLM would run, every rule it breaks). The layout is None only when the
    precision itself is impossible for the checkpoint."""
    problems = precision_problems(checkpoint_precision, precision)
    if problems:
        return None, problems
    scheme = scheme_for(checkpoint_precision, quantization_config, precision)
    problems = platform_problems(gpu)
    dtype = None
    if not problems:
        dtype = engine_dtype(arch.model_type, arch.torch_dtype, precision, gpu, scheme)
        if dtype is None:
            want = UNQUANTIZED_DTYPE.get(precision, "bfloat16")
            problems += dtype_problems(arch.model_type, want, gpu, scheme) or [f"no 16-bit dtype works on {gpu.name}"]
            if want != "float16" and precision not in UNQUANTIZED:
                problems += [p for p in dtype_problems(arch.model_type, "float16", gpu, scheme) if p not in problems]
        problems += quantization_problems(scheme, gpu)
        # the KV dtype vLLM really runs: "auto" follows a ModelOpt checkpoint's FP8 KV config
        problems += kv_cache_problems(resolved_kv_cache_dtype(kv_cache_dtype, quantization_config), gpu)
    problems += tensor_parallel_problems(arch, tp, pp)
    if scheme is not None:
        problems += fp8_block_problems(arch, tp, scheme.weight_block)
    return EngineLayout(gpu, tp, pp, precision, kv_cache_dtype, dtype, scheme), problems


# --- the launch command -----------------------------------------------------------------------
def serve_args(
    *,
    served_model_name: str,
    tensor_parallel_size: int,
    pipeline_parallel_size: int,
    max_model_len: int,
    max_num_seqs: int,
    max_num_batched_tokens: int,
    gpu_memory_utilization: float,
    dtype: str,
    kv_cache_dtype: str,
    revision: str | None = None,
    quantization: str | None = None,
    allow_deprecated_quantization: bool = False,
) -> list[str]:
    """The `vllm serve <model>` flags, in a stable order (names from vllm/engine/arg_utils.py)."""
    args = [
        "--served-model-name", served_model_name,
        "--tensor-parallel-size", str(tensor_parallel_size),
        "--pipeline-parallel-size", str(pipeline_parallel_size),
        "--max-model-len", str(max_model_len),
        "--max-num-seqs", str(max_num_seqs),
        "--max-num-batched-tokens", str(max_num_batched_tokens),
        "--gpu-memory-utilization", f"{gpu_memory_utilization:g}",
        "--dtype", dtype,
        "--kv-cache-dtype", kv_cache_dtype,
    ]
    if revision:
        args += ["--revision", revision]
    if quantization:
        args += ["--quantization", quantization]
    if allow_deprecated_quantization:
        # config/model.py:1004-1017: a deprecated method (fbgemm_fp8) refuses to start without it
        args += ["--allow-deprecated-quantization"]
    return args


def parse_serve_args(args: list[str]) -> dict[str, str | bool]:
    """The flags of a `vllm serve` argument list as a dict (valueless flags map to True)."""
    out: dict[str, str | bool] = {}
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            if i + 1 < len(args) and not args[i + 1].startswith("--"):
                out[a] = args[i + 1]
                i += 2
                continue
            out[a] = True
        i += 1
    return out

"""A model's architecture as the sizing code needs it, parsed from config.json fields.

One parser for every source: a catalog row's `config`, a user's config.json, or fields given
inline in the spec. It reads the same keys vLLM's model classes read (Llama, Qwen2/3, Mistral,
Gemma 1-3, Phi, Mixtral, Qwen-MoE, DeepSeek-V2/V3 and Kimi (MLA), Llama 4, gpt-oss).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

AttentionKind = Literal["full", "sliding", "chunked"]

# model_type values whose MLP is a plain up/down projection (no gate)
_UNGATED_MLP = {"phi", "gpt2", "gpt_bigcode", "falcon", "starcoder2", "opt", "gpt_neox"}
# model_type values whose q/k/v projections carry a bias by default
_QKV_BIAS = {"qwen2", "qwen2_moe", "qwen2_vl", "qwen2_5_vl", "qwen2_5_vl_text", "qwen2_vl_text", "phi"}
_MOE_EXPERT_KEYS = ("num_local_experts", "num_experts", "n_routed_experts")


# Keys of layouts this parser would misread as a plain dense transformer (a silent undercount is
# worse than a refusal now that any Hub repo can be named): recurrent / state-space layers and
# MoE blocks described under other names.
_UNMODELLED_KEYS = {
    "layers_block_type": "Mamba layers (layers_block_type, Jamba)",
    "hybrid_override_pattern": "Mamba layers (hybrid_override_pattern, Nemotron-H)",
    "mamba_d_state": "Mamba state-space layers",
    "ssm_cfg": "state-space layers (ssm_cfg)",
    "linear_attn_config": "linear-attention layers (linear_attn_config)",
    "moe_num_experts": "an MoE block keyed moe_num_experts (ERNIE 4.5)",
    "ffn_config": "an MoE block nested in ffn_config (DBRX)",
}


class ConfigError(ValueError):
    """A config.json that lacks a field the sizing needs."""


@dataclass(frozen=True)
class LayerAttention:
    kind: AttentionKind
    window: int | None = None  # sliding window or attention chunk, in tokens


@dataclass(frozen=True)
class ModelArch:
    """Architecture facts for sizing. Counts are whole-model (not per GPU)."""

    model_type: str
    num_layers: int
    hidden_size: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    max_position_embeddings: int
    torch_dtype: str
    tie_word_embeddings: bool
    gated_mlp: bool
    qkv_bias: bool
    attention_bias: bool
    rotary_dim: int
    # MoE (0 experts = dense)
    num_experts: int = 0
    experts_per_token: int = 0
    moe_intermediate_size: int = 0
    shared_expert_intermediate_size: int = 0
    moe_layers: tuple[bool, ...] = ()  # per layer: True = MoE MLP
    dense_intermediate_size: int = 0  # MLP width of the dense layers of an MoE model
    expert_bias: bool = False
    # MLA
    kv_lora_rank: int = 0
    q_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    qk_nope_head_dim: int = 0
    v_head_dim: int = 0
    # attention pattern, per layer
    layers: tuple[LayerAttention, ...] = ()
    quantization_config: dict[str, Any] | None = None
    extra_params: int = 0  # non-LM weights (vision encoder, projector), kept in the model dtype
    # --max-model-len vLLM picks when none is given, and the largest it accepts (vllm_max_model_len)
    max_model_len_default: int = 0
    max_model_len_limit: int = 0

    # ---- derived --------------------------------------------------------------------------
    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank > 0

    @property
    def is_hybrid(self) -> bool:
        return len({(la.kind, la.window) for la in self.layers}) > 1

    @property
    def checkpoint_quantization(self) -> str | None:
        """The weight format the checkpoint ships in, in gpuforge's names (None = unquantized)."""
        q = self.quantization_config
        if not q:
            return None
        method = str(q.get("quant_method", "")).lower()
        producer = q.get("producer")
        if not method and isinstance(producer, dict) and producer.get("name") == "modelopt":
            # ModelOpt <= 0.29 hf_quant_config.json: {"producer": {"name": "modelopt"}, "quantization": {"quant_algo": ...}}
            algo = str((q.get("quantization") or {}).get("quant_algo", "")).upper()
            return {"FP8": "fp8", "NVFP4": "nvfp4"}.get(algo, f"modelopt-{algo.lower()}")
        if method == "mxfp4":
            return "mxfp4"
        if method == "fp8":
            return "fp8"
        if method == "awq":
            return "int4-awq"
        if method in ("gptq", "gptq_marlin"):
            return "int4-gptq" if int(q.get("bits", 4)) == 4 else "int8"
        if method == "compressed-tensors":
            groups = q.get("config_groups") or {}
            for g in groups.values():
                w = g.get("weights") or {}
                bits, typ = int(w.get("num_bits", 8)), str(w.get("type", "int"))
                if typ == "float" and bits == 8:
                    return "fp8"
                if bits == 8:
                    return "int8"
                if bits == 4:
                    return "int4-gptq"
            return "fp8"
        return method or None

    def attention_params_per_layer(self) -> int:
        h = self.hidden_size
        if self.is_mla:
            qk_head = self.qk_nope_head_dim + self.qk_rope_head_dim
            if self.q_lora_rank:
                q = h * self.q_lora_rank + self.q_lora_rank + self.q_lora_rank * self.num_heads * qk_head
            else:
                q = h * self.num_heads * qk_head
            kv_a = h * (self.kv_lora_rank + self.qk_rope_head_dim) + self.kv_lora_rank
            kv_b = self.kv_lora_rank * self.num_heads * (self.qk_nope_head_dim + self.v_head_dim)
            o = self.num_heads * self.v_head_dim * h
            return q + kv_a + kv_b + o
        q = h * self.num_heads * self.head_dim
        kv = 2 * h * self.num_kv_heads * self.head_dim
        o = self.num_heads * self.head_dim * h
        bias = 0
        if self.qkv_bias or self.attention_bias:
            bias += (self.num_heads + 2 * self.num_kv_heads) * self.head_dim
        if self.attention_bias:
            bias += h
        qk_norm = 2 * self.head_dim if self.model_type.startswith(("qwen3", "gemma3")) else 0
        return q + kv + o + bias + qk_norm

    def mlp_params(self, width: int) -> int:
        h = self.hidden_size
        if self.gated_mlp:
            return 3 * h * width
        return 2 * h * width + width + h  # fc1/fc2 with biases (Phi, GPT-style)

    def moe_params_per_layer(self) -> tuple[int, int]:
        """(total, active) parameters of one MoE MLP layer."""
        h = self.hidden_size
        expert = 3 * h * self.moe_intermediate_size
        if self.expert_bias:
            expert += 2 * self.moe_intermediate_size + h
        router = h * self.num_experts + (self.num_experts if self.expert_bias else 0)
        shared = 3 * h * self.shared_expert_intermediate_size if self.shared_expert_intermediate_size else 0
        total = self.num_experts * expert + router + shared
        active = self.experts_per_token * expert + router + shared
        return total, active

    def layer_params(self, i: int) -> tuple[int, int, int]:
        """(total, active, of-which-expert-weights) for decoder layer i."""
        attn = self.attention_params_per_layer()
        norms = 2 * self.hidden_size
        if self.moe_layers and self.moe_layers[i]:
            total, active = self.moe_params_per_layer()
            h = self.hidden_size
            expert_total = self.num_experts * 3 * h * self.moe_intermediate_size
            return attn + norms + total, attn + norms + active, expert_total
        width = self.dense_intermediate_size or self.intermediate_size
        mlp = self.mlp_params(width)
        return attn + norms + mlp, attn + norms + mlp, 0

    @cached_property
    def expert_params(self) -> int:
        """Parameters in routed experts (what a decode step reads only in part)."""
        return sum(self.layer_params(i)[2] for i in range(self.num_layers))

    @cached_property
    def attention_groups(self) -> tuple[tuple[AttentionKind, int | None, int], ...]:
        """(kind, window, layer count) per attention type, in first-seen order."""
        counts: dict[tuple[AttentionKind, int | None], int] = {}
        for la in self.layers:
            counts[(la.kind, la.window)] = counts.get((la.kind, la.window), 0) + 1
        return tuple((k, w, n) for (k, w), n in counts.items())

    @cached_property
    def embedding_params(self) -> int:
        return self.vocab_size * self.hidden_size

    @cached_property
    def params_total(self) -> int:
        n = sum(self.layer_params(i)[0] for i in range(self.num_layers))
        n += self.embedding_params + self.hidden_size + self.extra_params
        if not self.tie_word_embeddings:
            n += self.embedding_params
        return n

    @cached_property
    def params_active(self) -> int:
        n = sum(self.layer_params(i)[1] for i in range(self.num_layers))
        n += self.embedding_params + self.hidden_size
        if not self.tie_word_embeddings:
            n += self.embedding_params
        return n


# Fields a published config.json may omit because transformers' config class defaults them
# (transformers 4.57.6, the 4.x line vLLM 0.19.0 requires: `transformers<5,>=4.56.0`). A
# multimodal wrapper's `text_config` is built with these classes, so a sparse one such as
# google/gemma-3-4b-it's (hidden_size, intermediate_size, num_hidden_layers only) gets the rest here.
_TRANSFORMERS_DEFAULTS: dict[str, dict[str, Any]] = {
    # models/gemma3/configuration_gemma3.py Gemma3TextConfig.__init__
    "gemma3_text": {
        "vocab_size": 262208, "hidden_size": 2304, "intermediate_size": 9216, "num_hidden_layers": 26,
        "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256, "max_position_embeddings": 131072,
        "sliding_window": 4096, "sliding_window_pattern": 6, "tie_word_embeddings": True,
    },
    # models/mistral/configuration_mistral.py MistralConfig.__init__ (LLaVA-NeXT nests a bare {"model_type": "mistral"})
    "mistral": {
        "vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 8, "max_position_embeddings": 131072, "sliding_window": 4096,
        "tie_word_embeddings": False,
    },
    # models/llama/configuration_llama.py LlamaConfig.__init__ (num_key_value_heads defaults to the heads)
    "llama": {
        "vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
        "num_attention_heads": 32, "max_position_embeddings": 2048, "tie_word_embeddings": False,
    },
    # models/llama4/configuration_llama4.py Llama4TextConfig.__init__
    "llama4_text": {
        "vocab_size": 202048, "hidden_size": 5120, "intermediate_size": 8192, "intermediate_size_mlp": 16384,
        "num_hidden_layers": 48, "num_attention_heads": 40, "num_key_value_heads": 8, "head_dim": 128,
        "max_position_embeddings": 131072, "num_experts_per_tok": 1, "num_local_experts": 16,
        "interleave_moe_layer_step": 1, "attention_chunk_size": 8192, "no_rope_layer_interval": 4,
        "tie_word_embeddings": False,
    },
}

# A wrapper's text model when its `text_config` names none (the wrapper class's default):
# Gemma3Config -> Gemma3TextConfig, Llama4Config -> Llama4TextConfig, LlavaConfig -> "llama",
# Mistral3Config -> "mistral" (transformers 4.57.6 configuration_{gemma3,llama4,llava,mistral3}.py).
_WRAPPER_TEXT_TYPE = {"gemma3": "gemma3_text", "llama4": "llama4_text", "llava": "llama", "mistral3": "mistral"}

# Keys transformers' PretrainedConfig.get_text_config() looks for (configuration_utils.py, 4.57.6),
# which vLLM's get_hf_text_config calls (vllm/transformers_utils/config.py, v0.19.0).
_TEXT_CONFIG_KEYS = ("text_config", "decoder", "generator", "text_encoder")


def text_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """The language model's fields: `cfg` itself, or its `text_config` with the class defaults.

    Multimodal wrappers (Gemma 3, Llama 4, Mistral 3, LLaVA, Qwen-VL in its nested form) put the
    LM under `text_config`; the wrapper's dtype, quantization_config and tie_word_embeddings are
    inherited when the inner dict does not set them.
    """
    inner = next((cfg[k] for k in _TEXT_CONFIG_KEYS if isinstance(cfg.get(k), dict)), None)
    if inner is None:
        return {**_TRANSFORMERS_DEFAULTS.get(str(cfg.get("model_type")), {}), **cfg}
    mt = str(inner.get("model_type") or _WRAPPER_TEXT_TYPE.get(str(cfg.get("model_type")), ""))
    merged = {**_TRANSFORMERS_DEFAULTS.get(mt, {}), **inner}
    if mt:
        merged["model_type"] = mt
    for k in ("quantization_config", "torch_dtype", "dtype", "tie_word_embeddings"):
        if k in cfg and k not in inner:
            merged[k] = cfg[k]
    return merged


# Back-compat name used by older callers
_text_config = text_config


# ---- context length, as vLLM 0.19.0 derives max_model_len -----------------------------------------
# vllm/transformers_utils/model_arch_config_convertor.py (v0.19.0) derive_max_model_len_and_key:
# the smallest of these keys in the text config; `model_max_length` overrides when set.
_MAX_LEN_KEYS = (
    "max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "model_max_length",
    "max_target_positions", "max_sequence_length", "max_seq_length", "seq_len",
)


def _rope_parameters(cfg: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The top-level config's RoPE parameters as vLLM's patch_rope_parameters leaves them.

    vllm/transformers_utils/config.py (v0.19.0) patch_rope_parameters with transformers 4.x:
    `rope_scaling` wins, else a `rope_parameters` dict (nested per layer type, as transformers 5
    writes it); legacy `type` becomes `rope_type`, "su" -> "longrope", "mrope" -> "default";
    a bare rope_theta gives {"rope_type": "default"} (no factor).
    """
    rp = cfg.get("rope_scaling")
    if rp is None:
        rp = cfg.get("rope_parameters")
    if not rp:
        return None
    if not isinstance(rp, dict):
        raise ConfigError(f"rope_scaling is {rp!r}, not a mapping")
    layer_types = {"full_attention", "sliding_attention", "chunked_attention", "linear_attention"}
    groups = list(rp.values()) if set(rp) <= layer_types else [rp]
    out = []
    for g in groups:
        g = dict(g or {})
        kind = g.get("rope_type") or g.get("type")
        if kind is None:
            raise ConfigError("rope_scaling has no rope_type (vLLM refuses it: 'rope_parameters should have a rope_type key')")
        g["rope_type"] = {"su": "longrope", "mrope": "default"}.get(str(kind), str(kind))
        out.append(g)
    return out


def vllm_max_model_len(config: dict[str, Any], tokenizer_max_length: int | None = None) -> tuple[int, int]:
    """(default, limit) of --max-model-len for this config.json, as vLLM 0.19.0 computes them.

    vllm/config/model.py (v0.19.0) `_get_and_verify_max_len`: the derived length is the smallest
    context key of the text config (2048 when none), capped by the tokenizer's model_max_length,
    then multiplied by the RoPE scaling `factor` of the top-level config (not for gemma3*, whose
    128K is already scaled; not for su/longrope/llama3 types); yarn restarts from its
    original_max_position_embeddings. Without --max-model-len vLLM serves the derived length,
    except longrope, which defaults to original_max_position_embeddings. A larger --max-model-len
    is refused (unless VLLM_ALLOW_LONG_MAX_MODEL_LEN) up to the config's `model_max_length`.
    """
    tc = text_config(config)
    derived: float = float("inf")
    for key in _MAX_LEN_KEYS:
        v = tc.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            derived = min(derived, v)
    if isinstance(tc.get("model_max_length"), (int, float)) and tc.get("model_max_length"):
        derived = tc["model_max_length"]
    if tokenizer_max_length:
        derived = min(derived, tokenizer_max_length)
    if derived == float("inf"):
        derived = 2048  # vLLM: "Assuming the model's maximum length is 2048"
    rope = _rope_parameters(config)
    model_type = str(config.get("model_type") or "")
    if rope is not None and "gemma3" not in model_type:
        factor: float | None = 1.0
        for rp in rope:
            if rp["rope_type"] not in ("su", "longrope", "llama3"):
                factor = rp.get("factor", factor)
                if rp["rope_type"] == "yarn":
                    ompe = rp.get("original_max_position_embeddings", config.get("original_max_position_embeddings"))
                    if ompe is None:
                        raise ConfigError("yarn rope_scaling lacks original_max_position_embeddings (vLLM fails on it)")
                    derived = ompe
        derived *= factor if factor is not None else 1.0
    limit = int(derived)
    default = limit
    if rope is not None and any(rp["rope_type"] == "longrope" for rp in rope):
        default = int(config.get("original_max_position_embeddings", derived))
    mml = tc.get("model_max_length")
    if isinstance(mml, (int, float)) and mml > limit:
        limit = int(mml)
    return default, limit


def _layer_pattern(c: dict[str, Any], n: int, model_type: str) -> tuple[LayerAttention, ...]:
    window = c.get("sliding_window")
    types = c.get("layer_types")
    if types is not None:
        # transformers' attention kinds (configuration_utils.py ALLOWED_LAYER_TYPES, 4.57.6);
        # recurrent kinds (Qwen3-Next linear_attention, Mamba) keep a fixed-size state instead
        # of a KV cache, which this memory model does not size: refuse them rather than guess.
        if not isinstance(types, list) or len(types) != n:
            raise ConfigError(f"layer_types has {len(types) if isinstance(types, list) else 'no list of'} entries for {n} layers")
        out = []
        for t in types:
            if t == "sliding_attention":
                if not window:
                    raise ConfigError("layer_types has sliding_attention layers but sliding_window is not set")
                out.append(LayerAttention("sliding", int(window)))
            elif t == "chunked_attention":
                if not c.get("attention_chunk_size"):
                    raise ConfigError("layer_types has chunked_attention layers but attention_chunk_size is not set")
                out.append(LayerAttention("chunked", int(c["attention_chunk_size"])))
            elif t == "full_attention":
                out.append(LayerAttention("full"))
            else:
                raise ConfigError(f"layer type {t!r} is not modelled (only full, sliding and chunked attention are)")
        return tuple(out)
    if model_type.startswith("gemma3") and window:
        # Gemma 3: every `sliding_window_pattern`-th layer is global (default 6), as
        # transformers' Gemma3TextConfig builds layer_types when a config.json has none
        p = int(c.get("sliding_window_pattern") or c.get("_sliding_window_pattern") or 6)
        return tuple(
            LayerAttention("full") if (i + 1) % p == 0 else LayerAttention("sliding", int(window)) for i in range(n)
        )
    if model_type == "gemma2" and window:
        # Gemma 2: even layers use the sliding window, odd layers are global
        return tuple(LayerAttention("sliding", int(window)) if i % 2 == 0 else LayerAttention("full") for i in range(n))
    if model_type.startswith("llama4") and c.get("attention_chunk_size"):
        # Llama 4: layers with RoPE use chunked-local attention; every 4th (NoPE) is global
        nope = c.get("no_rope_layers")
        if isinstance(nope, list) and len(nope) == n:
            return tuple(
                LayerAttention("chunked", int(c["attention_chunk_size"])) if use_rope else LayerAttention("full")
                for use_rope in nope
            )
        step = int(c.get("no_rope_layer_interval") or 4)  # Llama4TextConfig
        return tuple(
            LayerAttention("full") if (i + 1) % step == 0 else LayerAttention("chunked", int(c["attention_chunk_size"]))
            for i in range(n)
        )
    uses_sw = c.get("use_sliding_window", True)
    if window and uses_sw and model_type in ("mistral", "mixtral", "qwen2", "qwen3", "starcoder2"):
        # Mistral v0.1-style: every layer slides (Qwen only when use_sliding_window is true)
        max_window_layers = c.get("max_window_layers")
        if model_type.startswith("qwen") and max_window_layers is not None:
            return tuple(
                LayerAttention("sliding", int(window)) if i >= max_window_layers else LayerAttention("full")
                for i in range(n)
            )
        return tuple(LayerAttention("sliding", int(window)) for _ in range(n))
    return tuple(LayerAttention("full") for _ in range(n))


def _moe_layers(c: dict[str, Any], n: int, model_type: str, num_experts: int) -> tuple[bool, ...]:
    if not num_experts:
        return ()
    if "first_k_dense_replace" in c:  # DeepSeek / Kimi
        k = int(c["first_k_dense_replace"])
        freq = int(c.get("moe_layer_freq", 1))
        return tuple(i >= k and i % freq == 0 for i in range(n))
    if "interleave_moe_layer_step" in c:  # Llama 4
        step = int(c["interleave_moe_layer_step"])
        moe = c.get("moe_layers")
        if isinstance(moe, list):
            return tuple(i in set(moe) for i in range(n))
        return tuple((i + 1) % step == 0 for i in range(n))
    if "decoder_sparse_step" in c or "mlp_only_layers" in c:  # Qwen MoE
        step = int(c.get("decoder_sparse_step", 1) or 1)
        dense = set(c.get("mlp_only_layers") or [])
        return tuple(i not in dense and (i + 1) % step == 0 for i in range(n))
    return tuple(True for _ in range(n))


def quantization_config_of(config: dict[str, Any], hf_quant_config: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The quantization config vLLM 0.19.0 applies to a checkpoint, from its files.

    vllm/transformers_utils/config.py get_config: config.json's `quantization_config`, else
    ModelOpt's separate hf_quant_config.json (ModelOpt <= 0.29); then
    vllm/model_executor/model_loader/weight_utils.py get_quant_config: a wrapper's
    `text_config.quantization_config`, else compressed-tensors' `compression_config`.
    """
    for q in (
        config.get("quantization_config"),
        hf_quant_config,
        (config.get("text_config") or {}).get("quantization_config") if isinstance(config.get("text_config"), dict) else None,
        config.get("compression_config"),
    ):
        if isinstance(q, dict) and q:
            return q
    return None


def parse_config(config: dict[str, Any], *, hf_quant_config: dict[str, Any] | None = None, tokenizer_max_length: int | None = None) -> ModelArch:
    """Parse config.json fields into a ModelArch (SpecError lists every field out of bounds).

    Args:
        config: config.json as published (a multimodal wrapper's `text_config` is read).
        hf_quant_config: ModelOpt's hf_quant_config.json, when the repo has one.
        tokenizer_max_length: tokenizer_config.json's model_max_length (caps the context).
    """
    from gpuforge.errors import raise_if
    from gpuforge.sizing.config_checks import config_problems

    if not isinstance(config, dict):
        raise ConfigError(f"config.json is a {type(config).__name__}, not a mapping")
    c = text_config(config)
    model_type = str(c.get("model_type") or config.get("model_type") or "").lower()
    unmodelled = [why for key, why in _UNMODELLED_KEYS.items() if c.get(key) not in (None, [], {}, 0)]
    if unmodelled:
        raise ConfigError(f"model_type {model_type!r}: {unmodelled[0]}, which gpuforge does not size (give model.config only for a transformer it can)")
    required = ["num_hidden_layers", "hidden_size", "num_attention_heads", "vocab_size"]
    missing = [k for k in required if k not in c]
    if "intermediate_size" not in c and "moe_intermediate_size" not in c and "ffn_dim" not in c:
        missing.append("intermediate_size")
    if missing:
        raise ConfigError(f"config.json lacks {', '.join(missing)}")
    bad = [k for k in required + ["num_key_value_heads", "head_dim", "intermediate_size"] if c.get(k) is not None and (not isinstance(c[k], int) or isinstance(c[k], bool) or c[k] <= 0)]
    if bad:
        raise ConfigError(", ".join(f"{k} is {c[k]!r}, not a positive integer" for k in bad))
    raise_if("config.json", config_problems(config))  # types and bounds of every field read (SpecError)
    default_len, limit_len = vllm_max_model_len(config, tokenizer_max_length)
    n = int(c["num_hidden_layers"])
    hidden = int(c["hidden_size"])
    heads = int(c["num_attention_heads"])
    kv_heads = int(c.get("num_key_value_heads") or c.get("num_kv_heads") or heads)
    head_dim = int(c.get("head_dim") or hidden // heads)
    num_experts = next((int(c[k]) for k in _MOE_EXPERT_KEYS if c.get(k)), 0)
    inter = int(c.get("intermediate_size") or c.get("ffn_dim") or c.get("moe_intermediate_size") or 0)
    moe_inter = int(c.get("moe_intermediate_size") or (inter if num_experts else 0))
    shared = 0
    if c.get("n_shared_experts"):
        shared = int(c["n_shared_experts"]) * moe_inter
    elif c.get("shared_expert_intermediate_size"):
        shared = int(c["shared_expert_intermediate_size"])
    elif model_type.startswith("llama4") and num_experts:
        shared = moe_inter  # one shared expert per MoE layer
    dense_inter = int(c.get("intermediate_size_mlp") or (inter if num_experts else 0))
    partial = float(c.get("partial_rotary_factor") or 1.0)
    tie = c.get("tie_word_embeddings")
    if tie is None:
        tie = config.get("tie_word_embeddings", model_type.startswith("gemma"))
    arch = ModelArch(
        model_type=model_type,
        num_layers=n,
        hidden_size=hidden,
        num_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        intermediate_size=inter,
        vocab_size=int(c["vocab_size"]),
        max_position_embeddings=int(c.get("max_position_embeddings") or 4096),
        torch_dtype=str(c.get("torch_dtype") or c.get("dtype") or config.get("torch_dtype") or "bfloat16"),
        tie_word_embeddings=bool(tie),
        gated_mlp=model_type not in _UNGATED_MLP,
        qkv_bias=bool(c.get("qkv_bias", model_type in _QKV_BIAS)),
        attention_bias=bool(c.get("attention_bias", False)),
        rotary_dim=int(head_dim * partial) if not c.get("qk_rope_head_dim") else int(c["qk_rope_head_dim"]),
        num_experts=num_experts,
        experts_per_token=int(c.get("num_experts_per_tok") or c.get("experts_per_token") or 0),
        moe_intermediate_size=moe_inter if num_experts else 0,
        shared_expert_intermediate_size=shared,
        moe_layers=_moe_layers(c, n, model_type, num_experts),
        dense_intermediate_size=dense_inter,
        expert_bias=model_type == "gpt_oss",
        kv_lora_rank=int(c.get("kv_lora_rank") or 0),
        q_lora_rank=int(c.get("q_lora_rank") or 0),
        qk_rope_head_dim=int(c.get("qk_rope_head_dim") or 0),
        qk_nope_head_dim=int(c.get("qk_nope_head_dim") or 0),
        v_head_dim=int(c.get("v_head_dim") or 0),
        layers=_layer_pattern(c, n, model_type),
        quantization_config=quantization_config_of(config, hf_quant_config),
        max_model_len_default=default_len,
        max_model_len_limit=limit_len,
    )
    return arch

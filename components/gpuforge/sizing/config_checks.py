"""Bounds on a config.json before the sizing code reads it.

`parse_config` trusts what it reads: a layer count becomes a loop bound, a head count a
divisor, an expert count a factor. This module checks every field it reads for type and range
first, and returns every problem at once with its path (`model.config.num_hidden_layers`).

The ranges hold every released model by a wide margin (documented in docs/spec.md, "Input
limits") and stop inputs that would make sizing slow, huge or meaningless (10^8 layers, zero
heads, more experts per token than experts).
"""

from __future__ import annotations

from typing import Any

from gpuforge.errors import Problem
from gpuforge.sizing.architecture import _TEXT_CONFIG_KEYS, text_config

# (field, lowest, highest). Largest released values, for scale: 126 layers (Llama 3.1 405B),
# hidden 16,384 (405B), 128 heads (DeepSeek-V3), 262,208 vocabulary (Gemma 3), 384 experts
# (Kimi K2), 10,485,760 positions (Llama 4 Scout).
MAX_LAYERS = 1024
MAX_VOCAB = 1 << 24
_INT_BOUNDS: tuple[tuple[str, int, int], ...] = (
    ("num_hidden_layers", 1, MAX_LAYERS),
    ("hidden_size", 1, 1 << 17),
    ("num_attention_heads", 1, 4096),
    ("vocab_size", 1, MAX_VOCAB),
    ("num_key_value_heads", 1, 4096),
    ("num_kv_heads", 1, 4096),
    ("head_dim", 1, 1 << 14),
    ("intermediate_size", 1, 1 << 20),
    ("ffn_dim", 1, 1 << 20),
    ("moe_intermediate_size", 1, 1 << 20),
    ("intermediate_size_mlp", 1, 1 << 20),
    ("shared_expert_intermediate_size", 0, 1 << 20),
    ("max_position_embeddings", 1, 1 << 27),
    ("num_local_experts", 0, 4096),
    ("num_experts", 0, 4096),
    ("n_routed_experts", 0, 4096),
    ("num_experts_per_tok", 0, 4096),
    ("experts_per_token", 0, 4096),
    ("n_shared_experts", 0, 256),
    ("kv_lora_rank", 0, 1 << 16),
    ("q_lora_rank", 0, 1 << 16),
    ("qk_rope_head_dim", 0, 1 << 14),
    ("qk_nope_head_dim", 0, 1 << 14),
    ("v_head_dim", 0, 1 << 14),
    ("sliding_window", 1, 1 << 27),
    ("attention_chunk_size", 1, 1 << 27),
    ("sliding_window_pattern", 1, MAX_LAYERS),
    ("first_k_dense_replace", 0, MAX_LAYERS),
    ("moe_layer_freq", 1, MAX_LAYERS),
    ("interleave_moe_layer_step", 1, MAX_LAYERS),
    ("decoder_sparse_step", 1, MAX_LAYERS),
    ("nope_layer_interval", 1, MAX_LAYERS),
    ("max_window_layers", 0, MAX_LAYERS),
)
_LIST_FIELDS = ("layer_types", "no_rope_layers", "moe_layers", "mlp_only_layers")
_STR_FIELDS = ("model_type", "torch_dtype", "dtype")
_BOOL_FIELDS = ("tie_word_embeddings", "qkv_bias", "attention_bias", "use_sliding_window")
_EXPERT_KEYS = ("num_local_experts", "num_experts", "n_routed_experts")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def config_problems(config: Any, path: str = "config.json") -> list[Problem]:
    """Every reason `config` cannot be sized, each at `path.<field>`; [] when it can."""
    if not isinstance(config, dict):
        return [Problem(path, f"a {type(config).__name__}, not a mapping of config.json fields", "give the model's config.json (a JSON object)")]
    out: list[Problem] = []
    inner = config.get("text_config")
    if inner is not None and not isinstance(inner, dict):
        out.append(Problem(f"{path}.text_config", f"a {type(inner).__name__}, not a mapping", "give text_config as an object"))
    c = text_config(config)  # the fields parse_config reads
    nested = next((k for k in _TEXT_CONFIG_KEYS if isinstance(config.get(k), dict)), None)
    if nested:
        path = f"{path}.{nested}"
    q = config.get("quantization_config")
    if q is not None and not isinstance(q, dict):
        out.append(Problem(f"{path}.quantization_config", f"a {type(q).__name__}, not a mapping", "give quantization_config as an object, or drop it"))
    for key in _STR_FIELDS:
        if c.get(key) is not None and not isinstance(c[key], str):
            out.append(Problem(f"{path}.{key}", f"{c[key]!r} is not a string", f"give {key} as a string"))
    for key in _BOOL_FIELDS:
        if c.get(key) is not None and not isinstance(c[key], bool):
            out.append(Problem(f"{path}.{key}", f"{c[key]!r} is not a boolean", "use true or false"))
    missing = [k for k in ("num_hidden_layers", "hidden_size", "num_attention_heads", "vocab_size") if c.get(k) is None]
    if all(c.get(k) is None for k in ("intermediate_size", "ffn_dim", "moe_intermediate_size")):
        missing.append("intermediate_size")
    for key in missing:
        out.append(Problem(f"{path}.{key}", "missing", f"add {key} from the model's config.json"))
    for key, lo, hi in _INT_BOUNDS:
        v = c.get(key)
        if v is None:
            continue
        if not _is_int(v):
            out.append(Problem(f"{path}.{key}", f"{v!r} is not a whole number", f"give {key} as an integer"))
        elif not lo <= v <= hi:
            out.append(Problem(f"{path}.{key}", f"{v:,} is outside {lo:,}..{hi:,}", f"give the model's real {key}"))
    prf = c.get("partial_rotary_factor")
    if prf is not None and (isinstance(prf, bool) or not isinstance(prf, (int, float)) or not 0 < prf <= 1):
        out.append(Problem(f"{path}.partial_rotary_factor", f"{prf!r} is not in (0, 1]", "give a fraction such as 0.5, or drop it"))
    for key in _LIST_FIELDS:
        v = c.get(key)
        if v is None:
            continue
        if not isinstance(v, list) or len(v) > MAX_LAYERS:
            out.append(Problem(f"{path}.{key}", f"not a list of at most {MAX_LAYERS} entries", f"give {key} as one entry per layer"))
        elif key == "layer_types" and not all(isinstance(t, str) for t in v):
            out.append(Problem(f"{path}.{key}", "entries must be strings (full_attention, sliding_attention, ...)", "give one string per layer"))
        elif key != "layer_types" and not all(_is_int(t) or isinstance(t, bool) for t in v):
            out.append(Problem(f"{path}.{key}", "entries must be integers", "give layer indices or 0/1 flags"))
    if out:
        return out
    # relations between fields (types and ranges hold from here on)
    heads, hidden = c["num_attention_heads"], c["hidden_size"]
    kv = c.get("num_key_value_heads") or c.get("num_kv_heads")
    if kv is not None and kv > heads:
        out.append(Problem(f"{path}.num_key_value_heads", f"{kv} is more than num_attention_heads ({heads})", "give the model's real KV head count"))
    if c.get("head_dim") is None and hidden < heads:
        out.append(Problem(f"{path}.hidden_size", f"{hidden} is smaller than num_attention_heads ({heads}): no head dimension", "give head_dim, or the real hidden_size"))
    experts = next((c[k] for k in _EXPERT_KEYS if c.get(k)), 0)
    per_token = c.get("num_experts_per_tok") or c.get("experts_per_token") or 0
    if experts and not 1 <= per_token <= experts:
        out.append(
            Problem(
                f"{path}.num_experts_per_tok",
                f"{per_token} experts per token with {experts} experts",
                f"give num_experts_per_tok between 1 and {experts}",
            )
        )
    if not experts and per_token:
        out.append(Problem(f"{path}.num_experts_per_tok", f"{per_token} experts per token but no experts", "give num_local_experts (or num_experts), or drop num_experts_per_tok"))
    return out

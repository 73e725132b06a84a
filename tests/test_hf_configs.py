"""Real Hugging Face config.json shapes: wrappers, context length as vLLM derives it, layer types."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gpuforge import catalog
from gpuforge.errors import SpecError
from gpuforge.sizing.architecture import ConfigError, parse_config, text_config, vllm_max_model_len

FIXTURES = Path(__file__).parent / "fixtures" / "hub"
LLAMA31 = catalog.find_model("llama-3.1-8b-instruct").config
QWEN25 = catalog.find_model("qwen2.5-7b-instruct").config


def _with(base: dict, **fields) -> dict:
    out = json.loads(json.dumps(base))
    for k, v in fields.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


# microsoft/Phi-3-mini-128k-instruct config.json (long/short factors shortened: they do not enter
# the length rule); rope type "su" as first published, "longrope" since
PHI3_128K = {
    "architectures": ["Phi3ForCausalLM"], "hidden_size": 3072, "intermediate_size": 8192, "max_position_embeddings": 131072,
    "model_type": "phi3", "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32,
    "original_max_position_embeddings": 4096, "rope_scaling": {"long_factor": [1.07, 1.11], "short_factor": [1.05, 1.05], "type": "su"},
    "rope_theta": 10000.0, "sliding_window": 262144, "tie_word_embeddings": False, "torch_dtype": "bfloat16", "vocab_size": 32064,
}


@pytest.mark.parametrize(
    "config, tokenizer_max, expected",
    [
        # llama3 rope: vLLM does not multiply (its 128K is max_position_embeddings already)
        (LLAMA31, None, (131072, 131072)),
        # Qwen2.5's README YaRN recipe: factor 4 over original 32768 -> 131072
        (_with(QWEN25, rope_scaling={"factor": 4.0, "original_max_position_embeddings": 32768, "type": "yarn"}), None, (131072, 131072)),
        # lmsys/longchat-7b-16k: linear x8 over 2048 -> 16384 (vLLM multiplies for non-gemma3)
        (_with(LLAMA31, max_position_embeddings=2048, rope_scaling={"factor": 8.0, "type": "linear"}), None, (16384, 16384)),
        # dynamic NTK also multiplies
        (_with(LLAMA31, max_position_embeddings=4096, rope_scaling={"factor": 2.0, "type": "dynamic"}), None, (8192, 8192)),
        # Phi-3 128k (su = longrope): served at original 4096 unless asked, up to 131072
        (PHI3_128K, None, (4096, 131072)),
        # CohereForAI/c4ai-command-r-v01: model_max_length 131072 overrides max_position_embeddings 8192
        (_with(LLAMA31, max_position_embeddings=8192, rope_scaling=None, model_max_length=131072), None, (131072, 131072)),
        # tokenizer_config.json's model_max_length caps the config
        (QWEN25, 16384, (16384, 16384)),
        # ... but a 1e30 sentinel (gemma, many others) is ignored upstream of this function
        (QWEN25, None, (32768, 32768)),
        # no length key at all: vLLM assumes 2048
        (_with(QWEN25, max_position_embeddings=None), None, (2048, 2048)),
        # transformers-5 style `rope_parameters` (read when rope_scaling is absent)
        (_with(LLAMA31, max_position_embeddings=4096, rope_scaling=None, rope_parameters={"rope_type": "linear", "factor": 2.0, "rope_theta": 1e4}), None, (8192, 8192)),
        # ... also nested per layer type
        (_with(LLAMA31, max_position_embeddings=4096, rope_scaling=None, rope_parameters={"full_attention": {"rope_type": "linear", "factor": 2.0}, "sliding_attention": {"rope_type": "default"}}), None, (8192, 8192)),
        # gemma-3-4b-it: linear x8 is not applied again for gemma3
        (json.loads((FIXTURES / "google/gemma-3-4b-it/config.json").read_text()), None, (131072, 131072)),
        # Qwen2.5-VL's legacy mrope: rope_type default, no factor
        (_with(QWEN25, model_type="qwen2_5_vl", max_position_embeddings=128000, rope_scaling={"type": "mrope", "mrope_section": [16, 24, 24]}), None, (128000, 128000)),
    ],
)
def test_max_model_len_as_vllm_derives_it(config, tokenizer_max, expected):
    assert vllm_max_model_len(config, tokenizer_max) == expected
    arch = parse_config(config, tokenizer_max_length=tokenizer_max)
    assert (arch.max_model_len_default, arch.max_model_len_limit) == expected


@pytest.mark.parametrize(
    "config, message",
    [
        # vLLM reads rp["original_max_position_embeddings"] for yarn and fails without it
        (_with(QWEN25, rope_scaling={"factor": 4.0, "type": "yarn"}), "original_max_position_embeddings"),
        # patch_rope_parameters_dict: "rope_parameters should have a 'rope_type' key"
        (_with(QWEN25, rope_scaling={"factor": 4.0}), "no rope_type"),
        # Qwen3-Next's Gated DeltaNet layers keep a recurrent state, not a KV cache
        (_with(QWEN25, num_hidden_layers=4, layer_types=["linear_attention", "linear_attention", "linear_attention", "full_attention"]), "'linear_attention' is not modelled"),
        (_with(QWEN25, num_hidden_layers=2, layer_types=["full_attention"]), "1 entries for 2 layers"),
        (_with(QWEN25, num_hidden_layers=2, sliding_window=None, layer_types=["sliding_attention", "full_attention"]), "sliding_window is not set"),
        (_with(QWEN25, hidden_size="4096"), "hidden_size is '4096', not a positive integer"),
        # ai21labs Jamba: attention every 8th layer, Mamba elsewhere
        (_with(QWEN25, model_type="jamba", layers_block_type=["mamba"] * 7 + ["attention"]), "Mamba layers"),
        # baidu ERNIE-4.5 MoE names its experts moe_num_experts: not taken for a dense model
        (_with(QWEN25, model_type="ernie4_5_moe", moe_num_experts=64, moe_k=8), "moe_num_experts"),
        (_with(QWEN25, num_attention_heads=None), "lacks num_attention_heads"),
    ],
)
def test_configs_vllm_would_refuse_or_gpuforge_cannot_size(config, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(config)


def test_sparse_text_config_gets_the_wrapper_default_text_model():
    """A gemma3 wrapper whose text_config names no model_type is a Gemma3TextConfig."""
    cfg = json.loads((FIXTURES / "google/gemma-3-4b-it/config.json").read_text())
    del cfg["text_config"]["model_type"]
    tc = text_config(cfg)
    assert tc["model_type"] == "gemma3_text" and tc["num_attention_heads"] == 8 and tc["torch_dtype"] == "bfloat16"


def test_llava_with_a_bare_mistral_text_config():
    """llava-hf/llava-v1.6-mistral-7b-hf nests {"model_type": "mistral", ...} with few fields."""
    arch = parse_config(catalog.find_model("llava-v1.6-mistral-7b").config)
    assert (arch.num_layers, arch.hidden_size, arch.num_kv_heads) == (32, 4096, 8)


def test_quantization_config_inside_text_config_is_found():
    """weight_utils.get_quant_config falls back to text_config.quantization_config."""
    cfg = json.loads((FIXTURES / "google/gemma-3-4b-it/config.json").read_text())
    cfg["text_config"]["quantization_config"] = {"quant_method": "fp8", "activation_scheme": "dynamic"}
    assert parse_config(cfg).checkpoint_quantization == "fp8"


def test_modelopt_nvfp4_is_named_not_taken_for_16_bit():
    q = {"producer": {"name": "modelopt", "version": "0.29.0"}, "quantization": {"quant_algo": "NVFP4", "group_size": 16}}
    assert parse_config(LLAMA31, hf_quant_config=q).checkpoint_quantization == "nvfp4"


def test_bad_config_file_is_a_spec_error_not_a_traceback(tmp_path):
    from gpuforge.sizing.models import resolve

    f = tmp_path / "config.json"
    f.write_text(json.dumps(_with(QWEN25, num_attention_heads=None)))
    with pytest.raises(SpecError, match="lacks num_attention_heads"):
        resolve("", str(f), hf_id="org/x")
    f.write_text("{not json")
    with pytest.raises(SpecError, match="not valid JSON"):
        resolve("", str(f), hf_id="org/x")

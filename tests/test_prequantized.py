"""Pre-quantized checkpoints are catalog rows of their own, planned and served as they ship (issue 10).

Each row's config files are verbatim copies of the published ones (catalog `sources`); what is
asserted here is what vLLM 0.19.0 does with them: the method it reads, the compute capability
it needs, the bytes it loads, the KV-cache dtype "auto" becomes, and that `vllm serve` names
exactly that repo without a `--quantization` that would disagree with the checkpoint.
"""

from __future__ import annotations

import contextlib
import copy
import io
from dataclasses import replace

import pytest
from gpuforge import catalog, cli
from gpuforge.engine import vllm as engine
from gpuforge.errors import SpecError
from gpuforge.sizing.architecture import parse_config
from gpuforge.sizing.memory import MemoryInputs, estimate_memory
from gpuforge.sizing.models import catalog_precision, prequantized_checkpoints, resolve
from gpuforge.sizing.planner import NoFeasiblePlan, build_plan, plan_deployment
from gpuforge.spec import load_spec

GIB = 1 << 30


def _spec(model_id: str, precision: list[str] | None = None, **target):
    model: dict = {"id": model_id}
    if precision:
        model["precision"] = precision
    return load_spec(
        {
            "name": "t",
            "model": model,
            "workload": {"input_tokens": 1000, "output_tokens": 200, "max_model_len": 8192, "peak_concurrency": 8},
            "target": {"cloud": "aws", "region": "us-east-1", **target},
        }
    )


@pytest.mark.parametrize(
    ("model_id", "repo", "precision", "method"),
    [
        # ModelOpt 0.23 FP8: the method lives in hf_quant_config.json (no quant_method key), which
        # vLLM normalises to "modelopt" (model_arch_config_convertor.py:169-204); gpuforge refused it
        ("nvidia-llama-3.1-70b-instruct-fp8", "nvidia/Llama-3.1-70B-Instruct-FP8", "fp8", "modelopt"),
        # ModelOpt 0.33 NVFP4, same legacy file: "modelopt_fp4"
        ("nvidia-qwen3-235b-a22b-nvfp4", "nvidia/Qwen3-235B-A22B-NVFP4", "nvfp4", "modelopt_fp4"),
        # Qwen's own block FP8 (config.json quantization_config)
        ("qwen3-32b-fp8", "Qwen/Qwen3-32B-FP8", "fp8", "fp8"),
    ],
)
def test_a_prequantized_row_is_served_as_it_ships(model_id, repo, precision, method):
    serving = build_plan(plan_deployment(_spec(model_id))).serving
    assert serving.model == repo
    assert (serving.precision, serving.quantization_method) == (precision, method)
    # vLLM reads the method from the checkpoint; a --quantization that disagrees is refused
    # (vllm/config/model.py:986-994), so none is rendered
    args = serving.engine_args()
    assert "--quantization" not in args and serving.quantization is None


def test_the_repo_id_of_a_prequantized_row_resolves_to_that_row():
    assert resolve("nvidia/Qwen3-235B-A22B-NVFP4").catalog_id == "nvidia-qwen3-235b-a22b-nvfp4"
    assert resolve("nvidia/Llama-3.1-70B-Instruct-FP8").checkpoint_precision == "fp8"


def test_every_quantized_row_names_its_16_bit_base_with_the_same_architecture():
    quantized = [m for m in catalog.all_models() if m.base]
    assert {"nvidia-llama-3.1-70b-instruct-fp8", "nvidia-qwen3-235b-a22b-nvfp4", "qwen3-32b-fp8"} <= {m.id for m in quantized}
    for m in quantized:
        base = catalog.find_model(m.base)
        assert base is not None, f"{m.id}: base {m.base} is not a catalog row"
        assert catalog_precision(base) in ("bf16", "fp16"), f"{m.id}: base {m.base} is not a 16-bit checkpoint"
        assert catalog_precision(m) not in (None, "bf16", "fp16"), f"{m.id} ships no quantization config"
        a, b = parse_config(m.config, hf_quant_config=m.hf_quant_config), parse_config(base.config)
        for field in ("hidden_size", "num_layers", "num_heads", "num_kv_heads", "head_dim", "vocab_size", "intermediate_size", "num_experts"):
            assert getattr(a, field) == getattr(b, field), f"{m.id} vs {m.base}: {field}"
        assert (m.params_total, m.params_active) == (base.params_total, base.params_active)


# --- what vLLM loads: bytes per weight and the KV-cache dtype ------------------------------------


def _weights_total(model_id: str, tp: int = 8, kv: str = "auto"):
    m = resolve(model_id)
    prec = m.checkpoint_precision
    quant = "none" if prec in ("bf16", "fp16") else prec
    return estimate_memory(m.arch, catalog.get_gpu("h100-80gb"), MemoryInputs(tensor_parallel=tp, max_model_len=8192, quantization=quant, kv_cache_dtype=kv))


def test_modelopt_fp8_quantizes_every_decoder_linear_and_keeps_embeddings_16_bit():
    # exclude_modules is [lm_head] only: each decoder linear loads at one byte, the embeddings,
    # norms and lm_head at two; the difference to the bf16 row is one byte per linear weight
    cfg = catalog.find_model("llama-3.1-70b-instruct").config
    h, inter, layers = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    kv = cfg["num_key_value_heads"] * (h // cfg["num_attention_heads"])
    linear = layers * (h * (2 * h + 2 * kv) + 3 * h * inter)
    bf16 = _weights_total("llama-3.1-70b-instruct").weights_gib_total * GIB
    fp8 = _weights_total("nvidia-llama-3.1-70b-instruct-fp8").weights_gib_total * GIB
    assert bf16 - fp8 == pytest.approx(linear, rel=1e-6)


def test_modelopt_fp8_kv_config_makes_auto_an_fp8_cache():
    # kv_cache_quant_algo FP8: vLLM resolves --kv-cache-dtype auto to fp8_e4m3
    # (vllm/engine/arg_utils.py:1567-1570, vllm/utils/torch_utils.py:262-312)
    row = _weights_total("nvidia-llama-3.1-70b-instruct-fp8", tp=2)
    explicit = _weights_total("nvidia-llama-3.1-70b-instruct-fp8", tp=2, kv="fp8")
    bf16 = _weights_total("llama-3.1-70b-instruct", tp=2)
    assert row.kv_bytes_per_token == explicit.kv_bytes_per_token == bf16.kv_bytes_per_token // 2
    # a checkpoint without a KV config keeps the model dtype under "auto"
    assert engine.checkpoint_kv_cache_dtype(catalog.find_model("qwen3-32b-fp8").config["quantization_config"]) is None


def test_an_ignore_list_keeps_its_modules_16_bit():
    # RedHatAI's Llama-4-Scout FP8-dynamic lists every language-model attention projection in
    # `ignore`: vLLM loads them unquantized (compressed_tensors/utils.py should_ignore_layer), so
    # they weigh two bytes, not one. Sized against the same config with the list emptied.
    row = catalog.find_model("llama-4-scout-17b-16e-instruct-fp8-dynamic")
    text = row.config["text_config"]
    h, heads, kvh = text["hidden_size"], text["num_attention_heads"], text["num_key_value_heads"]
    hd = text.get("head_dim") or h // heads
    attention = text["num_hidden_layers"] * h * hd * (2 * heads + 2 * kvh)
    emptied = copy.deepcopy(row.config)
    emptied["quantization_config"]["ignore"] = []
    gpu, inputs = catalog.get_gpu("h100-80gb"), MemoryInputs(tensor_parallel=1, max_model_len=8192, quantization="fp8")
    with_list = estimate_memory(parse_config(row.config), gpu, inputs).weights_gib_total * GIB
    without = estimate_memory(parse_config(emptied), gpu, inputs).weights_gib_total * GIB
    assert with_list - without == pytest.approx(attention, rel=1e-6)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        # fbgemm_fp8 / fp8 match exact module names (vllm utils/quant_utils.py:437-491): a whole
        # layer's name does not cover its projections. (Illustrative list, shaped like Meta's
        # FP8 checkpoints: first layer's attention and MLP kept in bf16.)
        (
            {"quant_method": "fbgemm_fp8", "modules_to_not_convert": [
                "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj", "model.layers.0.self_attn.v_proj",
                "model.layers.0.self_attn.o_proj", "model.layers.0.mlp.down_proj", "model.layers.1", "lm_head"]},
            {0: {"qkv", "o", "down"}},
        ),
        # compressed-tensors takes `re:` regexes (compressed_tensors/utils.py:153-171)
        (
            {"quant_method": "compressed-tensors", "config_groups": {"group_0": {"weights": {"num_bits": 8, "type": "float"}, "input_activations": {"num_bits": 8, "type": "float"}}},
             "ignore": ["re:.*self_attn.*", "lm_head"]},
            {i: {"qkv", "o"} for i in range(4)},
        ),
        # AWQ matches substrings (awq.py:99-104 skip_with_substr=True)
        (
            {"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True, "modules_to_not_convert": ["self_attn", "layers.3.mlp"]},
            {0: {"qkv", "o"}, 1: {"qkv", "o"}, 2: {"qkv", "o"}, 3: {"qkv", "o", "gate_up", "down", "experts", "shared_expert"}},
        ),
        # ModelOpt exclude_modules are wildcards (modelopt.py:145-180); routers are 16-bit anyway
        (
            {"quant_method": "modelopt", "quant_algo": "NVFP4", "ignore": ["model.layers.2.mlp*", "model.layers.*.mlp.gate", "lm_head"]},
            {2: {"gate_up", "down", "experts", "shared_expert"}},
        ),
    ],
)
def test_ignore_lists_match_as_vllm_matches_them(config, expected):
    assert engine.unquantized_linear_groups(config, 4) == {k: frozenset(v) for k, v in expected.items()}


# --- capability: where vLLM 0.19.0 runs each method --------------------------------------------


def test_modelopt_fp8_row_is_refused_below_ada():
    # ModelOptFp8Config.get_min_capability() is 89 with no Marlin fallback (modelopt.py:408)
    with pytest.raises(NoFeasiblePlan) as exc:
        plan_deployment(_spec("nvidia-llama-3.1-70b-instruct-fp8", instance_families=["g5"]), explain=False)
    assert "compute capability 8.9" in str(exc.value)
    # unrestricted, the cheapest plan is on a GPU that has it
    ok = build_plan(plan_deployment(_spec("nvidia-llama-3.1-70b-instruct-fp8"))).serving
    assert engine.capability(catalog.get_gpu(ok.gpu)) >= 89 and ok.model == "nvidia/Llama-3.1-70B-Instruct-FP8"


def test_nvfp4_needs_turing_and_runs_natively_only_on_blackwell():
    m = resolve("nvidia-qwen3-235b-a22b-nvfp4")

    def layout(gpu):
        return engine.resolve_layout(m.arch, m.checkpoint_precision, m.arch.quantization_config, gpu, 8, 1, "nvfp4", "auto")

    # ModelOptNvFp4Config.get_min_capability() is 75 (modelopt.py:1013): a Volta-class GPU is refused
    volta = replace(catalog.get_gpu("t4"), id="sm70", name="sm70 GPU", compute_capability=(7, 0))
    _, problems = layout(volta)
    assert any("compute capability 7.5" in p for p in problems), problems
    for gpu_id, weight_only in (("l40s", True), ("b200", False)):
        lay, problems = layout(catalog.get_gpu(gpu_id))
        assert problems == [] and lay.scheme.method == "modelopt_fp4"
        # FP4 tensor cores from sm100; below it Marlin, weight-only (utils/nvfp4_utils.py:39-66)
        assert lay.scheme.weight_only_on(engine.capability(lay.gpu)) is weight_only


# --- a precision the named checkpoint cannot load at names the checkpoints that ship it ----------


def test_prequantized_checkpoints_are_found_through_base():
    names = [m.hf_id for m in prequantized_checkpoints(resolve("qwen3-235b-a22b"), "nvfp4")]
    assert names == ["nvidia/Qwen3-235B-A22B-NVFP4"]
    assert [m.id for m in prequantized_checkpoints(resolve("llama-3.1-70b-instruct"), "fp8")] == ["nvidia-llama-3.1-70b-instruct-fp8"]
    # the base (pre-trained) model is another model than its instruct twin: nothing to propose
    assert prequantized_checkpoints(resolve("llama-3.1-70b"), "fp8") == []
    # from a quantized row, its 16-bit base and siblings
    assert [m.id for m in prequantized_checkpoints(resolve("qwen3-235b-a22b-fp8"), "bf16")] == ["qwen3-235b-a22b"]


def test_the_planner_names_the_checkpoint_that_ships_the_precision_asked():
    with pytest.raises(SpecError) as exc:
        plan_deployment(_spec("qwen3-235b-a22b", precision=["nvfp4"]))
    (problem,) = exc.value.problems
    assert problem.path == "model.precision"
    assert "quantizes a 16-bit checkpoint at load time only to fp8" in problem.reason
    assert "nvidia/Qwen3-235B-A22B-NVFP4" in problem.fix


def test_the_planner_says_when_the_catalog_has_no_such_checkpoint():
    with pytest.raises(SpecError) as exc:
        plan_deployment(_spec("llama-3.3-70b-instruct", precision=["int4-awq"]))
    (problem,) = exc.value.problems
    assert problem.path == "model.precision" and "int4-awq" in problem.reason
    assert "no int4-awq checkpoint of llama-3.3-70b-instruct" in problem.fix and "Hugging Face repo id" in problem.fix
    assert "bf16, fp16, fp8" in problem.fix


def test_a_loadable_precision_among_those_asked_is_planned():
    serving = build_plan(plan_deployment(_spec("qwen3-32b", precision=["int4-awq", "fp8"]))).serving
    assert serving.precision == "fp8" and serving.quantization == "fp8" and serving.model == "Qwen/Qwen3-32B"


def test_estimate_names_the_checkpoint_that_ships_the_precision():
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(["estimate", "--model", "qwen3-235b-a22b", "--gpu", "b200", "--tp", "4", "--quantization", "nvfp4"])
    text = out.getvalue() + err.getvalue()
    assert rc != 0 and "nvidia-qwen3-235b-a22b-nvfp4 (nvidia/Qwen3-235B-A22B-NVFP4)" in text, text


def test_the_plan_shows_the_kv_cache_the_checkpoint_runs():
    # ModelOpt FP8 with kv_cache_quant_algo FP8: `--kv-cache-dtype auto` runs an fp8 cache, and
    # the plan says so where it shows the layout (it said kv=auto)
    from gpuforge.report import render_plans

    r = plan_deployment(_spec("nvidia-llama-3.1-70b-instruct-fp8"))
    assert r.chosen.candidate.kv_cache_dtype == "auto" and r.chosen.kv_label == "auto->fp8"
    assert "kv=auto->fp8" in render_plans([r], "markdown")
    assert render_plans([r], "json").count('"kv_cache_dtype_run": "fp8"') >= 1

"""The vLLM 0.19.0 rules in gpuforge.engine.vllm, each against a case that breaks in reality."""

from __future__ import annotations

import pytest
from gpuforge import catalog
from gpuforge.engine import vllm as engine
from gpuforge.sizing.models import resolve

T4, A10G, L4, H100, B200, MI300X = (catalog.get_gpu(g) for g in ("t4", "a10g", "l4", "h100-80gb", "b200", "mi300x"))


# --- what vLLM makes of a checkpoint's quantization_config --------------------------------------
@pytest.mark.parametrize(
    "qcfg, method, precision, min_cc",
    [
        # Qwen/Qwen3-*-FP8: block FP8 128x128 (Fp8Config)
        ({"quant_method": "fp8", "activation_scheme": "dynamic", "weight_block_size": [128, 128]}, "fp8", "fp8", 75),
        # AutoAWQ 4-bit g128 with zero points: vLLM overrides awq -> awq_marlin
        ({"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True, "version": "gemm"}, "awq_marlin", "int4-awq", 75),
        # AWQ without zero points cannot use Marlin: plain awq, float16 only
        ({"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": False}, "awq", "int4-awq", 75),
        # GPTQ 4-bit symmetric: gptq_marlin
        ({"quant_method": "gptq", "bits": 4, "group_size": 128, "sym": True, "desc_act": False}, "gptq_marlin", "int4-gptq", 75),
        # gpt-oss: MXFP4 experts, Ampere or newer
        ({"quant_method": "mxfp4"}, "mxfp4", "mxfp4", 80),
        # Meta's Llama-3.1-405B-Instruct-FP8: FBGEMM FP8, deprecated in 0.19.0
        ({"quant_method": "fbgemm_fp8", "activation_scale_ub": 1200.0}, "fbgemm_fp8", "fp8", 80),
        # nvidia/*-FP8 (ModelOpt FP8): sm89, no weight-only fallback
        ({"quant_method": "modelopt", "quant_algo": "FP8"}, "modelopt", "fp8", 89),
        # nvidia/*-FP4 (ModelOpt NVFP4): loads from sm75 through Marlin
        ({"quant_method": "modelopt", "quantization": {"quant_algo": "NVFP4", "group_size": 16}}, "modelopt_fp4", "nvfp4", 75),
    ],
)
def test_quantization_scheme(qcfg, method, precision, min_cc):
    s = engine.quantization_scheme(qcfg)
    assert (s.method, s.precision, s.min_capability) == (method, precision, min_cc)


def _ct(weights, acts=None):
    g = {"weights": weights, "targets": ["Linear"]}
    if acts is not None:
        g["input_activations"] = acts
    return {"quant_method": "compressed-tensors", "format": "float-quantized", "config_groups": {"group_0": g}}


@pytest.mark.parametrize(
    "qcfg, precision, native",
    [
        # RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic: fp8 channel weights, dynamic per-token fp8 activations
        (_ct({"num_bits": 8, "type": "float", "strategy": "channel", "symmetric": True, "dynamic": False},
             {"num_bits": 8, "type": "float", "strategy": "token", "symmetric": True, "dynamic": True}), "fp8", 89),
        # RedHatAI/...-quantized.w8a8: INT8 weights and activations
        (_ct({"num_bits": 8, "type": "int", "strategy": "channel", "symmetric": True, "dynamic": False},
             {"num_bits": 8, "type": "int", "strategy": "token", "symmetric": True, "dynamic": True}), "int8", None),
        # RedHatAI/...-quantized.w4a16: INT4 weights only
        (_ct({"num_bits": 4, "type": "int", "strategy": "group", "group_size": 128, "symmetric": True, "dynamic": False}), "int4-gptq", None),
        # RedHatAI/...-NVFP4: FP4 weights and activations, group 16
        (_ct({"num_bits": 4, "type": "float", "strategy": "tensor_group", "group_size": 16, "symmetric": True, "dynamic": False},
             {"num_bits": 4, "type": "float", "strategy": "tensor_group", "group_size": 16, "symmetric": True, "dynamic": "local"}), "nvfp4", 100),
    ],
)
def test_compressed_tensors_schemes(qcfg, precision, native):
    s = engine.quantization_scheme(qcfg)
    assert s.method == "compressed-tensors" and s.precision == precision and s.native_capability == native


def test_unknown_method_is_refused_by_name():
    with pytest.raises(engine.UnsupportedQuantization, match="bitsandbytes"):
        engine.quantization_scheme({"quant_method": "bitsandbytes"})


# --- precisions a checkpoint can be served at ---------------------------------------------------
@pytest.mark.parametrize("precision", ["int8", "int4-awq", "int4-gptq", "mxfp4", "nvfp4"])
def test_a_16_bit_checkpoint_is_only_quantized_to_fp8_at_load(precision):
    # `--quantization awq_marlin` on a bf16 repo fails at start (no quantization config), and
    # `precision: int8` used to emit no flag at all: 16-bit weights loaded, sized as int8
    assert engine.precision_problems("bf16", precision)
    assert engine.precision_problems("bf16", "fp8") == []
    assert engine.scheme_for("bf16", None, "fp8").online


def test_a_quantized_checkpoint_serves_its_own_precision():
    assert engine.precision_problems("fp8", "bf16")
    assert engine.precision_problems("int4-awq", "int4-awq") == []


# --- capability and dtype -----------------------------------------------------------------------
def test_mxfp4_needs_ampere():
    gpt_oss = resolve("gpt-oss-20b")
    _, problems = engine.resolve_layout(gpt_oss.arch, "mxfp4", gpt_oss.arch.quantization_config, T4, 1, 1, "mxfp4", "auto")
    assert any("compute capability 8.0" in p for p in problems)
    _, ok = engine.resolve_layout(gpt_oss.arch, "mxfp4", gpt_oss.arch.quantization_config, A10G, 1, 1, "mxfp4", "auto")
    assert ok == []


def test_fp8_on_turing_runs_weight_only_marlin():
    # vLLM 0.19.0: Fp8Config min capability 75, FP8 Marlin from sm75 (the wheel ships the sm75
    # kernels); native W8A8 from sm89. The "fp8 on T4 is refused" predates this release.
    s = engine.FP8_ONLINE
    assert s.runs_on(75) and s.weight_only_on(75) and s.weight_only_on(86) and not s.weight_only_on(89)


def test_modelopt_fp8_needs_ada():
    s = engine.quantization_scheme({"quant_method": "modelopt", "quant_algo": "FP8"})
    assert engine.quantization_problems(s, A10G) and not engine.quantization_problems(s, L4)


def test_nvfp4_native_only_on_blackwell():
    s = engine.quantization_scheme({"quant_method": "modelopt", "quant_algo": "NVFP4"})
    assert s.weight_only_on(90) and not s.weight_only_on(100)


@pytest.mark.parametrize("model", ["gemma-2-9b-it", "gemma-3-27b-it"])
def test_gemma_2_and_3_are_refused_in_float16(model):
    m = resolve(model)
    assert engine.dtype_problems(m.arch.model_type, "float16", H100, None)
    assert engine.dtype_problems(m.arch.model_type, "bfloat16", H100, None) == []
    # on a T4 (no bf16) no 16-bit dtype is left
    _, problems = engine.resolve_layout(m.arch, "bf16", None, T4, 4, 1, "fp16", "auto")
    assert any("float16" in p for p in problems)


def test_bf16_needs_ampere():
    assert engine.dtype_problems("llama", "bfloat16", T4, None)
    assert engine.engine_dtype("llama", "bfloat16", "fp8", T4, engine.FP8_ONLINE) == "float16"


def test_mxfp4_has_no_float16_path():
    s = engine.quantization_scheme({"quant_method": "mxfp4"})
    assert engine.dtype_problems("gpt_oss", "float16", H100, s)


def test_amd_is_refused_while_serving_renders_cuda():
    assert engine.platform_problems(MI300X)
    assert engine.platform_problems(H100) == []


def test_fp8_kv_cache_has_a_backend_from_turing():
    # FlashInfer (sm75-121) and Triton attention list fp8 KV caches in 0.19.0: estimate and planner
    # must agree on it
    assert engine.kv_cache_problems("fp8", T4) == []


# --- divisibility -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "model, tp, ok",
    [
        ("qwen3-30b-a3b-fp8", 4, False),  # 768 / 4 = 192 experts width (vllm-project/vllm#25292)
        ("qwen3-30b-a3b-fp8", 2, True),  # 384 = 3 x 128
        ("qwen3-30b-a3b-fp8", 1, True),
        ("qwen3-235b-a22b-fp8", 8, False),  # 1536 / 8 = 192 (vllm-project/vllm#17569)
        ("qwen3-235b-a22b-fp8", 4, True),
        ("deepseek-r1", 8, True),  # 2048 / 8 = 256
    ],
)
def test_block_fp8_divisibility(model, tp, ok):
    m = resolve(model)
    s = engine.quantization_scheme(m.arch.quantization_config)
    assert s.weight_block == (128, 128)
    assert (engine.fp8_block_problems(m.arch, tp, s.weight_block) == []) is ok


def test_bf16_qwen3_moe_has_no_block_rule():
    m = resolve("qwen3-30b-a3b")
    _, problems = engine.resolve_layout(m.arch, m.checkpoint_precision, None, H100, 4, 1, "bf16", "auto")
    assert problems == []


@pytest.mark.parametrize(
    "model, tp, ok",
    [
        ("qwen2.5-7b-instruct", 4, True),  # 28 heads / 4, 4 KV heads / 4
        ("qwen2.5-7b-instruct", 8, False),  # 28 heads are not divisible by 8 (config/model.py:1111)
        ("llama-3.1-8b-instruct", 8, True),  # 8 KV heads, one per rank
        ("qwen3-235b-a22b", 8, True),  # 4 KV heads replicated twice
    ],
)
def test_heads_divisibility(model, tp, ok):
    assert (engine.tensor_parallel_problems(resolve(model).arch, tp) == []) is ok


# --- context ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "model, native",
    [
        ("llama-3.1-8b-instruct", 131072),  # llama3 rope type: no extra factor
        ("deepseek-r1", 163840),  # YaRN: original 4096 x factor 40
        ("gemma-3-27b-it", 131072),  # Gemma 3: transformers default, already scaled
        ("qwen2.5-7b-instruct", 32768),
    ],
)
def test_native_context(model, native):
    assert resolve(model).native_context == native


def test_context_rules():
    assert engine.context_problems(200_000, 131072, 1000, 100)
    assert engine.context_problems(1000, 131072, 1000, 100)
    assert engine.context_problems(4096, 131072, 1000, 100) == []


# --- the command --------------------------------------------------------------------------------
def test_serve_args_round_trip():
    args = engine.serve_args(
        served_model_name="m", tensor_parallel_size=8, pipeline_parallel_size=2, max_model_len=131072, max_num_seqs=64,
        max_num_batched_tokens=8192, gpu_memory_utilization=0.9, dtype="bfloat16", kv_cache_dtype="auto",
        revision="abc", quantization=None, allow_deprecated_quantization=True,
    )
    flags = engine.parse_serve_args(args)
    assert flags["--tensor-parallel-size"] == "8" and flags["--max-model-len"] == "131072"
    assert flags["--allow-deprecated-quantization"] is True and "--quantization" not in flags


# --- a catalog id names exactly one checkpoint ----------------------------------------------------
def test_405b_instruct_serves_the_instruct_repo():
    # the repository's own 405B stacks name llama-3.1-405b-instruct; it used to render the base repo
    from gpuforge.sizing.planner import plan_deployment
    from tests_support import spec_of

    assert resolve("llama-3.1-405b-instruct").hf_id == "meta-llama/Llama-3.1-405B-Instruct"
    assert resolve("llama-3.1-405b").hf_id == "meta-llama/Llama-3.1-405B"
    plan = plan_deployment(spec_of(model="llama-3.1-405b-instruct", I=2000, O=500, conc=16, ttft=10000, itl=100, families=["p5"], zone="us-east-1a")).to_plan()
    assert plan.serving.model == "meta-llama/Llama-3.1-405B-Instruct"


@pytest.mark.parametrize("qcfg, gpu, gemm", [
    (None, "h100-80gb", "bf16"),
    ({"quant_method": "fp8", "weight_block_size": [128, 128]}, "h100-80gb", "fp8"),
    ({"quant_method": "fp8", "weight_block_size": [128, 128]}, "a100-80gb", "bf16"),  # Marlin W8A16 below sm89
    ({"quant_method": "mxfp4"}, "b200", "bf16"),  # default MoE backends take bf16 activations
    ({"quant_method": "modelopt", "quantization": {"quant_algo": "NVFP4"}}, "b200", "fp4"),
    ({"quant_method": "modelopt", "quantization": {"quant_algo": "NVFP4"}}, "h100-80gb", "bf16"),
    ({"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True}, "h100-80gb", "bf16"),
])
def test_gemm_dtype_follows_the_scheme_and_the_gpu(qcfg, gpu, gemm):
    g = catalog.get_gpu(gpu)
    scheme = engine.quantization_scheme(qcfg)
    layout = engine.EngineLayout(g, 1, 1, scheme.precision if scheme else "bf16", "auto", "bfloat16", scheme)
    assert layout.gemm_dtype == gemm


def test_the_planner_predicts_with_the_engines_gemm_dtype():
    # gpt-oss on B200: vLLM 0.19.0's default MXFP4 MoE backends take bf16 activations, so the
    # planner's prediction is the bf16-GEMM one, not what fp8 inputs would give
    from dataclasses import replace

    from gpuforge.sizing import planner
    from gpuforge.sizing.performance import Layout, Workload, predict
    from tests_support import spec_of

    spec = spec_of(model="gpt-oss-120b", I=4000, O=500, conc=32, ttft=5000, itl=200, families=["p6-b200"])
    r = planner.plan_deployment(spec)
    c = r.chosen.candidate
    inst, gpu = c.instance, catalog.get_gpu(c.instance.gpu)
    assert gpu.architecture == "blackwell"
    sized = planner._size(spec, r.model, c)
    base = Layout(gpu=gpu, tensor_parallel=c.tensor_parallel, pipeline_parallel=c.pipeline_parallel, quantization=planner.memory_quantization(c.precision),
                  kv_cache_dtype=c.kv_cache_dtype, gpus_per_node=inst.gpu_count, node_fabric=inst.node_fabric)
    work = Workload(spec.workload.input_tokens, spec.workload.output_tokens, concurrency=sized.per_replica)
    as_bf16 = predict(r.model, replace(base, compute_dtype="bf16"), work, sized.memory)
    as_fp8 = predict(r.model, replace(base, compute_dtype="fp8"), work, sized.memory)
    assert sized.performance is not None
    assert sized.performance.ttft_ms == as_bf16.ttft_ms != as_fp8.ttft_ms


def test_an_explicit_quantization_keeps_the_plain_gptq_and_awq_kernels():
    """vLLM swaps GPTQ / AWQ checkpoints Marlin can serve onto Marlin only when the run names
    no --quantization or names Marlin; `--quantization gptq` / `awq` keeps the plain kernel
    (0.19.0 quantization/gptq_marlin.py:219-238, awq_marlin.py:236-237)."""
    from gpuforge.engine.vllm import quantization_scheme

    gptq = {"quant_method": "gptq", "bits": 4, "group_size": 128, "sym": True, "desc_act": False}
    awq = {"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True}
    assert quantization_scheme(gptq).method == "gptq_marlin"
    assert quantization_scheme(gptq, requested="gptq_marlin").method == "gptq_marlin"
    assert quantization_scheme(gptq, requested="gptq").method == "gptq"
    assert quantization_scheme(awq).method == "awq_marlin"
    assert quantization_scheme(awq, requested="awq").method == "awq"

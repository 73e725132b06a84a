"""Mechanisms of the performance model added for issue 14 (each would break on the model
before them; none depends on a fitted value being right, only on its sign)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
from gpuforge import catalog
from gpuforge.sizing.memory import MemoryInputs, estimate_memory
from gpuforge.sizing.models import resolve
from gpuforge.sizing.performance import (
    Layout,
    StepModel,
    Workload,
    fp8_block_scaled,
    load_params,
    predict,
    sixteen_bit_bytes,
)

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO.parent / "shared" / "reference" / "perf-corpus" / "model_configs.json"
H100, B200 = catalog.get_gpu("h100-80gb"), catalog.get_gpu("b200")
needs_corpus = pytest.mark.skipif(not CONFIGS.exists(), reason="../shared/reference/perf-corpus not present")


def _config(key: str) -> dict:
    return dict(json.loads(CONFIGS.read_text())["models"][key]["fields"])


def test_token_budget_caps_the_running_batch():
    # dstack's 405B runs used max_num_batched_tokens 512: with every slot decoding, no prompt
    # fits, so the steady state holds the batch whose replacements' prompts still fit
    m = resolve("llama-3.1-8b-instruct")
    mem = estimate_memory(m.arch, H100, MemoryInputs(max_model_len=4096, max_num_seqs=512, max_num_batched_tokens=512))
    p = predict(m, Layout(gpu=H100), Workload(215, 121, request_rate=1000.0, num_requests=1000), mem)
    assert p.concurrency <= 512 * 121 / (215 + 121) + 1e-6
    assert p.output_tokens_per_s > 1000  # was ~0: the budget left no room for prompts
    assert p.limited_by == "token-budget"


def test_router_imbalance_touches_fewer_experts_than_uniform_routing():
    m = resolve("qwen3-30b-a3b")
    mem = estimate_memory(m.arch, H100, MemoryInputs(max_model_len=4096))
    sm = StepModel(m, Layout(gpu=H100), mem)
    e, k = m.arch.num_experts, m.arch.experts_per_token
    uniform = lambda n: 1 - (1 - k / e) ** n  # noqa: E731
    assert load_params().glob["route_skew"] > 0
    assert sm.touched(1) == pytest.approx(k / e, rel=0.02)
    assert sm.touched(32) < uniform(32) - 0.02
    assert sm.touched(8192) > 0.99 and sm.touched(64) < sm.touched(256)


@needs_corpus
def test_ignore_listed_modules_stream_at_the_16_bit_rate():
    cfg = _config("nvidia/MiniMax-M2.5-NVFP4")
    assert any("self_attn" in x for x in cfg["quantization_config"]["ignore"])
    plain = json.loads(json.dumps(cfg))
    plain["quantization_config"]["ignore"] = ["lm_head"]
    times = []
    for c in (cfg, plain):
        m = resolve("nvidia/MiniMax-M2.5-NVFP4", config=c)
        mem = estimate_memory(m.arch, B200, MemoryInputs(tensor_parallel=2, max_model_len=4096, quantization="nvfp4"))
        sm = StepModel(m, Layout(gpu=B200, tensor_parallel=2, quantization="nvfp4"), mem)
        times.append((sixteen_bit_bytes(m.arch, 2, "nvfp4"), sm.dense_s))
    (w16, kept), (w16_plain, quantized) = times
    assert w16 > 1e9 and w16_plain == 0
    assert kept > quantized  # more bytes, streamed at the 16-bit GEMM's rate


@needs_corpus
def test_block_fp8_checkpoints_run_the_block_kernels():
    block = resolve("Qwen/Qwen3-235B-A22B-FP8", config=_config("Qwen/Qwen3-235B-A22B-FP8"))
    online = resolve("llama-3.1-8b-instruct")
    assert fp8_block_scaled(block, Layout(gpu=H100, quantization="fp8"))
    assert not fp8_block_scaled(online, Layout(gpu=H100, quantization="fp8"))  # --quantization fp8 at load: per-tensor
    assert not fp8_block_scaled(block, Layout(gpu=H100, quantization="none"))


def test_replays_of_old_engines_pay_their_cpu_costs():
    m = resolve("llama-3.1-8b-instruct")
    mem = estimate_memory(m.arch, H100, MemoryInputs(max_model_len=4096))
    glob = load_params().glob
    v1 = StepModel(m, Layout(gpu=H100), mem)
    sync = StepModel(m, Layout(gpu=H100, engine_sync=True), mem)
    assert sync.step_s(32, 1000) - v1.step_s(32, 1000) == pytest.approx(glob["sync_step_ms"] * 1e-3 + 32 * glob["sync_seq_us"] * 1e-6)
    served = StepModel(m, Layout(gpu=H100, engine_v0=True), mem, streaming=True)
    offline = StepModel(m, Layout(gpu=H100, engine_v0=True), mem, streaming=False)
    assert served.step_s(32, 1000) - offline.step_s(32, 1000) == pytest.approx(32 * glob["v0_stream_us"] * 1e-6)
    # the planner's engine (vLLM 0.19.0) pays neither
    assert not Layout(gpu=H100).engine_sync and not Layout(gpu=H100).engine_v0


def test_per_gpu_gemv_efficiency_from_the_kernel_tables():
    # the same generation parameters; H100 SXM streams a larger share of its peak than H200
    # in AIConfigurator's measured GEMVs (0.79 vs 0.74), so decode is not 4.8 / 3.35 faster
    m = resolve("llama-3.1-8b-instruct")
    h200 = catalog.get_gpu("h200")
    a = run_itl(m, H100)
    b = run_itl(m, h200)
    assert a / b < h200.memory_bandwidth_gbs / H100.memory_bandwidth_gbs * 0.97
    assert math.isfinite(a) and math.isfinite(b)
    same_bw = dataclasses.replace(h200, id="h200-copy")  # no kernel table: generation mean
    assert run_itl(m, same_bw) < b


def run_itl(m, gpu) -> float:
    mem = estimate_memory(m.arch, gpu, MemoryInputs(max_model_len=4096))
    return StepModel(m, Layout(gpu=gpu), mem).step_s(1, 1000)


def test_geforce_all_reduce_goes_through_host_memory():
    # GeForce boards have PCIe peer-to-peer disabled (NCCL's SHM transport, no custom
    # all-reduce): the same card with P2P reduces faster at the same PCIe link
    from gpuforge.sizing.calibration import CORPUS_STAND_INS

    geforce = CORPUS_STAND_INS["RTX 4090 (PCIe proxy)"]
    p2p = dataclasses.replace(geforce, id="rtx-4090-p2p", name="NVIDIA RTX 4090 (P2P)")
    glob = load_params().glob
    assert glob["pcie_host_eff"] < glob["pcie_eff"]
    m = resolve("llama-3.1-8b-instruct")
    mem = estimate_memory(m.arch, geforce, MemoryInputs(tensor_parallel=2, max_model_len=4096))
    host = StepModel(m, Layout(gpu=geforce, tensor_parallel=2), mem)
    peer = StepModel(m, Layout(gpu=p2p, tensor_parallel=2), mem)
    assert host.comm_per_tok > peer.comm_per_tok


@needs_corpus
def test_a_run_with_vllm_use_v1_0_replays_as_the_v0_engine():
    """vLLM 0.8-0.10 run the V0 engine under VLLM_USE_V1=0 whatever the release number
    (vllm 0.9.2 engine/arg_utils.py:1069-1075); the replay must follow the env, not the number."""
    from gpuforge.sizing.calibration import corpus_case, predict_case, states_v0_engine

    configs = json.loads(CONFIGS.read_text())["models"]
    row = {
        "point_id": "t", "setup": "t", "source": {"repo": "t"}, "engine": "vllm", "vllm_version": "0.9.2",
        "model_id": "meta-llama/Llama-3.1-8B-Instruct", "weight_precision": "bf16", "kv_cache_dtype": None,
        "gpu_type": "H100-SXM", "gpu_count": 1, "tensor_parallel_size": 1, "pipeline_parallel_size": 1,
        "workload": {"input_tokens": 512, "output_tokens": 256, "concurrency": 1},
        "metrics": {"mean_tpot_ms": 7.0, "mean_ttft_ms": 30.0}, "quality": "B",
    }
    v1 = corpus_case(row, configs)
    v0 = corpus_case({**row, "serve_env": {"VLLM_USE_V1": "0"}}, configs)
    assert not isinstance(v1, str) and not isinstance(v0, str)
    assert not states_v0_engine(row) and states_v0_engine({**row, "serve_env": {"VLLM_USE_V1": "0"}})
    assert v1.layout.engine_sync and not v1.layout.engine_v0
    assert v0.layout.engine_v0
    assert predict_case(v0)["itl"] > predict_case(v1)["itl"]
    assert not states_v0_engine({**row, "serve_env": {"VLLM_USE_V1": "1"}})


def test_v0_without_chunked_prefill_keeps_a_fixed_length_closed_loop_in_lockstep():
    """V0 without chunked prefill schedules no decode while a prompt is scheduled (vllm 0.7.3
    vllm/core/scheduler.py:1240-1244) and packs whole prompts into the token budget (:1148,
    :74). A closed loop whose requests all have the same lengths therefore runs in waves: the
    users' prompts are prefilled together, they decode in step, finish at the same step and
    send again together, every round. TTFT is the wave's prefill queue, so it grows with the
    number of users (dstack's DeepSeek-R1 runs on 8x MI300X: 1.3 s at 4 users, 23 s at 128),
    where a chunked-prefill engine serves one prompt at a time as users finish at random."""
    from gpuforge.sizing.performance import _prefill_steps

    m = resolve("llama-3.1-8b-instruct")
    mem = estimate_memory(m.arch, H100, MemoryInputs(max_model_len=32768, max_num_seqs=256, max_num_batched_tokens=32768))
    v0 = Layout(gpu=H100, engine_v0=True, chunked_prefill=False)
    sm = StepModel(m, v0, mem)
    sizes, ends = _prefill_steps(sm, 16, 3200, 32768)
    assert sizes == [10, 6]  # 10 x 3200 tokens fit 32768, the 11th does not
    assert ends[0] == pytest.approx(sm.step_s(0, 0, 32000, 1600))

    def closed(layout: Layout, users: int, fixed: bool = True):
        return predict(m, layout, Workload(3200, 800, concurrency=users, rounds=30.0, fixed_lengths=fixed), mem)

    small, large = closed(v0, 4), closed(v0, 64)
    # every round is a wave: mean TTFT is the mean end of the prompts' prefill steps
    assert small.ttft_ms - load_params().glob["request_ms"] == pytest.approx(sm.step_s(0, 0, 12800, 1600) * 1e3, rel=1e-6)
    assert large.ttft_ms > 5 * small.ttft_ms
    assert large.ttft_p95_ms >= large.ttft_median_ms
    # the median user waits for the step that holds the 32nd prompt (the 4th of 7 steps)
    steps = _prefill_steps(sm, 64, 3200, 32768)[1]
    assert large.ttft_median_ms - load_params().glob["request_ms"] == pytest.approx(steps[3] * 1e3, rel=1e-6)
    # ITL: each request also waits out the prefill steps after its own before its second token
    assert large.itl_ms > large.decode_step_ms
    # the same users with random lengths, or on an engine that chunks prompts, are not in step
    assert closed(v0, 64, fixed=False).ttft_ms < large.ttft_ms / 3
    assert closed(Layout(gpu=H100, engine_v0=True), 64).ttft_ms < large.ttft_ms / 3


@needs_corpus
def test_the_replay_reads_the_serve_commands_max_model_len_and_chunking():
    """dstack's DeepSeek-R1 MI300X server ran `--max-model-len 32768` on a V0 build before MLA
    had chunked prefill (0.7.3 vllm/config.py:3327-3332 forced it off): whole prompts, up to
    32768 tokens a step (0.7.3 config.py:1536). The replay must read both."""
    from gpuforge.sizing.calibration import corpus_case

    configs = json.loads(CONFIGS.read_text())["models"]
    points = [json.loads(line) for line in (CONFIGS.parent / "points.jsonl").read_text().splitlines() if line.strip()]
    row = next(p for p in points if p["point_id"] == "dstack-dsr1-online-mi300x-vllm-random-in3200-out800-c16")
    case = corpus_case(row, configs)
    assert not isinstance(case, str)
    assert case.memory.max_num_batched_tokens == 32768
    assert case.layout.engine_v0 and not case.layout.chunked_prefill
    assert case.workload.fixed_lengths
    # the same point stating chunked prefill on a non-MLA model keeps it
    llama = dict(row, model_id="meta-llama/Llama-3.1-8B-Instruct", weight_precision="bf16", notes=row["notes"] + " --enable-chunked-prefill")
    case = corpus_case(llama, configs)
    assert not isinstance(case, str) and case.layout.chunked_prefill


def test_one_user_decodes_in_plain_steps():
    """TPOT is measured after the first token, and a request's own prompt is prefilled before
    that: with one user no other prompt shares its decode steps, so its ITL is the plain decode
    step however long its prompt; with more users their prompts share them ((users - 1) / users
    of the prompt work); Poisson arrivals keep arriving during a request's decode."""
    m = resolve("llama-3.1-8b-instruct")
    mem = estimate_memory(m.arch, H100, MemoryInputs(max_model_len=16384))
    one = predict(m, Layout(gpu=H100), Workload(8192, 64, concurrency=1), mem)
    assert one.itl_ms == pytest.approx(one.decode_step_ms, rel=1e-9)
    many = predict(m, Layout(gpu=H100), Workload(8192, 64, concurrency=16), mem)
    assert many.itl_ms > many.decode_step_ms * 1.2  # 15 other users' 8K prompts land in its steps
    light = predict(m, Layout(gpu=H100), Workload(8192, 64, request_rate=0.5), mem)
    assert light.itl_ms > light.decode_step_ms


@needs_corpus
def test_a_run_that_forces_quantization_gptq_replays_vllms_plain_gptq_kernel():
    """AccelMark's suite C passes quantization="gptq" for its W4A16 checkpoint, and its runner
    hands that to LLM() for offline runs only; vLLM then runs its plain GPTQ kernel instead of
    Marlin (0.7.3 gptq_marlin.py:146-151), which above 50 rows rebuilds fp16 weights for cuBLAS
    (csrc/quantization/gptq/q_gemm.cu). A large batch then streams more bytes than 16-bit
    weights; one row reads the 4-bit weights once. Marlin (the online runs, vLLM's own choice)
    streams 4-bit weights at every batch."""
    from gpuforge.sizing.calibration import corpus_case, dataset_lengths, forces_plain_gptq
    from gpuforge.sizing.performance import _draining_decode_s

    configs = json.loads(CONFIGS.read_text())["models"]
    points = {json.loads(line)["point_id"]: json.loads(line) for line in (CONFIGS.parent / "points.jsonl").read_text().splitlines() if line.strip()}
    offline = points["accelmark-nvidia_h200x1_suite_C_nvidia_vllm_47f5d58e_f07c60f8-w4a16-offline-c16"]
    online = points["accelmark-nvidia_h200x1_suite_C_nvidia_vllm_47f5d58e_f07c60f8-w4a16-online-qps10"]
    assert forces_plain_gptq(offline) and not forces_plain_gptq(online)
    assert not forces_plain_gptq(points["accelmark-nvidia_h200x1_suite_C_nvidia_vllm_47f5d58e_f07c60f8-fp8-offline-c16"])
    case = corpus_case(offline, configs, dataset_lengths(list(points.values())))
    assert not isinstance(case, str) and case.layout.gptq_plain and case.layout.quantization == "int4-gptq"

    m = resolve("llama-3.1-8b-instruct")
    w4_mem = estimate_memory(m.arch, H100, MemoryInputs(max_model_len=4096, quantization="int4-gptq"))
    plain = StepModel(m, Layout(gpu=H100, quantization="int4-gptq", gptq_plain=True), w4_mem)
    marlin = StepModel(m, Layout(gpu=H100, quantization="int4-gptq"), w4_mem)
    bf16 = StepModel(m, Layout(gpu=H100), estimate_memory(m.arch, H100, MemoryInputs(max_model_len=4096)))
    assert plain.step_s(1, 500) < bf16.step_s(1, 500)  # the exllama kernel reads 4-bit weights
    assert marlin.step_s(1, 500) < bf16.step_s(1, 500)  # so does Marlin (qbw_int4 > 1/4)
    assert plain.step_s(64, 500) > bf16.step_s(64, 500)  # rebuilt fp16 weights: read 4-bit, write and read 16-bit
    # a burst drains below 50 rows as its sequences finish: the mean batch alone would price
    # every step at the rebuild
    assert _draining_decode_s(plain, 100, 310, 512, 450) < 511 * plain.step_s(100 * 310 / 512, 450)


@needs_corpus
def test_v0_runs_the_mla_module_un_compiled():
    # V0 does not torch.compile the model, so each MLA layer pays the un-compiled attention
    # module's fixed cost that AIConfigurator measured (~65 us on H100 / H200 at batch 1);
    # V1 and dense models do not, and GPUs without a measured module table get nothing
    from gpuforge.sizing.performance import kernel_tables, mla_module_fixed_s

    h200 = catalog.get_gpu("h200")
    assert mla_module_fixed_s("h200") == pytest.approx(kernel_tables()["systems"]["h200_sxm"]["mla_module"]["fixed_us"] * 1e-6)
    assert 40e-6 < mla_module_fixed_s("h200") < 90e-6
    assert mla_module_fixed_s("mi300x") is None and mla_module_fixed_s("rtx-6000-ada") is None

    def v0_extra(m, q=None):
        mem = estimate_memory(m.arch, h200, MemoryInputs(tensor_parallel=8, max_model_len=4096, quantization=q))
        v0 = StepModel(m, Layout(gpu=h200, tensor_parallel=8, quantization=q or "none", engine_v0=True), mem)
        v1 = StepModel(m, Layout(gpu=h200, tensor_parallel=8, quantization=q or "none"), mem)
        return v0.fixed - v1.fixed, v0.n_layers

    ds = resolve("deepseek-ai/DeepSeek-R1", config=_config("deepseek-ai/DeepSeek-R1"))
    mla_extra, layers = v0_extra(ds, "fp8")
    dense_extra, _ = v0_extra(resolve("llama-3.1-8b-instruct"))
    assert mla_extra - dense_extra == pytest.approx(layers * mla_module_fixed_s("h200"))


def test_marlin_moe_does_not_speed_up_with_hbm_bandwidth():
    # AIConfigurator measured vLLM's Marlin fused MoE at about the same absolute speed on H100,
    # H200 and B200, so a B200 decodes 4-bit experts barely faster than an H200 although its
    # HBM is 1.7x faster; GPUs without a table keep the fitted rate
    from gpuforge.sizing.performance import kernel_tables, marlin_moe_relative

    params = load_params()
    systems = kernel_tables()["systems"]
    eff = {s: systems[s]["marlin_moe"]["stream_eff"] for s in ("h100_sxm", "h200_sxm", "b200_sxm")}
    assert eff["b200_sxm"] < eff["h200_sxm"] < eff["h100_sxm"]
    assert marlin_moe_relative("b200", params) < marlin_moe_relative("h200", params) < marlin_moe_relative("h100-80gb", params)
    assert marlin_moe_relative("mi300x", params) == 1.0 and marlin_moe_relative("rtx-6000-ada", params) == 1.0

    h200 = catalog.get_gpu("h200")

    def moe_rate(gpu, q):
        mm = resolve("mixtral-8x7b-instruct")
        mem = estimate_memory(mm.arch, gpu, MemoryInputs(tensor_parallel=2, max_model_len=4096, quantization=q))
        return 1 / StepModel(mm, Layout(gpu=gpu, tensor_parallel=2, quantization=q), mem).inv_bw_w

    # 4-bit experts: B200 over H200 well below the HBM ratio; 16-bit experts: the GEMV scaling
    int4 = moe_rate(B200, "int4-gptq") / moe_rate(h200, "int4-gptq")
    bf16 = moe_rate(B200, "none") / moe_rate(h200, "none")
    assert int4 < 0.7 * bf16


class _FlatSteps:
    """A step costs 10 ms plus 1 ms per prompt token, whatever decodes in it: the scheduler's
    rules can be followed by hand."""

    def step_s(self, decode: float, context: float, prefill: float = 0.0, span: float = 0.0) -> float:
        return 0.010 + 0.001 * prefill


def test_finite_run_v0_prefills_whole_prompts_and_stalls_decodes():
    # the first prompt arrives alone (110 ms step); then two of the next three fit the
    # 200-token budget (210 ms), then the last (110 ms); nobody decodes in a prefill step
    # (vllm 0.7.3 _schedule_default); then two decode steps of 10 ms for all four
    from gpuforge.sizing.performance import _finite_run

    r = _finite_run(_FlatSteps(), 4, 1e9, 100, 3, 200, 256, 1e9, whole_prompts=True)
    assert r.ttft_mean == pytest.approx((0.11 + 0.32 + 0.32 + 0.43) / 4, abs=1e-6)
    assert r.ttft_median == pytest.approx(0.32, abs=1e-6)
    assert r.makespan == pytest.approx(0.45, abs=1e-6)
    # the first waits out both later prefill steps before its second token
    assert r.tpot_mean == pytest.approx(((0.45 - 0.11) / 2 + 2 * (0.45 - 0.32) / 2 + (0.45 - 0.43) / 2) / 4, abs=1e-6)


def test_finite_run_v1_decodes_first_and_fills_the_budget_left():
    # chunked: the first prompt alone (110 ms); then the first decodes while 199 prompt tokens
    # fill the budget left (209 ms: 1.99 requests, a fluid); then the 2.99 running decode while
    # the 101 tokens still waiting run (111 ms): the first has its 3 tokens and is done
    from gpuforge.sizing.performance import _finite_run

    r = _finite_run(_FlatSteps(), 4, 1e9, 100, 3, 200, 256, 1e9, whole_prompts=False)
    t1, t2, t3 = 0.11, 0.11 + 0.209, 0.11 + 0.209 + 0.111
    assert r.ttft_mean == pytest.approx((t1 + 1.99 * t2 + 1.01 * t3) / 4, abs=1e-6)
    # the second batch needs one decode step more, the last two
    assert r.makespan == pytest.approx(t3 + 0.02, abs=1e-6)
    assert r.tpot_mean == pytest.approx(((t3 - t1) / 2 + 1.99 * (t3 + 0.01 - t2) / 2 + 1.01 * (t3 + 0.02 - t3) / 2) / 4, abs=1e-6)


def test_finite_run_admits_by_the_prompt_and_preempts_when_the_cache_runs_out():
    # a cache of 320 tokens holds two requests of 100 + 50 tokens in full but admits all three
    # prompts at once; when their growth no longer fits, the last admitted is preempted and
    # recomputes prompt and output so far (0.19.0 scheduler.py:500, :976): it finishes last,
    # its tokens come slower
    from gpuforge.sizing.performance import _finite_run

    roomy = _finite_run(_FlatSteps(), 3, 1e9, 100, 50, 1000, 256, 1e9, whole_prompts=False)
    tight = _finite_run(_FlatSteps(), 3, 1e9, 100, 50, 1000, 256, 320, whole_prompts=False)
    assert tight.ttft_p95 == pytest.approx(roomy.ttft_p95) and tight.ttft_p95 < 0.35  # not held back to full-length slots
    assert tight.makespan > roomy.makespan + 0.1  # the recompute: another 100+ token prefill
    assert tight.tpot_mean > roomy.tpot_mean
    # V0 keeps 1% of the cache free when it admits (0.7.3 block_manager.py:143) and takes
    # whole prompts: 201.5 tokens hold the first request (101) and a second prompt (100) but
    # not with 2 kept free, so the second waits for the first to finish (0.6 s)
    v0_roomy = _finite_run(_FlatSteps(), 2, 1e9, 100, 50, 1000, 256, 1e9, whole_prompts=True)
    v0 = _finite_run(_FlatSteps(), 2, 1e9, 100, 50, 1000, 256, 201.5, whole_prompts=True)
    assert v0_roomy.ttft_mean == pytest.approx((0.11 + 0.22) / 2, abs=1e-6)
    assert v0.ttft_mean == pytest.approx((0.11 + 0.11 + 49 * 0.01 + 0.11) / 2, abs=1e-6)


@needs_corpus
def test_an_overloaded_finite_run_never_holds_more_than_its_requests():
    # AccelMark's 70B on 8x RTX A6000 at 5-25 requests/s: 200 requests in all. The steady-state
    # model put 512 sequences (max_num_seqs) in the batch and predicted 470 ms a token against
    # 138 measured; a replay holds at most the requests the run has
    m = resolve("meta-llama/Meta-Llama-3-70B-Instruct", config=_config("meta-llama/Meta-Llama-3-70B-Instruct"))
    gpu = catalog.get_gpu("l40s")
    mem = estimate_memory(m.arch, gpu, MemoryInputs(tensor_parallel=8, max_model_len=4096, max_num_seqs=512))
    lay = Layout(gpu=gpu, tensor_parallel=8, engine_v0=True, chunked_prefill=False)
    p = predict(m, lay, Workload(280, 310, request_rate=25.0, num_requests=200), mem)
    assert p.concurrency <= 200
    steady = predict(m, lay, Workload(280, 310, request_rate=25.0), mem)
    assert math.isinf(steady.ttft_ms)  # no end to the queue without a finite run
    assert p.itl_ms < predict(m, lay, Workload(280, 310, concurrency=512), mem).itl_ms

"""The memory estimator: vLLM's rules on architectures the dev set lacks, and the logged cases."""

from __future__ import annotations

import json
import statistics

import pytest
from gpuforge import catalog
from gpuforge.sizing.architecture import parse_config
from gpuforge.sizing.calibration import run_cases
from gpuforge.sizing.memory import (
    MemoryInputs,
    estimate_memory,
    kv_heads_per_gpu,
    page_size_bytes,
    stage_layers,
)
from gpuforge.sizing.models import resolve

H100 = catalog.get_gpu("h100-80gb")
H200 = catalog.get_gpu("h200")

LLAMA8B = {
    "model_type": "llama", "num_hidden_layers": 32, "hidden_size": 4096, "num_attention_heads": 32,
    "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256,
    "max_position_embeddings": 131072, "torch_dtype": "bfloat16", "tie_word_embeddings": False,
}


def est(cfg, gpu=H100, **kw):
    return estimate_memory(parse_config(cfg), gpu, MemoryInputs(**kw))


# ---- the logged start-ups -------------------------------------------------------------------

def _cases(shared_dir):
    rows = [json.loads(l) for l in (shared_dir / "reference/vllm-startup-logs/cases.jsonl").read_text().splitlines() if l.strip()]
    return run_cases(rows)


def test_cases_within_bounds(shared_dir):
    results, skipped = _cases(shared_dir)
    assert len(results) >= 30, f"too few usable rows: {len(results)}; skipped {[(r['row'], w) for r, w in skipped]}"
    # a row is left out only for what the log lacks or its version, never because sizing cannot
    # read the model (the RedHatAI w8a8 rows were lost that way when the catalog stopped
    # folding quantized repos into 16-bit rows)
    assert not [r["row"] for r, why in skipped if "architecture" in why], skipped
    for r in results:
        assert abs(r.weights_error) <= 0.01, f"row {r.row} {r.model_id}: weights {r.weights_est} vs {r.weights_logged}"
    errs = [abs(r.tokens_error) for r in results]
    assert statistics.median(errs) <= 0.03
    worst = max(results, key=lambda r: abs(r.tokens_error))
    assert abs(worst.tokens_error) <= 0.10, f"row {worst.row}: {worst.tokens_est} vs {worst.tokens_logged}"


# ---- vLLM's rules ---------------------------------------------------------------------------

def test_kv_heads_replicate_when_tp_exceeds_them():
    arch = parse_config(LLAMA8B)
    assert kv_heads_per_gpu(arch, 4) == 2
    assert kv_heads_per_gpu(arch, 8) == 1
    assert kv_heads_per_gpu(arch, 16) == 1  # replicated, never fewer than one
    # the per-GPU page stops shrinking at TP=8 (8 KV heads)
    assert page_size_bytes(arch, 8, 16, 2) == page_size_bytes(arch, 16, 16, 2) == 2 * 16 * 1 * 128 * 2


def test_fp8_kv_halves_bytes_per_token_and_doubles_tokens():
    a = est(LLAMA8B, max_model_len=8192, gpu_memory_utilization=0.95)
    b = est(LLAMA8B, max_model_len=8192, gpu_memory_utilization=0.95, kv_cache_dtype="fp8")
    assert b.kv_bytes_per_token * 2 == a.kv_bytes_per_token == 131072
    assert abs(b.kv_cache_tokens / a.kv_cache_tokens - 2) < 0.001


def test_pp_split_matches_vllm_get_pp_indices():
    # 80 layers / 3 stages: the remainder goes to the stages before the last
    assert [len(r) for r in stage_layers(80, 3)] == [26, 27, 27] or [len(r) for r in stage_layers(80, 3)] == [27, 27, 26]
    assert [len(r) for r in stage_layers(80, 3)] == [27, 27, 26]
    assert [len(r) for r in stage_layers(32, 4)] == [8, 8, 8, 8]


def test_mla_cache_is_latent_and_not_split_by_tp():
    ds = resolve("deepseek-v3")
    assert ds.arch.is_mla
    page = page_size_bytes(ds.arch, 8, 16, 2)
    assert page == 16 * (512 + 64) * 2  # kv_lora_rank + qk_rope_head_dim, bf16
    assert page_size_bytes(ds.arch, 1, 16, 2) == page  # every TP rank keeps the whole latent
    e = estimate_memory(ds.arch, H200, MemoryInputs(tensor_parallel=8, max_model_len=32768, quantization="fp8", gpu_memory_utilization=0.9))
    assert e.kv_bytes_per_token == 61 * 576 * 2
    # 671B at fp8 over 8 GPUs: ~80 GiB each
    assert 75 < e.weights_gib < 90
    assert e.fits


def test_moe_weights_count_all_experts_but_activate_few():
    q = resolve("qwen3-30b-a3b")
    assert q.arch.is_moe and q.arch.num_experts == 128 and q.arch.experts_per_token == 8
    assert abs(q.arch.params_total - q.params_total) / q.params_total < 0.01
    assert abs(q.arch.params_active - q.params_active) / q.params_active < 0.05
    e = estimate_memory(q.arch, H100, MemoryInputs(max_model_len=32768))
    assert 55 < e.weights_gib < 59  # ~30.5B params in bf16


def test_sliding_window_hybrid_groups_and_concurrency():
    g = resolve("gemma-3-27b-it")
    kinds = {la.kind for la in g.arch.layers}
    assert kinds == {"full", "sliding"}
    e = estimate_memory(g.arch, H100, MemoryInputs(tensor_parallel=2, max_model_len=32768, gpu_memory_utilization=0.9))
    # 52 sliding + 10 full layers: group size 10 -> 6 sliding groups + 1 full group
    assert e.kv_cache_groups == 7
    # a request needs full blocks only in the full group, a window's worth in the others
    full_blocks = 32768 // 16
    assert e.blocks_per_request < 7 * full_blocks
    assert e.blocks_per_request > full_blocks


def test_gpt_oss_alternates_sliding_and_full_and_is_mxfp4():
    m = resolve("gpt-oss-120b")
    assert m.checkpoint_precision == "mxfp4"
    assert sum(la.kind == "sliding" for la in m.arch.layers) == sum(la.kind == "full" for la in m.arch.layers)
    e = estimate_memory(m.arch, H100, MemoryInputs(max_model_len=32768, quantization="mxfp4", gpu_memory_utilization=0.9))
    assert 60 < e.weights_gib < 68  # published: the checkpoint fits one 80 GB GPU
    assert e.kv_cache_groups == 2
    assert e.fits


def test_llama4_chunked_local_attention():
    m = resolve("llama-4-scout-17b-16e-instruct")
    kinds = [la.kind for la in m.arch.layers]
    assert kinds.count("chunked") == 3 * kinds.count("full")


def test_does_not_fit_says_by_how_much_and_which_knob():
    e = est(dict(LLAMA8B, num_hidden_layers=80, hidden_size=8192, num_attention_heads=64, intermediate_size=28672), max_model_len=8192)
    assert not e.fits
    assert "exceed" in e.problems[0]
    assert any("tensor-parallel" in f for f in e.fixes)
    long_ctx = est(LLAMA8B, gpu=catalog.get_gpu("l4"), max_model_len=131072)
    assert not long_ctx.fits and any("max-model-len" in f for f in long_ctx.fixes)


def test_quantized_weights_keep_embeddings_in_16_bit():
    bf16 = est(LLAMA8B, max_model_len=4096)
    fp8 = est(LLAMA8B, max_model_len=4096, quantization="fp8")
    int4 = est(LLAMA8B, max_model_len=4096, quantization="int4-awq")
    embed_and_head = 2 * 128256 * 4096 * 2 / 2**30
    # linear layers halve, embeddings do not
    assert fp8.weights_gib == pytest.approx((bf16.weights_gib - embed_and_head) / 2 + embed_and_head, rel=0.01)
    assert int4.weights_gib < fp8.weights_gib


def test_tied_embeddings_are_counted_once():
    tied = est(dict(LLAMA8B, tie_word_embeddings=True), max_model_len=4096)
    untied = est(LLAMA8B, max_model_len=4096)
    assert untied.weights_gib - tied.weights_gib == pytest.approx(128256 * 4096 * 2 / 2**30, rel=0.01)


@pytest.mark.parametrize("model_id", [m.id for m in catalog.all_models()])
def test_every_catalog_model_parses_and_counts_its_parameters(model_id):
    # the architecture formulas reproduce the catalog's exact parameter counts
    m = resolve(model_id)
    assert m.arch.params_total == pytest.approx(m.params_total, rel=0.005)
    e = estimate_memory(m.arch, catalog.get_gpu("h200"), MemoryInputs(tensor_parallel=8, max_model_len=4096, quantization=m.checkpoint_precision if m.checkpoint_precision not in ("bf16", "fp16") else "none"))
    assert e.weights_gib > 0 and e.kv_bytes_per_token > 0

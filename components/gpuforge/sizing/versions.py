"""The vLLM version gpuforge sizes for and serves, and every constant that depends on it.

The memory estimator is faithful to one pinned vLLM release; the serving image runs that same
release (`gpuforge.k8s.versions`). Upgrading vLLM means adding a row to `ENGINE_CONSTANTS`,
re-running `python bench/accuracy.py` and checking docs/accuracy.md.
"""

from __future__ import annotations

from dataclasses import dataclass

# Chosen 2026-11-21: the release the calibration logs in ../shared/reference/vllm-startup-logs
# were taken with (llm-d-planner accuracy campaign, vLLM 0.19.0, V1 engine).
VLLM_VERSION = "0.19.0"

GIB = 1 << 30


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

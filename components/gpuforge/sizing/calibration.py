"""Compare the estimators with measured vLLM start-ups and throughput points.

Pure functions over rows in the format of `../shared/reference/vllm-startup-logs/*.jsonl`
(callers read the files). Used by the tests (bounds) and by `bench/accuracy.py`, which
writes docs/accuracy.md.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from typing import Any

from gpuforge import catalog
from gpuforge.sizing.memory import MemoryEstimate, MemoryInputs, estimate_memory
from gpuforge.sizing.models import ResolvedModel, resolve
from gpuforge.sizing.versions import VLLM_VERSION

_GPU_PATTERNS = [
    (r"H200", "h200"),
    (r"H100 NVL", "h100-nvl-94gb"),
    (r"H100", "h100-80gb"),
    (r"A100.*80", "a100-80gb"),
    (r"A100.*40", "a100-40gb"),
    (r"L40S", "l40s"),
    (r"\bL4\b", "l4"),
    (r"A10G", "a10g"),
    (r"\bA10\b", "a10"),
    (r"\bT4\b", "t4"),
    (r"B200", "b200"),
    (r"MI300X", "mi300x"),
]


def gpu_id_of(text: str | None) -> str | None:
    """Catalog GPU id for a free-text GPU name ("NVIDIA H100 80GB (HBM3)" -> h100-80gb)."""
    for pat, gid in _GPU_PATTERNS:
        if text and re.search(pat, text):
            return gid
    return None


def quantization_of(row: dict[str, Any], model: ResolvedModel) -> str:
    q = row.get("quantization")
    if not q:
        return "none"
    if q == "fp8":
        return "fp8"
    if q in ("gptq_marlin", "gptq"):
        return "int4-gptq"
    if q in ("awq", "awq_marlin"):
        return "int4-awq"
    if model.checkpoint_precision not in ("bf16", "fp16"):
        return model.checkpoint_precision
    mid = row["model_id"].lower()
    if "w8a8" in mid:
        return "int8"
    if "w4a16" in mid:
        return "int4-gptq"
    return "fp8"


@dataclass
class CaseResult:
    row: int
    case_id: str
    model_id: str
    gpu: str
    tp: int
    pp: int
    quantization: str
    kv_cache_dtype: str
    max_model_len: int
    weights_logged: float
    weights_est: float
    tokens_logged: int
    tokens_est: int
    estimate: MemoryEstimate

    @property
    def weights_error(self) -> float:
        return (self.weights_est - self.weights_logged) / self.weights_logged

    @property
    def tokens_error(self) -> float:
        return (self.tokens_est - self.tokens_logged) / self.tokens_logged


def usable(row: dict[str, Any]) -> str | None:
    """None when the row can check the estimator, else why not."""
    logged = row.get("logged") or {}
    if "kv_cache_tokens" not in logged or "weights_gib" not in logged:
        return "no logged KV-cache tokens or weights"
    if row.get("engine") != "V1":
        return f"{row.get('engine')} engine (gpuforge models the V1 engine)"
    if gpu_id_of(row.get("gpu_type")) is None:
        return f"GPU {row.get('gpu_type')!r} is not in the catalog"
    if row.get("vllm_version") != VLLM_VERSION:
        return f"vLLM {row.get('vllm_version')} (the estimator is pinned to {VLLM_VERSION})"
    if _model(row) is None:
        return "architecture not in the catalog"
    return None


def _model(row: dict[str, Any]) -> ResolvedModel | None:
    for key in (row.get("model_id"), row.get("arch_config_key")):
        if key and catalog.find_model(key):
            return resolve(key)
    return None


def run_case(row: dict[str, Any]) -> CaseResult:
    model = _model(row)
    assert model is not None
    gpu = catalog.get_gpu(gpu_id_of(row["gpu_type"]) or "")
    quant = quantization_of(row, model)
    dtype = (row.get("dtype") or "auto").replace("torch.", "")
    inputs = MemoryInputs(
        tensor_parallel=row["tensor_parallel_size"],
        pipeline_parallel=row["pipeline_parallel_size"],
        max_model_len=row["max_model_len"],
        gpu_memory_utilization=row["gpu_memory_utilization"],
        dtype=dtype,
        quantization=quant,
        kv_cache_dtype=row.get("kv_cache_dtype") or "auto",
        block_size=row.get("block_size"),
    )
    est = estimate_memory(model.arch, gpu, inputs)
    return CaseResult(
        row=row["row"],
        case_id=row["case_id"],
        model_id=row["model_id"],
        gpu=gpu.id,
        tp=inputs.tensor_parallel,
        pp=inputs.pipeline_parallel,
        quantization=quant,
        kv_cache_dtype=inputs.kv_cache_dtype,
        max_model_len=inputs.max_model_len or 0,
        weights_logged=row["logged"]["weights_gib"],
        weights_est=est.weights_gib,
        tokens_logged=row["logged"]["kv_cache_tokens"],
        tokens_est=est.kv_cache_tokens,
        estimate=est,
    )


def run_cases(rows: list[dict[str, Any]]) -> tuple[list[CaseResult], list[tuple[dict[str, Any], str]]]:
    results, skipped = [], []
    for row in rows:
        why = usable(row)
        if why:
            skipped.append((row, why))
        else:
            results.append(run_case(row))
    return results, skipped


def summarize(results: list[CaseResult]) -> dict[str, float]:
    tok = [abs(r.tokens_error) for r in results]
    w = [abs(r.weights_error) for r in results]
    return {
        "rows": len(results),
        "tokens_median_abs_error": statistics.median(tok),
        "tokens_max_abs_error": max(tok),
        "weights_max_abs_error": max(w),
    }

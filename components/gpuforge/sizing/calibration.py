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
from gpuforge.engine.vllm import quantization_scheme
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


# A third-party quantized checkpoint (RedHatAI / neuralmagic llm-compressor repos) keeps its base
# model's architecture and adds a quantization suffix to the name. The catalog does not fold such
# repos into 16-bit rows (a repo names one checkpoint), but a logged start-up states the
# quantization vLLM applied, so its memory can be checked against the base architecture.
_QUANT_SUFFIX = re.compile(r"-(quantized\.w\d+a\d+|fp8-dynamic|fp8)$", re.IGNORECASE)


def _model(row: dict[str, Any]) -> ResolvedModel | None:
    for key in (row.get("model_id"), row.get("arch_config_key")):
        if key and catalog.find_model(key):
            return resolve(key)
    name = str(row.get("model_id") or "").split("/")[-1]
    base = _QUANT_SUFFIX.sub("", name)
    if base != name and row.get("quantization"):
        for m in catalog.all_models():
            if m.hf_id.split("/")[-1].lower() == base.lower():
                return resolve(m.id)
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


# =============================================================================================
# The performance model against the public perf corpus (../shared/reference/perf-corpus)
# =============================================================================================
#
# `corpus_case(point, configs)` restates one measured point as the inputs `predict()` takes,
# following the corpus README's conventions ("Turn a point into an estimate"); it returns a
# reason string when the point cannot be restated. bench/fit_performance.py fits the
# parameters in data/perf_params.json on these cases; tests replay a few.

import math  # noqa: E402
from dataclasses import field, replace  # noqa: E402
from typing import Literal  # noqa: E402

from gpuforge.catalog import Gpu  # noqa: E402
from gpuforge.sizing.performance import (  # noqa: E402
    Layout,
    Performance,
    PerfParams,
    Workload,
    load_params,
    model_family,
    predict,
)

# corpus `gpu_type` -> catalog id
CORPUS_GPU_IDS = {
    "B200-SXM": "b200",
    "H200-SXM": "h200",
    "H200 (form factor unstated)": "h200",
    "H100-SXM": "h100-80gb",
    "H100 (form factor unstated)": "h100-80gb",
    "A100-SXM-80GB": "a100-80gb",
    "A100-80GB (form factor unstated)": "a100-80gb",
    "A100-SXM-40GB": "a100-40gb",
    "MI300X": "mi300x",
    "L4": "l4",
    "L40S": "l40s",
}


def _stand_in(id_: str, name: str, vendor: Literal["nvidia", "amd"], arch: str, mem: float, bw: float, bf16: float, fp8: float | None, int8: float | None, nvlink: float | None, pcie: float, note: str) -> Gpu:
    return Gpu(id=id_, name=name, vendor=vendor, architecture=arch, memory_gib=mem, memory_bandwidth_gbs=bw, bf16_tflops=bf16, fp8_tflops=fp8,
               int8_tops=int8, nvlink_gbs=nvlink, pcie_gbs=pcie, mig=False, sources=("vendor datasheet (not verified here; docs/accuracy-sources.md)",), notes=note)


# GPUs of the corpus that the planner's catalog does not sell. Used only to replay their
# measurements; figures are the vendors' datasheet numbers (dense tensor rates, fp32
# accumulate), memory as the driver would report it. See docs/accuracy-sources.md.
CORPUS_STAND_INS: dict[str, Gpu] = {
    "B300-SXM": _stand_in("b300", "NVIDIA B300 SXM", "nvidia", "blackwell", 268.0, 8000.0, 2250.0, 4500.0, 4500.0, 1800.0, 128.0, "288 GB HBM3e"),
    "MI325X": _stand_in("mi325x", "AMD Instinct MI325X", "amd", "cdna3", 255.5, 6000.0, 1307.0, 2614.0, 2614.0, 896.0, 128.0, "256 GB HBM3E"),
    "A800-SXM-80GB (A100 variant)": _stand_in("a800-80gb", "NVIDIA A800 SXM 80GB", "nvidia", "ampere", 79.25, 2039.0, 312.0, None, 624.0, 400.0, 64.0, "A100 with NVLink cut to 400 GB/s"),
    "RTX 4090 (PCIe proxy)": _stand_in("rtx-4090", "NVIDIA GeForce RTX 4090", "nvidia", "ada", 23.64, 1008.0, 165.2, 330.3, 660.6, None, 64.0, "GDDR6X, PCIe Gen4 x16"),
    "RTX A6000 (PCIe proxy)": _stand_in("rtx-a6000", "NVIDIA RTX A6000", "nvidia", "ampere", 47.54, 768.0, 154.8, None, 309.7, None, 64.0, "GDDR6, PCIe Gen4 x16"),
    "RTX 6000 Ada (PCIe, L40S proxy)": _stand_in("rtx-6000-ada", "NVIDIA RTX 6000 Ada", "nvidia", "ada", 47.5, 960.0, 364.2, 728.5, 728.5, None, 64.0, "GDDR6, PCIe Gen4 x16"),
}


def corpus_gpu(gpu_type: str) -> Gpu | None:
    if gpu_type in CORPUS_GPU_IDS:
        return catalog.get_gpu(CORPUS_GPU_IDS[gpu_type])
    return CORPUS_STAND_INS.get(gpu_type)


@dataclass
class PerfCase:
    """One measured point restated as predict() inputs, with what was measured."""

    point_id: str
    setup: str
    source: str
    grade: str
    model: ResolvedModel
    layout: Layout
    workload: Workload
    memory: MemoryEstimate
    replicas: int
    measured: dict[str, float]  # ttft / itl (ms), throughput (output tok/s, whole system)
    gpu_type: str
    model_id: str
    precision: str  # class: bf16 | fp8 | int8 | int4 | fp4
    regime: str  # batch-1 | closed | open | burst
    load: float  # per-replica concurrency (closed / burst) or in-flight estimate (open)
    ttft_stat: str = "mean"  # which TTFT statistic was measured
    notes: list[str] = field(default_factory=list)

    @property
    def family(self) -> str:
        return model_family(self.model.arch)

    @property
    def generation(self) -> str:
        return self.layout.gpu.architecture


def predict_case(case: PerfCase, params: PerfParams | None = None) -> dict[str, float]:
    """The model's figures for the metrics the case measured (same units as `measured`)."""
    work = case.workload
    if work.rounds is not None and work.rounds < 0:  # length unstated: the fitted typical run
        work = replace(work, rounds=(params or load_params()).glob["closed_rounds"])
    p: Performance = predict(case.model, case.layout, work, case.memory, params)
    out = {}
    for m in case.measured:
        if m == "ttft":
            out[m] = p.ttft_median_ms if case.ttft_stat == "median" else p.ttft_ms
        elif m == "itl":
            out[m] = p.itl_ms
        elif m == "throughput":
            out[m] = p.output_tokens_per_s * case.replicas
    return out


_NUM = r"([0-9]+(?:\.[0-9]+)?)"


def _lengths(pt: dict[str, Any], dataset_p50: dict[str, tuple[float, float]]) -> tuple[float, float] | None:
    w, m = pt["workload"], pt["metrics"]
    I, O = w.get("input_tokens"), w.get("output_tokens")
    ds = w.get("dataset") or ""
    if I is None or O is None:
        mi = re.search(r"input p50 " + _NUM, ds)
        mo = re.search(r"output p50 " + _NUM, ds)
        if mi and mo:
            I, O = I or float(mi.group(1)), O or float(mo.group(1))
    if I is None or O is None:
        name = re.search(r"dataset (\S+)", ds)
        if name and name.group(1) in dataset_p50:
            di, do = dataset_p50[name.group(1)]
            I, O = I or di, O or do
    if (I is None or O is None) and m.get("output_tok_s") and m.get("total_tok_s") and m.get("req_s"):
        O = O or m["output_tok_s"] / m["req_s"]
        I = I or (m["total_tok_s"] - m["output_tok_s"]) / m["req_s"]
    if I is None or O is None:
        return None
    return float(I), float(O)


def dataset_lengths(points: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """p50 prompt / output lengths per named dataset, from the points that state them."""
    out: dict[str, tuple[float, float]] = {}
    for pt in points:
        ds = pt["workload"].get("dataset") or ""
        name = re.search(r"dataset (\S+)", ds)
        mi, mo = re.search(r"input p50 " + _NUM, ds), re.search(r"output p50 " + _NUM, ds)
        if name and mi and mo:
            out.setdefault(name.group(1), (float(mi.group(1)), float(mo.group(1))))
    return out


def _weight_format(pt: dict[str, Any], model: ResolvedModel) -> tuple[str, str, str | None] | str:
    """(memory quantization, performance weight format, compute dtype override) or why not."""
    label = (pt.get("weight_precision") or "").lower()
    ckpt = model.checkpoint_precision
    if "gpt-oss" in pt["model_id"] or ckpt == "mxfp4" or "mxfp4" in label:
        return "mxfp4", "mxfp4", None
    if "nvfp4" in label:
        # NVFP4: 4-bit e2m1 + an fp8 scale per 16 (0.5625 B/param, sizing/memory.py)
        return "nvfp4", "nvfp4", None
    if "w8a16" in label:
        return "int8", "int8", "bf16"
    if "w8a8" in label or "int8" in label:
        return "int8", "int8", None
    if "awq" in label:
        return "int4-awq", "int4-awq", None
    if "w4a16" in label or "int4" in label or "gptq" in label or ckpt in ("int4-gptq", "int4-awq"):
        q = ckpt if ckpt in ("int4-gptq", "int4-awq") else "int4-gptq"
        return q, q, None
    if "fp8" in label or ckpt == "fp8":
        return "fp8", "fp8", None
    if ckpt not in ("bf16", "fp16", "fp8", "int8", "int4-gptq", "int4-awq", "mxfp4"):
        return f"checkpoint format {ckpt!r} not modelled"
    return "none", "none", None


_PREC_CLASS = {"none": "bf16", "fp8": "fp8", "int8": "int8", "int4-gptq": "int4", "int4-awq": "int4", "mxfp4": "fp4", "nvfp4": "fp4"}


def _version(pt: dict[str, Any]) -> tuple[int, int] | None:
    v = pt.get("vllm_version") or ""
    m = re.search(r"(\d+)\.(\d+)", v)
    return (int(m.group(1)), int(m.group(2))) if m else None


def states_v0_engine(pt: dict[str, Any]) -> bool:
    """The point's server ran with VLLM_USE_V1=0: from vLLM 0.8 to 0.10 that env var turns the
    V1 engine off (vllm 0.9.2 vllm/engine/arg_utils.py:1069-1075, vllm/envs.py:637-638), so
    such a run is the V0 engine whatever its release number says."""
    env = pt.get("serve_env") or {}
    return str(env.get("VLLM_USE_V1", "")).strip() == "0"


def requested_quantization(pt: dict[str, Any]) -> str | None:
    """The `--quantization` a run passed that its point does not restate (None: not passed).

    AccelMark's suite C W4A16 entry passes "gptq" (suites/suite_C/suite.json,
    precision_model_map.W4A16.engine_kwargs, at FreedomIntelligence/AccelMark@5797fc42) and its
    vLLM 0.7.3 runner hands it to LLM() for offline runs (runners/nvidia_vllm_47f5d58e/runner.py:170-171);
    the AsyncLLMEngine it builds for online runs (:178-193) does not pass it."""
    pid = pt.get("point_id") or ""
    if (pt.get("source") or {}).get("repo") == "FreedomIntelligence/AccelMark" and "_suite_C_nvidia_vllm_47f5d58e" in pid and "-w4a16-offline" in pid:
        return "gptq"
    return None


# The corpus's configs omit quantization_config; its README has the replay add a realistic one.
# A GPTQ W4A16 checkpoint made by llm-compressor / AutoGPTQ (symmetric, group 128, no act-order)
# is one Marlin can serve, so vLLM picks Marlin unless the run forces another kernel.
GPTQ_W4A16_CONFIG = {"quant_method": "gptq", "bits": 4, "group_size": 128, "sym": True, "desc_act": False}


def forces_plain_gptq(pt: dict[str, Any]) -> bool:
    """The run's 4-bit GPTQ weights go through vLLM's plain GPTQ kernel, not Marlin
    (Layout.gptq_plain), by the engine's kernel choice for the `--quantization` it passed."""
    scheme = quantization_scheme(GPTQ_W4A16_CONFIG, requested=requested_quantization(pt))
    return scheme is not None and scheme.method == "gptq"


def corpus_case(pt: dict[str, Any], configs: dict[str, Any], dataset_p50: dict[str, tuple[float, float]] | None = None) -> PerfCase | str:
    """Restate one corpus point for predict(); a string says why it cannot be."""
    if pt.get("engine") != "vllm":
        return f"engine {pt.get('engine')} (the model is of vLLM)"
    gpu = corpus_gpu(pt["gpu_type"])
    if gpu is None:
        return f"GPU {pt['gpu_type']!r} unknown"
    mid = pt["model_id"].split(" ")[0]
    label = (pt.get("weight_precision") or "").lower()
    key = mid
    if "nvfp4" in label and f"nvidia/{mid.split('/')[-1]}-NVFP4" in configs:
        key = f"nvidia/{mid.split('/')[-1]}-NVFP4"
    if key not in configs:
        return f"no config.json for {mid}"
    try:
        model = resolve(key, config=dict(configs[key]["fields"]), hf_id=mid)
    except (ValueError, KeyError, TypeError) as exc:  # a config the parser does not know (ConfigError is a ValueError)
        return f"config of {mid} not parsed: {exc}"
    tp, pp = int(pt["tensor_parallel_size"] or 1), int(pt["pipeline_parallel_size"] or 1)
    dp, ep = int(pt.get("data_parallel_size") or 1), pt.get("expert_parallel")
    if dp > 1 and ep and ep > tp * pp:
        return "wide expert parallelism across attention-DP ranks (not modelled)"
    fmt = _weight_format(pt, model)
    if isinstance(fmt, str):
        return fmt
    mem_quant, wfmt, cdt = fmt
    lengths = _lengths(pt, dataset_p50 or {})
    if lengths is None:
        return "prompt / output lengths not stated"
    I, O = lengths
    w, met = pt["workload"], pt["metrics"]
    gpus = int(pt.get("gpu_count") or tp * pp)
    replicas = max(1, gpus // (tp * pp))
    version = _version(pt)
    v0 = (version is not None and version < (0, 8)) or states_v0_engine(pt)
    # async scheduling on by default from vLLM 0.14 (vllm-project/vllm#27614); the corpus has
    # no 0.13 / 0.14 points, so the exact release does not change the replay
    sync = version is not None and (0, 8) <= version < (0, 14)
    kv = "fp8" if "fp8" in str(pt.get("kv_cache_dtype") or "").lower() or "fp8-kv" in mid.lower() else "auto"
    ds = (w.get("dataset") or "") + " " + (pt.get("notes") or "")
    # the serve command's --max-model-len where the point quotes it, else the harness's
    mml = re.search(r"--max-model-len[ =]" + _NUM, pt.get("notes") or "") or re.search(r"max_model_len " + _NUM, w.get("dataset") or "")
    max_len = int(float(mml.group(1))) if mml else int(math.ceil((I + O) / 1024 + 1) * 1024)
    max_len = max(max_len, int(I + O))
    seqs = w.get("max_num_seqs")
    mnbt = w.get("max_num_batched_tokens")
    # V0 chunks prompts where the run turned it on, else by default above 32K of context on
    # CUDA for full-attention models (vllm 0.7.3 vllm/engine/arg_utils.py:1164-1186); MLA models
    # had it forced off until vllm-project/vllm#12639 (0.7.3 vllm/config.py:3327-3332)
    text = ds.lower()
    if "enable-chunked-prefill=false" in text or "--no-enable-chunked-prefill" in text:
        v0_chunked = False
    elif "enable-chunked-prefill=true" in text or "--enable-chunked-prefill" in text:
        v0_chunked = True
    else:
        sliding = any(la.kind != "full" for la in model.arch.layers)
        v0_chunked = max_len > 32768 and gpu.vendor == "nvidia" and not sliding
    v0_chunked = v0 and v0_chunked and not (model.arch.is_mla and version is not None and version <= (0, 7))
    if v0 and not mnbt:
        # V0's default budget (0.7.3 vllm/config.py:1521-1536): 2048 tokens a step with chunked
        # prefill, else whole prompts up to max_model_len a step
        mnbt = 2048 if v0_chunked else max(max_len, 2048)
    if v0 and not seqs:
        # V0's EngineArgs default (`max_num_seqs: int = 256` in vllm/engine/arg_utils.py before
        # 0.8, read through a copy in the search index); the 0.19.0 defaults (1024 on large
        # GPUs) came with V1's usage-context defaults
        seqs = 256
    dtype = "auto"
    if gpu.architecture == "turing":
        dtype = "float16"
    try:
        mem = estimate_memory(model.arch, gpu, MemoryInputs(tensor_parallel=tp, pipeline_parallel=pp, max_model_len=max_len, gpu_memory_utilization=float(w.get("gpu_memory_utilization") or MemoryInputs.gpu_memory_utilization),
                                                           dtype=dtype, quantization=mem_quant, kv_cache_dtype=kv, max_num_seqs=int(seqs) if seqs else None,
                                                           max_num_batched_tokens=int(mnbt) if mnbt else None))
    except (ValueError, KeyError) as exc:
        return f"memory estimate failed: {exc}"
    if not mem.fits or mem.kv_cache_tokens <= 0:
        return "does not fit in GPU memory per the memory estimator"
    rate = w.get("request_rate")
    conc = w.get("concurrency")
    n_req = w.get("num_requests")
    burst = None
    if pt["point_id"].startswith("accelmark") and "offline" in pt["point_id"]:
        burst = n_req  # AccelMark offline: the engine gets all requests; client concurrency is nominal
    elif rate is None and ("infinite rate" in text or "rate=inf" in text or "request rate inf" in text or "rate inf" in text or "offline" in text or "benchmark_throughput" in text or "benchmark_latency" in text or "all queries issued at once" in text):
        burst = conc or n_req
    if rate is None and conc is None and burst is None:
        return "neither concurrency nor request rate stated"
    measured: dict[str, float] = {}
    ttft = met.get("median_ttft_ms") or met.get("mean_ttft_ms")
    ttft_stat = "median" if met.get("median_ttft_ms") else "mean"
    itl = met.get("median_tpot_ms") or met.get("mean_tpot_ms") or met.get("median_itl_ms") or met.get("mean_itl_ms")
    if ttft:
        measured["ttft"] = float(ttft)
    if itl and "num-scheduler-steps" not in text and "num-scheduler-step 15" not in text:
        measured["itl"] = float(itl)
    if met.get("output_tok_s"):
        measured["throughput"] = float(met["output_tok_s"])
    if burst:
        measured.pop("ttft", None)  # a burst's TTFT is the whole queue: not an engine figure
    if not measured:
        return "no TTFT, TPOT / ITL or output throughput"
    if rate:
        work = Workload(round(I), round(O), request_rate=float(rate) / replicas, num_requests=int(n_req / replicas) if n_req else None)
        regime, load = "open", float(rate) / replicas
    elif burst:
        omax = re.search(r"output_tokens_max " + _NUM, w.get("dataset") or "")
        work = Workload(round(I), round(O), burst=max(1, int(burst) // replicas), output_tokens_max=int(float(omax.group(1))) if omax else None)
        regime, load = "burst", max(1.0, float(burst) / replicas)
    else:
        c = max(1, round(float(conc) / replicas))
        # a closed-loop benchmark starts all its users at once; its length in rounds is
        # num_requests / concurrency where stated, else the fitted typical length
        rounds = (float(n_req) / float(conc)) if n_req else None
        fixed = "fixed lengths" in (w.get("dataset") or "").lower()
        work = Workload(round(I), round(O), concurrency=c, rounds=rounds if rounds else -1.0, fixed_lengths=fixed)
        regime, load = ("batch-1" if c == 1 else "closed"), float(c)
    layout = Layout(gpu=gpu, tensor_parallel=tp, pipeline_parallel=pp, quantization=wfmt, kv_cache_dtype=kv, compute_dtype=cdt, engine_v0=v0, engine_sync=sync,
                    chunked_prefill=not v0 or v0_chunked, gptq_plain=forces_plain_gptq(pt))
    src = pt["source"].get("repo") or (pt["source"].get("url") or "").split("/")[2]
    return PerfCase(
        point_id=pt["point_id"], setup=pt["setup"], source=src, grade=pt.get("quality") or "C", model=model, layout=layout, workload=work,
        memory=mem, replicas=replicas, measured=measured, gpu_type=pt["gpu_type"], model_id=mid, precision=_PREC_CLASS[wfmt], regime=regime, load=load,
        ttft_stat=ttft_stat,
    )


def load_corpus(directory, points_file=None) -> tuple[list[PerfCase], list[tuple[dict[str, Any], str]]]:
    """Every point of the corpus (or of `points_file`, in the corpus's schema, read with the
    corpus's model configs) as a case, and the points left out with the reason."""
    import json
    from pathlib import Path

    d = Path(directory)
    path = Path(points_file) if points_file else d / "points.jsonl"
    points = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    configs = json.loads((d / "model_configs.json").read_text())["models"]
    p50 = dataset_lengths(points)
    cases, skipped = [], []
    for pt in points:
        c = corpus_case(pt, configs, p50)
        if isinstance(c, str):
            skipped.append((pt, c))
        else:
            cases.append(c)
    return cases, skipped


__all__ = ["PerfCase", "corpus_case", "load_corpus", "predict_case", "replace"]

"""Derive compact kernel-efficiency tables from AIConfigurator's public perf database.

    .venv/bin/python bench/derive_kernel_tables.py /path/to/aiconfigurator.git

(a clone or bare mirror of ai-dynamo/aiconfigurator; files are read at its HEAD with git show)

Source: ai-dynamo/aiconfigurator (Apache-2.0, Copyright (c) 2025-2026 NVIDIA) at the commit
recorded in the output, `aic-core/src/aiconfigurator_core/systems/data/<system>/{gemm,comm}/vllm/
<version>/*.parquet`: per-GPU latencies of vLLM's GEMM kernels (m x n x k, bf16 / fp8 /
fp8_block / nvfp4) and of vLLM's custom all-reduce (CUDA-graph mode, 2 / 4 / 8 GPUs, 128 B to
512 MiB). Only the derived numbers ship (components/gpuforge/sizing/data/kernel_tables.json):

- gemm[dtype].compute_eff: median achieved / datasheet dense TFLOPS over large GEMMs
  (m >= 4096, n, k >= 4096): what prefill reaches;
- gemm[dtype].bandwidth_eff: median weight bytes / latency / datasheet HBM bandwidth over
  GEMVs (m = 1, n * k >= 4096^2): what batch-1 decode reaches;
- allreduce_us[tp]: vLLM custom all-reduce latency (us) at log-spaced message sizes;
- nccl_allreduce_us[tp]: the same for NCCL all_reduce (16-bit), which vLLM uses where its
  custom kernel is off (more than two PCIe-only GPUs);
- mla_module.fixed_us: what one un-compiled MLA attention module costs at batch 1 beyond
  streaming its weights. AIConfigurator times vLLM's own `DeepseekV2MLAAttention` (every
  projection, norm, RoPE, the MLA decode kernel, the output projection) in a CUDA graph
  without torch.compile (collector/vllm/collect_mla_module.py); its `mla/vllm/<version>/
  mla_generation_module_perf.parquet` rows with 16-bit GEMMs and KV cache, batch 1 and
  <= 128 tokens of context, against the module's weight bytes at each head count measured
  (1 .. 128): the least-squares line's intercept is the fixed cost (vLLM 0.19.0 tables only);
- marlin_moe.stream_eff: the fraction of the datasheet bandwidth at which vLLM's Marlin fused
  MoE (4-bit weights, `kernel_source` vllm_marlin_int4_moe in `moe/vllm/0.19.0/moe_perf.parquet`)
  streams the experts a decode step touches: the median over its measured shapes with 1-64
  tokens, balanced routing and no expert parallelism, of the touched experts' bytes (4-bit
  weights plus group-128 scales) over the latency.

Needs pyarrow (the `bench` extra).
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "components" / "gpuforge" / "sizing" / "data" / "kernel_tables.json"
sys.path.insert(0, str(REPO / "components"))

from gpuforge import catalog  # noqa: E402
from gpuforge.sizing.calibration import CORPUS_STAND_INS  # noqa: E402

# AIC system -> the GPU whose datasheet figures normalise the measured rates
SYSTEMS = {
    "a100_sxm": catalog.get_gpu("a100-80gb"),
    "h100_sxm": catalog.get_gpu("h100-80gb"),
    "h200_sxm": catalog.get_gpu("h200"),
    "b200_sxm": catalog.get_gpu("b200"),
    "b300_sxm": CORPUS_STAND_INS["B300-SXM"],
    "l40s": catalog.get_gpu("l40s"),
}
# the release gpuforge pins first, then the nearest collected ones
VERSIONS = ("0.19.0", "0.18.0", "0.22.0", "0.24.0", "0.14.0")
BYTES = {"bfloat16": 2.0, "fp8": 1.0, "fp8_block": 1.0 + 4 / 128 / 128, "nvfp4": 0.5 + 1 / 16}
MESSAGE_POINTS = [2**k for k in range(10, 28, 1)]  # 1 KiB .. 128 MiB


def _peak(gpu, dtype: str) -> float:
    if dtype == "bfloat16":
        return gpu.bf16_tflops
    if dtype in ("fp8", "fp8_block"):
        return gpu.fp8_tflops or gpu.bf16_tflops
    return 2 * (gpu.fp8_tflops or gpu.bf16_tflops)  # nvfp4


DATA = "aic-core/src/aiconfigurator_core/systems/data"


def _read(root: Path, path: str):
    blob = subprocess.run(["git", "-C", str(root), "show", f"HEAD:{path}"], capture_output=True, check=True).stdout
    return pq.read_table(pa.BufferReader(blob)).to_pylist()


def _pick(root: Path, system: str, family: str, table: str) -> tuple[str, list] | None:
    for v in VERSIONS:
        path = f"{DATA}/{system}/{family}/vllm/{v}/{table}.parquet"
        ok = subprocess.run(["git", "-C", str(root), "cat-file", "-e", f"HEAD:{path}"], capture_output=True).returncode == 0
        if ok:
            return v, _read(root, path)
    return None


def gemm_table(rows: list, gpu) -> dict:
    comp, bw = defaultdict(list), defaultdict(list)
    for r in rows:
        d, m, n, k, lat = r["gemm_dtype"], r["m"], r["n"], r["k"], r["latency"] * 1e-3
        if d not in BYTES or lat <= 0:
            continue
        if m >= 4096 and n >= 4096 and k >= 4096:
            comp[d].append(2 * m * n * k / lat / 1e12 / _peak(gpu, d))
        if m == 1 and n * k >= 4096 * 4096:
            bw[d].append(n * k * BYTES[d] / lat / 1e9 / gpu.memory_bandwidth_gbs)
    out = {}
    for d in sorted(set(comp) | set(bw)):
        out[d] = {
            "compute_eff": round(statistics.median(comp[d]), 4) if comp[d] else None,
            "bandwidth_eff": round(statistics.median(bw[d]), 4) if bw[d] else None,
            "shapes": len(comp[d]) + len(bw[d]),
        }
    return out


def nccl_allreduce_table(rows: list) -> dict:
    """NCCL all_reduce latency curves (what vLLM falls back to where its custom kernel is off)."""
    return allreduce_table([dict(r, backend="graph") for r in rows if r.get("op_name") == "all_reduce" and r.get("nccl_dtype") in ("half", "bfloat16", "float16")])


def allreduce_table(rows: list) -> dict:
    by: dict[int, dict[int, float]] = defaultdict(dict)
    for r in rows:
        if "graph" not in str(r.get("backend")):
            continue
        by[int(r["num_gpus"])][int(r["message_size"])] = r["latency"] * 1e3  # us
    out = {}
    for n, d in sorted(by.items()):
        sizes = sorted(d)
        pts = []
        for s in MESSAGE_POINTS:
            lo = max((x for x in sizes if x <= s), default=sizes[0])
            hi = min((x for x in sizes if x >= s), default=sizes[-1])
            if lo == hi:
                lat = d[lo]
            else:  # log-log between the measured neighbours
                t = (math.log(s) - math.log(lo)) / (math.log(hi) - math.log(lo))
                lat = math.exp(math.log(d[lo]) * (1 - t) + math.log(d[hi]) * t)
            pts.append([s, round(lat, 2)])
        out[str(n)] = pts
    return out


# the MLA module AIConfigurator measures is DeepSeek-V3's (its rows' `model`); its shapes are
# read from the same commit (aic-core/src/aiconfigurator_core/model_configs/)
MLA_VERSION = "0.19.0"
MLA_MODEL_CONFIG = "aic-core/src/aiconfigurator_core/model_configs/deepseek-ai--DeepSeek-V3_config.json"


def mla_module_params(cfg: dict, heads: int) -> int:
    """Weights of one MLA attention module with `heads` heads (what a TP rank holds): q_a and
    kv_a (replicated), q_b, the absorbed k / v up-projections (kv_b), o_proj."""
    h, q, kv = cfg["hidden_size"], cfg["q_lora_rank"], cfg["kv_lora_rank"]
    nope, rope, v = cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"]
    return h * q + q * heads * (nope + rope) + h * (kv + rope) + kv * heads * (nope + v) + heads * v * h


def mla_module_fixed(rows: list, cfg: dict, gpu) -> dict | None:
    """Least-squares line of the module's batch-1 latency against its weight bytes over the
    head counts measured: the intercept is the fixed cost, the slope the streaming rate."""
    pts = [(mla_module_params(cfg, int(r["num_heads"])) * 2.0, r["latency"] * 1e3) for r in rows
           if (r["gemm_type"], r["kv_cache_dtype"], r["batch_size"]) == ("bfloat16", "bfloat16", 1) and r["step"] <= 128]
    if len({x for x, _ in pts}) < 3:
        return None
    slope, intercept = statistics.linear_regression([x for x, _ in pts], [y for _, y in pts])
    return {"fixed_us": round(intercept, 1), "stream_eff": round(1 / (slope * 1e-6) / (gpu.memory_bandwidth_gbs * 1e9), 3), "rows": len(pts)}


def marlin_moe_eff(rows: list, gpu) -> dict | None:
    effs = []
    for r in rows:
        if r["moe_dtype"] != "int4_wo" or r["distribution"] != "balanced" or r["moe_ep_size"] != 1 or r["num_tokens"] > 64:
            continue
        e, k, n = r["num_experts"], r["topk"], r["num_tokens"]
        touched = e * (1 - (1 - k / e) ** n)  # balanced routing: expected distinct experts
        nbytes = touched * 3 * r["hidden_size"] * r["inter_size"] / r["moe_tp_size"] * (0.5 + 2 / 128)
        effs.append(nbytes / (r["latency"] * 1e-3) / (gpu.memory_bandwidth_gbs * 1e9))
    if not effs:
        return None
    return {"stream_eff": round(statistics.median(effs), 4), "rows": len(effs)}


def main() -> int:
    root = Path(sys.argv[1])
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip() or "unknown"
    systems = {}
    for name, gpu in SYSTEMS.items():
        entry: dict = {"normalised_by": gpu.id}
        gemm: dict = {}
        for v in VERSIONS:  # each dtype from the first release (in VERSIONS order) that has it
            path = f"{DATA}/{name}/gemm/vllm/{v}/gemm_perf.parquet"
            if subprocess.run(["git", "-C", str(root), "cat-file", "-e", f"HEAD:{path}"], capture_output=True).returncode:
                continue
            for d, row in gemm_table(_read(root, path), gpu).items():
                gemm.setdefault(d, {**row, "version": v})
        entry["gemm"] = gemm
        c = _pick(root, name, "comm", "custom_allreduce_perf")
        if c:
            entry["allreduce_version"] = c[0]
            entry["allreduce_us"] = allreduce_table(c[1])
        for v in ("2.27.3", "2.29.2", "2.26.2", "2.23"):
            path = f"{DATA}/{name}/comm/nccl/{v}/nccl_perf.parquet"
            if subprocess.run(["git", "-C", str(root), "cat-file", "-e", f"HEAD:{path}"], capture_output=True).returncode == 0:
                entry["nccl_version"] = v
                entry["nccl_allreduce_us"] = nccl_allreduce_table(_read(root, path))
                break
        # the pinned release's module only: the L40S's one table (0.24.0) does not lie on a
        # line (75-92 us at 1-16 heads, 207 us at 32; intercept 14 us)
        path = f"{DATA}/{name}/mla/vllm/{MLA_VERSION}/mla_generation_module_perf.parquet"
        if subprocess.run(["git", "-C", str(root), "cat-file", "-e", f"HEAD:{path}"], capture_output=True).returncode == 0:
            cfg = json.loads(subprocess.run(["git", "-C", str(root), "show", f"HEAD:{MLA_MODEL_CONFIG}"], capture_output=True, check=True).stdout)
            fixed = mla_module_fixed(_read(root, path), cfg, gpu)
            if fixed:
                entry["mla_module"] = {"version": MLA_VERSION, **fixed}
        path = f"{DATA}/{name}/moe/vllm/{MLA_VERSION}/moe_perf.parquet"
        if subprocess.run(["git", "-C", str(root), "cat-file", "-e", f"HEAD:{path}"], capture_output=True).returncode == 0:
            marlin = marlin_moe_eff(_read(root, path), gpu)
            if marlin:
                entry["marlin_moe"] = {"version": MLA_VERSION, **marlin}
        systems[name] = entry
    out = {
        "about": "Derived by bench/derive_kernel_tables.py from AIConfigurator's vLLM kernel database; do not edit by hand.",
        "source": {"repo": "ai-dynamo/aiconfigurator", "commit": commit, "path": "aic-core/src/aiconfigurator_core/systems/data", "license": "Apache-2.0 (Copyright (c) 2025-2026 NVIDIA)"},
        "systems": systems,
    }
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    for name, e in systems.items():
        print(name, {d: (v["version"], v["compute_eff"], v["bandwidth_eff"]) for d, v in e.get("gemm", {}).items()},
              {n: (p[0][1], p[-1][1]) for n, p in e.get("allreduce_us", {}).items()}, e.get("mla_module"), e.get("marlin_moe"))
    print(f"wrote {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

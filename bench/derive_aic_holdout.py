"""AIConfigurator's measured vLLM rows that the perf corpus left out, as validation points.

The corpus (../shared/reference/perf-corpus) restates rows of AIConfigurator's
`silicon_sample.csv` at ai-dynamo/aiconfigurator@095f58a5; its README says some setups of the
same sources are kept out on purpose, to check the model on setups it has never seen. This
script restates the vLLM aggregated-serving rows of that CSV the corpus does not hold, in the
corpus's own schema and with its conventions (the note of every AIC corpus point: silicon TTFT /
TPOT copied as the central value, concurrency from the source string), into
bench/data/aic_holdout_points.jsonl. Those points are never fitted (bench/fit_performance.py
reports them apart, and the accuracy with and without them).

    # the CSV comes from a checkout of the repository at that commit (the `fetch` tool here)
    .venv/bin/python bench/derive_aic_holdout.py path/to/silicon_sample.csv

The output is committed: CI has no network, and it ships measured numbers only (Apache-2.0,
Copyright (c) 2025-2026 NVIDIA; docs/accuracy-sources.md).
"""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "reference" / "perf-corpus" / "points.jsonl"
OUT = REPO / "bench" / "data" / "aic_holdout_points.jsonl"
COMMIT = "095f58a51c4ca8e61b66ec108d86f223f8d559ce"
PATH = "aic-core/src/aiconfigurator_core/systems/silicon_sample.csv"
# the corpus's names for AIC's system ids
GPU = {"h100_sxm": ("H100-SXM", "H100 SXM"), "h200_sxm": ("H200-SXM", "H200 SXM"), "b200_sxm": ("B200-SXM", "B200 SXM"),
       "b300_sxm": ("B300-SXM", "B300 SXM"), "a100_sxm": ("A100-SXM-80GB", "A100 SXM"), "l40s": ("L40S", "L40S")}


def _int(v: str) -> int | None:
    return int(float(v)) if v not in ("", None) else None


def point(r: dict[str, str]) -> dict | None:
    if r["backend"] != "vllm" or r["mode"] != "agg" or r["system"] not in GPU or not r["silicon_tpot_ms"]:
        return None
    m = re.search(r"silicon_concurrency=(\d+)", r["silicon_data_source"])
    conc = int(m.group(1)) if m else _int(r["batch_size"])
    tp, pp, dp = _int(r["tp_size"]) or 1, _int(r["pp_size"]) or 1, _int(r["attention_dp_size"]) or 1
    gpu_type, detail = GPU[r["system"]]
    prec = f"{r['precision']} (AIC gemm_quant_mode={r['gemm_quant_mode']}, moe_quant_mode={r['moe_quant_mode']})"
    return {
        "point_id": f"aic-vllm-{r['id']}",
        "source": {"type": "repo", "repo": "ai-dynamo/aiconfigurator", "path": PATH, "commit": COMMIT,
                   "url": f"https://github.com/ai-dynamo/aiconfigurator/blob/{COMMIT}/{PATH}"},
        "engine": "vllm",
        "vllm_version": r["backend_version"] or None,
        "model_id": r["model_path"],
        "weight_precision": prec,
        "kv_cache_dtype": None,
        "gpu_type": gpu_type,
        "gpu_count": tp * pp * dp,
        "tensor_parallel_size": tp,
        "pipeline_parallel_size": pp,
        "data_parallel_size": dp,
        "expert_parallel": _int(r["moe_ep_size"]),
        "workload": {"dataset": "synthetic fixed ISL/OSL (AIConfigurator silicon benchmark)", "input_tokens": int(r["isl"]),
                     "output_tokens": int(r["osl"]), "concurrency": conc, "request_rate": None, "num_requests": None,
                     "max_num_seqs": None, "max_num_batched_tokens": None},
        "metrics": {"output_tok_s": None, "total_tok_s": None, "req_s": None,
                    "mean_ttft_ms": round(float(r["silicon_ttft_ms"]), 4) if r["silicon_ttft_ms"] else None,
                    "median_ttft_ms": None, "p99_ttft_ms": None, "mean_tpot_ms": round(float(r["silicon_tpot_ms"]), 4),
                    "median_tpot_ms": None, "mean_itl_ms": None, "median_itl_ms": None, "p99_itl_ms": None, "mean_e2e_ms": None},
        "notes": (f"AIConfigurator measured silicon row id={r['id']} not in the corpus; silicon_data_source={r['silicon_data_source']!r}. "
                  "Restated as the corpus restates its AIC rows (central TTFT / TPOT, concurrency from the source string). "
                  "Validation only: never fitted."),
        "quality": "C",
        "extra": {"gpu_detail": detail, "heldout": True},
        "setup": f"vllm|ai-dynamo/aiconfigurator|{r['model_path']}|{gpu_type}|{r['precision']}|tp{tp}-pp{pp}",
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    have = {json.loads(line)["point_id"] for line in CORPUS.read_text().splitlines() if line.strip()}
    with Path(argv[1]).open() as f:
        rows = [point(r) for r in csv.DictReader(f)]
    out = [p for p in rows if p and p["point_id"] not in have]
    OUT.write_text("".join(json.dumps(p) + "\n" for p in out))
    print(f"wrote {len(out)} points to {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

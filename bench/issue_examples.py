"""The examples of issue 14's first paragraph, as the model predicts them now.

The DeepSeek-R1 AWQ figure has a public measurement (bench/data/extra_points.jsonl,
tenstorrent/tt-inference-server#356). The Qwen3-235B L40S example and the Llama-3.1-70B FP8
offline bursts have none here, so they are printed as predictions only; for the latter, the
same model and precision measured at concurrency 64 on H100 / H200 in AIConfigurator setups
the corpus left out (bench/data/aic_holdout_points.jsonl) are compared instead.

    .venv/bin/python bench/issue_examples.py      # also part of docs/accuracy.md
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from gpuforge import catalog
from gpuforge.sizing.calibration import corpus_case, predict_case
from gpuforge.sizing.memory import MemoryInputs, estimate_memory
from gpuforge.sizing.models import resolve
from gpuforge.sizing.performance import Layout, Workload, predict

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "reference" / "perf-corpus"
EXTRA = REPO / "bench" / "data" / "extra_points.jsonl"
HOLDOUT = REPO / "bench" / "data" / "aic_holdout_points.jsonl"


# The corpus's only Llama-3.1-70B FP8 offline runs on H100 (Lambda, vLLM 0.5.4, 320 ShareGPT
# prompts sent at once, TP4 2,243 / TP8 2,573 output tok/s) state no prompt or output lengths;
# such a burst lasts until its longest output ends, which is not stated either, so no length
# assumption makes a fair comparison (corpus_case leaves them out for that reason).
LLAMA_70B_NOTE = ("no comparable measurement: the corpus's Lambda vLLM 0.5.4 ShareGPT bursts (TP4 2,243 / TP8 2,573 tok/s) "
                  "state no lengths, and a burst's throughput is set by its longest output")


def _config(model_id: str) -> dict:
    return json.loads((CORPUS / "model_configs.json").read_text())["models"][model_id]["fields"]


def rows() -> list[tuple[str, str, str]]:
    """(example, predicted, measured / verdict)."""
    out = []
    configs = json.loads((CORPUS / "model_configs.json").read_text())["models"]
    pt = next(json.loads(line) for line in EXTRA.read_text().splitlines() if "128x128" in line)
    case = corpus_case(pt, configs)
    assert not isinstance(case, str), case
    pred = predict_case(case)["itl"]
    meas = case.measured["itl"]
    # the run's engine is inferred (extra_points.jsonl serve_env_basis): V0, as the checkpoint's
    # publishers serve it; the same point replayed as the V1 engine of its date, and as gpuforge
    # plans it on vLLM 0.19.0, for comparison
    v1_sync = predict_case(dataclasses.replace(case, layout=dataclasses.replace(case.layout, engine_v0=False, engine_sync=True)))["itl"]
    today = predict_case(dataclasses.replace(case, layout=dataclasses.replace(case.layout, engine_v0=False, engine_sync=False)))["itl"]
    out.append(("DeepSeek-R1-0528 AWQ, 8x H100 TP8, batch 1, 128 in / 128 out: TPOT", f"{pred:.1f} ms",
                f"{meas:.1f} ms measured ({pred / meas - 1:+.0%}; {'within' if abs(pred / meas - 1) <= 0.25 else 'NOT within'} 25%), "
                f"replayed as the V0 engine (VLLM_USE_V1=0, inferred); as V1 without async scheduling {v1_sync:.1f} ms "
                f"({v1_sync / meas - 1:+.0%}); on vLLM 0.19.0, as gpuforge plans, {today:.1f} ms"))
    # Qwen3-235B-A22B FP8 on 8x L40S (PCIe), TP8, batch 1
    m = resolve("Qwen/Qwen3-235B-A22B-FP8", config=_config("Qwen/Qwen3-235B-A22B-FP8"))
    gpu = catalog.get_gpu("l40s")
    mem = estimate_memory(m.arch, gpu, MemoryInputs(tensor_parallel=8, max_model_len=4096, quantization="fp8"))
    p = predict(m, Layout(gpu=gpu, tensor_parallel=8, quantization="fp8"), Workload(1024, 128, concurrency=1), mem)
    out.append(("Qwen3-235B-A22B FP8, 8x L40S TP8 over PCIe, batch 1, 1024 / 128: TPOT / TTFT", f"{p.itl_ms:.1f} ms / {p.ttft_ms:.0f} ms",
                "no measurement in the corpus or found here"))
    # Llama-3.1-70B FP8 offline (saturated) on H100 and H200, 1024 / 1024
    m = resolve("meta-llama/Llama-3.1-70B-Instruct", config=_config("meta-llama/Llama-3.1-70B-Instruct"))
    for gid in ("h100-80gb", "h200"):
        for tp in (4, 8):
            gpu = catalog.get_gpu(gid)
            mem = estimate_memory(m.arch, gpu, MemoryInputs(tensor_parallel=tp, max_model_len=4096, quantization="fp8"))
            p = predict(m, Layout(gpu=gpu, tensor_parallel=tp, quantization="fp8"), Workload(1024, 1024, burst=1024), mem)
            out.append((f"Llama-3.1-70B FP8 offline, {gid} TP{tp}, 1024 prompts of 1024 / 1024: output tok/s", f"{p.output_tokens_per_s:,.0f}",
                        LLAMA_70B_NOTE if gid == "h100-80gb" else "no measurement in the corpus or found here"))
    # the same model and precision measured by AIConfigurator on H100 / H200, in setups the corpus
    # left out (bench/data/aic_holdout_points.jsonl): the highest-concurrency 1024 / 1024 row of
    # each, as closed-loop output tok/s = c * O / (TTFT + (O - 1) * TPOT), measured and predicted
    if HOLDOUT.exists():
        held = [json.loads(line) for line in HOLDOUT.read_text().splitlines() if line.strip()]
        held = [h for h in held if h["model_id"] == "meta-llama/Llama-3.1-70B" and h["gpu_type"] in ("H100-SXM", "H200-SXM")
                and h["workload"]["input_tokens"] == 1024 and h["workload"]["output_tokens"] == 1024]
        top: dict[str, dict] = {}
        for h in held:
            if h["setup"] not in top or h["workload"]["concurrency"] > top[h["setup"]]["workload"]["concurrency"]:
                top[h["setup"]] = h
        for _, h in sorted(top.items()):
            case = corpus_case(h, configs)
            assert not isinstance(case, str), case
            pr, c, o = predict_case(case), case.workload.concurrency or 1, case.workload.output_tokens
            tput = {k: c * o / ((d["ttft"] + (o - 1) * d["itl"]) / 1000) for k, d in (("meas", case.measured), ("pred", pr))}
            out.append((f"Llama-3.1-70B FP8, {h['gpu_type']} TP{case.layout.tensor_parallel}, closed loop c={c}, 1024 / 1024 "
                        "(AIConfigurator, a setup the corpus left out): output tok/s",
                        f"{tput['pred']:,.0f}", f"{tput['meas']:,.0f} measured ({tput['pred'] / tput['meas'] - 1:+.0%}; "
                        f"{'within' if abs(tput['pred'] / tput['meas'] - 1) <= 0.25 else 'NOT within'} 25%)"))
    return out


def main() -> int:
    for r in rows():
        print(" | ".join(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())

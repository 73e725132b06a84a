"""Regenerate docs/accuracy.md: the memory estimator on every logged start-up, and the
performance model's cross-validated errors on the public perf corpus.

    .venv/bin/python bench/accuracy.py            # writes docs/accuracy.md from bench/perf_cv.json
    .venv/bin/python bench/fit_performance.py     # refits, re-runs the CV, then calls this
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from pathlib import Path

from gpuforge.sizing.calibration import run_cases, summarize
from gpuforge.sizing.performance import GEN_PARAMS, GLOBAL_PARAMS, load_params
from gpuforge.sizing.versions import VLLM_VERSION

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "reference" / "vllm-startup-logs"
CV_FILE = REPO / "bench" / "perf_cv.json"
METRICS = ("ttft", "itl", "throughput")
TARGET = {"ttft": 0.20, "itl": 0.12, "throughput": 0.12}
NAMES = {"ttft": "TTFT", "itl": "TPOT / ITL", "throughput": "output tok/s"}


def _band(load: float, regime: str) -> str:
    if regime == "open":
        return "open loop (request rate)"
    if regime == "burst":
        return "offline burst"
    if load <= 1:
        return "1"
    if load <= 8:
        return "2-8"
    if load <= 64:
        return "9-64"
    return ">64"


def _plen(n: int) -> str:
    return "<1k" if n < 1024 else "1k-4k" if n < 4096 else "4k-8k" if n <= 8192 else ">8k"


def _cell(text: str) -> str:
    """Text for a Markdown table cell (a setup key's '|' would split the cell)."""
    return text.replace("|", "\\|")


def _err(row: dict, m: str) -> float | None:
    pred = row["cv"].get(m)
    meas = row["measured"].get(m)
    if pred is None or meas is None or not math.isfinite(pred):
        return None
    return pred / meas - 1


def _table(rows: list[dict], key, title: str) -> list[str]:
    groups: dict[str, dict[str, list[float]]] = {}
    for r in rows:
        k = key(r)
        for m in METRICS:
            e = _err(r, m)
            if e is not None:
                groups.setdefault(k, {}).setdefault(m, []).append(e)
    out = [f"### By {title}", "", "| " + title + " | " + " | ".join(f"{NAMES[m]} n | median abs | p90 abs | bias" for m in METRICS) + " |",
           "|---|" + "---|---|---|---|" * len(METRICS)]
    for k in sorted(groups):
        cells = []
        for m in METRICS:
            errs = groups[k].get(m, [])
            if not errs:
                cells.append("0 | | |")
                continue
            a = sorted(abs(x) for x in errs)
            cells.append(f"{len(errs)} | {statistics.median(a) * 100:.1f}% | {a[int(0.9 * (len(a) - 1))] * 100:.0f}% | {statistics.median(errs) * 100:+.0f}%")
        out.append(f"| {k} | " + " | ".join(cells) + " |")
    return out + [""]


def perf_section() -> list[str]:
    if not CV_FILE.exists():
        return ["## Performance model", "", "No cross-validation results yet: run `bench/fit_performance.py`.", ""]
    data = json.loads(CV_FILE.read_text())
    meta, all_rows, all_skipped = data["meta"], data["cases"], data["skipped"]
    skipped = [s_ for s_ in all_skipped if not s_.get("extra")]
    extra_skipped = [s_ for s_ in all_skipped if s_.get("extra") and s_.get("extra") != "heldout"]
    heldout_skipped = [s_ for s_ in all_skipped if s_.get("extra") == "heldout"]
    rows = [r for r in all_rows if not r.get("extra")]
    extra = [r for r in all_rows if r.get("extra") and r.get("extra") != "heldout"]
    heldout = [r for r in all_rows if r.get("extra") == "heldout"]
    p = load_params()
    lines = [
        "## Performance model vs the public perf corpus (leave-one-setup-out)",
        "",
        f"Source: `../shared/reference/perf-corpus/points.jsonl` (sha256 `{meta['corpus']['sha256'][:16]}...`), "
        f"{meta['corpus']['points_used']} vLLM points restated as estimates ({meta['corpus']['points_fitted']} of grade A/B used for fitting), "
        f"fitted {meta['fitted']}. Every error below is **cross-validated by setup**: the setup's points were left out of the fit "
        "that predicts them. Error = predicted / measured - 1; TPOT / ITL compares the model's mean inter-token latency with the "
        "point's TPOT (median where given, else mean) or ITL; TTFT compares the mean (or median, where the point gives a median); "
        "throughput compares output tok/s of the whole measured system (per-replica prediction x replicas).",
        "",
        "Reproduce: `.venv/bin/python bench/fit_performance.py` (fit, CV, this file).",
        "",
        "Cross-validation method: " + meta.get("cv", "leave-one-setup-out") + ". "
        + (f"Check against true refits of the {meta['exact_refits']['setups']} largest fitted setups: the held-out |error| of their points "
           f"changes by {meta['exact_refits']['median_abs_error_change'] * 100:+.2f} percentage points (median; worst single point {meta['exact_refits'].get('max_abs_error_change', 0) * 100:+.0f}) "
           "when the parameters are refitted without the setup (least squares from the full fit) instead of stepped."
           if (meta.get("exact_refits") or {}).get("median_abs_error_change") is not None else "No exact-refit check recorded in this run (`--exact N`)."),
        "Grade C points are never fitted, so their full-fit predictions are already out of sample.",
        "",
        "### Targets",
        "",
        "| metric | points | median abs error | p90 abs error | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for m in METRICS:
        ae = sorted(abs(x) for x in (_err(r, m) for r in rows) if x is not None)
        if ae:
            med = statistics.median(ae)
            lines.append(f"| {NAMES[m]} | {len(ae)} | {med * 100:.1f}% | {ae[int(0.9 * (len(ae) - 1))] * 100:.0f}% | <= {TARGET[m] * 100:.0f}% | {'yes' if med <= TARGET[m] else '**no**'} |")
    if extra:
        lines += ["", f"With the {len(extra)} measurements from outside the corpus (`bench/data/extra_points.jsonl`, never fitted; "
                  "docs/accuracy-sources.md):", "", "| metric | points | median abs error |", "|---|---|---|"]
        for m in METRICS:
            ae = sorted(abs(x) for x in (_err(r, m) for r in rows + extra) if x is not None)
            if ae:
                lines.append(f"| {NAMES[m]} | {len(ae)} | {statistics.median(ae) * 100:.1f}% |")
    if heldout:
        lines += ["", f"The {len(heldout)} AIConfigurator rows the corpus left out (setups it has never seen; `bench/data/aic_holdout_points.jsonl`, "
                  "never fitted; section \"Setups the corpus left out\" below), alone and added to the corpus's:", "",
                  "| metric | held-out points | median abs error | corpus + held-out points | median abs error |", "|---|---|---|---|---|"]
        for m in METRICS:
            ho = sorted(abs(x) for x in (_err(r, m) for r in heldout) if x is not None)
            both = sorted(abs(x) for x in (_err(r, m) for r in rows + heldout) if x is not None)
            if ho:
                lines.append(f"| {NAMES[m]} | {len(ho)} | {statistics.median(ho) * 100:.1f}% | {len(both)} | {statistics.median(both) * 100:.1f}% |")
    # GPU x family groups with >= 10 points
    grp: dict[str, list[float]] = {}
    for r in rows:
        for m in METRICS:
            e = _err(r, m)
            if e is not None:
                grp.setdefault(f"{r['gpu_type']} x {r['family']}", []).append(abs(e))
    bad = [(k, statistics.median(v), len(v)) for k, v in grp.items() if len(v) >= 10 and statistics.median(v) > 0.30]
    lines += ["", f"GPU x model-family groups with >= 10 points (all metrics): {sum(1 for v in grp.values() if len(v) >= 10)}; "
              f"worse than 30% median: {len(bad)}" + (" - " + ", ".join(f"{k} ({e * 100:.0f}%, n={n})" for k, e, n in sorted(bad, key=lambda x: -x[1])) if bad else ""), ""]
    lines += _table(rows, lambda r: r["gpu_type"], "GPU")
    lines += _table(rows, lambda r: r["generation"], "GPU generation")
    lines += _table(rows, lambda r: r["family"], "model family")
    lines += _table(rows, lambda r: r["precision"], "weight precision")
    lines += _table(rows, lambda r: f"TP{r['tp']} PP{r['pp']}", "layout")
    lines += _table(rows, lambda r: _band(r["load"], r["regime"]), "concurrency band")
    lines += _table(rows, lambda r: _plen(r["input_tokens"]), "prompt length")
    lines += _table(rows, lambda r: r["source"], "source")
    lines += _table(rows, lambda r: r["grade"], "grade")
    # worst setups
    by_setup: dict[str, list[float]] = {}
    for r in rows:
        for m in METRICS:
            e = _err(r, m)
            if e is not None:
                by_setup.setdefault(r["setup"], []).append(e)
    worst = sorted(by_setup.items(), key=lambda kv: -statistics.median([abs(x) for x in kv[1]]))[:15]
    lines += ["### Worst setups (median |error| over their points, all metrics)", "", "| setup | points | median abs | bias | likely reason |", "|---|---|---|---|---|"]
    for setup, se in worst:
        lines.append(f"| {_cell(setup)} | {len(se)} | {statistics.median([abs(x) for x in se]) * 100:.0f}% | {statistics.median(se) * 100:+.0f}% | {_reason(setup, [r for r in rows if r['setup'] == setup])} |")
    if extra:
        lines += ["", "### Measurements from outside the corpus (validation only)", "",
                  "Each row is replayed as the engine its `serve_env` names (VLLM_USE_V1=0: the V0 engine); where that is inferred "
                  "rather than stated, the file's `serve_env_basis` and docs/accuracy-sources.md say why.", "",
                  "| point | GPU | model | precision | TP | in / out | concurrency | metric | measured | predicted | error |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in extra:
            for m in METRICS:
                e = _err(r, m)
                if e is not None:
                    lines.append(f"| {r['point_id']} | {r['gpu_type']} | {r['model_id']} | {r['precision']} | {r['tp']} | {r['input_tokens']} / {r['output_tokens']} | "
                                 f"{r['load']:g} | {NAMES[m]} | {r['measured'][m]:,.1f} | {r['cv'][m]:,.1f} | {e * 100:+.0f}% |")
        for s_ in extra_skipped:
            lines.append(f"| {s_['point_id']} | not restated: {s_['reason']} | | | | | | | | | |")
    if heldout:
        lines += ["", "### Setups the corpus left out (AIConfigurator rows, validation only)", "",
                  "vLLM aggregated-serving rows of AIConfigurator's `silicon_sample.csv` (ai-dynamo/aiconfigurator@095f58a5) that the corpus "
                  "does not hold, restated by `bench/derive_aic_holdout.py` as the corpus restates its AIC rows; predicted with the full "
                  "fit, which never saw them.", "",
                  "| setup | points | TTFT median abs | TTFT bias | TPOT / ITL median abs | TPOT / ITL bias |", "|---|---|---|---|---|---|"]
        by: dict[str, list[dict]] = {}
        for r in heldout:
            by.setdefault(r["setup"], []).append(r)
        for setup, rs in sorted(by.items()):
            cells = []
            for m in ("ttft", "itl"):
                es = [e for e in (_err(r, m) for r in rs) if e is not None]
                cells += [f"{statistics.median([abs(e) for e in es]) * 100:.0f}%", f"{statistics.median(es) * 100:+.0f}%"] if es else ["", ""]
            lines.append(f"| {_cell(setup.split('|', 2)[2])} | {len(rs)} | " + " | ".join(cells) + " |")
        if heldout_skipped:
            held_why: dict[str, int] = {}
            for s_ in heldout_skipped:
                held_why[s_["reason"]] = held_why.get(s_["reason"], 0) + 1
            lines += ["", "Not restated: " + "; ".join(f"{n} ({why})" for why, n in sorted(held_why.items())) + "."]
    try:
        import issue_examples  # bench/issue_examples.py

        lines += ["", "### The issue's examples", "", "| example | predicted | measured |", "|---|---|---|",
                  *[f"| {a} | {b} | {c} |" for a, b, c in issue_examples.rows()]]
    except (FileNotFoundError, KeyError) as exc:
        lines += ["", f"(issue examples not computed: {exc})"]
    lines += ["", "### Fitted parameters (`components/gpuforge/sizing/data/perf_params.json`)", "",
              "| generation | " + " | ".join(GEN_PARAMS) + " |", "|---|" + "---|" * len(GEN_PARAMS)]
    for g, v in sorted(p.generations.items()):
        lines.append(f"| {g} | " + " | ".join(f"{getattr(v, k):.3g}" for k in GEN_PARAMS) + " |")
    lines += ["", "| global | value |", "|---|---|", *[f"| {k} | {p.glob[k]:.3g} |" for k in GLOBAL_PARAMS], ""]
    lines += ["Turing has no measurements in the corpus: its row keeps the priors.", ""]
    reasons: dict[str, int] = {}
    for s_ in skipped:
        why = " ".join(s_["reason"].split())  # one table row: messages may span lines
        reasons[why] = reasons.get(why, 0) + 1
    lines += ["### Points not restated, and why", "", "| reason | points |", "|---|---|", *[f"| {k} | {v} |" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])], ""]
    return lines


# What the investigation of the worst setups found (read from the points and their notes);
# report text only, nothing here feeds the model.
KNOWN_REASONS = {
    "nvidia/Llama-3.1-8B-Instruct-FP8|H200-SXM": "TPOT below what folding 1k-8k-token prompts into the decode steps allows at this load "
    "(c up to 128, 100-2000 output tokens): these AIConfigurator rows look like decode-only steps; their serve settings and statistic are not recorded",
    "moonshotai/Kimi-K2-Thinking": "run overloaded at 100 req/s (TTFT is minutes of queue, per the point's notes)",
    "Qwen/Qwen2.5-0.5B-Instruct|H100-SXM": "a 0.5B model is CPU-bound: TTFT of ~11 ms where the fitted per-request API cost (~{request_ms:.0f} ms, "
    "set mostly by the AIConfigurator harness) dominates the prediction",
    "FreedomIntelligence/AccelMark|H100-SXM": "vLLM 0.7.3 (V0) on a host whose CPU work is well below the V0 costs fitted across AccelMark's "
    "hosts ({v0_step_ms:.1f} ms per step, {v0_seq_us:.0f} us per streamed sequence per step): batch-1 ITL 7.7 ms (8B), 2.2 ms (0.5B)",
    "FreedomIntelligence/AccelMark|H200 (form factor unstated)": "vLLM 0.7.3 (V0) on a host doing 1.4-2.3x the CPU work per step of "
    "AccelMark's other hosts (batch-1 decode of the 0.5B model, almost all CPU: 5.2 ms, against 2.2-3.8 ms): online TPOT of 14-88 ms "
    "at 2-100 req/s is predicted 7-89% too fast on 20 of 21 points, while its offline runs, not streamed, are within 13% on 29 of 30 points",
    "inference-sim/training|meta-llama/Llama-2-70b-hf": "measured TPOT (9.3 ms) is below the bf16 weight-streaming floor of TP4 on H100 "
    "(34.5 GB per GPU / 3.35 TB/s = 10.3 ms): inference-perf counts multi-token stream chunks (SOURCES.md)",
    "Llama-3.1-405B-Instruct-FP8|H100-SXM": "vLLM 0.6.3 nightly with 512-token chunked prefill and ShareGPT length distributions",
    "dstackai/benchmarks|deepseek-ai/DeepSeek-R1|H200": "vLLM 0.7.4 nightly (V0, FlashMLA): its fixed-length closed loops replay as lockstep waves "
    "(TTFT grows ~240 ms per user, as measured) and pay V0's un-compiled MLA module, but the random-length runs are still slower "
    "than the model: output tok/s predicted 1.3-1.9x too high (ITL 26 ms at 4 users, 19 predicted), TTFT ~3x too short, on a nightly "
    "build the corpus records nothing more about",
    "meta-llama/Llama-3.1-405B-Instruct-FP8|MI300X": "Meta's FP8 checkpoint runs at 0.36x the saturated output tok/s of AMD's FP8-KV checkpoint "
    "of the same model on the same 8x MI300X and ROCm build (620 vs 1,720 tok/s); the model sees only the FP8 KV cache's extra capacity, "
    "so it predicts the two alike",
}


def _reason(setup: str, rows: list[dict]) -> str:
    """Why a setup is off: what the investigation found, else what is special about it."""
    g = load_params().glob
    hopper = load_params().gen("hopper")
    live = {"request_ms": g["request_ms"], "v0_step_ms": g["v0_step"] * hopper.step_ms, "v0_seq_us": g["v0_seq_us"] + g["v0_stream_us"]}
    for key, why in KNOWN_REASONS.items():
        if all(part in setup for part in key.split("|")):
            return why.format(**live)
    notes = []
    r0 = rows[0]
    s = setup.lower()
    if "rocm" in s or r0["generation"] == "cdna3":
        notes.append("ROCm build, MI300-class kernels differ most from the NVIDIA-fitted shape")
    if "pcie" in r0["gpu_type"].lower():
        notes.append("PCIe stand-in card (GDDR, all-reduce through the host)")
    if r0["regime"] == "open":
        notes.append("open-loop run with length distributions (only p50 lengths known)")
    if r0["regime"] == "burst":
        notes.append("offline burst with variable lengths (mean lengths only)")
    if r0["grade"] == "C":
        notes.append("grade C (partial configuration)")
    if r0["family"] in ("mla", "moe"):
        notes.append(f"{r0['family'].upper()} kernels (fused MoE / MLA) at this layout")
    return "; ".join(notes) or "-"


def main() -> int:
    lines = [
        "# Accuracy",
        "",
        f"Generated by `.venv/bin/python bench/accuracy.py` (vLLM {VLLM_VERSION} constants). Do not edit by hand.",
        "",
        "## Memory estimator vs logged vLLM start-ups",
        "",
        "Source: `../shared/reference/vllm-startup-logs/cases.jsonl` (vLLM's own start-up logs). "
        "Error = (estimate - logged) / logged. Weights are per GPU (largest PP stage); KV tokens are vLLM's "
        "\"GPU KV cache size\". The GPU total is the catalog's usable memory, not the logged figure.",
        "",
    ]
    rows = [json.loads(l) for l in (SHARED / "cases.jsonl").read_text().splitlines() if l.strip()]
    results, skipped = run_cases(rows)
    s = summarize(results)
    lines += [
        f"**{s['rows']} usable rows: KV-cache tokens median |error| {s['tokens_median_abs_error'] * 100:.2f}%, "
        f"worst {s['tokens_max_abs_error'] * 100:.2f}%; weights worst {s['weights_max_abs_error'] * 100:.2f}%.** "
        "Test bounds (tests/test_memory.py): weights within 1%, tokens median <= 3% and none worse than 10%.",
        "",
        "| row | model | GPU | TP | PP | quant | KV | max_model_len | weights logged | est | err | KV tokens logged | est | err |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.row} | {r.model_id} | {r.gpu} | {r.tp} | {r.pp} | {r.quantization} | {r.kv_cache_dtype} | {r.max_model_len} | "
            f"{r.weights_logged:.2f} | {r.weights_est:.2f} | {r.weights_error * 100:+.2f}% | {r.tokens_logged} | {r.tokens_est} | {r.tokens_error * 100:+.2f}% |"
        )
    lines += ["", "Rows not used, and why:", ""]
    for row, why in skipped:
        lines.append(f"- row {row['row']} ({row['model_id']}, {row.get('gpu_type')}): {why}")
    import itl_tail  # bench/itl_tail.py: the ITL tail model against measured p99

    lines += [""] + perf_section() + itl_tail.section()
    extra = REPO / "docs" / "accuracy-sources.md"
    if extra.exists():
        lines += [extra.read_text()]
    out = REPO / "docs" / "accuracy.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out.relative_to(REPO)}: {s['rows']} memory rows and the performance report")
    return 0


if __name__ == "__main__":
    sys.exit(main())

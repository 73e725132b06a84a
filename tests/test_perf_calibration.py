"""The shipped performance parameters against the public perf corpus (no fitting here).

bench/fit_performance.py fits data/perf_params.json and records every held-out prediction in
bench/perf_cv.json; these tests check that what ships loads, belongs to the corpus it claims,
and still reproduces measured points within the error the cross-validation recorded.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest
from gpuforge.sizing.calibration import corpus_case, dataset_lengths, predict_case
from gpuforge.sizing.performance import GEN_PARAMS, GLOBAL_PARAMS, load_params

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "reference" / "perf-corpus"
CV = REPO / "bench" / "perf_cv.json"

needs_corpus = pytest.mark.skipif(not (CORPUS / "points.jsonl").exists(), reason="../shared/reference/perf-corpus not present")


def test_shipped_parameters_are_complete_and_physical():
    p = load_params()
    assert p.meta["fitted"] and p.meta["corpus"]["sha256"]
    for gen in ("hopper", "blackwell", "ampere", "ada", "cdna3"):
        g = p.generations[gen]
        assert 0 < g.mbu <= 1 and 0 < g.mfu <= 1  # fractions of datasheet peaks
        assert all(getattr(g, k) > 0 for k in GEN_PARAMS)
    assert all(p.glob[k] > 0 for k in GLOBAL_PARAMS)
    for k in ("pcie_eff", "qbw_int4", "qbw_fp4", "qbw_int8", "moe_eff"):
        assert p.glob[k] <= 1


@needs_corpus
def test_parameters_were_fitted_on_this_corpus():
    digest = hashlib.sha256((CORPUS / "points.jsonl").read_bytes()).hexdigest()
    assert load_params().meta["corpus"]["sha256"] == digest, "the corpus changed: re-run bench/fit_performance.py"


def _cv_rows() -> dict[str, dict]:
    return {r["point_id"]: r for r in json.loads(CV.read_text())["cases"]}


# One point per kind of setup (GPU generation x family x regime), chosen before looking at
# their errors; each must be reproduced within the p90 CV error recorded for its group.
HELD_OUT = [
    "aic-vllm-2026_04_06_llama_3_1_70b_h200_sxm_vllm_fp8_agg_1024x8192_c16_tp8",  # Hopper dense FP8, TP8
    "aic-vllm-minimaxm2_5_b200_vllm_fp4_agg_1024x1024_c64",  # Blackwell MoE NVFP4
    "aic-vllm-kimik2_5_b200_vllm_fp4_agg_1024x1024_c4",  # Blackwell MLA, batch 4
    "accelmark-nvidia_a100_sxm4_80gbx1_suite_C_nvidia_vllm_47f5d58e_6940965a-bf16-online-qps5",  # Ampere open loop
    "accelmark-nvidia_rtx_6000_ada_generationx1_suite_A_nvidia_vllm_47f5d58e_bd3b5d27-offline-c8",  # Ada PCIe burst
    "dstack-dsr1-online-mi300x-vllm-random-in3200-out800-c32",  # CDNA3 MLA
]


@needs_corpus
@pytest.mark.skipif(not CV.exists(), reason="bench/perf_cv.json not generated")
def test_held_out_points_within_recorded_cv_error():
    points = {json.loads(line)["point_id"]: json.loads(line) for line in (CORPUS / "points.jsonl").read_text().splitlines() if line.strip()}
    configs = json.loads((CORPUS / "model_configs.json").read_text())["models"]
    p50 = dataset_lengths(list(points.values()))
    rows = _cv_rows()
    groups = load_params().uncertainty["groups"]
    checked = 0
    for pid in HELD_OUT:
        match = [k for k in points if k.startswith(pid)]
        assert match, pid
        case = corpus_case(points[match[0]], configs, p50)
        assert not isinstance(case, str), case
        pred = predict_case(case)
        row = rows[case.point_id]
        g = groups.get(f"{case.generation}|{case.family}") or groups[case.generation]
        for m, v in case.measured.items():
            err = abs(pred[m] / v - 1)
            # the claim the report makes for this point: its group's p90 CV error, or its own
            # recorded held-out error if larger; slack (x1.25 + 5 points) for the parameters
            # moving between the CV's per-setup fits and the shipped full fit
            bound = max(g.get(f"{m}_p90", 0.0), abs(row["cv"][m] / v - 1)) * 1.25 + 0.05
            assert math.isfinite(pred[m]) and err <= bound, (case.point_id, m, pred[m], v, bound)
            checked += 1
    assert checked >= 8


@pytest.mark.parametrize(
    "kw",
    [
        dict(model="llama-3.1-8b-instruct", I=1000, O=300, conc=8, ttft=2000, itl=60),  # one small GPU
        dict(model="llama-3.3-70b-instruct", I=2000, O=400, conc=32, ttft=3000, itl=50, precision=["fp8"], instance_types=["p5.48xlarge"]),  # TP on NVLink
    ],
)
def test_estimate_json_reports_the_figures_the_planner_uses(kw, capsys):
    from gpuforge.cli import main
    from gpuforge.sizing.planner import engine_dtype, memory_quantization, plan_deployment, summary
    from tests_support import spec_of

    r = plan_deployment(spec_of(**kw))
    ev, c = r.chosen, r.chosen.candidate
    s = summary(ev, r.model)
    argv = [
        "estimate", "--model", r.model.key, "--gpu", c.instance.gpu, "--tp", str(c.tensor_parallel), "--pp", str(c.pipeline_parallel),
        "--max-model-len", str(ev.max_model_len), "--max-num-seqs", str(ev.max_num_seqs), "--quantization", memory_quantization(c.precision),
        "--dtype", engine_dtype(r.model, catalog_gpu(c.instance.gpu), c.precision), "--kv-cache-dtype", c.kv_cache_dtype,
        "--input-tokens", str(kw["I"]), "--output-tokens", str(kw["O"]), "--concurrency", str(ev.per_replica_concurrency), "--json",
    ]
    assert main(argv) == 0
    est = json.loads(capsys.readouterr().out)
    pred = s["predicted"]
    assert est["ttft_p95_ms"] == pytest.approx(pred["ttft_p95_ms"], abs=0.051)
    assert est["itl_p95_ms"] == pytest.approx(pred["itl_p95_ms"], abs=0.0051)
    assert est["output_tokens_per_s"] * c.replicas == pytest.approx(pred["output_tokens_per_s"], abs=0.051)
    # the uncertainty the plan carries is the estimate's
    assert pred["uncertainty"]["itl"] == pytest.approx(est["itl_error"], abs=0.0006) and pred["uncertainty"]["group"] == est["error_group"]


def catalog_gpu(gid):
    from gpuforge import catalog

    return catalog.get_gpu(gid)


def test_plan_review_weighs_sla_headroom_against_the_model_error():
    from gpuforge.report import margins
    from gpuforge.sizing.planner import plan_deployment
    from tests_support import spec_of

    tight = plan_deployment(spec_of(model="llama-3.1-8b-instruct", I=1000, O=300, conc=8, ttft=2000, itl=60))
    perf = tight.chosen.performance
    assert perf is not None and perf.error_group and perf.itl_error > 0
    row = next(r for r in margins(tight) if r["name"] == "model error")
    assert f"ITL ±{perf.itl_error * 100:.0f}%" in row["value"]
    itl_head = (60 - perf.itl_p95_ms) / 60
    ttft_head = (2000 - perf.ttft_p95_ms) / 2000
    covered = min(itl_head - perf.itl_error, ttft_head - perf.ttft_error) >= 0
    assert row["margin"] == ("SLA margins exceed it" if covered else "SLA margins are within it")


HOLDOUT = REPO / "bench" / "data" / "aic_holdout_points.jsonl"
EXTRA = REPO / "bench" / "data" / "extra_points.jsonl"


@needs_corpus
def test_validation_points_are_out_of_sample():
    """The held-out AIC rows and the other sources' points validate only if the fit never saw
    them: none may share a point id or a setup with the corpus, and the report keeps them apart."""
    corpus = [json.loads(line) for line in (CORPUS / "points.jsonl").read_text().splitlines() if line.strip()]
    ids, setups = {p["point_id"] for p in corpus}, {p["setup"] for p in corpus}
    for path in (HOLDOUT, EXTRA):
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        assert rows, path
        assert not ids & {r["point_id"] for r in rows}, path
        assert not setups & {r["setup"] for r in rows}, path
    cv = json.loads(CV.read_text())
    kinds = {r.get("extra") for r in cv["cases"]}
    assert {"heldout", "outside"} <= kinds  # both validation sets reach the report, marked


@needs_corpus
def test_held_out_aic_setups_within_the_reported_error():
    """Setups the corpus left out, predicted by the shipped parameters: their median TPOT / ITL
    error must meet the issue's 12% target too (docs/accuracy.md reports 6.7%)."""
    from gpuforge.sizing.calibration import load_corpus

    cases, _ = load_corpus(CORPUS, HOLDOUT)
    errs = sorted(abs(predict_case(c)["itl"] / c.measured["itl"] - 1) for c in cases if "itl" in c.measured)
    assert len(errs) >= 200
    assert errs[len(errs) // 2] <= 0.12  # the TPOT / ITL target, on setups never fitted

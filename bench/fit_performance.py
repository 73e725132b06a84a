"""Fit the performance model on the public perf corpus, cross-validate it, write the report.

    .venv/bin/python bench/fit_performance.py            # fit + leave-one-setup-out CV + docs
    .venv/bin/python bench/fit_performance.py --no-cv    # fit only (quick look)

One command does all of it:
1. restates every vLLM point of ../shared/reference/perf-corpus as predict() inputs
   (gpuforge.sizing.calibration.load_corpus; points that cannot be restated are listed with
   the reason in docs/accuracy.md);
2. fits the few parameters of gpuforge.sizing.performance (per GPU generation: bandwidth and
   compute efficiency, per-step / per-layer / per-MoE-layer costs; globally: all-reduce
   latencies, quantized-kernel and fused-MoE efficiencies, arrival variability, V0-engine
   overhead, per-request API cost) by robust least squares on log(predicted / measured), on
   grade A/B points, each point weighted setup_points^-0.25 so no source dominates, with weak
   priors that keep unidentified parameters at physical values; the TTFT of a finite open-loop
   run the engine cannot keep up with (at the priors) is the run's queue and is reported, not
   fitted (queue_ttft_points);
3. leave-one-setup-out: for every setup, the parameters without it (one Gauss-Newton step
   from the full fit with that setup's points removed; `--exact N` also refits the N largest
   setups from scratch and reports how far the step is from a full refit) predict it;
4. writes components/gpuforge/sizing/data/perf_params.json (parameters, date, corpus hash,
   CV error per GPU generation x model family for the plan's uncertainty), bench/perf_cv.json
   (every held-out prediction) and regenerates docs/accuracy.md via bench/accuracy.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import multiprocessing as mp
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "components"))

from gpuforge.sizing.calibration import PerfCase, load_corpus, predict_case  # noqa: E402
from gpuforge.sizing.performance import (  # noqa: E402
    GEN_PARAMS,
    GLOBAL_PARAMS,
    KERNEL_GENERATION,
    PerfParams,
    load_params,
    params_from_dict,
    predict,
)

CORPUS = REPO.parent / "shared" / "reference" / "perf-corpus"
PARAMS_OUT = REPO / "components" / "gpuforge" / "sizing" / "data" / "perf_params.json"
CV_OUT = REPO / "bench" / "perf_cv.json"
# Measurements from outside the corpus (docs/accuracy-sources.md): validation only, never fitted
EXTRA = REPO / "bench" / "data" / "extra_points.jsonl"
# AIConfigurator rows the corpus left out (bench/derive_aic_holdout.py): validation only, never fitted
HOLDOUT = REPO / "bench" / "data" / "aic_holdout_points.jsonl"

# Priors: physical values a parameter returns to when the corpus cannot pin it down
# (log-normal, sigma in log units). Efficiencies are bounded by 1.
PRIOR_GEN = {"mbu": (0.8, 0.5), "mfu": (0.5, 0.7), "step_ms": (1.0, 1.5), "layer_us": (10.0, 1.5), "moe_layer_us": (40.0, 1.5)}
PRIOR_GLOBAL = {
    "tp_sync_us": (10.0, 1.0), "qbw_nvfp4": (0.4, 0.5), "kv_eff": (0.7, 0.7), "qbw_fp8": (0.85, 0.4), "qmfu_fp8": (0.7, 0.4), "qmfu_fp4": (0.6, 0.4), "qbw_fp8b": (0.5, 0.5), "qmfu_fp8b": (0.6, 0.4), "qbw_int4_moe": (0.6, 0.5), "qbw_fp8b_moe": (0.5, 0.5),
    "ar_nvlink_us": (8.0, 1.0), "ar_pcie_us": (30.0, 1.0), "pcie_eff": (0.5, 0.7), "pcie_host_eff": (0.3, 0.7), "qbw_int4": (0.8, 0.5), "qbw_fp4": (0.8, 0.5),
    "qbw_int8": (0.9, 0.5), "moe_eff": (0.5, 0.7), "route_skew": (0.3, 1.5), "act_quant_us": (10.0, 1.5), "ca2_closed": (1.0, 1.0), "v0_step": (1.5, 0.7), "request_ms": (10.0, 1.0),
    "seq_us": (20.0, 1.5), "v0_seq_us": (60.0, 1.5), "v0_stream_us": (60.0, 1.5), "sync_step_ms": (1.0, 1.5), "sync_seq_us": (10.0, 1.5), "closed_rounds": (10.0, 1.0),
}
UPPER_ONE = {"mbu", "mfu", "pcie_eff", "pcie_host_eff", "qbw_int4", "qbw_fp4", "qbw_nvfp4", "qbw_int8", "qbw_fp8", "qmfu_fp8", "qmfu_fp4", "qbw_fp8b", "qmfu_fp8b", "qbw_int4_moe", "qbw_fp8b_moe", "moe_eff", "kv_eff"}
KERNEL_SIGMA = 0.25


def kernel_priors() -> dict[tuple[str, str], tuple[float, float]]:
    """Priors grounded in the measured kernel tables (data/kernel_tables.json): per generation
    the 16-bit GEMM's achieved fractions of peak (mbu from GEMVs, mfu from large GEMMs), and
    globally the FP8 / NVFP4 kernels' efficiency relative to the 16-bit ones."""
    from gpuforge.sizing.performance import kernel_tables

    acc: dict[tuple[str, str], list[float]] = defaultdict(list)
    for system, e in kernel_tables()["systems"].items():
        gen, gemm = KERNEL_GENERATION.get(system), e.get("gemm", {})
        bf = gemm.get("bfloat16") or {}
        if not gen or not bf:
            continue
        acc[(gen, "mbu")].append(bf["bandwidth_eff"])
        acc[(gen, "mfu")].append(bf["compute_eff"])
        for d, bw_key, cmp_key in (("fp8", "qbw_fp8", "qmfu_fp8"), ("fp8_block", "qbw_fp8b", "qmfu_fp8b"), ("nvfp4", "qbw_nvfp4", "qmfu_fp4")):
            q = gemm.get(d) or {}
            if q.get("bandwidth_eff"):
                acc[("global", bw_key)].append(q["bandwidth_eff"] / bf["bandwidth_eff"])
            if q.get("compute_eff"):
                acc[("global", cmp_key)].append(q["compute_eff"] / bf["compute_eff"])
    return {k: (statistics.mean(v), KERNEL_SIGMA if k[0] != "global" else 0.4) for k, v in acc.items()}
METRICS = ("ttft", "itl", "throughput")
# each point weighs setup_points^-power: > 0 keeps the biggest setups from dominating (the
# corpus README's advice), 0 would weigh points as the median over points does. 0.25 halves
# the weight of a 16-point setup's points (0.5, the earlier choice, quartered it and let
# ~12-point AccelMark setups of old V0 builds set the shared Hopper / Ampere parameters)
SETUP_WEIGHT_POWER = float(__import__("os").environ.get("GPUFORGE_FIT_SETUP_POWER", "0.25"))
LOSS_SCALE = 0.15  # soft-L1 knee in log units: beyond ~15% a point counts linearly (robust)


class Space:
    """Maps the parameter vector (logs) to PerfParams for the generations present."""

    def __init__(self, gens: list[str], base: PerfParams):
        self.gens = gens
        self.base = base
        self.names = [(g, k) for g in gens for k in GEN_PARAMS] + [("global", k) for k in GLOBAL_PARAMS]

    def x0(self, params: PerfParams) -> np.ndarray:
        v = []
        for g, k in self.names:
            v.append(math.log(params.glob[k] if g == "global" else getattr(params.gen(g), k)))
        return np.array(v)

    def bounds(self):
        lo = np.full(len(self.names), -12.0)
        hi = np.array([0.0 if k in UPPER_ONE else 8.0 for _, k in self.names])
        return lo, hi

    def prior(self) -> tuple[np.ndarray, np.ndarray]:
        if not hasattr(self, "_prior"):
            kp = kernel_priors()
            pri = [kp.get((g, k)) or (PRIOR_GLOBAL[k] if g == "global" else PRIOR_GEN[k]) for g, k in self.names]
            self._prior = (np.array([math.log(m) for m, _ in pri]), np.array([s for _, s in pri]))
        return self._prior

    def params(self, x: np.ndarray) -> PerfParams:
        gens: dict[str, dict[str, float]] = {g: dict(vars(p)) for g, p in self.base.generations.items()}
        glob: dict[str, float] = dict(self.base.glob)
        for (g, k), v in zip(self.names, x, strict=True):
            val = float(math.exp(v))
            if g == "global":
                glob[k] = val
            else:
                gens[g][k] = val
        return params_from_dict({"generations": gens, "global": glob})


def _weights(cases: list[PerfCase]) -> list[float]:
    n: dict[str, int] = defaultdict(int)
    for c in cases:
        n[c.setup] += 1
    return [n[c.setup] ** -SETUP_WEIGHT_POWER for c in cases]


# TTFT rows the fit leaves out (the CV and the report keep them): see queue_ttft_points
QUEUE_TTFT: set[str] = set()


def _rows(cases: list[PerfCase]) -> list[tuple[int, str, float]]:
    return [(i, m, v) for i, c in enumerate(cases) for m, v in c.measured.items() if not (m == "ttft" and c.point_id in QUEUE_TTFT)]


def queue_ttft_points(cases: list[PerfCase], start: PerfParams) -> set[str]:
    """Finite open-loop runs whose arrivals outpace the engine at the priors' centres: their
    TTFT is how long the run's queue grew, set by the arrival schedule and the run's length as
    much as by the engine, and one point's TTFT of seconds would pull the shared prefill and
    per-step costs (as a burst's TTFT would: calibration.corpus_case drops those). Their ITL
    and throughput are fitted; their TTFT is predicted (performance._finite_run) and reported.
    Decided once, at the fixed priors, so the set does not move with the fit."""
    out = set()
    for c in cases:
        w = c.workload
        if w.request_rate and w.num_requests and "ttft" in c.measured:
            steady = predict(c.model, c.layout, replace(w, num_requests=None), c.memory, start)
            if not math.isfinite(steady.ttft_ms):  # no steady state: the queue grows all run
                out.add(c.point_id)
    return out


def residuals(x, space: Space, cases, weights, rows):
    p = space.params(x)
    preds: list[dict[str, float] | None] = [None] * len(cases)
    out = np.empty(len(rows) + len(x))
    for j, (i, m, v) in enumerate(rows):
        if preds[i] is None:
            try:
                preds[i] = predict_case(cases[i], p)
            except (ZeroDivisionError, OverflowError, ValueError):
                preds[i] = {}
        pv = (preds[i] or {}).get(m, float("nan"))
        r = math.log(pv / v) if pv and math.isfinite(pv) and pv > 0 else 3.0
        out[j] = weights[i] * max(-3.0, min(3.0, r))
    mu, sd = space.prior()
    out[len(rows):] = (x - mu) / sd * 0.3
    return out


def _sparsity(space: Space, cases, rows):
    from scipy.sparse import lil_matrix

    m = lil_matrix((len(rows) + len(space.names), len(space.names)), dtype=int)
    for j, (i, _, _) in enumerate(rows):
        g = cases[i].generation
        for k, (pg, _) in enumerate(space.names):
            if pg == "global" or pg == g:
                m[j, k] = 1
    for k in range(len(space.names)):
        m[len(rows) + k, k] = 1
    return m


def loso_newton(cases: list[PerfCase], full: PerfParams, train: list[PerfCase]) -> dict[str, PerfParams]:
    """Leave-one-setup-out parameters, each one Gauss-Newton step from the full fit.

    At the full fit the weighted gradient sum_i w_i J_i r_i (plus the prior's) is zero, so the
    fit without setup s starts with gradient -g_s; one Newton step with the Hessian of the
    remaining points gives theta_-s = theta + (H - H_s)^-1 g_s (robust soft-L1 weights w_i
    frozen at the full fit). `--exact N` refits N setups from scratch to check the step.
    """
    gens = sorted({c.generation for c in train})
    space = Space(gens, full)
    rows = _rows(train)
    w = _weights(train)
    x0 = space.x0(full)
    r0 = residuals(x0, space, train, w, rows)
    J = np.empty((len(r0), len(x0)))
    for k in range(len(x0)):
        h = 1e-3
        x = x0.copy()
        x[k] += h
        J[:, k] = (residuals(x, space, train, w, rows) - r0) / h
    n = len(rows)
    z = (r0[:n] / (LOSS_SCALE * 0.3)) ** 2
    rw = np.concatenate([1 / np.sqrt(1 + z), np.ones(len(x0))])  # soft-L1 IRLS weights; prior rows plain
    H = (J * rw[:, None]).T @ J
    owner = [train[i].setup for i, _, _ in rows]
    out = {}
    lo, hi = space.bounds()
    for setup in sorted({c.setup for c in cases}):
        idx = [j for j, o in enumerate(owner) if o == setup]
        if not idx:
            out[setup] = full  # never in the fit (grade C): the full fit is already out-of-sample
            continue
        Js, rs, ws = J[idx], r0[idx], rw[idx]
        g_s = (Js * ws[:, None]).T @ rs
        H_s = (Js * ws[:, None]).T @ Js
        step = np.linalg.solve(H - H_s + 1e-9 * np.eye(len(x0)), g_s)
        out[setup] = space.params(np.clip(x0 + step, lo, hi))
    return out


def fit(cases: list[PerfCase], start: PerfParams, max_nfev: int = 60, verbose: int = 0) -> PerfParams:
    gens = sorted({c.generation for c in cases})
    space = Space(gens, start)
    rows = _rows(cases)
    w = _weights(cases)
    lo, hi = space.bounds()
    x0 = np.clip(space.x0(start), lo + 1e-6, hi - 1e-6)
    res = least_squares(residuals, x0, args=(space, cases, w, rows), bounds=(lo, hi), loss="soft_l1", f_scale=LOSS_SCALE * 0.3,
                        jac_sparsity=_sparsity(space, cases, rows), max_nfev=max_nfev, x_scale=1.0, verbose=verbose, diff_step=1e-3)
    return space.params(res.x)


def prior_start(cases: list[PerfCase], base: PerfParams) -> PerfParams:
    """The priors' centres for every parameter the corpus can move (generations without
    measurements keep `base`): the fit starts here, not from the shipped file, so that the
    one command reproduces the same parameters however often it runs."""
    space = Space(sorted({c.generation for c in cases}), base)
    mu, _ = space.prior()
    lo, hi = space.bounds()
    return space.params(np.clip(mu, lo + 1e-6, hi - 1e-6))


def fit_set(cases: list[PerfCase]) -> list[PerfCase]:
    """Cases the fit may use: grade A / B (the corpus README: C rows are for sanity checks)."""
    return [c for c in cases if c.grade in ("A", "B")]


_G: dict = {}


def _fold(setup: str):
    cases, full = _G["cases"], _G["full"]
    train = [c for c in fit_set(cases) if c.setup != setup]
    held = [c for c in cases if c.setup == setup]
    p = fit(train, full, max_nfev=_G["fold_nfev"])
    return [(c.point_id, predict_case(c, p)) for c in held]


def params_json(p: PerfParams, uncertainty: dict, meta: dict) -> dict:
    return {
        **meta,
        "generations": {g: {k: round(getattr(v, k), 6) for k in GEN_PARAMS} for g, v in sorted(p.generations.items())},
        "global": {k: round(p.glob[k], 6) for k in GLOBAL_PARAMS},
        "uncertainty": uncertainty,
    }


def uncertainty_groups(cases: list[PerfCase], cv: dict[str, dict[str, float]]) -> dict:
    """Median |CV error| per metric for each (generation|family), generation and overall."""
    acc: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for c in cases:
        pred = cv.get(c.point_id) or {}
        for m, v in c.measured.items():
            if m in pred and pred[m] and math.isfinite(pred[m]):
                e = abs(pred[m] / v - 1)
                for key in (f"{c.generation}|{c.family}", c.generation, "all"):
                    acc[key][m].append(e)
    groups = {}
    for key, by in acc.items():
        n = sum(len(v) for v in by.values())
        if key != "all" and n < 10:
            continue
        groups[key] = {m: round(statistics.median(v), 4) for m, v in by.items() if v}
        groups[key] |= {f"{m}_p90": round(sorted(v)[int(0.9 * (len(v) - 1))], 4) for m, v in by.items() if v} | {"points": n}
    return {"statistic": "median (and p90) |predicted/measured - 1| under leave-one-setup-out CV", "groups": dict(sorted(groups.items()))}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-cv", action="store_true")
    ap.add_argument("--nfev", type=int, default=int(__import__("os").environ.get("GPUFORGE_FIT_NFEV", "400")), help="fit iterations (0: keep the shipped parameters, re-run CV and report)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--fold-nfev", type=int, default=12)
    ap.add_argument("--exact", type=int, default=4, help="also refit this many of the largest setups exactly (checks the one-step CV)")
    ap.add_argument("--verbose", type=int, default=0)
    args = ap.parse_args()
    t0 = time.time()
    cases, skipped = load_corpus(CORPUS)
    train = fit_set(cases)
    print(f"{len(cases)} cases ({len(train)} grade A/B for fitting), {len(skipped)} points left out", flush=True)
    start = prior_start(train, load_params())
    QUEUE_TTFT.update(queue_ttft_points(train, start))
    print(f"{len(QUEUE_TTFT)} TTFTs of runs the engine cannot keep up with are reported, not fitted", flush=True)
    full = fit(train, start, max_nfev=args.nfev, verbose=args.verbose) if args.nfev else load_params()
    print(f"full fit {time.time() - t0:.0f} s", flush=True)
    cv: dict[str, dict[str, float]] = {}
    exact: dict[str, float] = {}
    if not args.no_cv:
        per_setup = loso_newton(cases, full, train)
        for c in cases:
            cv[c.point_id] = predict_case(c, per_setup[c.setup])
        print(f"leave-one-setup-out (Newton step per setup) {time.time() - t0:.0f} s", flush=True)
        if args.exact:
            # check the one-step approximation on the largest fitted setups with true refits
            sizes: dict[str, int] = defaultdict(int)
            for c in train:
                sizes[c.setup] += 1
            chosen = sorted(sizes, key=lambda k: -sizes[k])[: args.exact]
            _G.update(cases=cases, full=full, fold_nfev=args.fold_nfev)
            with mp.get_context("fork").Pool(args.jobs) as pool:
                for out in pool.imap_unordered(_fold, chosen):
                    for pid, pred in out:
                        case = next(c for c in cases if c.point_id == pid)
                        for m, v in case.measured.items():
                            exact[f"{pid}|{m}"] = abs(pred[m] / v - 1) - abs(cv[pid][m] / v - 1)
            print(f"exact refits of {len(chosen)} setups ({', '.join(chosen)}): median |error| change vs the Newton step "
                  f"{statistics.median(exact.values()) * 100:+.2f} points, max {max(exact.values(), key=abs) * 100:+.1f}", flush=True)
    insample = {c.point_id: predict_case(c, full) for c in cases}
    extra_cases: list[tuple[str, PerfCase]] = []
    extra_skipped: list[tuple[str, dict, str]] = []
    for kind, path in (("outside", EXTRA), ("heldout", HOLDOUT)):
        if path.exists():
            got, left = load_corpus(CORPUS, path)
            extra_cases += [(kind, c) for c in got]
            extra_skipped += [(kind, p, r) for p, r in left]
    corpus_hash = hashlib.sha256((CORPUS / "points.jsonl").read_bytes()).hexdigest()
    meta = {
        "about": "Fitted by bench/fit_performance.py; do not edit by hand. Meaning of each parameter: gpuforge/sizing/performance.py.",
        "fitted": dt.date.today().isoformat(),
        "corpus": {"path": "../shared/reference/perf-corpus/points.jsonl", "sha256": corpus_hash, "points_used": len(cases), "points_fitted": len(train)},
    }
    unc = uncertainty_groups(cases, cv) if cv else load_params().uncertainty
    PARAMS_OUT.write_text(json.dumps(params_json(full, unc, meta), indent=1) + "\n")
    if cv:
        rows = []
        for c in cases:
            rows.append({
                "point_id": c.point_id, "setup": c.setup, "source": c.source, "grade": c.grade, "gpu_type": c.gpu_type, "generation": c.generation,
                "model_id": c.model_id, "family": c.family, "precision": c.precision, "tp": c.layout.tensor_parallel, "pp": c.layout.pipeline_parallel,
                "regime": c.regime, "load": c.load, "input_tokens": c.workload.input_tokens, "output_tokens": c.workload.output_tokens,
                "measured": c.measured, "cv": {m: round(v, 4) for m, v in (cv.get(c.point_id) or {}).items()},
                "fit": {m: round(v, 4) for m, v in insample[c.point_id].items()},
            })
        skipped_rows = [{"point_id": p["point_id"], "engine": p["engine"], "reason": r} for p, r in skipped]
        skipped_rows += [{"point_id": p["point_id"], "engine": p["engine"], "reason": r, "extra": kind} for kind, p, r in extra_skipped]
        for kind, c in extra_cases:  # never fitted: the full fit's prediction is out-of-sample
            pred = predict_case(c, full)
            rows.append({
                "point_id": c.point_id, "setup": c.setup, "source": c.source, "grade": c.grade, "gpu_type": c.gpu_type, "generation": c.generation,
                "model_id": c.model_id, "family": c.family, "precision": c.precision, "tp": c.layout.tensor_parallel, "pp": c.layout.pipeline_parallel,
                "regime": c.regime, "load": c.load, "input_tokens": c.workload.input_tokens, "output_tokens": c.workload.output_tokens,
                "measured": c.measured, "cv": {m: round(v, 4) for m, v in pred.items()}, "fit": {m: round(v, 4) for m, v in pred.items()}, "extra": kind,
            })
        cv_meta = {**meta, "cv": "leave-one-setup-out, one Gauss-Newton step from the full fit per setup",
                   "exact_refits": {"setups": args.exact, "median_abs_error_change": statistics.median(exact.values()) if exact else None,
                                    "max_abs_error_change": max(exact.values(), key=abs) if exact else None}}
        body = ",\n".join(json.dumps(r, separators=(",", ":")) for r in rows)
        skipped_body = ",\n".join(json.dumps(r, separators=(",", ":")) for r in skipped_rows)
        CV_OUT.write_text(f'{{"meta": {json.dumps(cv_meta)},\n"cases": [\n{body}\n],\n"skipped": [\n{skipped_body}\n]}}\n')
    errs = defaultdict(list)
    for c in cases:
        src = cv.get(c.point_id) if cv else insample[c.point_id]
        for m, v in c.measured.items():
            if src and m in src:
                errs[m].append(abs(src[m] / v - 1))
    label = "CV" if cv else "in-sample"
    for m in METRICS:
        if errs[m]:
            print(f"{label} {m}: median |error| {statistics.median(errs[m]) * 100:.1f}% over {len(errs[m])}")
    print(f"done in {time.time() - t0:.0f} s; wrote {PARAMS_OUT.relative_to(REPO)}" + (f", {CV_OUT.relative_to(REPO)}" if cv else ""))
    if cv:
        import accuracy  # bench/accuracy.py: regenerates docs/accuracy.md from the files just written

        load_params.cache_clear()  # the report's issue examples predict with the parameters just written

        accuracy.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmarks of the sizing engine; appends nothing, prints a Markdown table to paste into
bench/RESULTS.md.

    .venv/bin/python bench/bench_sizing.py

Targets: `gpuforge estimate` under 2 ms per in-process call; the planner under 50 ms for one
spec over the full catalog (issue 14) and under 2 s for 50 specs in one process.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def cold_estimate(n: int = 5) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "gpuforge", "estimate", "--model", "llama-3.1-70b-instruct", "--gpu", "h100-80gb", "--tp", "4", "--json"], check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def warm_estimate(n: int = 2000) -> float:
    from gpuforge import catalog
    from gpuforge.sizing.memory import MemoryInputs, estimate_memory
    from gpuforge.sizing.models import resolve

    models = [resolve(m.id) for m in catalog.all_models()]
    gpu = catalog.get_gpu("h100-80gb")
    t = time.perf_counter()
    for i in range(n):
        m = models[i % len(models)]
        estimate_memory(m.arch, gpu, MemoryInputs(tensor_parallel=8, max_model_len=8192))
    return (time.perf_counter() - t) / n


def spec(i: int):
    from gpuforge.spec import load_spec

    models = ["llama-3.1-8b-instruct", "qwen2.5-14b-instruct", "llama-3.3-70b-instruct", "mistral-small-3.1-24b-instruct", "qwen3-30b-a3b"]
    return load_spec({
        "name": f"b{i}",
        "model": {"id": models[i % len(models)], "precision": ["bf16", "fp8"]},
        "workload": {"input_tokens": 500 + 97 * i, "output_tokens": 100 + 13 * i, "peak_concurrency": 4 + i},
        "sla": {"ttft_p95_ms": 1500 + 100 * (i % 7), "itl_p95_ms": 40 + 5 * (i % 5)},
        "target": {"cloud": "either"},
    })


def _plan_once(s) -> float:
    from gpuforge.sizing import planner

    planner._MEMO.clear()
    planner._PINNED.clear()
    t = time.perf_counter()
    try:
        planner.plan_deployment(s)
    except planner.NoFeasiblePlan:
        pass
    return time.perf_counter() - t


def planner_first() -> float:
    """The first plan in a process: includes loading the catalog, prices and fitted parameters."""
    return _plan_once(spec(2))


def planner_one() -> float:
    """One spec with the planner's memo cleared (median of 7), after the process-wide data is loaded."""
    s = spec(2)
    _plan_once(s)
    return statistics.median(_plan_once(s) for _ in range(7))


def planner_fifty() -> float:
    from gpuforge.sizing import planner

    specs = [spec(i) for i in range(50)]
    planner._MEMO.clear()
    planner._PINNED.clear()
    t = time.perf_counter()
    for s in specs:
        try:
            planner.plan_deployment(s)
        except planner.NoFeasiblePlan:
            pass
    return time.perf_counter() - t


def main() -> None:
    rows = [
        ("gpuforge estimate, cold process (median of 5)", f"{cold_estimate() * 1e3:.0f} ms", "-"),
        ("estimate_memory in-process, per call", f"{warm_estimate() * 1e3:.3f} ms", "< 2 ms"),
        ("planner, first spec in a process (loads catalog, prices, fitted parameters)", f"{planner_first() * 1e3:.0f} ms", "-"),
        ("planner, one spec, both clouds, full catalog (memo cleared, median of 7)", f"{planner_one() * 1e3:.0f} ms", "< 50 ms"),
        ("planner, 50 specs in one process", f"{planner_fifty():.2f} s", "< 2 s"),
    ]
    print("| benchmark | result | target |\n|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} |")


if __name__ == "__main__":
    main()

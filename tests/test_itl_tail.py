"""ITL p95 / p99 are percentiles of the per-token latency (issue 10, item 6).

Each decode step gives every running sequence one token, so the per-token latency is the step
time; steps that carry prompt chunks (chunked prefill) are slower. The model counts the chunks
per step as Poisson (random arrivals) and takes the quantile of the step time over it.
"""

from __future__ import annotations

import itertools
import math

import pytest
from gpuforge import catalog
from gpuforge.sizing.memory import MemoryInputs, estimate_memory
from gpuforge.sizing.models import resolve
from gpuforge.sizing.performance import (
    Layout,
    StepModel,
    Workload,
    _poisson_quantile,
    load_params,
    predict,
)
from hypothesis import given, settings
from hypothesis import strategies as st

H100 = catalog.get_gpu("h100-80gb")
M = resolve("llama-3.1-8b-instruct")
MEM = estimate_memory(M.arch, H100, MemoryInputs(max_model_len=16384))
LAYOUT = Layout(gpu=H100)


def run(I=1024, O=256, c=None, rate=None):
    return predict(M, LAYOUT, Workload(I, O, concurrency=c, request_rate=rate), MEM)


@pytest.mark.parametrize("mean", [0.0, 0.01, 0.0512, 0.0514, 0.3, 1.0, 2.5, 7.0, 40.0])
@pytest.mark.parametrize("q", [0.5, 0.95, 0.99])
def test_poisson_quantile_is_the_smallest_j_reaching_q(mean, q):
    j = _poisson_quantile(mean, q)
    cdf = lambda k: sum(math.exp(-mean) * mean**i / math.factorial(i) for i in range(k + 1))  # noqa: E731
    assert cdf(j) >= q - 1e-12
    assert j == 0 or cdf(j - 1) < q


@settings(max_examples=60, deadline=None)
@given(I=st.integers(32, 12000), O=st.integers(8, 2000), c=st.integers(1, 256))
def test_tail_is_ordered_and_never_below_the_mean(I, O, c):
    p = run(I=I, O=O, c=c)
    assert p.itl_ms <= p.itl_p95_ms <= p.itl_p99_ms


def test_light_traffic_keeps_p95_on_the_plain_decode_step_but_p99_sees_the_stalls():
    # prompts arrive so that between 1% and 5% of steps carry a prompt chunk: the 95th
    # percentile is the plain step (floored at the mean), the 99th the stalled one
    I, O = 1024, 256
    p = run(I=I, O=O, rate=3)
    sm = StepModel(M, LAYOUT, MEM, load_params())
    prompts_per_step = p.requests_per_s * p.itl_ms / 1000
    assert 0.01 < 1 - math.exp(-prompts_per_step) < 0.05, prompts_per_step
    stalled = sm.step_s(p.concurrency, I + O / 2, I, I / 2) * 1000
    assert p.itl_p99_ms == pytest.approx(stalled, rel=1e-6)
    assert p.itl_p95_ms == pytest.approx(max(p.decode_step_ms, p.itl_ms), rel=1e-6)
    assert p.itl_p95_ms < stalled / 2


def test_several_prompt_chunks_per_step_make_the_tail_longer_than_one_chunk():
    # short prompts at a high rate: several prompts land in one step; the tail is the step
    # that runs several of them (up to the token budget), not a step with one prompt
    I, O = 256, 64
    p = run(I=I, O=O, c=192)
    sm = StepModel(M, LAYOUT, MEM, load_params())
    prompts_per_step = p.requests_per_s * p.itl_ms / 1000
    assert prompts_per_step > 1.5, prompts_per_step
    one_prompt = sm.step_s(p.concurrency, I + O / 2, I, I / 2) * 1000
    assert p.itl_p95_ms > one_prompt * 1.02
    assert p.itl_p99_ms > p.itl_p95_ms


def test_p95_grows_with_the_request_rate():
    rates = [0.2, 1, 2, 4, 8, 16]
    tails = [run(I=1024, O=256, rate=r).itl_p95_ms for r in rates]
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(tails)), tails
    assert tails[-1] > tails[0] * 1.2, tails

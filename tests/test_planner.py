"""Planner properties: never over memory, never TP across nodes, exactly the cheapest feasible."""

from __future__ import annotations

import pytest
from gpuforge.errors import SpecError
from gpuforge.sizing.planner import NoFeasiblePlan, brute_force, evaluate, plan_deployment
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests_support import spec_of

MODELS = ["llama-3.1-8b-instruct", "qwen2.5-14b-instruct", "mistral-7b-instruct-v0.3", "phi-4", "qwen3-30b-a3b", "gemma-2-9b-it"]


random_specs = st.builds(
    spec_of,
    model=st.sampled_from(MODELS[:4]),
    I=st.integers(128, 4096),
    O=st.integers(32, 1024),
    conc=st.integers(1, 48),
    ttft=st.sampled_from([800, 1500, 3000, 10000]),
    itl=st.sampled_from([25, 40, 80, 150]),
    cloud=st.sampled_from(["aws", "azure"]),
    families=st.sampled_from([None, ["g5", "g6", "g6e"], ["g6e", "p4d", "p5"], ["NCads_A100_v4", "NVads_A10_v5"], None]),
    precision=st.sampled_from([None, ["bf16", "fp8"]]),
    kv=st.sampled_from(["auto", ["auto", "fp8"]]),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=random_specs)
def test_plan_is_exactly_the_brute_force_cheapest(spec):
    try:
        result = plan_deployment(spec)
    except NoFeasiblePlan:
        assert brute_force(spec) is None
        return
    best = brute_force(spec)
    assert best is not None
    assert result.chosen.sort_key() == best.sort_key(), f"{result.chosen.candidate.describe()} vs {best.candidate.describe()}"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=random_specs)
def test_chosen_plan_fits_memory_and_keeps_tp_in_a_node(spec):
    try:
        result = plan_deployment(spec, alternatives="all")
    except NoFeasiblePlan:
        return
    for ev in [result.chosen, *result.alternatives]:
        c = ev.candidate
        assert ev.memory.fits
        assert ev.memory.kv_cache_tokens >= ev.per_replica_concurrency * (spec.workload.input_tokens + spec.workload.output_tokens)
        assert c.tensor_parallel <= c.instance.gpu_count  # never TP across nodes
        assert c.tensor_parallel * c.pipeline_parallel <= c.instance.gpu_count * c.nodes_per_replica
        assert ev.performance.ttft_p95_ms <= spec.sla.ttft_p95_ms
        assert ev.performance.itl_p95_ms <= spec.sla.itl_limit_ms()
    costs = [e.cost_per_month for e in [result.chosen, *result.alternatives]]
    assert costs == sorted(costs)


def test_memory_infeasible_is_rejected_with_the_reason():
    # 70B in bf16 is ~131 GiB: more than one L4 (22 GiB) or four (88 GiB)
    spec = spec_of(model="llama-3.1-70b-instruct", cloud="aws", conc=4, instance_types=["g6.xlarge", "g6.4xlarge", "g6.12xlarge"])
    with pytest.raises(NoFeasiblePlan) as exc:
        plan_deployment(spec)
    first = exc.value.problems[0]
    assert "binding constraint is memory" in first.reason
    assert "fp8" in first.fix
    assert any(p.path == "closest" for p in exc.value.problems)


def test_latency_sla_binding():
    spec = spec_of(ttft=5, itl=1)
    with pytest.raises(NoFeasiblePlan) as exc:
        plan_deployment(spec)
    assert exc.value.problems[0].path in ("sla.ttft_p95_ms", "sla.itl_p95_ms")
    assert "To fix" in str(exc.value)


def test_budget_binding():
    spec = spec_of(model="llama-3.1-70b-instruct", budget=500, precision=["bf16", "fp8"])
    with pytest.raises(NoFeasiblePlan) as exc:
        plan_deployment(spec)
    assert exc.value.problems[0].path == "budget.max_monthly_usd"


def test_pipeline_across_nodes_needs_a_fabric():
    from gpuforge import catalog
    from gpuforge.sizing.planner import Candidate

    # 405B at fp8 (~380 GiB) does not fit one 8x L40S node (8 x 44 GiB); two nodes over EFA do
    spec = spec_of(model="llama-3.1-405b-instruct", families=["g6e"], conc=2, ttft=60000, itl=2000,
                   max_nodes_per_replica=2, precision=["fp8"], zone="us-east-1a")
    chosen = plan_deployment(spec).chosen.candidate
    assert chosen.nodes_per_replica == 2 and chosen.instance.node_fabric == "efa"
    assert chosen.tensor_parallel == 8 and chosen.pipeline_parallel == 2
    # the same layout on an instance without EFA/InfiniBand is refused with the reason
    nc = catalog.get_instance("Standard_NC96ads_A100_v4")
    azure = spec_of(model="llama-3.1-405b-instruct", cloud="azure", conc=2, precision=["fp8"], max_nodes_per_replica=2)
    ev = evaluate(azure, plan_deployment.__globals__["resolve"]("llama-3.1-405b"), Candidate("azure", "eastus", nc, 2, 4, 2, "fp8", "auto", 1))
    assert "fabric" in ev.kinds and any("neither EFA nor InfiniBand" in r for r in ev.reasons)


def test_multi_node_plan_without_zone_is_a_spec_error_listing_zones():
    spec = spec_of(model="llama-3.1-405b-instruct", families=["p5"], conc=8, ttft=20000, itl=200, max_nodes_per_replica=2)
    with pytest.raises(SpecError) as exc:
        plan_deployment(spec)
    p = exc.value.problems[0]
    assert p.path == "target.zone" and "us-east-1a" in p.fix


def test_min_replicas_and_evaluate_reasons():
    spec = spec_of(min_replicas=3)
    result = plan_deployment(spec)
    assert result.chosen.candidate.replicas >= 3
    from gpuforge.sizing.planner import _with_replicas

    ev = evaluate(spec, result.model, _with_replicas(result.chosen.candidate, 1))
    assert not ev.feasible and "availability" in ev.kinds

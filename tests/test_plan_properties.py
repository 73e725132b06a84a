"""Property: every chosen plan satisfies every engine and placement rule, and what the serving
component renders (the `vllm serve` flags, the pod requests) agrees with the plan."""

from __future__ import annotations

from gpuforge import catalog
from gpuforge.cloud import allocatable as al
from gpuforge.engine import vllm as engine
from gpuforge.errors import SpecError
from gpuforge.k8s.model_server import ModelServerArgs
from gpuforge.sizing.planner import plan_deployment
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests_support import spec_of

MODELS = ["llama-3.1-8b-instruct", "qwen2.5-7b-instruct", "gemma-2-9b-it", "qwen3-30b-a3b-fp8", "gpt-oss-20b", "phi-2", "mistral-7b-instruct-v0.3"]


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    model=st.sampled_from(MODELS),
    conc=st.integers(1, 48),
    itl=st.sampled_from([40, 60, 100]),
    mml=st.sampled_from([4096, 8192]),
    min_replicas=st.integers(1, 3),
    precision=st.sampled_from([None, ["bf16", "fp8"], ["fp16"]]),
    kv=st.sampled_from(["auto", ["auto", "fp8"]]),
    families=st.sampled_from([None, ["g4dn", "g5", "g6"], ["p5", "g6e"]]),
)
def test_chosen_plans_obey_the_engine_and_placement(model, conc, itl, mml, min_replicas, precision, kv, families):
    try:
        r = plan_deployment(spec_of(model=model, I=1000, O=200, conc=conc, ttft=5000, itl=itl, mml=mml, min_replicas=min_replicas, precision=precision, kv=kv, families=families))
    except SpecError:
        return  # nothing feasible (or a precision the checkpoint cannot take): reported, not planned
    c, plan = r.chosen.candidate, r.to_plan()
    s, pool = plan.serving, plan.node_pool
    gpu = catalog.get_gpu(c.instance.gpu)
    # every engine rule holds for the chosen layout
    layout, problems = engine.resolve_layout(r.model.arch, r.model.checkpoint_precision, r.model.arch.quantization_config, gpu, c.tensor_parallel, c.pipeline_parallel, c.precision, c.kv_cache_dtype)
    assert problems == [] and layout is not None
    assert engine.context_problems(s.max_model_len, r.model.native_context, 1000, 200) == []
    # the rendered command is the plan
    flags = engine.parse_serve_args(s.engine_args())
    assert flags["--tensor-parallel-size"] == str(c.tensor_parallel) and flags["--pipeline-parallel-size"] == str(c.pipeline_parallel)
    assert flags["--dtype"] == layout.dtype and flags["--kv-cache-dtype"] == c.kv_cache_dtype
    assert flags["--max-model-len"] == str(s.max_model_len)
    online = layout.scheme is not None and layout.scheme.online
    assert flags.get("--quantization") == ("fp8" if online else None)
    # placement: pods fit their node, availability spans nodes, the SLA keeps its headroom
    alloc = al.node_allocatable(pool.cloud, pool.instance_type, c.instance.vcpus, c.instance.memory_gib)
    assert al.fits(alloc, al.PodRequests(s.cpu_request, s.memory_request_gib), s.replicas_per_node)
    if min_replicas >= 2:
        assert pool.min_nodes >= 2 and c.nodes >= 2
    perf = r.chosen.performance
    assert perf.ttft_p95_ms <= 5000 * 0.9 and max(perf.itl_p95_ms, perf.itl_ms) <= itl * 0.9
    args = ModelServerArgs.from_plan(s, pool=pool)
    assert (args.cpu_request, args.memory_request_gib) == (s.cpu_request, s.memory_request_gib)
    assert list(args.engine_args) == s.engine_args()

"""Shared spec builder for planner tests."""

from __future__ import annotations

from gpuforge.plan import NodePoolPlan
from gpuforge.spec import load_spec


def spec_of(model="llama-3.1-8b-instruct", I=1024, O=256, conc=16, ttft=2000, itl=80, cloud="aws", families=None, budget=None, min_replicas=1, spread_zones=False, precision=None, kv="auto", mml=None, headroom=None, **extra):
    raw = {
        "name": "t",
        "model": {"id": model, "kv_cache_dtype": kv, **({"precision": precision} if precision else {})},
        "workload": {"input_tokens": I, "output_tokens": O, "peak_concurrency": conc, **({"max_model_len": mml} if mml else {})},
        "sla": {"ttft_p95_ms": ttft, "itl_p95_ms": itl, "min_replicas": min_replicas, "spread_zones": spread_zones, **({"headroom": headroom} if headroom is not None else {})},
        "target": {"cloud": cloud, **({"instance_families": families} if families else {}), **extra},
        "budget": {"max_monthly_usd": budget} if budget else {},
    }
    return load_spec(raw)


# Two p5.48xlarge nodes per replica over EFA, in one zone with a placement group: the
# multi-node AWS pool the Kubernetes tests deploy onto.
P5_EFA_POOL = NodePoolPlan(
    name="p5-efa",
    cloud="aws",
    region="us-east-1",
    instance_type="p5.48xlarge",
    gpu="h100-80gb",
    gpus_per_node=8,
    nodes_per_replica=2,
    desired_nodes=2,
    min_nodes=2,
    max_nodes=4,
    zone="us-east-1a",
    fabric="efa",
    placement_group=True,
)

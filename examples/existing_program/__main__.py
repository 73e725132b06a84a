"""An existing Pulumi program that imports gpuforge's components.

It keeps its own cluster (read here by name), asks the planner for the cheapest layout that
meets its SLA, and adds only a GPU node group, the GPU platform add-ons and the vLLM server.
Run it with `pulumi up` from this folder (after `bash scripts/bootstrap.sh` at the repository
root); `tests/test_examples.py` runs it under Pulumi's mocks.
"""

import pulumi
from gpuforge.aws import EksCluster, EksClusterArgs, GpuNodePool, GpuNodePoolArgs
from gpuforge.k8s import GpuPlatform, GpuPlatformArgs, ModelServer, ModelServerArgs
from gpuforge.sizing.planner import plan_deployment
from gpuforge.spec import load_spec

# What we need, as data (the same keys as a stack's gpuforge:deployment).
spec = load_spec(
    {
        "name": "support-bot",
        "model": {"id": "qwen2.5-7b-instruct"},
        "workload": {"input_tokens": 800, "output_tokens": 200, "peak_concurrency": 8},
        "sla": {"ttft_p95_ms": 2000, "itl_p95_ms": 60},
        "target": {"cloud": "aws", "region": "us-east-1", "instance_families": ["g5", "g6", "g6e"]},
    }
)
plan = plan_deployment(spec).to_plan()

# The cluster this program already has: read, never modified.
cluster = EksCluster("platform", EksClusterArgs(cluster_name="platform-prod", region="us-east-1", existing=True))
k8s_opts = pulumi.ResourceOptions(provider=cluster.provider)

pool = GpuNodePool(
    "support-bot-gpu",
    GpuNodePoolArgs.from_plan(
        plan.node_pool,
        cluster_name=cluster.cluster_name,
        subnet_ids_by_zone={"us-east-1a": "subnet-0aaa1111bbbb2222a", "us-east-1b": "subnet-0aaa1111bbbb2222b"},
        vpc_id="vpc-0abc1234def567890",
        cluster_security_group_id=cluster.cluster_security_group_id,
    ),
)
platform = GpuPlatform("gpu-platform", GpuPlatformArgs.from_plans([plan.node_pool], [plan.serving]), k8s_opts)
server = ModelServer(
    "support-bot",
    ModelServerArgs.from_plan(plan.serving, pool=plan.node_pool, crd_dependencies=tuple(platform.crd_dependencies)),
    pulumi.ResourceOptions(provider=cluster.provider, depends_on=[pool]),
)

pulumi.export("instance_type", plan.node_pool.instance_type)
pulumi.export("monthly_cost_usd", plan.summary["cost_per_month"])
pulumi.export("endpoint", server.endpoint)

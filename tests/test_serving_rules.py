"""Pure serving rules against the pinned facts (vLLM 0.19.0, LWS v0.10.0, the EFA installer).

Each row names the upstream source it encodes; docs/serving.md lists the same facts.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from gpuforge.engine import launch
from gpuforge.engine.launch import (
    MASTER_PORT,
    Launch,
    drain_seconds,
    multinode_problems,
    serving_support_problem,
    termination_grace_s,
)
from gpuforge.k8s import images
from gpuforge.sizing.versions import VLLM_VERSION
from tests_support import spec_of

ROOT = Path(__file__).resolve().parents[1]
TP8PP2 = ("--tensor-parallel-size", "8", "--pipeline-parallel-size", "2")


def test_master_port_is_vllms_default():
    # vllm/config/parallel.py:240 `master_port: int = 29501`
    assert MASTER_PORT == 29501


@pytest.mark.parametrize(
    "engine_args, gpus_per_node, nnodes, image_has_ray, fragment",
    [
        # config/parallel.py:753-760: nnodes > 1 only with mp / uni / external_launcher
        (TP8PP2 + ("--distributed-executor-backend", "ray"), 8, 2, True, "only with the mp backend"),
        # the stock image ships no Ray (vllm 0.19.0 METADATA; vllm-project/vllm#36170)
        (TP8PP2 + ("--distributed-executor-backend", "ray"), 8, 2, False, "has no Ray"),
        # engine/arg_utils.py:1644 "world_size must be divisible by nnodes"
        (("--tensor-parallel-size", "3"), 1, 2, False, "not divisible by 2 nodes"),
        # every GPU of each node is a rank
        (("--tensor-parallel-size", "8"), 8, 2, False, "4 ranks per node"),
        # gpuforge sets the per-pod flags itself
        (TP8PP2 + ("--node-rank", "1"), 8, 2, False, "--node-rank is set by gpuforge"),
        (TP8PP2 + ("--headless",), 8, 2, False, "--headless is set by gpuforge"),
    ],
    ids=["ray-backend-multinode", "ray-missing", "world-not-divisible", "ranks-per-node", "node-rank", "headless"],
)
def test_multinode_layouts_vllm_refuses(engine_args, gpus_per_node, nnodes, image_has_ray, fragment):
    problems = multinode_problems(engine_args, gpus_per_node, nnodes, image_has_ray)
    assert any(fragment in p.reason or fragment in p.fix for p in problems), problems


def test_a_valid_two_node_layout_has_no_problem():
    assert multinode_problems(TP8PP2, 8, 2) == []
    assert multinode_problems(("--tensor-parallel-size", "16"), 8, 2) == []  # TP across nodes is legal


def test_argv_per_role_follows_the_vllm_multinode_recipe():
    """docs/serving/parallelism_scaling.md "Running vLLM with MultiProcessing": head `--nnodes 2
    --node-rank 0 --master-addr <head>`, others `--node-rank i --headless`."""
    spec = Launch("m", TP8PP2, 8000, nnodes=2, shutdown_timeout_s=60, distributed_timeout_s=3600)
    leader, worker = spec.argv("leader"), spec.argv("worker")
    assert leader[-12:] == [
        "--distributed-executor-backend", "mp", "--nnodes", "2", "--node-rank", "0",
        "--master-addr", "$(LWS_LEADER_ADDRESS)", "--master-port", "29501",
        "--distributed-timeout-seconds", "3600",
    ]  # fmt: skip
    assert worker[-1] == "--headless" and "--host" not in worker and "--shutdown-timeout" not in worker
    single = Launch("m", ("--tensor-parallel-size", "8"), 8000, shutdown_timeout_s=30).argv("server")
    assert "--nnodes" not in single and single[-2:] == ["--shutdown-timeout", "30"]


def test_lws_injects_the_variables_the_argv_expands():
    # lws v0.10.0 api/leaderworkerset/v1/leaderworkerset_types.go:67-75
    argv = " ".join(Launch("m", TP8PP2, 8000, nnodes=2).argv("worker"))
    assert set(re.findall(r"\$\((\w+)\)", argv)) == {"LWS_LEADER_ADDRESS", "LWS_WORKER_INDEX"}


@pytest.mark.parametrize(
    "ttft_ms, itl_ms, output_tokens, at_least",
    [
        (10000, 100, 500, 60),  # the 405B example: 10 s + 500 x 0.1 s
        (1500, 40, 300, 13.5),  # the 70B fp8 example
        (2000, 50, 0, 2),  # no planned output: the first token only
    ],
)
def test_drain_covers_a_planned_request_at_the_sla(ttft_ms, itl_ms, output_tokens, at_least):
    d = drain_seconds(ttft_ms, itl_ms, output_tokens)
    assert at_least <= d < at_least + 1
    assert termination_grace_s(d) == launch.PRESTOP_S + d + launch.EXIT_MARGIN_S


def test_efa_dockerfile_pins_the_versions_the_code_declares():
    text = (ROOT / images.EFA_DOCKERFILE).read_text()
    assert f"ARG VLLM_IMAGE=vllm/vllm-openai:v{VLLM_VERSION}" in text
    assert f"ARG EFA_INSTALLER_VERSION={images.EFA_INSTALLER_VERSION}" in text
    assert "--skip-kmod" in text  # the node's AMI loads the EFA driver
    assert images.efa_image("r/x:1").efa and not images.VLLM_CUDA.efa


def test_images_run_the_sized_vllm_release():
    for image in (images.VLLM_CUDA, images.VLLM_ROCM, images.efa_image("r/x:1")):
        assert image.vllm_version == VLLM_VERSION
        assert image.ref.split("@")[0].endswith(f"v{VLLM_VERSION}") or image is not images.VLLM_CUDA  # tag@digest


def test_amd_gpus_are_never_proposed():
    """Serving cannot deploy MI300X on AKS yet (docs/serving.md "AMD GPUs"): the planner must not
    propose it, even where it is the cheapest large-model option."""
    from gpuforge.errors import SpecError
    from gpuforge.sizing.planner import plan_deployment

    assert serving_support_problem("amd", "AMD Instinct MI300X")
    assert serving_support_problem("nvidia") is None
    only_amd = spec_of(model="llama-3.1-405b-instruct", I=2000, O=500, conc=8, ttft=10000, itl=100, cloud="azure",
                       instance_types=["Standard_ND96isr_MI300X_v5"], max_nodes_per_replica=2, region="eastus2")
    with pytest.raises(SpecError) as e:
        plan_deployment(only_amd)
    assert "target.instance_types" in str(e.value) and "not served by gpuforge" in str(e.value)
    anything = spec_of(model="llama-3.1-405b-instruct", I=2000, O=500, conc=8, ttft=10000, itl=100, cloud="azure",
                       max_nodes_per_replica=2, zone="1", region="eastus2")
    plan = plan_deployment(anything).to_plan()
    from gpuforge import catalog

    assert catalog.get_gpu(plan.node_pool.gpu).vendor == "nvidia"

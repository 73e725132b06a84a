"""Placement that schedules: pod requests from node allocatable, availability across nodes and zones."""

from __future__ import annotations

import pytest
from gpuforge import catalog
from gpuforge.cloud import allocatable as al
from gpuforge.k8s.model_server import ModelServerArgs
from gpuforge.sizing.planner import plan_deployment
from tests_support import spec_of


# --- the clouds' documented reservations --------------------------------------------------------
@pytest.mark.parametrize("vcpus, millicores", [(1, 60), (2, 70), (4, 80), (16, 110), (192, 550)])
def test_eks_cpu_reservation(vcpus, millicores):
    # nodeadm getCPUMillicoresToReserve: 6% / 1% / 0.5% / 0.25% of the core ranges
    assert al.eks_kube_reserved_cpu_m(vcpus) == millicores


def test_eks_memory_reservation():
    # nodeadm getMemoryMebibytesToReserve: 11 MiB x maxPods + 255; p5.48xlarge maxPods 100
    assert al.eks_kube_reserved_memory_mib(al.EKS_MAX_PODS["p5.48xlarge"]) == 1355


def test_aks_reservations_match_the_documented_examples():
    # learn.microsoft.com/azure/aks/node-resource-reservations: 8 GB VM, 30 pods -> 650 MB
    assert al.aks_kube_reserved_memory_mib(8, max_pods=30) == 650
    # 4 GB VM, 70 pods -> 25% of memory (1 GB) is less than 20 x 70 + 50
    assert al.aks_kube_reserved_memory_mib(4, max_pods=70) == 1024
    assert [al.aks_kube_reserved_cpu_m(c) for c in (1, 2, 4, 8, 16, 32, 64)] == [60, 100, 140, 180, 260, 420, 740]


def test_allocatable_is_below_capacity_on_every_gpu_instance():
    for inst in catalog.all_instances():
        a = al.node_allocatable(inst.cloud, inst.name, inst.vcpus, inst.memory_gib)
        assert 0 < a.cpu_m < inst.vcpus * 1000
        assert 0 < a.memory_mib < inst.memory_gib * 1024


# --- plans whose pods fit their nodes ------------------------------------------------------------
def _fits(plan) -> bool:
    inst = catalog.get_instance(plan.node_pool.instance_type, plan.node_pool.cloud)
    alloc = al.node_allocatable(inst.cloud, inst.name, inst.vcpus, inst.memory_gib)
    s = plan.serving
    return al.fits(alloc, al.PodRequests(s.cpu_request, s.memory_request_gib), s.replicas_per_node)


def test_eight_pods_on_one_p5en_all_schedule():
    # The case: 8 single-GPU replicas packed on a p5en.48xlarge, each pod asking ~90% of
    # the node -> 7 Pending. Sized from allocatable / 8, all eight fit.
    inst = catalog.get_instance("p5en.48xlarge")
    alloc = al.node_allocatable(inst.cloud, inst.name, inst.vcpus, inst.memory_gib)
    req = al.pod_requests(alloc, 8)
    assert al.fits(alloc, req, 8) and not al.fits(alloc, al.pod_requests(alloc, 1), 2)


@pytest.mark.parametrize(
    "kw",
    [
        dict(model="llama-3.1-8b-instruct", conc=64, mml=8192, instance_types=["p5en.48xlarge"]),
        dict(model="llama-3.1-8b-instruct", conc=48, mml=8192, instance_types=["g6.48xlarge"], itl=80),
        dict(model="qwen2.5-7b-instruct", conc=16, mml=8192, instance_types=["g5.12xlarge"], itl=80),
    ],
)
def test_planned_pods_fit_their_node(kw):
    plan = plan_deployment(spec_of(I=1000, O=300, ttft=3000, **{"itl": 60, **kw})).to_plan()
    s = plan.serving
    assert _fits(plan)
    inst = catalog.get_instance(plan.node_pool.instance_type)
    assert s.replicas_per_node == inst.gpu_count // s.gpus_per_replica
    # the component renders what the plan says
    args = ModelServerArgs.from_plan(s, pool=plan.node_pool)
    assert (args.cpu_request, args.memory_request_gib) == (s.cpu_request, s.memory_request_gib)


def test_min_replicas_two_means_two_nodes():
    # 4 L4s per g6.12xlarge: two single-GPU replicas used to share one node
    plan = plan_deployment(spec_of(model="llama-3.1-8b-instruct", I=1000, O=300, conc=4, ttft=2000, itl=60, mml=8192, min_replicas=2, instance_types=["g6.12xlarge"])).to_plan()
    assert plan.serving.replicas >= 2
    assert plan.node_pool.min_nodes >= 2 and plan.node_pool.desired_nodes >= 2
    assert plan.summary["nodes"] >= 2


def test_spread_zones_means_two_zones_and_two_nodes():
    plan = plan_deployment(spec_of(model="llama-3.1-8b-instruct", I=1000, O=300, conc=4, ttft=2000, itl=60, mml=8192, min_replicas=2, spread_zones=True, instance_types=["g6.12xlarge"])).to_plan()
    assert len(plan.node_pool.zones) >= 2 and plan.node_pool.min_nodes >= 2


def test_cost_follows_the_node_count():
    r = plan_deployment(spec_of(model="llama-3.1-8b-instruct", I=1000, O=300, conc=4, ttft=2000, itl=60, mml=8192, min_replicas=2, instance_types=["g6.12xlarge"]))
    price = r.chosen.candidate.instance.price("us-east-1").usd_per_hour
    assert r.chosen.cost_per_hour == pytest.approx(price * r.chosen.candidate.nodes)

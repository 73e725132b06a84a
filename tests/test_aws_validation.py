"""Bad input to the AWS components fails before anything registers, with path, reason and fix."""

from __future__ import annotations

import pytest
from gpuforge.aws import (
    EksCluster,
    EksClusterArgs,
    GpuNodePool,
    GpuNodePoolArgs,
    Network,
    NetworkArgs,
)
from gpuforge.errors import Problem, SpecError
from test_aws_mocks import SUBNETS, aws_mocks  # noqa: F401  (fixture)


def pool_args(**overrides) -> GpuNodePoolArgs:
    kwargs = dict(
        cluster_name="llm",
        region="us-east-1",
        instance_type="g6e.xlarge",
        subnet_ids_by_zone=SUBNETS,
        vpc_id="vpc-0abc",
        cluster_security_group_id="sg-0cluster",
    )
    kwargs.update(overrides)
    return GpuNodePoolArgs(**kwargs)


def p5_multi(**overrides) -> GpuNodePoolArgs:
    kwargs = dict(instance_type="p5.48xlarge", nodes_per_replica=2, desired_nodes=2, min_nodes=2, max_nodes=4, zone="us-east-1a")
    kwargs.update(overrides)
    return pool_args(**kwargs)


def refused(rec, component, name, args) -> list[Problem]:
    """Build the component, expect a SpecError, and check nothing was registered."""
    with pytest.raises(SpecError) as err:
        component(name, args)
    rec.settle()
    assert rec.resources == [], "a refused component must not register anything"
    assert all(p.fix for p in err.value.problems), "every problem carries a fix"
    assert str(err.value).startswith(f"{component.__name__} {name!r}: ")
    return err.value.problems


def by_path(problems: list[Problem], path: str) -> Problem:
    hits = [p for p in problems if p.path == path]
    assert len(hits) == 1, f"expected one problem at {path}, got {problems}"
    return hits[0]


# --- GpuNodePool ------------------------------------------------------------------------------
def test_efa_on_type_without_efa(aws_mocks):
    p = by_path(refused(aws_mocks, GpuNodePool, "noefa", pool_args(efa=True)), "efa")
    assert "g6e.xlarge has no Elastic Fabric Adapter" in p.reason
    assert "g6e." in p.fix  # an L40S type that has EFA


def test_zone_not_in_region(aws_mocks):
    p = by_path(refused(aws_mocks, GpuNodePool, "badzone", pool_args(zone="us-west-2a")), "zone")
    assert "'us-west-2a' is not an availability zone of us-east-1" in p.reason
    assert "us-east-1a" in p.fix


def test_zone_without_subnet(aws_mocks):
    p = by_path(refused(aws_mocks, GpuNodePool, "nosub", pool_args(zone="us-east-1d")), "zone")
    assert "no private subnet in us-east-1d" in p.reason
    assert "add us-east-1d to the Network zones" in p.fix


def test_multi_node_efa_without_zone_lists_candidates(aws_mocks):
    p = by_path(refused(aws_mocks, GpuNodePool, "nozone", p5_multi(zone=None)), "zone")
    assert "multi-node EFA pools need all nodes in one zone" in p.reason
    assert p.fix == "set zone to one of: us-east-1a, us-east-1b, us-east-1c"


def test_placement_group_without_zone(aws_mocks):
    p = by_path(refused(aws_mocks, GpuNodePool, "pgnozone", pool_args(placement_group=True)), "zone")
    assert "cluster placement group" in p.reason


def test_more_nodes_than_capacity_block_holds(aws_mocks):
    args = p5_multi(capacity_type="capacity-block", capacity_reservation_id="cr-0123456789abcdef0", capacity_block_instance_count=2)
    p = by_path(refused(aws_mocks, GpuNodePool, "cbfull", args), "max_nodes")
    assert "max 4 / desired 2 nodes, but the capacity block holds 2" in p.reason
    assert "2 or fewer" in p.fix


def test_capacity_block_needs_count_and_reservation(aws_mocks):
    problems = refused(aws_mocks, GpuNodePool, "cbbare", p5_multi(capacity_type="capacity-block"))
    assert "count you bought" in by_path(problems, "capacity_block_instance_count").fix
    assert "cr-..." in by_path(problems, "capacity_reservation_id").fix


def test_spot_with_capacity_block(aws_mocks):
    args = p5_multi(capacity_type="spot", capacity_reservation_id="cr-0123456789abcdef0", capacity_block_instance_count=4)
    problems = refused(aws_mocks, GpuNodePool, "spotcb", args)
    assert "spot together with a capacity block" in by_path(problems, "capacity_type").reason


def test_spot_max_price_is_refused_for_managed_node_groups(aws_mocks):
    p = by_path(refused(aws_mocks, GpuNodePool, "maxprice", pool_args(capacity_type="spot", spot_max_price=1.2)), "spot_max_price")
    assert "pay at most the on-demand price" in p.reason


def test_capacity_block_on_type_without_blocks(aws_mocks):
    args = pool_args(
        instance_type="g6e.48xlarge", capacity_type="capacity-block", capacity_reservation_id="cr-0123456789abcdef0",
        capacity_block_instance_count=1, zone="us-east-1a",
    )
    p = by_path(refused(aws_mocks, GpuNodePool, "g6ecb", args), "capacity_type")
    assert "not sold as EC2 Capacity Blocks" in p.reason


def test_placement_group_forced_on_capacity_block(aws_mocks):
    args = p5_multi(
        capacity_type="capacity-block", capacity_reservation_id="cr-0123456789abcdef0", capacity_block_instance_count=4, placement_group=True
    )
    p = by_path(refused(aws_mocks, GpuNodePool, "cbpg", args), "placement_group")
    assert "insufficient-capacity" in p.reason


def test_unknown_instance_type_names_nearest(aws_mocks):
    p = by_path(refused(aws_mocks, GpuNodePool, "typo", pool_args(instance_type="p5.48xlarg")), "instance_type")
    assert "'p5.48xlarg' is not an AWS GPU instance type" in p.reason
    assert "p5.48xlarge" in p.fix


def test_al2_gpu_ami_is_refused(aws_mocks):
    p = by_path(refused(aws_mocks, GpuNodePool, "al2", pool_args(ami_type="AL2_x86_64_GPU")), "ami_type")
    assert "stopped publishing Amazon Linux 2 AMIs on 2025-11-26" in p.reason
    assert "AL2023_x86_64_NVIDIA" in p.fix


def test_efa_pool_needs_vpc_and_cluster_security_group(aws_mocks):
    problems = refused(aws_mocks, GpuNodePool, "efanosg", p5_multi(vpc_id=None, cluster_security_group_id=None))
    by_path(problems, "vpc_id")
    by_path(problems, "cluster_security_group_id")


@pytest.mark.parametrize(
    "overrides,path",
    [
        (dict(desired_nodes=3, min_nodes=4, max_nodes=5), "desired_nodes"),  # min above desired
        (dict(desired_nodes=3), "desired_nodes"),  # 3 nodes of 2-node replicas
        (dict(capacity_type="reserved"), "capacity_reservation_id"),  # reservation without id
        (dict(capacity_reservation_id="cr-0123456789abcdef0"), "capacity_reservation_id"),  # id with on-demand
        (dict(root_volume_gib=20), "root_volume_gib"),
        (dict(capacity_type="preemptible"), "capacity_type"),
        (dict(region="us-east-9"), "region"),
    ],
)
def test_other_bad_pool_inputs(overrides, path):
    args = p5_multi(**overrides)
    assert path in [p.path for p in args.problems()]


def test_all_problems_reported_at_once():
    args = pool_args(instance_type="g6e.xlarge", efa=True, ami_type="AL2_x86_64_GPU", zone="eu-west-1a", root_volume_gib=10)
    assert {p.path for p in args.problems()} >= {"efa", "ami_type", "zone", "root_volume_gib"}


def test_good_plans_have_no_problems():
    assert pool_args().problems() == []
    assert p5_multi().problems() == []
    cb = p5_multi(capacity_type="capacity-block", capacity_reservation_id="cr-0123456789abcdef0", capacity_block_instance_count=4)
    assert cb.problems() == []


# --- Network ----------------------------------------------------------------------------------
def test_network_needs_two_zones(aws_mocks):
    p = by_path(refused(aws_mocks, Network, "onezone", NetworkArgs("llm", "us-east-1", zones=("us-east-1a",))), "zones")
    assert "EKS needs two or more" in p.reason


def test_network_zone_outside_region(aws_mocks):
    args = NetworkArgs("llm", "us-east-1", zones=("us-east-1a", "eu-west-1b"))
    p = by_path(refused(aws_mocks, Network, "badnet", args), "zones[1]")
    assert "not an availability zone of us-east-1" in p.reason


def test_network_adopt_needs_two_subnets(aws_mocks):
    args = NetworkArgs("llm", "us-east-1", vpc_id="vpc-1", private_subnet_ids_by_zone={"us-east-1a": "subnet-1"})
    p = by_path(refused(aws_mocks, Network, "adopt1", args), "private_subnet_ids_by_zone")
    assert "at least two zones" in p.reason


@pytest.mark.parametrize("cidr", ["10.0.0.0/8", "10.0.0.1/16", "not-a-cidr"])
def test_network_bad_cidr(cidr):
    args = NetworkArgs("llm", "us-east-1", zones=("us-east-1a", "us-east-1b"), cidr=cidr)
    assert [p.path for p in args.problems()] == ["cidr"]


# --- EksCluster -------------------------------------------------------------------------------
def cluster_args(**overrides) -> EksClusterArgs:
    kwargs = dict(cluster_name="llm", region="us-east-1", subnet_ids=["subnet-0a", "subnet-0b"])
    kwargs.update(overrides)
    return EksClusterArgs(**kwargs)


def test_public_endpoint_without_cidrs(aws_mocks):
    p = by_path(refused(aws_mocks, EksCluster, "open", cluster_args(endpoint_public_access=True)), "public_access_cidrs")
    assert "open to the whole internet" in p.reason


@pytest.mark.parametrize(
    "overrides,path",
    [
        (dict(public_access_cidrs=["203.0.113.0/24"]), "endpoint_public_access"),
        (dict(endpoint_public_access=True, public_access_cidrs=["203.0.113.7/24"]), "public_access_cidrs[0]"),
        (dict(subnet_ids=["subnet-0a"]), "subnet_ids"),
        (dict(admin_principal_arns=["admin"]), "admin_principal_arns[0]"),
        (dict(addon_versions={"vpc-cni": "v1.18.1-eksbuild.1", "kube-proxy": "x", "coredns": "x", "eks-pod-identity-agent": "x"}), "addon_versions.vpc-cni"),
        (dict(addon_versions={"vpc-cni": "v1.22.3-eksbuild.1"}), "addon_versions"),
        (dict(bootstrap_creator_admin=False), "admin_principal_arns"),
        (dict(kubernetes_version="v1.36"), "kubernetes_version"),
        (dict(log_types=["api", "everything"]), "log_types"),
        (dict(cluster_name="-bad name"), "cluster_name"),
        (dict(system_nodes=0), "system_nodes"),
    ],
)
def test_bad_cluster_inputs(overrides, path):
    assert path in [p.path for p in cluster_args(**overrides).problems()]


def test_existing_cluster_does_not_manage_access_entries():
    args = EksClusterArgs.existing_cluster("prod", "us-west-2", admin_principal_arns=["arn:aws:iam::123456789012:role/a"])
    assert [p.path for p in args.problems()] == ["admin_principal_arns"]


def test_good_cluster_args_have_no_problems():
    assert cluster_args().problems() == []
    assert cluster_args(endpoint_public_access=True, public_access_cidrs=["203.0.113.0/24"]).problems() == []
    assert EksClusterArgs.existing_cluster("prod", "us-west-2").problems() == []

"""GpuNodePool under Pulumi mocks: launch template, node group, EFA, placement, capacity."""

from __future__ import annotations

import base64

import pytest
from gpuforge.aws import GpuNodePool, GpuNodePoolArgs
from gpuforge.aws.node_pool import ROOT_GIB_WITH_NVME
from gpuforge.errors import SpecError
from test_aws_mocks import SUBNETS, aws_mocks, pool_plan  # noqa: F401  (fixture)

LT = "aws:ec2/launchTemplate:LaunchTemplate"
NG = "aws:eks/nodeGroup:NodeGroup"
PG = "aws:ec2/placementGroup:PlacementGroup"
SG = "aws:ec2/securityGroup:SecurityGroup"
IN = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
OUT = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
ATTACH = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ROLE_ARN = "arn:aws:iam::123456789012:role/nodes"


def build(rec, name, plan, **overrides) -> GpuNodePool:
    kwargs = dict(
        cluster_name="llm",
        subnet_ids_by_zone=SUBNETS,
        vpc_id="vpc-0abc",
        cluster_security_group_id="sg-0cluster",
        node_role_arn=ROLE_ARN,
    )
    kwargs.update(overrides)
    pool = GpuNodePool(name, GpuNodePoolArgs.from_plan(plan, **kwargs))
    rec.settle(pool)
    return pool


def multi_node(instance: str, gpu: str, name: str, **kw):
    base = dict(
        name=name,
        instance_type=instance,
        gpu=gpu,
        gpus_per_node=8,
        nodes_per_replica=2,
        desired_nodes=2,
        min_nodes=2,
        max_nodes=4,
        zone="us-east-1a",
        fabric="efa",
        placement_group=True,
    )
    base.update(kw)
    return pool_plan(**base)


def user_data(lt) -> str:
    return base64.b64decode(lt.inputs["userData"]).decode()


# --- single GPU -----------------------------------------------------------------------------
def test_single_gpu_pool_children_and_node_group(aws_mocks):
    pool = build(aws_mocks, "one", pool_plan(name="one", zones=("us-east-1a", "us-east-1b")))
    assert aws_mocks.children_of("one") == sorted([f"{LT}::one-lt", f"{NG}::one"])
    ng = aws_mocks.one(NG, "one")
    assert ng.inputs["amiType"] == "AL2023_x86_64_NVIDIA"
    assert ng.inputs["capacityType"] == "ON_DEMAND"
    assert ng.inputs["clusterName"] == "llm"
    assert ng.inputs["nodeRoleArn"] == ROLE_ARN
    assert ng.inputs["subnetIds"] == ["subnet-0a", "subnet-0b"]  # the plan's spread zones only
    assert ng.inputs["scalingConfig"] == {"desiredSize": 1, "minSize": 1, "maxSize": 1}
    assert ng.inputs["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}]
    assert ng.inputs["labels"] == {
        "gpuforge.io/pool": "one",
        "gpuforge.io/gpu": "l40s",
        "gpuforge.io/fabric-domain": "none",
        "k8s.amazonaws.com/accelerator": "l40s",  # Cluster Autoscaler's GPU node label on AWS
        "nvidia.com/gpu.present": "true",
    }
    assert ng.inputs["launchTemplate"] == {"id": "one-lt-id", "version": "1"}
    assert "instanceTypes" not in ng.inputs  # the launch template names it
    assert aws_mocks.ignored("one", NG) == []
    assert pool.device_plugin_included is False
    assert pool.efa_enabled is False


def test_single_gpu_launch_template_imds_and_encrypted_root(aws_mocks):
    build(aws_mocks, "imds", pool_plan(name="imds"))
    lt = aws_mocks.one(LT, "imds-lt")
    assert lt.parent == "imds"
    assert lt.inputs["instanceType"] == "g6e.xlarge"
    assert lt.inputs["metadataOptions"] == {
        "httpEndpoint": "enabled",
        "httpTokens": "required",
        "httpPutResponseHopLimit": 1,  # no pod reaches IMDS (Pod Identity instead)
        "instanceMetadataTags": "disabled",
    }
    [root] = lt.inputs["blockDeviceMappings"]
    assert root["deviceName"] == "/dev/xvda"
    assert root["ebs"]["volumeType"] == "gp3"
    assert root["ebs"]["encrypted"] == "true"
    assert root["ebs"]["volumeSize"] == ROOT_GIB_WITH_NVME
    # no EFA, no placement, no market options for a plain on-demand single node
    for key in ("networkInterfaces", "placement", "instanceMarketOptions", "capacityReservationSpecification", "vpcSecurityGroupIds"):
        assert key not in lt.inputs
    # g6e.xlarge has 250 GB instance-store NVMe: nodeadm stripes it for kubelet/containerd
    text = user_data(lt)
    assert "Content-Type: application/node.eks.aws" in text
    assert "kind: NodeConfig" in text and "strategy: RAID0" in text


def test_root_volume_kms_key_and_size_override(aws_mocks):
    build(aws_mocks, "kms", pool_plan(name="kms"), root_volume_gib=300, root_volume_kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k")
    ebs = aws_mocks.one(LT, "kms-lt").inputs["blockDeviceMappings"][0]["ebs"]
    assert ebs["volumeSize"] == 300
    assert ebs["kmsKeyId"] == "arn:aws:kms:us-east-1:123456789012:key/k"


# --- single node, 8 GPUs ---------------------------------------------------------------------
def test_single_node_eight_gpu_g6e_has_no_efa_or_placement(aws_mocks):
    plan = pool_plan(name="big", instance_type="g6e.48xlarge", gpus_per_node=8, desired_nodes=2, min_nodes=1, max_nodes=3)
    pool = build(aws_mocks, "big", plan)
    # g6e.48xlarge supports 4 EFA interfaces, but one-node replicas do not need the fabric
    assert pool.efa_enabled is False and pool.efa_interfaces == 0
    lt = aws_mocks.one(LT, "big-lt")
    assert "networkInterfaces" not in lt.inputs and "placement" not in lt.inputs
    assert not aws_mocks.of_type(PG) and not aws_mocks.of_type(SG)
    ng = aws_mocks.one(NG, "big")
    assert ng.inputs["scalingConfig"] == {"desiredSize": 2, "minSize": 1, "maxSize": 3}
    assert ng.inputs["subnetIds"] == list(SUBNETS.values())
    assert ng.inputs["labels"]["gpuforge.io/gpu"] == "l40s"


def test_single_node_with_explicit_efa_gets_g6e_interfaces(aws_mocks):
    plan = pool_plan(name="g6efa", instance_type="g6e.48xlarge", gpus_per_node=8, fabric="efa")
    pool = build(aws_mocks, "g6efa", plan)
    nics = aws_mocks.one(LT, "g6efa-lt").inputs["networkInterfaces"]
    assert pool.efa_interfaces == 4
    assert [n["interfaceType"] for n in nics] == ["efa", "efa-only", "efa-only", "efa-only"]
    assert not aws_mocks.of_type(PG)  # one-node replicas: no placement group by default


# --- multi-node EFA --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "instance,gpu,cards",
    [
        ("p5.48xlarge", "h100-80gb", 32),  # 32 network cards, one EFA each
        ("p5en.48xlarge", "h200", 16),
        ("p6-b200.48xlarge", "b200", 8),
        ("p4d.24xlarge", "a100-40gb", 4),
    ],
)
def test_multi_node_efa_interfaces_per_network_card(aws_mocks, instance, gpu, cards):
    name = "mn-" + instance.split(".")[0]
    pool = build(aws_mocks, name, multi_node(instance, gpu, name))
    nics = aws_mocks.one(LT, f"{name}-lt").inputs["networkInterfaces"]
    assert len(nics) == cards == pool.efa_interfaces
    assert nics[0]["networkCardIndex"] == 0 and nics[0]["deviceIndex"] == 0 and nics[0]["interfaceType"] == "efa"
    for card, nic in enumerate(nics[1:], start=1):
        assert nic["networkCardIndex"] == card
        assert nic["deviceIndex"] == 0
        assert nic["interfaceType"] == "efa-only"
    sg_id = f"{name}-efa-id"
    assert all(n["securityGroups"] == ["sg-0cluster", sg_id] for n in nics)
    assert all("subnetId" not in n for n in nics)  # managed node groups refuse SubnetId in the template
    assert "vpcSecurityGroupIds" not in aws_mocks.one(LT, f"{name}-lt").inputs


def test_multi_node_p5_security_group_self_rules(aws_mocks):
    build(aws_mocks, "sgp5", multi_node("p5.48xlarge", "h100-80gb", "sgp5"))
    sg = aws_mocks.one(SG, "sgp5-efa")
    assert sg.parent == "sgp5" and sg.inputs["vpcId"] == "vpc-0abc"
    for typ, rule in ((IN, "sgp5-efa-in"), (OUT, "sgp5-efa-out")):
        r = aws_mocks.one(typ, rule)
        assert r.parent == "sgp5"
        assert r.inputs["ipProtocol"] == "-1"
        assert r.inputs["securityGroupId"] == "sgp5-efa-id"
        assert r.inputs["referencedSecurityGroupId"] == "sgp5-efa-id"
        assert "cidrIpv4" not in r.inputs


def test_multi_node_on_demand_gets_cluster_placement_group(aws_mocks):
    pool = build(aws_mocks, "pgp5", multi_node("p5.48xlarge", "h100-80gb", "pgp5"))
    pg = aws_mocks.one(PG, "pgp5-pg")
    assert pg.parent == "pgp5"
    assert pg.inputs["strategy"] == "cluster"
    assert pg.inputs["name"] == "gpuforge-test-pgp5"
    lt = aws_mocks.one(LT, "pgp5-lt")
    assert lt.inputs["placement"] == {"groupName": "gpuforge-test-pgp5"}
    ng = aws_mocks.one(NG, "pgp5")
    assert ng.inputs["subnetIds"] == ["subnet-0a"]  # every node in the plan's one zone
    assert ng.inputs["scalingConfig"] == {"desiredSize": 2, "minSize": 2, "maxSize": 4}
    assert ng.inputs["labels"]["gpuforge.io/fabric-domain"] == "gpuforge-test-pgp5"
    assert ng.inputs["labels"]["gpuforge.io/gpu"] == "h100-80gb"
    assert pool.zones == ("us-east-1a",)


def test_children_of_multi_node_pool(aws_mocks):
    build(aws_mocks, "kids", multi_node("p5en.48xlarge", "h200", "kids"))
    assert aws_mocks.children_of("kids") == sorted(
        [
            f"{PG}::kids-pg",
            f"{SG}::kids-efa",
            f"{IN}::kids-efa-in",
            f"{OUT}::kids-efa-out",
            f"{LT}::kids-lt",
            f"{NG}::kids",
            "aws:autoscaling/tag:Tag::kids-efa-template",
        ]
    )


# --- capacity ---------------------------------------------------------------------------------
def test_capacity_block_market_options_and_no_placement_group(aws_mocks):
    plan = multi_node(
        "p5.48xlarge", "h100-80gb", "cb", capacity_type="capacity-block", capacity_reservation_id="cr-0123456789abcdef0", placement_group=False
    )
    pool = build(aws_mocks, "cb", plan, capacity_block_instance_count=4)
    lt = aws_mocks.one(LT, "cb-lt")
    assert lt.inputs["instanceMarketOptions"] == {"marketType": "capacity-block"}
    assert lt.inputs["capacityReservationSpecification"] == {
        "capacityReservationTarget": {"capacityReservationId": "cr-0123456789abcdef0"}
    }
    assert "placement" not in lt.inputs
    assert not aws_mocks.of_type(PG)
    assert len(lt.inputs["networkInterfaces"]) == 32  # still EFA, just no forced placement group
    ng = aws_mocks.one(NG, "cb")
    assert ng.inputs["capacityType"] == "CAPACITY_BLOCK"
    assert ng.inputs["labels"]["gpuforge.io/fabric-domain"] == "cr-0123456789abcdef0"
    assert pool.efa_enabled


def test_capacity_block_with_planner_placement_flag_left_unset_skips_group(aws_mocks):
    plan = multi_node(
        "p5en.48xlarge", "h200", "cbauto", capacity_type="capacity-block", capacity_reservation_id="cr-0123456789abcdef0", placement_group=False
    )
    build(aws_mocks, "cbauto", plan, capacity_block_instance_count=2, max_nodes=2, placement_group=None)
    assert not aws_mocks.of_type(PG)


def test_reserved_capacity_targets_reservation_on_demand(aws_mocks):
    plan = pool_plan(
        name="odcr",
        instance_type="p5.48xlarge",
        gpu="h100-80gb",
        gpus_per_node=8,
        capacity_type="reserved",
        capacity_reservation_id="cr-0fedcba9876543210",
        zone="us-east-1b",
    )
    build(aws_mocks, "odcr", plan)
    lt = aws_mocks.one(LT, "odcr-lt")
    assert "instanceMarketOptions" not in lt.inputs
    assert lt.inputs["capacityReservationSpecification"]["capacityReservationTarget"]["capacityReservationId"] == "cr-0fedcba9876543210"
    ng = aws_mocks.one(NG, "odcr")
    assert ng.inputs["capacityType"] == "ON_DEMAND"
    assert ng.inputs["subnetIds"] == ["subnet-0b"]


def test_spot_pool_sets_node_group_capacity_type_only(aws_mocks):
    plan = pool_plan(name="spotty", instance_type="g6e.12xlarge", gpus_per_node=4, capacity_type="spot", desired_nodes=2, max_nodes=4)
    build(aws_mocks, "spotty", plan)
    ng = aws_mocks.one(NG, "spotty")
    assert ng.inputs["capacityType"] == "SPOT"
    lt = aws_mocks.one(LT, "spotty-lt")
    # managed node groups refuse RequestSpotInstances in their launch template
    assert "instanceMarketOptions" not in lt.inputs


# --- AMI, roles, scaling ownership ------------------------------------------------------------
def test_bottlerocket_ships_device_plugin_and_uses_data_volume(aws_mocks):
    pool = build(aws_mocks, "br", pool_plan(name="br"), ami_type="BOTTLEROCKET_x86_64_NVIDIA")
    assert pool.device_plugin_included is True
    assert aws_mocks.one(NG, "br").inputs["amiType"] == "BOTTLEROCKET_x86_64_NVIDIA"
    lt = aws_mocks.one(LT, "br-lt")
    devices = {b["deviceName"]: b["ebs"] for b in lt.inputs["blockDeviceMappings"]}
    assert set(devices) == {"/dev/xvda", "/dev/xvdb"}
    assert all(e["encrypted"] == "true" and e["volumeType"] == "gp3" for e in devices.values())
    assert devices["/dev/xvdb"]["volumeSize"] == ROOT_GIB_WITH_NVME
    toml = user_data(lt)
    assert "[settings.bootstrap-commands.000-mount-instance-storage]" in toml
    assert '"ephemeral-storage", "init"' in toml and '"ephemeral-storage", "bind"' in toml


def test_pool_creates_its_own_minimal_node_role(aws_mocks):
    pool = build(aws_mocks, "own", pool_plan(name="own"), node_role_arn=None)
    role = aws_mocks.one("aws:iam/role:Role", "own-node")
    assert role.parent == "own"
    assert '"ec2.amazonaws.com"' in role.inputs["assumeRolePolicy"]
    policies = sorted(a.inputs["policyArn"] for a in aws_mocks.of_type(ATTACH) if a.parent == "own")
    assert policies == [
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    ]
    assert aws_mocks.resolve(pool.node_role_arn) == "arn:aws:mock:::own-node"
    assert set(aws_mocks.depends_on("own", NG)) >= {"own-node-worker", "own-node-ecr", "own-node-cni"}


def test_pool_role_without_cni_policy_with_ssm(aws_mocks):
    build(aws_mocks, "podid", pool_plan(name="podid"), node_role_arn=None, attach_cni_policy=False, ssm_access=True)
    policies = sorted(a.inputs["policyArn"].rsplit("/", 1)[-1] for a in aws_mocks.of_type(ATTACH) if a.parent == "podid")
    assert policies == ["AmazonEC2ContainerRegistryReadOnly", "AmazonEKSWorkerNodePolicy", "AmazonSSMManagedInstanceCore"]


def test_autoscaler_owned_desired_size_is_ignored(aws_mocks):
    build(aws_mocks, "auto", pool_plan(name="auto", max_nodes=4), autoscaler_owns_desired=True)
    assert aws_mocks.ignored("auto", NG) == ["scalingConfig.desiredSize"]


def test_plan_labels_kept_and_gpuforge_labels_win(aws_mocks):
    plan = pool_plan(name="lbl", labels={"team": "ml", "gpuforge.io/pool": "spoofed"})
    build(aws_mocks, "lbl", plan)
    labels = aws_mocks.one(NG, "lbl").inputs["labels"]
    assert labels["team"] == "ml"
    assert labels["gpuforge.io/pool"] == "lbl"


def test_no_local_nvme_means_no_user_data_and_bigger_root(aws_mocks, monkeypatch):
    # Every catalog GPU type has instance-store NVMe today; a hand-built row stands in for one without.
    import dataclasses

    from gpuforge import catalog
    from gpuforge.aws.node_pool import ROOT_GIB_WITHOUT_NVME

    real = catalog.get_instance
    bare = dataclasses.replace(real("g6e.xlarge", "aws"), local_nvme_gb=None)
    monkeypatch.setattr(catalog, "get_instance", lambda name, cloud=None: bare if name == "g6e.xlarge" else real(name, cloud))
    pool = build(aws_mocks, "ebsonly", pool_plan(name="ebsonly"))
    lt = aws_mocks.one(LT, "ebsonly-lt")
    assert "userData" not in lt.inputs
    assert lt.inputs["blockDeviceMappings"][0]["ebs"]["volumeSize"] == ROOT_GIB_WITHOUT_NVME
    assert pool.local_nvme is False


def test_from_plan_refuses_azure_plan():
    with pytest.raises(SpecError, match=r"target\.cloud"):
        GpuNodePoolArgs.from_plan(pool_plan(cloud="azure"), cluster_name="c", subnet_ids_by_zone=SUBNETS)

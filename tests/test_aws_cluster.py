"""EksCluster under Pulumi mocks: a new cluster with add-ons and system nodes, or an existing one."""

from __future__ import annotations

import json

import pytest
from gpuforge.aws import EksCluster, EksClusterArgs, GpuNodePool, GpuNodePoolArgs
from gpuforge.aws.versions import ADDON_VERSIONS, EKS_KUBERNETES_VERSION
from test_aws_mocks import (  # noqa: F401  (fixture)
    EXISTING,
    MOCK_CA,
    MOCK_CLUSTER_SG,
    MOCK_ENDPOINT,
    MOCK_ISSUER,
    aws_mocks,
    pool_plan,
    unsecret,
)

CLUSTER = "aws:eks/cluster:Cluster"
ADDON = "aws:eks/addon:Addon"
NG = "aws:eks/nodeGroup:NodeGroup"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
ROLE = "aws:iam/role:Role"
ATTACH = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
K8S = "pulumi:providers:kubernetes"
ADMIN = "arn:aws:iam::123456789012:role/platform-admin"


def new_cluster(rec, name: str, **overrides) -> EksCluster:
    kwargs = dict(subnet_ids=["subnet-0a", "subnet-0b"], admin_principal_arns=[ADMIN])
    kwargs.update(overrides)
    cluster = EksCluster(name, EksClusterArgs.from_plan(pool_plan(), name, **kwargs))
    rec.settle(cluster)
    return cluster


def test_cluster_api_auth_private_endpoint_logs_and_version(aws_mocks):
    new_cluster(aws_mocks, "c1")
    c = aws_mocks.one(CLUSTER, "c1")
    assert c.parent == "c1"
    assert c.inputs["name"] == "c1"
    assert c.inputs["version"] == EKS_KUBERNETES_VERSION
    assert c.inputs["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": True}
    assert c.inputs["vpcConfig"] == {
        "subnetIds": ["subnet-0a", "subnet-0b"],
        "endpointPrivateAccess": True,
        "endpointPublicAccess": False,
    }
    assert c.inputs["enabledClusterLogTypes"] == ["api", "audit", "authenticator"]
    assert c.inputs["bootstrapSelfManagedAddons"] is False
    assert c.inputs["roleArn"] == "arn:aws:mock:::c1-cluster"
    logs = aws_mocks.one("aws:cloudwatch/logGroup:LogGroup", "c1-logs")
    assert logs.inputs["name"] == "/aws/eks/c1/cluster" and logs.inputs["retentionInDays"] == 30
    assert "c1-logs" in aws_mocks.depends_on("c1", CLUSTER)  # log group exists before EKS writes to it


def test_public_endpoint_limited_to_cidrs(aws_mocks):
    new_cluster(aws_mocks, "c2", endpoint_public_access=True, public_access_cidrs=["203.0.113.0/24"])
    vpc = aws_mocks.one(CLUSTER, "c2").inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is True and vpc["endpointPrivateAccess"] is True
    assert vpc["publicAccessCidrs"] == ["203.0.113.0/24"]


def test_secrets_encrypted_with_rotating_kms_key(aws_mocks):
    new_cluster(aws_mocks, "c3")
    key = aws_mocks.one("aws:kms/key:Key", "c3-secrets")
    assert key.parent == "c3"
    assert key.inputs["enableKeyRotation"] is True
    assert aws_mocks.one(CLUSTER, "c3").inputs["encryptionConfig"] == {
        "provider": {"keyArn": "arn:aws:mock:::c3-secrets"},
        "resources": ["secrets"],
    }
    assert aws_mocks.one("aws:kms/alias:Alias", "c3-secrets").inputs["name"] == "alias/eks/c3"


def test_cluster_role_trust_and_policy(aws_mocks):
    new_cluster(aws_mocks, "c4")
    trust = json.loads(aws_mocks.one(ROLE, "c4-cluster").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "eks.amazonaws.com"}
    assert aws_mocks.one(ATTACH, "c4-cluster-eks").inputs["policyArn"] == "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"


def test_oidc_provider_from_cluster_issuer(aws_mocks):
    cluster = new_cluster(aws_mocks, "c5")
    oidc = aws_mocks.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "c5-oidc")
    assert oidc.inputs["url"] == MOCK_ISSUER
    assert oidc.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    assert aws_mocks.resolve(cluster.oidc_provider_arn) == "arn:aws:mock:::c5-oidc"
    assert aws_mocks.resolve(cluster.cluster_security_group_id) == MOCK_CLUSTER_SG


def test_core_addons_pinned_with_pod_identity_roles(aws_mocks):
    new_cluster(aws_mocks, "c6")
    addons = {a.inputs["addonName"]: a for a in aws_mocks.of_type(ADDON)}
    assert {n: a.inputs["addonVersion"] for n, a in addons.items()} == dict(ADDON_VERSIONS)
    assert all(a.parent == "c6" and a.inputs["clusterName"] == "c6" for a in addons.values())
    assert addons["vpc-cni"].inputs["podIdentityAssociations"] == [{"roleArn": "arn:aws:mock:::c6-vpc-cni", "serviceAccount": "aws-node"}]
    assert addons["aws-ebs-csi-driver"].inputs["podIdentityAssociations"] == [
        {"roleArn": "arn:aws:mock:::c6-aws-ebs-csi-driver", "serviceAccount": "ebs-csi-controller-sa"}
    ]
    assert "podIdentityAssociations" not in addons["coredns"].inputs
    trust = json.loads(aws_mocks.one(ROLE, "c6-vpc-cni").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(trust["Statement"][0]["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    assert aws_mocks.one(ATTACH, "c6-vpc-cni-policy").inputs["policyArn"].endswith("/AmazonEKS_CNI_Policy")
    # the agent first, networking before nodes, DNS and storage after them
    assert "c6-eks-pod-identity-agent" in aws_mocks.depends_on("c6-vpc-cni", ADDON)
    assert {"c6-vpc-cni", "c6-kube-proxy", "c6-eks-pod-identity-agent"} <= set(aws_mocks.depends_on("c6-system", NG))
    assert "c6-system" in aws_mocks.depends_on("c6-coredns", ADDON)
    assert "c6-system" in aws_mocks.depends_on("c6-aws-ebs-csi-driver", ADDON)


def test_system_node_group_on_demand_al2023_with_imdsv2(aws_mocks):
    cluster = new_cluster(aws_mocks, "c7")
    ng = aws_mocks.one(NG, "c7-system")
    assert ng.parent == "c7"
    assert ng.inputs["amiType"] == "AL2023_x86_64_STANDARD"
    assert ng.inputs["capacityType"] == "ON_DEMAND"
    assert ng.inputs["scalingConfig"] == {"desiredSize": 2, "minSize": 2, "maxSize": 3}
    assert ng.inputs["subnetIds"] == ["subnet-0a", "subnet-0b"]
    assert ng.inputs["nodeRoleArn"] == "arn:aws:mock:::c7-node"
    assert "taints" not in ng.inputs
    lt = aws_mocks.one(LT, "c7-system")
    assert lt.inputs["instanceType"] == "m7i.large"
    assert lt.inputs["metadataOptions"]["httpTokens"] == "required"
    assert lt.inputs["metadataOptions"]["httpPutResponseHopLimit"] == 1  # no pod reaches IMDS (Pod Identity instead)
    assert lt.inputs["blockDeviceMappings"][0]["ebs"]["encrypted"] == "true"
    # node role: worker + ECR only; the CNI runs on its own Pod Identity role
    policies = sorted(a.inputs["policyArn"].rsplit("/", 1)[-1] for a in aws_mocks.of_type(ATTACH) if a.name.startswith("c7-node-"))
    assert policies == ["AmazonEC2ContainerRegistryReadOnly", "AmazonEKSWorkerNodePolicy"]
    assert cluster.cni_pod_identity is True
    assert aws_mocks.resolve(cluster.node_role_arn) == "arn:aws:mock:::c7-node"


def test_admin_access_entries(aws_mocks):
    new_cluster(aws_mocks, "c8", admin_principal_arns=[ADMIN, "arn:aws:iam::123456789012:user/ops"])
    entries = sorted(aws_mocks.of_type("aws:eks/accessEntry:AccessEntry"), key=lambda e: e.name)
    assert [(e.name, e.inputs["principalArn"], e.inputs["type"]) for e in entries] == [
        ("c8-admin-0", ADMIN, "STANDARD"),
        ("c8-admin-1", "arn:aws:iam::123456789012:user/ops", "STANDARD"),
    ]
    assoc = aws_mocks.one("aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "c8-admin-0")
    assert assoc.inputs["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    assert assoc.inputs["accessScope"] == {"type": "cluster"}
    assert "c8-admin-0" in aws_mocks.depends_on("c8-admin-0", "aws:eks/accessPolicyAssociation:AccessPolicyAssociation")


def test_kubeconfig_is_secret_and_uses_get_token(aws_mocks):
    cluster = new_cluster(aws_mocks, "c9", kubeconfig_role_arn="arn:aws:iam::123456789012:role/deployer")
    assert aws_mocks.is_secret(cluster.kubeconfig)
    provider = aws_mocks.one(K8S, "c9-k8s")
    assert provider.parent == "c9"
    config = json.loads(unsecret(provider.inputs["kubeconfig"]))
    assert config["clusters"][0]["cluster"] == {"server": MOCK_ENDPOINT, "certificate-authority-data": MOCK_CA}
    exec_ = config["users"][0]["user"]["exec"]
    assert exec_["command"] == "aws"
    assert exec_["args"][:6] == ["eks", "get-token", "--cluster-name", "c9", "--region", "us-east-1"]
    assert exec_["args"][-2:] == ["--role-arn", "arn:aws:iam::123456789012:role/deployer"]
    assert list(config["users"][0]["user"]) == ["exec"]  # no credential stored, only the exec hook
    assert {"c9-system", "c9-admin-0"} <= set(aws_mocks.depends_on("c9-k8s", K8S))


def test_children_of_new_cluster(aws_mocks):
    new_cluster(aws_mocks, "cx", admin_principal_arns=[])
    kids = aws_mocks.children_of("cx")
    # +3: the Cluster Autoscaler's role, inline policy and Pod Identity association
    assert len(kids) == 25
    assert f"{CLUSTER}::cx" in kids and f"{K8S}::cx-k8s" in kids and f"{NG}::cx-system" in kids


def test_existing_cluster_reads_eks_and_builds_provider(aws_mocks):
    args = EksClusterArgs.existing_cluster("prod", "us-west-2", node_role_arn="arn:aws:iam::123456789012:role/prod-nodes")
    cluster = EksCluster("adopt", args)
    aws_mocks.settle(cluster)
    assert ("aws:eks/getCluster:getCluster", {"name": "prod"}) in aws_mocks.calls
    assert sorted(r.type for r in aws_mocks.resources) == ["gpuforge:aws:EksCluster", K8S]
    assert aws_mocks.resolve(cluster.cluster_security_group_id) == "sg-0existing"
    assert aws_mocks.resolve(cluster.oidc_provider_arn) == (
        "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXISTING"
    )
    assert aws_mocks.resolve(cluster.node_role_arn) == "arn:aws:iam::123456789012:role/prod-nodes"
    assert cluster.cni_pod_identity is False
    config = json.loads(unsecret(aws_mocks.one(K8S, "adopt-k8s").inputs["kubeconfig"]))
    assert config["clusters"][0]["cluster"]["server"] == EXISTING["endpoint"]
    assert config["users"][0]["user"]["exec"]["args"][2:6] == ["--cluster-name", "prod", "--region", "us-west-2"]
    assert aws_mocks.is_secret(cluster.kubeconfig)


def test_gpu_pool_on_new_cluster_wires_outputs(aws_mocks):
    """The pieces fit: a multi-node p5 pool takes the cluster's name, SG and role."""
    cluster = new_cluster(aws_mocks, "c10")
    plan = pool_plan(
        name="wired", instance_type="p5.48xlarge", gpu="h100-80gb", gpus_per_node=8, nodes_per_replica=2,
        desired_nodes=2, min_nodes=2, max_nodes=2, zone="us-east-1a", fabric="efa", placement_group=True,
    )
    pool = GpuNodePool(
        "wired",
        GpuNodePoolArgs.from_plan(
            plan,
            cluster_name=cluster.cluster_name,
            subnet_ids_by_zone={"us-east-1a": "subnet-0a", "us-east-1b": "subnet-0b"},
            vpc_id="vpc-0abc",
            cluster_security_group_id=cluster.cluster_security_group_id,
            node_role_arn=cluster.node_role_arn,
            attach_cni_policy=not cluster.cni_pod_identity,
        ),
    )
    aws_mocks.settle(pool)
    ng = aws_mocks.one(NG, "wired")
    assert ng.inputs["clusterName"] == "c10" and ng.inputs["nodeRoleArn"] == "arn:aws:mock:::c10-node"
    nics = aws_mocks.one(LT, "wired-lt").inputs["networkInterfaces"]
    assert nics[0]["securityGroups"] == [MOCK_CLUSTER_SG, "wired-efa-id"]


@pytest.mark.parametrize("missing", ["coredns", "eks-pod-identity-agent"])
def test_required_addons_cannot_be_dropped(missing):
    versions = {k: v for k, v in ADDON_VERSIONS.items() if k != missing}
    args = EksClusterArgs("c", "us-east-1", subnet_ids=["a", "b"], addon_versions=versions)
    assert [p.path for p in args.problems()] == ["addon_versions"]


def test_ebs_csi_addon_is_optional(aws_mocks):
    versions = {k: v for k, v in ADDON_VERSIONS.items() if k != "aws-ebs-csi-driver"}
    new_cluster(aws_mocks, "c11", addon_versions=versions)
    assert "aws-ebs-csi-driver" not in {a.inputs["addonName"] for a in aws_mocks.of_type(ADDON)}
    assert not [r for r in aws_mocks.of_type(ROLE) if r.name == "c11-aws-ebs-csi-driver"]

"""IAM pieces the AWS components share: trust policies, managed-policy ARNs, the node role."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

# Managed policies a node needs to join the cluster and pull images, nothing more. The VPC CNI
# policy is only attached where the CNI has no role of its own (see node_role).
WORKER_NODE_POLICY = "AmazonEKSWorkerNodePolicy"
ECR_READ_ONLY_POLICY = "AmazonEC2ContainerRegistryReadOnly"
CNI_POLICY = "AmazonEKS_CNI_Policy"
SSM_POLICY = "AmazonSSMManagedInstanceCore"
CLUSTER_POLICY = "AmazonEKSClusterPolicy"
EBS_CSI_POLICY = "service-role/AmazonEBSCSIDriverPolicy"


def trust_policy(service: str, *, tag_session: bool = False) -> str:
    """An assume-role policy document letting `service` assume the role."""
    actions = ["sts:AssumeRole", "sts:TagSession"] if tag_session else "sts:AssumeRole"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": actions}],
        },
        sort_keys=True,
    )


#: EKS Pod Identity trust: the agent assumes the role and tags the session (EKS user guide, pod-id-role).
POD_IDENTITY_TRUST = trust_policy("pods.eks.amazonaws.com", tag_session=True)


def partition(parent: pulumi.Resource) -> pulumi.Output[str]:
    """The AWS partition (aws, aws-cn, aws-us-gov) of the provider `parent` uses."""
    return aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=parent)).partition


def managed_policy_arn(part: pulumi.Output[str], name: str) -> pulumi.Output[str]:
    """The ARN of the AWS managed policy `name` in partition `part`."""
    return pulumi.Output.concat("arn:", part, ":iam::aws:policy/", name)


def attach(
    name: str, role: aws.iam.Role, part: pulumi.Output[str], policies: dict[str, str], parent: pulumi.Resource
) -> list[aws.iam.RolePolicyAttachment]:
    """Attach managed policies to `role`; children are named `f"{name}-{suffix}"`."""
    return [
        aws.iam.RolePolicyAttachment(
            f"{name}-{suffix}",
            role=role.name,
            policy_arn=managed_policy_arn(part, policy),
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for suffix, policy in policies.items()
    ]


def node_role(
    name: str,
    parent: pulumi.Resource,
    part: pulumi.Output[str],
    *,
    cni_policy: bool,
    ssm: bool,
    tags: dict[str, str] | None = None,
) -> tuple[aws.iam.Role, list[aws.iam.RolePolicyAttachment]]:
    """An EC2 node role with only the managed policies EKS nodes need.

    Args:
        cni_policy: attach AmazonEKS_CNI_Policy. Needed when the VPC CNI runs on the node's
            identity (clusters whose vpc-cni add-on has no Pod Identity or IRSA role).
        ssm: attach AmazonSSMManagedInstanceCore for Session Manager shell access.
    """
    role = aws.iam.Role(
        name,
        assume_role_policy=trust_policy("ec2.amazonaws.com"),
        description="EKS worker nodes (gpuforge)",
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    policies = {"worker": WORKER_NODE_POLICY, "ecr": ECR_READ_ONLY_POLICY}
    if cni_policy:
        policies["cni"] = CNI_POLICY
    if ssm:
        policies["ssm"] = SSM_POLICY
    return role, attach(name, role, part, policies, parent)


def caller_is_admin(caller_arn: str, admin_arns: list[str] | tuple[str, ...]) -> bool:
    """Whether the identity `caller_arn` is one of `admin_arns` as EKS access entries see it.

    An assumed-role session `arn:<p>:sts::<acct>:assumed-role/<role>/<session>` counts as the role
    `arn:<p>:iam::<acct>:role/<role>` (access entries name the role; its sessions inherit it);
    a role with an IAM path is matched on its name, since the session ARN drops the path.
    """
    if caller_arn in admin_arns:
        return True
    parts = caller_arn.split(":")
    if len(parts) < 6:
        return False
    partition, service, account, resource = parts[1], parts[2], parts[4], parts[5]
    if service == "sts" and resource.startswith("assumed-role/"):
        role = resource.split("/")[1]
        prefix = f"arn:{partition}:iam::{account}:role/"
        return any(a.startswith(prefix) and a.rsplit("/", 1)[-1] == role for a in admin_arns)
    return False


def caller_access_warning(caller_arn: str, admin_arns: list[str] | tuple[str, ...], creator_admin: bool = False) -> str | None:
    """What will go wrong with the EKS access entries for the identity running Pulumi, if anything.

    Without the creator's bootstrap entry, a caller outside `admin_arns` is refused by the API
    (Unauthorized); with it, a caller inside `admin_arns` gets a second entry, which EKS rejects
    (409 ResourceInUseException).
    """
    if not admin_arns or not caller_arn:
        return None
    inside = caller_is_admin(caller_arn, admin_arns)
    if creator_admin and inside:
        return (
            f"the identity running pulumi ({caller_arn}) is one of cluster.admin_principals and creator_admin is on: EKS "
            "rejects its second access entry (409). Drop creator_admin (it then gets access through admin_principals)."
        )
    if not creator_admin and not inside:
        return (
            f"the identity running pulumi ({caller_arn}) is not among cluster.admin_principals; with admins listed EKS "
            "gives the creator no access entry, so creating Kubernetes objects will fail (Unauthorized). Run pulumi as "
            "one of them, or add it to admin_principals."
        )
    return None

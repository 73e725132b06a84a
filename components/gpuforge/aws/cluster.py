"""An EKS cluster (new, or an existing one by name) and the Kubernetes provider built from it."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from gpuforge.aws import iam
from gpuforge.aws._validation import arn_problems, cidr_problems, lookup_region
from gpuforge.aws.versions import (
    ADDON_VERSIONS,
    EKS_KUBERNETES_VERSION,
    SYSTEM_AMI_TYPE,
    SYSTEM_INSTANCE_TYPE,
    VPC_CNI_MIN_FOR_EFA_ONLY,
)
from gpuforge.errors import Problem, SpecError
from gpuforge.plan import NodePoolPlan

LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
#: Add-ons the nodes need before they can become Ready (DaemonSets, no node needed to go ACTIVE).
PRE_NODE_ADDONS = ("eks-pod-identity-agent", "vpc-cni", "kube-proxy")
#: Add-ons that run as Deployments and stay degraded until a node exists.
POST_NODE_ADDONS = ("coredns", "aws-ebs-csi-driver")
REQUIRED_ADDONS = ("eks-pod-identity-agent", "vpc-cni", "kube-proxy", "coredns")
ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"
SYSTEM_ROOT_GIB = 50


@dataclass
class EksClusterArgs:
    """A new EKS cluster, or the name of an existing one.

    Attributes:
        cluster_name: the EKS cluster name (also what the subnets are tagged with).
        region: AWS region of the cluster; written into the kubeconfig.
        subnet_ids: private subnets (two zones or more) for the control-plane ENIs and the
            system nodes.
        existing: use the existing cluster `cluster_name` instead of creating one.
        kubernetes_version: EKS minor version.
        admin_principal_arns: IAM roles/users given cluster-admin through access entries.
        bootstrap_creator_admin: make the identity running `pulumi up` cluster admin (the
            Kubernetes provider authenticates as that identity unless kubeconfig_role_arn).
        endpoint_public_access: also expose the API endpoint publicly...
        public_access_cidrs: ...to these CIDRs only (required with a public endpoint).
        allow_public_from_anywhere: the explicit opt-in a /0 in public_access_cidrs needs.
        network_policy: have the VPC CNI enforce Kubernetes NetworkPolicies (its
            `enableNetworkPolicy` add-on setting; new clusters only).
        cluster_autoscaler: create the IAM role and Pod Identity association the Cluster
            Autoscaler (installed by GpuPlatform) scales the managed node groups with.
        log_types: control-plane log types sent to CloudWatch.
        log_retention_days: retention of the control-plane log group.
        addon_versions: add-on name -> version; defaults pinned in `versions.py`.
        oidc_provider: also register the cluster's OIDC issuer in IAM for IRSA.
        system_instance_type, system_nodes: the on-demand node group for controllers.
        ssm_access: attach AmazonSSMManagedInstanceCore to the system node role.
        node_role_arn: existing cluster only: a node role GPU pools may share.
        kubeconfig_role_arn: role `aws eks get-token` assumes for the Kubernetes provider.
        tags: added to every resource.
    """

    cluster_name: str
    region: str
    subnet_ids: Sequence[pulumi.Input[str]] = ()
    existing: bool = False
    kubernetes_version: str = EKS_KUBERNETES_VERSION
    admin_principal_arns: Sequence[str] = ()
    bootstrap_creator_admin: bool = True
    endpoint_public_access: bool = False
    public_access_cidrs: Sequence[str] = ()
    allow_public_from_anywhere: bool = False
    network_policy: bool = True
    cluster_autoscaler: bool = True
    log_types: Sequence[str] = ("api", "audit", "authenticator")
    log_retention_days: int = 30
    addon_versions: Mapping[str, str] = field(default_factory=lambda: dict(ADDON_VERSIONS))
    oidc_provider: bool = True
    system_instance_type: str = SYSTEM_INSTANCE_TYPE
    system_nodes: int = 2
    ssm_access: bool = False
    node_role_arn: str | None = None
    kubeconfig_role_arn: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def existing_cluster(cls, cluster_name: str, region: str, **kwargs) -> EksClusterArgs:
        """Args that adopt the EKS cluster `cluster_name` (nothing is created but the provider)."""
        return cls(cluster_name=cluster_name, region=region, existing=True, **kwargs)

    @classmethod
    def from_plan(
        cls, pool: NodePoolPlan, cluster_name: str, subnet_ids: Sequence[pulumi.Input[str]], **overrides
    ) -> EksClusterArgs:
        """A new cluster in the region the pool was planned for."""
        kwargs: dict[str, Any] = {"cluster_name": cluster_name, "region": pool.region, "subnet_ids": list(subnet_ids)}
        kwargs.update(overrides)
        return cls(**kwargs)

    def problems(self) -> list[Problem]:
        out: list[Problem] = []
        _, found = lookup_region("region", self.region)
        out += found
        if not re.fullmatch(r"[0-9A-Za-z][A-Za-z0-9_-]{0,99}", self.cluster_name):
            out.append(
                Problem(
                    "cluster_name",
                    f"{self.cluster_name!r} is not a valid EKS cluster name",
                    "use 1-100 letters, digits, '-' or '_', starting with a letter or digit",
                )
            )
        out += arn_problems("admin_principal_arns", self.admin_principal_arns)
        if self.kubeconfig_role_arn:
            out += arn_problems("kubeconfig_role_arn", [self.kubeconfig_role_arn])
        if self.existing:
            if self.admin_principal_arns:
                out.append(
                    Problem(
                        "admin_principal_arns",
                        "access entries of an existing cluster are not managed here",
                        "grant access with `aws eks create-access-entry` on that cluster, or drop admin_principal_arns",
                    )
                )
            if self.node_role_arn:
                out += arn_problems("node_role_arn", [self.node_role_arn])
            return out
        if self.node_role_arn:
            out.append(Problem("node_role_arn", "set for a new cluster, which creates its own node role", "drop node_role_arn"))
        if len(self.subnet_ids) < 2:
            out.append(
                Problem(
                    "subnet_ids",
                    f"{len(self.subnet_ids)} subnet(s) given; EKS needs subnets in at least two zones",
                    "pass Network.private_subnet_ids",
                )
            )
        if not re.fullmatch(r"1\.\d+", self.kubernetes_version):
            out.append(
                Problem("kubernetes_version", f"{self.kubernetes_version!r} is not an EKS minor version", f"write it like {EKS_KUBERNETES_VERSION!r}")
            )
        if self.endpoint_public_access and not self.public_access_cidrs:
            out.append(
                Problem(
                    "public_access_cidrs",
                    "a public API endpoint without CIDRs would be open to the whole internet",
                    "list the CIDRs allowed to reach it (write 0.0.0.0/0 only if you mean everyone)",
                )
            )
        if self.public_access_cidrs and not self.endpoint_public_access:
            out.append(
                Problem(
                    "endpoint_public_access",
                    "public_access_cidrs are given but the endpoint is private only",
                    "set endpoint_public_access=True, or drop public_access_cidrs",
                )
            )
        out += cidr_problems("public_access_cidrs", self.public_access_cidrs)
        world = [c for c in self.public_access_cidrs if c.strip().endswith("/0")]
        if world and not self.allow_public_from_anywhere:
            out.append(
                Problem(
                    "public_access_cidrs",
                    f"{', '.join(world)} opens the Kubernetes API endpoint to the whole internet",
                    "list the CIDRs that run pulumi and kubectl; if you mean everyone, set allow_public_from_anywhere=True",
                )
            )
        bad_logs = [t for t in self.log_types if t not in LOG_TYPES]
        if bad_logs:
            out.append(Problem("log_types", f"unknown log types {bad_logs}", f"use some of {', '.join(LOG_TYPES)}"))
        missing = [a for a in REQUIRED_ADDONS if a not in self.addon_versions]
        if missing:
            out.append(
                Problem("addon_versions", f"no version for {', '.join(missing)}", "keep the defaults from gpuforge.aws.versions.ADDON_VERSIONS")
            )
        unknown = [a for a in self.addon_versions if a not in PRE_NODE_ADDONS + POST_NODE_ADDONS]
        if unknown:
            out.append(
                Problem("addon_versions", f"add-ons {unknown} are not managed here", f"keep to {', '.join(PRE_NODE_ADDONS + POST_NODE_ADDONS)}")
            )
        cni = self.addon_versions.get("vpc-cni", "")
        parsed = re.match(r"v(\d+)\.(\d+)\.(\d+)", cni)
        if cni and (not parsed or tuple(int(g) for g in parsed.groups()) < VPC_CNI_MIN_FOR_EFA_ONLY):
            floor = ".".join(map(str, VPC_CNI_MIN_FOR_EFA_ONLY))
            out.append(
                Problem("addon_versions.vpc-cni", f"{cni!r} is below v{floor}, which efa-only interfaces need", f"use v{floor} or newer")
            )
        if self.system_nodes < 1:
            out.append(Problem("system_nodes", f"{self.system_nodes} system nodes cannot run CoreDNS", "use 2 (default)"))
        if not self.bootstrap_creator_admin and not self.admin_principal_arns and not self.kubeconfig_role_arn:
            out.append(
                Problem(
                    "admin_principal_arns",
                    "with bootstrap_creator_admin off and no admin principal, nobody (not even this program) can reach the API",
                    "add an admin principal ARN, or keep bootstrap_creator_admin=True",
                )
            )
        return out


def addon_configuration(addon: str, args: EksClusterArgs) -> str | None:
    """The add-on's configurationValues (JSON), or None for the add-on's defaults.

    vpc-cni: `enableNetworkPolicy: "true"` starts the network policy agent beside the CNI so
    NetworkPolicies are enforced; without it EKS stores them and enforces nothing (EKS user
    guide, https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy-configure.html,
    "Amazon EKS add-on"; needs VPC CNI 1.14 or later, the pin is newer).
    """
    if addon == "vpc-cni" and args.network_policy:
        return json.dumps({"enableNetworkPolicy": "true"}, sort_keys=True)
    return None


#: Namespace and service account the Cluster Autoscaler runs as (GpuPlatform's release).
CLUSTER_AUTOSCALER_NAMESPACE = "kube-system"
CLUSTER_AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler"


def cluster_autoscaler_policy(cluster_name: str) -> str:
    """IAM policy of the Cluster Autoscaler on managed node groups.

    The "Full Cluster Autoscaler Features Policy" of the AWS cloud provider README
    (kubernetes/autoscaler cluster-autoscaler/cloudprovider/aws/README.md @55c37cd5, 2026-08-22):
    read-only discovery on `*` (eks:DescribeNodegroup lets it scale a managed node group up
    from zero with the group's labels and taints), and the two write actions limited to the
    Auto Scaling groups EKS tags `k8s.io/cluster-autoscaler/<cluster>: owned` for this cluster,
    as the README's minimal policy suggests.
    """
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "autoscaling:DescribeAutoScalingGroups",
                        "autoscaling:DescribeAutoScalingInstances",
                        "autoscaling:DescribeLaunchConfigurations",
                        "autoscaling:DescribeScalingActivities",
                        "ec2:DescribeImages",
                        "ec2:DescribeInstanceTypes",
                        "ec2:DescribeLaunchTemplateVersions",
                        "ec2:GetInstanceTypesFromInstanceRequirements",
                        "eks:DescribeNodegroup",
                    ],
                    "Resource": ["*"],
                },
                {
                    "Effect": "Allow",
                    "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
                    "Resource": ["*"],
                    "Condition": {"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}},
                },
            ],
        },
        sort_keys=True,
    )


def kubeconfig(cluster_name: str, endpoint: str, ca_data: str, region: str, role_arn: str | None = None) -> str:
    """A kubeconfig (JSON) authenticating through `aws eks get-token`; holds no credential itself."""
    args = ["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"]
    if role_arn:
        args += ["--role-arn", role_arn]
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
            "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
            "current-context": cluster_name,
            "users": [
                {
                    "name": cluster_name,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": args,
                            "interactiveMode": "Never",
                        }
                    },
                }
            ],
        },
        indent=2,
    )


def _dig(value: Any, *path: str | int) -> Any:
    """value[path...] through SDK output objects, dicts and lists; None where anything is missing."""
    for step in path:
        if value is None:
            return None
        if isinstance(step, int):
            value = value[step] if len(value) > step else None
        elif isinstance(value, Mapping):
            value = value.get(step)
        else:
            value = getattr(value, step, None)
    return value


class EksCluster(pulumi.ComponentResource):
    """An EKS cluster and a Kubernetes provider for it.

    Attributes:
        cluster_name: the cluster name.
        endpoint: API server URL.
        kubeconfig: JSON kubeconfig using `aws eks get-token`; a Pulumi secret.
        provider: `pulumi_kubernetes.Provider` for the Kubernetes components.
        oidc_issuer: the cluster's OIDC issuer URL.
        oidc_provider_arn: IAM OIDC provider of the issuer (IRSA), or None when not created.
        cluster_security_group_id: the EKS-managed cluster security group.
        node_role_arn: a node role GPU pools can share (new clusters; given for existing), or None.
        cni_pod_identity: the vpc-cni add-on runs on its own Pod Identity role, so node roles
            need no CNI policy (True for new clusters; unknown, so False, for existing ones).
        region: the region.
        cluster_autoscaler_association: the Cluster Autoscaler's Pod Identity association (new
            clusters with cluster_autoscaler), which its Helm release waits for; else None.
    """

    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    oidc_issuer: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str] | None
    cluster_security_group_id: pulumi.Output[str]
    node_role_arn: pulumi.Output[str] | None

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        problems = args.problems()
        if problems:
            raise SpecError(f"EksCluster {name!r}", problems)
        super().__init__("gpuforge:aws:EksCluster", name, None, opts)
        self.region = args.region
        self.cluster_autoscaler_association: pulumi.Resource | None = None
        provider_deps: list[pulumi.Resource] = []
        if args.existing:
            ca_data = self._adopt(args)
        else:
            ca_data, provider_deps = self._create(name, args)

        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(self.cluster_name, self.endpoint, ca_data).apply(
                lambda v: kubeconfig(v[0], v[1] or "", v[2] or "", args.region, args.kubeconfig_role_arn)
            )
        )
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self, depends_on=provider_deps),
        )
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "endpoint": self.endpoint,
                "kubeconfig": self.kubeconfig,
                "oidc_provider_arn": self.oidc_provider_arn,
                "cluster_security_group_id": self.cluster_security_group_id,
                "node_role_arn": self.node_role_arn,
            }
        )

    # --- existing cluster ----------------------------------------------------------------
    def _adopt(self, args: EksClusterArgs) -> pulumi.Output[str]:
        invoke = pulumi.InvokeOutputOptions(parent=self)
        info = aws.eks.get_cluster_output(name=args.cluster_name, opts=invoke)
        self.cluster_name = pulumi.Output.from_input(args.cluster_name)
        self.endpoint = info.endpoint
        self.cluster_security_group_id = info.vpc_config.apply(lambda v: _dig(v, "cluster_security_group_id"))
        self.oidc_issuer = info.identities.apply(lambda ids: _dig(ids, 0, "oidcs", 0, "issuer"))
        account = aws.get_caller_identity_output(opts=invoke).account_id
        self.oidc_provider_arn = pulumi.Output.all(iam.partition(self), account, self.oidc_issuer).apply(
            lambda v: f"arn:{v[0]}:iam::{v[1]}:oidc-provider/{(v[2] or '').removeprefix('https://')}"
        )
        self.node_role_arn = pulumi.Output.from_input(args.node_role_arn) if args.node_role_arn else None
        self.cni_pod_identity = False
        return info.certificate_authorities.apply(lambda cas: _dig(cas, 0, "data"))

    # --- new cluster ---------------------------------------------------------------------
    def _create(self, name: str, args: EksClusterArgs) -> tuple[pulumi.Output[str], list[pulumi.Resource]]:
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        part = iam.partition(self)

        # EKS writes control-plane logs here; created first so they do not keep forever.
        logs = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/eks/{args.cluster_name}/cluster",
            retention_in_days=args.log_retention_days,
            tags=tags,
            opts=child,
        )
        cluster_role = aws.iam.Role(
            f"{name}-cluster",
            assume_role_policy=iam.trust_policy("eks.amazonaws.com", tag_session=True),
            description=f"EKS control plane of {args.cluster_name}",
            tags=tags,
            opts=child,
        )
        cluster_role_policies = iam.attach(f"{name}-cluster", cluster_role, part, {"eks": iam.CLUSTER_POLICY}, self)
        key = aws.kms.Key(
            f"{name}-secrets",
            description=f"Envelope encryption of Kubernetes secrets in {args.cluster_name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=tags,
            opts=child,
        )
        aws.kms.Alias(f"{name}-secrets", name=f"alias/eks/{args.cluster_name}", target_key_id=key.key_id, opts=child)

        vpc_config: dict[str, Any] = {
            "subnet_ids": list(args.subnet_ids),
            "endpoint_private_access": True,
            "endpoint_public_access": args.endpoint_public_access,
        }
        if args.endpoint_public_access:
            vpc_config["public_access_cidrs"] = list(args.public_access_cidrs)
        cluster = aws.eks.Cluster(
            name,
            name=args.cluster_name,
            role_arn=cluster_role.arn,
            version=args.kubernetes_version,
            vpc_config=vpc_config,
            access_config={
                "authentication_mode": "API",
                "bootstrap_cluster_creator_admin_permissions": args.bootstrap_creator_admin,
            },
            encryption_config={"provider": {"key_arn": key.arn}, "resources": ["secrets"]},
            enabled_cluster_log_types=list(args.log_types),
            # The managed add-ons below replace the self-managed copies EKS would install.
            bootstrap_self_managed_addons=False,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[logs, *cluster_role_policies]),
        )
        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.cluster_security_group_id = cluster.vpc_config.apply(lambda v: _dig(v, "cluster_security_group_id"))
        self.oidc_issuer = cluster.identities.apply(lambda ids: _dig(ids, 0, "oidcs", 0, "issuer"))
        self.oidc_provider_arn = None
        if args.oidc_provider:
            oidc = aws.iam.OpenIdConnectProvider(
                f"{name}-oidc", url=self.oidc_issuer, client_id_lists=["sts.amazonaws.com"], tags=tags, opts=child
            )
            self.oidc_provider_arn = oidc.arn

        access = self._admins(name, args, cluster, part)
        addons = self._addons(name, args, cluster, part, tags)
        self.cni_pod_identity = True
        if args.cluster_autoscaler:
            self._cluster_autoscaler(name, args, cluster, addons["eks-pod-identity-agent"], tags)

        node_role, node_policies = iam.node_role(f"{name}-node", self, part, cni_policy=False, ssm=args.ssm_access, tags=tags)
        self.node_role_arn = node_role.arn
        template = aws.ec2.LaunchTemplate(
            f"{name}-system",
            description=f"{args.cluster_name} system nodes",
            instance_type=args.system_instance_type,
            update_default_version=True,
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                "http_put_response_hop_limit": 1,  # no pod reaches IMDS (aws/node_pool.py IMDS_HOP_LIMIT)
                "instance_metadata_tags": "disabled",
            },
            block_device_mappings=[
                {
                    "device_name": "/dev/xvda",
                    "ebs": {"volume_size": SYSTEM_ROOT_GIB, "volume_type": "gp3", "encrypted": "true", "delete_on_termination": "true"},
                }
            ],
            tags=tags,
            opts=child,
        )
        system = aws.eks.NodeGroup(
            f"{name}-system",
            cluster_name=cluster.name,
            node_role_arn=node_role.arn,
            subnet_ids=list(args.subnet_ids),
            ami_type=SYSTEM_AMI_TYPE,
            capacity_type="ON_DEMAND",
            scaling_config={"desired_size": args.system_nodes, "min_size": args.system_nodes, "max_size": args.system_nodes + 1},
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            labels={"gpuforge.io/pool": "system"},
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*node_policies, *(addons[a] for a in PRE_NODE_ADDONS if a in addons)]),
        )
        for addon in POST_NODE_ADDONS:
            if addon in args.addon_versions:
                addons[addon] = self._addon(name, addon, args, cluster, part, tags, depends_on=[system])
        ca = cluster.certificate_authority.apply(lambda c: _dig(c, "data"))
        return ca, [*access, system]

    def _cluster_autoscaler(
        self, name: str, args: EksClusterArgs, cluster: aws.eks.Cluster, agent: aws.eks.Addon, tags: dict[str, str]
    ) -> None:
        role = aws.iam.Role(
            f"{name}-cluster-autoscaler",
            assume_role_policy=iam.POD_IDENTITY_TRUST,
            description=f"Cluster Autoscaler of {args.cluster_name}",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        policy = aws.iam.RolePolicy(
            f"{name}-cluster-autoscaler",
            role=role.name,
            policy=cluster_autoscaler_policy(args.cluster_name),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.cluster_autoscaler_association = aws.eks.PodIdentityAssociation(
            f"{name}-cluster-autoscaler",
            cluster_name=cluster.name,
            namespace=CLUSTER_AUTOSCALER_NAMESPACE,
            service_account=CLUSTER_AUTOSCALER_SERVICE_ACCOUNT,
            role_arn=role.arn,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy, agent]),
        )

    def _admins(self, name: str, args: EksClusterArgs, cluster: aws.eks.Cluster, part: pulumi.Output[str]) -> list[pulumi.Resource]:
        out: list[pulumi.Resource] = []
        policy = pulumi.Output.concat("arn:", part, ":eks::aws:cluster-access-policy/", ADMIN_POLICY)
        for i, arn in enumerate(args.admin_principal_arns):
            entry = aws.eks.AccessEntry(
                f"{name}-admin-{i}", cluster_name=cluster.name, principal_arn=arn, type="STANDARD", opts=pulumi.ResourceOptions(parent=self)
            )
            out.append(
                aws.eks.AccessPolicyAssociation(
                    f"{name}-admin-{i}",
                    cluster_name=cluster.name,
                    principal_arn=arn,
                    policy_arn=policy,
                    access_scope={"type": "cluster"},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[entry]),
                )
            )
        return out

    def _addons(
        self, name: str, args: EksClusterArgs, cluster: aws.eks.Cluster, part: pulumi.Output[str], tags: dict[str, str]
    ) -> dict[str, aws.eks.Addon]:
        out: dict[str, aws.eks.Addon] = {}
        agent = self._addon(name, "eks-pod-identity-agent", args, cluster, part, tags)
        out["eks-pod-identity-agent"] = agent
        for addon in ("vpc-cni", "kube-proxy"):
            out[addon] = self._addon(name, addon, args, cluster, part, tags, depends_on=[agent])
        return out

    def _addon(
        self,
        name: str,
        addon: str,
        args: EksClusterArgs,
        cluster: aws.eks.Cluster,
        part: pulumi.Output[str],
        tags: dict[str, str],
        depends_on: Sequence[pulumi.Resource] = (),
    ) -> aws.eks.Addon:
        # Add-ons that call AWS APIs get their own Pod Identity role instead of borrowing the node's.
        roles = {"vpc-cni": ("aws-node", iam.CNI_POLICY), "aws-ebs-csi-driver": ("ebs-csi-controller-sa", iam.EBS_CSI_POLICY)}
        associations = None
        deps = list(depends_on)
        if addon in roles:
            service_account, policy = roles[addon]
            role = aws.iam.Role(
                f"{name}-{addon}",
                assume_role_policy=iam.POD_IDENTITY_TRUST,
                description=f"{addon} add-on of {args.cluster_name}",
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            deps += iam.attach(f"{name}-{addon}", role, part, {"policy": policy}, self)
            associations = [{"role_arn": role.arn, "service_account": service_account}]
        return aws.eks.Addon(
            f"{name}-{addon}",
            cluster_name=cluster.name,
            addon_name=addon,
            addon_version=args.addon_versions[addon],
            configuration_values=addon_configuration(addon, args),
            pod_identity_associations=associations,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=deps),
        )

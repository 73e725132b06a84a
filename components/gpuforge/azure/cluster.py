"""AksCluster: a new AKS cluster (or an existing one) and a Kubernetes provider for it."""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.containerservice as containerservice
import pulumi_azure_native.features as features
import pulumi_azure_native.managedidentity as managedidentity
import pulumi_kubernetes as k8s
import yaml

from gpuforge import catalog
from gpuforge.azure import versions
from gpuforge.errors import Problem, SpecError
from gpuforge.plan import NodePoolPlan

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# AKS cluster names: 1-63 letters, digits, '-' or '_', starting and ending alphanumeric.
CLUSTER_NAME = re.compile(r"^[A-Za-z0-9](?:[-\w]{0,61}[A-Za-z0-9])?$")
SKU_TIERS = ("Free", "Standard", "Premium")
# Built-in "Network Contributor" role (Azure built-in roles, Networking:
# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/networking).
NETWORK_CONTRIBUTOR_ROLE = "4d97b98b-1d4f-4787-a291-c67834d212e7"


@dataclass
class AksClusterArgs:
    """What the cluster looks like, or which existing cluster to use.

    Attributes:
        resource_group_name: resource group of the cluster (new or existing).
        location: Azure region, e.g. `eastus2`.
        admin_group_object_ids: Entra ID groups that get cluster-admin. Required for a new
            cluster: local accounts are disabled, so without one nobody (including the Pulumi
            run that installs the Kubernetes platform) can reach the API server.
        node_subnet_id: subnet for the nodes (`Network.node_subnet_id`); None lets AKS create a
            VNet in the node resource group.
        existing_cluster_name: use this cluster in `resource_group_name` instead of creating one.
        kubernetes_version: `<major>.<minor>` (AKS picks the latest GA patch) or a full patch.
        private_cluster: API server on a private endpoint in the node VNet only.
        authorized_ip_ranges: the only sources the public API server accepts
            (apiServerAccessProfile.authorizedIPRanges). Required for a public API server unless
            allow_public_from_anywhere.
        allow_public_from_anywhere: the explicit opt-in for a public API server open to every
            address (no ranges, or a /0 among them).
        network_scope: the VNet (or subnet) the cluster identity gets Network Contributor on.
            Set with a custom `node_subnet_id`: AKS manages load balancers, NICs and route
            tables in it with the cluster identity, and fails with LinkedAuthorizationFailed
            without the role. None with no custom subnet.
        network_policy: the NetworkPolicy engine: `cilium` (Azure CNI Powered by Cilium, which
            also sets the dataplane).
        system_vm_size / system_node_count / system_zones: the System pool for controllers.
        pod_cidr / service_cidr / dns_service_ip: Azure CNI overlay address ranges; none may
            overlap the VNet.
        sku_tier: AKS control-plane tier; Standard carries the uptime SLA.
        infiniband: InfiniBand pools are planned on this cluster.
        register_infiniband_feature: when `infiniband`, register the `AKSInfinibandSupport`
            subscription feature here (needs subscription-level rights; the resource fails when
            the registration object already exists, pulumi/pulumi-azure-native#1722, so it is
            off by default). False (default) lists the idempotent `az feature register` command
            in `preconditions` instead.
        kubelogin_login: how the kubeconfig gets Entra ID tokens (`kubelogin get-token --login`).
        tags: tags for every Azure resource created here.
    """

    resource_group_name: pulumi.Input[str]
    location: str
    admin_group_object_ids: Sequence[str] = ()
    node_subnet_id: pulumi.Input[str] | None = None
    existing_cluster_name: str | None = None
    kubernetes_version: str = versions.KUBERNETES_VERSION
    private_cluster: bool = False
    authorized_ip_ranges: Sequence[str] = ()
    allow_public_from_anywhere: bool = False
    network_scope: pulumi.Input[str] | None = None
    network_policy: str = "cilium"
    system_vm_size: str = versions.SYSTEM_POOL_VM_SIZE
    system_node_count: int = versions.SYSTEM_POOL_NODE_COUNT
    system_zones: Sequence[str] = ()
    pod_cidr: str = "10.244.0.0/16"
    service_cidr: str = "10.0.0.0/16"
    dns_service_ip: str = "10.0.0.10"
    sku_tier: str = "Standard"
    infiniband: bool = False
    register_infiniband_feature: bool = False
    kubelogin_login: str = versions.KUBELOGIN_DEFAULT_LOGIN
    tags: dict[str, str] = field(default_factory=dict)
    plan_problems: tuple[Problem, ...] = ()

    @property
    def existing(self) -> bool:
        return self.existing_cluster_name is not None

    @classmethod
    def from_plan(
        cls,
        pools: NodePoolPlan | Sequence[NodePoolPlan],
        *,
        resource_group_name: pulumi.Input[str],
        admin_group_object_ids: Sequence[str] = (),
        node_subnet_id: pulumi.Input[str] | None = None,
        **overrides: Any,
    ) -> AksClusterArgs:
        """Cluster args for the planned GPU pools: their region, zones for the system pool
        (every zone the catalog lists for the region) and whether InfiniBand is needed."""
        pools = [pools] if isinstance(pools, NodePoolPlan) else list(pools)
        problems: list[Problem] = []
        if not pools:
            problems.append(Problem("node_pools", "no node pool in the plan", "plan at least one GPU pool"))
        for p in pools:
            if p.cloud != "azure":
                problems.append(Problem(f"node_pools.{p.name}.cloud", f"pool is planned for {p.cloud!r}",
                                        "plan with target.cloud: azure, or use gpuforge.aws"))
        regions = sorted({p.region for p in pools})
        if len(regions) > 1:
            problems.append(Problem("node_pools.region", f"pools span regions {regions}; one AKS cluster lives in one region",
                                    "plan every pool of this cluster in the same region"))
        location = regions[0] if regions else ""
        zones: tuple[str, ...] = ()
        try:
            zones = catalog.get_region("azure", location).zones if location else ()
        except KeyError:
            pass  # the pools report unknown regions; the system pool then runs without zones
        kwargs: dict[str, Any] = {
            "resource_group_name": resource_group_name,
            "location": location,
            "admin_group_object_ids": tuple(admin_group_object_ids),
            "node_subnet_id": node_subnet_id,
            "system_zones": zones,
            "infiniband": any(p.fabric == "infiniband" for p in pools),
            "plan_problems": tuple(problems),
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    def problems(self) -> list[Problem]:
        out = list(self.plan_problems)
        if not re.fullmatch(r"[a-z0-9]+", self.location or ""):
            out.append(Problem("cluster.location", f"{self.location!r} is not an Azure region name",
                               "use the lowercase region name, e.g. eastus2"))
        if self.kubelogin_login not in versions.KUBELOGIN_LOGINS:
            out.append(Problem("cluster.kubelogin_login", f"{self.kubelogin_login!r} is not a non-interactive kubelogin mode",
                               f"use one of {', '.join(versions.KUBELOGIN_LOGINS)}"))
        for gid in self.admin_group_object_ids:
            if not GUID.fullmatch(gid):
                out.append(Problem("cluster.admin_group_object_ids", f"{gid!r} is not an object id (GUID)",
                                   "pass the group's object id: az ad group show -g <name> --query id -o tsv"))
        if self.existing:
            if not CLUSTER_NAME.fullmatch(self.existing_cluster_name or ""):
                out.append(Problem("cluster.existing_cluster_name", f"{self.existing_cluster_name!r} is not an AKS cluster name",
                                   "use the name shown by az aks list -o table"))
            return out

        out += self._api_access_problems()
        if self.network_policy not in NETWORK_POLICIES:
            out.append(Problem("cluster.network_policy", f"{self.network_policy!r} is not an AKS NetworkPolicy engine gpuforge sets up",
                               f"use one of {', '.join(NETWORK_POLICIES)}"))
        if self.node_subnet_id is not None and self.network_scope is None:
            out.append(Problem("cluster.network_scope", "a custom node subnet without a scope for the cluster identity's Network Contributor role",
                               "pass the VNet id (Network.vnet_id) or the subnet id"))
        if not self.admin_group_object_ids:
            out.append(Problem("cluster.admin_group_object_ids", "empty: local accounts are disabled and Entra ID RBAC is on, "
                               "so no identity could use the new cluster (not even this Pulumi run)",
                               "add the object id of an Entra ID group the deploying identity is in"))
        if not re.fullmatch(r"\d+\.\d+(\.\d+)?", self.kubernetes_version):
            out.append(Problem("cluster.kubernetes_version", f"{self.kubernetes_version!r} is not <major>.<minor>[.<patch>]",
                               f"use e.g. {versions.KUBERNETES_VERSION!r} (az aks get-versions -l {self.location} -o table)"))
        if not 1 <= self.system_node_count <= 1000:
            out.append(Problem("cluster.system_node_count", f"{self.system_node_count} is outside 1..1000",
                               f"use {versions.SYSTEM_POOL_NODE_COUNT} (two nodes keep controllers up through upgrades)"))
        if self.sku_tier not in SKU_TIERS:
            out.append(Problem("cluster.sku_tier", f"{self.sku_tier!r} is not an AKS tier", f"use one of {', '.join(SKU_TIERS)}"))
        pod = _cidr(self.pod_cidr, "cluster.pod_cidr", out)
        svc = _cidr(self.service_cidr, "cluster.service_cidr", out)
        if pod and svc and pod.overlaps(svc):
            out.append(Problem("cluster.service_cidr", f"{self.service_cidr} overlaps the pod CIDR {self.pod_cidr}",
                               "pick non-overlapping ranges, e.g. pods 10.244.0.0/16, services 10.0.0.0/16"))
        if svc:
            try:
                dns = ipaddress.ip_address(self.dns_service_ip)
            except ValueError:
                dns = None
            hosts = list(svc.hosts())[:1]
            if dns is None or dns not in svc or (hosts and dns == hosts[0]):
                out.append(Problem("cluster.dns_service_ip", f"{self.dns_service_ip!r} is not a usable address in {self.service_cidr}",
                                   f"use an address inside the service CIDR other than its first, e.g. {svc.network_address + 10}"))
        return out


    def _api_access_problems(self) -> list[Problem]:
        out: list[Problem] = []
        if self.private_cluster:
            if self.authorized_ip_ranges:
                # articles/aks/api-server-authorized-ip-ranges.md: the feature applies to the
                # public endpoint; a private cluster has none.
                out.append(Problem("cluster.authorized_ip_ranges", "set on a private cluster, which has no public API endpoint",
                                   "drop authorized_ip_ranges, or make the cluster public"))
            return out
        world = [r for r in self.authorized_ip_ranges if r.strip().endswith("/0")]
        if (not self.authorized_ip_ranges or world) and not self.allow_public_from_anywhere:
            out.append(Problem("cluster.authorized_ip_ranges",
                               "the public API server would accept connections from every address",
                               "list the CIDRs that run pulumi and kubectl, or use private_cluster=True; "
                               "allow_public_from_anywhere=True only if you mean everyone"))
        for i, r in enumerate(self.authorized_ip_ranges):
            _cidr(r, f"cluster.authorized_ip_ranges[{i}]", out)
        return out


#: AKS network policy engines gpuforge configures -> the dataplane each needs. Cilium
#: enforcement requires networkDataplane cilium (containerservice NetworkPolicy enum in the
#: pinned SDK) and runs with Azure CNI overlay (https://learn.microsoft.com/azure/aks/azure-cni-powered-by-cilium).
#: Azure Network Policy Manager is left out: its support with overlay was not verified here.
NETWORK_POLICIES = {"cilium": "cilium"}


def _cidr(text: str, path: str, out: list[Problem]) -> ipaddress.IPv4Network | None:
    try:
        net = ipaddress.ip_network(text)
    except ValueError as e:
        out.append(Problem(path, f"{text!r} is not a CIDR block ({e})", "write it as a.b.c.d/n"))
        return None
    if not isinstance(net, ipaddress.IPv4Network):
        out.append(Problem(path, f"{text} is not IPv4", "use an RFC 1918 IPv4 range"))
        return None
    return net


def kubelogin_kubeconfig(encoded: str, login: str = versions.KUBELOGIN_DEFAULT_LOGIN) -> str:
    """Decode an AKS user kubeconfig and make its Entra ID users fetch tokens with kubelogin.

    Same result as `kubelogin convert-kubeconfig -l <login>`: the exec plugin runs
    `kubelogin get-token --login <login> --server-id <AKS Entra server app>`, which needs no
    browser (the device-code default of AKS exec kubeconfigs would hang a Pulumi run). Users
    with other credentials (client certificates of an existing non-Entra cluster) stay as
    they are, as kubelogin leaves them.
    """
    config = yaml.safe_load(base64.b64decode(encoded).decode())
    for user in config.get("users") or []:
        cred = user.get("user") or {}
        entra = (cred.get("exec") or {}).get("command") == "kubelogin" or (cred.get("auth-provider") or {}).get("name") == "azure"
        if not entra:
            continue
        user["user"] = {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1beta1",
                "command": "kubelogin",
                "args": ["get-token", "--login", login, "--server-id", versions.AKS_ENTRA_SERVER_ID],
                "env": None,
                "provideClusterInfo": False,
                "installHint": "kubelogin is required: az aks install-cli, or https://azure.github.io/kubelogin/install.html",
            }
        }
    return yaml.safe_dump(config, sort_keys=False)


def _first_kubeconfig(kubeconfigs: Sequence[Any] | None, cluster: str) -> str:
    for k in kubeconfigs or []:
        value = k.get("value") if isinstance(k, dict) else getattr(k, "value", None)
        if value:
            return value
    raise ValueError(f"AKS returned no user kubeconfig for cluster {cluster!r}")


class AksCluster(pulumi.ComponentResource):
    """An AKS cluster with Entra ID auth, workload identity and Azure CNI overlay, or an
    existing cluster by name; either way a `pulumi_kubernetes.Provider` for it."""

    cluster_name: pulumi.Output[str]
    resource_group_name: pulumi.Output[str]
    location: str
    existing: bool
    managed_cluster: containerservice.ManagedCluster | None
    node_resource_group: pulumi.Output[str | None]
    oidc_issuer_url: pulumi.Output[str | None]
    kubelet_identity_object_id: pulumi.Output[str | None]
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    infiniband_feature: features.SubscriptionFeatureRegistration | None
    preconditions: list[str]

    def __init__(self, name: str, args: AksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        problems = args.problems()
        if problems:
            raise SpecError(f"AksCluster {name!r}", problems)
        super().__init__("gpuforge:azure:AksCluster", name, None, opts)
        self.resource_group_name = pulumi.Output.from_input(args.resource_group_name)
        self.location = args.location
        self.existing = args.existing
        self.preconditions = []

        self.infiniband_feature = None
        if args.infiniband and args.register_infiniband_feature:
            # Subscription-wide and shared with other stacks: destroying this one must not
            # unregister it.
            self.infiniband_feature = features.SubscriptionFeatureRegistration(
                f"{name}-infiniband",
                provider_namespace=versions.INFINIBAND_FEATURE_NAMESPACE,
                feature_name=versions.INFINIBAND_FEATURE_NAME,
                opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
            )
        elif args.infiniband:
            self.preconditions.append(
                f"az feature register --namespace {versions.INFINIBAND_FEATURE_NAMESPACE} --name {versions.INFINIBAND_FEATURE_NAME}"
                f" && az provider register --namespace {versions.INFINIBAND_FEATURE_NAMESPACE}"
                " (InfiniBand pools are planned; without the feature their nodes may land on different IB networks)"
            )

        self.managed_cluster = None
        if args.existing:
            found = containerservice.get_managed_cluster_output(
                resource_group_name=args.resource_group_name,
                resource_name=args.existing_cluster_name,
                opts=pulumi.InvokeOutputOptions(parent=self),
            )
            name_out: pulumi.Output[str] = found.name
            oidc = found.oidc_issuer_profile
            identity_profile = found.identity_profile
            self.node_resource_group = found.node_resource_group
            if self.infiniband_feature is not None:
                # Pools take the cluster name from here, so they wait for the registration.
                name_out = pulumi.Output.all(found.name, self.infiniband_feature.id).apply(lambda a: a[0])
        else:
            cluster = self.managed_cluster = self._new_cluster(name, args)
            name_out = cluster.name
            oidc = cluster.oidc_issuer_profile
            identity_profile = cluster.identity_profile
            self.node_resource_group = cluster.node_resource_group
        self.cluster_name = name_out
        self.oidc_issuer_url = oidc.apply(lambda p: p.issuer_url if p else None)
        self.kubelet_identity_object_id = identity_profile.apply(
            lambda p: p["kubeletidentity"].object_id if p and "kubeletidentity" in p else None
        )

        creds = containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=args.resource_group_name,
            resource_name=name_out,
            format="exec",
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        login = args.kubelogin_login
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(creds.kubeconfigs, name_out).apply(
                lambda a: kubelogin_kubeconfig(_first_kubeconfig(a[0], a[1]), login)
            )
        )
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["kubeconfig"]),
        )

        self.register_outputs({
            "cluster_name": self.cluster_name,
            "resource_group_name": self.resource_group_name,
            "oidc_issuer_url": self.oidc_issuer_url,
            "kubelet_identity_object_id": self.kubelet_identity_object_id,
            "node_resource_group": self.node_resource_group,
            "kubeconfig": self.kubeconfig,
            "preconditions": self.preconditions,
        })

    def _cluster_identity(self, name: str, args: AksClusterArgs) -> containerservice.ManagedClusterIdentityArgs:
        """The cluster (control plane) identity, with Network Contributor on a custom VNet.

        AKS documents that with a custom VNet the cluster identity needs at least Network
        Contributor on the subnet (https://learn.microsoft.com/azure/aks/use-managed-identity,
        "Bring your own control plane managed identity"; permissions in
        https://learn.microsoft.com/azure/aks/aks-service-permissions). A system-assigned
        identity only exists once the cluster does, too late for that role, so the cluster
        gets a user-assigned identity created and granted first.
        """
        self.identity = None
        self.network_role_assignments: list[pulumi.Resource] = []
        if args.node_subnet_id is None:
            return containerservice.ManagedClusterIdentityArgs(type=containerservice.ResourceIdentityType.SYSTEM_ASSIGNED)
        child = pulumi.ResourceOptions(parent=self)
        self.identity = managedidentity.UserAssignedIdentity(
            f"{name}-identity",
            resource_group_name=args.resource_group_name,
            location=args.location,
            tags=args.tags or None,
            opts=child,
        )
        subscription = authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self)).subscription_id
        self.network_role_assignments.append(
            authorization.RoleAssignment(
                f"{name}-network-contributor",
                principal_id=self.identity.principal_id,
                # A new identity may not have replicated yet; naming its type skips the lookup
                # that would fail (role assignment docs, "principalType").
                principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
                role_definition_id=pulumi.Output.concat(
                    "/subscriptions/", subscription, "/providers/Microsoft.Authorization/roleDefinitions/", NETWORK_CONTRIBUTOR_ROLE
                ),
                scope=args.network_scope,
                description=f"AKS cluster identity of {name}: manage load balancers and NICs in its VNet",
                opts=child,
            )
        )
        return containerservice.ManagedClusterIdentityArgs(
            type=containerservice.ResourceIdentityType.USER_ASSIGNED,
            user_assigned_identities=[self.identity.id],
        )

    def _new_cluster(self, name: str, args: AksClusterArgs) -> containerservice.ManagedCluster:
        system_pool = containerservice.ManagedClusterAgentPoolProfileArgs(
            name="system",
            mode=containerservice.AgentPoolMode.SYSTEM,
            type="VirtualMachineScaleSets",
            vm_size=args.system_vm_size,
            count=args.system_node_count,
            availability_zones=list(args.system_zones) or None,
            os_type="Linux",
            os_sku="Ubuntu",
            vnet_subnet_id=args.node_subnet_id,
        )
        if args.private_cluster:
            api_access = containerservice.ManagedClusterAPIServerAccessProfileArgs(enable_private_cluster=True)
        else:
            # Only these sources reach the public API server
            # (https://learn.microsoft.com/azure/aks/api-server-authorized-ip-ranges).
            api_access = containerservice.ManagedClusterAPIServerAccessProfileArgs(
                authorized_ip_ranges=list(args.authorized_ip_ranges) or None,
            )
        depends: list[pulumi.Resource] = [self.infiniband_feature] if self.infiniband_feature is not None else []
        identity = self._cluster_identity(name, args)
        depends += self.network_role_assignments
        return containerservice.ManagedCluster(
            name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            dns_prefix=re.sub(r"[^a-z0-9-]", "-", name.lower()).strip("-")[:54] or "aks",
            kubernetes_version=args.kubernetes_version,
            sku=containerservice.ManagedClusterSKUArgs(name="Base", tier=args.sku_tier),
            identity=identity,
            agent_pool_profiles=[system_pool],
            enable_rbac=True,
            aad_profile=containerservice.ManagedClusterAADProfileArgs(
                managed=True,
                enable_azure_rbac=True,
                admin_group_object_ids=list(args.admin_group_object_ids),
            ),
            disable_local_accounts=True,
            oidc_issuer_profile=containerservice.ManagedClusterOIDCIssuerProfileArgs(enabled=True),
            security_profile=containerservice.ManagedClusterSecurityProfileArgs(
                workload_identity=containerservice.ManagedClusterSecurityProfileWorkloadIdentityArgs(enabled=True),
            ),
            network_profile=containerservice.ContainerServiceNetworkProfileArgs(
                network_plugin=containerservice.NetworkPlugin.AZURE,
                network_plugin_mode=containerservice.NetworkPluginMode.OVERLAY,
                # Enforce the serving NetworkPolicies (without an engine AKS stores them and
                # enforces nothing: NetworkPolicy "none" is the API default).
                network_dataplane=NETWORK_POLICIES[args.network_policy],
                network_policy=args.network_policy,
                pod_cidr=args.pod_cidr,
                service_cidr=args.service_cidr,
                dns_service_ip=args.dns_service_ip,
                load_balancer_sku="standard",
                outbound_type=containerservice.OutboundType.LOAD_BALANCER,
            ),
            api_server_access_profile=api_access,
            tags=args.tags or None,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
        )

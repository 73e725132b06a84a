"""gpuforge.azure.AksCluster under Pulumi mocks: identity, network and auth settings of a new
cluster, existing-cluster look-ups, the InfiniBand feature, the secret kubeconfig, and whole
plans (network + cluster + pools) wired together."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field

import pulumi
import pytest
import yaml
from gpuforge.azure import (
    AksCluster,
    AksClusterArgs,
    GpuNodePool,
    GpuNodePoolArgs,
    Network,
    NetworkArgs,
    versions,
)
from gpuforge.azure.cluster import kubelogin_kubeconfig
from gpuforge.errors import SpecError
from gpuforge.plan import NodePoolPlan
from pulumi_mocks import Recorder

CLUSTER = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
FEATURE = "azure-native:features:SubscriptionFeatureRegistration"
K8S_PROVIDER = "pulumi:providers:kubernetes"
ADMINS = ["6f1b7c52-1d2e-4c3b-9a8f-0e1d2c3b4a59"]
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # pulumi's secret marker in serialized inputs

# What AKS returns for `listClusterUserCredential?format=exec` on an Entra ID cluster.
AKS_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: aks
  cluster:
    certificate-authority-data: Q0E=
    server: https://aks-abc.hcp.eastus2.azmk8s.io:443
contexts:
- name: aks
  context: {cluster: aks, user: clusterUser_rg_aks}
current-context: aks
users:
- name: clusterUser_rg_aks
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubelogin
      args: [get-token, --environment, AzurePublicCloud, --server-id, 6dae42f8-4368-4678-94ff-3960e28e3630,
             --client-id, 80faf920-1908-4b52-b5ef-a8e7bedfc67a, --tenant-id, t, --login, devicecode]
"""


@dataclass
class AzureRecorder(Recorder):
    """The shared recorder, also answering the AKS look-ups the cluster component invokes and
    keeping each registration's dependencies and retain-on-delete flag."""

    registrations: dict[str, dict] = field(default_factory=dict)

    def monitor(self):
        monitor = super().monitor()
        register = monitor.RegisterResource

        def register_resource(request):
            self.registrations[request.name] = {"dependencies": list(request.dependencies),
                                                "retain_on_delete": request.retainOnDelete}
            return register(request)

        monitor.RegisterResource = register_resource
        return monitor

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token == "azure-native:containerservice:listManagedClusterUserCredentials":
            self.calls.append((args.token, dict(args.args)))
            return {"kubeconfigs": [{"name": "clusterUser", "value": base64.b64encode(AKS_KUBECONFIG.encode()).decode()}]}
        if args.token == "azure-native:containerservice:getManagedCluster":
            self.calls.append((args.token, dict(args.args)))
            return {
                "name": args.args["resourceName"],
                "location": "eastus2",
                "nodeResourceGroup": f"MC_{args.args['resourceGroupName']}_{args.args['resourceName']}",
                "oidcIssuerProfile": {"enabled": True, "issuerURL": "https://eastus2.oic.prod-aks.azure.com/t/c/"},
                "identityProfile": {"kubeletidentity": {"objectId": "0b7e5c2a-0000-4000-8000-00000000beef",
                                                        "clientId": "c", "resourceId": "/r"}},
            }
        return super().call(args)


@pytest.fixture
def azure_mocks(pulumi_mocks):
    recorder = AzureRecorder()
    recorder.install()
    return recorder


def value(output):
    """An Output's value, or an awaitable's result, on the mocks' event loop."""
    awaitable = output.future() if isinstance(output, pulumi.Output) else output
    return asyncio.get_event_loop().run_until_complete(awaitable)


def ib_plan(**kw) -> NodePoolPlan:
    base = dict(name="llama-405b-h200", cloud="azure", region="eastus2", instance_type="Standard_ND96isr_H200_v5",
                gpu="h200", gpus_per_node=8, nodes_per_replica=2, desired_nodes=2, min_nodes=2, max_nodes=2, zone="2",
                fabric="infiniband", placement_group=True)
    base.update(kw)
    return NodePoolPlan(**base)


def a100_plan(**kw) -> NodePoolPlan:
    base = dict(name="llama-8b-a100", cloud="azure", region="eastus2", instance_type="Standard_NC24ads_A100_v4",
                gpu="a100-80gb-pcie", gpus_per_node=1, nodes_per_replica=1, desired_nodes=2, min_nodes=1, max_nodes=4,
                zones=("1", "2", "3"))
    base.update(kw)
    return NodePoolPlan(**base)


def wait_all(rec: Recorder, cluster: AksCluster, *more: pulumi.Resource) -> None:
    extra = [cluster.managed_cluster] if cluster.managed_cluster is not None else []
    rec.wait(cluster, cluster.provider, *extra, *more)


# --- a new cluster -------------------------------------------------------------------------

def test_new_cluster_identity_auth_and_network(azure_mocks):
    args = AksClusterArgs.from_plan([a100_plan()], resource_group_name="rg-gpu", node_subnet_id="subnet-1",
                                    admin_group_object_ids=ADMINS, authorized_ip_ranges=["203.0.113.0/24"],
                                    network_scope="vnet-1")
    cluster = AksCluster("aks-new", args)
    wait_all(azure_mocks, cluster, *cluster.network_role_assignments)
    mc = azure_mocks.one(CLUSTER, "aks-new")
    i = mc.inputs
    assert mc.parent == "aks-new"
    assert i["location"] == "eastus2" and i["resourceGroupName"] == "rg-gpu"
    assert i["kubernetesVersion"] == versions.KUBERNETES_VERSION == "1.36"
    # custom VNet: a user-assigned identity created first, with Network Contributor on the VNet
    assert i["identity"] == {"type": "UserAssigned", "userAssignedIdentities": ["aks-new-identity-id"]}
    identity = azure_mocks.one("azure-native:managedidentity:UserAssignedIdentity", "aks-new-identity")
    assert identity.inputs["resourceGroupName"] == "rg-gpu" and identity.inputs["location"] == "eastus2"
    role = azure_mocks.one("azure-native:authorization:RoleAssignment", "aks-new-network-contributor")
    assert role.inputs["scope"] == "vnet-1"
    assert role.inputs["principalId"] == "11111111-1111-4111-8111-111111111111"  # the identity's principal
    assert role.inputs["principalType"] == "ServicePrincipal"
    assert role.inputs["roleDefinitionId"] == (
        "/subscriptions/00000000-0000-4000-8000-0000000000aa/providers/Microsoft.Authorization/roleDefinitions/"
        "4d97b98b-1d4f-4787-a291-c67834d212e7"  # Network Contributor
    )
    # the cluster waits for the role: without it AKS fails with LinkedAuthorizationFailed
    assert value(cluster.network_role_assignments[0].urn) in azure_mocks.registrations["aks-new"]["dependencies"]
    # the API server answers the named ranges only
    assert i["apiServerAccessProfile"] == {"authorizedIPRanges": ["203.0.113.0/24"]}
    assert i["oidcIssuerProfile"] == {"enabled": True}
    assert i["securityProfile"] == {"workloadIdentity": {"enabled": True}}
    assert i["aadProfile"] == {"managed": True, "enableAzureRBAC": True, "adminGroupObjectIDs": ADMINS}
    assert i["disableLocalAccounts"] is True and i["enableRBAC"] is True
    net = i["networkProfile"]
    assert (net["networkPlugin"], net["networkPluginMode"]) == ("azure", "overlay")
    assert (net["podCidr"], net["serviceCidr"], net["dnsServiceIP"]) == ("10.244.0.0/16", "10.0.0.0/16", "10.0.0.10")
    assert net["outboundType"] == "loadBalancer"
    # NetworkPolicies enforced: Azure CNI powered by Cilium (policy cilium needs dataplane cilium)
    assert (net["networkDataplane"], net["networkPolicy"]) == ("cilium", "cilium")
    assert i["sku"] == {"name": "Base", "tier": "Standard"}
    [system] = i["agentPoolProfiles"]
    assert system["mode"] == "System" and system["name"] == "system"
    assert (system["vmSize"], system["count"]) == ("Standard_D4ds_v5", 2)
    assert system["availabilityZones"] == ["1", "2", "3"]  # every catalog zone of eastus2
    assert system["vnetSubnetID"] == "subnet-1"
    assert "nodeTaints" not in system  # controllers of the Kubernetes platform run here
    # no InfiniBand planned: no subscription feature is touched
    assert azure_mocks.of_type(FEATURE) == []
    assert cluster.preconditions == []


def test_private_cluster(azure_mocks):
    args = AksClusterArgs(resource_group_name="rg", location="westus3", admin_group_object_ids=ADMINS, private_cluster=True)
    cluster = AksCluster("aks-private", args)
    wait_all(azure_mocks, cluster)
    i = azure_mocks.one(CLUSTER, "aks-private").inputs
    assert i["apiServerAccessProfile"] == {"enablePrivateCluster": True}
    assert "availabilityZones" not in i["agentPoolProfiles"][0]


def test_kubeconfig_is_secret_and_uses_non_interactive_kubelogin(azure_mocks):
    cluster = AksCluster("aks-kc", AksClusterArgs(resource_group_name="rg", location="eastus2", admin_group_object_ids=ADMINS,
                                                  authorized_ip_ranges=["198.51.100.7/32"]))
    wait_all(azure_mocks, cluster)
    assert value(cluster.kubeconfig.is_secret()) is True
    provider = azure_mocks.one(K8S_PROVIDER, "aks-kc-k8s")
    assert provider.parent == "aks-kc"
    recorded = provider.inputs["kubeconfig"]
    assert isinstance(recorded, dict) and SECRET_SIG in recorded, "the provider's kubeconfig must arrive as a secret"
    config = yaml.safe_load(recorded["value"])
    assert config["clusters"][0]["cluster"]["server"] == "https://aks-abc.hcp.eastus2.azmk8s.io:443"
    exec_ = config["users"][0]["user"]["exec"]
    assert exec_["command"] == "kubelogin"
    assert exec_["args"] == ["get-token", "--login", "azurecli", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630"]
    assert "devicecode" not in recorded["value"]
    _token, call_args = next(c for c in azure_mocks.calls if c[0].endswith("listManagedClusterUserCredentials"))
    assert call_args == {"resourceGroupName": "rg", "resourceName": "aks-kc", "format": "exec"}


def test_kubelogin_mode_is_configurable_and_certificate_users_are_left_alone():
    cert_user = {"apiVersion": "v1", "kind": "Config", "users": [
        {"name": "a", "user": {"client-certificate-data": "Y2VydA==", "client-key-data": "a2V5"}},
        {"name": "b", "user": {"auth-provider": {"name": "azure", "config": {}}}},
    ]}
    encoded = base64.b64encode(yaml.safe_dump(cert_user).encode()).decode()
    out = yaml.safe_load(kubelogin_kubeconfig(encoded, "workloadidentity"))
    assert out["users"][0]["user"] == cert_user["users"][0]["user"]
    assert out["users"][1]["user"]["exec"]["args"][:3] == ["get-token", "--login", "workloadidentity"]


def test_infiniband_plans_register_the_aks_feature_first(azure_mocks):
    args = AksClusterArgs.from_plan([ib_plan(), a100_plan()], resource_group_name="rg", admin_group_object_ids=ADMINS,
                                    authorized_ip_ranges=["203.0.113.0/24"], register_infiniband_feature=True)
    assert args.infiniband is True
    cluster = AksCluster("aks-ib", args)
    wait_all(azure_mocks, cluster, cluster.infiniband_feature)
    feature = azure_mocks.one(FEATURE, "aks-ib-infiniband")
    assert feature.parent == "aks-ib"
    assert feature.inputs == {"providerNamespace": "Microsoft.ContainerService", "featureName": "AKSInfinibandSupport"}
    # subscription-wide and shared: destroying this stack must not unregister it
    assert azure_mocks.registrations["aks-ib-infiniband"]["retain_on_delete"] is True
    # the cluster (and so every pool on it) waits for the registration
    feature_urn = value(cluster.infiniband_feature.urn)
    assert feature_urn in azure_mocks.registrations["aks-ib"]["dependencies"]


def test_infiniband_feature_can_be_a_precondition_instead(azure_mocks):
    # the default: pulumi/pulumi-azure-native#1722 makes the resource fail once the
    # registration exists, so the idempotent CLI command is a precondition instead
    args = AksClusterArgs.from_plan(ib_plan(), resource_group_name="rg", admin_group_object_ids=ADMINS,
                                    authorized_ip_ranges=["203.0.113.0/24"])
    assert args.register_infiniband_feature is False
    cluster = AksCluster("aks-ib-pre", args)
    wait_all(azure_mocks, cluster)
    assert azure_mocks.of_type(FEATURE) == []
    [pre] = cluster.preconditions
    assert "az feature register --namespace Microsoft.ContainerService --name AKSInfinibandSupport" in pre
    assert "az provider register --namespace Microsoft.ContainerService" in pre


# --- an existing cluster -------------------------------------------------------------------

def test_existing_cluster_is_looked_up_not_created(azure_mocks):
    args = AksClusterArgs(resource_group_name="rg-prod", location="eastus2", existing_cluster_name="prod-aks")
    cluster = AksCluster("aks-existing", args)
    wait_all(azure_mocks, cluster)
    assert azure_mocks.of_type(CLUSTER) == []
    assert value(cluster.cluster_name) == "prod-aks"
    assert value(cluster.oidc_issuer_url) == "https://eastus2.oic.prod-aks.azure.com/t/c/"
    assert value(cluster.kubelet_identity_object_id) == "0b7e5c2a-0000-4000-8000-00000000beef"
    assert value(cluster.node_resource_group) == "MC_rg-prod_prod-aks"
    lookups = {t: a for t, a in azure_mocks.calls}
    assert lookups["azure-native:containerservice:getManagedCluster"] == {"resourceGroupName": "rg-prod", "resourceName": "prod-aks"}
    assert lookups["azure-native:containerservice:listManagedClusterUserCredentials"]["resourceName"] == "prod-aks"
    assert value(cluster.kubeconfig.is_secret()) is True
    azure_mocks.one(K8S_PROVIDER, "aks-existing-k8s")


def test_existing_cluster_with_infiniband_pools_still_registers_the_feature(azure_mocks):
    args = AksClusterArgs.from_plan(ib_plan(), resource_group_name="rg-prod", existing_cluster_name="prod-aks",
                                    register_infiniband_feature=True)
    cluster = AksCluster("aks-existing-ib", args)
    wait_all(azure_mocks, cluster, cluster.infiniband_feature)
    azure_mocks.one(FEATURE, "aks-existing-ib-infiniband")
    # pools take the cluster name from this output, so they depend on the registration
    assert cluster.infiniband_feature in value(cluster.cluster_name.resources())


# --- whole plans: network + cluster + pools ------------------------------------------------

@pytest.mark.parametrize("plan, features, placement_groups", [
    (a100_plan(), 0, 0),             # single-GPU replicas across zones
    (ib_plan(), 1, 1),               # multi-node InfiniBand: feature + placement group
])
def test_whole_plan_is_wired_together(azure_mocks, plan, features, placement_groups):
    tag = plan.name[:8]
    net = Network(f"{tag}-net", NetworkArgs(location=plan.region))
    cluster = AksCluster(f"{tag}-aks", AksClusterArgs.from_plan(plan, resource_group_name=net.resource_group_name,
                                                                node_subnet_id=net.node_subnet_id,
                                                                network_scope=net.vnet_id,
                                                                authorized_ip_ranges=["203.0.113.0/24"],
                                                                register_infiniband_feature=bool(features),
                                                                admin_group_object_ids=ADMINS))
    pool = GpuNodePool(f"{tag}-gpu", GpuNodePoolArgs.from_plan(plan, cluster_name=cluster.cluster_name,
                                                              resource_group_name=net.resource_group_name,
                                                              vnet_subnet_id=net.node_subnet_id))
    wait_all(azure_mocks, cluster, net.subnet, pool.agent_pool)
    mc = azure_mocks.one(CLUSTER, f"{tag}-aks")
    ap = azure_mocks.one(AGENT_POOL, f"{tag}-gpu")
    assert mc.inputs["resourceGroupName"] == f"{tag}-net"
    assert mc.inputs["agentPoolProfiles"][0]["vnetSubnetID"] == f"{tag}-net-nodes-id"
    assert ap.inputs["resourceName"] == f"{tag}-aks"
    assert ap.inputs["vnetSubnetID"] == f"{tag}-net-nodes-id"
    assert ap.inputs["resourceGroupName"] == f"{tag}-net"
    assert mc.inputs["location"] == plan.region
    assert len(azure_mocks.of_type(FEATURE)) == features
    ppgs = azure_mocks.of_type("azure-native:compute:ProximityPlacementGroup")
    assert len(ppgs) == placement_groups
    for ppg in ppgs:
        assert (ppg.inputs["resourceGroupName"], ppg.inputs["location"]) == (f"{tag}-net", plan.region)


# --- bad input -----------------------------------------------------------------------------

BAD = [
    # Entra ID only, local accounts off: someone must be admin
    (dict(admin_group_object_ids=()), "cluster.admin_group_object_ids", "empty", "Entra ID group"),
    (dict(admin_group_object_ids=("ml-admins",)), "cluster.admin_group_object_ids", "'ml-admins' is not an object id", "az ad group show"),
    (dict(kubernetes_version="latest"), "cluster.kubernetes_version", "'latest'", "'1.36'"),
    (dict(system_node_count=0), "cluster.system_node_count", "0 is outside", "2"),
    (dict(sku_tier="Gold"), "cluster.sku_tier", "'Gold'", "Free, Standard, Premium"),
    (dict(kubelogin_login="devicecode"), "cluster.kubelogin_login", "not a non-interactive", "azurecli"),
    (dict(pod_cidr="10.0.0.0/8"), "cluster.service_cidr", "overlaps the pod CIDR", "non-overlapping"),
    (dict(pod_cidr="10.244.0.0/33"), "cluster.pod_cidr", "not a CIDR block", "a.b.c.d/n"),
    (dict(dns_service_ip="10.1.0.10"), "cluster.dns_service_ip", "not a usable address in 10.0.0.0/16", "10.0.0.10"),
    (dict(dns_service_ip="10.0.0.1"), "cluster.dns_service_ip", "not a usable address", "other than its first"),
    (dict(location="East US 2"), "cluster.location", "not an Azure region name", "eastus2"),
    (dict(existing_cluster_name="-bad-"), "cluster.existing_cluster_name", "not an AKS cluster name", "az aks list"),
]


@pytest.mark.parametrize("change, path, reason, fix", BAD)
def test_bad_cluster_input_is_refused_before_anything_is_registered(pulumi_mocks, change, path, reason, fix):
    base = dict(resource_group_name="rg", location="eastus2", admin_group_object_ids=tuple(ADMINS))
    base.update(change)
    with pytest.raises(SpecError) as err:
        AksCluster("aks-bad", AksClusterArgs(**base))
    hits = [p for p in err.value.problems if p.path == path and reason in p.reason]
    assert hits, f"no problem at {path} with {reason!r} in:\n{err.value}"
    assert fix in hits[0].fix
    assert pulumi_mocks.resources == []


def test_plans_for_several_regions_or_the_other_cloud_are_refused(pulumi_mocks):
    args = AksClusterArgs.from_plan([a100_plan(), ib_plan(region="westus3", cloud="aws")], resource_group_name="rg",
                                    admin_group_object_ids=ADMINS)
    with pytest.raises(SpecError) as err:
        AksCluster("aks-bad-plan", args)
    paths = {p.path for p in err.value.problems}
    assert {"node_pools.region", "node_pools.llama-405b-h200.cloud"} <= paths
    assert pulumi_mocks.resources == []

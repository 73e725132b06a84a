"""What `pulumi up` on a fresh account needs beyond a preview (issue 12): a reachable API, Azure
foundations, EKS access without a duplicate creator entry, monitoring prerequisites, node
autoscaling bounded by the pools, GPU-friendly updates, enforced NetworkPolicies, and the deploy
order every Kubernetes object relies on. Each example stack runs through the real program under
mocks; the assertions read what was registered.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from gpuforge.errors import SpecError
from gpuforge.preview import read_stack_config, run_program, stack_file
from gpuforge.program import plan_stack
from gpuforge.spec import CONFIG_KEY, ClusterSpec, api_endpoint_problems, load_stack
from gpuforge.stack import GpuClusterArgs, replicas_that_fit

REPO = Path(__file__).resolve().parents[1]
STACKS = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (REPO / "stacks").glob("Pulumi.*.yaml"))
EKS = "aws:eks/cluster:Cluster"
AKS = "azure-native:containerservice:ManagedCluster"
RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"


def raw_config(stack: str) -> tuple[dict[str, str], list[str]]:
    return read_stack_config(stack_file(stack, REPO / "stacks"))


@cache
def program(stack: str, edit: str | None = None, workload: str | None = None) -> Any:
    """The recorder of the program run for `stack`; `edit` is JSON merged into `cluster`,
    `workload` JSON merged into the deployment's workload."""
    config, secrets = raw_config(stack)
    if edit or workload:
        spec = json.loads(config[CONFIG_KEY])
        if edit:
            spec["cluster"] = {**spec.get("cluster", {}), **json.loads(edit)}
        if workload:
            spec["workload"] = {**spec["workload"], **json.loads(workload)}
        config = {**config, CONFIG_KEY: json.dumps(spec)}
    recorder, errors = run_program(config, secrets, stack)
    assert not errors, errors
    return recorder


def by_name(recorder: Any, typ: str, suffix: str) -> Any:
    hits = [r for r in recorder.of_type(typ) if r.name.endswith(suffix)]
    assert len(hits) == 1, f"{typ} *{suffix}: {[h.name for h in hits]}"
    return hits[0]


def urn_of(recorder: Any, typ: str, name: str) -> str:
    hits = [u for u, (t, n, _, _) in recorder.graph.items() if t == typ and n == name]
    assert len(hits) == 1, (typ, name, hits)
    return hits[0]


# --- the API endpoint rules (spec) ------------------------------------------------------------

@pytest.mark.parametrize("cluster, path, reason", [
    # a new cluster with no CIDRs and no private choice: unreachable from where pulumi runs
    (dict(), "c.public_endpoint_cidrs", "unreachable"),
    # the whole internet needs its own opt-in
    (dict(public_endpoint_cidrs=["0.0.0.0/0"]), "c.public_endpoint_cidrs", "whole internet"),
    # a private range never reaches a public endpoint
    (dict(public_endpoint_cidrs=["10.0.0.0/8"]), "c.public_endpoint_cidrs[0]", "private range"),
    (dict(public_endpoint_cidrs=["203.0.113.7/24"]), "c.public_endpoint_cidrs[0]", "not a CIDR block"),  # host bits set
    (dict(public_endpoint_cidrs=["2001:db8::/32"]), "c.public_endpoint_cidrs[0]", "IPv6"),
    (dict(private_endpoint_only=True, public_endpoint_cidrs=["203.0.113.0/24"]), "c.public_endpoint_cidrs", "private_endpoint_only"),
    (dict(allow_api_from_anywhere=True, public_endpoint_cidrs=["203.0.113.0/24"]), "c.allow_api_from_anywhere", "no 0.0.0.0/0"),
    # an existing cluster's endpoint is not ours to change
    (dict(mode="existing", name="prod", public_endpoint_cidrs=["203.0.113.0/24"]), "c.public_endpoint_cidrs", "existing cluster"),
])
def test_endpoint_rules_refuse(cluster, path, reason):
    problems = api_endpoint_problems(ClusterSpec(**cluster), "c")
    assert any(p.path == path and reason in p.reason for p in problems), problems


@pytest.mark.parametrize("cluster", [
    dict(public_endpoint_cidrs=["203.0.113.0/24", "198.51.100.7/32"]),
    dict(private_endpoint_only=True),
    dict(public_endpoint_cidrs=["0.0.0.0/0"], allow_api_from_anywhere=True),  # the loud opt-in
    dict(mode="existing", name="prod"),
])
def test_endpoint_rules_accept(cluster):
    assert api_endpoint_problems(ClusterSpec(**cluster), "c") == []


def cluster_args_problems(stack: str, **cluster: Any) -> str:
    """The problems GpuCluster raises (before registering anything) for `stack` with `cluster` edits.

    Checked on GpuClusterArgs directly: a program run that stops on a SpecError leaves Pulumi's
    process-wide runtime state behind for the next run in the same test process.
    """
    config, _ = raw_config(stack)
    raw = json.loads(config[CONFIG_KEY])
    specs, results = plan_stack(raw)
    base = specs[0].cluster.model_dump()
    spec = ClusterSpec(**{**base, **cluster})
    args = GpuClusterArgs(name="c", plans=[r.to_plan() for r in results], cluster=spec)
    return "\n".join(f"{p.path}: {p.reason}" for p in args.problems())


def test_a_stack_without_endpoint_choice_is_refused():
    found = cluster_args_problems("aws-chat-small", public_endpoint_cidrs=[])
    assert "cluster.public_endpoint_cidrs: empty" in found
    assert cluster_args_problems("aws-chat-small") == ""


# --- EKS: endpoint, access, network policy ------------------------------------------------------

def test_eks_public_endpoint_is_limited_to_the_stack_cidrs():
    cluster = by_name(program("aws-chat-small"), EKS, "-eks")
    vpc = cluster.inputs["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True and vpc["endpointPublicAccess"] is True
    assert vpc["publicAccessCidrs"] == ["203.0.113.0/24"]


def test_eks_private_only_stack_has_no_public_endpoint():
    vpc = by_name(program("aws-llama405b-efa"), EKS, "-eks").inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is False and "publicAccessCidrs" not in vpc


def test_eks_creator_entry_is_off_when_admins_are_listed():
    recorder = program("aws-chat-small")
    access = by_name(recorder, EKS, "-eks").inputs["accessConfig"]
    assert access["bootstrapClusterCreatorAdminPermissions"] is False
    [entry] = recorder.of_type("aws:eks/accessEntry:AccessEntry")
    assert entry.inputs["principalArn"] == "arn:aws:iam::123456789012:role/platform-admins"
    # without admins the creator's bootstrap entry is the only way in
    alone = program("aws-chat-small", json.dumps({"admin_principals": []}))
    assert by_name(alone, EKS, "-eks").inputs["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] is True
    assert alone.of_type("aws:eks/accessEntry:AccessEntry") == []


def test_creator_admin_can_be_kept_for_clusters_bootstrapped_that_way():
    # EKS sets the bootstrap flag at creation only; a cluster made with it keeps it explicitly.
    recorder = program("aws-chat-small", json.dumps({"creator_admin": True}))
    assert by_name(recorder, EKS, "-eks").inputs["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] is True
    assert cluster_args_problems("aws-chat-small", creator_admin=True) == ""


def test_vpc_cni_enforces_network_policies():
    recorder = program("aws-chat-small")
    cni = by_name(recorder, "aws:eks/addon:Addon", "-vpc-cni")
    assert json.loads(cni.inputs["configurationValues"]) == {"enableNetworkPolicy": "true"}
    # the serving NetworkPolicy is there for the agent to enforce
    assert recorder.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")


# --- Azure: endpoint, resource group, identity, policy engine ---------------------------------

def test_aks_authorized_ranges_resource_group_and_network_role():
    recorder = program("azure-llama70b")
    mc = by_name(recorder, AKS, "-aks").inputs
    assert mc["apiServerAccessProfile"] == {"authorizedIPRanges": ["203.0.113.0/24"]}
    rg = by_name(recorder, "azure-native:resources:ResourceGroup", "-network")
    assert rg.inputs["resourceGroupName"] == "rg-gpuforge-llama70b"
    assert mc["resourceGroupName"] == "rg-gpuforge-llama70b"
    identity = by_name(recorder, "azure-native:managedidentity:UserAssignedIdentity", "-aks-identity")
    assert mc["identity"]["type"] == "UserAssigned" and mc["identity"]["userAssignedIdentities"] == [f"{identity.name}-id"]
    role = by_name(recorder, "azure-native:authorization:RoleAssignment", "-network-contributor")
    vnet = by_name(recorder, "azure-native:network:VirtualNetwork", "-vnet")
    assert role.inputs["scope"] == f"{vnet.name}-id"
    assert role.inputs["roleDefinitionId"].endswith("/roleDefinitions/4d97b98b-1d4f-4787-a291-c67834d212e7")
    # order: group -> identity -> role -> cluster
    cluster_deps = recorder.depends_transitively(urn_of(recorder, AKS, by_name(recorder, AKS, "-aks").name))
    assert urn_of(recorder, role.type, role.name) in cluster_deps
    assert urn_of(recorder, rg.type, rg.name) in cluster_deps
    assert (mc["networkProfile"]["networkDataplane"], mc["networkProfile"]["networkPolicy"]) == ("cilium", "cilium")


def test_aks_private_only_and_existing_resource_group():
    recorder = program("azure-llama70b", json.dumps({"public_endpoint_cidrs": [], "private_endpoint_only": True,
                                                     "resource_group_exists": True}))
    mc = by_name(recorder, AKS, "-aks").inputs
    assert mc["apiServerAccessProfile"] == {"enablePrivateCluster": True}
    assert recorder.of_type("azure-native:resources:ResourceGroup") == []
    assert mc["resourceGroupName"] == "rg-gpuforge-llama70b"


def test_existing_aks_cluster_without_subnet_is_refused():
    found = cluster_args_problems("azure-llama70b", mode="existing", name="prod-aks", resource_group="rg-prod",
                                  public_endpoint_cidrs=[])
    assert "cluster.subnet_id" in found and "new VNet" in found
    ok = cluster_args_problems("azure-llama70b", mode="existing", name="prod-aks", resource_group="rg-prod", public_endpoint_cidrs=[],
                               subnet_id="/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg-prod/providers/"
                               "Microsoft.Network/virtualNetworks/prod/subnets/nodes")
    assert ok == ""


def test_infiniband_feature_is_optional_and_off_by_default():
    feature = "azure-native:features:SubscriptionFeatureRegistration"
    assert program("azure-multinode-ib").of_type(feature) == []
    on = program("azure-multinode-ib", json.dumps({"register_infiniband_feature": True}))
    assert len(on.of_type(feature)) == 1


# --- monitoring prerequisites -------------------------------------------------------------------

def scaled_objects(recorder: Any) -> list[Any]:
    return recorder.of_type("kubernetes:keda.sh/v1alpha1:ScaledObject")


def test_kube_prometheus_stack_is_installed_by_default_and_keda_queries_it():
    recorder = program("aws-chat-small")
    kps = by_name(recorder, RELEASE, "-kube-prometheus-stack")
    assert (kps.inputs["chart"], kps.inputs["version"]) == ("kube-prometheus-stack", "88.5.3")
    [so] = scaled_objects(recorder)
    addresses = {t["metadata"]["serverAddress"] for t in so.inputs["spec"]["triggers"] if t["type"] == "prometheus"}
    assert addresses == {"http://kube-prometheus-stack-prometheus.monitoring.svc:9090"}


def test_an_existing_prometheus_replaces_the_install():
    edit = {"prometheus": {"url": "http://prometheus-operated.observability.svc:9090", "namespace": "observability",
                           "selector_labels": {"team": "platform"}}}
    recorder = program("aws-chat-small", json.dumps(edit))
    assert [r for r in recorder.of_type(RELEASE) if r.name.endswith("-kube-prometheus-stack")] == []
    [so] = scaled_objects(recorder)
    assert {t["metadata"]["serverAddress"] for t in so.inputs["spec"]["triggers"] if t["type"] == "prometheus"} == {
        "http://prometheus-operated.observability.svc:9090"
    }
    for typ in ("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"):
        for r in recorder.of_type(typ):
            assert r.inputs["metadata"]["labels"]["team"] == "platform", r.name
    # the server admits scrapes from the named Prometheus' namespace
    policies = json.dumps([r.inputs for r in recorder.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")])
    assert "observability" in policies


def test_no_prometheus_at_all_is_a_spec_error():
    config, _ = raw_config("aws-chat-small")
    spec = json.loads(config[CONFIG_KEY])
    spec["cluster"]["kube_prometheus_stack"] = False
    with pytest.raises(SpecError) as err:
        load_stack(spec)
    assert "cluster.kube_prometheus_stack" in str(err.value)


# --- node autoscaling against KEDA's maximum ----------------------------------------------------

@pytest.mark.parametrize("stack", STACKS)
def test_keda_never_asks_for_more_replicas_than_the_pools_can_hold(stack):
    config, _ = raw_config(stack)
    _, results = plan_stack(json.loads(config[CONFIG_KEY]))
    recorder = program(stack)
    for result in results:
        plan = result.to_plan()
        [so] = [r for r in scaled_objects(recorder) if r.inputs["metadata"]["name"] == plan.deployment]
        keda_max = so.inputs["spec"]["maxReplicaCount"]
        can_hold = 0
        # a spot plan with availability has two pools (on-demand base, spot): both hold replicas
        for planned, built in zip(plan.pools, (f"{plan.deployment}-gpu", f"{plan.deployment}-gpu-spot"), strict=False):
            if plan.node_pool.cloud == "aws":
                group = next(r for r in recorder.of_type("aws:eks/nodeGroup:NodeGroup") if r.name == built)
                pool_max = group.inputs["scalingConfig"]["maxSize"]
            else:
                pool = next(r for r in recorder.of_type("azure-native:containerservice:AgentPool") if r.parent == built)
                assert pool.inputs["enableAutoScaling"] is True  # AKS: the cluster autoscaler owns the count
                pool_max = pool.inputs["maxCount"]
            can_hold += replicas_that_fit(planned, plan.serving, pool_max)
        assert keda_max <= can_hold, (keda_max, can_hold)
        assert keda_max > plan.serving.replicas or plan.serving.max_replicas == plan.serving.replicas


def test_replicas_that_fit_counts_replicas_per_node_and_nodes_per_replica():
    config, _ = raw_config("aws-llama70b-fp8")
    _, [result] = plan_stack(json.loads(config[CONFIG_KEY]))
    plan = result.to_plan()
    per_node = plan.node_pool.gpus_per_node // plan.serving.gpus_per_replica
    assert replicas_that_fit(plan.node_pool, plan.serving, 3) == 3 * per_node
    config, _ = raw_config("aws-llama405b-efa")
    _, [result] = plan_stack(json.loads(config[CONFIG_KEY]))
    plan = result.to_plan()
    assert plan.node_pool.nodes_per_replica == 2 and replicas_that_fit(plan.node_pool, plan.serving, 5) == 2


def test_eks_cluster_autoscaler_release_role_and_node_groups():
    recorder = program("aws-chat-small")
    release = by_name(recorder, RELEASE, "-cluster-autoscaler")
    assert (release.inputs["chart"], release.inputs["version"]) == ("cluster-autoscaler", "9.59.0")
    values = release.inputs["values"]
    assert values["autoDiscovery"]["clusterName"] == "gpuforge-chat"
    assert values["awsRegion"] == "us-east-1" and values["image"]["tag"] == "v1.36.1"
    assert values["extraArgs"]["skip-nodes-with-local-storage"] is False
    assert values["rbac"]["serviceAccount"]["name"] == "cluster-autoscaler"
    association = by_name(recorder, "aws:eks/podIdentityAssociation:PodIdentityAssociation", "-cluster-autoscaler")
    assert (association.inputs["namespace"], association.inputs["serviceAccount"]) == ("kube-system", "cluster-autoscaler")
    policy = json.loads(by_name(recorder, "aws:iam/rolePolicy:RolePolicy", "-cluster-autoscaler").inputs["policy"])
    write = next(s for s in policy["Statement"] if "autoscaling:SetDesiredCapacity" in s["Action"])
    assert write["Condition"] == {"StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/gpuforge-chat": "owned"}}
    assert urn_of(recorder, association.type, association.name) in recorder.depends_transitively(
        urn_of(recorder, RELEASE, release.name)
    )
    # the autoscaler owns desiredSize from then on; GPU node updates never surge
    group = next(r for r in recorder.of_type("aws:eks/nodeGroup:NodeGroup") if r.name == "chat-small-gpu")
    assert group.inputs["updateConfig"] == {"maxUnavailable": 1, "updateStrategy": "MINIMAL"}
    assert group.inputs["labels"]["k8s.amazonaws.com/accelerator"]


def test_without_node_autoscaler_keda_stays_at_the_planned_replicas():
    recorder = program("aws-chat-small", json.dumps({"node_autoscaler": False}))
    assert [r for r in recorder.of_type(RELEASE) if r.name.endswith("-cluster-autoscaler")] == []
    assert recorder.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation") == [
        r for r in recorder.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation") if "autoscaler" not in r.name
    ]
    group = next(r for r in recorder.of_type("aws:eks/nodeGroup:NodeGroup") if r.name == "chat-small-gpu")
    scaling = group.inputs["scalingConfig"]
    assert scaling["minSize"] == scaling["desiredSize"] == scaling["maxSize"]
    [so] = scaled_objects(recorder)
    assert so.inputs["spec"]["maxReplicaCount"] <= replicas_that_fit(
        plan_of("aws-chat-small").node_pool, plan_of("aws-chat-small").serving, scaling["maxSize"]
    )


def plan_of(stack: str) -> Any:
    config, _ = raw_config(stack)
    _, [result] = plan_stack(json.loads(config[CONFIG_KEY]))
    return result.to_plan()


def test_aks_gpu_pools_upgrade_without_surge():
    pool = next(r for r in program("azure-llama70b").of_type("azure-native:containerservice:AgentPool"))
    assert pool.inputs["upgradeSettings"] == {"maxSurge": "0", "maxUnavailable": "1"}


# --- deploy order: every Kubernetes object waits for its cluster, namespace and CRD release -----

#: custom resource kind -> the release (by name) that installs its CRD
CRD_RELEASES = {
    "ScaledObject": "keda",
    "TriggerAuthentication": "keda",
    "LeaderWorkerSet": "lws",
    "ServiceMonitor": "kube-prometheus-stack",
    "PodMonitor": "kube-prometheus-stack",
    "PrometheusRule": "kube-prometheus-stack",
    "NicClusterPolicy": "network-operator",
}
BUILTIN_GROUPS = ("core", "apps", "batch", "policy", "networking.k8s.io", "rbac.authorization.k8s.io", "autoscaling",
                  "scheduling.k8s.io", "storage.k8s.io", "helm.sh", "gateway.networking.k8s.io")


@pytest.mark.parametrize("stack", STACKS)
def test_every_kubernetes_object_waits_for_cluster_namespace_and_crd(stack):
    recorder = program(stack)
    graph = recorder.graph
    clusters = [u for u, (t, *_rest) in graph.items() if t in (EKS, AKS)]
    gates = set(clusters)
    if any(t == EKS for t, *_ in graph.values()):
        # the system nodes (CoreDNS, webhooks) and the admins' access come before any object
        gates |= {u for u, (t, n, *_r) in graph.items() if t == "aws:eks/nodeGroup:NodeGroup" and n.endswith("-system")}
        gates |= {u for u, (t, *_r) in graph.items() if t == "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"}
    namespaces = {}
    releases = {}
    for urn, (typ, name, _, _) in graph.items():
        r = next(x for x in recorder.resources if x.type == typ and x.name == name) if typ in (NAMESPACE, RELEASE) else None
        if typ == NAMESPACE:
            namespaces[r.inputs["metadata"]["name"]] = urn
        if typ == RELEASE:
            releases[r.inputs["name"]] = urn
    provider_urns = {u for u, (t, *_r) in graph.items() if t == "pulumi:providers:kubernetes"}
    checked = 0
    for r in recorder.resources:
        if not r.type.startswith("kubernetes:"):
            continue
        urn = urn_of(recorder, r.type, r.name)
        waits = recorder.depends_transitively(urn)
        assert waits & provider_urns, f"{r.name}: no Kubernetes provider"
        assert gates <= waits, f"{stack}: {r.type} {r.name} does not wait for {sorted(gates - waits)}"
        ns = r.inputs.get("namespace") if r.type == RELEASE else (r.inputs.get("metadata") or {}).get("namespace")
        if ns in namespaces:
            assert namespaces[ns] in waits, f"{stack}: {r.name} does not wait for namespace {ns}"
        kind = r.inputs.get("kind")
        group = r.type.split(":")[1].split("/")[0] if r.type.count(":") >= 2 else ""
        if kind and r.type != RELEASE and group not in BUILTIN_GROUPS:
            owner = CRD_RELEASES.get(kind)
            if owner is not None and owner in releases:
                assert releases[owner] in waits, f"{stack}: {kind} {r.name} does not wait for release {owner}"
            else:
                # a kind this table does not know yet must still wait for some release
                assert waits & set(releases.values()), f"{stack}: {kind} {r.name} waits for no release installing its CRD"
        checked += 1
    assert checked > 5


# --- component-level guards (for programs that use the components without a stack spec) -------

def test_components_refuse_an_api_open_to_everyone_without_the_opt_in():
    from gpuforge.aws import EksClusterArgs
    from gpuforge.azure import AksClusterArgs

    eks = EksClusterArgs(cluster_name="c", region="us-east-1", subnet_ids=["a", "b"], endpoint_public_access=True,
                         public_access_cidrs=["0.0.0.0/0"])
    assert any("whole internet" in p.reason for p in eks.problems())
    eks_ok = EksClusterArgs(cluster_name="c", region="us-east-1", subnet_ids=["a", "b"], endpoint_public_access=True,
                            public_access_cidrs=["0.0.0.0/0"], allow_public_from_anywhere=True)
    assert not [p for p in eks_ok.problems() if p.path == "public_access_cidrs"]
    aks = AksClusterArgs(resource_group_name="rg", location="eastus", admin_group_object_ids=["3f1e2a4b-0000-4000-8000-00000000a001"])
    assert any(p.path == "cluster.authorized_ip_ranges" for p in aks.problems())  # public with no ranges
    private = AksClusterArgs(resource_group_name="rg", location="eastus", private_cluster=True,
                             admin_group_object_ids=["3f1e2a4b-0000-4000-8000-00000000a001"])
    assert private.problems() == []


def test_capacity_block_pools_start_at_zero():
    from gpuforge.aws import GpuNodePoolArgs
    from gpuforge.plan import NodePoolPlan

    pool = NodePoolPlan(name="blk", cloud="aws", region="us-east-1", instance_type="p5.48xlarge", gpu="h100-80gb",
                        gpus_per_node=8, nodes_per_replica=1, desired_nodes=2, min_nodes=1, max_nodes=2,
                        capacity_type="capacity-block", zone="us-east-1a", capacity_reservation_id="cr-0123456789abcdef0",
                        capacity_block_instance_count=2)
    args = GpuNodePoolArgs.from_plan(pool, cluster_name="c", subnet_ids_by_zone={"us-east-1a": "subnet-a"})
    assert (args.min_nodes, args.desired_nodes, args.max_nodes) == (0, 0, 2)
    on_demand = GpuNodePoolArgs.from_plan(
        NodePoolPlan(**{**pool.__dict__, "capacity_type": "on-demand", "capacity_reservation_id": None, "capacity_block_instance_count": None}),
        cluster_name="c", subnet_ids_by_zone={"us-east-1a": "subnet-a"},
    )
    assert (on_demand.min_nodes, on_demand.desired_nodes) == (1, 2)


def test_platform_refuses_two_prometheus_choices():
    from gpuforge.k8s.platform import ExistingPrometheus, GpuPlatformArgs

    both = GpuPlatformArgs(cloud="aws", kube_prometheus_stack=True, prometheus=ExistingPrometheus("http://p.m.svc:9090", "m"))
    assert any(p.path == "prometheus" for p in both.problems())
    named = GpuPlatformArgs(cloud="aws", prometheus=ExistingPrometheus("http://p.m.svc:9090", "m", {"team": "x"}))
    assert named.problems() == [] and named.prometheus_url == "http://p.m.svc:9090" and named.prometheus_labels == {"team": "x"}


def test_without_node_autoscaler_every_pool_of_a_spot_plan_is_fixed():
    # enough users that the plan puts replicas above sla.min_replicas (2) on spot
    recorder = program("aws-eu-spot", json.dumps({"node_autoscaler": False}), workload=json.dumps({"peak_concurrency": 64}))
    groups = [r for r in recorder.of_type("aws:eks/nodeGroup:NodeGroup") if not r.name.endswith("-system")]
    assert len(groups) == 2  # on-demand base + spot
    for g in groups:
        sc = g.inputs["scalingConfig"]
        assert sc["minSize"] == sc["desiredSize"] == sc["maxSize"] >= 1, g.name


def test_without_node_autoscaler_a_spot_pool_the_plan_leaves_empty_is_not_built():
    """Few enough users that sla.min_replicas carries them all: every replica sits on the
    on-demand base, so a fixed spot pool would have 0 nodes, which EKS refuses (maxSize >= 1)
    and nothing would ever scale up."""
    recorder = program("aws-eu-spot", json.dumps({"node_autoscaler": False}), workload=json.dumps({"peak_concurrency": 4}))
    groups = [r for r in recorder.of_type("aws:eks/nodeGroup:NodeGroup") if not r.name.endswith("-system")]
    assert [g.inputs["capacityType"] for g in groups] == ["ON_DEMAND"]
    sc = groups[0].inputs["scalingConfig"]
    assert sc["minSize"] == sc["desiredSize"] == sc["maxSize"] >= 1


def test_capacity_blocks_need_the_node_autoscaler():
    from dataclasses import replace

    plan = plan_of("aws-llama405b-efa")
    block = replace(plan, node_pool=replace(plan.node_pool, capacity_type="capacity-block",
                                            capacity_reservation_id="cr-0123456789abcdef0", capacity_block_instance_count=4))
    spec = ClusterSpec(private_endpoint_only=True, admin_principals=["arn:aws:iam::123456789012:role/a"], node_autoscaler=False)
    found = [p.path for p in GpuClusterArgs(name="c", plans=[block], cluster=spec).problems()]
    assert "cluster.node_autoscaler" in found
    assert GpuClusterArgs(name="c", plans=[block], cluster=spec.model_copy(update={"node_autoscaler": True})).problems() == []


ADMIN_ROLE = "arn:aws:iam::123456789012:role/platform-admins"


@pytest.mark.parametrize("caller, creator_admin, warned", [
    ("arn:aws:sts::123456789012:assumed-role/platform-admins/ci-run-42", False, None),  # a session of the admin role
    (ADMIN_ROLE, False, None),
    ("arn:aws:iam::123456789012:user/alice", False, "Unauthorized"),  # no entry for the creator
    ("arn:aws:sts::123456789012:assumed-role/other-role/s", False, "Unauthorized"),
    ("arn:aws:sts::999999999999:assumed-role/platform-admins/s", False, "Unauthorized"),  # same name, other account
    ("arn:aws:sts::123456789012:assumed-role/platform-admins/s", True, "409"),  # bootstrap entry + explicit entry
    ("arn:aws:iam::123456789012:user/alice", True, None),  # bootstrap entry for alice, explicit one for the role
])
def test_access_entry_warnings_for_the_identity_running_pulumi(caller, creator_admin, warned):
    from gpuforge.aws.iam import caller_access_warning

    message = caller_access_warning(caller, (ADMIN_ROLE,), creator_admin)
    assert (message is None) if warned is None else (warned in (message or ""))


@pytest.mark.parametrize("stack, expected", [
    ("aws-chat-small", ["public to 203.0.113.0/24 + private", "no creator entry", '"enableNetworkPolicy": "true"',
                        "kube-prometheus-stack installed", "Cluster Autoscaler release", "chat-small-gpu 2..4", "chat-small 2..4"]),
    ("aws-llama405b-efa", ["private only"]),
    ("azure-llama70b", ["Resource group: created (rg-gpuforge-llama70b)", "Network Contributor", "public to 203.0.113.0/24",
                        "networkPolicy cilium", "AKS cluster autoscaler on the GPU pools"]),
    ("aws-existing-cluster", ["an existing cluster's own"]),
])
def test_preview_shows_the_readiness_choices(stack, expected):
    from gpuforge.preview import readiness_summary

    text = "\n".join(readiness_summary(program(stack).resources))
    for fragment in expected:
        assert fragment in text, f"{stack}: {fragment!r} not in\n{text}"

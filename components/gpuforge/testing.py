"""Pulumi mock runtime that records every registered resource.

Used by `gpuforge preview` (the offline preview) and by the test suite. It answers the few
provider calls gpuforge makes (caller identity, EKS and AKS look-ups) with plausible values,
returns a resource's inputs as its outputs, and keeps for each registration its parent; input
values that are Pulumi secrets stay wrapped, so they can be masked.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

SECRET_SIG = rpc._special_sig_key  # the key Pulumi marks a wrapped value with ...
SECRET_VALUE = rpc._special_secret_sig  # ... and the marker that says the value is a secret
MASK = "[secret]"
#: The identity the mocks report for `aws.get_caller_identity` (the offline preview has none).
OFFLINE_CALLER_ARN = "arn:aws:iam::123456789012:user/gpuforge-offline-preview"

_AKS_KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- cluster: {certificate-authority-data: Q0E=, server: 'https://mock.hcp.eastus.azmk8s.io:443'}
  name: mock
contexts:
- context: {cluster: mock, user: clusterUser_mock}
  name: mock
current-context: mock
users:
- name: clusterUser_mock
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubelogin
      args: [get-token, --login, devicecode, --server-id, 6dae42f8-4368-4678-94ff-3960e28e3630]
"""


@dataclass
class Recorded:
    type: str
    name: str
    inputs: dict[str, Any]
    parent: str | None
    provider: str | None
    parent_urn: str

    def masked_inputs(self) -> dict[str, Any]:
        """The inputs with every secret value replaced by "[secret]".

        The mock monitor hands inputs over with secret values still wrapped in Pulumi's
        marker ({SECRET_SIG: SECRET_VALUE, "value": ...}), which is what this masks.
        """
        return _mask(self.inputs)


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_VALUE:
            return MASK
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


@dataclass
class Recorder(pulumi.runtime.Mocks):
    """Mocks that record registrations (see module docstring)."""

    resources: list[Recorded] = field(default_factory=list)
    calls: list[tuple[str, dict]] = field(default_factory=list)
    _parents: dict[tuple[str, str], str] = field(default_factory=dict)
    #: URN -> (type, name, dependency URNs, provider URN or "") of every registration, custom or
    #: component, as the engine would see them: what the deploy-order tests walk.
    graph: dict[str, tuple[str, str, list[str], str]] = field(default_factory=dict)

    def monitor(self) -> MockMonitor:
        """A MockMonitor that also remembers each registration's parent and secret inputs."""
        monitor = MockMonitor(self)
        register = monitor.RegisterResource

        def register_resource(request):
            key = (request.type, request.name)
            self._parents[key] = request.parent
            response = register(request)
            provider = (request.provider or "").rsplit("::", 1)[0] if request.provider else ""
            deps = list(request.dependencies)
            if request.parent:
                deps.append(request.parent)
            self.graph[response.urn] = (request.type, request.name, deps, provider)
            return response

        monitor.RegisterResource = register_resource  # type: ignore[method-assign]
        return monitor

    def install(self, project: str = "gpuforge", stack: str = "test") -> None:
        """Install these mocks on the current event loop, with a root Stack of their own.

        `set_mocks` creates a root Stack only when none is set (pulumi/runtime/mocks.py,
        `if get_root_resource() is None`), so a second install in one process would parent
        every resource to the previous run's Stack, whose registration futures belong to that
        run's (closed) event loop: the program then hangs or fails with "Event loop is closed"
        / "attached to a different loop". Clearing the root first gives each run its own.
        Likewise `configure()` replaces the settings' RPC manager but keeps the very same
        `SETTINGS.outputs` set (pulumi 3.x runtime/settings.py), so an Output still pending on a
        closed loop would make `wait_for_rpcs` wait for it forever: it is emptied too.
        """
        pulumi.runtime.settings.ROOT.set(None)
        pulumi.runtime.settings.SETTINGS.outputs.clear()
        pulumi.runtime.set_mocks(self, project=project, stack=stack, preview=False, monitor=self.monitor())

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        key = (args.typ, args.name)
        parent_urn = self._parents.get(key) or None
        self.resources.append(
            Recorded(args.typ, args.name, dict(args.inputs), _name_of(parent_urn), args.provider, parent_urn or "")
        )
        outputs = dict(args.inputs)
        outputs.setdefault("arn", f"arn:aws:mock:::{args.name}")
        outputs.setdefault("name", args.name)
        if args.typ == "aws:eks/cluster:Cluster":
            outputs["endpoint"] = "https://MOCK.gr7.us-east-1.eks.amazonaws.com"
            outputs["certificateAuthority"] = {"data": "Q0E="}
            outputs["identities"] = [{"oidcs": [{"issuer": "https://oidc.eks.us-east-1.amazonaws.com/id/MOCK"}]}]
            outputs["vpcConfig"] = {**outputs.get("vpcConfig", {}), "clusterSecurityGroupId": "sg-0cluster"}
        if args.typ == "random:index/randomPassword:RandomPassword":
            outputs["result"] = f"mock-random-{args.name}"
        if args.typ == "aws:ec2/launchTemplate:LaunchTemplate":
            outputs["latestVersion"] = 1
        if args.typ == "azure-native:containerservice:ManagedCluster":
            identity = outputs.get("identity") or {}
            if isinstance(identity.get("userAssignedIdentities"), list):
                # Input: a list of identity ids; output (what Azure returns): id -> details.
                outputs["identity"] = {**identity, "userAssignedIdentities": {i: {} for i in identity["userAssignedIdentities"]}}
        if args.typ == "azure-native:managedidentity:UserAssignedIdentity":
            outputs["principalId"] = "11111111-1111-4111-8111-111111111111"
            outputs["clientId"] = "22222222-2222-4222-8222-222222222222"
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        self.calls.append((args.token, dict(args.args)))
        token = args.token
        if token == "aws:index/getRegion:getRegion":
            return {"name": "us-east-1", "region": "us-east-1", "id": "us-east-1"}
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": "123456789012", "arn": OFFLINE_CALLER_ARN, "userId": "mock"}
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        if token == "aws:eks/getCluster:getCluster":
            name = args.args.get("name", "existing")
            return {
                "name": name,
                "endpoint": "https://EXISTING.yl4.us-east-1.eks.amazonaws.com",
                "certificateAuthorities": [{"data": "Q0E="}],
                "identities": [{"oidcs": [{"issuer": "https://oidc.eks.us-east-1.amazonaws.com/id/EXISTING"}]}],
                "vpcConfig": {"clusterSecurityGroupId": "sg-0existing", "subnetIds": [], "vpcId": "vpc-0existing"},
                "version": "1.35",
                "arn": f"arn:aws:eks:us-east-1:123456789012:cluster/{name}",
            }
        if token == "azure-native:authorization:getClientConfig":
            return {"subscriptionId": "00000000-0000-4000-8000-0000000000aa", "tenantId": "00000000-0000-4000-8000-0000000000bb",
                    "clientId": "c", "objectId": "00000000-0000-4000-8000-0000000000cc"}
        if token == "azure-native:containerservice:listManagedClusterUserCredentials":
            return {"kubeconfigs": [{"name": "clusterUser", "value": base64.b64encode(_AKS_KUBECONFIG.encode()).decode()}]}
        if token == "azure-native:containerservice:getManagedCluster":
            return {
                "name": args.args.get("resourceName"),
                "location": "eastus",
                "nodeResourceGroup": f"MC_{args.args.get('resourceGroupName')}_{args.args.get('resourceName')}",
                "oidcIssuerProfile": {"enabled": True, "issuerURL": "https://eastus.oic.prod-aks.azure.com/t/c/"},
                "identityProfile": {"kubeletidentity": {"objectId": "00000000-0000-4000-8000-000000000000", "clientId": "c", "resourceId": "/r"}},
            }
        return {}

    # --- helpers -----------------------------------------------------------------------
    def of_type(self, typ: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == typ]

    def one(self, typ: str, name: str | None = None) -> Recorded:
        hits = [r for r in self.of_type(typ) if name in (None, r.name)]
        assert len(hits) == 1, f"expected one {typ} {name or ''}, got {[h.name for h in hits]}"
        return hits[0]

    def depends_transitively(self, urn: str) -> set[str]:
        """Every URN `urn` waits for before the engine creates it: its dependencies, its
        provider (and what that waits for) and its parent, transitively."""
        seen: set[str] = set()
        todo = [urn]
        while todo:
            _, _, deps, provider = self.graph.get(todo.pop(), ("", "", [], ""))
            for d in deps + ([provider] if provider else []):
                if d not in seen:
                    seen.add(d)
                    todo.append(d)
        return seen

    def wait(self, *resources: pulumi.Resource) -> None:
        """Block until the given resources (and so their children) are registered."""
        loop = asyncio.get_event_loop()
        for o in [r.urn for r in resources]:
            loop.run_until_complete(o.future())
        loop.run_until_complete(asyncio.sleep(0))


def _name_of(urn: str | None) -> str | None:
    """The resource name at the end of a URN (`...::type::name`)."""
    return urn.rsplit("::", 1)[-1] if urn else None

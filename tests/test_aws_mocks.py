"""Shared mocks for the gpuforge.aws component tests (no tests here).

`AwsRecorder` extends the project `Recorder` with what AWS would return and the mocks do not:
EKS cluster outputs (endpoint, CA, OIDC issuer, cluster security group), launch template
versions, `aws.eks.getCluster` data for existing clusters; and it keeps each registration's
`ignoreChanges` and dependency URNs so resource options can be asserted on.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pytest
from gpuforge.plan import NodePoolPlan
from pulumi.runtime.mocks import MockMonitor
from pulumi_mocks import Recorder

SECRET_SIG = "4dabf18193072939515e22adb298388d"  # Pulumi's marker key for a secret value
MOCK_ENDPOINT = "https://ABCDEF.gr7.us-east-1.eks.amazonaws.com"
MOCK_CA = "Q0EtREFUQQ=="
MOCK_ISSUER = "https://oidc.eks.us-east-1.amazonaws.com/id/ABCDEF"
MOCK_CLUSTER_SG = "sg-0cluster"
EXISTING = {
    "name": "prod",
    "endpoint": "https://EXISTING.yl4.us-west-2.eks.amazonaws.com",
    "certificateAuthorities": [{"data": "RVhJU1RJTkc="}],
    "identities": [{"oidcs": [{"issuer": "https://oidc.eks.us-west-2.amazonaws.com/id/EXISTING"}]}],
    "vpcConfig": {"clusterSecurityGroupId": "sg-0existing", "subnetIds": ["subnet-a", "subnet-b"], "vpcId": "vpc-0existing"},
    "version": "1.35",
    "arn": "arn:aws:eks:us-west-2:123456789012:cluster/prod",
}


@dataclass
class AwsRecorder(Recorder):
    #: (type, name) -> (ignoreChanges, names of the explicit dependencies)
    options: dict[tuple[str, str], tuple[list[str], list[str]]] = field(default_factory=dict)

    def monitor(self) -> MockMonitor:
        monitor = super().monitor()
        register = monitor.RegisterResource

        def register_resource(request):
            deps = [u.rsplit("::", 1)[-1] for u in request.dependencies]
            self.options[(request.type, request.name)] = (list(request.ignoreChanges), deps)
            return register(request)

        monitor.RegisterResource = register_resource
        return monitor

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        rid, outputs = super().new_resource(args)
        if args.typ == "aws:eks/cluster:Cluster":
            outputs["endpoint"] = MOCK_ENDPOINT
            outputs["certificateAuthority"] = {"data": MOCK_CA}
            outputs["identities"] = [{"oidcs": [{"issuer": MOCK_ISSUER}]}]
            outputs["vpcConfig"] = {**outputs.get("vpcConfig", {}), "clusterSecurityGroupId": MOCK_CLUSTER_SG}
        if args.typ == "aws:ec2/launchTemplate:LaunchTemplate":
            outputs["latestVersion"] = 1
        if args.typ == "aws:ec2/placementGroup:PlacementGroup":
            outputs.setdefault("name", args.name)
        return rid, outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token == "aws:eks/getCluster:getCluster":
            self.calls.append((args.token, dict(args.args)))
            return {**EXISTING, "name": args.args.get("name", EXISTING["name"])}
        return super().call(args)

    # --- helpers -----------------------------------------------------------------------
    def _options(self, name: str, typ: str | None) -> tuple[list[str], list[str]]:
        hits = [v for (t, n), v in self.options.items() if n == name and typ in (None, t)]
        assert len(hits) == 1, f"expected one registration named {name!r} ({typ or 'any type'}), got {len(hits)}"
        return hits[0]

    def ignored(self, name: str, typ: str | None = None) -> list[str]:
        """The ignoreChanges the resource was registered with."""
        return self._options(name, typ)[0]

    def depends_on(self, name: str, typ: str | None = None) -> list[str]:
        """Names of the resources it was registered as depending on."""
        return self._options(name, typ)[1]

    def children_of(self, parent: str) -> list[str]:
        return sorted(f"{r.type}::{r.name}" for r in self.resources if r.parent == parent)

    def settle(self, *resources: pulumi.Resource) -> None:
        """Wait for the components and every registration they queued."""
        self.wait(*resources)
        asyncio.get_event_loop().run_until_complete(pulumi.runtime.stack.wait_for_rpcs())

    def resolve(self, output: pulumi.Output) -> Any:
        return asyncio.get_event_loop().run_until_complete(output.future())

    def is_secret(self, output: pulumi.Output) -> bool:
        return asyncio.get_event_loop().run_until_complete(output.is_secret())


@pytest.fixture
def aws_mocks():
    """Like the project's `pulumi_mocks` fixture, with the AwsRecorder."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    recorder = AwsRecorder()
    recorder.install()
    try:
        yield recorder
    finally:
        loop.close()
        asyncio.set_event_loop(None)


def unsecret(value: Any) -> Any:
    """The plain value of a recorded secret input (asserting that it is one)."""
    assert isinstance(value, dict) and SECRET_SIG in value, f"not a secret: {value!r}"
    return value["value"]


def pool_plan(**overrides: Any) -> NodePoolPlan:
    """A hand-built NodePoolPlan; defaults are a one-GPU, one-node g6e.xlarge pool."""
    base: dict[str, Any] = dict(
        name="chat",
        cloud="aws",
        region="us-east-1",
        instance_type="g6e.xlarge",
        gpu="l40s",
        gpus_per_node=1,
        nodes_per_replica=1,
        desired_nodes=1,
        min_nodes=1,
        max_nodes=1,
    )
    base.update(overrides)
    return NodePoolPlan(**base)


SUBNETS = {"us-east-1a": "subnet-0a", "us-east-1b": "subnet-0b", "us-east-1c": "subnet-0c"}

"""Pulumi mock runtime for component tests: records every registered resource.

Use the `pulumi_mocks` fixture (tests/conftest.py): it installs fresh mocks with
`preview=False` and a fresh event loop, and yields the `Recorder`. Build components inside
the test, then call `recorder.wait(*resources)` before reading `recorder.resources`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor


@dataclass
class Recorded:
    type: str
    name: str
    inputs: dict[str, Any]
    parent: str | None
    provider: str | None
    parent_urn: str


@dataclass
class Recorder(pulumi.runtime.Mocks):
    resources: list[Recorded] = field(default_factory=list)
    calls: list[tuple[str, dict]] = field(default_factory=list)
    _parents: dict[tuple[str, str], str] = field(default_factory=dict)

    def monitor(self) -> MockMonitor:
        """A MockMonitor that also remembers each registration's parent URN."""
        monitor = MockMonitor(self)
        register = monitor.RegisterResource

        def register_resource(request):
            self._parents[(request.type, request.name)] = request.parent
            return register(request)

        monitor.RegisterResource = register_resource
        return monitor

    def install(self, project: str = "gpuforge", stack: str = "test") -> None:
        pulumi.runtime.set_mocks(self, project=project, stack=stack, preview=False, monitor=self.monitor())

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        parent_urn = self._parents.get((args.typ, args.name)) or None
        self.resources.append(
            Recorded(args.typ, args.name, dict(args.inputs), _name_of(parent_urn), args.provider, parent_urn=parent_urn or "")
        )
        outputs = dict(args.inputs)
        outputs.setdefault("arn", f"arn:aws:mock:::{args.name}")
        outputs.setdefault("name", args.name)
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        self.calls.append((args.token, dict(args.args)))
        token = args.token
        if token == "aws:index/getRegion:getRegion":
            return {"name": "us-east-1", "region": "us-east-1", "id": "us-east-1"}
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": "123456789012", "arn": "arn:aws:iam::123456789012:user/mock", "userId": "mock"}
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        return {}

    # --- helpers -----------------------------------------------------------
    def of_type(self, typ: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == typ]

    def one(self, typ: str, name: str | None = None) -> Recorded:
        hits = [r for r in self.of_type(typ) if name in (None, r.name)]
        assert len(hits) == 1, f"expected one {typ} {name or ''}, got {[h.name for h in hits]}"
        return hits[0]

    def wait(self, *resources: pulumi.Resource) -> None:
        """Block until the given resources (and so their children) are registered."""
        loop = asyncio.get_event_loop()
        outs = [r.urn for r in resources]
        for o in outs:
            loop.run_until_complete(o.future())
        # let any trailing registrations drain
        loop.run_until_complete(asyncio.sleep(0))


def _name_of(urn: str | None) -> str | None:
    """The resource name at the end of a URN (`...::type::name`)."""
    return urn.rsplit("::", 1)[-1] if urn else None

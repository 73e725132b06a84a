"""gpuforge as a Pulumi component provider: Pulumi's own analyzer (pinned SDK,
`pulumi.provider.experimental`) accepts every exported component, the schema it infers
carries every Args field with its type, and the provider's `construct` builds the real
component from what another language sends."""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import typing
from pathlib import Path

import pulumi
import pytest
import yaml
from gpuforge.provider import PACKAGE, schema
from gpuforge.provider.components import EXPORTED, build
from gpuforge.provider.translate import _fields, excluded_fields, resolved_hints
from pulumi.provider.experimental.analyzer import Analyzer
from pulumi.provider.experimental.component import ComponentProvider

REPO = Path(__file__).resolve().parents[1]

# Args fields other languages do not get, and why: resource references have no schema type to
# point at (a plain pulumi.Resource); those languages pass them as `dependsOn` in the options.
NOT_OFFERED = {
    "ModelServer": {"crd_dependencies", "namespace_dependencies"},
    "ServingMonitoring": {"crd_dependencies", "namespace_dependencies"},
}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def test_the_analyzer_accepts_every_exported_component():
    components, _ = build()
    result = Analyzer(PACKAGE).analyze(components)
    assert set(result["component_definitions"]) == {e.name for e in EXPORTED} | {"PlannedStack"}


def test_every_component_gpuforge_exports_is_offered():
    offered = {(e.module, e.component) for e in EXPORTED}
    for module in ("gpuforge.aws", "gpuforge.azure", "gpuforge.k8s"):
        mod = importlib.import_module(module)
        for name in mod.__all__:
            obj = getattr(mod, name)
            if isinstance(obj, type) and issubclass(obj, pulumi.ComponentResource):
                assert (module, name) in offered, f"{module}.{name} is not offered to other languages: add it to EXPORTED"


@pytest.mark.parametrize("spec", EXPORTED, ids=lambda e: e.name)
def test_schema_has_every_args_field_with_its_requiredness(spec):
    s = schema()
    res = s["resources"][f"{PACKAGE}:index:{spec.name}"]
    args_cls = getattr(importlib.import_module(spec.module), spec.args)
    assert set(excluded_fields(args_cls)) == NOT_OFFERED.get(spec.name, set())
    fields = [(f, d) for f, d in _fields(args_cls) if not f.startswith("_") and f not in NOT_OFFERED.get(spec.name, set())]
    assert set(res["inputProperties"]) == {_camel(f) for f, _ in fields}
    assert set(res.get("requiredInputs", [])) == {_camel(f) for f, has_default in fields if not has_default}
    assert res["properties"], f"{spec.name} exports no outputs"


def test_literals_become_enums_with_the_same_values():
    from gpuforge.aws.node_pool import GpuNodePoolArgs

    s = schema()
    ref = s["resources"][f"{PACKAGE}:index:AwsGpuNodePool"]["inputProperties"]["capacityType"]["$ref"]
    values = [v["value"] for v in s["types"][ref.split("/")[-1]]["enum"]]
    assert values == list(typing.get_args(resolved_hints(GpuNodePoolArgs)["capacity_type"]))


def test_planned_stack_takes_the_spec_typed():
    s = schema()
    spec = s["types"][f"{PACKAGE}:index:DeploymentSpec"]["properties"]
    assert {"name", "model", "workload", "sla", "target", "budget", "cluster", "serving"} <= set(spec)
    assert s["types"][f"{PACKAGE}:index:ModelSpec"]["properties"]["precision"]["type"] == "array"
    out = s["resources"][f"{PACKAGE}:index:PlannedStack"]["properties"]
    assert {"clusterName", "endpoints", "planMarkdown"} <= set(out)


def test_plugin_manifest_and_entry_point():
    plugin = yaml.safe_load((REPO / "provider" / "PulumiPlugin.yaml").read_text())
    assert plugin["runtime"] == "python"
    main = (REPO / "provider" / "__main__.py").read_text()
    assert "component_provider_host" in main
    # the plugin installs what gpuforge itself pins
    pyproject = (REPO / "pyproject.toml").read_text()
    deps = re.search(r"^dependencies = \[(.*?)^\]", pyproject, re.S | re.M).group(1)
    pins = sorted(re.findall(r'"([^"]+==[^"]+)"', deps))
    reqs = sorted(line.strip() for line in (REPO / "provider" / "requirements.txt").read_text().splitlines() if "==" in line and not line.startswith("#"))
    assert reqs == pins


# --- construct, as the engine calls it for a TypeScript / YAML program ---------------------------
def _construct(rec, type_name: str, name: str, inputs: dict) -> dict:
    components, _ = build()
    provider = ComponentProvider(components, PACKAGE, version="0.1.0")
    result = provider.construct(name, f"{PACKAGE}:index:{type_name}", inputs, None)
    _settle()
    asyncio.get_event_loop().run_until_complete(asyncio.wait_for(result.urn.future(), 60))
    return result.state


def _settle() -> None:
    """Wait (bounded) until every registration sent so far is answered."""
    asyncio.get_event_loop().run_until_complete(asyncio.wait_for(pulumi.runtime.stack.wait_for_rpcs(), 60))


def test_construct_builds_the_real_node_pool_from_schema_inputs(pulumi_mocks):
    inputs = {  # what the engine sends: schema names, enum values as strings, numbers as floats
        "clusterName": "llm",
        "region": "us-east-1",
        "instanceType": "g6e.xlarge",
        "subnetIdsByZone": {"us-east-1a": "subnet-a", "us-east-1b": "subnet-b"},
        "desiredNodes": 2.0,
        "maxNodes": 4.0,
        "capacityType": "spot",
        "vpcId": "vpc-0abc",
        "clusterSecurityGroupId": "sg-0cluster",
        "nodeRoleArn": "arn:aws:iam::123456789012:role/nodes",
    }
    state = _construct(pulumi_mocks, "AwsGpuNodePool", "gpus", inputs)
    wrapper = pulumi_mocks.one(f"{PACKAGE}:index:AwsGpuNodePool", "gpus")
    inner = pulumi_mocks.one("gpuforge:aws:GpuNodePool", "gpus")
    assert inner.parent == wrapper.name
    group = pulumi_mocks.one("aws:eks/nodeGroup:NodeGroup")
    assert group.inputs["capacityType"] == "SPOT"
    assert group.inputs["scalingConfig"]["desiredSize"] == 2 and group.inputs["scalingConfig"]["maxSize"] == 4
    assert {"nodeGroupName", "launchTemplateId"} <= set(state)


def test_construct_reports_the_components_own_errors(pulumi_mocks):
    from pulumi.provider.server import ComponentInitError

    with pytest.raises(ComponentInitError) as err:
        _construct(pulumi_mocks, "AwsGpuNodePool", "bad", {"clusterName": "llm", "region": "us-east-1", "instanceType": "no-such.type", "subnetIdsByZone": {}})
    _settle()  # the wrapper's own registration, sent before its child failed
    assert "no-such.type" in str(err.value.__cause__ or err.value) or "instance_type" in str(err.value.__cause__ or err.value)


def _camel_keys(value, maps=("subnet_ids_by_zone", "labels", "tags")):
    if isinstance(value, dict):
        return {_camel(k): (v if k in maps else _camel_keys(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel_keys(v) for v in value]
    return value


def test_construct_planned_stack_plans_and_builds_the_stack(pulumi_mocks):
    raw = yaml.safe_load((REPO / "stacks" / "Pulumi.aws-chat-small.yaml").read_text())["config"]["gpuforge:deployment"]
    state = _construct(pulumi_mocks, "PlannedStack", "chat", {"spec": {"deployments": [_camel_keys(raw)]}, "hfTokens": {"chat-small": "hf_x"}})
    wrapper = pulumi_mocks.one(f"{PACKAGE}:index:PlannedStack", "chat")
    cluster = [r for r in pulumi_mocks.resources if r.type == "gpuforge:index:GpuCluster"]
    deployments = [r for r in pulumi_mocks.resources if r.type == "gpuforge:index:ModelDeployment"]
    assert len(cluster) == 1 and cluster[0].parent == wrapper.name
    assert [d.name for d in deployments] == ["chat-small"]
    assert state["planMarkdown"].startswith("### gpuforge sizing: `chat-small`")
    # the token stays a secret down to the Kubernetes Secret
    secrets = [r for r in pulumi_mocks.resources if r.type == "kubernetes:core/v1:Secret"]
    assert secrets and all("hf_x" not in json.dumps(r.masked_inputs()) for r in secrets)


# --- the programs docs/languages.md shows use the schema's names ---------------------------------
def _check_object(s: dict, value: dict, props: dict, where: str) -> None:
    for key, v in value.items():
        assert key in props, f"{where}.{key} is not in the schema (has {sorted(props)})"
        prop = props[key]
        ref = prop.get("$ref") or prop.get("items", {}).get("$ref")
        if ref and ref.startswith("#/types/"):
            t = s["types"][ref.removeprefix("#/types/")]
            if "properties" in t:
                for item in v if isinstance(v, list) else [v]:
                    _check_object(s, item, t["properties"], f"{where}.{key}")
            elif "enum" in t:
                assert v in [e["value"] for e in t["enum"]], f"{where}.{key}: {v!r}"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", (REPO / "docs" / "languages.md").read_text(), re.S)


def test_yaml_program_in_the_docs_matches_the_schema():
    s = schema()
    (program,) = _blocks("yaml")
    doc = yaml.safe_load(program)
    for name, res in doc["resources"].items():
        token = res["type"].replace(":", ":index:", 1)
        assert token in s["resources"], res["type"]
        props = res["properties"]
        _check_object(s, {k: v for k, v in props.items() if k != "hfTokens"}, s["resources"][token]["inputProperties"], name)
        assert set(props) <= set(s["resources"][token]["inputProperties"])
    for out in doc["outputs"].values():
        component, prop = re.fullmatch(r"\$\{(\w+)\.(\w+)\}", out).groups()
        token = doc["resources"][component]["type"].replace(":", ":index:", 1)
        assert prop in s["resources"][token]["properties"]


def test_typescript_programs_in_the_docs_use_schema_names():
    s = schema()
    names = set()
    for res in s["resources"].values():
        names |= set(res["inputProperties"]) | set(res["properties"])
    for t in s["types"].values():
        names |= set(t.get("properties", {}))
    for block in _blocks("typescript"):
        code = re.sub(r'"[^"]*"', '""', block)
        for comp in re.findall(r"new gpuforge\.(\w+)\(", code):
            assert f"{PACKAGE}:index:{comp}" in s["resources"], comp
        for key in re.findall(r"[{,]\s*(\w+):", code):
            assert key in names, f"`{key}` is not a property of the gpuforge schema"
        for enum_type, member in re.findall(r"gpuforge\.(\w+)\.(\w+)", code):
            if f"{PACKAGE}:index:{enum_type}" in s["types"]:
                assert member in [e["name"] for e in s["types"][f"{PACKAGE}:index:{enum_type}"]["enum"]]
        for out in re.findall(r"stack\.(\w+);", code):
            assert out in s["resources"][f"{PACKAGE}:index:PlannedStack"]["properties"]

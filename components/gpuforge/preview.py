"""`gpuforge preview`: run the real Pulumi program offline, under Pulumi's mock runtime.

No cloud credentials, no Pulumi CLI: the program registers its resources against mocks that
record them. The preview prints the sizing plan and the resource tree, and writes into the
output folder every Kubernetes object as YAML (validated against the Kubernetes schemas and
the CRDs shipped in `gpuforge/k8s/crds/`), `plan.json` (as `gpuforge plan --format json`),
`plan.md` (the review), `plan-<deployment>.svg` (cost vs latency of the candidates) and
`resources.json` (type, name, parent, inputs; secrets masked). `--comment FILE` writes the
pull-request comment. It complements `pulumi preview`; it does not replace it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from gpuforge.errors import Problem, SpecError
from gpuforge.inputs import dumps, load_json, load_yaml, read_text
from gpuforge.spec import CONFIG_KEY

SECURE_PLACEHOLDER = "offline-preview-placeholder"


def stack_file(stack: str, stacks_dir: str | Path = "stacks") -> Path:
    path = Path(stacks_dir) / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in Path(stacks_dir).glob("Pulumi.*.yaml"))
        raise SpecError(
            f"stack {stack!r}",
            [Problem("--stack", f"no {path}", f"use one of: {', '.join(known) or '(none)'}")],
        )
    return path


def read_stack_config(path: Path) -> tuple[dict[str, Any], list[str]]:
    """(config as Pulumi's runtime holds it: key -> string, secret keys) for a stack file."""
    data = load_yaml(read_text(path), str(path)) or {}
    if not isinstance(data, dict) or not isinstance(data.get("config") or {}, dict):
        raise SpecError(str(path), [Problem("config", "a stack file is a mapping with a `config:` mapping", "see stacks/ for the shape")])
    config: dict[str, Any] = {}
    secrets: list[str] = []
    for key, value in (data.get("config") or {}).items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            # Encrypted with the stack's secrets provider; offline we use a placeholder that
            # stays a secret all the way through.
            config[key] = SECURE_PLACEHOLDER
            secrets.append(key)
        elif isinstance(value, (dict, list)):
            config[key] = json.dumps(value)
        else:
            config[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return config, secrets


def run_program(config: dict[str, Any], secrets: list[str], stack: str) -> tuple[Any, list[str]]:
    """Run gpuforge's program under mocks; (recorder, errors)."""
    import pulumi

    from gpuforge import program
    from gpuforge.testing import Recorder

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    recorder = Recorder()
    recorder.install(project="gpuforge", stack=stack)
    pulumi.runtime.set_all_config(config, secrets)
    errors: list[str] = []
    try:
        program.run()
        # registrations run on the event loop: wait until every one has been sent
        loop.run_until_complete(pulumi.runtime.stack.wait_for_rpcs())
    except Exception as exc:  # noqa: BLE001 - reported to the user with the resources so far
        errors.append(f"program failed: {exc}")
    finally:
        loop.close()
        asyncio.set_event_loop(None)
    return recorder, errors


def _parent_key(parent_urn: str) -> tuple[str, str] | None:
    """(type, name) of the parent from its URN (`urn:pulumi:stack::project::a$b$type::name`)."""
    if not parent_urn:
        return None
    parts = parent_urn.split("::")
    return (parts[2].split("$")[-1], parts[3]) if len(parts) >= 4 else None


def _tree(resources: list[Any]) -> str:
    keys = {(r.type, r.name) for r in resources}
    children: dict[tuple[str, str] | None, list[Any]] = {}
    for r in resources:
        parent = _parent_key(r.parent_urn)
        children.setdefault(parent if parent in keys else None, []).append(r)
    lines: list[str] = []

    def walk(parent: tuple[str, str] | None, depth: int) -> None:
        for r in children.get(parent, []):
            lines.append(f"{'  ' * depth}{r.type}  {r.name}{_key_inputs(r)}")
            walk((r.type, r.name), depth + 1)

    walk(None, 0)
    return "\n".join(lines)


# inputs worth showing in the tree, when a resource has them
_KEYS = ("instanceType", "vmSize", "amiType", "capacityType", "scalingConfig", "count", "minCount", "maxCount", "availabilityZones", "chart", "version", "strategy")


def _key_inputs(r: Any) -> str:
    inp = r.masked_inputs()
    parts = [f"{k}={json.dumps(inp[k], separators=(',', ':'))}" for k in _KEYS if k in inp]
    if r.type.startswith("kubernetes:") and isinstance(inp.get("metadata"), dict):
        md = inp["metadata"]
        parts.append(f"{md.get('namespace', '')}/{md.get('name', '')}".lstrip("/"))
    return ("  [" + " ".join(parts) + "]") if parts else ""


def readiness_summary(resources: list[Any]) -> list[str]:
    """One line per cluster-level choice the deploy depends on, read from the registered inputs:
    API endpoint, cluster access, NetworkPolicy enforcement, Prometheus, node autoscaling."""

    def of(typ: str) -> list[Any]:
        return [r for r in resources if r.type == typ]

    def n(value: Any) -> str:  # the mocks hand numbers back as floats
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)

    lines: list[str] = []
    for eks in of("aws:eks/cluster:Cluster"):
        vpc, access = eks.inputs.get("vpcConfig", {}), eks.inputs.get("accessConfig", {})
        api = f"public to {', '.join(vpc.get('publicAccessCidrs', []))} + private" if vpc.get("endpointPublicAccess") else "private only"
        lines.append(f"API endpoint (EKS {eks.name}): {api}")
        entries = [r.inputs.get("principalArn") for r in of("aws:eks/accessEntry:AccessEntry")]
        creator = "creator entry" if access.get("bootstrapClusterCreatorAdminPermissions") else "no creator entry"
        lines.append(f"Cluster admins: {creator}; access entries for {', '.join(map(str, entries)) or 'nobody else'}")
    for addon in of("aws:eks/addon:Addon"):
        if addon.inputs.get("addonName") == "vpc-cni":
            lines.append(f"NetworkPolicy enforcement: vpc-cni configurationValues {addon.inputs.get('configurationValues')}")
    for rg in of("azure-native:resources:ResourceGroup"):
        lines.append(f"Resource group: created ({rg.inputs.get('resourceGroupName') or rg.name})")
    for role in of("azure-native:authorization:RoleAssignment"):
        role_id = role.inputs.get("roleDefinitionId", "").rsplit("/", 1)[-1]
        named = "Network Contributor" if role_id == "4d97b98b-1d4f-4787-a291-c67834d212e7" else role_id
        lines.append(f"Cluster identity role: {named} on {role.inputs.get('scope')}")
    for aks in of("azure-native:containerservice:ManagedCluster"):
        prof = aks.inputs.get("apiServerAccessProfile") or {}
        api = "private only" if prof.get("enablePrivateCluster") else f"public to {', '.join(prof.get('authorizedIPRanges') or ['(everyone)'])}"
        lines.append(f"API endpoint (AKS {aks.name}): {api}")
        net = aks.inputs.get("networkProfile", {})
        lines.append(f"NetworkPolicy enforcement: networkPolicy {net.get('networkPolicy', 'none')} (dataplane {net.get('networkDataplane', 'azure')})")
    if not of("aws:eks/cluster:Cluster") and not of("azure-native:containerservice:ManagedCluster"):
        lines.append("API endpoint, admins, NetworkPolicy engine: an existing cluster's own (not managed here)")
    releases = {r.inputs.get("name"): r for r in of("kubernetes:helm.sh/v3:Release")}
    addresses = sorted({t["metadata"]["serverAddress"] for r in of("kubernetes:keda.sh/v1alpha1:ScaledObject")
                        for t in r.inputs.get("spec", {}).get("triggers", []) if t.get("type") == "prometheus"})
    source = "kube-prometheus-stack installed" if "kube-prometheus-stack" in releases else "existing Prometheus"
    lines.append(f"Prometheus: {source}; KEDA queries {', '.join(addresses) or '(no ScaledObject)'}")
    agent_pools = of("azure-native:containerservice:AgentPool")
    if "cluster-autoscaler" in releases:
        scaler = "Cluster Autoscaler release"
    elif any(r.inputs.get("enableAutoScaling") for r in agent_pools):
        scaler = "AKS cluster autoscaler on the GPU pools"
    else:
        scaler = "none installed by gpuforge"
    pools = [f"{r.name} {n(r.inputs['scalingConfig']['minSize'])}..{n(r.inputs['scalingConfig']['maxSize'])}"
             for r in of("aws:eks/nodeGroup:NodeGroup") if not r.name.endswith("-system")]
    pools += [f"{r.name} {n(r.inputs.get('minCount', r.inputs.get('count')))}..{n(r.inputs.get('maxCount', r.inputs.get('count')))}"
              for r in agent_pools]
    keda = [f"{r.inputs['metadata']['name']} {n(r.inputs['spec'].get('minReplicaCount'))}..{n(r.inputs['spec'].get('maxReplicaCount'))}"
            for r in of("kubernetes:keda.sh/v1alpha1:ScaledObject")]
    lines.append(f"Node autoscaling: {scaler}; GPU pools (nodes) {', '.join(pools)}; KEDA replicas {', '.join(keda)}")
    return lines


def run_preview(stack: str, out: str | None, stacks_dir: str = "stacks", crds_dir: str | None = None, comment: str | None = None) -> int:
    """The preview command; returns the process exit code.

    `comment`: also write the pull-request comment for this stack there (the sizing review and
    the offline preview's result; for an infeasible plan, why and what would fit).
    """
    from gpuforge.k8s.validation import (
        KUBERNETES_VERSION,
        NOT_MANIFESTS,
        default_crd_dir,
        unwrap,
        validate_manifest,
    )
    from gpuforge.program import plan_stack
    from gpuforge.progress import note, step
    from gpuforge.report import chart_svg, infeasible_markdown, plan_json, render_plans
    from gpuforge.spec_checks import provider_config

    out_dir = Path(out) if out else None
    try:
        path = stack_file(stack, stacks_dir)
        config, secrets = read_stack_config(path)
        if CONFIG_KEY not in config:
            print(f"{path}: no `{CONFIG_KEY}` in its config", file=sys.stderr)
            return 1
        with step(f"Planning {path}"):
            _, results = plan_stack(load_json(config[CONFIG_KEY], CONFIG_KEY), providers=provider_config(config))
    except SpecError as exc:  # NoFeasiblePlan too
        print(str(exc), file=sys.stderr)
        # the review still gets a plan.md: why nothing fits and what would
        failed = infeasible_markdown(stack, exc)
        if out_dir:
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / "plan.md").write_text(failed)
        if comment:
            _write(comment, failed + "\n**Result: failed** (no offline preview: the plan comes first).\n")
        return 1
    print(render_plans(results, "table"))
    with step("Running the Pulumi program under mocks"):
        recorder, errors = run_program(config, secrets, stack)
    print(f"\nResources the program registers ({len(recorder.resources)}):\n")
    print(_tree(recorder.resources))
    print("\nCluster readiness (what `pulumi up` relies on):\n")
    print("\n".join(f"  {line}" for line in readiness_summary(recorder.resources)))

    if out_dir:
        (out_dir / "manifests").mkdir(parents=True, exist_ok=True)
    # the CRDs shipped with the package unless told otherwise
    crds = Path(crds_dir) if crds_dir else default_crd_dir()
    if not crds.is_dir():
        errors.append(f"no CRD directory at {crds}: pass --crds-dir or set GPUFORGE_CRDS_DIR to validate custom resources")
    note("-> Validating Kubernetes objects against the Kubernetes schemas and the CRDs ...")
    invalid = 0
    count = 0
    for r in recorder.resources:
        if not r.type.startswith("kubernetes:") or r.type in NOT_MANIFESTS:
            continue
        obj = unwrap(r.masked_inputs())
        if "kind" not in obj:
            continue
        count += 1
        problems = validate_manifest(r.inputs, crd_dir=crds) if crds.is_dir() else []
        if problems:
            invalid += 1
            errors += [f"{obj['kind']}/{r.name}: {p}" for p in problems]
        if out_dir:
            fname = f"{obj['kind'].lower()}-{r.name}.yaml"
            (out_dir / "manifests" / fname).write_text(yaml.safe_dump(obj, sort_keys=False))
    if out_dir:
        plans = [plan_json(res) for res in results]
        (out_dir / "plan.json").write_text(dumps(plans[0] if len(plans) == 1 else {"deployments": plans}, indent=2))
        resources = [{"type": r.type, "name": r.name, "parent": r.parent, "inputs": r.masked_inputs()} for r in recorder.resources]
        (out_dir / "resources.json").write_text(dumps(resources, indent=1, default=str))
        (out_dir / "plan.md").write_text(render_plans(results, "markdown"))
        for res in results:
            svg = chart_svg(res)
            if svg:
                (out_dir / f"plan-{res.spec.name}.svg").write_text(svg)
    print(f"\n{count} Kubernetes objects, {invalid} invalid" + (f"; written to {out_dir}" if out_dir else ""))
    if comment:
        result = (
            f"\n**Offline preview** (`gpuforge preview --stack {stack}`): {len(recorder.resources)} resources registered, "
            f"{count} Kubernetes objects validated against the Kubernetes {KUBERNETES_VERSION} schemas and the CRDs, {invalid} invalid.\n"
        )
        if errors:
            result += "\n**Result: failed**\n\n```\n" + "\n".join(errors[:50]) + "\n```\n"
        _write(comment, render_plans(results, "markdown") + result)
    if errors:
        print("\n".join(["", "Errors:"] + [f"  {e}" for e in errors]), file=sys.stderr)
        return 1
    if out_dir:
        names = ", ".join(str(out_dir / f"plan-{r.spec.name}.svg") for r in results)
        note(
            f"\nLook at: {out_dir / 'plan.md'} (the sizing review), {names} (cost vs latency), "
            f"{out_dir / 'manifests'}/ (every Kubernetes object), {out_dir / 'resources.json'}.\n"
            f"Next: gpuforge init my-stack --from {stack}, then see README.md, 'Deploying a stack'."
        )
    return 0


def _write(path: str, text: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)

"""Stack files: `gpuforge init` (a new stack from an example) and the JSON Schemas editors use.

`init_stack()` copies an example's spec into `stacks/Pulumi.<stack>.yaml` without its
secrets and without its `encryptionsalt`: a salt belongs to one stack and one passphrase
(Pulumi's passphrase secrets manager reuses a salt it finds in the file, so a copied salt
makes `pulumi config set --secret` fail with "incorrect passphrase" under any other
passphrase). `pulumi stack init` then writes the new stack's own salt into the same file and
keeps the config.

`spec_schema()` is what `gpuforge schema` prints: every accepted form of the
`gpuforge:deployment` value (one deployment, or `{cluster, target, deployments: [...]}`).
`stack_file_schema()` wraps it in the shape of a whole `Pulumi.<stack>.yaml`; the example
stacks point editors at the committed copy with a yaml-language-server modeline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gpuforge.errors import Problem, SpecError
from gpuforge.spec import CONFIG_KEY

# Where the committed stack-file schema lives, relative to the repository root; a stack in
# stacks/ points at it with this modeline (yaml-language-server resolves it from the file).
SCHEMA_FILE = "schemas/gpuforge-stack.schema.json"
MODELINE = f"# yaml-language-server: $schema=../{SCHEMA_FILE}"
# Keys of a stack file that belong to one stack's secrets provider, never to be copied.
SECRETS_PROVIDER_KEYS = ("encryptionsalt", "secretsprovider", "encryptedkey")


def spec_schema() -> dict[str, Any]:
    """JSON Schema of `gpuforge:deployment`: one deployment, or several sharing a cluster."""
    from pydantic import TypeAdapter

    from gpuforge.spec import DeploymentSpec, StackSpec

    schema = TypeAdapter(DeploymentSpec | StackSpec).json_schema()
    # the two forms exclude each other (unknown keys are errors in both): oneOf is exact
    schema["oneOf"] = schema.pop("anyOf")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "gpuforge deployment spec (stack config key gpuforge:deployment)",
        "description": "One deployment, or {cluster, target, deployments: [...]} for several models sharing a "
        "cluster (the stack-level cluster and target are defaults for each deployment). See docs/spec.md.",
        **schema,
    }


def stack_file_schema() -> dict[str, Any]:
    """JSON Schema of a whole `Pulumi.<stack>.yaml` whose config holds a gpuforge spec."""
    spec = spec_schema()
    defs = spec.pop("$defs", {})
    spec.pop("$schema", None)
    defs["GpuforgeDeployment"] = spec
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Pulumi stack file for gpuforge (stacks/Pulumi.<stack>.yaml)",
        "type": "object",
        "properties": {
            "encryptionsalt": {"type": "string", "description": "Written by `pulumi stack init` (passphrase secrets provider)."},
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
            "environment": {"description": "Pulumi ESC environments to import."},
            "config": {
                "type": "object",
                "properties": {CONFIG_KEY: {"$ref": "#/$defs/GpuforgeDeployment"}},
                "required": [CONFIG_KEY],
                "description": "Stack config. Other keys (aws:region, gpuforge:hfToken with {secure: ...}) are free-form.",
            },
        },
        "required": ["config"],
        "$defs": defs,
    }


def schema_json(stack_file: bool = False) -> str:
    """The text `gpuforge schema` prints (and schemas/gpuforge-stack.schema.json holds)."""
    return json.dumps(stack_file_schema() if stack_file else spec_schema(), indent=2) + "\n"


@dataclass
class InitResult:
    path: Path
    example: Path
    secrets: list[str] = field(default_factory=list)  # config keys of the example's secrets, not copied
    kept_salt: bool = False  # the target already had a secrets provider (from `pulumi stack init`)


def _example_path(example: str, stacks_dir: Path) -> Path:
    p = Path(example)
    if p.suffix in (".yaml", ".yml") and p.is_file():
        return p
    candidate = stacks_dir / f"Pulumi.{example}.yaml"
    if candidate.is_file():
        return candidate
    known = sorted(q.name[len("Pulumi.") : -len(".yaml")] for q in stacks_dir.glob("Pulumi.*.yaml"))
    raise SpecError(f"example {example!r}", [Problem("--from", f"no {candidate}", f"use one of: {', '.join(known) or '(none)'}, or a path to a stack file")])


def init_stack(stack: str, example: str, stacks_dir: str | Path = "stacks", force: bool = False) -> InitResult:
    """Write `stacks_dir/Pulumi.<stack>.yaml` with the example's config minus its secrets and salt.

    An existing target keeps its own secrets provider keys (a salt `pulumi stack init` wrote);
    one that already holds config is only replaced with `force`.
    """
    from gpuforge.spec import load_stack

    stacks = Path(stacks_dir)
    src = _example_path(example, stacks)
    target = stacks / f"Pulumi.{stack}.yaml"
    problems = []
    if not stack or any(c in stack for c in "/\\ ") or stack.startswith("."):
        problems.append(Problem("STACK", f"{stack!r} is not a stack name", "use letters, digits, '-', '_' or '.'"))
    if src.resolve() == target.resolve():
        problems.append(Problem("STACK", f"{target} is the example itself", "choose a new stack name"))
    existing: dict[str, Any] = {}
    if target.exists() and not problems:
        existing = yaml.safe_load(target.read_text()) or {}
        if existing.get("config") and not force:
            problems.append(Problem("STACK", f"{target} already has config", "choose another name, or pass --force to replace its config (its encryption salt is kept)"))
    if problems:
        raise SpecError(f"gpuforge init {stack}", problems)

    data = yaml.safe_load(src.read_text()) or {}
    config = dict(data.get("config") or {})
    secrets = sorted(k for k, v in config.items() if isinstance(v, dict) and "secure" in v)
    for k in secrets:
        del config[k]
    if CONFIG_KEY not in config:
        raise SpecError(f"example {src}", [Problem(f"config.{CONFIG_KEY}", "the example has no gpuforge spec", "start from one of the files in stacks/")])
    load_stack(config[CONFIG_KEY])  # the spec is valid before anything is written

    out: dict[str, Any] = {k: existing[k] for k in SECRETS_PROVIDER_KEYS if k in existing}
    out["config"] = config
    header = [
        MODELINE,
        f"# Stack {stack}, created by `gpuforge init {stack} --from {src.stem.removeprefix('Pulumi.')}`. Edit the spec below;",
        "# `gpuforge plan` shows the decision. The example's secrets and encryption salt were not copied:",
        "# `pulumi stack init` adds this stack's own salt, then set each secret with your passphrase:",
    ]
    header += [f"#   pulumi config set --secret {k} <value>" for k in secrets] or ["#   (the example has no secrets)"]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(header) + "\n" + yaml.safe_dump(out, sort_keys=False, default_flow_style=False, width=100))
    return InitResult(target, src, secrets, kept_salt=any(k in existing for k in SECRETS_PROVIDER_KEYS))


def next_steps(result: InitResult, stack: str) -> str:
    """What to run after `gpuforge init`, in order."""
    lines = [f"Wrote {result.path}: the spec of {result.example.name}, without its secrets or encryption salt.", "", "Next:"]
    if not result.kept_salt:
        lines.append(f"  pulumi stack init {stack}                      # adds this stack's own encryption salt to {result.path.name}")
    else:
        lines.append(f"  pulumi stack select {stack}")
    for k in result.secrets:
        lines.append(f"  pulumi config set --secret {k} <value>   # not copied from the example")
    lines += [
        f"  gpuforge plan {result.path}            # review the sizing decision",
        f"  gpuforge preview --stack {stack} --stacks-dir {result.path.parent}   # offline, no credentials",
        "  pulumi preview --diff && pulumi up",
    ]
    return "\n".join(lines)

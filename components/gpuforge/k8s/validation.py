"""Validate Kubernetes manifests offline, strictly (unknown fields are errors).

Used by the test suite and by `gpuforge preview`; needs the `test` extras
(`kubernetes-validate`, `jsonschema`), imported on first use.

- Built-in kinds: the Kubernetes OpenAPI schemas of a pinned version, as packaged by
  `kubernetes-validate` (its `-strict` flavour sets additionalProperties: false everywhere).
- Custom resources: the served version's `openAPIV3Schema` from the CRDs in `crd_dir`.
  CRD schemas never set additionalProperties: false (the API server prunes unknown fields
  silently instead), so it is added to every object schema that lists its properties, unless
  `x-kubernetes-preserve-unknown-fields` keeps unknown fields on purpose. The top-level
  `metadata` (an empty `type: object` in every CRD) is checked against the strict ObjectMeta.
- Recorded Pulumi inputs are normalised first: secret-wrapped values are unwrapped, and
  integral floats (the protobuf Struct that carries inputs has only doubles) become ints.

`validate_manifest(obj, crd_dir=...)` returns a list of error strings (it accepts recorded
inputs as they are); `validate_recorded(resources, crd_dir=...)` checks every `kubernetes:*`
resource among recorded Pulumi registrations. `crd_dir` defaults to $GPUFORGE_CRDS_DIR,
else the CRDs shipped in `gpuforge/k8s/crds/` (package data).
"""

from __future__ import annotations

import copy
import functools
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime import rpc

# The newest Kubernetes minor any gpuforge cluster runs (gpuforge.azure.versions pins AKS 1.36).
KUBERNETES_VERSION = "1.36"

# How the Pulumi SDK marks a secret value in serialised inputs: {SECRET_SIG_KEY: SECRET_SIG_VALUE,
# "value": ...}.
SECRET_SIG_KEY = rpc._special_sig_key
SECRET_SIG_VALUE = rpc._special_secret_sig

# Resources whose inputs are not a manifest.
NOT_MANIFESTS = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart", "pulumi:providers:kubernetes")

# Every custom resource gpuforge creates is validated against a vendored upstream CRD in the CRD
# directory (../shared/crds, see its SOURCES.md): NicClusterPolicy from Mellanox/network-operator
# v26.4.1, NodeFeatureRule from node-feature-discovery v0.19.0, DeviceConfig from ROCm/gpu-operator.


# --- normalising recorded inputs ---------------------------------------------------------------
def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG_KEY) == SECRET_SIG_VALUE


def unwrap(value: Any) -> Any:
    """Recorded inputs as the manifest the provider would send (secrets unwrapped, ints restored)."""
    if is_secret(value):
        return unwrap(value.get("value"))
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def strings_outside_secrets(value: Any) -> Iterable[str]:
    """Every string in `value` that is not inside a secret-wrapped subtree (keys included)."""
    if is_secret(value):
        return
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from strings_outside_secrets(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings_outside_secrets(v)
    elif isinstance(value, str):
        yield value


# --- CRD schemas ---------------------------------------------------------------------------------
def _python_pattern(pattern: str) -> str:
    """Go RE2 allows an inline flag group anywhere (`^(?i)(abort|warn)?$`); Python wants it first."""
    try:
        re.compile(pattern)
        return pattern
    except re.error:
        flags = "".join(re.findall(r"\(\?([aiLmsux]+)\)", pattern))
        fixed = "(?" + flags + ")" + re.sub(r"\(\?[aiLmsux]+\)", "", pattern)
        re.compile(fixed)
        return fixed


def strictify(schema: Any) -> Any:
    """A copy of a CRD schema that rejects unknown fields and compiles in Python."""
    if isinstance(schema, list):
        return [strictify(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strictify(v) for k, v in schema.items()}
    if isinstance(out.get("pattern"), str):
        out["pattern"] = _python_pattern(out["pattern"])
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
        and out.get("type", "object") == "object"
    ):
        out["additionalProperties"] = False
    return out


# The CRDs shipped as package data (copies of shared/crds; see crds/SOURCES.md), so validation
# works from an installed package without the repository's sibling folders.
PACKAGED_CRD_DIR = Path(__file__).resolve().parent / "crds"


def default_crd_dir() -> Path:
    """$GPUFORGE_CRDS_DIR when set, else the CRDs shipped with the package."""
    env = os.environ.get("GPUFORGE_CRDS_DIR")
    return Path(env) if env else PACKAGED_CRD_DIR


def crd_schemas(crd_dir: Path | str | None = None) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(group, version, kind) -> strict openAPIV3Schema, for every served CRD version in crd_dir."""
    return _crd_schemas(Path(crd_dir) if crd_dir is not None else default_crd_dir())


@functools.lru_cache(maxsize=8)
def _crd_schemas(crd_dir: Path) -> dict[tuple[str, str, str], dict[str, Any]]:
    if not crd_dir.is_dir():
        raise ValueError(f"CRD directory {crd_dir} does not exist")
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for path in sorted(crd_dir.glob("*/*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                if not version.get("served", True):
                    continue
                schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
                schema.setdefault("properties", {})["metadata"] = {"type": "object"}
                out[(spec["group"], version["name"], spec["names"]["kind"])] = strictify(schema)
    return out


@functools.cache
def _kv_validator(filename: str, version: str = KUBERNETES_VERSION) -> Any:
    """A strict validator for one kubernetes-validate schema file (e.g. objectmeta-meta-v1.json)."""
    import jsonschema
    import kubernetes_validate.utils as kv_utils
    import referencing

    schema_dir = f"v{_kv_full_version(version)}-local-strict"
    schema = kv_utils.schema_contents(f"kubernetes-json-schema/{schema_dir}/{filename}", version)
    defs = kv_utils.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", version)
    registry = referencing.Registry()
    registry = referencing.Resource.from_contents(schema) @ registry
    registry = referencing.Resource.from_contents(defs) @ registry
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def _kv_full_version(version: str) -> str:
    import kubernetes_validate.utils as kv_utils

    return [v for v in kv_utils.all_versions() if kv_utils.major_minor(v) <= version][-1]


def _path(error: Any, base: str = "") -> str:
    return ".".join([base] * bool(base) + [str(p) for p in error.absolute_path]) or "<root>"


def _schema_errors(validator: Any, obj: Any, where: str, base: str = "") -> list[str]:
    return [
        f"{where}{_path(e, base)}: {e.message}"
        for e in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
    ]


# --- entry points --------------------------------------------------------------------------------
def validate_manifest(
    obj: dict[str, Any], version: str = KUBERNETES_VERSION, crd_dir: Path | str | None = None
) -> list[str]:
    """Every schema error in one manifest or recorded input map (empty when it is valid)."""
    import jsonschema
    import kubernetes_validate

    obj = unwrap(obj)
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    group, _, ver = api_version.rpartition("/")
    where = f"{kind} {obj.get('metadata', {}).get('name', '?')}: "
    crd = crd_schemas(crd_dir).get((group, ver, kind))
    if crd is not None:
        errors = _schema_errors(jsonschema.Draft4Validator(crd), obj, where)
        meta = _kv_validator("objectmeta-meta-v1.json", version)
        errors += _schema_errors(meta, obj.get("metadata", {}), where, "metadata")
        return errors
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{where}no schema for {api_version} {kind}: neither a Kubernetes {version} kind nor a known CRD"]
    except kubernetes_validate.ValidationError as e:
        return [f"{where}{_path(e)}: {e.message}"]
    return []


def validate_recorded(
    resources: Iterable[Any], version: str = KUBERNETES_VERSION, crd_dir: Path | str | None = None
) -> list[str]:
    """Validate every `kubernetes:*` manifest among recorded Pulumi resources."""
    errors: list[str] = []
    for r in resources:
        if not r.type.startswith("kubernetes:") or r.type in NOT_MANIFESTS:
            continue
        errors += [f"[{r.name}] {e}" for e in validate_manifest(r.inputs, version, crd_dir)]
    return errors


def manifests(resources: Iterable[Any]) -> list[dict[str, Any]]:
    """The normalised manifests of the recorded `kubernetes:*` resources."""
    return [unwrap(r.inputs) for r in resources if r.type.startswith("kubernetes:") and r.type not in NOT_MANIFESTS]


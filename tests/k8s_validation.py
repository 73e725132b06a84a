"""Manifest validation for tests: `gpuforge.k8s.validation` bound to ../shared/crds.

- Built-in kinds: the Kubernetes OpenAPI schemas of a pinned version (kubernetes-validate,
  strict). Custom resources: the CRDs in ../shared/crds, made to reject unknown fields (see
  gpuforge/k8s/validation.py for how, and for the PrometheusRule RE2 pattern rewrite).
- `validate_manifest(obj)` / `validate_recorded(recorder.resources)` return error strings.
- `resources_of(component)` lists a component's resources for `recorder.wait`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gpuforge.k8s import validation as _v
from gpuforge.k8s.validation import (  # noqa: F401  (re-exported for tests)
    KUBERNETES_VERSION,
    NOT_MANIFESTS,
    SECRET_SIG_KEY,
    SECRET_SIG_VALUE,
    is_secret,
    manifests,
    strictify,
    strings_outside_secrets,
    unwrap,
)

SHARED = Path(__file__).resolve().parents[2] / "shared"
# ../shared/crds when it is beside the checkout, else the identical copy shipped in the package
# (tests/test_packaging.py checks both are the same files)
CRD_DIR = SHARED / "crds" if (SHARED / "crds").is_dir() else _v.PACKAGED_CRD_DIR


def crd_schemas() -> dict[tuple[str, str, str], dict[str, Any]]:
    return _v.crd_schemas(CRD_DIR)


def validate_manifest(obj: dict[str, Any], version: str = KUBERNETES_VERSION) -> list[str]:
    return _v.validate_manifest(obj, version, CRD_DIR)


def validate_recorded(resources: Iterable[Any], version: str = KUBERNETES_VERSION) -> list[str]:
    return _v.validate_recorded(resources, version, CRD_DIR)


def resources_of(*components: Any) -> list[Any]:
    """Every Pulumi resource reachable from the components' attributes (for `recorder.wait`).

    `Recorder.wait` waits on the URNs it is given; children registered after a `depends_on`
    (custom resources after a Helm release) are only waited for when passed explicitly.
    """
    import pulumi

    seen: dict[int, Any] = {}

    def visit(value: Any) -> None:
        if isinstance(value, pulumi.Resource):
            if id(value) in seen:
                return
            seen[id(value)] = value
            for attr in vars(value).values():
                visit(attr)
        elif isinstance(value, dict):
            for v in value.values():
                visit(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                visit(v)

    for c in components:
        visit(c)
    return list(seen.values())


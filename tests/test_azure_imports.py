"""Each stack loads only its own cloud SDK: an AWS-only program never imports
pulumi-azure-native, an Azure-only one never imports pulumi-aws."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
AZURE_SRC = REPO / "components" / "gpuforge" / "azure"

# Imports `package` and every module under it, then fails listing any loaded `forbidden` module.
PROBE = """
import importlib, pkgutil, sys
pkg = importlib.import_module({package!r})
for info in pkgutil.walk_packages(getattr(pkg, "__path__", []), {package!r} + "."):
    importlib.import_module(info.name)
bad = sorted(m for m in sys.modules if m == {forbidden!r} or m.startswith({forbidden!r} + "."))
assert not bad, bad[:10]
"""


def probe(package: str, forbidden: str) -> subprocess.CompletedProcess:
    code = PROBE.format(package=package, forbidden=forbidden)
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("package, forbidden", [
    ("gpuforge.aws", "pulumi_azure_native"),    # an AWS-only program
    ("gpuforge.azure", "pulumi_aws"),           # an Azure-only program
    ("gpuforge", "pulumi_aws"),                 # the bare package pulls in no cloud ...
    ("gpuforge", "pulumi_azure_native"),        # ... in either direction
])
def test_cloud_packages_do_not_load_the_other_cloud(package, forbidden):
    if package == "gpuforge":
        # only the package itself: its __init__ must not import the cloud subpackages
        code = f"import gpuforge, sys; bad = [m for m in sys.modules if m.startswith(({forbidden!r}, 'gpuforge.aws', 'gpuforge.azure'))]; assert not bad, bad"
        result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    else:
        result = probe(package, forbidden)
    assert result.returncode == 0, result.stderr[-2000:]


def test_azure_imports_only_submodules_of_pulumi_azure_native():
    for path in sorted(AZURE_SRC.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name != "pulumi_azure_native", f"{path.name}: import the submodule, not the package"
                    assert not alias.name.startswith("pulumi_aws"), f"{path.name} imports {alias.name}"
            elif isinstance(node, ast.ImportFrom) and node.module:
                assert node.module != "pulumi_azure_native", f"{path.name}: 'from pulumi_azure_native import' loads the package"
                assert not node.module.startswith("pulumi_aws"), f"{path.name} imports {node.module}"

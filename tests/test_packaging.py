"""The preview ships what it validates against: the CRD schemas are package data (with their
sources), so `gpuforge preview` runs from an installed wheel with no repository beside it."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGED = REPO / "components" / "gpuforge" / "k8s" / "crds"
SHARED_CRDS = REPO.parent / "shared" / "crds"


def _sources_table() -> dict[str, str]:
    """file -> sha256, from the SOURCES.md table shipped beside the CRDs."""
    rows = {}
    for line in (PACKAGED / "SOURCES.md").read_text().splitlines():
        cells = [c.strip().strip("`") for c in line.split("|")]
        if len(cells) > 9 and cells[1].endswith(".yaml"):
            rows[cells[1]] = cells[8]
    return rows


def test_every_packaged_crd_is_listed_with_its_sha256():
    table = _sources_table()
    files = sorted(str(p.relative_to(PACKAGED)) for p in PACKAGED.glob("*/*.yaml"))
    assert files and sorted(table) == files
    for f in files:
        assert hashlib.sha256((PACKAGED / f).read_bytes()).hexdigest() == table[f], f


def test_packaged_crds_are_the_team_set():
    if not SHARED_CRDS.is_dir():
        pytest.skip("no ../shared/crds beside this checkout to compare with")
    for f in SHARED_CRDS.glob("*/*.yaml"):
        rel = f.relative_to(SHARED_CRDS)
        assert (PACKAGED / rel).read_bytes() == f.read_bytes(), f"{rel} differs from ../shared/crds: copy it and update SOURCES.md"


def test_validation_defaults_to_the_packaged_crds(monkeypatch):
    from gpuforge.k8s import validation

    monkeypatch.delenv("GPUFORGE_CRDS_DIR", raising=False)
    assert validation.default_crd_dir() == PACKAGED
    kinds = {k for _, _, k in validation.crd_schemas()}
    assert {"ServiceMonitor", "PrometheusRule", "ScaledObject", "LeaderWorkerSet", "NicClusterPolicy"} <= kinds


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """gpuforge built as a wheel and installed (no dependencies) into a folder of its own."""
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"), str(REPO)], check=True)
    wheel = next((tmp / "dist").glob("gpuforge-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(tmp / "site"), str(wheel)], check=True)
    return tmp / "site"


def _run_installed(site: Path, cwd: Path, *args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GPUFORGE_CRDS_DIR")}
    env.update({"PYTHONPATH": str(site), **(env_extra or {})})
    code = (
        "import sys, gpuforge, pathlib; "
        f"assert pathlib.Path(gpuforge.__file__).is_relative_to({str(site)!r}), gpuforge.__file__; "
        "from gpuforge.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_preview_runs_from_the_installed_wheel_without_the_repository(installed: Path, tmp_path: Path):
    # a folder with only a stack file: no components/, no ../shared, no repository
    work = tmp_path / "user" / "project"
    (work / "stacks").mkdir(parents=True)
    shutil.copy(REPO / "stacks" / "Pulumi.aws-chat-small.yaml", work / "stacks")
    assert not (work.parent.parent / "shared").exists()
    assert (installed / "gpuforge" / "k8s" / "crds" / "SOURCES.md").is_file()
    done = _run_installed(installed, work, "preview", "--stack", "aws-chat-small", "--out", "out")
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"(\d+) Kubernetes objects, 0 invalid", done.stdout)
    manifests = {p.name.split("-")[0] for p in (work / "out" / "manifests").glob("*.yaml")}
    assert {"servicemonitor", "prometheusrule", "scaledobject"} & manifests  # custom resources were validated

    # the negative control: with an empty CRD folder the same preview fails on those objects,
    # so the pass above really validated against the packaged schemas
    (tmp_path / "empty").mkdir()
    failed = _run_installed(installed, work, "preview", "--stack", "aws-chat-small", env_extra={"GPUFORGE_CRDS_DIR": str(tmp_path / "empty")})
    assert failed.returncode == 1 and "neither a Kubernetes" in failed.stderr

"""Integrity of the catalog data files (gpus, instances, regions) and their loaders.

The raw JSON is read directly as well as through `gpuforge.catalog`, because the loaders key
rows by id or name and would silently keep only the last of two duplicates.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import gpuforge.catalog as catalog
import pytest

DATA = Path(catalog.__file__).parent / "data"


def _raw(file: str, key: str) -> list[dict]:
    return json.loads((DATA / file).read_text())[key]


GPUS = _raw("gpus.json", "gpus")
INSTANCES = _raw("instances.json", "instances")
REGIONS = _raw("regions.json", "regions")
GPU_IDS = {g["id"] for g in GPUS}
REGION_KEYS = {(r["cloud"], r["name"]) for r in REGIONS}


def _inst_id(row: dict) -> str:
    return f"{row['cloud']}:{row['name']}"


# GPU ids that sizing, node pools and the rest of the catalog refer to.
REQUIRED_GPUS = [
    "t4", "a10", "a10g", "l4", "l40s", "a100-40gb", "a100-80gb",
    "h100-80gb", "h100-nvl-94gb", "h200", "b200", "mi300x",
]


@pytest.mark.parametrize("gpu_id", REQUIRED_GPUS)
def test_required_gpu_exists(gpu_id):
    assert gpu_id in GPU_IDS


@pytest.mark.parametrize(
    "file,key,row_key",
    [
        ("gpus.json", "gpus", lambda r: r["id"]),
        ("instances.json", "instances", lambda r: (r["cloud"], r["name"])),
        ("regions.json", "regions", lambda r: (r["cloud"], r["name"])),
    ],
    ids=["gpus", "instances", "regions"],
)
def test_no_duplicate_rows(file, key, row_key):
    counts = Counter(row_key(r) for r in _raw(file, key))
    assert [k for k, n in counts.items() if n > 1] == []


@pytest.mark.parametrize("row", INSTANCES, ids=_inst_id)
def test_instance_gpu_is_in_gpu_catalog(row):
    assert row["gpu"] in GPU_IDS


@pytest.mark.parametrize("row", INSTANCES, ids=_inst_id)
def test_prices_have_region_date_and_source(row):
    for p in row["prices"]:
        assert p["usd_per_hour"] > 0
        assert (row["cloud"], p["region"]) in REGION_KEYS, f"price region {p['region']} not in regions.json"
        # ISO 8601; Python 3.11 parses the trailing Z.
        assert datetime.fromisoformat(p["as_of"]).year >= 2026
        assert p["source"].strip()
    regions = [p["region"] for p in row["prices"]]
    assert len(regions) == len(set(regions)), "one price per region"


@pytest.mark.parametrize("row", INSTANCES, ids=_inst_id)
def test_every_instance_keeps_its_sources(row):
    assert row["sources"] and all(s.strip() for s in row["sources"])


@pytest.mark.parametrize("row", GPUS, ids=lambda g: g["id"])
def test_every_gpu_keeps_its_sources(row):
    assert len(row["sources"]) >= 2


@pytest.mark.parametrize(
    "gpu_id,nominal",
    [
        ("t4", 16),  # 16 GB GDDR6; torch sees 14.56 GiB
        ("a10", 24),  # 24 GB GDDR6
        ("a10g", 24),  # 24 GB nominal; EC2 API says 22888 MiB
        ("l4", 24),
        ("l40s", 48),
        ("a100-40gb", 40),
        ("a100-80gb", 80),
        ("a100-80gb-pcie", 80),
        ("h100-80gb", 80),
        ("h100-nvl-94gb", 94),
        ("h200", 141),
        ("b200", 180),  # EC2 API 183359 MiB; torch 178.35 GiB
        ("mi300x", 192),
    ],
)
def test_usable_memory_is_below_nominal(gpu_id, nominal):
    usable = catalog.get_gpu(gpu_id).memory_gib
    # Usable GiB sits just under the marketed figure; far below it means a unit slip (GB vs GiB, per-VM totals).
    assert 0.85 * nominal < usable < nominal


def test_h100_reads_what_vllm_logs():
    assert catalog.get_gpu("h100-80gb").memory_gib == 79.19


def test_h100_matches_the_reference_vllm_logs(shared_dir):
    rows = [json.loads(line) for line in (shared_dir / "reference/vllm-startup-logs/cases.jsonl").read_text().splitlines()]
    logged = {
        r["logged"]["total_gpu_memory_gib"]
        for r in rows
        if (r.get("gpu_type") or "").startswith("NVIDIA H100 80GB") and r["logged"].get("total_gpu_memory_gib")
    }
    assert logged == {catalog.get_gpu("h100-80gb").memory_gib}


@pytest.mark.parametrize("gpu_id", ["t4", "a10", "a10g", "a100-40gb", "a100-80gb", "a100-80gb-pcie"])
def test_no_fp8_without_fp8_tensor_cores(gpu_id):
    assert catalog.get_gpu(gpu_id).fp8 is False


@pytest.mark.parametrize("gpu_id", ["l4", "l40s", "h100-80gb", "h100-nvl-94gb", "h200", "b200", "mi300x"])
def test_fp8_where_tensor_cores_have_it(gpu_id):
    gpu = catalog.get_gpu(gpu_id)
    assert gpu.fp8_tflops >= 2 * gpu.bf16_tflops * 0.99


@pytest.mark.parametrize("row", GPUS, ids=lambda g: g["id"])
def test_gpu_fields_are_in_range(row):
    assert row["architecture"] in {"turing", "ampere", "ada", "hopper", "blackwell", "cdna3"}
    assert row["vendor"] == ("amd" if row["architecture"] == "cdna3" else "nvidia")
    assert row["pcie_gbs"] in (32.0, 64.0, 128.0)  # Gen3/4/5 x16, bidirectional
    # MIG exists on A100 and Hopper/Blackwell data-center parts only.
    assert row["mig"] == (row["id"].startswith(("a100", "h100", "h200", "b200")))


@pytest.mark.parametrize("row", [r for r in INSTANCES if r["cloud"] == "aws" and r["efa"]], ids=_inst_id)
def test_aws_efa_instances_have_interfaces_and_cards(row):
    assert row["max_efa_interfaces"] >= 1
    assert row["network_cards"] >= 1
    assert row["max_efa_interfaces"] <= row["network_cards"]  # at most one EFA per network card


@pytest.mark.parametrize("row", [r for r in INSTANCES if r["cloud"] == "aws"], ids=_inst_id)
def test_aws_rows_carry_eks_ami_types(row):
    assert set(row["eks_ami_types"]) == {"AL2023_x86_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA"}
    assert "quota_family" not in row and "infiniband" not in row


@pytest.mark.parametrize("row", [r for r in INSTANCES if r["cloud"] == "azure"], ids=_inst_id)
def test_azure_rows_have_quota_family_and_driver_modes(row):
    assert row["quota_family"]
    # AKS installs no AMD driver: MI300X pools must use gpuProfile.driver None.
    assert row["azure_gpu_driver"] == (["None"] if row["gpu"] == "mi300x" else ["Install", "None"])
    assert not row.get("efa")


@pytest.mark.parametrize("row", INSTANCES, ids=_inst_id)
def test_fabric_agrees_with_gpu_count(row):
    if row["gpu_count"] == 1:
        assert row["gpu_fabric"] == "single"
    else:
        assert row["gpu_fabric"] != "single"
    if row["gpu_fabric"] in ("nvswitch", "xgmi"):
        assert row["gpu_count"] == 8


@pytest.mark.parametrize("row", REGIONS, ids=lambda r: f"{r['cloud']}:{r['name']}")
def test_region_offerings_use_its_own_zones_and_known_types(row):
    names = {i["name"] for i in INSTANCES if i["cloud"] == row["cloud"]}
    assert row["zones"] and len(set(row["zones"])) == len(row["zones"])
    for instance_type, zones in row["offerings"].items():
        assert instance_type in names
        assert zones and set(zones) <= set(row["zones"])


# Reference rows left out of the catalog on purpose, each with the reason.
SKIPPED_REFERENCE_ROWS = {
    "p6-b300.48xlarge": "B300 is not a catalog GPU",
    "p6e-gb200.36xlarge": "GB200 UltraServer, Arm64 host, not a catalog GPU",
    "Standard_ND128isr_NDR_GB200_v6": "GB200, Arm64 host, not a catalog GPU",
    "Standard_NV6ads_A10_v5": "1/6 of an A10 (vGPU partition)",
    "Standard_NV12ads_A10_v5": "1/3 of an A10 (vGPU partition)",
    "Standard_NV18ads_A10_v5": "1/2 of an A10 (vGPU partition)",
}


def test_every_usable_reference_row_is_converted(shared_dir):
    ref = json.loads((shared_dir / "reference/cloud-gpus/instances.json").read_text())["instances"]
    ref_names = {r["instance_type"] for r in ref}
    ours = {i["name"] for i in INSTANCES}
    assert ref_names - ours == set(SKIPPED_REFERENCE_ROWS)
    assert ours <= ref_names


def test_converted_rows_keep_reference_prices_and_shape(shared_dir):
    ref = {r["instance_type"]: r for r in json.loads((shared_dir / "reference/cloud-gpus/instances.json").read_text())["instances"]}
    columns = {
        "us-east-1": "on_demand_usd_per_hour_us_east_1",
        "eastus": "on_demand_usd_per_hour_eastus",
        "eastus2": "on_demand_usd_per_hour_eastus2",
    }
    for row in INSTANCES:
        r = ref[row["name"]]
        assert (row["vcpus"], row["gpu_count"]) == (r["vcpus"], r["gpu_count"]), row["name"]
        ours = {p["region"]: p["usd_per_hour"] for p in row["prices"]}
        theirs = {reg: r[col] for reg, col in columns.items() if r.get(col) is not None}
        assert ours == theirs, row["name"]


def test_p5e_is_listed_without_a_price():
    p5e = catalog.get_instance("p5e.48xlarge", "aws")
    assert p5e.gpu == "h200" and p5e.prices == () and p5e.price("us-east-1") is None


def test_loaders_round_trip():
    assert len(catalog.all_gpus()) == len(GPUS)
    assert len(catalog.all_instances()) == len(INSTANCES)
    assert len(catalog.all_instances("aws")) + len(catalog.all_instances("azure")) == len(INSTANCES)
    assert len(catalog.all_regions()) == len(REGIONS)
    for g in GPUS:
        assert catalog.get_gpu(g["id"]).memory_gib == g["memory_gib"]
    for row in INSTANCES:
        inst = catalog.get_instance(row["name"], row["cloud"])
        assert inst.cloud == row["cloud"]
        assert isinstance(inst.sources, tuple) and isinstance(inst.prices, tuple)
        assert catalog.get_gpu(inst.gpu).id == inst.gpu
        for p in row["prices"]:
            assert inst.price(p["region"]).usd_per_hour == p["usd_per_hour"]
    for row in REGIONS:
        region = catalog.get_region(row["cloud"], row["name"])
        assert region.zones == tuple(row["zones"])
        assert all(isinstance(z, tuple) for z in region.offerings.values())


def test_loader_errors_suggest_near_misses():
    with pytest.raises(KeyError, match="h100-80gb"):
        catalog.get_gpu("h100-80g")
    with pytest.raises(KeyError, match=r"p5\.48xlarge"):
        catalog.get_instance("p5.48xlarg", "aws")

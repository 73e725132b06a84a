"""Typed rows of the catalogs. Pure data; the JSON files under `data/` are their source."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Gpu:
    """One GPU model, as the serving stack sees it.

    `memory_gib` is usable device memory as the CUDA driver reports it to torch
    (`torch.cuda.mem_get_info()[1]` / 2**30): an H100 80GB shows 79.19, not 80.
    """

    id: str  # canonical: t4, a10, a10g, l4, l40s, a100-40gb, a100-80gb, h100-80gb, ...
    name: str
    vendor: Literal["nvidia", "amd"]
    architecture: str  # turing, ampere, ada, hopper, blackwell, cdna3
    memory_gib: float
    memory_bandwidth_gbs: float  # HBM/GDDR, GB/s (1e9)
    bf16_tflops: float  # dense tensor-core TFLOPS (fp16 where bf16 is absent)
    fp8_tflops: float | None  # dense; None where the GPU has no fp8 tensor cores
    int8_tops: float | None
    nvlink_gbs: float | None  # bidirectional per GPU; None = PCIe only
    pcie_gbs: float  # bidirectional per GPU, the fallback GPU-to-GPU path
    mig: bool
    compute_capability: tuple[int, int] | None = None  # CUDA (major, minor); None off CUDA (AMD)
    sources: tuple[str, ...] = ()
    notes: str | None = None

    @property
    def fp8(self) -> bool:
        return self.fp8_tflops is not None


@dataclass(frozen=True)
class Price:
    usd_per_hour: float
    region: str
    as_of: str  # ISO date-time of the price snapshot
    source: str


@dataclass(frozen=True)
class InstanceType:
    """A cloud GPU instance / VM size with the facts node pools and the planner need."""

    cloud: Literal["aws", "azure"]
    name: str  # "p5.48xlarge", "Standard_ND96isr_H100_v5"
    family: str
    gpu: str  # Gpu.id
    gpu_count: int
    gpu_fabric: Literal["nvswitch", "nvlink", "pcie", "single", "xgmi"]
    vcpus: int
    memory_gib: float
    local_nvme_gb: int | None
    network_gbps: float | None
    # AWS
    efa: bool = False
    max_efa_interfaces: int = 0
    network_cards: int = 1
    eks_ami_types: tuple[str, ...] = ()
    capacity_blocks: bool | None = None
    # Azure
    infiniband: str | None = None  # "NDR 400 Gb/s x8", None = no InfiniBand
    quota_family: str | None = None
    azure_gpu_driver: tuple[str, ...] = ()  # gpuProfile.driver values AKS accepts: Install, None
    # Both
    spot: bool = True
    prices: tuple[Price, ...] = ()
    sources: tuple[str, ...] = ()
    notes: str | None = None

    @property
    def node_fabric(self) -> Literal["efa", "infiniband", "none"]:
        if self.efa:
            return "efa"
        if self.infiniband:
            return "infiniband"
        return "none"

    def price(self, region: str) -> Price | None:
        """The price in `region`, or None when the catalog has none for it."""
        for p in self.prices:
            if p.region == region:
                return p
        return None


@dataclass(frozen=True)
class Region:
    cloud: Literal["aws", "azure"]
    name: str
    zones: tuple[str, ...]
    # instance type -> zones that offer it, where known; absent = all zones assumed
    offerings: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class CatalogModel:
    """A catalog model: its Hugging Face id and the published config.json fields."""

    id: str  # short catalog id, e.g. "llama-3.1-8b-instruct"
    hf_id: str
    family: str
    params_total: int
    params_active: int
    config: dict[str, Any]
    revision: str | None = None
    aliases: tuple[str, ...] = ()  # pure renames of the same repo only (e.g. Meta-Llama-3.1 -> Llama-3.1)
    base: str | None = None  # catalog id of the 16-bit checkpoint this one was quantized from
    # catalog id of a row whose config.json shapes this checkpoint shares (a base / instruct twin);
    # the loader copies that row's config. The repo served is still this row's hf_id.
    config_from: str | None = None
    download_bytes: int | None = None  # safetensors total_size of the repo, where known
    # ModelOpt <= 0.29 keeps the quantization config in a separate hf_quant_config.json (vLLM
    # reads it when config.json has no quantization_config); verbatim, like `config`
    hf_quant_config: dict[str, Any] | None = None
    gated: bool = False
    license: str | None = None
    sources: tuple[str, ...] = ()
    notes: str | None = None

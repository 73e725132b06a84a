"""Resolve what the user named (catalog id, Hugging Face id, config.json) to an architecture."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gpuforge import catalog
from gpuforge.engine import vllm as engine
from gpuforge.sizing.architecture import ModelArch, parse_config


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready for sizing: its architecture plus the identity vLLM needs."""

    key: str  # catalog id, or the HF id / file name
    hf_id: str
    arch: ModelArch
    params_total: int
    params_active: int
    extra_params: int  # non-LM weights (vision tower, projector) counted from the catalog total
    revision: str | None
    checkpoint_precision: str  # gpuforge.engine.vllm.PRECISIONS, from the quantization_config
    catalog_id: str | None = None
    native_context: int = 0  # longest --max-model-len vLLM accepts (engine.derived_max_model_len)
    download_bytes: int = 0  # the repo's weight files (safetensors) as downloaded

    @property
    def download_gib(self) -> float:
        return self.download_bytes / (1 << 30)


def _precision_of(arch: ModelArch) -> str:
    return engine.precision_of_checkpoint(arch.quantization_config, arch.torch_dtype)


def estimated_download_bytes(arch: ModelArch, params_total: int, precision: str) -> int:
    """Safetensors bytes of a checkpoint when its index is not at hand.

    A 16-bit safetensors checkpoint stores each parameter once in 2 bytes (the index's
    `total_size` is 2 x params, e.g. Llama-3.1-8B-Instruct 16,060,522,496 = 2 x 8,030,261,248).
    A quantized one is sized like the memory model's whole-checkpoint weights (quantized linear
    layers, 16-bit embeddings and norms), an estimate.
    """
    if precision in engine.UNQUANTIZED:
        return 2 * params_total
    from gpuforge.sizing.memory import stage_weight_bytes

    rotary_cache = arch.max_position_embeddings * arch.rotary_dim * 2  # built at start, not stored
    return int(stage_weight_bytes(arch, 1, 1, 0, precision, 2, 1) - rotary_cache)


def _from_config(key: str, hf_id: str, config: dict[str, Any], revision: str | None, cat: catalog.CatalogModel | None) -> ResolvedModel:
    arch = parse_config(config)
    lm = arch.params_total
    extra = 0
    if cat is not None and ("vision_config" in config or "vision_config" in cat.config):
        # multimodal wrapper: the catalog's exact total includes the vision encoder
        extra = max(0, cat.params_total - lm)
    if extra:
        arch = replace(arch, extra_params=extra)
    total = cat.params_total if cat else arch.params_total
    active = cat.params_active if cat else arch.params_active
    precision = _precision_of(arch)
    download = (cat.download_bytes if cat is not None and cat.download_bytes else 0) or estimated_download_bytes(arch, total, precision)
    return ResolvedModel(
        key=key,
        hf_id=hf_id,
        arch=arch,
        params_total=total,
        params_active=active,
        extra_params=extra,
        revision=revision,
        checkpoint_precision=precision,
        catalog_id=cat.id if cat else None,
        native_context=engine.derived_max_model_len(config),
        download_bytes=download,
    )


def resolve(model: str, config: str | dict[str, Any] | None = None, hf_id: str | None = None, revision: str | None = None) -> ResolvedModel:
    """Resolve a catalog id / HF id (optionally with a config.json path or inline fields).

    Raises KeyError (with the nearest catalog ids) when nothing describes the architecture.
    """
    cat = catalog.find_model(model) if model else None
    if config is None and model and Path(model).suffix == ".json" and Path(model).is_file():
        config, model = model, ""
    if isinstance(config, str):
        cfg = json.loads(Path(config).read_text())
        key = model or Path(config).parent.name or Path(config).stem
        return _from_config(key, hf_id or (cat.hf_id if cat else model or key), cfg, revision, cat)
    if isinstance(config, dict):
        return _from_config(model or hf_id or "inline", hf_id or (cat.hf_id if cat else model), config, revision, cat)
    if cat is None:
        near = catalog.nearest(model, catalog.model_keys())
        raise KeyError(
            f"model {model!r} is not in the catalog; nearest: {', '.join(near) or 'none'}. "
            "Give the path to its config.json instead."
        )
    return _from_config(cat.id, hf_id or cat.hf_id, cat.config, revision or cat.revision, cat)

"""Resolve what the user named (catalog id, Hugging Face id, config.json) to an architecture."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gpuforge import catalog
from gpuforge.inputs import load_json, read_text
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
    checkpoint_precision: str  # bf16 | fp16 | fp8 | int8 | int4-awq | int4-gptq | mxfp4
    catalog_id: str | None = None


def _precision_of(arch: ModelArch) -> str:
    q = arch.checkpoint_quantization
    if q:
        return q
    return "fp16" if "float16" in arch.torch_dtype and "b" not in arch.torch_dtype else "bf16"


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
    return ResolvedModel(
        key=key,
        hf_id=hf_id,
        arch=arch,
        params_total=total,
        params_active=active,
        extra_params=extra,
        revision=revision,
        checkpoint_precision=_precision_of(arch),
        catalog_id=cat.id if cat else None,
    )


def resolve(model: str, config: str | dict[str, Any] | None = None, hf_id: str | None = None, revision: str | None = None) -> ResolvedModel:
    """Resolve a catalog id / HF id (optionally with a config.json path or inline fields).

    Raises KeyError (with the nearest catalog ids) when nothing describes the architecture.
    """
    cat = catalog.find_model(model) if model else None
    if config is None and model and Path(model).suffix == ".json" and Path(model).is_file():
        config, model = model, ""
    if isinstance(config, str):
        cfg = load_json(read_text(config), config)
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

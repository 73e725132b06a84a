"""Resolve what the user named (catalog id, Hugging Face id, config.json) to an architecture."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gpuforge import catalog
from gpuforge.engine import vllm as engine
from gpuforge.errors import Problem, SpecError
from gpuforge.hub import HubCheckpoint, resolve_repo
from gpuforge.inputs import load_json, read_text
from gpuforge.sizing.architecture import (
    ConfigError,
    ModelArch,
    parse_config,
    quantization_config_of,
)


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
    # what vLLM downloads at start: the Hub's file sizes for Hub-resolved repos, the catalog's
    # figure or an estimate from the architecture otherwise (estimated_download_bytes)
    download_bytes: int | None = None
    hub: HubCheckpoint | None = None  # the Hub facts, for a repo resolved from the Hub

    @property
    def download_gib(self) -> float:
        return (self.download_bytes or 0) / (1 << 30)

    @property
    def native_context(self) -> int:
        """The longest --max-model-len vLLM accepts for the model (config/model.py:2155)."""
        return self.arch.max_model_len_limit or self.arch.max_position_embeddings

    @property
    def default_context(self) -> int:
        """The --max-model-len vLLM serves when none is given (config/model.py:2138-2152)."""
        return self.arch.max_model_len_default or self.native_context


def _precision_of(arch: ModelArch) -> str:
    try:
        return engine.precision_of_checkpoint(arch.quantization_config, arch.torch_dtype)
    except engine.UnsupportedQuantization as exc:
        raise SpecError(
            "model",
            [Problem("config.json quantization_config", f"the checkpoint cannot be planned: {exc}", "name a checkpoint quantized with a method gpuforge sizes (docs/engine.md), or its 16-bit original")],
        ) from None


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


def _from_config(key: str, hf_id: str, config: dict[str, Any], revision: str | None, cat: catalog.CatalogModel | None, hf_quant_config: dict[str, Any] | None = None) -> ResolvedModel:
    arch = parse_config(config, hf_quant_config=hf_quant_config)
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
        download_bytes=download,
    )


def _from_hub(repo_id: str, revision: str | None, token: str | None, refresh: bool) -> ResolvedModel:
    """A repo that is not in the catalog, from the Hub (or gpuforge's cache of it).

    vLLM is served the commit the config was read at, so what was sized is what runs.
    """
    ckpt = resolve_repo(repo_id, revision, token, refresh=refresh)
    try:
        arch = parse_config(ckpt.config, hf_quant_config=ckpt.hf_quant_config, tokenizer_max_length=ckpt.tokenizer_max_length)
    except ConfigError as exc:
        raise SpecError(
            f"Hugging Face repo {repo_id!r}",
            [Problem("model.id", f"config.json at {ckpt.commit[:12]} cannot be sized: {exc}", "give model.config with the missing fields (it overrides the Hub's)")],
        ) from None
    extra = 0
    if ckpt.params_total and any(isinstance(ckpt.config.get(k), dict) for k in ("vision_config", "audio_config")):
        # multimodal wrapper: the checkpoint's exact count includes the vision/audio encoder
        extra = max(0, ckpt.params_total - arch.params_total)
    if extra:
        arch = replace(arch, extra_params=extra)
    return ResolvedModel(
        key=repo_id,
        hf_id=repo_id,
        arch=arch,
        params_total=arch.params_total,
        params_active=arch.params_active,
        extra_params=extra,
        revision=ckpt.commit,
        checkpoint_precision=_precision_of(arch),
        download_bytes=ckpt.download_bytes,
        hub=ckpt,
    )


def _read_config(path: str) -> dict[str, Any]:
    # bounded, UTF-8 (a BOM is accepted), strict JSON: SpecError with the line otherwise
    cfg = load_json(read_text(path, "model.config"), path)
    if not isinstance(cfg, dict):
        raise SpecError("model.config", [Problem("model.config", f"{path!r} holds a {type(cfg).__name__}, not a JSON object", "give the path to a config.json")])
    return cfg


def resolve(
    model: str,
    config: str | dict[str, Any] | None = None,
    hf_id: str | None = None,
    revision: str | None = None,
    *,
    token: str | None = None,
    refresh: bool = False,
) -> ResolvedModel:
    """Resolve a catalog id / HF id (optionally with a config.json path or inline fields).

    A Hugging Face id (`org/name`) that is not in the catalog is read from the Hub (or the
    on-disk cache of an earlier read) with `token` for gated repos.

    Raises:
        KeyError: a name that is neither a catalog id nor a repo id (with the nearest ids).
        SpecError: the Hub look-up or the config.json failed (names the repo and the fix).
    """
    cat = catalog.find_model(model) if model else None
    if config is None and model and Path(model).suffix == ".json" and Path(model).is_file():
        config, model = model, ""
    try:
        if isinstance(config, str):
            cfg = _read_config(config)
            key = model or Path(config).parent.name or Path(config).stem
            return _from_config(key, hf_id or (cat.hf_id if cat else model or key), cfg, revision, cat)
        if isinstance(config, dict):
            return _from_config(model or hf_id or "inline", hf_id or (cat.hf_id if cat else model), config, revision, cat)
    except ConfigError as exc:
        raise SpecError("model.config", [Problem("model.config", f"cannot be sized: {exc}", "add the missing fields (see the model's config.json)")]) from None
    if cat is None and model and "/" in model:
        return _from_hub(model, revision, token, refresh)
    if cat is None:
        near = catalog.nearest(model, catalog.model_keys())
        raise KeyError(
            f"model {model!r} is not in the catalog; nearest: {', '.join(near) or 'none'}. "
            "Give a Hugging Face repo id (org/name) or the path to its config.json instead."
        )
    return _from_config(cat.id, hf_id or cat.hf_id, cat.config, revision or cat.revision, cat, cat.hf_quant_config)


def catalog_precision(m: catalog.CatalogModel) -> str | None:
    """The precision a catalog checkpoint ships in, from its own config files (None: unreadable)."""
    try:
        q = quantization_config_of(m.config, m.hf_quant_config)
        return engine.precision_of_checkpoint(q, str(m.config.get("torch_dtype") or (m.config.get("text_config") or {}).get("torch_dtype") or "bfloat16"))
    except engine.UnsupportedQuantization:
        return None


def prequantized_checkpoints(model: ResolvedModel, precision: str) -> list[catalog.CatalogModel]:
    """Catalog checkpoints quantized from the same 16-bit model (`base`) that ship `precision`.

    What vLLM cannot produce at load time (every precision but fp8) needs such a checkpoint;
    the planner and `gpuforge estimate` name them. A base model and its instruct twin are
    different models, so only rows whose `base` is the named row (or the named row's base) count.
    """
    if model.catalog_id is None:
        return []
    named = catalog.find_model(model.catalog_id)
    base = (named.base if named is not None and named.base else None) or model.catalog_id
    return [
        m for m in catalog.all_models()
        if m.id != model.catalog_id and (m.base == base or m.id == base) and catalog_precision(m) == precision
    ]


def precision_fix(model: ResolvedModel, precision: str, path: str = "model.id") -> str:
    """The fix for a precision the checkpoint cannot be served at: the catalog's checkpoints that ship it."""
    found = prequantized_checkpoints(model, precision)
    if found:
        names = ", ".join(f"{m.id} ({m.hf_id})" for m in found)
        return f"name a checkpoint that ships {precision} as {path}: {names}"
    what = model.catalog_id or model.hf_id
    return (
        f"the catalog has no {precision} checkpoint of {what}: name one by its Hugging Face repo id as {path} "
        f"(read from the Hub with its quantization_config), or use a precision the checkpoint loads at "
        f"({', '.join(serveable_precisions(model))})"
    )


def serveable_precisions(model: ResolvedModel) -> list[str]:
    """Precisions vLLM serves this checkpoint at (gpuforge.engine.vllm.precision_problems)."""
    return [p for p in engine.PRECISIONS if not engine.precision_problems(model.checkpoint_precision, p)]


def precision_problems(asked: list[str] | None, model: ResolvedModel) -> list[Problem]:
    """model.precision when none of the asked precisions can be loaded from the named checkpoint."""
    if not asked or any(not engine.precision_problems(model.checkpoint_precision, p) for p in asked):
        return []
    return [Problem("model.precision", engine.precision_problems(model.checkpoint_precision, p)[0], precision_fix(model, p)) for p in asked]

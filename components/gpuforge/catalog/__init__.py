"""Catalogs of models, GPUs, cloud instance types and regions: data files plus loaders.

No Pulumi imports. Each JSON file under `data/` keeps the source (and for prices the date)
of every row. Loading is lazy and cached: the first call parses a file, later calls are
dictionary look-ups.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from dataclasses import fields
from functools import cache
from importlib import resources
from typing import Any

from gpuforge.catalog.types import CatalogModel, Gpu, InstanceType, Price, Region

__all__ = [
    "CatalogModel",
    "Gpu",
    "InstanceType",
    "Price",
    "Region",
    "all_gpus",
    "all_instances",
    "all_models",
    "all_regions",
    "find_model",
    "find_region",
    "get_gpu",
    "get_instance",
    "get_region",
    "nearest",
]


def _load(name: str) -> dict[str, Any]:
    return json.loads(resources.files("gpuforge.catalog").joinpath("data", name).read_text())


def _build(cls: type, row: dict[str, Any]) -> Any:
    names = {f.name for f in fields(cls)}
    unknown = set(row) - names
    if unknown:
        raise ValueError(f"{cls.__name__} row {row.get('id') or row.get('name')}: unknown keys {sorted(unknown)}")
    kwargs = {}
    for k, v in row.items():
        if k == "prices":
            v = tuple(Price(**p) for p in v)
        elif k == "offerings":
            v = {t: tuple(z) for t, z in v.items()}
        elif isinstance(v, list):
            v = tuple(v)
        kwargs[k] = v
    return cls(**kwargs)


@cache
def _gpus() -> dict[str, Gpu]:
    return {g.id: g for g in (_build(Gpu, r) for r in _load("gpus.json")["gpus"])}


@cache
def _instances() -> dict[tuple[str, str], InstanceType]:
    rows = (_build(InstanceType, r) for r in _load("instances.json")["instances"])
    return {(i.cloud, i.name): i for i in rows}


@cache
def _regions() -> dict[tuple[str, str], Region]:
    rows = (_build(Region, r) for r in _load("regions.json")["regions"])
    return {(r.cloud, r.name): r for r in rows}


@cache
def _models() -> tuple[dict[str, CatalogModel], dict[str, CatalogModel]]:
    by_id: dict[str, CatalogModel] = {}
    by_key: dict[str, CatalogModel] = {}
    rows = _load("models.json")["models"]
    configs = {r["id"]: r["config"] for r in rows if "config" in r}
    for r in rows:
        if "config_from" in r:  # same architecture as another row, different checkpoint
            r = {**r, "config": configs[r["config_from"]]}
        m = _build(CatalogModel, r)
        by_id[m.id] = m
        for key in (m.id, m.hf_id, *m.aliases):
            by_key[key.lower()] = m
    return by_id, by_key


def all_gpus() -> list[Gpu]:
    return list(_gpus().values())


def all_instances(cloud: str | None = None) -> list[InstanceType]:
    return [i for i in _instances().values() if cloud in (None, i.cloud)]


def all_regions(cloud: str | None = None) -> list[Region]:
    return [r for r in _regions().values() if cloud in (None, r.cloud)]


def all_models() -> list[CatalogModel]:
    return list(_models()[0].values())


def nearest(word: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The closest candidates to a misspelt id, best first (case-insensitive).

    Scores blend the edit similarity of the whole id with the share of its parts
    ("llama", "3.1", "405b") that the candidate contains, so a size or version the user got
    right outweighs a suffix they got wrong.
    """
    w = word.lower().split("/")[-1]
    parts = [p for p in re.split(r"[-_/ ]", w) if p]
    scored = []
    for c in dict.fromkeys(candidates):
        lc = c.lower().split("/")[-1]
        ratio = difflib.SequenceMatcher(None, w, lc).ratio()
        share = sum(1 for p in parts if p in lc) / len(parts) if parts else 0.0
        score = 0.5 * ratio + 0.5 * share
        if score >= 0.45:
            scored.append((score, c))
    scored.sort(key=lambda t: (-t[0], t[1]))
    out: list[str] = []
    for _, c in scored:
        if c.lower() not in {o.lower() for o in out}:
            out.append(c)
        if len(out) == n:
            break
    return out


def get_gpu(gpu_id: str) -> Gpu:
    try:
        return _gpus()[gpu_id]
    except KeyError:
        raise KeyError(f"unknown GPU {gpu_id!r}; nearest: {', '.join(nearest(gpu_id, _gpus())) or 'none'}") from None


def get_instance(name: str, cloud: str | None = None) -> InstanceType:
    """Look an instance type up by its exact cloud name (cloud is inferred when omitted)."""
    for (c, n), inst in _instances().items():
        if n == name and cloud in (None, c):
            return inst
    names = [n for (c, n) in _instances() if cloud in (None, c)]
    raise KeyError(f"unknown instance type {name!r}; nearest: {', '.join(nearest(name, names)) or 'none'}")


def get_region(cloud: str, name: str) -> Region:
    try:
        return _regions()[(cloud, name)]
    except KeyError:
        names = [n for (c, n) in _regions() if c == cloud]
        raise KeyError(f"unknown {cloud} region {name!r}; nearest: {', '.join(nearest(name, names)) or 'none'}") from None


def find_region(cloud: str, name: str) -> Region | None:
    """The region, or None when the catalog does not list it for that cloud."""
    return _regions().get((cloud, name))


def find_model(key: str) -> CatalogModel | None:
    """A catalog model by catalog id, Hugging Face id or alias (case-insensitive), else None."""
    return _models()[1].get(key.lower())


def model_keys() -> list[str]:
    """Every id a user may write for a catalog model (for suggestions)."""
    return [m.id for m in all_models()] + [m.hf_id for m in all_models()]

"""Models that are not in the catalog, read from the Hugging Face Hub and cached on disk.

`resolve_repo("org/name", revision, token)` returns a `HubCheckpoint`: the repo's config.json,
the quantization config vLLM will apply, the commit the files were read at, and the bytes vLLM
downloads at start. The first look-up talks to the Hub through `huggingface_hub` (endpoint from
`HF_ENDPOINT`, token from the argument or the library's own `HF_TOKEN` / `hf auth login`
look-up); every later one reads `<cache>/hub/<org>--<name>@<revision>.json`, so `gpuforge plan`
and `gpuforge preview` work offline once a repo has been resolved. `<cache>` is
`$GPUFORGE_CACHE_DIR`, else `~/.cache/gpuforge`. Pass `refresh=True` (CLI: `--refresh-hub`) to
read the Hub again.

Every failure is a `HubError` (a `SpecError`): the repo, the reason and the fix, no traceback.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, Literal

from gpuforge.errors import Problem, SpecError

CACHE_ENV = "GPUFORGE_CACHE_DIR"
CACHE_FORMAT = 1  # bump when the cached fields change; older files are then read again from the Hub
DEFAULT_ENDPOINT = "https://huggingface.co"
TIMEOUT_S = 10.0  # per request (huggingface_hub's own HEAD timeout is 10 s)

# Hugging Face repo ids: optional namespace, name of [\w.-] (huggingface_hub
# utils/_validators.py REPO_ID_REGEX, 0.36.2); gpuforge asks for the namespace.
_REPO_ID = re.compile(r"^[\w.\-]+/[\w.\-]+$")

# Files vLLM 0.19.0 reads besides the weights: config.json (transformers AutoConfig), the
# generation config, the tokenizer (transformers AutoTokenizer: tokenizer.json /
# tokenizer.model / vocab / merges / chat template), ModelOpt's hf_quant_config.json and the
# processor files of multimodal models. Top-level only; together well under 1% of a checkpoint.
_SIDE_FILES = (
    "*.json",
    "tokenizer.model",
    "*.tiktoken",
    "tiktoken.model",
    "merges.txt",
    "vocab.txt",
    "*.jinja",
)

SAFE_WEIGHTS_INDEX = "model.safetensors.index.json"
MISTRAL_WEIGHTS_INDEX = "consolidated.safetensors.index.json"


def is_repo_id(name: str) -> bool:
    """Whether `name` is shaped like a Hugging Face model repo id (`org/name`)."""
    return bool(_REPO_ID.match(name)) and ".." not in name and len(name) <= 96 and not name.endswith((".", "-"))


class HubError(SpecError):
    """A Hub look-up that failed; one problem naming the repo, the reason and the fix."""

    def __init__(self, repo_id: str, reason: str, fix: str, path: str = "model.id"):
        self.repo_id = repo_id
        super().__init__(f"Hugging Face repo {repo_id!r}", [Problem(path, reason, fix)])


@dataclass(frozen=True)
class HubFile:
    """One file of the repo at the resolved commit (size in bytes; None when the Hub gave none)."""

    path: str
    size: int | None


@dataclass(frozen=True)
class HubCheckpoint:
    """What the Hub says about one repo at one commit: everything sizing needs, nothing else.

    Attributes:
        repo_id: the repo vLLM loads (`org/name`, exactly as given).
        revision: the revision asked for (None = the default branch).
        commit: the commit sha the files were read at (vLLM is served this revision).
        config: config.json as published.
        hf_quant_config: ModelOpt's hf_quant_config.json, when the repo has one.
        quantization_config: the quantization config vLLM applies (None: unquantized).
        tokenizer_max_length: tokenizer_config.json's model_max_length (caps vLLM's context).
        files: every file of the repo with its size.
        weight_files: the weight files vLLM downloads (`vllm_weight_files`).
        download_bytes: weights plus config and tokenizer files, in bytes.
        params_total: parameter count from the Hub's safetensors metadata, when the weights
            are unpacked floats (packed int4/fp4 tensors count several weights per element).
        gated: the Hub's gating ("auto", "manual") or False.
        source: "hub" (just read) or "cache".
        cache_path: the cache file.
    """

    repo_id: str
    revision: str | None
    commit: str
    config: dict[str, Any]
    hf_quant_config: dict[str, Any] | None
    quantization_config: dict[str, Any] | None
    tokenizer_max_length: int | None
    files: tuple[HubFile, ...]
    weight_files: tuple[str, ...]
    download_bytes: int
    params_total: int | None
    gated: str | bool
    source: Literal["hub", "cache"]
    cache_path: Path


# ---- the rules: which files vLLM downloads ---------------------------------------------------


def vllm_weight_files(files: list[str], index_files: dict[str, set[str]]) -> list[str]:
    """The weight files vLLM 0.19.0's default loader downloads from a Hub repo.

    Args:
        files: every file path of the repo.
        index_files: for each safetensors index in the repo (by its file name), the file
            names its weight_map points at.

    vllm/model_executor/model_loader/default_loader.py (v0.19.0) `_prepare_weights`:
    load_format "auto" becomes "mistral" when any file's base name matches
    `consolidated*.safetensors` (then only those, filtered by consolidated.safetensors.index.json);
    otherwise the patterns are `*.safetensors`, `*.bin`, and `*.pt` (fall_back_to_pt).
    vllm/model_executor/model_loader/weight_utils.py `download_weights_from_hf`: when the repo
    root holds model.safetensors.index.json only the files of its weight_map are downloaded
    (so `original/*.pth`, `consolidated.safetensors` or `*.bin` duplicates are not); else the
    first pattern that matches a top-level file is downloaded wherever it matches (fnmatch's
    `*` crosses `/`, as in huggingface_hub's snapshot_download filter).
    """
    if any(fnmatch(os.path.basename(f), "consolidated*.safetensors") for f in files):
        chosen = [f for f in files if fnmatch(f, "consolidated*.safetensors")]
        wanted = index_files.get(MISTRAL_WEIGHTS_INDEX)
        return sorted(f for f in chosen if not wanted or f in wanted)
    top = [f for f in files if "/" not in f]
    if SAFE_WEIGHTS_INDEX in top and index_files.get(SAFE_WEIGHTS_INDEX):
        wanted = index_files[SAFE_WEIGHTS_INDEX]
        return sorted(f for f in files if f in wanted)
    for pattern in ("*.safetensors", "*.bin", "*.pt"):
        if any(fnmatch(f, pattern) for f in top):
            return sorted(f for f in files if fnmatch(f, pattern))
    return []


def side_files(files: list[str]) -> list[str]:
    """Top-level config, tokenizer and processor files (`_SIDE_FILES`)."""
    return sorted(f for f in files if "/" not in f and any(fnmatch(f, p) for p in _SIDE_FILES))


def _params_from_safetensors(meta: dict[str, Any] | None) -> int | None:
    """Total parameters from the Hub's safetensors metadata, when every dtype is an unpacked float."""
    if not meta or not isinstance(meta.get("parameters"), dict):
        return None
    unpacked = {"BF16", "F16", "F32", "F64", "F8_E4M3", "F8_E5M2"}
    if not set(meta["parameters"]) <= unpacked:
        return None
    return int(sum(meta["parameters"].values()))


# ---- cache ----------------------------------------------------------------------------------


def cache_dir() -> Path:
    """Where resolved repos are kept: $GPUFORGE_CACHE_DIR/hub, else ~/.cache/gpuforge/hub."""
    root = os.environ.get(CACHE_ENV) or str(Path.home() / ".cache" / "gpuforge")
    return Path(root) / "hub"


def cache_path(repo_id: str, revision: str | None) -> Path:
    rev = re.sub(r"[^\w.\-]", "_", revision or "main")
    return cache_dir() / f"{repo_id.replace('/', '--')}@{rev}.json"


def _write_cache(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(record, f, indent=1, sort_keys=True)
    os.replace(tmp, path)  # atomic: a concurrent reader sees the old file or the new one


def _read_cache(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != CACHE_FORMAT:
        return None
    return record


def _checkpoint(record: dict[str, Any], source: Literal["hub", "cache"], path: Path) -> HubCheckpoint:
    """Derive the checkpoint from the Hub's raw facts (kept raw in the cache, so rule changes apply)."""
    from gpuforge.sizing.architecture import quantization_config_of

    files = [HubFile(f["path"], f.get("size")) for f in record["files"]]
    names = [f.path for f in files]
    index_files = {k: set(v) for k, v in (record.get("index_files") or {}).items()}
    weights = vllm_weight_files(names, index_files)
    sizes = {f.path: f.size or 0 for f in files}
    config = record["config"]
    return HubCheckpoint(
        repo_id=record["repo_id"],
        revision=record.get("revision"),
        commit=record["commit"],
        config=config,
        hf_quant_config=record.get("hf_quant_config"),
        quantization_config=quantization_config_of(config, record.get("hf_quant_config")),
        tokenizer_max_length=record.get("tokenizer_max_length"),
        files=tuple(files),
        weight_files=tuple(weights),
        download_bytes=sum(sizes[f] for f in set(weights) | set(side_files(names))),
        params_total=_params_from_safetensors(record.get("safetensors")),
        gated=record.get("gated") or False,
        source=source,
        cache_path=path,
    )


# ---- the Hub --------------------------------------------------------------------------------


def endpoint() -> str:
    """The Hub endpoint, read when called (huggingface_hub reads HF_ENDPOINT once, at import)."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def resolve_repo(
    repo_id: str,
    revision: str | None = None,
    token: str | None = None,
    *,
    refresh: bool = False,
    path: str = "model.id",
) -> HubCheckpoint:
    """The checkpoint at `repo_id` (@ `revision`), from the cache or else from the Hub.

    Args:
        repo_id: `org/name`.
        revision: branch, tag or commit sha (None: the default branch).
        token: Hugging Face token for gated or private repos (None: huggingface_hub's own
            look-up, i.e. `HF_TOKEN` or a stored `hf auth login`).
        refresh: read the Hub even when a cached copy exists.
        path: config path named in errors.

    Raises:
        HubError: invalid id, missing repo or revision, gated repo without access, no
            config.json, or Hub unreachable with nothing cached.
    """
    if not is_repo_id(repo_id):
        raise HubError(repo_id, "is not a Hugging Face repo id", "write it as org/name, e.g. google/gemma-3-4b-it", path)
    where = cache_path(repo_id, revision)
    if not refresh:
        record = _read_cache(where)
        if record is not None:
            return _checkpoint(record, "cache", where)
    if _offline():
        raise HubError(
            repo_id,
            f"HF_HUB_OFFLINE is set and there is no cached copy at {where}",
            f"unset HF_HUB_OFFLINE and run `gpuforge plan` once where the Hub is reachable (it caches to {cache_dir()}), or give model.config",
            path,
        )
    record = _fetch(repo_id, revision, token, path, where)
    _write_cache(where, record)
    return _checkpoint(record, "hub", where)


def _fetch(repo_id: str, revision: str | None, token: str | None, path: str, where: Path) -> dict[str, Any]:
    import requests
    from huggingface_hub import HfApi, get_token, hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    url = endpoint()
    sent = token or get_token()  # what the library would send; None = anonymous
    rev = revision or "main"
    from gpuforge.progress import note  # the project's one progress channel (stderr)

    note(f"gpuforge: reading {repo_id}@{rev} from the Hugging Face Hub ({url})")
    api = HfApi(endpoint=url)
    has_token = "with" if sent else "without"
    how_to_token = (
        "CLI: export HF_TOKEN=hf_...; stack: `pulumi config set --secret gpuforge:hfToken hf_...` "
        "and model.hf_token_config_key: hfToken"
    )
    try:
        info = api.model_info(repo_id, revision=revision, files_metadata=True, timeout=TIMEOUT_S, token=sent or False)
        commit = info.sha or rev
        files = [{"path": s.rfilename, "size": s.size} for s in (info.siblings or [])]
        names = {f["path"] for f in files}
        with tempfile.TemporaryDirectory(prefix="gpuforge-hub-") as tmp:

            def get_json(name: str) -> Any:
                local = hf_hub_download(
                    repo_id, name, revision=commit, cache_dir=tmp, endpoint=url, token=sent or False, etag_timeout=TIMEOUT_S
                )
                try:
                    return json.loads(Path(local).read_text())
                except ValueError as exc:
                    raise HubError(repo_id, f"{name} at {commit[:12]} is not valid JSON ({exc})", "check the repo's files, or give model.config", path) from None

            if "config.json" not in names:
                raise HubError(
                    repo_id,
                    f"has no config.json at {rev} (not a transformers checkpoint: GGUF- or adapter-only repos are not served by vLLM this way)",
                    "name the base model's repo, or give model.config with the architecture",
                    path,
                )
            config = get_json("config.json")
            if not isinstance(config, dict):
                raise HubError(repo_id, "config.json is not a JSON object", "give model.config", path)
            hf_quant = get_json("hf_quant_config.json") if "hf_quant_config.json" in names else None
            index_files = {}
            for index in (SAFE_WEIGHTS_INDEX, MISTRAL_WEIGHTS_INDEX):
                if index in names:
                    weight_map = (get_json(index) or {}).get("weight_map") or {}
                    index_files[index] = sorted(set(weight_map.values()))
            tok_max = None
            if "tokenizer_config.json" in names:
                tok = get_json("tokenizer_config.json")
                v = tok.get("model_max_length") if isinstance(tok, dict) else None
                tok_max = int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v < 2**62 else None
    except HubError:
        raise
    except GatedRepoError:
        if sent:
            raise HubError(
                repo_id,
                f"is gated and the token given has no access to it ({url}/{repo_id})",
                f"accept the model's conditions at {url}/{repo_id} with the account the token belongs to, or use a token of an account that has",
                path,
            ) from None
        raise HubError(
            repo_id,
            "is gated: reading it needs a Hugging Face token, and none was given",
            f"accept the conditions at {url}/{repo_id}, then give a token ({how_to_token})",
            path,
        ) from None
    except RevisionNotFoundError:
        raise HubError(repo_id, f"has no revision {rev!r}", "set model.revision to a branch, tag or full commit sha of the repo", path) from None
    except RepositoryNotFoundError:
        raise HubError(
            repo_id,
            f"is not a model repo on {url} (or it is private and was read {has_token} a token)",
            "check the spelling (org/name, as on the model's page), use a catalog id (`gpuforge catalog models`), "
            f"or give model.config; for a private repo give a token ({how_to_token})",
            path,
        ) from None
    except LocalEntryNotFoundError as exc:
        # hf_hub_download turns a failed connection into this when nothing is cached locally
        raise _unreachable(repo_id, url, where, str(exc).splitlines()[0], path) from None
    except EntryNotFoundError as exc:
        raise HubError(repo_id, f"a file listed by the Hub is missing ({str(exc).splitlines()[0]})", "retry; if it persists give model.config", path) from None
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        if status == 401:
            # huggingface_hub keeps this one apart from RepositoryNotFoundError (utils/_http.py)
            raise HubError(
                repo_id,
                f"the Hub refused the token given (HTTP 401: invalid credentials, {url})",
                f"give a valid token: create one at {DEFAULT_ENDPOINT}/settings/tokens ({how_to_token})",
                path,
            ) from None
        raise HubError(repo_id, f"the Hub answered HTTP {status} ({url})", "retry later, or give model.config", path) from None
    except (requests.ConnectionError, requests.Timeout, OSError) as exc:
        raise _unreachable(repo_id, url, where, type(exc).__name__, path) from None
    return {
        "format": CACHE_FORMAT,
        "repo_id": repo_id,
        "revision": revision,
        "commit": commit,
        "endpoint": url,
        "config": config,
        "hf_quant_config": hf_quant,
        "tokenizer_max_length": tok_max,
        "files": files,
        "index_files": index_files,
        "safetensors": dict(info.safetensors) if info.safetensors else None,
        "gated": info.gated or False,
    }


def _unreachable(repo_id: str, url: str, where: Path, why: str, path: str) -> HubError:
    return HubError(
        repo_id,
        f"the Hugging Face Hub at {url} is unreachable ({why}) and there is no cached copy at {where}",
        f"run `gpuforge plan` once where the Hub is reachable (it caches to {cache_dir()}), "
        f"point {CACHE_ENV} at a directory holding that cache, or give model.config (path to the config.json)",
        path,
    )

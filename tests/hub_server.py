"""A Hugging Face Hub stand-in on 127.0.0.1 for tests: the endpoints huggingface_hub calls.

Serves repos from `tests/fixtures/hub/<org>/<name>/`: every file there except `_repo.json` is a
repo file (served with its real bytes); `_repo.json` holds the commit sha, the gating, the
safetensors metadata and the files too large to keep here (`listed`: name -> size; they appear in
the listing but are never downloaded).

Endpoints and headers are the ones huggingface_hub 0.36.2 uses and interprets:
- `GET /api/models/{repo}[/revision/{rev}]?blobs=True` (HfApi.model_info, files_metadata=True):
  JSON with `sha`, `gated`, `siblings` [{rfilename, size, blobId}], `safetensors`.
- `HEAD|GET /{repo}/resolve/{rev}/{file}` (hf_hub_download: get_hf_file_metadata then http_get):
  `X-Repo-Commit`, `ETag` (the git blob sha, quoted, as the Hub sends for non-LFS files),
  `Content-Length`.
Errors carry `X-Error-Code` / `X-Error-Message`, which huggingface_hub.utils.hf_raise_for_status
turns into RepositoryNotFoundError / GatedRepoError / RevisionNotFoundError / EntryNotFoundError,
with the statuses the Hub uses: a missing (or private) repo is 401 anonymously and 404 with a
token; a gated repo's metadata is public but its files are 401 without a token and 403 with a
token that was not granted access; an unknown token is 401 "Invalid credentials".
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

FIXTURES = Path(__file__).parent / "fixtures" / "hub"


@dataclass
class HubState:
    """What the server knows: repos on disk, valid tokens and their grants, requests seen."""

    root: Path = FIXTURES
    # token -> gated repos it was granted
    tokens: dict[str, set[str]] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # (method, path, Authorization)

    def repo(self, repo_id: str) -> tuple[Path, dict] | None:
        d = self.root / repo_id
        meta = d / "_repo.json"
        if not meta.is_file():
            return None
        return d, json.loads(meta.read_text())


def _blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    server_version = "hub-standin/1"
    state: HubState  # set on the subclass

    def log_message(self, format: str, *args: object) -> None:
        pass

    # ---- helpers ----------------------------------------------------------------------------
    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, code: str | None, message: str) -> None:
        headers = {"X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        self._send(status, json.dumps({"error": message}).encode(), headers)

    def _token(self) -> tuple[bool, str | None]:
        """(valid, token): no header is valid-anonymous; an unknown token is invalid."""
        auth = self.headers.get("Authorization")
        if not auth:
            return True, None
        token = auth.removeprefix("Bearer ").strip()
        return token in self.state.tokens, token

    # ---- routes -----------------------------------------------------------------------------
    def do_HEAD(self) -> None:
        self._route()

    def do_GET(self) -> None:
        self._route()

    def _route(self) -> None:
        path = unquote(urlsplit(self.path).path)
        self.state.requests.append((self.command, path, self.headers.get("Authorization")))
        valid, token = self._token()
        if not valid:
            self._error(401, None, "Invalid credentials in Authorization header")
            return
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "models"] and len(parts) >= 4:
            repo_id, rest = "/".join(parts[2:4]), parts[4:]
            rev = "/".join(rest[1:]) if rest[:1] == ["revision"] else "main"
            self._model_info(repo_id, rev, token)
        elif len(parts) >= 5 and parts[2] == "resolve":
            self._resolve("/".join(parts[:2]), parts[3], "/".join(parts[4:]), token)
        else:
            self._error(404, None, "Not Found")

    def _lookup(self, repo_id: str, rev: str, token: str | None) -> tuple[Path, dict] | None:
        found = self.state.repo(repo_id)
        if found is None:
            # the Hub hides whether a repo exists: 401 anonymously, 404 with a token
            self._error(404 if token else 401, "RepoNotFound", "Repository not found")
            return None
        if rev not in ("main", found[1]["sha"]):
            self._error(404, "RevisionNotFound", "Invalid rev id: " + rev)
            return None
        return found

    def _files(self, d: Path, meta: dict) -> dict[str, bytes | int]:
        files: dict[str, bytes | int] = {}
        for f in sorted(d.rglob("*")):
            if f.is_file() and f.name != "_repo.json":
                files[f.relative_to(d).as_posix()] = f.read_bytes()
        files.update(meta.get("listed") or {})
        return files

    def _model_info(self, repo_id: str, rev: str, token: str | None) -> None:
        found = self._lookup(repo_id, rev, token)
        if found is None:
            return
        d, meta = found
        siblings = []
        for name, content in self._files(d, meta).items():
            if isinstance(content, bytes):
                siblings.append({"rfilename": name, "size": len(content), "blobId": _blob_sha(content)})
            else:
                siblings.append({"rfilename": name, "size": content, "blobId": hashlib.sha1(name.encode()).hexdigest()})
        body = {
            "_id": hashlib.md5(repo_id.encode()).hexdigest()[:24],
            "id": repo_id,
            "modelId": repo_id,
            "author": repo_id.split("/")[0],
            "sha": meta["sha"],
            "lastModified": "2025-03-21T20:05:07.000Z",
            "private": False,
            "gated": meta.get("gated", False),
            "disabled": False,
            "tags": meta.get("tags", []),
            "pipeline_tag": "text-generation",
            "library_name": "transformers",
            "siblings": siblings,
            "safetensors": meta.get("safetensors"),
        }
        self._send(200, json.dumps(body).encode())

    def _resolve(self, repo_id: str, rev: str, name: str, token: str | None) -> None:
        found = self._lookup(repo_id, rev, token)
        if found is None:
            return
        d, meta = found
        if meta.get("gated") and repo_id not in self.state.tokens.get(token or "", set()):
            if token:
                self._error(403, "GatedRepo", f"Access to model {repo_id} is restricted and you are not in the authorized list. Visit https://huggingface.co/{repo_id} to ask for access.")
            else:
                self._error(401, "GatedRepo", f"Access to model {repo_id} is restricted. You must have access to it and be authenticated to access it. Please log in.")
            return
        content = self._files(d, meta).get(name)
        if not isinstance(content, bytes):
            # listed-only weight files are never fetched by gpuforge; treat as absent
            self._error(404, "EntryNotFound", f"{name} does not exist on \"{rev}\"")
            return
        headers = {"X-Repo-Commit": meta["sha"], "ETag": f'"{_blob_sha(content)}"', "Accept-Ranges": "bytes"}
        self._send(200, content, headers, content_type="text/plain; charset=utf-8")


class HubServer:
    """Runs the stand-in on an ephemeral 127.0.0.1 port; `url` is what HF_ENDPOINT is set to."""

    def __init__(self, state: HubState | None = None):
        self.state = state or HubState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> HubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

"""A Hugging Face Hub-shaped HTTP server on 127.0.0.1 for the download-step tests (HF_ENDPOINT points at it).

Serves the routes `huggingface_hub` 0.36 uses for `list_repo_files` and `snapshot_download`:
GET /api/models/<repo>/tree/<rev> (file listing), GET /api/models/<repo>/revision/<rev>
(repo info with `sha` and `siblings`), HEAD / GET /<repo>/resolve/<sha>/<file> (headers
X-Repo-Commit, ETag, Content-Length). `fail_first` makes the first metadata (HEAD) requests of a file answer 429, rate limited (huggingface_hub does not
retry those itself, so the caller's retry is exercised);
`gated` answers 401 with `X-Error-Code: GatedRepo` as the Hub does for a gated repo.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from dataclasses import dataclass, field
from urllib.parse import unquote, urlparse


@dataclass
class FakeRepo:
    repo_id: str
    files: dict[str, bytes]
    sha: str = "0123456789abcdef0123456789abcdef01234567"
    gated: bool = False
    fail_first: dict[str, int] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)


def serve(repo: FakeRepo) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _send(self, code: int, body: bytes = b"", headers: dict[str, str] | None = None, head: bool = False):
            self.send_response(code)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def _route(self, head: bool):
            path = unquote(urlparse(self.path).path)
            repo.requests.append(f"{self.command} {path}")
            if repo.gated:
                return self._send(401, b'{"error":"gated"}', {"X-Error-Code": "GatedRepo", "X-Error-Message": "gated"}, head)
            api = f"/api/models/{repo.repo_id}/"
            if path.startswith(api + "tree/"):
                listing = [{"type": "file", "path": p, "size": len(b), "oid": hashlib.sha1(b).hexdigest()} for p, b in repo.files.items()]
                return self._send(200, json.dumps(listing).encode(), {"Content-Type": "application/json"}, head)
            if path.startswith(api + "revision/"):
                info = {"id": repo.repo_id, "sha": repo.sha, "siblings": [{"rfilename": p} for p in repo.files]}
                return self._send(200, json.dumps(info).encode(), {"Content-Type": "application/json"}, head)
            prefix = f"/{repo.repo_id}/resolve/"
            if path.startswith(prefix):
                _rev, _, name = path[len(prefix):].partition("/")
                if name not in repo.files:
                    return self._send(404, b"", {"X-Error-Code": "EntryNotFound"}, head)
                if head and repo.fail_first.get(name, 0) > 0:
                    repo.fail_first[name] -= 1
                    return self._send(429, b"rate limited", {"Retry-After": "0"}, head)
                body = repo.files[name]
                headers = {
                    "X-Repo-Commit": repo.sha,
                    "ETag": '"' + hashlib.sha256(body).hexdigest() + '"',
                    "Content-Type": "application/octet-stream",
                }
                return self._send(200, body, headers, head)
            return self._send(404, b"", {"X-Error-Code": "RepoNotFound"}, head)

        def do_GET(self):
            self._route(False)

        def do_HEAD(self):
            self._route(True)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"

"""A local stand-in for the Hugging Face hub: serves one folder as a model repo over HTTP.

Point huggingface_hub at it with ``HF_ENDPOINT=http://127.0.0.1:PORT`` (and no ``HF_HUB_OFFLINE``):
``audiochain models pull ORG/NAME`` then downloads the folder's files through huggingface_hub's own
code (repo info, tree listing, HEAD + GET of each file), as from the real hub.  ``chunk_delay_s``
slows file bodies down (a pause per 32 KiB) so a test can see the progress and cancel midway;
``api_delay_s`` holds each answer about the repo (info, listing) that long, so the time before the
first byte ("connecting...") lasts long enough to be seen on a busy machine.
"""
from __future__ import annotations

import hashlib
import http.server
import json
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["FakeHub"]

CHUNK = 32 * 1024


class FakeHub:
    """Serve ``folder`` as the model repo ``repo`` at commit ``commit`` (a context manager)."""

    def __init__(self, folder: Path, repo: str, commit: str = "c0ffee" * 6 + "c0ff", chunk_delay_s: float = 0.0,
                 api_delay_s: float = 0.0):
        self.folder, self.repo, self.commit, self.delay = Path(folder), repo, commit, chunk_delay_s
        self.api_delay = api_delay_s
        self.files = {p.relative_to(self.folder).as_posix(): p.read_bytes()
                      for p in sorted(self.folder.rglob("*")) if p.is_file()}
        self.requests: list[str] = []
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:
                hub._answer(self, body=False)

            def do_GET(self) -> None:
                hub._answer(self, body=True)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeHub":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _entry(self, path: str, data: bytes) -> dict[str, Any]:
        sha = hashlib.sha256(data).hexdigest()
        entry: dict[str, Any] = {"type": "file", "path": path, "size": len(data),
                                 "oid": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()}
        if path.endswith(".safetensors"):
            entry["lfs"] = {"oid": sha, "size": len(data), "pointerSize": 134}
        return entry

    def _answer(self, h: http.server.BaseHTTPRequestHandler, body: bool) -> None:
        path = h.path.split("?", 1)[0]
        self.requests.append(f"{h.command} {path}")
        api = f"/api/models/{self.repo}"
        if path.startswith(api) and self.api_delay:
            time.sleep(self.api_delay)
        if path.startswith(api + "/revision/"):
            self._json(h, {"id": self.repo, "modelId": self.repo, "sha": self.commit, "private": False,
                           "siblings": [{"rfilename": f} for f in self.files]})
        elif path.startswith(api + "/tree/"):
            self._json(h, [self._entry(p, d) for p, d in self.files.items()])
        elif path.startswith(f"/{self.repo}/resolve/"):
            name = path[len(f"/{self.repo}/resolve/"):].split("/", 1)[1]
            data = self.files.get(name)
            if data is None:
                self._json(h, {"error": "Entry not found"}, 404)
                return
            h.send_response(200)
            h.send_header("Content-Length", str(len(data)))
            h.send_header("Content-Type", "application/octet-stream")
            h.send_header("X-Repo-Commit", self.commit)
            etag = self._entry(name, data).get("lfs", {}).get("oid") or self._entry(name, data)["oid"]
            h.send_header("ETag", f'"{etag}"')
            h.end_headers()
            if body:
                try:
                    for i in range(0, len(data), CHUNK):
                        h.wfile.write(data[i:i + CHUNK])
                        h.wfile.flush()
                        if self.delay:
                            time.sleep(self.delay)
                except (BrokenPipeError, ConnectionResetError):   # the client cancelled
                    pass
        else:
            self._json(h, {"error": f"Repository Not Found for url: {path}"}, 404)

    @staticmethod
    def _json(h: http.server.BaseHTTPRequestHandler, data: Any, status: int = 200) -> None:
        raw = json.dumps(data).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(raw)))
        if status == 404:
            h.send_header("X-Error-Code", "RepoNotFound")
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(raw)

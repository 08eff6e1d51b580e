"""A local HTTP server that plays the model hub (and misbehaves on request).

The real download code of lumina runs against it: it serves files with or
without Range support, can cut a transfer short, answer with an HTML page
or an error status, and serves a hub-style JSON file listing.  Every request
is recorded so tests can assert exactly what the client asked for.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from lumina.models import ModelStore, RegistryEntry, RetryPolicy

API_PATH = "/api/tree"
FILES_PATH = "/files"
FAST_RETRY = RetryPolicy(attempts=3, backoff=0.01, max_backoff=0.05, timeout=5.0)


@dataclass
class Seen:
    """One request as the server saw it."""

    path: str
    range: str | None
    status: int
    body_bytes: int


@dataclass
class Behaviour:
    """How the server answers requests for files."""

    honour_range: bool = True
    cut_after: int | None = None      # close the connection after this many body bytes...
    cuts_left: int = 0                # ...this many times
    fail_status: list[int] = field(default_factory=list)  # statuses to answer first, in order
    html: bool = False                # answer with an HTML error page (status 200)
    chunk_delay: float = 0.0          # seconds between 64 KiB chunks
    gate: threading.Event | None = None  # after the first chunk, wait for this to be set


class HubServer:
    """ThreadingHTTPServer on 127.0.0.1 with files, a listing and a request log."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.listing: dict[str, dict] = {}
        self.behaviour = Behaviour()
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def url_base(self) -> str:
        return self.base + FILES_PATH

    @property
    def api_url(self) -> str:
        return self.base + API_PATH

    def add(self, filename: str, data: bytes, *, listed_size: int | None = None,
            listed_sha256: str | None = None) -> None:
        """Serve *data* as *filename* and list it with its (or the given) size and SHA-256."""
        self.files[filename] = data
        size = len(data) if listed_size is None else listed_size
        oid = hashlib.sha256(data).hexdigest() if listed_sha256 is None else listed_sha256
        self.listing[filename] = {"type": "file", "path": filename, "size": size,
                                  "oid": "0" * 40, "lfs": {"oid": oid, "size": size,
                                                           "pointerSize": 134}}

    def file_requests(self, filename: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.path == f"{FILES_PATH}/{filename}"]

    def store(self, root: Path, registry: dict[str, RegistryEntry], **kw) -> ModelStore:
        kw.setdefault("retry", FAST_RETRY)
        kw.setdefault("api_url", self.api_url)
        kw.setdefault("offline", False)
        return ModelStore(root, url_base=self.url_base, registry=registry, **kw)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler_for(hub: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002 - keep test output clean
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            # Recorded before anything is sent: the client may finish reading
            # (and the test assert) before this thread runs another line.
            self.seen = Seen(self.path, self.headers.get("Range"), 0, 0)
            with hub.lock:
                hub.seen.append(self.seen)
            if self.path == API_PATH:
                self._send(200, json.dumps(list(hub.listing.values())).encode(),
                           "application/json")
            elif self.path.startswith(FILES_PATH + "/"):
                self._file(self.path[len(FILES_PATH) + 1:])
            else:
                self._send(404, b"not found")

        def _file(self, name: str) -> None:
            b = hub.behaviour
            with hub.lock:
                status = b.fail_status.pop(0) if b.fail_status else None
            if status is not None:
                return self._send(status, b"<html>error</html>", "text/html")
            if b.html:
                return self._send(200, b"<!DOCTYPE html><html><body>Sign in</body></html>",
                                  "text/html")
            if name not in hub.files:
                return self._send(404, b"not found")
            self._range_or_full(hub.files[name])

        def _range_or_full(self, data: bytes) -> None:
            m = re.fullmatch(r"bytes=(\d+)-", self.seen.range or "")
            start = int(m.group(1)) if (m and hub.behaviour.honour_range) else 0
            if start >= len(data) > 0:
                return self._send(416, b"")
            body = data[start:]
            self.seen.status = 206 if start else 200
            self.send_response(self.seen.status)
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            self._body(body)

        def _body(self, body: bytes) -> None:
            b = hub.behaviour
            with hub.lock:
                cut = b.cut_after if b.cuts_left > 0 else None
                if cut is not None:
                    b.cuts_left -= 1
            limit = len(body) if cut is None else min(cut, len(body))
            sent = 0
            while sent < limit:
                n = min(1 << 16, limit - sent)
                self.seen.body_bytes += n  # counted before the client can see them
                self.wfile.write(body[sent:sent + n])
                sent += n
                if b.gate is not None:
                    b.gate.wait(30)
                if b.chunk_delay:
                    time.sleep(b.chunk_delay)
            self.wfile.flush()
            if cut is not None:
                self.connection.shutdown(socket.SHUT_RDWR)

        def _send(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
            self.seen.status, self.seen.body_bytes = status, len(body)
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def entry_for(name: str, data: bytes, *, sha1: str | None | bool = True) -> RegistryEntry:
    """A registry entry for test bytes; ``sha1=True`` records their real SHA-1."""
    digest = hashlib.sha1(data).hexdigest() if sha1 is True else (sha1 or None)
    filename = f"ggml-{name}.bin"
    return RegistryEntry(name=name, filename=filename, url=f"http://example.invalid/{filename}",
                         size=len(data), size_exact=True, sha1=digest, arch="tiny",
                         english_only=True, quantization="f16")


def closed_port() -> int:
    """A local port with nothing listening (connections are refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def download_in_child(root: str, url_base: str, api_url: str, entry: RegistryEntry,
                      go, out) -> None:
    """Child-process body of the concurrency test: wait for *go*, download, report."""
    store = ModelStore(root, url_base=url_base, api_url=api_url, retry=FAST_RETRY,
                       registry={entry.name: entry}, offline=False)
    out.put(("ready", None))
    go.wait(30)
    try:
        path = store.download(entry.name, progress=False)
        out.put(("ok", str(path)))
    except Exception as exc:  # report any failure to the parent, which asserts on it
        out.put(("error", f"{type(exc).__name__}: {exc}"))

"""A real HTTP server on 127.0.0.1 in a background thread, for the fake upstreams."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 drops concurrent connects, and a dropped SYN costs a 1 s retry.
    request_queue_size = 512


class Reply:
    def __init__(
        self, status: int, body: Any, *, raw: bytes | None = None, headers: dict[str, str] | None = None
    ) -> None:
        self.status = status
        self.body = raw if raw is not None else json.dumps(body).encode()
        self.headers = headers or {}


class FakeServer:
    """Subclasses answer `handle(method, path, query, body) -> Reply`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.queued_faults: list[Reply] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def _answer(self, method: str) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                reply = server._next_fault() or server.handle(
                    method, parts.path, parse_qs(parts.query), body, dict(self.headers)
                )
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def fail_next(self, *replies: Reply) -> None:
        with self.lock:
            self.queued_faults.extend(replies)

    def _next_fault(self) -> Reply | None:
        with self.lock:
            return self.queued_faults.pop(0) if self.queued_faults else None

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, headers: dict[str, str]
    ) -> Reply:
        raise NotImplementedError

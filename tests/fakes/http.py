"""A real HTTP server on 127.0.0.1 in a background thread, for the fake upstreams."""

import json
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 drops concurrent connects, and a dropped SYN costs a 1 s retry.
    request_queue_size = 512

    def handle_error(self, request, client_address) -> None:
        # A client that drops a kept-alive connection (a cancelled read-ahead) is not a fake's error.
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class Reply:
    """What the fake answers. `delay` holds the answer back (a timeout for an impatient client);
    `reset` drops the connection without answering."""

    def __init__(
        self,
        status: int = 200,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        reset: bool = False,
    ) -> None:
        self.status = status
        self.body = raw if raw is not None else json.dumps(body).encode()
        self.headers = headers or {}
        self.delay = delay
        self.reset = reset


RESET = Reply(reset=True)


class FakeServer:
    """Subclasses answer `handle(method, path, query, body) -> Reply`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.queued_faults: list[Reply] = []
        self.faults_served = 0
        self.requests_seen = 0
        # Decides, by request number (1-based), whether that request meets a fault.
        self.fault_plan: Callable[[int], Reply | None] | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            # Headers and body go out as two writes; with Nagle on, the body waits for the client's
            # delayed ACK (40 ms a request), which no real server does.
            disable_nagle_algorithm = True
            # Keep-alive, as real upstreams do: a client that must reconnect for every request
            # spends more time connecting than the fake spends answering.
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def _answer(self, method: str) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                reply = server._next_fault()
                if reply is None:
                    reply = server.handle(method, parts.path, parse_qs(parts.query), body, dict(self.headers))
                time.sleep(reply.delay)
                if reply.reset:
                    # SO_LINGER 0 closes with a TCP reset, as a dropped proxy connection does.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.connection.close()
                    return
                try:
                    self.send_response(reply.status)
                    if "Content-Type" not in reply.headers:
                        self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply.body)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test)

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
            self.requests_seen += 1
            fault = self.queued_faults.pop(0) if self.queued_faults else None
            if fault is None and self.fault_plan is not None:
                fault = self.fault_plan(self.requests_seen)
            if fault is not None:
                self.faults_served += 1
            return fault

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, headers: dict[str, str]
    ) -> Reply:
        raise NotImplementedError

"""A fake pump.fun for the benchmark: N coins, a fixed latency per request and a server-side rate
limit (429 with Retry-After past it). Runs in its own process so that serving pages does not
compete with the loader for the interpreter.

    python bench/fake_upstream.py --tokens 10000 --latency 0.05 --rate 40
prints `READY http://127.0.0.1:PORT` once it listens.
"""

import argparse
import contextlib
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.coins import make_coin


class TokenBucket:
    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.level = rate
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.level = min(self.rate, self.level + (now - self.updated) * self.rate)
            self.updated = now
            if self.level >= 1:
                self.level -= 1
                return True
            return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--rate", type=float, default=40)
    parser.add_argument("--wall", type=int, default=None, help="empty pages from this offset on, as pump.fun's")
    parser.add_argument("--spacing-ms", type=int, default=None, help="time between launches")
    args = parser.parse_args()

    now = int(time.time() * 1000)
    # The window's coins, spread over the last 23 hours (one a second or closer), then coins older
    # than any window.
    spacing = args.spacing_ms or min(1_000, 23 * 3_600_000 // max(1, args.tokens))
    coins = [make_coin(i, created_ms=now - 1_000 - i * spacing) for i in range(args.tokens)]
    oldest = coins[-1]["created_timestamp"] if coins else now
    coins += [make_coin(10_000_000 + i, created_ms=oldest - 400 * 86_400_000 - i) for i in range(60)]
    pages = {
        "created_timestamp": coins,
        "last_trade_timestamp": sorted(coins, key=lambda c: -c["last_trade_timestamp"]),
    }
    bucket = TokenBucket(args.rate)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, a keep-alive client waits ~40 ms.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
            time.sleep(args.latency)
            if not bucket.take():
                self._send(429, b'{"message": "Too Many Requests"}', {"Retry-After": "1"})
                return
            ordered = pages.get(query.get("sort", "created_timestamp"), coins)
            offset, limit = int(query.get("offset", 0)), min(int(query.get("limit", 50)), 50)
            if args.wall is not None and offset >= args.wall:
                self._send(200, b"[]")
                return
            end = offset + limit if args.wall is None else min(offset + limit, args.wall)
            self._send(200, json.dumps(ordered[offset:end]).encode())

        def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            # A read-ahead request the loader no longer needed may be gone already.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 512

    server = Server(("127.0.0.1", 0), Handler)
    print(f"READY http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.05)


if __name__ == "__main__":
    main()

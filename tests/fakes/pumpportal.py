"""A fake PumpPortal (`wss://pumpportal.fun/api/data`) on a real websocket: `subscribeNewToken`, create
announcements in UI units, and the ban PumpPortal gives an address that opens a second connection
(both closed with 1008, and every new handshake refused with HTTP 403 while it lasts)."""

import contextlib
import json
import threading
import time
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Response
from websockets.sync.server import serve

from tests.fakes.chain import START_VIRTUAL_SOL, START_VIRTUAL_TOKENS, Launch


class FakePumpPortal:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open: list[Any] = []  # connections open now
        self.subscribed: list[Any] = []
        self.connections_seen = 0
        self.handshakes = 0  # every connection attempt, refused ones included
        self.banned_until = 0.0
        self.announced = 0
        self._server = None

    @property
    def url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/api/data"

    def start(self) -> "FakePumpPortal":
        self._server = serve(self._session, "127.0.0.1", 0, process_request=self._refuse_if_banned)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()

    @property
    def banned(self) -> bool:
        return time.monotonic() < self.banned_until

    def ban(self, seconds: float = 3600.0) -> None:
        """Close every connection as PumpPortal does when it bans an address."""
        with self.lock:
            self.banned_until = time.monotonic() + seconds
            connections, self.open, self.subscribed = list(self.open), [], []
        for connection in connections:
            connection.close(code=1008, reason="banned: more than one connection")

    def _refuse_if_banned(self, connection, request) -> Response | None:
        with self.lock:
            self.handshakes += 1
        if self.banned:
            return connection.respond(403, "banned\n")
        return None

    def _session(self, connection) -> None:
        with self.lock:
            self.connections_seen += 1
            self.open.append(connection)
            second = len(self.open) > 1
        if second:
            self.ban()
            return
        try:
            for raw in connection:
                request = json.loads(raw)
                if request.get("method") == "subscribeNewToken":
                    connection.send(json.dumps({"message": "Successfully subscribed to token creation events."}))
                    with self.lock:
                        self.subscribed.append(connection)
        except ConnectionClosed:
            pass
        finally:
            with self.lock:
                self.open = [c for c in self.open if c is not connection]
                self.subscribed = [c for c in self.subscribed if c is not connection]

    def announce(self, launch: Launch, **overrides: Any) -> None:
        """A create as PumpPortal writes it: UI units (tokens, SOL), no creation time."""
        message = {
            "signature": launch.signature, "mint": launch.mint, "traderPublicKey": launch.creator,
            "txType": "create", "initialBuy": 0, "solAmount": 0, "bondingCurveKey": launch.bonding_curve,
            "vTokensInBondingCurve": START_VIRTUAL_TOKENS / 1e6, "vSolInBondingCurve": START_VIRTUAL_SOL / 1e9,
            "marketCapSol": 27.96, "name": launch.name, "symbol": launch.symbol, "uri": launch.uri,
            "is_mayhem_mode": False, "pool": "pump", **overrides,
        }  # fmt: skip
        self.send_raw(json.dumps(message))
        self.announced += 1

    def send_raw(self, frame: str | bytes) -> None:
        with self.lock:
            subscribers = list(self.subscribed)
        for subscriber in subscribers:
            with contextlib.suppress(ConnectionClosed):
                subscriber.send(frame)

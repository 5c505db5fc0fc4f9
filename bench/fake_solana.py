"""A fake Solana RPC for the benchmark, in its own process: N pump.fun launches spread over a window,
a fixed latency per HTTP request and a server-side allowed call rate (a batch array counts each call
it holds; 429 past the rate). `GET /stats` answers the calls and HTTP requests it served.

    python bench/fake_solana.py --launches 200000 --days 7 --latency 0.02 --rate 1000 [--gtfa]
prints `READY <http url> <ws url>` once it listens.
"""

import argparse
import contextlib
import json
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from based58 import b58encode

from tests.fakes.chain import FakeSolana, Launch, curve_account, key_for
from tests.fakes.http import Reply
from tests.fakes.metadata import FakeGateway
from tests.fakes.trades import Curve, TradeTx
from tokens.sources.chain.addresses import PUMP_PROGRAM

# What launchers have written into `uri`: ports out of range, broken IPv6 literals, other schemes,
# hosts longer than DNS allows, links to the server's own network, IPFS-looking paths that are not.
HOSTILE_URIS = [
    "http://meta.example:99999/metadata.json",
    "https://meta.example:-1/metadata.json",
    "http://[::1/metadata.json",
    "http://[fe80::1%25eth0]:80/metadata.json",
    "javascript:alert(document.cookie)",
    "file:///etc/passwd",
    "ftp://meta.example/metadata.json",
    "http://" + "a" * 300 + ".example/metadata.json",
    "http://localhost:8080/admin",
    "http://127.0.0.1/admin",
    "https://localhost/ipfs/../../etc/passwd",
    "ipfs://../../etc/passwd",
    " ",
]


class BenchSolana(FakeSolana):
    """Beside the ledger: `POST /bench/trades` {"coins": [[mint, creator], ...], "rate", "seconds"}
    sends that many trades a second to the program's subscribers (logs notifications, kept in no
    ledger, so a million of them cost this process nothing); `GET /bench/sent` hands over (and
    forgets) when each was sent and of which coin."""

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.sent: list[tuple[float, str]] = []
        self.sending = False
        self.trade_number = 0
        self.curves: dict[str, Curve] = {}
        self.ready_made: dict[str, dict] = {}  # signature -> its transaction's JSON, made before READY

    def make_ahead(self) -> None:
        """Each transaction's JSON made now: the base58 of its events was 40 ms of every page of 100,
        CPU taken on the two cores the loader is measured on."""
        for entry in self.entries:
            self.ready_made[entry.launch.signature] = super()._whole(entry)

    def _whole(self, entry) -> dict:
        made = self.ready_made.get(entry.launch.signature)
        return made if made is not None else super()._whole(entry)

    def handle(self, method, path, query, body, headers) -> Reply:
        if method == "GET" and path == "/stats":
            with self.lock:
                calls = dict(self.method_calls)
                posts = self.http_posts
            return Reply(200, {"calls": calls, "http_requests": posts, "launches": self.launch_count})
        if method == "POST" and path == "/bench/trades":
            order = json.loads(body)
            self.sending = True
            threading.Thread(target=self._send_trades, args=(order,), daemon=True).start()
            return Reply(202, {"started": True})
        if method == "GET" and path == "/bench/sent":
            with self.lock:
                sent, self.sent = self.sent, []
            return Reply(200, {"sent": sent, "sending": self.sending})
        return super().handle(method, path, query, body, headers)

    def _send_trades(self, order: dict) -> None:
        coins, rate, seconds = order["coins"], float(order["rate"]), float(order["seconds"])
        # Frames are made ahead from a few templates per coin (a fresh signature each): making each
        # trade from scratch held this process to about 1,800 a second, below what is measured.
        templates = self._templates(coins)
        started, tick = time.monotonic(), 0.01
        due = 0.0
        while time.monotonic() - started < seconds:
            due += rate * tick
            while due >= 1:
                due -= 1
                self._send_one(templates)
            time.sleep(max(0.0, started + tick * (1 + round((time.monotonic() - started) / tick)) - time.monotonic()))
        self.sending = False

    def _templates(self, coins: list[list[str]]) -> list[tuple[str, str]]:
        templates = []
        now = int(time.time())
        for mint, creator in coins:
            curve = self.curves.setdefault(mint, Curve(mint=mint, creator=creator))
            for variant in range(8):
                wallet = key_for(f"bench-wallet-{mint[:6]}-{variant}")
                trade = curve.sell(wallet, 10**9, at=now) if variant % 4 == 3 else curve.buy(wallet, 10**7, at=now)
                logs = TradeTx(signature=_PLACEHOLDER, block_time=now, trades=[trade]).log_lines()
                frame = json.dumps({"jsonrpc": "2.0", "method": "logsNotification", "params": {
                    "result": {"context": {"slot": 400_000_000},
                               "value": {"signature": _PLACEHOLDER, "err": None, "logs": logs}},
                    "subscription": 1}})  # fmt: skip
                templates.append((mint, frame))
        return templates

    def _send_one(self, templates: list[tuple[str, str]]) -> None:
        self.trade_number += 1
        mint, template = templates[self.trade_number % len(templates)]
        signature = b58encode(self.trade_number.to_bytes(8, "big") + _SIGNATURE_TAIL).decode()
        frame = template.replace(_PLACEHOLDER, signature)
        with self.lock:
            subscribers = [s for s in self.subscribers if s.mentions == PUMP_PROGRAM]
            self.sent.append((time.time(), mint))
        for subscriber in subscribers:
            with contextlib.suppress(Exception):  # a subscriber that left
                subscriber.connection.send(frame)


_PLACEHOLDER = "SIGNATURE-PLACEHOLDER"
_SIGNATURE_TAIL = bytes(56)  # a signature is 64 bytes: the trade's number, then zeros


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--launches", type=int, required=True)
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--gtfa", action="store_true", help="offer getTransactionsForAddress")
    parser.add_argument("--ready-made", action="store_true", help="make every transaction's JSON before READY")
    parser.add_argument("--holder-latency", type=float, default=0.0, help="extra seconds per getTokenAccounts")
    parser.add_argument("--varied-curves", action="store_true", help="every curve a different market cap")
    parser.add_argument("--hostile-every", type=int, default=0, help="every Nth launch's uri is hostile (0: none)")
    args = parser.parse_args()

    server = BenchSolana(latency=args.latency)
    server.follow_program = True
    server.allowed_calls_per_second = args.rate
    server.offer_transactions_for_address = args.gtfa
    now = int(time.time())
    span = int(args.days * 86_400) - 120
    # Launches spread evenly over the window (oldest first, as the ledger is kept), a few failed
    # creates among them, then launches older than the window.
    older = [Launch(index=10_000_000 + i, block_time=now - span - 86_400 - i) for i in range(50)][::-1]
    window = []
    for i in range(args.launches):
        block_time = now - 30 - span + (i * span) // max(1, args.launches)
        hostile = args.hostile_every and i % args.hostile_every == args.hostile_every - 1
        uri = HOSTILE_URIS[(i // args.hostile_every) % len(HOSTILE_URIS)] if hostile else ""
        window.append(Launch(index=i, block_time=block_time, uri=uri))
        if i % 500 == 0:
            window.append(Launch(index=20_000_000 + i, block_time=block_time, kind="failed"))
    server.launch_count = args.launches
    server.holder_latency = args.holder_latency
    server.add(*older, *window, notify=False)
    if args.varied_curves:
        for launch in window:
            # Market caps from launch level to ~10x, in an order unrelated to the launch order.
            quote = 30_000_000_000 + ((launch.index * 7_919) % 1_000) * 270_000_000
            server.set_curve(launch.bonding_curve, curve_account(virtual_quote=quote))
    if args.ready_made:
        server.make_ahead()
    server.start()
    gateway = FakeGateway().start()
    print(f"READY {server.url} {server.ws_url} {gateway.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()

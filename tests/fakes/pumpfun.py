"""A fake pump.fun frontend API: `GET /coins` with offset/limit paging, sorting and the NSFW switch."""

import time
from collections.abc import Callable
from typing import Any

from tests.fakes.http import FakeServer, Reply

SORT_KEYS = {"created_timestamp", "last_trade_timestamp", "market_cap"}


class FakePumpFun(FakeServer):
    def __init__(self, coins: list[dict[str, Any]], *, max_limit: int = 50, latency: float = 0.0) -> None:
        super().__init__()
        self.coins = list(coins)
        self.max_limit = max_limit
        self.latency = latency  # seconds per page, like a real round trip
        self.requests: list[dict[str, str]] = []
        self.served_mints: set[str] = set()
        self.request_headers: list[dict[str, str]] = []
        # Runs before each page is served, e.g. to add launches at the head mid-backfill.
        self.before_page: Callable[[FakePumpFun, dict[str, str]], None] | None = None

    def handle(self, method, path, query, body, headers) -> Reply:
        if method != "GET" or path != "/coins":
            return Reply(404, {"message": "Not Found"})
        params = {key: values[-1] for key, values in query.items()}
        with self.lock:
            self.requests.append(params)
            self.request_headers.append(headers)
        if self.before_page is not None:
            self.before_page(self, params)
        if self.latency:
            time.sleep(self.latency)
        sort = params.get("sort", "created_timestamp")
        if sort not in SORT_KEYS or params.get("order", "DESC") != "DESC":
            return Reply(400, {"message": "bad sort"})
        offset = int(params.get("offset", 0))
        limit = min(int(params.get("limit", 50)), self.max_limit)
        with self.lock:
            visible = [c for c in self.coins if params.get("includeNsfw") == "true" or not c.get("nsfw")]
        ordered = sorted(visible, key=lambda coin: coin.get(sort) or 0, reverse=True)
        page = ordered[offset : offset + limit]
        with self.lock:
            self.served_mints.update(str(coin.get("mint")) for coin in page)
        return Reply(200, page)

    def add_launches(self, coins: list[dict[str, Any]]) -> None:
        with self.lock:
            self.coins.extend(coins)

    def pages_served(self, sort: str = "created_timestamp") -> int:
        return sum(1 for request in self.requests if request.get("sort") == sort)

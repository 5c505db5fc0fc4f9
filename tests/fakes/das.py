"""A fake DAS JSON-RPC provider answering `getTokenAccounts` with cursor paging."""

import json
import time
from typing import Any

from tests.fakes.http import FakeServer, Reply


class FakeDas(FakeServer):
    def __init__(
        self,
        accounts_by_mint: dict[str, list[tuple[str, int]]] | None = None,
        *,
        max_limit: int = 1000,
        latency: float = 0.0,
    ) -> None:
        super().__init__()
        self.latency = latency  # seconds per call, like a real round trip
        self.accounts_by_mint = accounts_by_mint or {}
        self.max_limit = max_limit
        self.calls: list[dict[str, Any]] = []
        self.erroring_mints: set[str] = set()

    def handle(self, method, path, query, body, headers) -> Reply:
        if method != "POST":
            return Reply(405, {"message": "POST only"})
        request = json.loads(body)
        with self.lock:
            self.calls.append(request)
        if self.latency:
            time.sleep(self.latency)
        rid = request.get("id")
        if request.get("method") != "getTokenAccounts":
            return Reply(200, {"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "Method not found"}})
        params = request["params"]
        mint = params["mint"]
        if mint in self.erroring_mints:
            return Reply(200, {"jsonrpc": "2.0", "id": rid, "error": {"code": -32603, "message": "internal error"}})
        limit = min(int(params.get("limit", 1000)), self.max_limit)
        start = int(params.get("cursor") or 0)
        accounts = self.accounts_by_mint.get(mint, [])
        page = accounts[start : start + limit]
        token_accounts = [
            {"address": f"acct-{mint[:6]}-{start + i}", "mint": mint, "owner": owner, "amount": amount,
             "delegated_amount": 0, "frozen": False}
            for i, (owner, amount) in enumerate(page)
        ]  # fmt: skip
        result: dict[str, Any] = {"total": len(page), "limit": limit, "token_accounts": token_accounts}
        if token_accounts:
            result["cursor"] = str(start + len(page))
        return Reply(200, {"jsonrpc": "2.0", "id": rid, "result": result})

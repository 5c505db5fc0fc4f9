"""A fake IPFS gateway serving launch metadata documents: `GET /ipfs/<cid>`."""

import time
from typing import Any

from tests.fakes.http import FakeServer, Reply


def document_for(cid: str) -> dict[str, Any]:
    return {
        "name": f"name of {cid}",
        "symbol": "SYM",
        "description": f"About {cid}",
        "image": f"https://ipfs.io/ipfs/{cid}/image.png",
        "showName": True,
        "createdOn": "https://pump.fun",
        "twitter": f"https://x.com/{cid[-6:]}",
        "website": "javascript:alert(1)",  # hostile: must not survive
    }


class FakeGateway(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.special: dict[str, Reply] = {}  # cid -> a fault
        self.fetched: list[str] = []

    def handle(self, method, path, query, body, headers) -> Reply:
        if method != "GET" or not path.startswith("/ipfs/"):
            return Reply(404, {"message": "not found"})
        cid = path[len("/ipfs/") :]
        with self.lock:
            self.fetched.append(cid)
        if cid in self.special:
            reply = self.special[cid]
            if reply.delay:
                time.sleep(reply.delay)
            return reply
        return Reply(200, document_for(cid))


class FakeSite(FakeServer):
    """A launcher's own web host: `routes` maps a path to its reply; every request is recorded with
    the Host header it carried."""

    def __init__(self, routes: dict[str, Reply] | None = None) -> None:
        super().__init__()
        self.routes = routes or {}
        self.seen: list[tuple[str, str]] = []  # (path, Host header)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def handle(self, method, path, query, body, headers) -> Reply:
        with self.lock:
            self.seen.append((path, headers.get("Host", "")))
        return self.routes.get(path, Reply(404, {"message": "not found"}))

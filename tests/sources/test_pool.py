"""The RPC client's connection pool (tokens/sources/pool.py) against a real HTTP/1.1 server on
127.0.0.1: connections reused, limited, replaced when the server closes them or their keep-alive
runs out."""

import asyncio
import contextlib

import httpcore
import httpx

from tokens.sources.pool import PINNED_HTTPCORE, LinearConnectionPool, use_linear_pool
from tokens.sources.rpc import SolanaRpc


class Server:
    """Answers every request with 200 and its own connection's number; `close_after_answer` drops
    each connection right after its answer (as a server ending idle keep-alive connections does);
    `hold` keeps each answer back that long."""

    def __init__(self, *, close_after_answer: bool = False, hold: float = 0.0) -> None:
        self.close_after_answer = close_after_answer
        self.hold = hold
        self.connections = 0
        self.open_now = 0
        self.most_open = 0

    async def __aenter__(self) -> "Server":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/"
        return self

    async def __aexit__(self, *exc_info) -> None:
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.lower().split(b"\r\n")
                length = next(int(line.split(b":")[1]) for line in lines if line.startswith(b"content-length"))
                await reader.readexactly(length)
                await asyncio.sleep(self.hold)
                body = str(number).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
                if self.close_after_answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionResetError):
            pass
        finally:
            self.open_now -= 1
            writer.close()
            with contextlib.suppress(ConnectionResetError):
                await writer.wait_closed()


def client(*, connections: int = 16, keepalive_expiry: float = 5.0) -> httpx.AsyncClient:
    limits = httpx.Limits(
        max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=keepalive_expiry
    )
    return use_linear_pool(httpx.AsyncClient(limits=limits, timeout=5))


async def post(http: httpx.AsyncClient, url: str) -> int:
    response = await http.post(url, content=b"{}")
    assert response.status_code == 200
    return int(response.content)


def test_the_httpcore_it_was_written_against_is_the_one_installed():
    assert httpcore.__version__ == PINNED_HTTPCORE  # an upgrade reads pool.py again, then moves the pin


async def test_the_rpc_client_uses_it():
    rpc = SolanaRpc(url="http://127.0.0.1:9/")
    try:
        assert type(rpc._http._transport._pool) is LinearConnectionPool
    finally:
        await rpc.aclose()


async def test_a_proxied_transport_keeps_its_own_pool():
    http = use_linear_pool(httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(proxy="http://127.0.0.1:9")))
    try:
        assert type(http._transport._pool) is httpcore.AsyncHTTPProxy
    finally:
        await http.aclose()


async def test_requests_one_after_another_share_one_connection():
    async with Server() as server, client() as http:
        assert {await post(http, server.url) for _ in range(20)} == {1}
    assert server.connections == 1


async def test_requests_side_by_side_open_no_more_connections_than_they_need_and_reuse_them():
    async with Server(hold=0.05) as server, client() as http:
        await asyncio.gather(*(post(http, server.url) for _ in range(6)))
        assert server.connections == 6
        await asyncio.gather(*(post(http, server.url) for _ in range(6)))
        assert server.connections == 6  # the second round found them idle
        assert len(http._transport._pool.connections) == 6


async def test_the_limit_holds_and_every_request_is_answered():
    async with Server(hold=0.02) as server, client(connections=2) as http:
        answers = await asyncio.gather(*(post(http, server.url) for _ in range(10)))
    assert len(answers) == 10
    assert server.most_open == 2
    assert server.connections == 2


async def test_a_connection_the_server_closed_is_replaced_not_failed_on():
    async with Server(close_after_answer=True) as server, client() as http:
        first = await post(http, server.url)
        for _ in range(500):  # until the server has closed it: then the idle socket reads EOF here
            if server.open_now == 0:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # and the close has crossed the loopback
        second = await post(http, server.url)
    assert (first, second) == (1, 2)


async def test_an_expired_keep_alive_is_replaced():
    async with Server() as server, client(keepalive_expiry=1.0) as http:
        assert await post(http, server.url) == 1
        assert await post(http, server.url) == 1
        await asyncio.sleep(1.2)
        assert await post(http, server.url) == 2
        assert len(http._transport._pool.connections) == 1  # the expired one was closed, not kept


async def test_idle_connections_beyond_the_keep_alive_limit_are_closed():
    surplus = 3
    limits = httpx.Limits(max_connections=2 + surplus, max_keepalive_connections=2)
    async with Server(hold=0.05) as server, use_linear_pool(httpx.AsyncClient(limits=limits)) as http:
        await asyncio.gather(*(post(http, server.url) for _ in range(2 + surplus)))
        await post(http, server.url)  # the pool is looked over when a request comes
        assert len(http._transport._pool.connections) <= 2

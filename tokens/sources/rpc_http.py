"""The Solana RPC's HTTP: JSON-RPC bodies POSTed on one pool of kept-alive connections, with aiohttp.

aiohttp here, where the other upstream clients use httpx: a backfill from a fast RPC is bound by this
process's CPU, and httpx spent about 1 ms of it on each request (httpcore's cancel scopes, locks and
h11 state machine, all in Python) against 0.3 ms for aiohttp, whose HTTP parser is C: measured on a
keep-alive connection to a local server, a small answer and a 430 kB page of `getTransactionsForAddress`
alike (docs/benchmarks.md, ninth session). A 10,000-launch backfill makes about 210 requests.

What is worth another try comes out as a `TransientError`, as `resilience.send_or_transient` makes it
for httpx: timeouts, dropped or refused connections, a cut-off body, 429 and 5xx (with Retry-After).
Messages name the failure's type, never the URL (which usually holds an API key).
"""

import asyncio
from dataclasses import dataclass

import aiohttp

from tokens.sources.resilience import TransientError, transient_status
from tokens.sources.tls import SHARED_CONTEXT


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes


class JsonPoster:
    """POSTs to one URL; its connections are made in the event loop of the first request, and closed
    by `aclose`."""

    def __init__(self, *, url: str, timeout: float, connections: int) -> None:
        self._url = url
        # Each phase within `timeout`, as httpx's timeout: connecting, and each wait for bytes.
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections, ssl=SHARED_CONTEXT),
                timeout=self._timeout,
                headers={"Content-Type": "application/json"},
                trust_env=True,  # HTTP(S)_PROXY and NO_PROXY, as httpx reads them
            )
        return self._session

    async def post(self, body: bytes, *, deadline: float | None) -> Answer:
        """The answer's status and body, the whole exchange within `deadline` seconds (None: no
        limit but each phase's timeout)."""
        try:
            async with asyncio.timeout(deadline):
                async with self._session_now().post(self._url, data=body) as response:
                    transient_status(response.status, retry_after=response.headers.get("Retry-After"))
                    return Answer(status=response.status, body=await response.read())
        except aiohttp.ServerTimeoutError as exc:
            raise TransientError("timed out") from exc
        except TimeoutError as exc:
            raise TransientError(f"no whole answer within {deadline:g} s" if deadline else "timed out") from exc
        except aiohttp.ClientError as exc:
            raise TransientError(f"connection failed ({type(exc).__name__})") from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

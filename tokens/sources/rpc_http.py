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
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from tokens.sources.resilience import TransientError, transient_status
from tokens.sources.tls import SHARED_CONTEXT


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes


class JsonPoster:
    """POSTs to one URL; its connections are made in the event loop of the first request, and closed
    by `aclose`, after which it posts nothing more.

    The proxy is the environment's (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY, as httpx reads
    them), looked up once here: aiohttp's own `trust_env` looks it up again, and reads ~/.netrc for
    credentials to send, in a worker thread at every request. A redirect is an answer, not followed:
    it would take the request, and its body, elsewhere."""

    def __init__(self, *, url: str, timeout: float, connections: int) -> None:
        self._url = url
        self._proxy = environment_proxy(url)
        # Each phase within `timeout`, as httpx's timeout: connecting, and each wait for bytes.
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def _session_now(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("this RPC client is closed")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                # enable_cleanup_closed: TLS connections a server never finishes closing are closed
                # (aiohttp asks for it on this Python).
                connector=aiohttp.TCPConnector(limit=self._connections, ssl=SHARED_CONTEXT, enable_cleanup_closed=True),
                timeout=self._timeout,
                headers={"Content-Type": "application/json"},
            )
        return self._session

    async def post(self, body: bytes, *, deadline: float | None) -> Answer:
        """The answer's status and body, the whole exchange within `deadline` seconds (None: no
        limit but each phase's timeout). A failure's cause is left out (`from None`): aiohttp's
        errors can hold the URL, and with it the key."""
        session = self._session_now()
        try:
            async with asyncio.timeout(deadline):
                async with session.post(self._url, data=body, proxy=self._proxy, allow_redirects=False) as response:
                    transient_status(response.status, retry_after=response.headers.get("Retry-After"))
                    return Answer(status=response.status, body=await response.read())
        except aiohttp.ServerTimeoutError:
            raise TransientError("timed out") from None
        except TimeoutError:
            raise TransientError(f"no whole answer within {deadline:g} s" if deadline else "timed out") from None
        except aiohttp.ClientError as exc:
            raise TransientError(f"connection failed ({type(exc).__name__})") from None

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()


def environment_proxy(url: str) -> str | None:
    """The proxy the environment names for `url`, unless NO_PROXY lets it go direct."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxy

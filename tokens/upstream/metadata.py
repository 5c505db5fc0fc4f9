"""A launch's metadata document (the CreateEvent's `uri`): image, description and socials.

The URI is chosen by whoever launched the coin: only http(s), a deadline for the whole fetch, a
size cap, and no private or loopback addresses (the server must not be steered into its own
network). IPFS links go to the configured gateway (`ipfs.io` often serves a notice instead of the
file, `cf-ipfs.com` is dead). What comes back is hostile text like every other upstream field.
"""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import orjson

from tokens.upstream.tls import SHARED_CONTEXT, pool_limits

DEFAULT_IPFS_GATEWAY = "https://pump.mypinata.cloud/ipfs/"
MAX_BYTES = 256 * 1024


class MetadataError(Exception):
    """The metadata document could not be read; its fields stay empty."""


@dataclass(frozen=True, slots=True)
class TokenMetadata:
    image: str = ""
    description: str = ""
    twitter: str = ""
    telegram: str = ""
    website: str = ""


def gateway_url(uri: str, *, gateway: str) -> str | None:
    """The URI on the configured IPFS gateway when it is an IPFS link, else None."""
    if uri.startswith("ipfs://"):
        return gateway.rstrip("/") + "/" + uri[len("ipfs://") :].lstrip("/")
    parts = urlsplit(uri)
    if parts.path.startswith("/ipfs/"):
        rest = parts.path[len("/ipfs/") :]
        return gateway.rstrip("/") + "/" + rest + (f"?{parts.query}" if parts.query else "")
    return None


class MetadataFetcher:
    def __init__(
        self,
        *,
        ipfs_gateway: str = DEFAULT_IPFS_GATEWAY,
        timeout: float = 10.0,
        max_bytes: int = MAX_BYTES,
        concurrency: int = 8,
        allow_private_hosts: bool = False,
    ) -> None:
        self.gateway = ipfs_gateway
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.allow_private_hosts = allow_private_hosts
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._http = httpx.AsyncClient(
            limits=pool_limits(concurrency),
            timeout=timeout,
            verify=SHARED_CONTEXT,
            headers={"Accept": "application/json"},
        )

    async def __aenter__(self) -> "MetadataFetcher":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._http.aclose()

    def resolve(self, uri: str) -> str:
        """Where a URI is fetched from (and where an IPFS image is shown from)."""
        return gateway_url(uri, gateway=self.gateway) or uri

    async def fetch(self, uri: str) -> TokenMetadata:
        url = self.resolve(uri)
        trusted = url != uri  # the operator's gateway
        async with self._slots:
            try:
                async with asyncio.timeout(self.timeout):
                    if not trusted:
                        await self._refuse_private(url)
                    body = await self._get(url, follow_redirects=trusted)
            except TimeoutError:
                raise MetadataError(f"{_host(url)}: no answer within {self.timeout:g} s") from None
            except httpx.HTTPError as exc:
                raise MetadataError(f"{_host(url)}: {type(exc).__name__}") from None
        return self._parse(body, host=_host(url))

    async def _get(self, url: str, *, follow_redirects: bool) -> bytes:
        async with self._http.stream("GET", url, follow_redirects=follow_redirects) as response:
            if response.status_code != 200:
                raise MetadataError(f"{_host(url)}: HTTP {response.status_code}")
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.max_bytes:
                    raise MetadataError(f"{_host(url)}: larger than {self.max_bytes // 1024} kB")
                chunks.append(chunk)
        return b"".join(chunks)

    def _parse(self, body: bytes, *, host: str) -> TokenMetadata:
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise MetadataError(f"{host}: not JSON") from None
        if not isinstance(document, dict):
            raise MetadataError(f"{host}: JSON {type(document).__name__}, not an object")

        def text(key: str) -> str:
            value = document.get(key)
            return value if isinstance(value, str) else ""

        image = text("image")
        return TokenMetadata(
            image=self.resolve(image) if image else "",
            description=text("description"),
            twitter=text("twitter"),
            telegram=text("telegram"),
            website=text("website"),
        )

    async def _refuse_private(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise MetadataError("not an http(s) link")
        if self.allow_private_hosts:
            return
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                parts.hostname, parts.port or 443, type=socket.SOCK_STREAM
            )
        except OSError:
            raise MetadataError(f"{parts.hostname}: does not resolve") from None
        for info in infos:
            address = ipaddress.ip_address(info[4][0])
            if not address.is_global:
                raise MetadataError(f"{parts.hostname}: points at a private address")


def _host(url: str) -> str:
    return urlsplit(url).hostname or "?"

"""A launch's metadata document (the CreateEvent's `uri`): image, description and socials.

The URI is chosen by whoever launched the coin, so the fetch treats it as an attack:
- only http(s) links (tokens/sources/links.py) on allowed ports: 80 and 443 unless configured,
  and the IPFS gateway's own;
- the host is resolved once, every address it resolves to must be public (an IPv6 address that
  carries an IPv4 one is judged by that one), and the connection goes to that checked address (TLS
  still verifies the name through SNI), so a second DNS answer cannot steer the server into its own
  network (DNS rebinding);
- an IPFS link (`ipfs://<cid>/…` or `…/ipfs/<cid>/…`) is fetched from the operator's gateway only
  when its CID and path are plain names (no `..`, no query): that request alone is trusted (the
  gateway may be a local node); any other link, to the gateway's host or not, and every redirect,
  is checked like a launcher's own link;
- one deadline for the whole fetch, and a size cap on the bytes as decoded: a compressed body is
  inflated in bounded steps, so a small gzip bomb costs at most the cap;
- whatever fails (a parser, a socket, a codec), the result is a `MetadataError`: the token's fields
  stay empty and the failure is counted on its run; nothing else leaves `fetch`.
What comes back is hostile text like every other upstream field.
"""

import asyncio
import ipaddress
import socket
import zlib
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import orjson

from tokens.sources.links import DEFAULT_PORTS, BadLink, Link, ipfs_path, parse_link
from tokens.sources.tls import SHARED_CONTEXT, pool_limits

DEFAULT_IPFS_GATEWAY = "https://pump.mypinata.cloud/ipfs/"
MAX_BYTES = 256 * 1024
DEFAULT_PORTS_ALLOWED = (80, 443)
MAX_REDIRECTS = 3
_REDIRECTS = {301, 302, 303, 307, 308}

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]


class MetadataError(Exception):
    """The metadata document could not be read; its fields stay empty."""


@dataclass(frozen=True, slots=True)
class TokenMetadata:
    image: str = ""
    description: str = ""
    twitter: str = ""
    telegram: str = ""
    website: str = ""


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")


def is_public(address: Address) -> bool:
    """A public unicast address. An IPv6 address that carries an IPv4 one (mapped, 6to4, Teredo,
    NAT64, the old IPv4-compatible form) is as public as the IPv4 address it reaches."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is None and any(address in network for network in _NAT64):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
        if address in _IPV4_COMPATIBLE or address in _SITE_LOCAL:
            return False
    return address.is_global and not address.is_multicast


def gateway_link(gateway: str) -> Link:
    """The operator's gateway (a checked setting; a local node's name need not pass `parse_link`)."""
    parts = urlsplit(gateway)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError("IPFS_GATEWAY must be an http(s) URL with a host")
    target = (parts.path or "/").rstrip("/") + "/"
    return Link(
        url=gateway, scheme=scheme, host=parts.hostname, port=parts.port or DEFAULT_PORTS[scheme], target=target
    )


class MetadataFetcher:
    def __init__(
        self,
        *,
        ipfs_gateway: str = DEFAULT_IPFS_GATEWAY,
        timeout: float = 10.0,
        max_bytes: int = MAX_BYTES,
        concurrency: int = 8,
        allow_private_hosts: bool = False,
        allowed_ports: Collection[int] = DEFAULT_PORTS_ALLOWED,
        resolver: Resolver = system_resolver,
        address_allowed: Callable[[Address], bool] = is_public,
    ) -> None:
        self.gateway = gateway_link(ipfs_gateway)
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.allow_private_hosts = allow_private_hosts
        self.allowed_ports = frozenset(allowed_ports) | {self.gateway.port}
        self.resolver = resolver
        self.address_allowed = address_allowed
        self._slots = asyncio.Semaphore(max(1, concurrency))
        headers = {"Accept": "application/json", "Accept-Encoding": "gzip, deflate"}
        self._gateway_http = httpx.AsyncClient(
            limits=pool_limits(concurrency), timeout=timeout, verify=SHARED_CONTEXT, headers=headers
        )
        # Connections to a checked address are never reused: a pooled connection is keyed by the
        # address, and another host name at the same address must not ride on it.
        self._pinned_http = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=0),
            timeout=timeout,
            verify=SHARED_CONTEXT,
            headers=headers,
        )

    async def __aenter__(self) -> "MetadataFetcher":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._gateway_http.aclose()
        await self._pinned_http.aclose()

    def resolve(self, uri: str) -> str:
        """Where an IPFS link is shown from (an image): the gateway, when its path is plain."""
        link = self.ipfs_link(uri)
        return uri if link is None else link.url

    def ipfs_link(self, uri: Any) -> Link | None:
        """The operator's gateway's link for an IPFS link with a plain path (tokens/sources/links.py)."""
        rest = ipfs_path(uri)
        if rest is None:
            return None
        gateway = self.gateway
        target = gateway.target + rest
        netloc = _netloc(gateway.host, gateway.port, gateway.scheme)
        return Link(
            url=f"{gateway.scheme}://{netloc}{target}", scheme=gateway.scheme, host=gateway.host,
            port=gateway.port, target=target,
        )  # fmt: skip

    async def fetch(self, uri: Any) -> TokenMetadata:
        host = "?"
        async with self._slots:
            try:
                async with asyncio.timeout(self.timeout):
                    link, gateway = self._hop(uri)
                    host = link.host
                    body = await self._follow(link, gateway=gateway)
            except MetadataError:
                raise
            except BadLink as exc:
                raise MetadataError(f"not a usable link: {exc}") from None
            except TimeoutError:
                raise MetadataError(f"{host}: no answer within {self.timeout:g} s") from None
            except Exception as exc:  # httpx, a socket, an IDNA codec...: this document is lost, nothing else
                raise MetadataError(f"{host}: {type(exc).__name__}") from None
        return self._parse(body, host=host)

    def _hop(self, uri: Any) -> tuple[Link, bool]:
        """Where to fetch `uri` from, and whether that is the operator's gateway serving a plain IPFS
        path (the one link trusted without checks; any other link, on the gateway's host or not, is
        checked like a launcher's own)."""
        gateway = self.ipfs_link(uri)
        return (gateway, True) if gateway is not None else (parse_link(uri), False)

    async def _follow(self, link: Link, *, gateway: bool) -> bytes:
        for _ in range(MAX_REDIRECTS + 1):
            body, location = await self._get(link, gateway=gateway)
            if location is None:
                return body
            link, gateway = self._hop(urljoin(link.url, location))
        raise MetadataError(f"{link.host}: more than {MAX_REDIRECTS} redirects")

    async def _get(self, link: Link, *, gateway: bool) -> tuple[bytes, str | None]:
        """The body, or where a redirect points."""
        if gateway:
            client, url, headers, extensions = self._gateway_http, link.url, {}, {}
        else:
            if link.port not in self.allowed_ports:
                raise MetadataError(f"{link.host}: port {link.port} is not allowed")
            client, headers, extensions = self._pinned_http, {}, {}
            url = link.url
            if not self.allow_private_hosts:
                name = link.host.encode("idna").decode("ascii") if not _is_literal(link.host) else link.host
                address = await self._checked_address(link, name)
                url = f"{link.scheme}://{_netloc(str(address), link.port, link.scheme)}{link.target}"
                headers = {"Host": _netloc(name, link.port, link.scheme)}
                if link.scheme == "https":
                    extensions = {"sni_hostname": name}
        async with client.stream("GET", url, headers=headers, extensions=extensions) as response:
            if response.status_code in _REDIRECTS:
                location = response.headers.get("location")
                if not location:
                    raise MetadataError(f"{link.host}: HTTP {response.status_code} without a location")
                return b"", location
            if response.status_code != 200:
                raise MetadataError(f"{link.host}: HTTP {response.status_code}")
            body = _BoundedBody(response.headers.get("content-encoding", ""), cap=self.max_bytes, host=link.host)
            async for chunk in response.aiter_raw():
                body.feed(chunk)
            return body.finish(), None

    async def _checked_address(self, link: Link, name: str) -> Address:
        """The host's address, resolved once; every address it has must be allowed."""
        if _is_literal(link.host):
            addresses = [ipaddress.ip_address(link.host)]
        else:
            try:
                found = await self.resolver(name, link.port)
            except OSError:
                raise MetadataError(f"{link.host}: does not resolve") from None
            addresses = [ipaddress.ip_address(text.split("%", 1)[0]) for text in found]
        if not addresses:
            raise MetadataError(f"{link.host}: does not resolve")
        if not all(self.address_allowed(address) for address in addresses):
            raise MetadataError(f"{link.host}: points at a private address")
        return addresses[0]

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


class _BoundedBody:
    """A response body as decoded, never more than `cap` bytes of it (nor of the raw bytes)."""

    def __init__(self, encoding: str, *, cap: int, host: str) -> None:
        codings = [c.strip().lower() for c in encoding.split(",") if c.strip().lower() not in ("", "identity")]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise MetadataError(f"{host}: compressed with {encoding[:40]!r}")
        # wbits 47: a gzip or zlib header, whichever the server sent.
        self._inflate = zlib.decompressobj(wbits=47) if codings else None
        self.cap, self.host = cap, host
        self.raw = 0
        self.chunks: list[bytes] = []
        self.size = 0

    def feed(self, chunk: bytes) -> None:
        self.raw += len(chunk)
        if self.raw > self.cap:
            raise self._too_large()
        if self._inflate is None:
            self._keep(chunk)
            return
        try:
            # At most one byte past the cap per step: a bomb stops here, not after inflating.
            self._keep(self._inflate.decompress(chunk, self.cap - self.size + 1))
        except zlib.error:
            raise MetadataError(f"{self.host}: the compressed body is broken") from None

    def finish(self) -> bytes:
        if self._inflate is not None:
            try:
                self._keep(self._inflate.flush())
            except zlib.error:
                raise MetadataError(f"{self.host}: the compressed body is broken") from None
        return b"".join(self.chunks)

    def _keep(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.cap:
            raise self._too_large()
        self.chunks.append(data)

    def _too_large(self) -> MetadataError:
        return MetadataError(f"{self.host}: larger than {self.cap // 1024} kB")


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _netloc(host: str, port: int, scheme: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if DEFAULT_PORTS.get(scheme) == port else f"{shown}:{port}"

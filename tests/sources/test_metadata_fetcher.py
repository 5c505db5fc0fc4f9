"""The metadata fetcher against hostile links, with the private-host check on (as in production):
resolve once and connect to the checked address, allowed ports only, no trust for IPFS-looking
paths on a launcher's host, the gateway's redirects checked, the size cap on decoded bytes.

Nothing outside 127.0.0.1 is contacted: names resolve through a resolver the test controls, and
addresses a test calls public are loopback ones, or are refused before any connection."""

import gzip
import ipaddress

import pytest

from tests.fakes.http import Reply
from tests.fakes.metadata import FakeGateway, FakeSite
from tokens.sources.metadata import MetadataError, MetadataFetcher

DOCUMENT = {"name": "x", "description": "About x", "image": "ipfs://QmImageImageImageImageImage1/cat.png",
            "twitter": "https://x.com/x"}  # fmt: skip
CID = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"


class Resolver:
    """Answers from a script, one answer per call (the last one repeats), and counts the calls."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return self.answers[min(len(self.calls), len(self.answers)) - 1]


def only_127_0_0_1(address) -> bool:
    """The test's stand-in for "public": the one loopback address the fakes listen on."""
    return address == ipaddress.ip_address("127.0.0.1")


@pytest.fixture
def site():
    server = FakeSite({"/doc.json": Reply(200, DOCUMENT)}).start()
    yield server
    server.stop()


@pytest.fixture
def gateway():
    server = FakeGateway().start()
    yield server
    server.stop()


def fetcher(gateway, **options) -> MetadataFetcher:
    return MetadataFetcher(ipfs_gateway=gateway.url + "/ipfs/", timeout=5, **options)


async def test_a_launchers_host_is_resolved_once_and_the_checked_address_is_the_one_connected(site, gateway):
    # The second answer would be a rebinding to an address the check refuses.
    resolver = Resolver(["127.0.0.1"], ["127.0.0.3"])
    async with fetcher(gateway, resolver=resolver, address_allowed=only_127_0_0_1, allowed_ports={site.port}) as f:
        found = await f.fetch(f"http://meta.example:{site.port}/doc.json")
    assert found.description == "About x" and found.twitter == "https://x.com/x"
    assert found.image == f"{gateway.url}/ipfs/QmImageImageImageImageImage1/cat.png"
    assert resolver.calls == [("meta.example", site.port)]
    assert site.seen == [("/doc.json", f"meta.example:{site.port}")]  # the name travels in Host, not DNS


async def test_a_name_with_one_private_address_among_public_ones_is_refused_before_connecting(site, gateway):
    resolver = Resolver(["127.0.0.1", "10.1.2.3"])
    async with fetcher(gateway, resolver=resolver, address_allowed=only_127_0_0_1, allowed_ports={site.port}) as f:
        with pytest.raises(MetadataError, match="private address"):
            await f.fetch(f"http://meta.example:{site.port}/doc.json")
    assert site.seen == []


async def test_loopback_is_refused_by_the_default_check(site, gateway):
    async with fetcher(gateway, allowed_ports={site.port}) as f:
        for url in (f"http://127.0.0.1:{site.port}/doc.json", f"http://localhost:{site.port}/doc.json",
                    f"http://[::ffff:127.0.0.1]:{site.port}/doc.json"):  # fmt: skip
            with pytest.raises(MetadataError, match="private address"):
                await f.fetch(url)
    assert site.seen == []


async def test_only_ports_80_and_443_unless_configured_and_nothing_is_resolved_first(gateway):
    resolver = Resolver(["127.0.0.1"])
    async with fetcher(gateway, resolver=resolver, address_allowed=only_127_0_0_1) as f:
        for url in ("http://meta.example:8080/doc.json", "https://meta.example:22/doc.json"):
            with pytest.raises(MetadataError, match="is not allowed"):
                await f.fetch(url)
    assert resolver.calls == []


@pytest.mark.parametrize(
    "uri",
    [
        "http://meta.example:99999/doc.json",  # the port that once ended a run: connect() refused it
        "http://meta.example:0/doc.json",
        "http://[::1/doc.json",  # a broken IPv6 literal
        "http://[fe80::1%25eth0]/doc.json",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "ftp://meta.example/doc.json",
        "http://" + "a" * 300 + ".example/doc.json",
        "",
        "   ",
        "http://meta.example/\u202edoc.json",
        "http://exa\u200bmple.com/doc.json",
    ],
)
async def test_unusable_links_cost_only_their_own_detail(gateway, uri):
    resolver = Resolver(["127.0.0.1"])
    async with fetcher(gateway, resolver=resolver) as f:
        with pytest.raises(MetadataError):
            await f.fetch(uri)
    assert resolver.calls == []


async def test_an_ipfs_looking_path_on_a_launchers_host_is_not_trusted(site, gateway):
    resolver = Resolver(["127.0.0.1"])
    async with fetcher(gateway, resolver=resolver, allowed_ports={site.port}) as f:
        # A plain CID on any host is content-addressed: the operator's gateway serves it.
        found = await f.fetch(f"https://evil.example/ipfs/{CID}")
        assert found.description == f"About {CID}"
        # A path that is not a plain CID stays on the launcher's host, and is checked there.
        paths = ("/ipfs/../../admin", f"/ipfs/{CID}/../../admin", "/ipfs/%2e%2e/admin", f"/ipfs/{CID}/..%2f..%2fadmin")
        for path in paths:
            with pytest.raises(MetadataError, match="private address"):
                await f.fetch(f"http://localhost:{site.port}{path}")
    assert gateway.fetched == [CID]
    assert resolver.calls == [("localhost", site.port)] * 4
    assert site.seen == []


async def test_the_gateways_redirects_are_checked_like_a_launchers_link(site, gateway):
    gateway.special[CID] = Reply(302, {}, headers={"Location": f"http://127.0.0.1:{site.port}/doc.json"})
    gateway.special["QmMovedMovedMovedMovedMoved1"] = Reply(301, {}, headers={"Location": f"/ipfs/{CID}x"})
    async with fetcher(gateway, allowed_ports={site.port}) as f:
        with pytest.raises(MetadataError, match="private address"):
            await f.fetch(f"ipfs://{CID}")
        found = await f.fetch("ipfs://QmMovedMovedMovedMovedMoved1")  # within the gateway: followed
    assert found.description == f"About {CID}x"
    assert site.seen == []


async def test_the_size_cap_applies_to_the_decoded_bytes(site, gateway):
    bomb = gzip.compress(b'{"description": "' + b"0" * 20_000_000 + b'"}')
    assert len(bomb) < 64 * 1024  # small on the wire, 20 MB decoded
    site.routes["/bomb.json"] = Reply(200, raw=bomb, headers={"Content-Encoding": "gzip"})
    site.routes["/small.json"] = Reply(200, raw=gzip.compress(b'{"description": "tiny"}'),
                                       headers={"Content-Encoding": "gzip"})  # fmt: skip
    site.routes["/brotli.json"] = Reply(200, raw=b"\x0b\x02\x80", headers={"Content-Encoding": "br"})
    resolver = Resolver(["127.0.0.1"])
    async with fetcher(gateway, resolver=resolver, address_allowed=only_127_0_0_1, allowed_ports={site.port}) as f:
        with pytest.raises(MetadataError, match="larger than 256 kB"):
            await f.fetch(f"http://meta.example:{site.port}/bomb.json")
        assert (await f.fetch(f"http://meta.example:{site.port}/small.json")).description == "tiny"
        with pytest.raises(MetadataError, match="compressed with"):
            await f.fetch(f"http://meta.example:{site.port}/brotli.json")


@pytest.mark.parametrize(
    "address",
    ["64:ff9b::a00:5", "2002:a9fe:a9fe::1", "::127.0.0.1", "fec0::1", "::ffff:10.0.0.1",
     "2001:0:4136:e378:8000:63bf:f5ff:fffe", "169.254.169.254", "100.64.0.1", "fe80::1"],
)  # fmt: skip
async def test_addresses_that_reach_a_private_one_are_refused_whatever_their_form(gateway, address):
    # NAT64, 6to4, IPv4-compatible, site-local, IPv4-mapped, Teredo, link-local, shared, metadata service.
    async with fetcher(gateway, resolver=Resolver([address])) as f:
        with pytest.raises(MetadataError, match="private address"):
            await f.fetch("https://meta.example/doc.json")


async def test_a_link_to_the_gateways_own_host_that_is_not_an_ipfs_path_is_checked(site, gateway):
    # A local gateway (127.0.0.1): its plain IPFS paths are fetched, anything else a launcher points
    # at on that host is a link to a private address.
    async with fetcher(gateway) as f:
        assert (await f.fetch(f"ipfs://{CID}")).description == f"About {CID}"
        for path in ("/api/v0/config", "/ipns/whatever", f"/ipfs/{CID}/../../api/v0/config"):
            with pytest.raises(MetadataError, match="private address"):
                await f.fetch(gateway.url + path)
    assert gateway.fetched == [CID]

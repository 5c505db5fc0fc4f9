"""PumpPortal as a second live source: merged with the chain's tail in the always-on feed, each
launch once (by mint: a bundle's creates share a signature) and credited to the source that saw it
first; one connection per process, and a ban waited out by the whole process without stopping the
feed. Against a fake that speaks PumpPortal's protocol."""

import asyncio
import contextlib
import time

import pytest
from asgiref.sync import sync_to_async

from tests.fakes.chain import Launch, history
from tests.fakes.pumpportal import FakePumpPortal
from tests.helpers import coin_launch, update_settings, wait_for
from tokens.models import LoadRun, Token
from tokens.runs.feed import follow_launches
from tokens.sources.base import Window
from tokens.sources.merge import merged_follow
from tokens.sources.pumpportal import launch_source
from tokens.sources.pumpportal.launch_source import PUMPPORTAL, PumpPortalLaunchSource

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_process_state(monkeypatch):
    """Each test starts as a new process would: not connected, not banned (even after a failure)."""
    monkeypatch.setattr(launch_source, "_connected", False)
    monkeypatch.setattr(launch_source, "_banned_until", 0.0)


@contextlib.asynccontextmanager
async def reading(*streams):
    """Read each stream into its own list in the background; stop the readers however the test ends."""
    got: list[list] = [[] for _ in streams]

    async def read(stream, into: list) -> None:
        async for page in stream:
            into.extend(page)

    readers = [asyncio.create_task(read(stream, into)) for stream, into in zip(streams, got, strict=True)]
    try:
        yield got
    finally:
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)


@pytest.fixture
def portal(settings):
    fake = FakePumpPortal().start()
    settings.PUMPPORTAL_URL = fake.url
    settings.LIVE_SOURCES = [PUMPPORTAL]
    yield fake
    fake.stop()


def feed_run() -> LoadRun | None:
    return LoadRun.objects.filter(origin=LoadRun.Origin.FOLLOWER).order_by("-pk").first()


def tailing() -> bool:
    run = feed_run()
    return run is not None and (run.checkpoint or {}).get("phase") == "tail"


def now_launches(start: int, count: int) -> list[Launch]:
    return [Launch(index=start + i, block_time=int(time.time())) for i in range(count)]


async def test_the_feed_merges_pumpportal_with_the_chain_tail_and_takes_each_launch_once(solana, portal):
    await sync_to_async(update_settings)(tail_interval_seconds=1)
    solana.add(*history(3, spacing_s=60), notify=False)
    task = asyncio.create_task(follow_launches())
    await wait_for(tailing)
    await wait_for(lambda: len(solana.subscribers) == 1 and len(portal.subscribed) == 1)

    first_on_portal = now_launches(1_000, 2)
    for launch in first_on_portal:  # PumpPortal announces them before the chain's tail sees them
        portal.announce(launch)
    await wait_for(lambda: Token.objects.count() == 5)
    solana.add(*first_on_portal)  # now the chain's notifications: the merge drops the repeats
    chain_only = now_launches(2_000, 3)  # PumpPortal misses some creates the chain shows
    solana.add(*chain_only)
    await wait_for(lambda: Token.objects.count() == 8)
    await asyncio.sleep(1.5)  # time for any repeat to arrive, were one not dropped

    run = await sync_to_async(feed_run)()
    assert run.fetched == 8 and run.accepted == 8  # every launch once
    assert run.first_seen == {"chain": 6, PUMPPORTAL: 2}  # the backfill's 3, then 3 the portal missed
    seen_by = dict(await sync_to_async(lambda: list(Token.objects.values_list("mint", "first_seen_by")))())
    assert {seen_by[launch.mint] for launch in first_on_portal} == {PUMPPORTAL}
    assert {seen_by[launch.mint] for launch in chain_only} == {"chain"}
    portal_row = await Token.objects.aget(mint=first_on_portal[0].mint)
    assert portal_row.name == first_on_portal[0].name and portal_row.creator == first_on_portal[0].creator
    assert portal_row.liquidity_sol == 0.0  # the curve's real SOL (its 30 virtual SOL are not liquidity)
    assert portal_row.bonding_curve == first_on_portal[0].bonding_curve
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert portal.connections_seen == 1 and not portal.banned


def follow(url: str):
    source = PumpPortalLaunchSource(url=url, reconnect=(0.05, 0.1))
    return source.follow({}, window=Window(days=1, end_ms=int(time.time() * 1000)), poll_seconds=1)


async def test_one_connection_per_process_and_a_ban_is_waited_out_said_once(portal, caplog):
    async with reading(follow(portal.url), follow(portal.url)) as got:
        await wait_for(lambda: len(portal.subscribed) == 1)
        portal.announce(Launch(index=1, block_time=1))
        await wait_for(lambda: sum(map(len, got)) == 1)
        assert portal.handshakes == 1 and not portal.banned  # the second source did not connect
        assert "connected already" in caplog.text

        portal.ban(seconds=3600)  # as PumpPortal does: the connection closes with 1008
        await asyncio.sleep(1.0)
        assert portal.handshakes == 1  # the ban is waited out: not even a refused handshake meanwhile
    # The feed's next run opens a new source: the process still keeps away, and says nothing new.
    async with reading(follow(portal.url)):
        await asyncio.sleep(1.0)
    assert portal.handshakes == 1
    assert caplog.text.count("PumpPortal banned this address") == 1


async def test_frames_that_are_not_creates_cost_nothing(portal, caplog):
    async with reading(follow(portal.url)) as (got,):
        await wait_for(lambda: len(portal.subscribed) == 1)
        for frame in ("{broken", "[1, 2]", '{"txType": "buy", "mint": "x"}', b"\x00\xff"):
            portal.send_raw(frame)
        launch = Launch(index=7, block_time=1)
        portal.announce(launch, vSolInBondingCurve=42.5, vTokensInBondingCurve=757_000_000.0)
        await wait_for(lambda: len(got) == 1)
    [record] = got
    assert (record.mint, record.signature, record.upstream) == (launch.mint, launch.signature, PUMPPORTAL)
    assert record.virtual_sol_lamports == 42.5 * 1e9 and record.virtual_token_reserves == 757_000_000.0 * 1e6
    assert caplog.text.count("skipped a frame") == 1


async def test_the_merge_takes_each_mint_once_and_every_create_of_a_bundle():
    async def stream(*pages):
        for page in pages:
            yield page

    bundle = [Launch(index=1, block_time=1), Launch(index=2, block_time=1)]
    shared = bundle[0].signature  # one transaction, two creates: one signature, two mints
    chain = [coin_launch({"mint": launch.mint, "signature": shared}) for launch in bundle]
    api = [coin_launch({"mint": bundle[0].mint})]  # the web API gives no signature
    portal = [coin_launch({"mint": bundle[1].mint, "signature": shared})]
    pages = [page async for page in merged_follow(stream(chain), [stream(api, portal)])]
    assert sorted(launch.mint for page in pages for launch in page) == sorted(launch.mint for launch in bundle)

"""The board hub: one subscription per process for all of its pages, every message to every page in
order, and a lost channel layer closing the pages so they reconnect and catch up."""

import asyncio
import json
import logging

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from project.asgi import application
from tests.fakes.coins import make_history
from tests.helpers import queue_run
from tokens.board.hub import TRY_AGAIN_LATER
from tokens.live.messages import BOARD_GROUP
from tokens.runs.loader import execute_run

pytestmark = pytest.mark.django_db(transaction=True)


def board_socket(*, query: str = "") -> WebsocketCommunicator:
    path = f"/ws/tokens/?{query}" if query else "/ws/tokens/"
    return WebsocketCommunicator(application, path, headers=[(b"origin", b"http://localhost"), (b"host", b"localhost")])


async def batches_until_finished(socket: WebsocketCommunicator) -> list[dict]:
    batches = []
    while True:
        message = await socket.receive_json_from(timeout=5)
        if message["type"] == "batch":
            batches.append(message)
        if message["type"] == "run" and message["status"] not in ("queued", "running"):
            return batches


async def test_forty_pages_get_every_batch_in_order_through_one_subscription(pumpfun, settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.WS_MAX_PER_IP = 100  # every test page comes from one address
    layer = get_channel_layer()
    pumpfun.coins = make_history(35)
    pages = [board_socket() for _ in range(40)]
    for page in pages:
        assert (await page.connect())[0]
    assert len(layer.groups[BOARD_GROUP]) == 1  # the process, not each page

    run = await sync_to_async(queue_run)(days=1, batch_size=10)
    await execute_run(run_id=run.pk)

    everyone = await asyncio.gather(*(batches_until_finished(page) for page in pages))
    expected = [coin["mint"] for coin in pumpfun.coins]
    for batches in everyone:
        assert [b["index"] for b in batches] == [1, 2, 3, 4]
        assert [t["mint"] for b in batches for t in b["tokens"]] == expected

    for page in pages[:39]:
        await page.disconnect()
    assert len(layer.groups[BOARD_GROUP]) == 1  # one page still reads
    await pages[39].disconnect()
    assert not layer.groups.get(BOARD_GROUP)  # the last page gone: the process leaves the group


async def test_a_page_that_leaves_mid_run_does_not_hold_up_the_others(pumpfun, settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    pumpfun.coins = make_history(30)
    staying, leaving = board_socket(), board_socket()
    await staying.connect()
    await leaving.connect()
    run = await sync_to_async(queue_run)(days=1, batch_size=10)
    task = asyncio.create_task(execute_run(run_id=run.pk))
    first = await leaving.receive_json_from(timeout=5)
    await leaving.disconnect()
    await task
    batches = await batches_until_finished(staying)
    await staying.disconnect()
    assert first["type"] == "run"
    assert sum(len(b["tokens"]) for b in batches) == 30


async def test_a_page_hears_the_run_first_and_then_every_message_in_order(settings):
    """Messages that reach the hub while a page is still reading the run's state wait for it."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    layer = get_channel_layer()
    await sync_to_async(queue_run)(days=1)
    first_page = board_socket()
    await first_page.connect()  # the hub is running
    page = board_socket()
    connecting = asyncio.create_task(page.connect())
    sent = 0
    while not connecting.done():
        sent += 1
        await layer.group_send(BOARD_GROUP, {"type": "board.event", "text": json.dumps({"type": "ping", "n": sent})})
        await asyncio.sleep(0)
    assert (await connecting)[0]
    assert sent > 1  # messages did arrive while it connected
    sent += 1
    await layer.group_send(BOARD_GROUP, {"type": "board.event", "text": json.dumps({"type": "ping", "n": sent})})
    hello = await page.receive_json_from(timeout=5)
    numbers = []
    while not numbers or numbers[-1] != sent:
        numbers.append((await page.receive_json_from(timeout=5))["n"])
    await page.disconnect()
    await first_page.disconnect()
    assert hello["type"] == "run"
    assert numbers == sorted(numbers) and len(numbers) == len(set(numbers))


async def test_a_page_whose_connect_fails_is_not_kept(settings):
    """The run's state cannot be read (its table is gone for a moment): the socket ends, and the hub
    does not keep writing to it."""
    from django.db import connection

    from tokens.board.hub import hub_for

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    layer = get_channel_layer()
    staying = board_socket()
    await staying.connect()

    def rename(old: str, new: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {old} RENAME TO {new}")

    await sync_to_async(rename)("tokens_loadrun", "tokens_loadrun_away")
    try:
        for _ in range(3):
            refused = board_socket()
            await refused.connect()  # accepted, then the run's state fails
            with pytest.raises(Exception):  # noqa: B017  (the database's error, whichever backend)
                await refused.wait(timeout=5)
    finally:
        await sync_to_async(rename)("tokens_loadrun_away", "tokens_loadrun")
    assert hub_for(layer).pages == 1
    await staying.disconnect()
    assert hub_for(layer).pages == 0 and not layer.groups.get(BOARD_GROUP)


async def test_a_quiet_process_stays_in_the_group_past_the_layers_expiry(settings, monkeypatch):
    """A layer forgets a group member after `group_expiry` (a day on Redis): the hub joins again."""
    from tokens.board import hub

    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"group_expiry": 2}}
    }
    monkeypatch.setattr(hub, "REJOIN_SECONDS", 0.3)
    page = board_socket()
    assert (await page.connect())[0]
    await asyncio.sleep(4)  # twice the expiry without a message
    await get_channel_layer().group_send(BOARD_GROUP, {"type": "board.event", "text": '{"type": "ping"}'})
    assert await page.receive_json_from(timeout=5) == {"type": "ping"}
    await page.disconnect()


@pytest.mark.production
async def test_a_redis_that_dies_closes_every_page_to_reconnect_and_a_new_page_is_served_when_it_is_back(
    own_redis, settings
):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [own_redis["url"]]}}
    }
    pages = [board_socket() for _ in range(3)]
    for page in pages:
        assert (await page.connect())[0]

    own_redis["process"].kill()
    own_redis["process"].wait()
    closes = [await page.receive_output(timeout=30) for page in pages]
    assert [(c["type"], c["code"]) for c in closes] == [("websocket.close", TRY_AGAIN_LATER)] * 3

    restarted = await asyncio.to_thread(_restart, own_redis)
    try:
        page = board_socket()
        assert (await page.connect())[0]
        await get_channel_layer().group_send(BOARD_GROUP, {"type": "board.event", "text": '{"type": "ping"}'})
        assert await page.receive_json_from(timeout=5) == {"type": "ping"}
        await page.disconnect()
    finally:
        restarted.kill()
        restarted.wait()


def _restart(own_redis):
    import subprocess

    from tests.live import wait_for_port

    process = subprocess.Popen(own_redis["command"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(own_redis["port"], process)
    return process


class HeldPage:
    """A page whose writes wait for `gate`: it holds the hub's round, as a slow socket's turn would."""

    takes_bundles = False

    def __init__(self, gate: asyncio.Event) -> None:
        self.gate = gate
        self.frames: list[str] = []
        self.holding = asyncio.Event()

    async def send_board_text(self, text: str) -> None:
        self.holding.set()
        await self.gate.wait()
        self.frames.append(text)

    async def close(self, code=None, reason=None) -> None:
        pass


def ping(number: int) -> str:
    return json.dumps({"type": "ping", "n": number, "name": f'a "quoted" name {number}'})


async def until(condition, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the condition never came true"
        await asyncio.sleep(0.01)


async def hold_a_round(hub, layer, *, held: HeldPage, texts: list[str]) -> None:
    """The first text's round held by a page, the others sent meanwhile and waiting in the hub."""
    await layer.group_send(BOARD_GROUP, {"type": "board.event", "text": texts[0]})
    await asyncio.wait_for(held.holding.wait(), 5)
    for text in texts[1:]:
        await layer.group_send(BOARD_GROUP, {"type": "board.event", "text": text})
    await until(lambda: len(hub._waiting.texts) == len(texts) - 1)
    held.gate.set()


async def test_messages_that_wait_for_a_round_reach_a_bundling_page_in_one_frame_and_others_one_by_one(settings):
    """The board's own page asks for bundles (`?frames=bundle`); an API client that does not gets one
    message a frame. Both get every message, in order."""
    from tokens.board.hub import hub_for

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    layer = get_channel_layer()
    bundling = board_socket(query="frames=bundle")
    single = board_socket()
    for page in (bundling, single):
        assert (await page.connect())[0]
    hub = hub_for(layer)
    gate = asyncio.Event()
    held = HeldPage(gate)
    await hub.join(held)
    texts = [ping(n) for n in range(1, 5)]

    await hold_a_round(hub, layer, held=held, texts=texts)

    frames = [await bundling.receive_from(timeout=5) for _ in range(2)]
    singles = [await single.receive_from(timeout=5) for _ in range(4)]
    await until(lambda: len(held.frames) == 4)
    for page in (bundling, single):
        assert await page.receive_nothing(timeout=0.1)
        await page.disconnect()
    await hub.leave(held)
    assert frames[0] == texts[0]
    assert json.loads(frames[1]) == {"type": "bundle", "messages": [json.loads(t) for t in texts[1:]]}
    assert singles == texts and held.frames == texts


async def test_a_round_holds_a_bounded_share_of_what_waits_and_the_rest_follows(settings, monkeypatch):
    from tokens.board import hub as hub_module

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    layer = get_channel_layer()
    texts = [ping(n) for n in range(1, 6)]
    monkeypatch.setattr(hub_module, "ROUND_CHARS", 2 * len(texts[1]) + 1)  # two of these, not three
    bundling = board_socket(query="frames=bundle")
    assert (await bundling.connect())[0]
    hub = hub_module.hub_for(layer)
    gate = asyncio.Event()
    held = HeldPage(gate)
    await hub.join(held)

    await hold_a_round(hub, layer, held=held, texts=texts)

    frames = [json.loads(await bundling.receive_from(timeout=5)) for _ in range(3)]
    await bundling.disconnect()
    await hub.leave(held)
    assert frames[0] == json.loads(texts[0])
    assert frames[1] == {"type": "bundle", "messages": [json.loads(t) for t in texts[1:3]]}
    assert frames[2] == {"type": "bundle", "messages": [json.loads(t) for t in texts[3:5]]}


async def test_a_hub_that_lost_the_layer_with_messages_waiting_serves_its_next_pages(settings, monkeypatch):
    """What waited for a round goes with the lost layer (the pages catch up from their cursor); the
    next subscription's rounds start clean."""
    from tokens.board.hub import hub_for

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    layer = get_channel_layer()
    hub = hub_for(layer)
    held = HeldPage(asyncio.Event())
    await hub.join(held)
    await layer.group_send(BOARD_GROUP, {"type": "board.event", "text": ping(1)})
    await asyncio.wait_for(held.holding.wait(), 5)
    await layer.group_send(BOARD_GROUP, {"type": "board.event", "text": ping(2)})
    await until(lambda: len(hub._waiting.texts) == 1)

    async def lost(channel):
        raise ConnectionError("the layer went away")

    receive = layer.receive
    monkeypatch.setattr(layer, "receive", lost)
    await layer.group_send(BOARD_GROUP, {"type": "board.event", "text": ping(3)})  # the last one it takes
    await until(lambda: hub.pages == 0)
    monkeypatch.setattr(layer, "receive", receive)

    page = board_socket()
    assert (await page.connect())[0]
    await layer.group_send(BOARD_GROUP, {"type": "board.event", "text": ping(4)})
    assert json.loads(await page.receive_from(timeout=5))["n"] == 4
    await page.disconnect()


async def test_a_process_that_falls_far_behind_drops_the_oldest_and_says_so_once(settings, monkeypatch, caplog):
    """Its pages see the cursor jump and catch up through the API, as when a layer's channel was full."""
    from tokens.board import hub as hub_module

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    monkeypatch.setattr(hub_module, "WAITING_CAP", 3)
    layer = get_channel_layer()
    bundling = board_socket(query="frames=bundle")
    assert (await bundling.connect())[0]
    hub = hub_module.hub_for(layer)
    held = HeldPage(asyncio.Event())
    await hub.join(held)
    texts = [ping(n) for n in range(1, 8)]
    with caplog.at_level(logging.WARNING, logger="tokens.board.hub"):
        await layer.group_send(BOARD_GROUP, {"type": "board.event", "text": texts[0]})
        await asyncio.wait_for(held.holding.wait(), 5)
        for text in texts[1:]:
            await layer.group_send(BOARD_GROUP, {"type": "board.event", "text": text})
        await until(lambda: hub._waiting.dropped == 3)
        held.gate.set()
        frames = [json.loads(await bundling.receive_from(timeout=5)) for _ in range(2)]
    await bundling.disconnect()
    await hub.leave(held)
    assert frames[0] == json.loads(texts[0])
    assert frames[1] == {"type": "bundle", "messages": [json.loads(t) for t in texts[4:]]}  # the newest three
    warnings = [r.getMessage() for r in caplog.records if r.name == "tokens.board.hub"]
    assert len(warnings) == 1 and "fell 3 messages behind" in warnings[0]


def test_a_message_orjson_refuses_is_still_json_and_a_bundle_of_it_reads_whole():
    """A lone surrogate (an upstream's error text) sends the message to the standard library, whose
    NaN is no JSON: it becomes null, as orjson writes it, and the bundle around it still parses."""
    from tokens.live.messages import bundle_text, encode

    odd = encode({"type": "retry", "text": "bad \ud800 text", "figure": float("nan"), "far": float("inf")})
    assert json.loads(odd) == {"type": "retry", "text": "bad \ud800 text", "figure": None, "far": None}
    bundle = json.loads(bundle_text([odd, ping(2)]), parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert [message["type"] for message in bundle["messages"]] == ["retry", "ping"]

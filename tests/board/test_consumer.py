"""The board websocket: a page connected during a run gets the run's messages and every batch, in order."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from project.asgi import application
from tests.fakes.coins import make_history
from tests.helpers import queue_run
from tokens.runs.loader import execute_run

pytestmark = pytest.mark.django_db(transaction=True)


def board_socket(origin: bytes = b"http://localhost") -> WebsocketCommunicator:
    return WebsocketCommunicator(application, "/ws/tokens/", headers=[(b"origin", origin), (b"host", b"localhost")])


async def receive_until_finished(socket: WebsocketCommunicator) -> list[dict]:
    messages = []
    while True:
        message = await socket.receive_json_from(timeout=5)
        messages.append(message)
        if message["type"] == "run" and message["status"] not in ("queued", "running"):
            return messages


async def test_batch_and_run_messages_arrive_in_order(pumpfun):
    pumpfun.coins = make_history(23)
    socket = board_socket()
    connected, _ = await socket.connect()
    assert connected
    run = await sync_to_async(queue_run)(days=1, batch_size=10)
    await execute_run(run_id=run.pk)

    messages = await receive_until_finished(socket)
    await socket.disconnect()

    assert [m["type"] for m in messages] == ["run", "batch", "batch", "batch", "run"]
    assert [m["status"] for m in messages if m["type"] == "run"] == ["running", "succeeded"]
    batches = [m for m in messages if m["type"] == "batch"]
    assert [b["index"] for b in batches] == [1, 2, 3]
    assert [len(b["tokens"]) for b in batches] == [10, 10, 3]
    assert [b["progress"]["processed"] for b in batches] == [10, 20, 23]
    assert all(b["run_id"] == run.pk for b in batches)
    mints = [t["mint"] for b in batches for t in b["tokens"]]
    assert mints == [coin["mint"] for coin in pumpfun.coins]
    first = batches[0]["tokens"][0]
    assert set(first) >= {"mint", "name", "symbol", "created_timestamp", "usd_market_cap"}
    assert first["created_timestamp"] == pumpfun.coins[0]["created_timestamp"]
    assert "holders" not in first and "volume_5m_usd" not in first  # unknown: null, left out of a batch row
    assert messages[-1]["progress"]["percent"] == 100.0


async def test_a_page_that_joins_late_gets_the_latest_run_state_at_once(pumpfun):
    pumpfun.coins = make_history(5)
    run = await sync_to_async(queue_run)(days=1)
    await execute_run(run_id=run.pk)
    socket = board_socket()
    await socket.connect()
    hello = await socket.receive_json_from(timeout=5)
    await socket.disconnect()
    assert (hello["type"], hello["run_id"], hello["status"]) == ("run", run.pk, "succeeded")
    assert hello["progress"]["accepted"] == 5


async def test_a_foreign_origin_is_refused():
    socket = board_socket(origin=b"https://evil.example")
    connected, _ = await socket.connect()
    assert not connected


async def test_batch_cursors_rise_by_one_across_runs(pumpfun):
    pumpfun.coins = make_history(25)
    socket = board_socket()
    await socket.connect()
    for source in ("recent", "trending"):
        run = await sync_to_async(queue_run)(days=1, batch_size=10, source=source)
        await execute_run(run_id=run.pk)
    messages = await receive_until_finished(socket)
    messages += await receive_until_finished(socket)
    await socket.disconnect()
    cursors = [m["cursor"] for m in messages if m["type"] == "batch"]
    assert cursors == list(range(1, 7))


async def test_a_client_whose_channel_overflows_catches_up_from_the_api(pumpfun, settings):
    """The layer drops messages for a channel over capacity, silently (a web process's one board
    channel, or, here, a client's own). The client sees the cursor jump (or the run end) and asks the
    API for everything after its cursor."""
    from channels.layers import get_channel_layer
    from django.test import AsyncClient

    from tokens.live.messages import BOARD_GROUP

    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 3}}
    }
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(BOARD_GROUP, channel)
    pumpfun.coins = make_history(120)
    run = await sync_to_async(queue_run)(days=1, batch_size=10)
    await execute_run(run_id=run.pk)  # the client reads nothing meanwhile

    received = []
    while True:
        try:
            received.append(json.loads((await asyncio.wait_for(layer.receive(channel), timeout=0.2))["text"]))
        except TimeoutError:
            break
    batches = [m for m in received if m["type"] == "batch"]
    assert len(received) == 3 and len(batches) < 12  # the rest was dropped
    board = {t["mint"]: t for m in batches for t in m["tokens"]}
    cursor = max(m["cursor"] for m in batches)

    client = AsyncClient()
    more = True
    while more:
        page = (await client.get(f"/api/changes/?after={cursor}")).json()
        board.update({t["mint"]: t for t in page["tokens"]})
        cursor, more = page["cursor"], page["more"]

    assert set(board) == {coin["mint"] for coin in pumpfun.coins}
    assert cursor == 12

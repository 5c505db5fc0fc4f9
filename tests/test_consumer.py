"""The board websocket: a page connected during a run gets the run's messages and every batch, in order."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from project.asgi import application
from tests.fakes.coins import make_history
from tests.helpers import queue_run
from tokens.loader import execute_run

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
    assert set(first) >= {"mint", "name", "symbol", "created_timestamp", "usd_market_cap", "holders"}
    assert first["created_timestamp"] == pumpfun.coins[0]["created_timestamp"]
    assert first["holders"] is None
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

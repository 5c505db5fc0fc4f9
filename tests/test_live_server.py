"""The whole loop in a real Daphne process: press Load, watch batches arrive on a websocket.

The server runs as it does for `make run` (its own SQLite file, the in-memory channel layer); the
test logs in as staff over HTTP, posts to /runs/ with the CSRF token, and reads the board socket.
"""

import asyncio
import json
import re
import time

import httpx
import websockets

from tests.fakes.coins import make_coin, make_history, now_ms
from tests.live import PASSWORD


def post_run(session: httpx.Client, base: str, **fields: str) -> None:
    """What the Load button sends: the form fields, the CSRF token, and a wish for JSON."""
    response = session.post(
        "/runs/",
        data=fields,
        headers={"Accept": "application/json", "X-CSRFToken": session.cookies["csrftoken"], "Referer": base + "/"},
    )
    assert response.status_code == 202, response.text


def staff_session(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=10)
    client.get("/admin/login/")
    login = client.post(
        "/admin/login/?next=/",
        data={"username": "ops", "password": PASSWORD, "csrfmiddlewaretoken": client.cookies["csrftoken"]},
        headers={"Referer": f"{base}/admin/login/"},
    )
    assert login.status_code == 302, login.text[:500]
    return client


async def watch_run(host: str, start_run) -> tuple[list[tuple[float, dict]], float]:
    """Connect, press Load, and collect (arrival time, message) until the run ends."""
    received: list[tuple[float, dict]] = []
    async with websockets.connect(f"ws://{host}/ws/tokens/", origin=f"http://{host}") as ws:
        pressed_at = time.monotonic()
        await asyncio.to_thread(start_run)
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout=20))
            received.append((time.monotonic() - pressed_at, message))
            if message["type"] == "run" and message["status"] in ("succeeded", "failed", "cancelled"):
                return received, pressed_at


def test_press_load_and_watch_every_token_arrive_once_batch_by_batch(server, upstream):
    now = now_ms()
    expected = make_history(300, newest_ms=now - 1_000, spacing_ms=10_000)
    upstream.coins = [*expected, *(make_coin(5_000 + i, created_ms=now - 3 * 86_400_000 - i) for i in range(60))]
    base = f"http://{server}"
    session = staff_session(base)

    def press_load():
        post_run(session, base, days="1", batch_size="25", source="recent")

    received, _ = asyncio.run(watch_run(server, press_load))

    batches = [(at, m) for at, m in received if m["type"] == "batch"]
    finished_at, final = received[-1]
    assert final["status"] == "succeeded"
    assert len(batches) == 12
    first_batch_at = batches[0][0]
    # Seven pages at 4 a second and 150 ms each: the first batch comes after about one round trip,
    # the end after the rate limit lets the last page through.
    assert first_batch_at < 1.0
    assert finished_at - first_batch_at > 0.5
    mints = [token["mint"] for _, m in batches for token in m["tokens"]]
    assert len(mints) == len(set(mints)) == 300
    assert set(mints) == {coin["mint"] for coin in expected}
    assert [m["progress"]["processed"] for _, m in batches] == list(range(25, 301, 25))

    page = session.get("/").text
    # The first render holds the live view's rows.
    assert (
        len(re.findall(r'<tr class="token-row" id="token-[1-9A-HJ-NP-Za-km-z]+"', page)) == 300
    )  # the first render holds the live view's rows
    api = session.get("/api/tokens/?limit=1").json()
    assert api["count"] == 300


async def reconnecting_client(host: str, base: str, start_run) -> tuple[dict[str, dict], int, int]:
    """A client that follows the board protocol: it drops its socket after two batches, stays away
    while the run goes on, reconnects, and asks the API for what it missed."""
    board: dict[str, dict] = {}
    cursor = 0
    deliveries = 0
    origin = f"http://{host}"

    async def catch_up(api: httpx.AsyncClient) -> None:
        nonlocal cursor
        more = True
        while more:
            page = (await api.get(f"/api/changes/?after={cursor}")).json()
            board.update({t["mint"]: t for t in page["tokens"]})
            cursor, more = page["cursor"], page["more"]

    async with httpx.AsyncClient(base_url=base) as api:
        async with websockets.connect(f"ws://{host}/ws/tokens/", origin=origin) as ws:
            await asyncio.to_thread(start_run)
            while deliveries < 2:
                message = json.loads(await asyncio.wait_for(ws.recv(), timeout=20))
                if message["type"] == "batch":
                    deliveries += 1
                    board.update({t["mint"]: t for t in message["tokens"]})
                    cursor = message["cursor"]
        await asyncio.sleep(0.8)  # away while batches are stored and broadcast without us
        async with websockets.connect(f"ws://{host}/ws/tokens/", origin=origin) as ws:
            await catch_up(api)
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), timeout=20))
                if message["type"] == "batch":
                    deliveries += 1
                    board.update({t["mint"]: t for t in message["tokens"]})
                    if message["cursor"] > cursor + 1:
                        await catch_up(api)
                    cursor = max(cursor, message["cursor"])
                elif message["status"] in ("succeeded", "failed", "cancelled"):
                    await catch_up(api)  # batches stored between our catch-up and the socket
                    return board, deliveries, cursor


def test_a_client_that_drops_its_socket_mid_run_ends_with_every_token_once(server, upstream):
    now = now_ms()
    expected = make_history(300, newest_ms=now - 1_000, spacing_ms=10_000)
    upstream.coins = [*expected, *(make_coin(5_000 + i, created_ms=now - 3 * 86_400_000 - i) for i in range(60))]
    base = f"http://{server}"
    session = staff_session(base)

    def press_load():
        post_run(session, base, days="1", batch_size="20", source="recent")

    board, deliveries, cursor = asyncio.run(reconnecting_client(server, base, press_load))
    assert set(board) == {coin["mint"] for coin in expected}
    assert deliveries < 15  # it really missed batches while away
    assert cursor == 15

"""Abuse controls and hardening: CSP and Permissions-Policy, staff-only process names, per-address
limits on the API, websockets and admin logins, the websocket's origin with its port, and malformed
frames closed with 4003 (1003 in Daphne's allowed range) and one log line."""

import contextlib
import logging
import socket as socketlib
import threading

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from project.asgi import application
from tokens.board import page_cache, throttle, ws_guard
from tokens.live.outage import Outage
from tokens.models import LoadRun

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_counts():
    throttle.reset()
    ws_guard._open.clear()
    yield


def socket(origin: bytes, host: bytes = b"localhost:8000") -> WebsocketCommunicator:
    return WebsocketCommunicator(application, "/ws/tokens/", headers=[(b"origin", origin), (b"host", host)])


def test_pages_and_the_api_carry_a_csp_without_inline_script_and_a_permissions_policy():
    for path in ("/", "/api/tokens/", "/admin/login/"):
        response = Client().get(path)
        policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
        assert policy["script-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
        assert "camera=()" in response["Permissions-Policy"]
    page = Client().get("/").content.decode()
    scripts = page.count("<script")
    assert scripts == page.count('<script src="') + page.count('type="application/json"')


def test_which_process_ran_a_run_is_for_staff_only(admin_client):
    run = LoadRun.objects.create(
        source="recent", days=1, batch_size=10, origin="command", status="succeeded", executed_by="host-a:123"
    )
    assert "executed_by" not in Client().get(f"/api/runs/{run.pk}/").json()
    assert "executed_by" not in Client().get("/api/runs/").json()["runs"][0]
    assert admin_client.get(f"/api/runs/{run.pk}/").json()["executed_by"] == "host-a:123"


def test_anonymous_api_reads_are_limited_per_address_and_staff_are_not(settings, admin_client):
    settings.API_REQUESTS_PER_MINUTE = 5
    client = Client()
    assert [client.get("/api/tokens/").status_code for _ in range(5)] == [200] * 5
    refused = client.get("/api/tokens/")
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 60
    assert "too many requests" in refused.json()["error"]
    assert Client(REMOTE_ADDR="10.0.0.9").get("/api/tokens/").status_code == 200  # another address
    assert [admin_client.get("/api/tokens/").status_code for _ in range(8)] == [200] * 8
    assert client.get("/").status_code == 200  # the page itself is not the API


def test_admin_logins_pause_after_repeated_failures(settings, admin_user):
    settings.LOGIN_FAILURES_ALLOWED = 3
    client = Client()
    for _ in range(3):
        page = client.post("/admin/login/", {"username": "admin", "password": "wrong"}).content.decode()
        assert "Please enter the correct username and password" in page
    page = client.post("/admin/login/", {"username": "admin", "password": "password"}).content.decode()
    assert "Too many failed logins; try again in 15 minutes." in page
    other = Client(REMOTE_ADDR="10.0.0.7").post("/admin/login/", {"username": "admin", "password": "password"})
    assert other.status_code == 302  # another address is not held back


def test_a_login_that_succeeds_forgets_the_failures_before_it(settings, admin_user):
    settings.LOGIN_FAILURES_ALLOWED = 3
    client = Client()
    for password in ("wrong", "wrong", "password", "wrong", "wrong"):
        answer = client.post("/admin/login/", {"username": "admin", "password": password})
        assert "Too many failed logins" not in answer.content.decode()
    assert client.post("/admin/login/", {"username": "admin", "password": "password"}).status_code == 302


@pytest.fixture
def silent_store(settings, monkeypatch):
    """A Redis address that accepts connections and never answers, for the limits and the answer
    cache; counts the connections it is sent."""
    server = socketlib.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                accepted.append(server.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    url = f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    timeouts = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
    settings.LIMITS_STORAGE_URI = url
    settings.CACHES = {**settings.CACHES, "api": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                                  "LOCATION": url, "OPTIONS": timeouts}}  # fmt: skip
    # Fresh health for both, and a retry pause no test run outlasts (the count below is exact).
    monkeypatch.setattr(throttle, "_store", Outage("the rate-limit store", log=logging.getLogger("test")))
    monkeypatch.setattr(page_cache, "_cache", Outage("the API answer cache", log=logging.getLogger("test")))
    monkeypatch.setattr(throttle, "STORE_RETRY_SECONDS", 600.0)
    monkeypatch.setattr(page_cache, "RETRY_SECONDS", 600.0)
    yield accepted
    server.close()
    for connection in accepted:
        connection.close()


def test_a_store_that_never_answers_is_tried_once_and_holds_no_request(silent_store):
    client = Client()
    assert [client.get("/api/tokens/").status_code for _ in range(5)] == [200] * 5
    assert len(silent_store) == 2  # one try for the limits, one for the cache; then both are skipped
    assert throttle._store.down and page_cache._cache.down


@pytest.mark.parametrize(
    "origin, accepted",
    [
        (b"http://localhost:8000", True),
        (b"http://localhost:8001", False),  # another port is another origin
        (b"http://localhost", False),
        (b"https://evil.example:8000", False),
        (b"null", False),
    ],
)
async def test_the_websocket_origin_must_match_scheme_host_and_port(origin, accepted):
    board = socket(origin)
    connected, _ = await board.connect()
    assert connected is accepted
    if connected:
        await board.disconnect()


async def test_one_address_gets_a_bounded_number_of_websockets(settings):
    settings.WS_MAX_PER_IP = 2
    first, second, third = (socket(b"http://localhost:8000") for _ in range(3))
    assert (await first.connect())[0] and (await second.connect())[0]
    connected, _ = await third.connect()
    assert connected  # accepted only to be told why...
    assert (await third.receive_output(timeout=2)) == {"type": "websocket.close", "code": 4013}  # ...try later
    await first.disconnect()
    fourth = socket(b"http://localhost:8000")
    assert (await fourth.connect())[0]
    await second.disconnect()
    await fourth.disconnect()


async def test_a_malformed_frame_closes_the_socket_with_4003_and_one_log_line(caplog):
    caplog.set_level(logging.INFO, logger="tokens")
    board = socket(b"http://localhost:8000")
    assert (await board.connect())[0]
    await board.send_to(text_data="{not json")
    closed = await board.receive_output(timeout=2)
    while closed["type"] != "websocket.close":  # the run message a page gets on connect comes first
        closed = await board.receive_output(timeout=2)
    assert closed == {"type": "websocket.close", "code": 4003}
    lines = [r for r in caplog.records if "malformed frame" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None

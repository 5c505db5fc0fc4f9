"""Abuse controls and hardening: CSP and Permissions-Policy, staff-only process names, per-address
limits on the API, websockets and admin logins, the websocket's origin with its port, and malformed
frames closed with 4003 (1003 in Daphne's allowed range) and one log line."""

import logging

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from project.asgi import application
from tokens.board import throttle, ws_guard
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

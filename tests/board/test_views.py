"""Starting and cancelling runs from the page: staff only, CSRF, JSON or redirect; the JSON API."""

import json

import pytest
from django.contrib.auth.models import User
from django.test import AsyncClient, Client

from tests.fakes.coins import make_history
from tests.helpers import queue_run
from tokens.models import LoadRun, Token
from tokens.runs import tasks

pytestmark = pytest.mark.django_db(transaction=True)
JSON = {"Accept": "application/json"}


@pytest.fixture
def staff(db):
    return User.objects.create_user("ops", password="pw-for-tests-only", is_staff=True)


@pytest.fixture
def trader(db):
    return User.objects.create_user("trader", password="pw-for-tests-only")


async def staff_client(user) -> AsyncClient:
    client = AsyncClient(enforce_csrf_checks=False)
    await client.aforce_login(user)
    return client


async def test_staff_start_a_run_that_streams_to_completion(pumpfun, staff):
    pumpfun.coins = make_history(25)
    client = await staff_client(staff)
    response = await client.post("/runs/", {"days": "1", "batch_size": "10", "source": "recent"}, headers=JSON)
    assert response.status_code == 202
    run_id = response.json()["run_id"]
    await tasks.task_for(run_id)
    run = await LoadRun.objects.aget(pk=run_id)
    assert (run.status, run.origin, run.batch_size, run.days, run.accepted) == ("succeeded", "web", 10, 1.0, 25)
    assert run.requested_by_id == staff.pk
    detail = (await client.get(f"/api/runs/{run_id}/")).json()
    assert detail["status"] == "succeeded" and detail["progress"]["batches"] == 3


async def test_a_form_post_redirects_back_to_the_board(pumpfun, staff):
    client = await staff_client(staff)
    response = await client.post("/runs/", {"days": "1", "source": "recent"})
    assert response.status_code == 302 and response.url == "/"
    run = await LoadRun.objects.alatest("created_at")
    await tasks.task_for(run.pk)
    run = await LoadRun.objects.aget(pk=run.pk)
    assert run.batch_size == 10  # the settings' default when the form leaves it out
    assert run.status == "succeeded"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"days": "0"}, "days must be from 1 to 365, got 0"),
        ({"days": "366"}, "days must be from 1 to 365, got 366"),
        ({"days": "-3"}, "days must be a whole number"),
        ({"days": "1", "batch_size": "0"}, "batch size must be from 1 to 500, got 0"),
        ({"days": "1", "batch_size": "ten"}, "batch size must be a whole number"),
        ({"days": "1", "batch_size": "10001"}, "batch size must be from 1 to 500, got 10001"),
        ({"days": "1", "source": "dexscreener"}, "unknown source 'dexscreener'"),
    ],
)
async def test_bad_parameters_get_a_clear_error_and_start_nothing(staff, fields, message):
    client = await staff_client(staff)
    response = await client.post("/runs/", fields, headers=JSON)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert await LoadRun.objects.acount() == 0


def test_anonymous_and_non_staff_cannot_start_runs(trader):
    client = Client()
    assert client.post("/runs/", {"days": "1"}, headers=JSON).status_code == 403
    redirect = client.post("/runs/", {"days": "1"})
    assert redirect.status_code == 302 and redirect.url.startswith("/admin/login/")
    client.force_login(trader)
    assert client.post("/runs/", {"days": "1"}, headers=JSON).status_code == 403
    assert LoadRun.objects.count() == 0


def test_csrf_is_required(staff):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    assert client.post("/runs/", {"days": "1"}, headers=JSON).status_code == 403
    page = client.get("/")
    token = page.cookies["csrftoken"].value
    response = client.post("/runs/", {"days": "1", "source": "recent"}, headers={**JSON, "X-CSRFToken": token})
    assert response.status_code == 202
    LoadRun.objects.filter(pk=response.json()["run_id"]).update(status=LoadRun.Status.CANCELLED)


def test_cancel_a_queued_run_is_staff_only(staff, trader):
    run = queue_run(days=1)
    client = Client()
    client.force_login(trader)
    assert client.post(f"/runs/{run.pk}/cancel/", headers=JSON).status_code == 403
    client.force_login(staff)
    response = client.post(f"/runs/{run.pk}/cancel/", headers=JSON)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert client.post("/runs/999/cancel/", headers=JSON).status_code == 404
    assert client.get(f"/runs/{run.pk}/cancel/").status_code == 405


async def test_cancel_a_running_run_from_the_page(pumpfun, staff):
    pumpfun.coins = make_history(400)
    client = await staff_client(staff)
    started = {}

    def cancel_once_started(fake, params):
        if params["offset"] == "94":
            started["yes"] = True
            LoadRun.objects.filter(status="running").update(cancel_requested=True)

    pumpfun.before_page = cancel_once_started
    response = await client.post("/runs/", {"days": "1", "batch_size": "50", "source": "recent"}, headers=JSON)
    run_id = response.json()["run_id"]
    await tasks.task_for(run_id)
    run = await LoadRun.objects.aget(pk=run_id)
    assert run.status == "cancelled" and started
    assert await Token.objects.acount() == run.accepted < 400


def test_tokens_api_pages_the_board_newest_first(pumpfun):
    import asyncio

    from tests.helpers import run_load

    pumpfun.coins = make_history(7)
    asyncio.run(run_load(days=1))
    client = Client()
    first = client.get("/api/tokens/?limit=5").json()
    assert first["count"] == 7 and first["next_offset"] == 5
    assert [t["mint"] for t in first["tokens"]] == [c["mint"] for c in pumpfun.coins[:5]]
    rest = client.get("/api/tokens/?limit=5&offset=5").json()
    assert [t["mint"] for t in rest["tokens"]] == [c["mint"] for c in pumpfun.coins[5:]]
    assert rest["next_offset"] is None
    assert client.get("/api/tokens/?limit=abc").status_code == 400
    assert client.get("/api/tokens/?limit=100000").status_code == 400
    assert client.get("/api/runs/12345/").status_code == 404
    assert json.loads(client.get("/api/runs/").content)["runs"][0]["status"] == "succeeded"


def test_the_pages_stored_count_stops_at_its_cap_and_says_so(pumpfun, monkeypatch):
    import asyncio

    from tests.helpers import run_load
    from tokens.board import views

    pumpfun.coins = make_history(7)
    asyncio.run(run_load(days=1))
    from tokens.store import selectors

    monkeypatch.setattr(selectors, "COUNT_CAP", 5)
    monkeypatch.setattr(views, "COUNT_CAP", 5)
    page = Client().get("/").content.decode()
    assert '<span id="stored-count">5+</span>' in page and '"count_cap": 5' in page
    monkeypatch.setattr(selectors, "COUNT_CAP", 10)
    monkeypatch.setattr(views, "COUNT_CAP", 10)
    assert '<span id="stored-count">7</span>' in Client().get("/").content.decode()


async def test_the_page_picks_the_upstream_and_every_view_shows_which_one_served(solana, staff, settings):
    client = await staff_client(staff)
    response = await client.post("/runs/", {"days": "1", "source": "recent", "upstream": "chain"}, headers=JSON)
    assert response.status_code == 202
    run_id = response.json()["run_id"]
    await tasks.task_for(run_id)
    detail = (await client.get(f"/api/runs/{run_id}/")).json()
    assert detail["upstream"] == "chain" and detail["warning"].startswith("the Solana RPC")
    page = (await client.get("/")).content.decode()
    assert '<select name="upstream">' in page and '<strong id="run-upstream">chain</strong>' in page

    settings.SOLANA_RPC_URL = ""
    refused = await client.post("/runs/", {"days": "1", "source": "recent", "upstream": "chain"}, headers=JSON)
    assert refused.status_code == 400 and "needs SOLANA_RPC_URL" in refused.json()["error"]
    unknown = await client.post("/runs/", {"days": "1", "source": "recent", "upstream": "moon"}, headers=JSON)
    assert unknown.status_code == 400 and "unknown upstream 'moon'" in unknown.json()["error"]
    assert await LoadRun.objects.acount() == 1

"""The live tail: after a backfill, new launches keep streaming, with no gap and no repeat."""

import asyncio
import io
import json
import logging

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command

from tests.fakes.coins import make_coin, make_history, now_ms
from tests.helpers import queue_run, update_settings, wait_for
from tokens.models import LoadRun, Token
from tokens.runs.loader import execute_run
from tokens.runs.requests import request_cancel

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_tail_started_after_a_backfill_shows_later_launches_once(pumpfun):
    await sync_to_async(update_settings)(tail_interval_seconds=1)
    backfill = make_history(60, newest_ms=now_ms() - 2_000, spacing_ms=5_000)
    pumpfun.coins = [*backfill, *(make_coin(8_000 + i, created_ms=now_ms() - 3 * 86_400_000) for i in range(5))]
    run = await sync_to_async(queue_run)(days=1, batch_size=10, follow=True)
    task = asyncio.create_task(execute_run(run_id=run.pk))

    def tailing() -> bool:
        checkpoint = LoadRun.objects.get(pk=run.pk).checkpoint or {}
        return checkpoint.get("phase") == "tail"

    await wait_for(tailing)
    window_end = (await LoadRun.objects.aget(pk=run.pk)).window_end_ms
    # Launched while the backfill ran (after its window ended) and after it: both reach the tail.
    during = [make_coin(9_000, created_ms=window_end + 1), make_coin(9_001, created_ms=window_end + 2)]
    pumpfun.add_launches(during)
    await wait_for(lambda: Token.objects.count() == 62)
    later = [make_coin(9_100 + i, created_ms=now_ms() + i) for i in range(70)]  # more than a page at once
    pumpfun.add_launches(later)
    await wait_for(lambda: Token.objects.count() == 132)

    await sync_to_async(request_cancel)(run_id=run.pk)
    final = await asyncio.wait_for(task, timeout=10)
    assert final.status == LoadRun.Status.SUCCEEDED  # stopping a tail is how it ends
    mints = await sync_to_async(lambda: set(Token.objects.values_list("mint", flat=True)))()
    assert mints == {c["mint"] for c in backfill + during + later}
    assert final.fetched == 132 and final.accepted == 132  # nothing processed twice


def test_json_summary_for_scripts(pumpfun):
    pumpfun.coins = make_history(12)
    out = io.StringIO()
    call_command("load_historical_tokens", "--days", "1", "--batch-size", "5", "--json", stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    progress = summary["progress"]
    assert summary["status"] == "succeeded"
    assert (progress["processed"], progress["accepted"], progress["batches"]) == (12, 12, 3)
    assert summary["duration_seconds"] >= 0 and summary["error"] == ""


def test_quiet_off_a_terminal(pumpfun, caplog):
    pumpfun.coins = make_history(12)
    caplog.set_level(logging.INFO)
    call_command("load_historical_tokens", "--days", "1", "--batch-size", "5", stdout=io.StringIO())
    assert not [r for r in caplog.records if r.name.startswith("tokens") and r.levelno < logging.WARNING]
    call_command("load_historical_tokens", "--days", "1", "--batch-size", "5", "-v", "2", stdout=io.StringIO())
    assert [r for r in caplog.records if "batch 1:" in r.getMessage()]


def test_the_page_can_ask_for_a_tail(admin_client):
    response = admin_client.post(
        "/runs/", {"days": "1", "source": "recent", "follow": "1"}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 202
    run = LoadRun.objects.get(pk=response.json()["run_id"])
    assert run.follow
    LoadRun.objects.filter(pk=run.pk).update(status="cancelled")

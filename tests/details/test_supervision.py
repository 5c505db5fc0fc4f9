"""Supervised background work: the detail stage loses the database for a while (every claim of a
detail task refused by PostgreSQL), says so once per loop, shows the run as degraded on its page,
and comes back by itself; the run then finishes with every detail fetched."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from tests.fakes.chain import history
from tests.helpers import allow_writes, queue_run, refuse_writes, wait_for
from tokens.models import LoadRun
from tokens.runs.loader import execute_run

pytestmark = [pytest.mark.production, pytest.mark.django_db(transaction=True)]


async def test_a_detail_stage_without_its_database_recovers_and_says_so_once(solana, caplog):
    solana.add(*history(6, spacing_s=60))
    await sync_to_async(refuse_writes)(
        "refuse_detail_claims", table="tokens_detailtask", event="UPDATE",
        message="canceling statement due to conflict with recovery",
    )  # fmt: skip
    try:
        run = await sync_to_async(queue_run)(days=1, batch_size=6, upstream="chain")
        task = asyncio.create_task(execute_run(run_id=run.pk))
        await wait_for(lambda: "down since" in LoadRun.objects.get(pk=run.pk).degraded)
        page = (await sync_to_async(Client().get)("/")).content.decode()
        assert "Degraded: the" in page and "stage down since" in page and "Error); retrying" in page
        shown = (await sync_to_async(Client().get)(f"/api/runs/{run.pk}/")).json()
        assert "conflict with recovery" not in shown["degraded"]  # readers see the kind, the log the text
        await asyncio.sleep(3)  # more failed turns, with backoff: none of them said again
    finally:
        await sync_to_async(allow_writes)("refuse_detail_claims", table="tokens_detailtask")
    final = await asyncio.wait_for(task, timeout=60)
    assert final.status == LoadRun.Status.SUCCEEDED
    assert (final.details_queued, final.details_done) == (18, 18) and final.degraded == ""
    for stage in ("curve state", "holder count", "metadata"):
        assert caplog.text.count(f"the {stage} stage is down (ProgrammingError") == 1
        assert caplog.text.count(f"the {stage} stage works again") == 1

"""The always-on feed (`follow_launches`): the last hour on its first start, then new launches; a
restart continues from the previous feed's position with no gap and no repeat, on the chain and on
the web API; one feed at a time; a dead feed's process is seen at once; a person's Stop ends it."""

import asyncio
import contextlib
import io
import socket
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from tests.fakes.chain import Launch, history
from tests.fakes.coins import make_coin, now_ms
from tests.helpers import update_settings, wait_for
from tokens.models import LoadRun, Token
from tokens.runs.feed import FollowerRunning, follow_launches, prepare_run
from tokens.runs.requests import request_cancel
from tokens.sources.pumpfun_api.launch_source import ApiLaunchSource

pytestmark = pytest.mark.django_db(transaction=True)


def mints() -> set[str]:
    return set(Token.objects.values_list("mint", flat=True))


def feed_tailing() -> bool:
    run = LoadRun.objects.filter(origin=LoadRun.Origin.FOLLOWER).order_by("-pk").first()
    return run is not None and run.status == "running" and (run.checkpoint or {}).get("phase") == "tail"


async def stop_process(task: asyncio.Task) -> None:
    task.cancel()  # SIGTERM or Ctrl-C on the process
    # Bounded: a feed that does not stop is a failure that says where every task waits (once, in a
    # fresh-clone CI run, this await never returned), not a test run that hangs.
    await asyncio.wait({task}, timeout=30)
    if not task.done():
        stacks = io.StringIO()
        for each in asyncio.all_tasks():
            each.print_stack(file=stacks)
        pytest.fail(f"the feed did not stop within 30 s of its cancellation:\n{stacks.getvalue()}")
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_restarted_feed_continues_on_the_chain_after_its_last_launch(solana, settings):
    settings.FOLLOW_BACKFILL_MINUTES = 60
    await sync_to_async(update_settings)(tail_interval_seconds=1)
    recent = history(6, spacing_s=300)  # the last half hour
    older = history(4, newest_s=int(time.time()) - 3 * 3600, start=500)  # three hours ago: not loaded
    solana.add(*older, *recent, notify=False)
    task = asyncio.create_task(follow_launches())
    await wait_for(feed_tailing)
    await wait_for(lambda: len(solana.subscribers) == 1)
    assert await sync_to_async(mints)() == {launch.mint for launch in recent}
    live = [Launch(index=700 + i, block_time=int(time.time())) for i in range(3)]
    solana.add(*live)
    await wait_for(lambda: Token.objects.count() == 9)
    await stop_process(task)
    first = await LoadRun.objects.filter(origin="follower").alatest("pk")
    assert first.status == LoadRun.Status.SUCCEEDED

    while_down = [Launch(index=800 + i, block_time=int(time.time())) for i in range(4)]
    solana.add(*while_down, notify=False)
    task = asyncio.create_task(follow_launches())
    await wait_for(lambda: Token.objects.count() == 13)
    await wait_for(feed_tailing)
    await stop_process(task)
    second = await LoadRun.objects.filter(origin="follower").alatest("pk")
    assert second.pk != first.pk and second.status == LoadRun.Status.SUCCEEDED
    assert second.fetched == 4  # only what came while it was down: no backfill again, nothing twice
    expected = {launch.mint for launch in [*recent, *live, *while_down]}
    assert await sync_to_async(mints)() == expected


async def test_a_restarted_feed_continues_on_the_web_api(pumpfun, settings):
    settings.FOLLOW_BACKFILL_MINUTES = 30
    await sync_to_async(update_settings)(tail_interval_seconds=1)
    now = now_ms()
    recent = [make_coin(i, created_ms=now - 60_000 * (i + 1)) for i in range(5)]
    older = [make_coin(100 + i, created_ms=now - 3_600_000 - i) for i in range(3)]
    pumpfun.coins = [*recent, *older]
    task = asyncio.create_task(follow_launches())
    await wait_for(feed_tailing)
    assert await sync_to_async(mints)() == {coin["mint"] for coin in recent}
    await stop_process(task)
    while_down = [make_coin(200 + i, created_ms=now_ms() + i) for i in range(3)]
    pumpfun.add_launches(while_down)
    task = asyncio.create_task(follow_launches())
    await wait_for(lambda: Token.objects.count() == 8)
    await stop_process(task)
    runs = [run async for run in LoadRun.objects.filter(origin="follower").order_by("pk")]
    assert [run.status for run in runs] == ["succeeded", "succeeded"] and runs[1].fetched == 3
    assert await sync_to_async(mints)() == {coin["mint"] for coin in [*recent, *while_down]}


async def test_one_feed_at_a_time_and_a_person_can_stop_it(pumpfun):
    await sync_to_async(update_settings)(tail_interval_seconds=1)
    task = asyncio.create_task(follow_launches())
    await wait_for(feed_tailing)
    with pytest.raises(FollowerRunning, match=r"already follows new launches"):
        await sync_to_async(prepare_run)()
    run = await LoadRun.objects.filter(origin="follower").alatest("pk")
    await sync_to_async(request_cancel)(run_id=run.pk)  # "Stop following" on the page
    final = await asyncio.wait_for(task, timeout=10)
    assert final.pk == run.pk and final.status == LoadRun.Status.SUCCEEDED


class SwallowingTail(ApiLaunchSource):
    """The web API's tail, whose wait after an empty page swallows a cancellation, as Python 3.11's
    `asyncio.wait_for` does when the call it waits for ends at that moment (every HTTP request of
    a tail goes through one): the task stays `cancelling()`, and nothing raises it again."""

    waiting: asyncio.Event

    async def follow(self, position, *, window, poll_seconds):
        async for page in super().follow(position, window=window, poll_seconds=poll_seconds):
            yield page
            if not page:
                SwallowingTail.waiting.set()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.sleep(0.2)


async def test_a_feed_stopped_at_a_moment_its_tail_swallows_the_stop_still_stops(pumpfun, settings):
    """Once, in CI, a stopped feed never stopped: its tail went on turning on empty pages, and only
    a batch (none came) checked whether the task had been asked to stop."""
    settings.LAUNCH_SOURCES = {**settings.LAUNCH_SOURCES, "api": f"{__name__}.SwallowingTail"}
    await sync_to_async(update_settings)(tail_interval_seconds=1)
    SwallowingTail.waiting = asyncio.Event()
    task = asyncio.create_task(follow_launches())
    await wait_for(feed_tailing)
    SwallowingTail.waiting.clear()
    await SwallowingTail.waiting.wait()  # the tail is in its swallowing wait now
    task.cancel()
    await asyncio.wait({task}, timeout=10)
    assert task.done(), "the feed went on after it was stopped"
    with pytest.raises(asyncio.CancelledError):
        await task
    run = await LoadRun.objects.filter(origin="follower").alatest("pk")
    assert run.status == LoadRun.Status.SUCCEEDED  # a stopped tail whose backfill was complete


def test_a_feed_whose_process_is_gone_is_resumed_at_once(pumpfun):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run = LoadRun.objects.create(
        source="recent", days=1 / 24, batch_size=10, follow=True, upstream="api", origin="follower",
        status="running", executed_by=f"{socket.gethostname()}:{dead.pid}",
    )  # fmt: skip
    assert prepare_run() == (run.pk, True)  # no waiting for its heartbeat to go stale
    run.refresh_from_db()
    assert run.status == LoadRun.Status.INTERRUPTED


def test_a_feed_whose_lease_expired_on_another_host_is_taken_over(pumpfun):
    # The host crashed: its process cannot be seen from here, but it stopped renewing its lease.
    run = LoadRun.objects.create(
        source="recent", days=1 / 24, batch_size=10, follow=True, upstream="api", origin="follower",
        status="running", executed_by="another-host:1234", lease_epoch=3,
        lease_expires_at=timezone.now() - timedelta(minutes=10),
        checkpoint={"phase": "tail", "top_ms": 1, "boundary": []},
    )  # fmt: skip
    assert prepare_run() == (run.pk, True)
    run.refresh_from_db()
    assert run.status == LoadRun.Status.INTERRUPTED and "stopped renewing its lease" in run.error


def test_the_command_refuses_a_second_feed_with_one_line(pumpfun):
    LoadRun.objects.create(
        source="recent", days=1 / 24, batch_size=10, follow=True, upstream="api", origin="follower",
        status="running", executed_by="another-host:1234", lease_expires_at=timezone.now() + timedelta(seconds=30),
    )  # fmt: skip
    with pytest.raises(CommandError, match=r"^run \d+ already follows new launches \(another-host:1234\)$"):
        call_command("follow_launches", stdout=io.StringIO())

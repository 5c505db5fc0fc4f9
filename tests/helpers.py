"""Small helpers shared by the tests that run loads."""

import asyncio

from asgiref.sync import sync_to_async

from tokens.loader import execute_run
from tokens.models import BotSettings, LoadRun, Token
from tokens.runs import create_run, plan_run


def queue_run(
    *, days=1, batch_size=10, source="recent", origin=LoadRun.Origin.COMMAND, follow=False, upstream=None
) -> LoadRun:
    plan = plan_run(
        stored=BotSettings.get_solo(), days=days, batch_size=batch_size, source=source, follow=follow, upstream=upstream
    )
    return create_run(plan=plan, origin=origin)


async def run_load(**kwargs) -> LoadRun:
    run = await sync_to_async(queue_run)(**kwargs)
    return await execute_run(run_id=run.pk)


def update_settings(**values) -> BotSettings:
    stored = BotSettings.get_solo()
    for name, value in values.items():
        setattr(stored, name, value)
    stored.full_clean()
    stored.save()
    return stored


@sync_to_async
def stored_tokens(**filters) -> dict[str, Token]:
    return {token.mint: token for token in Token.objects.filter(**filters)}


async def wait_for(predicate, timeout: float = 20) -> None:
    """Until the (sync, ORM-reading) predicate holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await sync_to_async(predicate)():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)

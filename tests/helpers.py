"""Small helpers shared by the tests that run loads."""

import asyncio

from asgiref.sync import sync_to_async
from django.db import connection

from tokens.models import BotSettings, LoadRun, Token
from tokens.runs.loader import execute_run
from tokens.runs.requests import create_run, plan_run
from tokens.sources.base import Launch


def coin_launch(coin) -> Launch:
    """A pump.fun coin (any JSON value) as the web API source yields it."""
    return Launch.from_coin(coin, upstream="api")


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


def refuse_writes(name: str, *, table: str, event: str, message: str, errcode: str = "P0001", when: str = "") -> None:
    """PostgreSQL itself refuses the `event` (INSERT, UPDATE) of rows of `table` (matching the SQL
    condition `when`, on NEW and OLD) with `message`: a fault the database injects, not a mock."""
    guard = f"IF {when} THEN " if when else ""
    end = " END IF;" if when else ""
    quoted = message.replace("'", "''")
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger AS $$ BEGIN {guard}"
            f"RAISE EXCEPTION USING ERRCODE = '{errcode}', MESSAGE = '{quoted}';{end} "
            f"RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        cursor.execute(f"CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()")


def allow_writes(name: str, *, table: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        cursor.execute(f"DROP FUNCTION IF EXISTS {name}()")


def record_trades(*txs, sol_usd: float | None = 150.0, first_slot: int = 300_000_000):
    """Trade transactions of the fake chain, decoded and written by the product's own ledger (as the
    stream would, without the websocket); the flush's result."""
    from datetime import timedelta

    from django.utils import timezone

    from tests.fakes.chain import trade_transaction_json
    from tokens.sources.chain.events import decode_transaction
    from tokens.trades.ledger import record
    from tokens.trades.rows import rows_of
    from tokens.trades.windows import RollingWindows

    decoded = [decode_transaction(trade_transaction_json(tx, slot=first_slot + i)) for i, tx in enumerate(txs)]
    now = timezone.now()
    rows = rows_of(decoded, now=now)
    windows = RollingWindows()
    return record(rows, launches={}, windows=windows, sol_usd=sol_usd, now=now, covered_since=now - timedelta(hours=2))

"""`manage.py load_historical_tokens`: exit codes, parameters, and the same rows as the page's load."""

import io
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.fakes.coins import make_coin, make_history, now_ms
from tests.fakes.http import Reply
from tests.helpers import queue_run
from tokens.models import LoadRun, Token

pytestmark = pytest.mark.django_db(transaction=True)


def run_command(*args: str) -> str:
    out = io.StringIO()
    call_command("load_historical_tokens", *args, stdout=out)
    return out.getvalue()


def test_loads_the_window_and_prints_a_summary(pumpfun):
    pumpfun.coins = [*make_history(42), make_coin(999, created_ms=now_ms() - 9 * 86400000)]
    output = run_command("--days", "1", "--batch-size", "10", "--source", "recent")
    run = LoadRun.objects.get()
    assert (run.status, run.origin, run.batches, run.accepted) == ("succeeded", "command", 5, 42)
    assert f"Run {run.pk} succeeded: 42 fetched, 42 accepted, 0 rejected, 0 invalid, 0 failed, 5 batches" in output
    assert Token.objects.count() == 42


def test_age_filter_names_a_window(pumpfun):
    now = now_ms()
    pumpfun.coins = [make_coin(1, created_ms=now - 30 * 60_000), make_coin(2, created_ms=now - 90 * 60_000)]
    run_command("--age-filter", "new_only", "--source", "recent")
    assert list(Token.objects.values_list("mint", flat=True)) == [pumpfun.coins[0]["mint"]]
    assert LoadRun.objects.get().age_filter == "new_only"


def test_defaults_come_from_the_settings_and_the_environment(pumpfun, monkeypatch):
    pumpfun.coins = make_history(9)
    monkeypatch.setenv("HISTORICAL_BATCH_SIZE", "4")
    run_command("--source", "hybrid")
    run = LoadRun.objects.get()
    assert (run.batch_size, run.days, run.age_filter, run.source, run.batches) == (4, 7.0, "last_7_days", "hybrid", 3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-size", "0"], "batch size must be from 1 to 500, got 0"),
        (["--batch-size", "-1"], "batch size must be a whole number from 1 to 500, got '-1'"),
        (["--batch-size", "10001"], "batch size must be from 1 to 500, got 10001"),
        (["--batch-size", "ten"], "batch size must be a whole number"),
        (["--days", "0"], "days must be from 1 to 365"),
        (["--days", "400"], "days must be from 1 to 365"),
        (["--age-filter", "last_2_years"], "unknown age filter 'last_2_years'"),
        (["--source", "raydium"], "unknown source 'raydium'"),
    ],
)
def test_bad_input_is_refused_before_anything_is_recorded(args, message):
    with pytest.raises(CommandError, match=message):
        run_command(*args)
    assert LoadRun.objects.count() == 0


def test_an_upstream_failure_exits_non_zero_with_the_reason(pumpfun):
    pumpfun.coins = make_history(5)
    pumpfun.fault_plan = lambda n: Reply(502, {"message": "Bad Gateway"})
    with pytest.raises(
        CommandError, match=r"run \d+ failed: pump.fun at offset 0: answered HTTP 502 \(gave up after 6"
    ):
        run_command("--days", "1")
    assert LoadRun.objects.get().status == "failed"


def test_the_command_and_the_page_store_the_same_rows(pumpfun, admin_client):
    from tokens.runs import tasks  # noqa: F401  (the page's path runs in the server; here it is awaited directly)

    pumpfun.coins = make_history(37)
    run_command("--days", "1", "--batch-size", "8", "--source", "hybrid")
    from_command = set(Token.objects.values_list("mint", "name", "usd_market_cap", "passed_filters"))
    Token.objects.all().delete()

    import asyncio

    from tests.helpers import run_load

    asyncio.run(run_load(days=1, batch_size=8, source="hybrid", origin=LoadRun.Origin.WEB))
    from_page = set(Token.objects.values_list("mint", "name", "usd_market_cap", "passed_filters"))
    assert from_command == from_page and len(from_page) == 37


def test_a_bad_environment_value_stops_the_process_naming_the_variable(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "SECRET_KEY": "test-only-" + "a1b2c3d4e5" * 6,
        "HISTORICAL_BATCH_SIZE": "ten",
        "PUMPFUN_API_URL": "http://127.0.0.1:9",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    command = [sys.executable, "manage.py", "load_historical_tokens", "--days", "1"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "HISTORICAL_BATCH_SIZE must be a whole number from 1 to 500, got 'ten'" in result.stderr


def test_cancel_stops_a_queued_run_and_asks_a_running_one_to_stop(db):
    queued = queue_run(days=1, source="recent")
    assert run_command("--cancel", str(queued.pk)).strip() == f"Run {queued.pk} cancelled."
    queued.refresh_from_db()
    assert queued.status == LoadRun.Status.CANCELLED
    running = queue_run(days=1, source="trending")
    LoadRun.objects.filter(pk=running.pk).update(status=LoadRun.Status.RUNNING)
    assert "stop requested" in run_command("--cancel", str(running.pk))
    running.refresh_from_db()
    assert running.cancel_requested and running.status == LoadRun.Status.RUNNING  # the executor stops it
    with pytest.raises(CommandError, match="only queued or running runs can be cancelled"):
        run_command("--cancel", str(queued.pk))
    with pytest.raises(CommandError, match="there is no run 999"):
        run_command("--cancel", "999")

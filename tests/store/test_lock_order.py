"""One lock order (tokens/store/batches.py, LOCK ORDER): a backfill storing batches and a heavy detail stage
writing results for the same run, at once, on PostgreSQL, never deadlock."""

import threading
import time
from datetime import UTC, datetime

import pytest
from django.db import connection

from tests.fakes.coins import make_coin, now_ms
from tests.helpers import coin_launch
from tokens.details.queue import DetailResult, claim_tasks, finish_tasks
from tokens.models import DetailTask, LoadRun
from tokens.store.batches import store_batch
from tokens.store.filters import HOLDERS, METADATA, FilterRules
from tokens.store.processing import DetailPlan, process_batch

pytestmark = [pytest.mark.production, pytest.mark.django_db(transaction=True)]
BATCHES = 150
BATCH = 20


def test_a_backfill_and_a_detail_stage_of_the_same_run_at_once_never_deadlock():
    assert connection.vendor == "postgresql"
    run = LoadRun.objects.create(source="recent", days=1, batch_size=BATCH, origin="command", status="running",
                                 lease_epoch=1)  # fmt: skip
    rules = FilterRules(cutoff=datetime(2024, 1, 1, tzinfo=UTC))
    plan = DetailPlan(holders=True, metadata=True)
    errors: list[BaseException] = []
    done = {"batches": 0, "detail_commits": 0, "stored_again": 0}
    backfill_over = threading.Event()
    start = now_ms()

    def backfill() -> None:
        try:
            for number in range(BATCHES):
                # Half of each batch is new, half is stored again while its details are being written.
                again = max(0, number - 3) * 10
                indexes = [*range(number * 10, number * 10 + 10), *range(again, again + 10)]
                coins = [make_coin(i, created_ms=start - i, image_uri=None) for i in indexes]
                outcome = process_batch([coin_launch(c) for c in coins], rules=rules, now_ms=now_ms(), plan=plan)
                store_batch(run_id=run.pk, lease_epoch=1, records=outcome.records, invalid=0, failed=0,
                            estimated_total=None, checkpoint={"at": number}, rules=rules)  # fmt: skip
                done["batches"] += 1
                done["stored_again"] += 10 if number >= 3 else 0
        except BaseException as exc:
            errors.append(exc)
        finally:
            backfill_over.set()
            connection.close()

    def details(kind: str) -> None:
        try:
            while True:
                # Read before claiming: a backfill that ends between an empty claim and this check stored a
                # last batch this thread must still claim.
                over = backfill_over.is_set()
                tasks = claim_tasks(kind, 50)
                if not tasks:
                    if over:
                        return
                    time.sleep(0.001)
                    continue
                fields = {HOLDERS: lambda t: {"holders": t.id % 97}, METADATA: lambda t: {"description": f"d{t.id}"}}
                results = [DetailResult(task.mint, fields[kind](task)) for task in tasks]
                finish_tasks(kind, tasks, results)
                done["detail_commits"] += 1
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=backfill), threading.Thread(target=details, args=(HOLDERS,)),
               threading.Thread(target=details, args=(METADATA,))]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == [], errors  # a deadlock aborts one side with psycopg's DeadlockDetected
    assert done["batches"] == BATCHES and done["detail_commits"] > 10
    run.refresh_from_db()
    assert run.batches == BATCHES and run.details_done == run.details_queued
    assert not DetailTask.objects.exists()
    print(f"lock order: {done['batches']} batches ({done['stored_again']} tokens stored again while their details "
          f"were written) beside {done['detail_commits']} detail commits, no deadlock")  # fmt: skip

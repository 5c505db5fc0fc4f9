"""A batch's run counters and board cursor are written and read back in one `UPDATE … RETURNING`,
and its stored tokens read in plain SQL: the rows must be the rows the ORM reads, on SQLite and
PostgreSQL, and without RETURNING."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.transaction import TransactionManagementError

from tests.fakes.coins import make_coin, now_ms
from tests.helpers import coin_launch
from tokens.models import BoardCursor, LoadRun, Token
from tokens.store.batches import _token, next_cursor, store_batch
from tokens.store.filters import FilterRules
from tokens.store.lease import Lease, LeaseLost, fenced_count
from tokens.store.processing import DetailPlan, process_batch
from tokens.store.statements import update_returning, update_where, values_in

pytestmark = pytest.mark.django_db

HEARTBEAT = datetime(2026, 12, 7, 10, 30, 15, 123456, tzinfo=UTC)


def _fields(run: LoadRun) -> dict:
    return {field.attname: getattr(run, field.attname) for field in LoadRun._meta.concrete_fields}


def _running() -> LoadRun:
    return LoadRun.objects.create(
        source="recent", days=1, batch_size=10, origin="command", status="running", lease_epoch=3,
        first_seen={"chain": 2}, fetched=5,
    )  # fmt: skip


@pytest.fixture(params=["returning", "update then read"])
def path(request, monkeypatch):
    """Both ways the update is made: RETURNING, and the ORM's update and read where it is missing
    (SQLite before 3.35; PostgreSQL always has it, and its inserts need the flag)."""
    if request.param == "update then read":
        if connection.vendor != "sqlite":
            pytest.skip("only SQLite before 3.35 lacks RETURNING")
        monkeypatch.setattr(connection.features, "can_return_columns_from_insert", False)
    return request.param


def test_the_row_returned_is_the_row_the_orm_reads(path):
    run = _running()
    returned = update_returning(
        LoadRun,
        where={"id": run.pk, "lease_epoch": 3, "status": LoadRun.Status.RUNNING},
        add={"fetched": 100, "batches": 1},
        values={"checkpoint": {"before": "sig", "slot": 7}, "heartbeat_at": HEARTBEAT, "estimated_total": None},
    )
    assert isinstance(returned, LoadRun)
    assert _fields(returned) == _fields(LoadRun.objects.get(pk=run.pk))
    assert (returned.fetched, returned.batches) == (105, 1)
    assert returned.checkpoint == {"before": "sig", "slot": 7}
    assert returned.heartbeat_at == HEARTBEAT
    assert returned.first_seen == {"chain": 2} and returned.status == LoadRun.Status.RUNNING
    assert returned._state.adding is False and returned._state.db == "default"


def test_no_row_matched_returns_none_and_changes_nothing(path):
    run = _running()
    before = _fields(LoadRun.objects.get(pk=run.pk))
    assert update_returning(LoadRun, where={"id": run.pk, "lease_epoch": 2}, add={"fetched": 1}) is None
    assert _fields(LoadRun.objects.get(pk=run.pk)) == before


def test_a_batch_of_a_run_whose_lease_is_lost_is_refused_whole(path):
    run = _running()
    before = _fields(LoadRun.objects.get(pk=run.pk))
    with pytest.raises(LeaseLost, match=f"run {run.pk}: another executor holds it now"):
        fenced_count(Lease(run_id=run.pk, epoch=2), add={"fetched": 100}, retrying="")
    assert _fields(LoadRun.objects.get(pk=run.pk)) == before
    held = fenced_count(Lease(run_id=run.pk, epoch=3), add={"fetched": 100}, retrying="")
    assert held.fetched == 105 == LoadRun.objects.get(pk=run.pk).fetched


def test_the_board_cursor_counts_from_its_first_batch(path):
    assert not BoardCursor.objects.exists()
    assert [next_cursor(), next_cursor(), next_cursor()] == [1, 2, 3]
    assert BoardCursor.objects.get(pk=1).value == 3


def test_rows_read_by_their_keys_are_the_rows_the_orm_reads():
    created = datetime(2026, 12, 1, 12, 0, 1, 5, tzinfo=UTC)
    common = {"created_at": created, "first_seen_at": created, "last_seen_at": created}
    Token.objects.bulk_create([
        _token(mint="full", sources=["chain", "pumpportal"], complete=True, state_read_at=HEARTBEAT, holders=7,
               market_cap_sol=31.5, description="ünïcode", passed_filters=True, **common),
        _token(mint="bare", **common),
        _token(mint="other", **common),
    ])  # fmt: skip
    names = ["mint", "sources", "complete", "state_read_at", "holders_read_at", "holders", "market_cap_sol",
             "description", "passed_filters", "created_at"]  # fmt: skip
    keys = ["full", "bare", "absent"]
    read = values_in(Token, key="mint", keys=keys, names=names)
    orm = list(Token.objects.filter(mint__in=keys).values(*names))
    assert sorted(read, key=lambda row: row["mint"]) == sorted(orm, key=lambda row: row["mint"])
    assert {row["mint"] for row in read} == {"full", "bare"}
    full = next(row for row in read if row["mint"] == "full")
    assert (
        full["complete"] is True and full["sources"] == ["chain", "pumpportal"] and full["state_read_at"] == HEARTBEAT
    )
    assert values_in(Token, key="mint", keys=[], names=names) == []


@pytest.mark.django_db(transaction=True)
def test_the_board_cursor_is_taken_inside_a_transaction_only():
    with pytest.raises(TransactionManagementError, match="inside a transaction"):
        next_cursor()
    assert not BoardCursor.objects.exists()


def test_an_update_with_nothing_to_write_or_no_condition_is_refused():
    run = _running()
    with pytest.raises(ValueError, match="a condition and something to write"):
        update_returning(LoadRun, where={"id": run.pk})
    with pytest.raises(ValueError, match="a condition and something to write"):
        update_returning(LoadRun, where={}, add={"fetched": 1})
    assert LoadRun.objects.get(pk=run.pk).fetched == 5


def test_an_update_without_returning_writes_the_values_as_the_orm_does_and_counts_rows():
    run = _running()
    other = LoadRun.objects.create(source="recent", days=1, batch_size=10, origin="command", status="succeeded")
    before = _fields(LoadRun.objects.get(pk=other.pk))
    changes = {"first_seen": {"chain": 3, "pumpportal": 1}, "heartbeat_at": HEARTBEAT}
    assert update_where(LoadRun, where={"id": run.pk, "lease_epoch": 3}, values=changes) == 1
    stored = LoadRun.objects.get(pk=run.pk)
    assert stored.first_seen == {"chain": 3, "pumpportal": 1} and stored.heartbeat_at == HEARTBEAT
    assert stored.fetched == 5 and _fields(LoadRun.objects.get(pk=other.pk)) == before
    assert update_where(LoadRun, where={"id": run.pk, "lease_epoch": 2}, values={"fetched": 9}) == 0
    assert LoadRun.objects.get(pk=run.pk).fetched == 5
    with pytest.raises(ValueError, match="a condition and something to write"):
        update_where(LoadRun, where={"id": run.pk}, values={})
    with pytest.raises(ValueError, match="a condition and something to write"):
        update_where(LoadRun, where={}, values={"fetched": 1})


def test_a_batchs_first_seen_counts_are_written_and_the_run_it_returns_holds_them():
    """Each new launch counts once for the source that delivered it, on top of the run's counts; the
    run handed back (its progress message) holds what is stored."""
    run = _running()  # first_seen {"chain": 2}
    launches = [coin_launch(make_coin(index, created_ms=now_ms() - 60_000)) for index in (1, 2, 3)]
    rules = FilterRules(cutoff=datetime(2024, 1, 1, tzinfo=UTC))

    def store(batch):
        outcome = process_batch(batch, rules=rules, now_ms=now_ms(), plan=DetailPlan())
        return store_batch(run_id=run.pk, lease_epoch=3, records=outcome.records, invalid=0, failed=0,
                           estimated_total=None, checkpoint=None)  # fmt: skip

    first = store(launches[:2])
    assert first.run.first_seen == LoadRun.objects.get(pk=run.pk).first_seen == {"chain": 2, "api": 2}
    again = store(launches)  # two stored already: only the third is new
    assert again.run.first_seen == LoadRun.objects.get(pk=run.pk).first_seen == {"chain": 2, "api": 3}

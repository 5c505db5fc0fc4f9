"""A batch's run counters and board cursor are written and read back in one `UPDATE … RETURNING`:
the row it returns must be the row the ORM reads, on SQLite and PostgreSQL, and without RETURNING."""

from datetime import UTC, datetime

import pytest
from django.db import connection

from tokens.models import BoardCursor, LoadRun
from tokens.store.batches import next_cursor
from tokens.store.lease import Lease, LeaseLost, fenced_count
from tokens.store.returning import update_returning

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

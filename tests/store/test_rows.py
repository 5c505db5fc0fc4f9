"""The rows a batch stores are made without Model.__init__: they must hold what it would."""

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.models.signals import post_init
from django.test.utils import CaptureQueriesContext

from tokens.live.messages import BOARD_FIELDS, batch_row, board_token_payload, token_payload
from tokens.models import Token
from tokens.store import selectors
from tokens.store.batches import _prepared_moments, _token, upsert_tokens


def _fields(token: Token) -> dict:
    return {field.attname: getattr(token, field.attname) for field in Token._meta.concrete_fields}


def test_a_row_made_for_a_batch_holds_what_the_model_would_make():
    values = {
        "mint": "Mint1111111111111111111111111111111111pump", "name": "Coin", "symbol": "C",
        "created_at": datetime(2026, 12, 1, tzinfo=UTC), "market_cap_sol": 31.5, "holders": None,
        "sources": ["chain"], "passed_filters": True, "last_run_id": 7,
    }  # fmt: skip
    made, modelled = _token(**values), Token(**values)
    assert _fields(made) == _fields(modelled)
    assert (made._state.adding, made._state.db) == (modelled._state.adding, modelled._state.db)
    assert made.pk is None and made.last_run_id == 7
    # Defaults that are factories are made for each row, never shared.
    assert _token(mint="a").sources is not _token(mint="b").sources


def test_a_field_the_model_does_not_have_is_refused():
    with pytest.raises(TypeError, match="no field"):
        _token(mint="a", colour="red")


def test_with_an_init_signal_listening_rows_are_made_by_the_model():
    seen = []

    def listener(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(listener, sender=Token)
    try:
        token = _token(mint="a")
    finally:
        post_init.disconnect(listener, sender=Token)
    assert seen == [token]


def test_a_batch_row_holds_the_api_rows_board_fields_in_their_order():
    values = {
        "mint": "Mint1111111111111111111111111111111111pump", "name": "Coin", "symbol": "C",
        "created_at": datetime(2026, 12, 1, 12, 30, 15, 250_000, tzinfo=UTC), "usd_market_cap": 9_000.5,
        "holders": 12, "sources": ["chain", "pumpportal"], "pool_status": "priced", "twitter": "https://x.com/c",
        "volume_5m_usd": 1_234.5, "last_trade_at": datetime(2026, 12, 1, 12, 31, tzinfo=UTC), "pending": True,
        "graduated_at": datetime(2026, 12, 1, 12, 40, tzinfo=UTC),
    }  # fmt: skip
    for token in (_token(**values), _token(mint="bare", created_at=values["created_at"])):
        full = token_payload(token)
        expected = {field: full[field] for field in BOARD_FIELDS}
        row = board_token_payload(token)
        assert row == expected and list(row) == list(expected)
        # A batch's row: the same, its nulls left out.
        without_nulls = {field: value for field, value in expected.items() if value is not None}
        assert batch_row(token) == without_nulls and list(batch_row(token)) == list(without_nulls)


@pytest.mark.django_db
def test_the_board_count_in_sql_is_the_orms_count_up_to_its_cap(monkeypatch):
    monkeypatch.setattr(selectors, "COUNT_CAP", 5)
    created = datetime(2026, 12, 1, tzinfo=UTC)
    on_board = Token.objects.filter(passed_filters=True)
    counts = []
    for index in range(9):
        Token.objects.bulk_create([
            _token(mint=f"passed{index}", created_at=created, first_seen_at=created, last_seen_at=created,
                   passed_filters=True),
            _token(mint=f"rejected{index}", created_at=created, first_seen_at=created, last_seen_at=created,
                   passed_filters=False),
        ])  # fmt: skip
        counts.append(selectors.board_count())
        assert counts[-1] == selectors.count_up_to(on_board, 5)[0]
    assert counts == [1, 2, 3, 4, 5, 5, 5, 5, 5]


def _stored(mint: str) -> dict:
    fields = _fields(Token.objects.get(mint=mint))
    del fields["id"]
    return fields


def _assert_stored_as_made(rows: list[Token]) -> None:
    for token in rows:
        expected = _fields(token)
        del expected["id"]
        assert _stored(token.mint) == expected


@pytest.mark.django_db
def test_a_batch_stores_each_field_as_given_the_empty_ones_left_out_of_its_statement_included():
    created = datetime(2026, 12, 1, 12, 0, 1, 5, tzinfo=UTC)
    read = datetime(2026, 12, 1, 12, 5, tzinfo=UTC)
    common = {"created_at": created, "first_seen_at": created, "last_seen_at": created, "passed_filters": True}
    first = [
        _token(mint="full", name="Full", price_usd=0.5, liquidity_usd=9.0, state_read_at=read, reply_count=4,
               holders=7, sources=["chain"], last_trade_at=read, **common),
        _token(mint="bare", name="Bare", **common),
    ]  # fmt: skip
    upsert_tokens(first)
    _assert_stored_as_made(first)
    # Stored again by a batch in which no row has a price, a curve read, a reply count: those columns
    # are not named. The price read with a curve stays (no read this time), the reply count is
    # written (as the missing value it is), as when every column was named.
    again = [_token(mint="full", name="Full 2", **common), _token(mint="bare", name="Bare 2", **common)]
    upsert_tokens(again)
    full = _stored("full")
    assert (full["name"], full["price_usd"], full["liquidity_usd"], full["state_read_at"]) == ("Full 2", 0.5, 9.0, read)
    assert (full["reply_count"], full["holders"], full["last_trade_at"]) == (None, None, None)
    assert _stored("bare")["name"] == "Bare 2"


HOSTILE_NAMES = ['{"a",b}', "NULL", 'it\'s \\ a "quote"', "comma, brace } and [bracket]", "🚀 ünïcode", "", " "]


@pytest.mark.django_db
def test_a_batch_of_hostile_texts_and_mixed_numbers_is_stored_exactly():
    """PostgreSQL stores a batch in one statement, a column to a (binary) array: array syntax in a name
    is only text, a float column given an int keeps each value as a float, an int past 2**31 stays
    whole beside small ones, a negative figure stays negative, and moments of any zone beside unknown
    ones are the same instants."""
    created = datetime(2026, 12, 1, 12, 0, 1, tzinfo=UTC)
    traded = [datetime(2026, 12, 1, 13, 30, 15, 1, tzinfo=ZoneInfo("Europe/Paris")), None, created]
    rows = [
        _token(mint=f"hostile{index}", name=name, symbol=name[:10], description=name, created_at=created,
               first_seen_at=created, last_seen_at=created, passed_filters=True, sources=["chain", name],
               price_usd=[1, 0.25][index % 2], holders=[3, None][index % 2],
               initial_real_token_reserves=[793_100_000_000_000, 7][index % 2], complete=[True, False][index % 2],
               price_change_5m=[-12.5, None, 40][index % 3], last_trade_at=traded[index % 3])
        for index, name in enumerate(HOSTILE_NAMES)
    ]  # fmt: skip
    with CaptureQueriesContext(connection) as captured:
        upsert_tokens(rows)
    _assert_stored_as_made(rows)
    assert type(_stored("hostile0")["price_usd"]) is float
    statements = [query["sql"] for query in captured.captured_queries]
    if connection.vendor == "postgresql":  # one statement, logged as Django logs its own
        assert len(statements) == 1 and "unnest(" in statements[0]
    else:
        assert all("unnest(" not in sql for sql in statements)


@pytest.mark.django_db(transaction=True)
def test_a_text_holding_nul_is_refused_and_nothing_of_the_batch_is_stored():
    """No PostgreSQL text holds NUL (normalise strips it from what launchers write): a batch that
    still has one fails whole, with Django's own error."""
    from django.db import DataError, transaction

    if connection.vendor != "postgresql":
        pytest.skip("SQLite's text holds NUL")
    created = datetime(2026, 12, 1, 12, 0, 1, tzinfo=UTC)
    common = {"created_at": created, "first_seen_at": created, "last_seen_at": created, "passed_filters": True}
    with pytest.raises(DataError), transaction.atomic():
        upsert_tokens([_token(mint="clean", name="Clean", **common), _token(mint="nul", name="a\x00b", **common)])
    assert not Token.objects.filter(mint__in=["clean", "nul"]).exists()


@pytest.mark.django_db
def test_a_batch_holding_a_mint_twice_stores_it_once_with_the_later_values():
    created = datetime(2026, 12, 1, 12, 0, 1, tzinfo=UTC)
    common = {"created_at": created, "first_seen_at": created, "last_seen_at": created, "passed_filters": True}
    upsert_tokens([_token(mint="twice", name="Earlier", **common), _token(mint="twice", name="Later", **common)])
    assert list(Token.objects.filter(mint="twice").values_list("name", flat=True)) == ["Later"]


@pytest.mark.django_db(transaction=True)
def test_a_text_too_long_for_its_column_is_refused_and_nothing_of_the_batch_is_stored():
    from django.db import DataError, transaction

    if connection.vendor != "postgresql":
        pytest.skip("SQLite does not hold a text to its column's length")
    created = datetime(2026, 12, 1, 12, 0, 1, tzinfo=UTC)
    common = {"created_at": created, "first_seen_at": created, "last_seen_at": created, "passed_filters": True}
    with pytest.raises(DataError), transaction.atomic():
        upsert_tokens([_token(mint="fits", name="Fits", **common), _token(mint="m" * 45, name="Long", **common)])
    assert not Token.objects.filter(mint__in=["fits", "m" * 45]).exists()


@pytest.mark.django_db
def test_a_batchs_moments_are_prepared_as_djangos_own_preparation_prepares_them():
    """The batch's preparation of a moment (a fast path for UTC on SQLite) writes what Django writes."""
    moments = [
        datetime(2026, 12, 1, 12, 30, 15, 250_000, tzinfo=UTC), datetime(2026, 12, 1, 12, 30, 15, tzinfo=UTC),
        datetime(1999, 1, 1, tzinfo=UTC), datetime(2026, 12, 1, 13, 30, 15, 1, tzinfo=ZoneInfo("Europe/Paris")),
        datetime(2026, 12, 1, 12, 30, 15, 999_999, tzinfo=timezone(timedelta(hours=-5))),
        datetime(2026, 12, 1, 13, 30, 15, 250_000, tzinfo=ZoneInfo("Europe/Paris")),  # the first's instant
        # The hour Paris lives twice: equal, and an hour apart.
        datetime(2026, 10, 25, 2, 30, tzinfo=ZoneInfo("Europe/Paris")),
        datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Paris")),
    ]  # fmt: skip
    column = [*moments, None, *moments]  # each moment twice: the second time as prepared the first
    for name in ("created_at", "last_seen_at", "last_trade_at"):
        field = Token._meta.get_field(name)
        expected = [None if moment is None else field.get_db_prep_save(moment, connection) for moment in column]
        assert _prepared_moments(field, connection, column) == expected, name

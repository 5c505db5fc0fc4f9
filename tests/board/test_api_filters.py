"""`GET /api/tokens/` with the page's filters: each filter, keyset paging under every sort, CSV, one
token whole, and bad parameters refused with a message."""

import asyncio
import base64
import csv
import io
import json
import time

import pytest
from django.core.cache import caches
from django.test import Client

from tests.fakes.coins import make_coin, now_ms
from tests.helpers import run_load
from tokens.models import Token

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def stored(pumpfun):
    """40 launches a minute apart: caps spread, every 9th graduated, every 5th with an X link, one
    name that a spreadsheet would run as a formula."""
    newest = now_ms() - 2_000
    coins = []
    for i in range(40):
        extra = {"usd_market_cap": float(1_000 * ((i * 37) % 40 + 1))}
        if i % 9 == 4:
            extra["complete"] = True
        if i % 5 == 0:
            extra["twitter"] = f"https://x.com/coin{i}"
        coins.append(make_coin(i, created_ms=newest - i * 60_000, **extra))
    coins[3]["name"] = '=HYPERLINK("http://evil")'
    coins[6]["name"] = "Needle Token"
    pumpfun.coins = coins
    asyncio.run(run_load(days=1, batch_size=20))
    return coins


def forged(*parts) -> str:
    """A cursor in the API's encoding that the API never gave out."""
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def mints(data: dict) -> list[str]:
    return [token["mint"] for token in data["tokens"]]


def paged(sort: str, *, limit: int) -> list[str]:
    """Every mint of the view, page after page by the next cursor."""
    seen, cursor = [], ""
    while True:
        page = get(f"/api/tokens/?sort={sort}&limit={limit}" + (f"&cursor={cursor}" if cursor else ""))
        seen += mints(page)
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


def get(path: str) -> dict:
    response = Client().get(path)
    assert response.status_code == 200, response.content
    return response.json()


def test_each_filter_narrows_the_board_as_the_page_does(stored):
    assert mints(get("/api/tokens/?q=needle")) == [stored[6]["mint"]]
    assert mints(get(f"/api/tokens/?q={stored[9]['mint'][:12]}")) == [stored[9]["mint"]]
    band = get("/api/tokens/?min_usd_market_cap=10000&max_usd_market_cap=20000&limit=100")
    assert set(mints(band)) == {c["mint"] for c in stored if 10_000 <= c["usd_market_cap"] <= 20_000}
    assert band["count"] == 11 and band["filters"] == {"min_usd_market_cap": "10000", "max_usd_market_cap": "20000"}
    assert band["count_exact"] is True
    graduated = {c["mint"] for c in stored if c["complete"]}
    assert set(mints(get("/api/tokens/?stage=graduated"))) == graduated
    assert set(mints(get("/api/tokens/?complete=true"))) == graduated
    assert set(mints(get("/api/tokens/?complete=false&limit=100"))) == {c["mint"] for c in stored} - graduated
    assert set(mints(get("/api/tokens/?socials=1"))) == {c["mint"] for c in stored if c.get("twitter")}
    assert set(mints(get("/api/tokens/?max_age=10m"))) == {c["mint"] for c in stored[:10]}
    since = stored[5]["created_timestamp"]
    until = stored[2]["created_timestamp"]
    assert mints(get(f"/api/tokens/?since={since}&until={until}")) == [c["mint"] for c in stored[3:6]]
    # No holder counts without an RPC: a holder bound lets nothing through (unknown never passes).
    assert get("/api/tokens/?min_holders=1")["count"] == 0


def test_a_views_count_stops_at_its_cap_and_says_so(stored, monkeypatch):
    """Counting a million-token view costs every request a scan of it: past the cap the count says
    "at least this many"."""
    from tokens.board import api

    monkeypatch.setattr(api, "COUNT_CAP", 25)
    capped = get("/api/tokens/?limit=5")
    assert (capped["count"], capped["count_exact"]) == (25, False) and len(capped["tokens"]) == 5
    narrow = get("/api/tokens/?min_usd_market_cap=10000&max_usd_market_cap=20000")
    assert (narrow["count"], narrow["count_exact"]) == (11, True)


def test_keyset_cursor_pages_through_every_sort_without_gaps_or_repeats(stored):
    for sort in ("-created", "created", "-usd_market_cap", "usd_market_cap", "-holders", "symbol"):
        seen = paged(sort, limit=7)
        assert len(seen) == len(set(seen)) == 40, sort
        whole = mints(get(f"/api/tokens/?sort={sort}&limit=40"))
        assert seen == whole, sort
    by_cap = mints(get("/api/tokens/?sort=-usd_market_cap&limit=40"))
    assert by_cap == [c["mint"] for c in sorted(stored, key=lambda c: -c["usd_market_cap"])]


def test_a_cursor_pages_through_ties_and_unknowns_in_the_sort_direction(stored):
    """Half the board at one cap (a new curve's), some unknown: each page starts right after its
    cursor, ties by mint in the sort's direction, unknowns last both ways."""
    tokens = list(Token.objects.order_by("mint"))
    for index, token in enumerate(tokens):
        token.usd_market_cap = None if index % 7 == 0 else 4_200.0 if index % 2 else 9_000.0 + index % 3
    Token.objects.bulk_update(tokens, ["usd_market_cap"])
    for descending in (True, False):
        known = sorted((t for t in tokens if t.usd_market_cap is not None), key=lambda t: (t.usd_market_cap, t.mint))
        unknown = sorted((t for t in tokens if t.usd_market_cap is None), key=lambda t: t.mint)
        if descending:
            known, unknown = known[::-1], unknown[::-1]
        expected = [t.mint for t in known + unknown]
        sort = "-usd_market_cap" if descending else "usd_market_cap"
        seen = paged(sort, limit=6)
        assert seen == expected == mints(get(f"/api/tokens/?sort={sort}&limit=40")), sort


def test_csv_downloads_the_view_and_defuses_formulas(stored):
    response = Client().get("/api/tokens/?format=csv&min_usd_market_cap=30000&sort=-usd_market_cap")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    expected = sorted((c for c in stored if c["usd_market_cap"] >= 30_000), key=lambda c: -c["usd_market_cap"])
    assert [row["mint"] for row in rows] == [c["mint"] for c in expected]
    assert rows[0]["holders"] == ""  # unknown stays empty, never 0
    everything = list(
        csv.DictReader(io.StringIO(b"".join(Client().get("/api/tokens/?format=csv").streaming_content).decode()))
    )
    formula = next(row for row in everything if row["mint"] == stored[3]["mint"])
    assert formula["name"] == '\'=HYPERLINK("http://evil")'


def test_one_token_whole_for_the_drawer(stored):
    token = get(f"/api/tokens/{stored[0]['mint']}/")
    assert token["description"] == stored[0]["description"] and token["creator"] == stored[0]["creator"]
    assert Client().get("/api/tokens/NoSuchMint111/").status_code == 404


@pytest.mark.parametrize(
    "query, message",
    [
        ("min_usd_market_cap=%D9%A7", "min_usd_market_cap must be a number"),  # Arabic-Indic seven
        ("min_usd_market_cap=%EF%BC%97", "min_usd_market_cap must be a number"),  # full-width seven
        ("min_holders=-3", "min_holders must be a whole number"),
        ("min_usd_market_cap=9&max_usd_market_cap=1", "must not be above"),
        ("min_progress=101", "min_progress is a percentage"),
        ("stage=moon", "stage must be one of"),
        ("complete=maybe", "complete must be true or false"),
        ("max_age=0h", "max_age is a span"),
        ("since=yesterday", "since must be an ISO 8601 time"),
        ("sort=-mint", "sort must be one of"),
        ("cursor=!!!", "cursor is not one this API gave out"),
        ("format=xml", "format must be json or csv"),
        ("limit=%D9%A7", "limit must be a whole number"),
        ("q=" + "x" * 101, "q is at most 100 characters"),
        ("q=a%00b", "q must not hold control characters"),  # PostgreSQL refuses NUL in a query
        ("since=0001-01-01T00:00:00%2B01:00", "outside years 1 to 9999 in UTC"),
        ("until=9999-12-31T23:00:00-05:00", "outside years 1 to 9999 in UTC"),
        (f"sort=holders&cursor={forged('holders', 10**30, 'Mint1')}", "cursor is not one this API gave out"),
        (f"sort=symbol&cursor={forged('symbol', 'a' + chr(0), 'Mint1')}", "cursor is not one this API gave out"),
        (f"cursor={forged('-created', '0001-01-01T00:00:00+05:00', 'Mint1')}", "cursor is not one this API gave out"),
        (f"cursor={forged('-created', None, 'not a mint')}", "cursor is not one this API gave out"),
        (f"sort=-holders&cursor={forged('-holders', 'abc', 'Mint1')}", "cursor is not one this API gave out"),
        (f"sort=usd_market_cap&cursor={forged('usd_market_cap', 'x', 'Mint1')}", "cursor is not one this API"),
        (f"cursor={forged('-created', 5, 'Mint1')}", "cursor is not one this API gave out"),
        (f"cursor={forged('-created', 1.5, 'Mint1')}", "cursor is not one this API gave out"),
        ("cursor=" + base64.urlsafe_b64encode(b"[" * 700).decode(), "cursor is not one this API gave out"),
        ("cursor=" + "A" * 1001, "cursor is not one this API gave out"),
    ],
)
def test_bad_parameters_are_refused_with_a_message(stored, query, message):
    response = Client().get(f"/api/tokens/?{query}")
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_a_cursor_from_another_sort_is_refused(stored):
    cursor = get("/api/tokens/?sort=-usd_market_cap&limit=5")["next_cursor"]
    response = Client().get(f"/api/tokens/?sort=holders&cursor={cursor}")
    assert response.status_code == 400 and "another sort order" in response.json()["error"]


def test_a_launch_at_the_head_never_shifts_a_cursor_page(stored, pumpfun):
    first = get("/api/tokens/?limit=10")
    pumpfun.coins = [make_coin(999, created_ms=now_ms())]
    asyncio.run(run_load(days=1))
    second = get(f"/api/tokens/?limit=10&cursor={first['next_cursor']}")
    assert mints(second) == [c["mint"] for c in stored[10:20]]


def test_a_kept_answer_is_never_older_than_the_last_stored_batch(stored, pumpfun):
    before = get("/api/tokens/?limit=5")
    assert get("/api/tokens/?limit=5") == before  # the same view at the same cursor: the kept answer
    pumpfun.coins = [make_coin(998, created_ms=now_ms())]
    asyncio.run(run_load(days=1))
    after = get("/api/tokens/?limit=5")  # at once, not a second later
    assert after["count"] == before["count"] + 1 and after["tokens"][0]["mint"] == pumpfun.coins[0]["mint"]


def test_kept_answers_are_keyed_by_the_view_and_bounded_in_size_and_age(stored, settings, django_assert_num_queries):
    caches["api"].clear()
    first = Client().get("/api/tokens/?stage=new&sort=-holders&limit=10").json()
    # The same view written another way (order, unknown parameters): the kept answer, one query (the cursor).
    for variant in ("?limit=10&sort=-holders&stage=new", "?sort=-holders&stage=new&limit=10&zzz=1&utm=x"):
        with django_assert_num_queries(1):
            assert Client().get("/api/tokens/" + variant).json() == first
    # An answer larger than API_CACHE_MAX_BYTES is not kept: asked again, it comes from the database.
    settings.API_CACHE_MAX_BYTES = 2_000
    Client().get("/api/tokens/?limit=40")
    with django_assert_num_queries(3):  # the cursor, the page, the count
        Client().get("/api/tokens/?limit=40")
    # Nothing is kept longer than API_CACHE_SECONDS.
    settings.API_CACHE_MAX_BYTES = 64 * 1024
    Client().get("/api/tokens/?limit=5")
    with django_assert_num_queries(1):
        Client().get("/api/tokens/?limit=5")
    time.sleep(settings.API_CACHE_SECONDS + 0.2)
    with django_assert_num_queries(3):
        Client().get("/api/tokens/?limit=5")

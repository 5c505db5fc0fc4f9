"""Property-based tests: whatever a launcher writes into a launch (any string as a name, a `uri`, an
image or a social link; any bytes as an event payload, a transaction, an account or a metadata
document), the worst it can do is leave that one token's detail unknown and counted. Only the
exceptions each layer promises come out (`BadLink`, `MetadataError`, `InvalidEvent`,
`InvalidAccount`, `InvalidRecord`), and what is accepted can be stored.

Examples are drawn deterministically (tests/conftest.py), so a failure found once is found on every
run. The example counts per target are in EXAMPLES.
"""

import asyncio
import base64
import contextlib
import json
import unicodedata
from datetime import UTC, datetime

import pytest
from based58 import b58decode, b58encode
from django.db import transaction
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.provisional import urls

from tests.fakes.chain import Launch, create_event_payload, transaction_json
from tests.fakes.http import Reply
from tests.fakes.metadata import FakeGateway, FakeSite
from tests.helpers import coin_launch
from tokens.details.stage import metadata_fields
from tokens.models import BotSettings, LoadRun, Token
from tokens.sources.chain.addresses import PUMP_AMM_PROGRAM
from tokens.sources.chain.amm import parse_amm_buy_event, parse_amm_sell_event
from tokens.sources.chain.curve import InvalidAccount, decode_curve, decode_pyth_price
from tokens.sources.chain.events import (
    InvalidEvent,
    create_event_from_log_data,
    decode_logs,
    decode_transaction,
    parse_create_event,
)
from tokens.sources.chain.launches import launch_records
from tokens.sources.chain.pdas import bonding_curve_address, canonical_pool_address
from tokens.sources.chain.pools import POOL_DISCRIMINATOR, decode_pool, mint_supply, token_account_amount
from tokens.sources.chain.trades import parse_migration_event, parse_trade_event
from tokens.sources.links import BadLink, parse_link, safe_document_link, safe_link
from tokens.sources.metadata import MetadataError, MetadataFetcher
from tokens.store.batches import store_batch
from tokens.store.filters import rules_from
from tokens.store.normalise import MAX_BIGINT, MAX_COUNT, InvalidRecord, is_address, normalise
from tokens.store.processing import process_batch

EXAMPLES = {
    "links": 3000,
    "metadata fetcher links": 400,
    "metadata documents": 400,
    "event payloads": 3000,
    "cut real-layout payloads": 2000,
    "transactions": 1500,
    "notification logs": 1500,
    "accounts": 2000,
    "records": 2000,
    "addresses": 3000,
    "stored batches": 60,
}
NOW_MS = 1_790_000_000_000
CREATE_TAG = bytes.fromhex("1b72a94ddeeb6376")

# ---- Strategies: what a stranger can write -----------------------------------------------------

# Any character at all, and often the ones that break things: NUL and other controls, bidi overrides,
# zero-width and byte-order marks, lone surrogates (hypothesis leaves those out unless asked), markup.
NASTY = ["\x00", "\x1b", "\n", "\ud800", "\udfff", "\u202e", "\u2066", "\u200b", "\ufeff", "\U0010ffff", "<", "&", '"']
TEXT = st.text(st.one_of(st.characters(exclude_categories=[]), st.sampled_from(NASTY)), max_size=300)
HOSTS = st.one_of(
    st.sampled_from(["meta.example", "127.0.0.1", "[::1]", "[::1", "localhost", "xn--", "xn--a.example", "a..b", "",
                     "exa\u200bmple.com", "ex\u202eample.com", "[fe80::1%eth0]", "0", "1e100", "-.example"]),
    st.text(max_size=40),
    st.text(alphabet="ab.-", min_size=250, max_size=320),
)  # fmt: skip
PORTS = st.one_of(st.none(), st.integers(-5, 10**6).map(str), st.text(alphabet="0123456789:-+ ", max_size=8))
PATHS = st.one_of(
    st.sampled_from(["/doc.json", "/ipfs/QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", "/ipfs/../../admin", "",
                     "/ipfs/QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG/../x", "?a=1#b", "/%00"]),
    st.text(max_size=40),
)  # fmt: skip


@st.composite
def hostile_links(draw) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTPS", "ftp", "javascript", "file", "ipfs", "data", ""]))
    port = draw(PORTS)
    return f"{scheme}://{draw(HOSTS)}{'' if port is None else ':' + port}{draw(PATHS)}"


LINKS = st.one_of(TEXT, hostile_links(), urls(), st.none(), st.integers(), st.lists(st.text(), max_size=2))
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


def storable_text(value: str, limit: int) -> bool:
    return len(value) <= limit and not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value)


# ---- URL checks ---------------------------------------------------------------------------------


@settings(max_examples=EXAMPLES["links"])
@given(LINKS)
def test_a_link_is_usable_or_refused_with_badlink_and_nothing_else(value):
    try:
        link = parse_link(value)
    except BadLink:
        assert safe_link(value) == ""
        return
    assert link.scheme in ("http", "https") and 1 <= link.port <= 65535 and link.host
    assert safe_link(value) == link.url and len(link.url) <= 500
    assert not any(ch.isspace() for ch in link.url)


# ---- The metadata fetcher: any link, any document -----------------------------------------------


@pytest.fixture
def site_and_gateway():
    site, gateway = FakeSite().start(), FakeGateway().start()
    yield site, gateway
    site.stop()
    gateway.stop()


def loopback_fetcher(site: FakeSite, gateway: FakeGateway) -> MetadataFetcher:
    """Every name resolves to 127.0.0.1, which this fetcher takes for public: links reach the fake site
    (or nothing listening, on ports 80 and 443) and never leave the machine."""

    async def resolver(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    return MetadataFetcher(
        ipfs_gateway=gateway.url + "/ipfs/", timeout=2, allowed_ports={80, 443, site.port}, resolver=resolver,
        address_allowed=lambda address: str(address) == "127.0.0.1",
    )  # fmt: skip


def run_fetches(site, gateway, check) -> None:
    loop = asyncio.new_event_loop()
    fetcher = loopback_fetcher(site, gateway)
    try:
        check(lambda uri: loop.run_until_complete(fetcher.fetch(uri)))
    finally:
        loop.run_until_complete(fetcher.__aexit__(None, None, None))
        loop.close()


def test_any_link_costs_at_most_its_own_metadata(site_and_gateway):
    site, gateway = site_and_gateway
    site.routes["/doc.json"] = Reply(200, {"description": "ok"})
    on_site = hostile_links().map(lambda link: link.replace("://meta.example", f"://meta.example:{site.port}", 1))

    def check(fetch):
        @settings(max_examples=EXAMPLES["metadata fetcher links"])
        @given(st.one_of(LINKS, on_site))
        def one(uri):
            try:
                found = fetch(uri)
            except MetadataError:
                return
            fields = metadata_fields(found)
            assert all(
                value == "" or safe_link(value) == value for key, value in fields.items() if key != "description"
            )

        one()

    run_fetches(site, gateway, check)


def test_any_document_costs_at_most_its_own_metadata(site_and_gateway):
    site, gateway = site_and_gateway
    documents = st.one_of(
        st.binary(max_size=600),
        JSON.map(lambda value: json.dumps(value).encode()),
        st.fixed_dictionaries({}, optional={key: st.one_of(LINKS, TEXT, JSON) for key in
                               ("image", "description", "twitter", "telegram", "website")}).map(
            lambda value: json.dumps(value, default=str).encode()),
    )  # fmt: skip

    def check(fetch):
        @settings(max_examples=EXAMPLES["metadata documents"])
        @given(documents, st.sampled_from(["", "gzip", "deflate", "br", "gzip, gzip"]))
        def one(body, encoding):
            site.routes["/doc.json"] = Reply(200, raw=body, headers={"Content-Encoding": encoding} if encoding else {})
            try:
                found = fetch(f"http://meta.example:{site.port}/doc.json")
            except MetadataError:
                return
            fields = metadata_fields(found)
            assert storable_text(fields["description"], 2000)
            for name in ("image_uri", "twitter", "telegram", "website"):
                assert fields[name] == "" or safe_link(fields[name]) == fields[name]

        one()

    run_fetches(site, gateway, check)


# ---- Event, transaction and account decoders ----------------------------------------------------


@settings(max_examples=EXAMPLES["event payloads"])
@given(st.binary(max_size=600))
def test_any_event_payload_decodes_or_is_invalid(payload):
    for parse in (parse_amm_buy_event, parse_amm_sell_event, parse_trade_event, parse_migration_event):
        with contextlib.suppress(InvalidEvent):
            parse(payload)
    try:
        event = parse_create_event(payload)
    except InvalidEvent:
        return
    assert len(event.mint) <= 44 and len(event.bonding_curve) <= 44


REAL_LAYOUT = create_event_payload(Launch(index=1, block_time=1_780_000_000, layout="newest", name="ÅÉ€𝄞"))


@settings(max_examples=EXAMPLES["cut real-layout payloads"])
@given(
    st.integers(0, len(REAL_LAYOUT)), st.binary(max_size=40), st.integers(0, len(REAL_LAYOUT) - 1), st.integers(0, 255)
)
def test_a_cut_or_altered_payload_decodes_or_is_invalid(cut, tail, flip_at, flip_to):
    data = bytearray(REAL_LAYOUT[:cut] + tail)
    if flip_at < len(data):
        data[flip_at] = flip_to
    with contextlib.suppress(InvalidEvent):
        create_event_from_log_data(bytes(data))


TRANSACTIONS = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {"transaction": st.one_of(
            JSON, st.fixed_dictionaries({"signatures": JSON, "message": JSON}),
            st.tuples(st.text(max_size=80), st.sampled_from(["base64", "base58", "x"])).map(list))},
        optional={"meta": st.one_of(JSON, st.fixed_dictionaries({}, optional={
            "err": JSON, "logMessages": st.lists(st.text(max_size=80), max_size=6), "innerInstructions": JSON,
            "loadedAddresses": JSON, "loadedWritableAddresses": JSON})), "slot": JSON, "blockTime": JSON},
    ),
)  # fmt: skip


@settings(max_examples=EXAMPLES["transactions"])
@given(TRANSACTIONS)
def test_any_transaction_decodes_without_raising(tx):
    decoded = decode_transaction(tx, signature="sig")
    for record in launch_records(decoded, source="recent"):
        with contextlib.suppress(InvalidRecord):
            normalise(record, now_ms=NOW_MS)


def real_transaction_mutated(data) -> dict:
    tx = transaction_json(
        Launch(index=2, block_time=1_780_000_000, emit=data.draw(st.sampled_from(["both", "inner"]))), slot=1
    )
    path = data.draw(st.sampled_from(["meta", "transaction", "message", "inner", "logs"]))
    value = data.draw(JSON)
    if path == "meta":
        tx["meta"] = value
    elif path == "transaction":
        tx["transaction"] = value
    elif path == "message":
        tx["transaction"]["message"]["accountKeys"] = value
    elif path == "inner":
        tx["meta"]["innerInstructions"] = value
    else:
        tx["meta"]["logMessages"] = value
    return tx


@settings(max_examples=EXAMPLES["transactions"])
@given(st.data())
def test_a_real_shaped_transaction_with_any_part_replaced_decodes_without_raising(data):
    decode_transaction(real_transaction_mutated(data), signature="sig")


LOG_LINES = st.lists(
    st.one_of(
        st.text(max_size=60),
        st.sampled_from(["Program 6EF8rrecthR5Dkzon8Nwu78hRvfCKubJ14M5uBEwF6P invoke [1]", "Log truncated",
                         "Program 6EF8rrecthR5Dkzon8Nwu78hRvfCKubJ14M5uBEwF6P success", "Program data: ",
                         "Program X failed: oops", "Program  invoke [", "Program data: !!!"]),
        st.binary(max_size=300).map(lambda raw: "Program data: " + base64.b64encode(CREATE_TAG + raw).decode()),
    ),
    max_size=12,
)  # fmt: skip


@settings(max_examples=EXAMPLES["notification logs"])
@given(st.one_of(LOG_LINES, JSON))
def test_any_notification_logs_decode_without_raising(logs):
    decode_logs("sig", logs)


@settings(max_examples=EXAMPLES["accounts"])
@given(st.binary(max_size=300))
def test_any_account_bytes_are_a_curve_a_price_a_pool_or_refused(data):
    for decode in (decode_curve, decode_pyth_price, lambda d: decode_pool(d, owner=PUMP_AMM_PROGRAM), mint_supply,
                   token_account_amount):  # fmt: skip
        with contextlib.suppress(InvalidAccount):
            decode(data)
    with contextlib.suppress(InvalidAccount):
        decode_pool(POOL_DISCRIMINATOR + data, owner=PUMP_AMM_PROGRAM)


# ---- The record normaliser, and what it accepts reaching the database ---------------------------

EDGES = [2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 1e300, -0.0, float("nan"), float("inf"), -1]
OTHER_NUMBERS = st.one_of(
    st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=10), st.sampled_from(EDGES)
)
HOSTILE_NUMBERS = st.integers(0, 1).flatmap(lambda n: st.sampled_from(EDGES) if n else OTHER_NUMBERS)
PLAUSIBLE_NUMBERS = st.one_of(st.none(), st.integers(0, 10**15), st.floats(0, 1e15))


def mostly(plausible: st.SearchStrategy, hostile: st.SearchStrategy) -> st.SearchStrategy:
    """Plausible four times in five, so that most records get past validation and the rest of each
    record is exercised too (one_of alone would pick among its flattened branches evenly)."""
    return st.integers(0, 4).flatmap(lambda n: hostile if n == 0 else plausible)


NUMBERS = mostly(PLAUSIBLE_NUMBERS, HOSTILE_NUMBERS)
# Real addresses (32 bytes in base58), and base58 text of the right length that is no address.
MINTS = st.one_of(
    st.binary(min_size=32, max_size=32).map(lambda key: b58encode(key).decode()),
    st.from_regex(r"[1-9A-HJ-NP-Za-km-z]{32,44}", fullmatch=True),
)
TIMES = st.integers(1_704_067_200_000, NOW_MS)
RECORDS = st.fixed_dictionaries(
    {"mint": mostly(MINTS, st.one_of(TEXT, HOSTILE_NUMBERS)),
     "created_timestamp": mostly(TIMES, HOSTILE_NUMBERS)},
    optional={
        **{key: mostly(TEXT, st.one_of(NUMBERS, JSON)) for key in (
            "name", "symbol", "description", "creator", "signature", "bonding_curve", "_source", "_quote")},
        **{key: st.one_of(LINKS, TEXT) for key in ("image_uri", "metadata_uri", "twitter", "telegram", "website")},
        **{key: NUMBERS for key in ("market_cap", "usd_market_cap", "virtual_sol_reserves", "reply_count",
                                    "virtual_token_reserves", "_initial_real_token_reserves")},
        "last_trade_timestamp": mostly(st.one_of(st.none(), TIMES), HOSTILE_NUMBERS),
        "_progress": mostly(st.one_of(st.none(), st.floats(0, 100)), HOSTILE_NUMBERS),
        "complete": st.one_of(st.booleans(), JSON), "nsfw": st.one_of(st.booleans(), JSON), "_invalid": st.none(),
    },
)  # fmt: skip


BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
ADDRESS_LIKE = st.one_of(
    st.text(alphabet=BASE58, min_size=28, max_size=46),
    st.binary(max_size=40).map(lambda raw: b58encode(raw).decode()),
    TEXT,
)


@settings(max_examples=EXAMPLES["addresses"])
@given(ADDRESS_LIKE)
def test_an_address_is_base58_of_exactly_32_bytes(value):
    """`is_address` (solders) against its definition, read with another base58 decoder."""
    try:
        decodes_to_32 = len(b58decode(value.encode("ascii"))) == 32
    except (ValueError, UnicodeEncodeError):
        decodes_to_32 = False
    assert is_address(value) == (decodes_to_32 and 32 <= len(value) <= 44)


@settings(max_examples=EXAMPLES["records"])
@given(RECORDS)
def test_any_record_is_normalised_to_storable_values_or_invalid(raw):
    try:
        record = normalise(coin_launch(raw), now_ms=NOW_MS)
    except InvalidRecord:
        return
    for name, limit in (("name", 200), ("symbol", 50), ("description", 2000)):
        assert storable_text(getattr(record, name), limit), name
    for name in ("image_uri", "twitter", "telegram", "website"):
        value = getattr(record, name)
        assert value == "" or safe_link(value) == value
    assert record.metadata_uri == "" or safe_document_link(record.metadata_uri) == record.metadata_uri
    assert record.reply_count is None or 0 <= record.reply_count <= MAX_COUNT
    assert record.initial_real_token_reserves is None or 0 < record.initial_real_token_reserves <= MAX_BIGINT
    assert len(record.mint) <= 44 and len(record.creator) <= 44 and len(record.signature) <= 88
    # Addresses are keys: what is derived from them later (a curve, a pool) cannot fail on them.
    assert bonding_curve_address(record.mint) and canonical_pool_address(record.mint)
    assert record.bonding_curve == "" or is_address(record.bonding_curve)


@pytest.mark.django_db
def test_any_batch_of_records_is_stored_whole_or_counted():
    run = LoadRun.objects.create(source="recent", days=1, batch_size=20, origin="command", status="running",
                                 lease_epoch=1)  # fmt: skip
    rules = rules_from(BotSettings.get_solo(), cutoff=datetime(2024, 1, 1, tzinfo=UTC))

    @settings(max_examples=EXAMPLES["stored batches"])
    @given(st.lists(RECORDS, max_size=20))
    def one(raws):
        outcome = process_batch([coin_launch(raw) for raw in raws], rules=rules, now_ms=NOW_MS)
        assert len(outcome.records) + len(outcome.invalid) == len(raws) and not outcome.failures
        with transaction.atomic():
            batch = store_batch(run_id=run.pk, lease_epoch=1, records=outcome.records, invalid=len(outcome.invalid),
                                failed=0, estimated_total=None, checkpoint=None)  # fmt: skip
            assert Token.objects.filter(mint__in=[r.mint for r in outcome.records]).count() == len(
                {r.mint for r in outcome.records}
            )
            assert batch.run.fetched >= len(raws)
            transaction.set_rollback(True)

    one()

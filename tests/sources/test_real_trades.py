"""Every real TradeEvent, CompleteEvent and CompletePumpAmmMigrationEvent in ../shared/real decodes to
the values its source states (real/SOURCES.md), alone and inside whole transactions of every
encoding: trades through routers and the Mayhem program, USDC-quoted coins, several trades a
transaction, each trade once whether the logs, the inner instructions or both show it."""

import copy

import pytest

from tests.real_samples import ZERO_KEY, load, raw, records, transaction_of
from tokens.sources.chain.addresses import USDC_MINT
from tokens.sources.chain.events import decode_logs, decode_transaction
from tokens.sources.chain.launches import launch_records
from tokens.sources.chain.trades import (
    COMPLETE_EVENT_DISCRIMINATOR,
    MIGRATION_EVENT_DISCRIMINATOR,
    TRADE_EVENT_DISCRIMINATOR,
    InvalidEvent,
    parse_complete_event,
    parse_migration_event,
    parse_trade_event,
)


def fields_of(expected: dict) -> dict:
    """The decoded fields a record states (derived and source-asserted), in the decoder's terms."""
    values = {key: value for key, value in {**expected["derived"], **expected["source_expected"]}.items()}
    values = {key: value for key, value in values.items() if not key.startswith("_")}
    # Figures a source states in its own units (pump.fun's API: milliseconds, SOL).
    if "migratedAt_ms" in values:
        assert values.pop("migratedAt_ms") == values["timestamp"] * 1000
    if "solAmount" in values:
        assert values.pop("solAmount") == values["sol_amount"] / 10**9
    if values.get("quote_mint") in (ZERO_KEY, "all-zero (SOL)"):
        values["quote_mint"] = None  # all zeros: SOL
    if "shareholders" in values:
        values["shareholders"] = tuple((s["address"], s["share_bps"]) for s in values["shareholders"])
    return values


@pytest.mark.parametrize("sample", records("index_found/trade_events.json", "events"), ids=lambda s: s["key"])
def test_every_real_trade_event_decodes_to_its_stated_values(sample):
    payload = raw(sample)
    assert payload.startswith(TRADE_EVENT_DISCRIMINATOR)
    event = parse_trade_event(payload[8:])
    expected = fields_of(sample)
    assert len(expected) >= 10
    for name, value in expected.items():
        assert getattr(event, name) == value, name
    # A field the layout lacks is unknown, not zero.
    if len(payload) == 129:
        assert event.fee is None and event.creator is None and event.ix_name is None and event.quote_mint is None


def test_every_real_graduation_and_migration_decodes_to_its_stated_values():
    samples = records("index_found/other_events.json", "events")
    decoded = 0
    for sample in samples:
        payload = raw(sample)
        kind = sample["derived"].get("_event")
        if kind == "CompleteEvent":
            assert payload.startswith(COMPLETE_EVENT_DISCRIMINATOR)
            event = parse_complete_event(payload[8:])
        elif kind == "CompletePumpAmmMigrationEvent":
            assert payload.startswith(MIGRATION_EVENT_DISCRIMINATOR)
            event = parse_migration_event(payload[8:])
        else:
            # PumpSwap's and ExtendAccount events are none of pump's trade-stream events.
            assert payload[:8] not in (
                TRADE_EVENT_DISCRIMINATOR,
                COMPLETE_EVENT_DISCRIMINATOR,
                MIGRATION_EVENT_DISCRIMINATOR,
            )
            continue
        for name, value in fields_of(sample).items():
            assert getattr(event, name) == value, (sample["key"], name)
        decoded += 1
    assert decoded == 3


def test_a_real_trade_cut_inside_a_field_group_is_invalid_and_a_longer_one_is_read():
    [sample] = [s for s in records("index_found/trade_events.json", "events") if s["key"] == "100k_buy_v2_same_tx"]
    payload = raw(sample)[8:]
    with pytest.raises(InvalidEvent, match="inside buyback_fee_basis_points"):
        parse_trade_event(payload[:-5])  # inside the 2026-05 group
    with pytest.raises(InvalidEvent):
        parse_trade_event(payload[:100])  # inside the 2024 fields
    assert parse_trade_event(payload + bytes(9)) == parse_trade_event(payload)  # 2026-09's trailing bytes


# ---- Whole transactions -------------------------------------------------------------------------

# file -> the trades it holds: (mint prefix, is_buy, quote amount, token amount or None, user prefix or "")
TRADES = {
    "chainstack/create_tx_getTransaction_jsonParsed_2024-08-20__dcd8475.json": [
        ("ER2N5eaD", True, 1100000000, 37951768488745, "Fswrw3tg"),
    ],
    "chainstack/buy_tx_getTransaction_jsonParsed_2024-08-20__dcd8475.json": [
        ("HfJVjBdk", True, 24080282, 605426095720, ""), ("HfJVjBdk", False, 24080281, 605426095720, ""),
    ],
    "chainstack/create_tx_blockSubscribe_base64_2024__dcd8475.json": [("Dosp4t6w", True, 1100000000, None, "Ha3MnRTx")],
    "chainstack/create_tx_blockSubscribe_base64_2025-05__e4675c5.json": [("5eFg3gia", True, 297300000, None, "")],
    "chainstack/create_tx_blockSubscribe_base64_2026__a33f4fd.json": [("7YD6ZHb3", True, 98750018, None, "")],
    "chainstack/create_tx_getTransaction_slot435946190__a33f4fd.json": [
        ("CWiTGbCi", True, 2962962962, 96449438144093, ""),
    ],
    "chainstack/buy_tx_getTransaction_slot435948490__a33f4fd.json": [("4F4gGVBA", True, 3517192, None, "")],
    "nyanbot/getTransaction_base64_iurqm3R8__ff9a1df7.json": [
        ("G3TpcmEy", True, 800000147, 27870134831168, "HcvYEizK"),
    ],
    "nyanbot/getTransaction_base64_2RqhBZyk__ff9a1df7.json": [("5iA1jhWN", False, 212700228, 967931120978, "7PQ3nyAJ")],
    "nyanbot/getTransaction_base64_AUvnh9oF__ff9a1df7.json": [("CdX4emxn", True, 300000053, 1040025448826, "EtHx7bqN")],
    "vixen/pump_buy_via_cpi_grpc_txupdate_22K6ixTV__30bc2394.json": [("4eLCXkNb", True, 246875000, None, "")],
    "vixen/pumpswap_buy_grpc_txupdate_4pCgZ28W__30bc2394.json": [],  # PumpSwap trades are not pump's
    "vixen/pumpswap_sell_via_cpi_grpc_txupdate_5gtu6ARV__30bc2394.json": [],
}  # fmt: skip


def summary(decoded) -> list[tuple]:
    return [(t.mint[:8], t.is_buy, t.amount_in_quote, t.token_amount, t.user) for t in decoded.trades]


def matches(found: list[tuple], stated: list[tuple]) -> bool:
    return len(found) == len(stated) and all(
        f[:3] == s[:3] and s[3] in (None, f[3]) and f[4].startswith(s[4]) for f, s in zip(found, stated, strict=True)
    )


@pytest.mark.parametrize("relative", TRADES)
def test_every_real_transaction_gives_each_of_its_trades_once(relative):
    decoded = decode_transaction(transaction_of(relative))
    assert not decoded.failed and decoded.invalid_events == []
    assert matches(summary(decoded), TRADES[relative]), summary(decoded)


def test_the_2026_trades_carry_their_stated_fees_and_names():
    [buy] = decode_transaction(transaction_of("chainstack/create_tx_getTransaction_slot435946190__a33f4fd.json")).trades
    assert (buy.fee, buy.fee_basis_points, buy.cashback, buy.cashback_fee_basis_points) == (28148149, 95, 8888889, 30)
    assert (buy.buyback_fee, buy.buyback_fee_basis_points, buy.ix_name) == (14074074, 5000, "buy_exact_sol_in")
    [old] = decode_transaction(
        transaction_of("chainstack/create_tx_blockSubscribe_base64_2025-05__e4675c5.json")
    ).trades
    assert (old.fee_basis_points, old.creator_fee_basis_points, old.ix_name) == (95, 5, None)


def test_a_usdc_mayhem_buy_through_the_mayhem_program_is_read_in_its_quote():
    decoded = decode_transaction(transaction_of("chainstack/buy_tx_getTransaction_slot435948490__a33f4fd.json"))
    [trade] = decoded.trades  # Mayhem's own event in the same transaction is not pump's
    assert trade.mint == "4F4gGVBAWuKi3EpmYdhntXvCVFqZZqmrb1cqNGawpump"
    assert (trade.sol_amount, trade.virtual_sol_reserves, trade.real_sol_reserves) == (0, 0, 0)
    assert (trade.quote_mint, trade.quote_amount) == (USDC_MINT, 3517192)
    assert (trade.virtual_quote, trade.real_quote, trade.mayhem_mode, trade.ix_name) == (
        9798461752,
        25148140,
        True,
        "buy",
    )
    assert not trade.quoted_in_sol and trade.amount_in_quote == 3517192


def test_the_block_extract_holds_bundles_cpi_sells_and_the_developer_buy():
    block = load("nyanbot/block_326027759_pump_txs_extract__ff9a1df7.json")
    trades = []
    for tx in block["transactions"]:
        decoded = decode_transaction({**tx, "slot": block["slot"], "blockTime": block["blockTime"]})
        assert decoded.invalid_events == []
        trades += decoded.trades
        if decoded.events:  # the create: its developer's buy is in the same transaction
            [dev] = decoded.trades
            assert (dev.mint, dev.sol_amount, dev.token_amount) == (decoded.events[0].mint, 3200000000, 103421686746987)
    assert len(trades) == 14
    assert sum(not t.is_buy for t in trades) == 5  # three buy+sell bundles and two sells, one of them by CPI


@pytest.mark.parametrize("relative", ["chainstack/buy_tx_getTransaction_jsonParsed_2024-08-20__dcd8475.json",
                                      "chainstack/create_tx_getTransaction_slot435946190__a33f4fd.json",
                                      "vixen/pump_buy_via_cpi_grpc_txupdate_22K6ixTV__30bc2394.json"])  # fmt: skip
def test_each_trade_once_from_logs_alone_inner_instructions_alone_or_both(relative):
    whole = transaction_of(relative)
    both = summary(decode_transaction(whole))
    assert both
    truncated = copy.deepcopy(whole)
    meta = truncated.get("meta") or truncated["transaction"]["meta"]
    meta["logMessages"] = [line for line in meta["logMessages"] if not line.startswith("Program data:")]
    meta["logMessages"].append("Log truncated")
    assert summary(decode_transaction(truncated)) == both  # the inner instructions hold them all
    logs_only = copy.deepcopy(whole)
    meta = logs_only.get("meta") or logs_only["transaction"]["meta"]
    meta["innerInstructions"] = []
    assert summary(decode_transaction(logs_only)) == both
    notification = decode_logs("sig", (whole.get("meta") or whole["transaction"]["meta"])["logMessages"])
    assert summary(notification) == both  # what logsSubscribe shows


@pytest.mark.parametrize(
    ("relative", "mint", "is_buy"),
    [
        ("vixen/pump_sell_vixenfixture_4GtxzHLT__ab93b79a.json", "FXLjNRSQXuFM8fhKLEg2QeuUxs4Eu2hhc28tZhzrpump", False),
        ("vixen/pump_buy_vixenfixture_3tkxRjND__ab93b79a.json", "BaWrqmzh9nqUkZRKB9p9WNaM8xKRrmcW9ztgLJrWpump", True),
    ],
)
def test_real_log_recordings_give_their_trade(relative, mint, is_buy):
    [trade] = decode_logs("sig", load(relative)["log_messages"]).trades
    assert (trade.mint, trade.is_buy) == (mint, is_buy)


@pytest.mark.parametrize(
    ("relative", "dev_percent"),
    [
        ("chainstack/create_tx_getTransaction_jsonParsed_2024-08-20__dcd8475.json", 3.7952),  # 37951768488745
        ("chainstack/create_tx_getTransaction_slot435946190__a33f4fd.json", 9.6449),  # 96449438144093
        ("nyanbot/getTransaction_base64_iurqm3R8__ff9a1df7.json", 2.787),  # 27870134831168
    ],
)
def test_a_backfilled_launch_knows_its_developer_first_buy_from_the_create_transaction(relative, dev_percent):
    [launch] = launch_records(decode_transaction(transaction_of(relative)))
    assert launch.dev_percent_at_launch == pytest.approx(dev_percent, abs=1e-4)
    assert launch.bundled_percent_at_launch == 0.0  # nobody else bought in these transactions


def test_the_block_extract_developer_buy_is_the_launch_figure():
    block = load("nyanbot/block_326027759_pump_txs_extract__ff9a1df7.json")
    launches = []
    for tx in block["transactions"]:
        launches += launch_records(decode_transaction({**tx, "slot": block["slot"], "blockTime": block["blockTime"]}))
    [launch] = launches
    assert launch.dev_percent_at_launch == round(100 * 103421686746987 / 10**15, 4)

"""Every real PumpSwap trade in ../shared/real decodes to its stated values: the BuyEvent past the IDL
(with the pool's virtual quote reserves in its tail), the gRPC buy and the sell through an aggregator's
CPI (from logs alone, inner instructions alone, or both), the sell three programs deep in a recorded
log. And the tail is what it is read as: the first trade in a migrated pool sees the pool's quote
vault plus its virtual quote reserves equal, to the lamport, the SOL the migration moved."""

import pytest

from tests.real_samples import load, raw, records
from tokens.sources.chain.amm import AMM_BUY_EVENT_DISCRIMINATOR, parse_amm_buy_event
from tokens.sources.chain.events import decode_logs, decode_transaction
from tokens.sources.chain.trades import MIGRATION_EVENT_DISCRIMINATOR, parse_migration_event

EVENTS = {record["key"]: record for record in records("index_found/other_events.json", "events")}
FIELDS = (
    "timestamp",
    "pool",
    "user",
    "coin_creator",
    "ix_name",
    "pool_base_token_reserves",
    "pool_quote_token_reserves",
)


def test_the_first_trade_after_a_migration_decodes_to_its_stated_fields():
    record = EVENTS["amm_buy_first_trade_GnpU6c"]
    data = raw(record)
    assert data.startswith(AMM_BUY_EVENT_DISCRIMINATOR)
    event = parse_amm_buy_event(data[8:])
    stated = record["derived"]
    assert event.is_buy is record["source_expected"]["isBuy"]
    assert event.quote_amount == record["source_expected"]["quoteAmount"] == stated["quote_amount_in"]
    assert event.base_amount == stated["base_amount_out"]
    for name in FIELDS:
        assert getattr(event, name) == stated[name], name
    assert event.virtual_quote_reserves == int.from_bytes(bytes.fromhex(stated["_trailing_hex"][:16]), "little")


def test_a_pools_virtual_quote_reserves_make_up_what_its_migration_moved():
    first_trade = parse_amm_buy_event(raw(EVENTS["amm_buy_first_trade_GnpU6c"])[8:])
    migration_data = raw(EVENTS["migration_ELJFma_2026-07-25"])
    assert migration_data.startswith(MIGRATION_EVENT_DISCRIMINATOR)
    migration = parse_migration_event(migration_data[8:])
    assert migration.pool == first_trade.pool
    assert first_trade.pool_base_token_reserves == migration.mint_amount
    assert first_trade.pool_quote_token_reserves + first_trade.virtual_quote_reserves == migration.sol_amount


GRPC = {
    "vixen/pumpswap_buy_grpc_txupdate_4pCgZ28W__30bc2394.json": (True, 1205966600208, 176706134522828, 101176982408),
    "vixen/pumpswap_sell_via_cpi_grpc_txupdate_5gtu6ARV__30bc2394.json": (
        False, 22614342682, 229187696240609, 104853348111,
    ),
}  # fmt: skip


@pytest.mark.parametrize("relative", GRPC)
def test_real_pumpswap_transactions_give_their_trade_once_from_either_channel(relative):
    whole = load(relative)
    is_buy, base, pool_base, pool_quote = GRPC[relative]
    [trade] = decode_transaction(whole).amm_trades
    assert (trade.is_buy, trade.base_amount, trade.pool_base_token_reserves, trade.pool_quote_token_reserves) == (
        is_buy, base, pool_base, pool_quote,
    )  # fmt: skip
    assert decode_transaction(whole).trades == []  # PumpSwap's trades are not pump's
    meta = whole["transaction"]["meta"]
    logs_only = {**whole, "transaction": {**whole["transaction"], "meta": {**meta, "innerInstructions": []}}}
    inner_only = {**whole, "transaction": {**whole["transaction"], "meta": {**meta, "logMessages": []}}}
    assert decode_transaction(logs_only).amm_trades == [trade]
    assert decode_transaction(inner_only).amm_trades == [trade]
    assert decode_logs("sig", meta["logMessages"]).amm_trades == [trade]  # what logsSubscribe shows


def test_a_sell_routed_three_programs_deep_is_read_from_its_logs():
    [trade] = decode_logs("sig", load("vixen/pumpswap_sell_via_route_vixenfixture_VLzYfuPu__2bc1ed20.json")[
        "log_messages"]).amm_trades  # fmt: skip
    assert trade.is_buy is False and trade.timestamp == 1773843037 and trade.base_amount > 0

"""Every decoder of the project reads every real mainnet sample in ../shared/real to the values its
source states (real/SOURCES.md): events, transactions in every encoding others recorded them in,
bonding curves, Pyth prices. Samples of kinds a decoder does not handle are read too, and must give
nothing (no launch from a buy, no curve from a pool), without an exception.

Where the samples are: tests/real_samples.py. Trades, graduations and migrations:
test_real_trades.py.
"""

import base64
import json

import pytest

from tests.real_samples import REAL, ZERO_KEY, load, raw, records, transaction_of
from tokens.sources.chain.addresses import TOKEN_2022_PROGRAM
from tokens.sources.chain.curve import InvalidAccount, decode_curve, decode_pyth_price
from tokens.sources.chain.events import (
    InvalidEvent,
    create_event_from_log_data,
    decode_logs,
    decode_transaction,
    pump_log_payloads,
)
from tokens.sources.chain.launches import launch_records
from tokens.sources.chain.pdas import bonding_curve_address, canonical_pool_address

# ---- CreateEvent payloads -----------------------------------------------------------------------

CREATE_FIELDS = (
    "name", "symbol", "uri", "mint", "bonding_curve", "user", "creator", "timestamp", "virtual_token_reserves",
    "virtual_sol_reserves", "real_token_reserves", "token_total_supply", "token_program", "is_mayhem_mode",
    "is_cashback_enabled", "quote_mint", "virtual_quote_reserves",
)  # fmt: skip


@pytest.mark.parametrize("sample", records("index_found/create_events.json", "events"), ids=lambda s: s["key"])
def test_every_real_create_event_decodes_to_its_stated_values(sample):
    event = create_event_from_log_data(raw(sample))
    expected = {**sample["derived"], **sample["source_expected"]}
    checked = 0
    for name in CREATE_FIELDS:
        if name not in expected:
            continue
        want = expected[name]
        if name == "quote_mint" and want == ZERO_KEY:
            want = None  # all zeros: SOL
        assert getattr(event, name) == want, name
        checked += 1
    assert checked >= 6
    missing = [name for name in CREATE_FIELDS if name not in expected]
    assert all(getattr(event, name) is None for name in missing)  # fields the layout does not have
    assert event.bonding_curve == bonding_curve_address(event.mint)


def test_a_real_payload_cut_inside_a_known_field_is_invalid_not_an_older_layout():
    [taki] = [s for s in records("index_found/create_events.json", "events") if s["key"] == "Taki"]
    payload = raw(taki)
    token_program_at = len(payload) - 33  # the 2025-11 layout ends with token_program (32) and is_mayhem_mode (1)
    assert create_event_from_log_data(payload).token_program == TOKEN_2022_PROGRAM
    with pytest.raises(InvalidEvent, match="inside token_program"):
        create_event_from_log_data(payload[: token_program_at + 28])  # the key cut after 28 of its 32 bytes
    with pytest.raises(InvalidEvent):
        create_event_from_log_data(payload[:-1])  # is_mayhem_mode missing: cut inside the same group


def test_the_2026_09_simulation_line_with_trailing_bytes_decodes():
    sample = load("tekkteam/create_v2_simulation_2026-09-26__5dd9e724.json")
    line = sample["program_data_log_line"]
    event = create_event_from_log_data(base64.b64decode(line[len("Program data: ") :]))
    assert event.mint == sample["mint"] and event.timestamp == 1790426495
    assert event.quote_mint is None and event.bonding_curve == bonding_curve_address(event.mint)
    assert event.token_program == TOKEN_2022_PROGRAM


@pytest.mark.parametrize(
    ("relative", "key"),
    [("index_found/trade_events.json", "events"), ("index_found/other_events.json", "events")],
)
def test_other_real_events_are_no_launch(relative, key):
    for sample in records(relative, key):
        assert create_event_from_log_data(raw(sample)) is None, sample["key"]


# ---- Whole transactions, in every encoding they were recorded in ---------------------------------

LAUNCHES = {
    # file -> (mint, name, symbol, bonding curve prefix, creator or user prefix, creation time in seconds)
    "chainstack/create_tx_getTransaction_jsonParsed_2024-08-20__dcd8475.json": (
        "ER2N5eaDoC68kNhj7LyaScimzq7deaqxiw88rewvxaKp", "excited", "excited",
        "FFzxakVNzpirwMFtLyD22UZ6UM3KLF2EAGC2RxNPaYoH", "Fswrw3tgQL597kCexxLEhft6a7Su4CDoqwRMqqj4BEp5", 1724128600,
    ),
    "chainstack/create_tx_blockSubscribe_base64_2024__dcd8475.json": (
        "Dosp4t6w5kDzAgBQBMEsZSUNzdwTC5zHYiVZQqMKpump", "dod", "DOD", "52EdRamu", "Ha3MnRTx", None,
    ),
    "chainstack/create_tx_blockSubscribe_base64_2026__a33f4fd.json": (
        "7YD6ZHb39jGb33ki2iFd7kHK11yMkSFCc9kvjJscpump", "NYXORA", "NYXORA", "9hgcsTpZ", "", 1785328607,
    ),
    "chainstack/create_tx_getTransaction_slot435946190__a33f4fd.json": (
        "CWiTGbCiDd8BKtNYNE2boT9fJGFG2MU53Uf6HQk4pump", "The Ass Statue", "TAS",
        "3jJ83NDorkbFkF1JKbEfFWGeX16aXUiwby9RwJm9kat3", "5htGpHK2oV9g2BcDqLdRBqjCLdy8mc3fsESfR5DU73eM", 1785327618,
    ),
    "nyanbot/getTransaction_base64_iurqm3R8__ff9a1df7.json": (
        "G3TpcmEy28TbzbyjL7TQy5noZbXrFBzJ5Vw5PqhTpump", "ТURTlS", "ТURTlS",
        "B8wno3ipF3v1p59SHCZsUfjXwpv98bL7aJHXbo382nA6", "HcvYEizKBqExpW4uJBnEqDKFtCBUKmuLpExwzcRWdbQE", 1738463019,
    ),
}  # fmt: skip


@pytest.mark.parametrize("relative", sorted(LAUNCHES))
def test_every_real_create_transaction_gives_its_launch(relative):
    mint, name, symbol, curve, creator, created = LAUNCHES[relative]
    decoded = decode_transaction(transaction_of(relative))
    assert decoded.invalid == [] and not decoded.failed
    [event] = decoded.events
    assert (event.mint, event.name, event.symbol) == (mint, name, symbol)
    assert event.bonding_curve.startswith(curve) and event.bonding_curve == bonding_curve_address(mint)
    [record] = launch_records(decoded, source="recent")
    assert record.creator.startswith(creator)
    if created is not None:
        assert record.created_ms == created * 1000
    assert decoded.signature != "?"


def test_the_2026_create_v2_carries_its_token_program_and_quote():
    decoded = decode_transaction(transaction_of("chainstack/create_tx_blockSubscribe_base64_2026__a33f4fd.json"))
    [event] = decoded.events
    assert event.token_program == TOKEN_2022_PROGRAM
    assert (event.is_mayhem_mode, event.is_cashback_enabled, event.quote_mint) == (False, False, None)
    assert event.virtual_quote_reserves == 30_000_000_000


def test_the_block_extract_holds_one_launch_with_nul_bytes_in_its_name():
    block = load("nyanbot/block_326027759_pump_txs_extract__ff9a1df7.json")
    found = {}
    for tx in block["transactions"]:
        decoded = decode_transaction({**tx, "slot": block["slot"], "blockTime": block["blockTime"]})
        assert decoded.invalid == []
        found.update({event.mint: event for event in decoded.events})
    [event] = found.values()
    assert event.name == "The forbidden pear \x00\x00" and event.symbol == "PEAR"
    assert event.creator.startswith("Gb4ZDCis") and event.bonding_curve.startswith("BSewW3SL")
    assert event.bonding_curve == bonding_curve_address(event.mint) and event.virtual_token_reserves is None


NOT_LAUNCHES = [
    "chainstack/buy_tx_getTransaction_jsonParsed_2024-08-20__dcd8475.json",
    "chainstack/create_tx_blockSubscribe_base64_2025-05__e4675c5.json",  # a buy despite its name
    "chainstack/buy_tx_getTransaction_slot435948490__a33f4fd.json",  # Mayhem CPI, USDC coin
    "nyanbot/getTransaction_base64_2RqhBZyk__ff9a1df7.json",
    "nyanbot/getTransaction_base64_AUvnh9oF__ff9a1df7.json",
    "vixen/pump_buy_via_cpi_grpc_txupdate_22K6ixTV__30bc2394.json",  # Yellowstone gRPC
    "vixen/pumpswap_buy_grpc_txupdate_4pCgZ28W__30bc2394.json",
    "vixen/pumpswap_sell_via_cpi_grpc_txupdate_5gtu6ARV__30bc2394.json",
]


@pytest.mark.parametrize("relative", NOT_LAUNCHES)
def test_real_trades_are_read_and_hold_no_launch(relative):
    decoded = decode_transaction(transaction_of(relative))
    assert decoded.events == [] and decoded.invalid == [] and not decoded.failed
    assert len(decoded.signature) >= 64  # the signature was found in whatever encoding it came


@pytest.mark.parametrize(
    "relative",
    [
        "vixen/pump_sell_vixenfixture_4GtxzHLT__ab93b79a.json",
        "vixen/pump_buy_vixenfixture_3tkxRjND__ab93b79a.json",
        "vixen/pumpswap_sell_via_route_vixenfixture_VLzYfuPu__2bc1ed20.json",
    ],
)
def test_real_log_only_recordings_hold_no_launch(relative):
    logs = load(relative)["log_messages"]
    payloads, truncated = pump_log_payloads(logs)
    assert not truncated
    decoded = decode_logs("sig", logs)
    assert decoded.events == [] and decoded.invalid == []
    if "pump_" in relative:  # the pump program's own trade event, attributed to it by the invoke stack
        assert any(payload.startswith(bytes.fromhex("bddb7fd34ee661ee")) for payload in payloads)


@pytest.mark.parametrize(
    "relative",
    ["chainstack/decoded_create_tx_2024-08-20__dcd8475.json", "chainstack/decoded_buy_tx_2024-08-20__dcd8475.json"],
)
def test_the_decoded_companions_are_not_transactions(relative):
    # Kept byte-exact upstream, they are not one JSON document (SOURCES.md): nothing an RPC answers.
    with pytest.raises(json.JSONDecodeError):
        json.loads((REAL / relative).read_text())


# ---- Bonding curves, other accounts, Pyth -------------------------------------------------------


def account_bytes(relative: str) -> bytes:
    document = load(relative)
    value = document["result"]["value"] if "result" in document else document
    data = value["data"]
    return base64.b64decode(data[0] if isinstance(data, list) else data)


CURVES = {
    "carbon/pumpfun_bonding_curve_account_150b__6bbf3b26d2ac93ccb47ca313e1237b82e70e96f2.json": (
        1072911112000000, 30002485430, 793011112000000, 2485430, 10**15, False,
    ),
    "carbon/pumpfun_bonding_curve_account_49b__d43f77ec.json": (
        1072906494066221, 30002615555, 793006494066221, 2615555, 10**15, False,
    ),
    "chainstack/bonding_curve_getAccountInfo_slot285247740__dcd8475.json": (
        1070419577927421, 30072319932, 790519577927421, 72319932, 10**15, False,
    ),
    "chainstack/bonding_curve_getAccountInfo_slot435946373__a33f4fd.json": (
        1045502991298183, 30789008086, 765602991298183, 789008086, 10**15, False,
    ),
}  # fmt: skip


@pytest.mark.parametrize("relative", sorted(CURVES))
def test_every_real_curve_account_decodes_to_its_stated_values(relative):
    state = decode_curve(account_bytes(relative))
    got = (
        state.virtual_token_reserves, state.virtual_quote_reserves, state.real_token_reserves,
        state.real_quote_reserves, state.token_total_supply, state.complete,
    )  # fmt: skip
    assert got == CURVES[relative]
    assert state.quote == "SOL"


@pytest.mark.parametrize(
    "sample", records("index_found/bonding_curves_and_global.json", "accounts"), ids=lambda s: s["key"]
)
def test_the_found_curves_decode_and_the_global_account_is_not_a_curve(sample):
    data = raw(sample)
    if sample["derived"].get("_event") != "BondingCurve":
        with pytest.raises(InvalidAccount):
            decode_curve(data)
        return
    state, expected = decode_curve(data), sample["derived"]
    for name in ("virtual_token_reserves", "virtual_quote_reserves", "real_token_reserves", "real_quote_reserves",
                 "token_total_supply", "complete"):  # fmt: skip
        assert getattr(state, name) == expected[name], name
    assert state.quote_mint is None  # SOL, whether written as zeros or absent (81 bytes)


def test_the_global_account_and_every_pool_are_not_curves():
    with pytest.raises(InvalidAccount):
        decode_curve(account_bytes("carbon/pumpfun_global_account__6bbf3b26d2ac93ccb47ca313e1237b82e70e96f2.json"))
    for pool in records("index_found/pumpswap_pools.json", "pools"):
        with pytest.raises(InvalidAccount):
            decode_curve(raw(pool))


@pytest.mark.parametrize(
    "sample", records("index_found/pyth_price_update_v2_sol_usd.json", "accounts"), ids=lambda s: s["key"]
)
def test_every_real_pyth_account_decodes_to_its_price(sample):
    price = decode_pyth_price(raw(sample))
    expected = sample["derived"]
    assert price.usd == pytest.approx(expected["price"] * 10.0 ** expected["exponent"])
    assert price.publish_time == expected["publish_time"]


# ---- Addresses derived from a mint --------------------------------------------------------------


def test_every_real_migration_went_to_its_canonical_pool_and_curve():
    migrations = [e for e in records("index_found/other_events.json", "events")
                  if e["derived"].get("_event") == "CompletePumpAmmMigrationEvent"]  # fmt: skip
    assert len(migrations) == 2
    for event in migrations:
        found = event["derived"]
        assert canonical_pool_address(found["mint"]) == found["pool"]
        assert bonding_curve_address(found["mint"]) == found["bonding_curve"]


@pytest.mark.parametrize("pool", records("index_found/pumpswap_pools.json", "pools"), ids=lambda p: p["key"])
def test_only_migration_pools_are_the_canonical_pool_of_their_base_mint(pool):
    found = pool["derived"]
    canonical = found["_creator_is_pool_authority_pda_of_base_mint(canonical_migration_pool)"]
    assert (canonical_pool_address(found["base_mint"]) == found["_pool_address_rederived"]) is canonical

"""Every real PumpSwap pool account in ../shared/real decodes to its stated fields; its vaults to their
balances and the pool's price; only migration pools are the canonical pool of their coin; a pool's
discriminator under another owner, or a user's pool for the same mint, is not a coin's pool."""

import base64

import pytest

from tests.real_samples import records
from tokens.sources.chain.addresses import PUMP_AMM_PROGRAM, TOKEN_PROGRAM, WSOL_MINT
from tokens.sources.chain.curve import InvalidAccount
from tokens.sources.chain.pdas import associated_token_address
from tokens.sources.chain.pool_reader import TOKEN_PROGRAMS
from tokens.sources.chain.pools import decode_pool, is_canonical, pool_figures, pool_price, token_account_amount

POOLS = records("index_found/pumpswap_pools.json", "pools")
FIELDS = (
    "pool_bump", "index", "creator", "base_mint", "quote_mint", "lp_mint", "pool_base_token_account",
    "pool_quote_token_account", "lp_supply", "coin_creator", "is_mayhem_mode", "is_cashback_coin",
)  # fmt: skip


@pytest.mark.parametrize("sample", POOLS, ids=lambda s: s["key"])
def test_every_real_pool_decodes_to_its_stated_fields(sample):
    pool = decode_pool(base64.b64decode(sample["data"]), owner=PUMP_AMM_PROGRAM)
    stated = sample["derived"]
    for name in FIELDS:
        assert getattr(pool, name) == stated.get(name), name  # a field the layout lacks is None
    canonical = stated["_creator_is_pool_authority_pda_of_base_mint(canonical_migration_pool)"]
    assert is_canonical(stated["_pool_address_rederived"], pool) is canonical


def test_the_newer_pools_carry_their_virtual_quote_reserves_past_the_idl():
    """The 301-byte pool's 8 bytes after `is_cashback_coin`: 17.58 SOL, as in the 25 bytes past the
    IDL of the real AMM BuyEvent (tests/sources/test_real_amm.py); pools without them read none."""
    by_key = {s["key"]: decode_pool(base64.b64decode(s["data"]), owner=PUMP_AMM_PROGRAM) for s in POOLS}
    assert by_key["vH6Hy_7vEpDRUy_58071490151"].virtual_quote_reserves == 17_584_505_289
    assert by_key["539m4mVW_4195731551"].virtual_quote_reserves == 0  # the PUMP token's own pool: none
    assert by_key["brittle_20795982605"].virtual_quote_reserves is None  # 211 bytes: before the field


def test_the_pool_with_its_vaults_gives_the_stated_price():
    [sample] = [s for s in POOLS if "vaults" in s]
    pool = decode_pool(base64.b64decode(sample["data"]), owner=PUMP_AMM_PROGRAM)
    vaults = sample["vaults"]
    base = token_account_amount(base64.b64decode(vaults["base"]["data"]), mint=pool.base_mint)
    quote = token_account_amount(base64.b64decode(vaults["quote"]["data"]), mint=pool.quote_mint)
    assert base == vaults["base"]["derived"]["amount"] and quote == vaults["quote"]["derived"]["amount"]
    assert pool_price(base_amount=base, quote_amount=quote, quote_mint=pool.quote_mint) == pytest.approx(
        sample["derived_price"]["value"], rel=1e-12
    )
    with pytest.raises(InvalidAccount):
        token_account_amount(base64.b64decode(vaults["base"]["data"]), mint=WSOL_MINT)  # the other vault's mint


def test_a_look_alike_account_and_a_user_pool_are_not_a_coins_pool():
    data = base64.b64decode(POOLS[0]["data"])
    with pytest.raises(InvalidAccount):
        decode_pool(data, owner="cpamdpZCGKUy5JxQXB4dcpGPiikHawvSWAd6mEn1sGG")  # Meteora DAMM v2 shares it
    with pytest.raises(InvalidAccount):
        decode_pool(data[:100], owner=PUMP_AMM_PROGRAM)
    [user_pool] = [s for s in POOLS if s["derived"]["base_mint"] == WSOL_MINT]  # WSOL as the base
    pool = decode_pool(base64.b64decode(user_pool["data"]), owner=PUMP_AMM_PROGRAM)
    assert not is_canonical(user_pool["derived"]["_pool_address_rederived"], pool)


@pytest.mark.parametrize("sample", [s for s in POOLS if s["derived"]["base_mint"] != WSOL_MINT], ids=lambda s: s["key"])
def test_the_vaults_of_every_real_coin_pool_are_where_the_reader_looks_for_them(sample):
    """The reader finds a pool and prices it in one call by asking for the pool's associated token
    accounts: on every real pool those are its vaults (the base one under SPL Token or Token-2022)."""
    stated = sample["derived"]
    pool = stated["_pool_address_rederived"]
    candidates = {associated_token_address(pool, stated["base_mint"], token_program=p) for p in TOKEN_PROGRAMS}
    assert stated["pool_base_token_account"] in candidates
    quote_vault = associated_token_address(pool, stated["quote_mint"], token_program=TOKEN_PROGRAM)
    assert stated["pool_quote_token_account"] == quote_vault


def test_the_real_pools_figures_follow_from_its_vaults():
    [sample] = [s for s in POOLS if "vaults" in s]
    base, quote = (sample["vaults"][side]["derived"]["amount"] for side in ("base", "quote"))
    figures = pool_figures(base_amount=base, quote_amount=quote, quote_mint=WSOL_MINT, supply=10**15, sol_usd=200.0)
    price = sample["derived_price"]["value"]
    assert figures.price_usd == pytest.approx(price * 200.0, rel=1e-12)
    assert figures.market_cap_sol == pytest.approx(price * 10**9, rel=1e-12)
    assert figures.liquidity_sol == pytest.approx(2 * quote / 1e9) and figures.liquidity_usd == pytest.approx(
        2 * quote / 1e9 * 200.0
    )

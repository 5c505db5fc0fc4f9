"""Program-derived addresses of a coin (../shared/UPSTREAM.md; checked on the real samples in
../shared/real): its bonding curve and its canonical PumpSwap pool."""

from functools import lru_cache

from solders.pubkey import Pubkey

from tokens.sources.chain.addresses import (
    ASSOCIATED_TOKEN_PROGRAM,
    PUMP_AMM_PROGRAM,
    PUMP_PROGRAM,
    USDC_MINT,
    WSOL_MINT,
)

_PUMP = Pubkey.from_string(PUMP_PROGRAM)
_AMM = Pubkey.from_string(PUMP_AMM_PROGRAM)
_ATA = Pubkey.from_string(ASSOCIATED_TOKEN_PROGRAM)


@lru_cache(maxsize=4096)
def bonding_curve_address(mint: str) -> str:
    return str(Pubkey.find_program_address([b"bonding-curve", bytes(Pubkey.from_string(mint))], _PUMP)[0])


@lru_cache(maxsize=4096)
def canonical_pool_address(mint: str, *, quote: str = "SOL") -> str:
    """PDA(["pool", 0u16 LE, pool authority, mint, quote mint], PumpSwap), the pool authority being
    PDA(["pool-authority", mint], pump): where a graduated coin's liquidity migrates."""
    base = bytes(Pubkey.from_string(mint))
    authority = Pubkey.find_program_address([b"pool-authority", base], _PUMP)[0]
    quote_mint = Pubkey.from_string(USDC_MINT if quote == "USDC" else WSOL_MINT)
    seeds = [b"pool", (0).to_bytes(2, "little"), bytes(authority), base, bytes(quote_mint)]
    return str(Pubkey.find_program_address(seeds, _AMM)[0])


@lru_cache(maxsize=8192)
def associated_token_address(owner: str, mint: str, *, token_program: str) -> str:
    """The associated token account of `owner` for `mint` (a pool's vaults are its ATAs; a coin's
    base vault is a Token-2022 account for create_v2 coins, an SPL Token one before)."""
    seeds = [bytes(Pubkey.from_string(key)) for key in (owner, token_program, mint)]
    return str(Pubkey.find_program_address(seeds, _ATA)[0])

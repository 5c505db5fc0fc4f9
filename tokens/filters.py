"""The operator's filters, as pure functions over a normalised token."""

from dataclasses import dataclass
from datetime import datetime

from tokens.normalise import TokenRecord


@dataclass(frozen=True, slots=True)
class FilterRules:
    cutoff: datetime
    min_usd_market_cap: float | None = None
    max_usd_market_cap: float | None = None
    min_holders: int | None = None
    min_liquidity_sol: float | None = None
    include_nsfw: bool = True
    include_pump_only: bool = True
    blocklist: tuple[str, ...] = ()


def rejection_reason(token: TokenRecord, rules: FilterRules) -> str | None:
    """Why the token fails the filters, or None when it passes. Holder rules are checked separately,
    after the holder count is known."""
    if token.created_at < rules.cutoff:
        return "older than the age window"
    if not rules.include_nsfw and token.nsfw:
        return "marked NSFW"
    if not rules.include_pump_only and not token.complete:
        return "still on the bonding curve"
    term = _blocked_term(token, rules.blocklist)
    if term is not None:
        return f"name or symbol contains blocked word {term!r}"
    if rules.min_usd_market_cap is not None:
        if token.usd_market_cap is None:
            return "USD market cap unknown"
        if token.usd_market_cap < rules.min_usd_market_cap:
            return f"USD market cap below {rules.min_usd_market_cap:g}"
    if rules.max_usd_market_cap is not None:
        if token.usd_market_cap is None:
            return "USD market cap unknown"
        if token.usd_market_cap > rules.max_usd_market_cap:
            return f"USD market cap above {rules.max_usd_market_cap:g}"
    if rules.min_liquidity_sol is not None:
        if token.liquidity_sol is None:
            return "liquidity unknown"
        if token.liquidity_sol < rules.min_liquidity_sol:
            return f"liquidity below {rules.min_liquidity_sol:g} SOL"
    return None


def holder_rejection_reason(token: TokenRecord, rules: FilterRules) -> str | None:
    if rules.min_holders is None:
        return None
    if token.holders is None:
        return "holder count unavailable"
    if token.holders < rules.min_holders:
        return f"fewer than {rules.min_holders} holders"
    return None


def _blocked_term(token: TokenRecord, blocklist: tuple[str, ...]) -> str | None:
    haystack = f"{token.name}\n{token.symbol}".casefold()
    return next((term for term in blocklist if term.casefold() in haystack), None)

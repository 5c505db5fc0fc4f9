"""The operator's filters, as pure functions over a token (a normalised record or a stored row).

A token's details (bonding-curve state, holder count, metadata) may still be on their way: a rule
that needs one of them leaves the token pending instead of judging it on a guess, and the token is
judged again when the detail arrives.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

STATE, HOLDERS, METADATA = "state", "holders", "metadata"


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


def rules_from(stored: Any, *, cutoff: datetime) -> FilterRules:
    """The operator's saved filters (a BotSettings row) with a window start."""
    return FilterRules(
        cutoff=cutoff,
        min_usd_market_cap=stored.min_usd_market_cap,
        max_usd_market_cap=stored.max_usd_market_cap,
        min_holders=stored.min_holders,
        min_liquidity_sol=stored.min_liquidity_sol,
        include_nsfw=stored.include_nsfw,
        include_pump_only=stored.include_pump_only,
        blocklist=tuple(stored.blocklist_terms()),
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    reason: str | None  # why the token is rejected; None when it passes or is pending
    pending: bool = False  # a rule waits for a detail still being fetched


def judge(token: Any, rules: FilterRules, *, awaiting: Collection[str] = ()) -> Verdict:
    """Reject on what is known, wait for what is coming, pass the rest."""
    reason = _immediate(token, rules)
    if reason is not None:
        return Verdict(reason)
    waits = []
    for detail, check in ((STATE, _state_rules), (HOLDERS, holder_rejection_reason), (METADATA, _metadata_rules)):
        if not _needs(detail, rules):
            continue
        if detail in awaiting:
            waits.append(detail)
            continue
        reason = check(token, rules)
        if reason is not None:
            return Verdict(reason)
    return Verdict(None, pending=bool(waits))


def rejection_reason(token: Any, rules: FilterRules) -> str | None:
    """Why the token fails the filters, or None when it passes. Holder rules are checked separately,
    after the holder count is known."""
    return _immediate(token, rules) or _state_rules(token, rules)


def holder_rejection_reason(token: Any, rules: FilterRules) -> str | None:
    if rules.min_holders is None:
        return None
    if token.holders is None:
        return "holder count unavailable"
    if token.holders < rules.min_holders:
        return f"fewer than {rules.min_holders} holders"
    return None


def _needs(detail: str, rules: FilterRules) -> bool:
    if detail == STATE:
        return not rules.include_pump_only or any(
            value is not None for value in (rules.min_usd_market_cap, rules.max_usd_market_cap, rules.min_liquidity_sol)
        )
    if detail == HOLDERS:
        return rules.min_holders is not None
    return bool(rules.blocklist)


def _immediate(token: Any, rules: FilterRules) -> str | None:
    if token.created_at < rules.cutoff:
        return "older than the age window"
    if not rules.include_nsfw and token.nsfw:
        return "marked NSFW"
    term = _blocked_term(f"{token.name}\n{token.symbol}", rules.blocklist)
    if term is not None:
        return f"name or symbol contains blocked word {term!r}"
    return None


def _state_rules(token: Any, rules: FilterRules) -> str | None:
    if not rules.include_pump_only and not token.complete:
        return "still on the bonding curve"
    # A graduated coin's price is its pool's, read by the live refresh, not by a detail this verdict
    # could wait for: until then it is not judged on price or liquidity (never rejected for good
    # because its pool was not read yet).
    unpriced_graduate = token.complete and token.usd_market_cap is None
    if rules.min_usd_market_cap is not None and not unpriced_graduate:
        if token.usd_market_cap is None:
            return "USD market cap unknown"
        if token.usd_market_cap < rules.min_usd_market_cap:
            return f"USD market cap below {rules.min_usd_market_cap:g}"
    if rules.max_usd_market_cap is not None and not unpriced_graduate:
        if token.usd_market_cap is None:
            return "USD market cap unknown"
        if token.usd_market_cap > rules.max_usd_market_cap:
            return f"USD market cap above {rules.max_usd_market_cap:g}"
    if rules.min_liquidity_sol is not None and not (token.complete and token.liquidity_sol is None):
        if token.liquidity_sol is None:
            return "liquidity unknown"
        if token.liquidity_sol < rules.min_liquidity_sol:
            return f"liquidity below {rules.min_liquidity_sol:g} SOL"
    return None


def _metadata_rules(token: Any, rules: FilterRules) -> str | None:
    term = _blocked_term(token.description or "", rules.blocklist)
    return None if term is None else f"description contains blocked word {term!r}"


def _blocked_term(text: str, blocklist: tuple[str, ...]) -> str | None:
    haystack = text.casefold()
    return next((term for term in blocklist if term.casefold() in haystack), None)

"""The operator's filters applied again to every stored token, after they change in the admin."""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction

from tokens.models import BotSettings, DetailTask, Token
from tokens.store.batches import lock_board, next_cursor
from tokens.store.filters import FilterRules, judge, rules_from

CHUNK = 500  # tokens a transaction; no more than one catch-up answer (tokens/board/api.py) holds
# The BotSettings fields that decide whether a token is on the board.
FILTER_FIELDS = frozenset(
    ("min_usd_market_cap", "max_usd_market_cap", "min_holders", "min_liquidity_sol", "include_nsfw",
     "include_pump_only", "blocklist")
)  # fmt: skip


@dataclass(frozen=True)
class Rejudged:
    checked: int
    hidden: int  # on the board before, rejected now
    shown: int  # rejected before, on the board now
    cursor: int | None  # the board cursor the moved tokens got (None: nothing moved)


def judging_rules() -> FilterRules:
    """The saved filters, without the age window: a token in the board stays in it as it ages."""
    return rules_from(BotSettings.get_solo(), cutoff=datetime.min.replace(tzinfo=UTC))


def rejudge_stored() -> Rejudged:
    """Judge every stored token by the saved filters (without the age window: a stored token stays
    as it ages), CHUNK tokens a transaction: the board lock, which every writer needs, is held for one
    chunk at a time, never across the table. The tokens a chunk moves get a new board cursor, so open
    pages catch up by the API (no cursor holds more rows than one answer of it)."""
    rules = judging_rules()
    checked = hidden = shown = 0
    cursor = None
    last_pk = 0
    while True:
        with transaction.atomic():
            lock_board()
            chunk = list(Token.objects.filter(pk__gt=last_pk).order_by("pk")[:CHUNK])
            if not chunk:
                break
            last_pk = chunk[-1].pk
            moved, now_hidden, now_shown = _judge_chunk(chunk, rules)
            if moved:
                cursor = next_cursor()
                for token in moved:
                    token.cursor = cursor
                Token.objects.bulk_update(moved, ["passed_filters", "pending", "rejection_reason", "cursor"])
        checked, hidden, shown = checked + len(chunk), hidden + now_hidden, shown + now_shown
    return Rejudged(checked=checked, hidden=hidden, shown=shown, cursor=cursor)


def _judge_chunk(chunk: list[Token], rules) -> tuple[list[Token], int, int]:
    """The tokens of the chunk whose verdict changed (the new one set on them), and how many of them
    left the board and came back to it."""
    awaiting: dict[str, set[str]] = {}
    tasks = DetailTask.objects.filter(mint__in=[token.mint for token in chunk]).values_list("mint", "kind")
    for mint, kind in tasks:
        awaiting.setdefault(mint, set()).add(kind)
    moved, hidden, shown = [], 0, 0
    for token in chunk:
        verdict = judge(token, rules, awaiting=awaiting.get(token.mint, set()))
        passed, reason = verdict.reason is None, (verdict.reason or "")[:200]
        if (passed, verdict.pending, reason) == (token.passed_filters, token.pending, token.rejection_reason):
            continue
        hidden += token.passed_filters and not passed
        shown += passed and not token.passed_filters
        token.passed_filters, token.pending, token.rejection_reason = passed, verdict.pending, reason
        moved.append(token)
    return moved, hidden, shown

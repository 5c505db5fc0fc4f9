"""The operator's filters applied again to every stored token, after they change in the admin."""

from dataclasses import dataclass

from django.db import transaction

from tokens.detail_queue import judging_rules
from tokens.filters import judge
from tokens.models import DetailTask, Token
from tokens.store import next_cursor

CHUNK = 2_000
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


def rejudge_stored() -> Rejudged:
    """Judge every stored token by the saved filters (without the age window: a stored token stays
    as it ages). The moved tokens get one new board cursor, so open pages catch up by the API."""
    rules = judging_rules()
    checked = hidden = shown = changed = 0
    with transaction.atomic():
        cursor = next_cursor()
        last_pk = 0
        while True:
            chunk = list(Token.objects.filter(pk__gt=last_pk).order_by("pk")[:CHUNK])
            if not chunk:
                break
            last_pk = chunk[-1].pk
            awaiting: dict[str, set[str]] = {}
            tasks = DetailTask.objects.filter(mint__in=[token.mint for token in chunk]).values_list("mint", "kind")
            for mint, kind in tasks:
                awaiting.setdefault(mint, set()).add(kind)
            moved = []
            for token in chunk:
                verdict = judge(token, rules, awaiting=awaiting.get(token.mint, set()))
                passed, reason = verdict.reason is None, (verdict.reason or "")[:200]
                if (passed, verdict.pending, reason) == (token.passed_filters, token.pending, token.rejection_reason):
                    continue
                hidden += token.passed_filters and not passed
                shown += passed and not token.passed_filters
                token.passed_filters, token.pending, token.rejection_reason = passed, verdict.pending, reason
                token.cursor = cursor
                moved.append(token)
            Token.objects.bulk_update(moved, ["passed_filters", "pending", "rejection_reason", "cursor"])
            checked += len(chunk)
            changed += len(moved)
        if not changed:
            transaction.set_rollback(True)  # nothing moved: the cursor is not spent
            return Rejudged(checked=checked, hidden=0, shown=0, cursor=None)
    return Rejudged(checked=checked, hidden=hidden, shown=shown, cursor=cursor)

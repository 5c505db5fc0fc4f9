"""The board as CSV: one header line, then one line per token, safe to open in a spreadsheet."""

import csv
import io
from collections.abc import Iterable, Iterator

from tokens.live.messages import POOL_FIELDS, TRADE_FIELDS, pool_facts, trade_figures
from tokens.models import Token

COLUMNS = (
    "mint", "symbol", "name", "created_at", "usd_market_cap", "market_cap_sol", "liquidity_sol", "bonding_progress",
    "complete", *POOL_FIELDS, "holders", "reply_count", "creator", "twitter", "telegram", "website", "image_uri",
    "sources", "details_updated_at", *TRADE_FIELDS,
)  # fmt: skip
# A cell a spreadsheet would run as a formula: names and links are chosen by whoever launched the coin.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_lines(tokens: Iterable[Token]) -> Iterator[str]:
    yield _line(COLUMNS)
    for token in tokens:
        yield _line(_cells(token))


def _cells(token: Token) -> list[str]:
    values = {
        "created_at": token.created_at.isoformat(),
        "sources": " ".join(token.sources),
        "details_updated_at": token.details_updated_at.isoformat() if token.details_updated_at else "",
        "complete": "true" if token.complete else "false",
        **pool_facts(token),
        **trade_figures(token),
    }
    cells = []
    for column in COLUMNS:
        value = values[column] if column in values else getattr(token, column)
        cells.append("" if value is None else _defused(str(value)))
    return cells


def _defused(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_START) else text


def _line(cells) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(cells)
    return out.getvalue()

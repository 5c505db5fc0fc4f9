"""Answers of the token API kept for a second, keyed by the request and the board cursor.

Every change to what the board shows (a batch, a detail, a re-judged filter) takes a new board
cursor, so an answer stored under the current cursor is exactly what the database would give; the
second bounds relative filters (`max_age`). Many readers polling the same view then cost one query
for the cursor instead of a page of rows each. Per process, bounded."""

import time
from collections import OrderedDict

TTL = 1.0
SIZE = 512
_answers: OrderedDict[tuple[str, int], tuple[float, bytes]] = OrderedDict()


def cached(key: str, cursor: int) -> bytes | None:
    entry = _answers.get((key, cursor))
    if entry is None or time.monotonic() - entry[0] > TTL:
        return None
    return entry[1]


def keep(key: str, cursor: int, body: bytes) -> None:
    _answers[(key, cursor)] = (time.monotonic(), body)
    _answers.move_to_end((key, cursor))
    while len(_answers) > SIZE:
        _answers.popitem(last=False)

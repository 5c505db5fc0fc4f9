"""One batch on the critical path: validate each record, decide which details to fetch later, judge
it against the filters with what is known now. No network: holder counts, metadata and current
market caps come afterwards, from the details stage, as row updates.

One token's failure is counted and logged and never fails its batch.
"""

import logging
from dataclasses import dataclass, field
from typing import Any

from tokens.store.filters import HOLDERS, METADATA, STATE, FilterRules, judge
from tokens.store.normalise import InvalidRecord, TokenRecord, normalise

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DetailPlan:
    """Which details this deployment fetches for a token after it is stored."""

    curve_state: bool = False  # the chain: current market cap, progress, graduation
    holders: bool = False  # a DAS RPC counts holders
    metadata: bool = False  # launch metadata documents (the chain's launches point at one)

    def for_record(self, record: TokenRecord) -> tuple[str, ...]:
        wanted = []
        if self.curve_state and record.bonding_curve and record.signature and not record.state_read:
            wanted.append(STATE)
        if self.holders:
            wanted.append(HOLDERS)
        if self.metadata and record.metadata_uri and not record.image_uri:
            wanted.append(METADATA)
        return tuple(wanted)


NO_DETAILS = DetailPlan()


@dataclass
class BatchOutcome:
    records: list[TokenRecord] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)  # upstream records refused by validation
    failures: list[str] = field(default_factory=list)  # unexpected errors while processing

    @property
    def accepted(self) -> list[TokenRecord]:
        return [record for record in self.records if not record.rejection_reason]

    @property
    def rejected(self) -> list[TokenRecord]:
        return [record for record in self.records if record.rejection_reason]


def process_token(raw: Any, *, rules: FilterRules, now_ms: int, plan: DetailPlan = NO_DETAILS) -> TokenRecord:
    record = normalise(raw, now_ms=now_ms)
    judge_record(record, rules, awaiting=plan.for_record(record))
    return record


def judge_record(record: TokenRecord, rules: FilterRules, *, awaiting: tuple[str, ...]) -> None:
    """The record's verdict with what is known now, and the details it still waits for."""
    verdict = judge(record, rules, awaiting=awaiting)
    record.rejection_reason = verdict.reason or ""
    record.pending = verdict.pending
    # A rejected token is off the board: its details are not worth a call.
    record.awaiting = () if verdict.reason else awaiting


def process_batch(raws: list[Any], *, rules: FilterRules, now_ms: int, plan: DetailPlan = NO_DETAILS) -> BatchOutcome:
    outcome = BatchOutcome()
    for raw in raws:
        try:
            outcome.records.append(process_token(raw, rules=rules, now_ms=now_ms, plan=plan))
        except InvalidRecord as exc:
            outcome.invalid.append(f"{_label(raw)}: {exc}")
            logger.warning("rejected upstream record %s: %s", _label(raw), exc)
        except Exception as exc:
            outcome.failures.append(f"{_label(raw)}: {type(exc).__name__}: {exc}")
            logger.error("failed to process %s", _label(raw), exc_info=exc)
    return outcome


def _label(raw: Any) -> str:
    mint = raw.get("mint") if isinstance(raw, dict) else None
    return repr(mint)[:60] if mint is not None else "record without a mint"

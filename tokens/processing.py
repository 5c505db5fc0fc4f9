"""One batch: validate each record, look up holders, apply the filters; tokens concurrently.

One token's failure is counted and logged and never fails its batch.
"""

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from tokens.filters import FilterRules, holder_rejection_reason, rejection_reason
from tokens.normalise import MAX_DESCRIPTION, InvalidRecord, TokenRecord, clean_text, normalise, safe_url
from tokens.upstream.holders import HolderCounter, HolderLookupError
from tokens.upstream.metadata import MetadataError, MetadataFetcher

logger = logging.getLogger(__name__)


@dataclass
class BatchOutcome:
    records: list[TokenRecord] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)  # upstream records refused by validation
    failures: list[str] = field(default_factory=list)  # unexpected errors while processing

    @property
    def holder_errors(self) -> int:
        return sum(1 for record in self.records if record.holder_error)

    @property
    def accepted(self) -> list[TokenRecord]:
        return [record for record in self.records if not record.rejection_reason]

    @property
    def rejected(self) -> list[TokenRecord]:
        return [record for record in self.records if record.rejection_reason]


async def process_token(
    raw: Any,
    *,
    holders: HolderCounter | None,
    rules: FilterRules,
    now_ms: int,
    metadata: MetadataFetcher | None = None,
) -> TokenRecord:
    record = normalise(raw, now_ms=now_ms)
    reason = rejection_reason(record, rules)
    if reason is None and metadata is not None and record.metadata_uri and not record.image_uri:
        await _add_metadata(record, metadata)
    # Holder lookups cost RPC calls: only for tokens the cheap filters kept.
    if reason is None and holders is not None:
        try:
            record.holders = await holders.count(record.mint)
        except HolderLookupError as exc:
            logger.warning("holder count unavailable: %s", exc)
            record.holder_error = str(exc)
        reason = holder_rejection_reason(record, rules)
    record.rejection_reason = reason or ""
    return record


async def _add_metadata(record: TokenRecord, metadata: MetadataFetcher) -> None:
    """Image, description and socials from the launch's metadata document; a failure leaves them
    empty and is counted on the run."""
    try:
        found = await metadata.fetch(record.metadata_uri)
    except MetadataError as exc:
        logger.info("metadata of %s unavailable: %s", record.mint, exc)
        record.metadata_error = str(exc)
        return
    record.image_uri = safe_url(found.image)
    record.description = clean_text(found.description, MAX_DESCRIPTION)
    record.twitter = safe_url(found.twitter)
    record.telegram = safe_url(found.telegram)
    record.website = safe_url(found.website)


async def process_batch(
    raws: list[Any],
    *,
    holders: HolderCounter | None,
    rules: FilterRules,
    now_ms: int,
    metadata: MetadataFetcher | None = None,
) -> BatchOutcome:
    results = await asyncio.gather(
        *(process_token(raw, holders=holders, rules=rules, now_ms=now_ms, metadata=metadata) for raw in raws),
        return_exceptions=True,
    )
    outcome = BatchOutcome()
    for raw, result in zip(raws, results, strict=True):
        if isinstance(result, TokenRecord):
            outcome.records.append(result)
        elif isinstance(result, InvalidRecord):
            outcome.invalid.append(f"{_label(raw)}: {result}")
            logger.warning("rejected upstream record %s: %s", _label(raw), result)
        elif isinstance(result, Exception):
            outcome.failures.append(f"{_label(raw)}: {type(result).__name__}: {result}")
            logger.error("failed to process %s", _label(raw), exc_info=result)
        else:
            raise result  # CancelledError and other BaseExceptions stop the run
    return outcome


def _label(raw: Any) -> str:
    mint = raw.get("mint") if isinstance(raw, dict) else None
    return repr(mint)[:60] if mint is not None else "record without a mint"

"""The upstream clients a run uses, configured from Django settings."""

from django.conf import settings

from tokens.upstream.holders import HolderCounter
from tokens.upstream.pumpfun import PumpFunClient
from tokens.upstream.resilience import RetryPolicy


def retry_policy() -> RetryPolicy:
    return RetryPolicy(
        attempts=settings.UPSTREAM_RETRY_ATTEMPTS,
        wait_initial=settings.UPSTREAM_RETRY_WAIT_INITIAL,
        wait_max=settings.UPSTREAM_RETRY_WAIT_MAX,
        wait_jitter=settings.UPSTREAM_RETRY_JITTER,
    )


def pumpfun_client() -> PumpFunClient:
    return PumpFunClient(
        base_url=settings.PUMPFUN_API_URL,
        timeout=settings.UPSTREAM_TIMEOUT,
        retry=retry_policy(),
        requests_per_second=settings.PUMPFUN_REQUESTS_PER_SECOND,
        prefetch_pages=settings.PUMPFUN_PREFETCH_PAGES,
    )


def holder_counter() -> HolderCounter | None:
    """None when no holder RPC is configured: holder counts then stay unknown."""
    if not settings.SOLANA_RPC_URL:
        return None
    return HolderCounter(
        rpc_url=settings.SOLANA_RPC_URL,
        timeout=settings.UPSTREAM_TIMEOUT,
        retry=retry_policy(),
        requests_per_second=settings.SOLANA_RPC_REQUESTS_PER_SECOND,
    )

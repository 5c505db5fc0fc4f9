"""The upstream clients a run uses, configured from Django settings."""

from django.conf import settings

from tokens.models import Upstream
from tokens.sources.chain.source import ChainSource
from tokens.sources.holders import HolderCounter
from tokens.sources.metadata import MetadataFetcher
from tokens.sources.pumpfun_api.client import PumpFunClient
from tokens.sources.redaction import redact_url
from tokens.sources.resilience import RetryPolicy
from tokens.sources.rpc import SolanaRpc


def retry_policy() -> RetryPolicy:
    return RetryPolicy(
        attempts=settings.UPSTREAM_RETRY_ATTEMPTS,
        wait_initial=settings.UPSTREAM_RETRY_WAIT_INITIAL,
        wait_max=settings.UPSTREAM_RETRY_WAIT_MAX,
        wait_jitter=settings.UPSTREAM_RETRY_JITTER,
        deadline=settings.UPSTREAM_DEADLINE,
        circuit_failures=settings.CIRCUIT_FAILURES,
        circuit_cooldown=settings.CIRCUIT_COOLDOWN,
    )


def pumpfun_client() -> PumpFunClient:
    return PumpFunClient(
        base_url=settings.PUMPFUN_API_URL,
        timeout=settings.UPSTREAM_TIMEOUT,
        retry=retry_policy(),
        requests_per_second=settings.PUMPFUN_REQUESTS_PER_SECOND,
        prefetch_pages=settings.PUMPFUN_PREFETCH_PAGES,
    )


def holder_counter(rpc: SolanaRpc | None) -> HolderCounter | None:
    """Holder counts through the given RPC client (the one the chain's reads use); None when there
    is none or counting is off: holder counts then stay unknown."""
    if rpc is None or not settings.COUNT_HOLDERS:
        return None
    return HolderCounter(rpc=rpc)


def resolve_upstream(choice: str) -> str:
    """`auto` is the chain when an RPC is configured, else pump.fun's web API."""
    if choice == Upstream.AUTO:
        return Upstream.CHAIN if settings.SOLANA_RPC_URL else Upstream.API
    return choice


def websocket_url() -> str:
    if settings.SOLANA_WS_URL:
        return settings.SOLANA_WS_URL
    url = settings.SOLANA_RPC_URL
    if url.startswith("https://"):
        return "wss://" + url[len("https://") :]
    if url.startswith("http://"):
        return "ws://" + url[len("http://") :]
    return ""


def solana_rpc(*, on_notice=None) -> SolanaRpc:
    return SolanaRpc(
        url=settings.SOLANA_RPC_URL,
        timeout=settings.UPSTREAM_TIMEOUT,
        retry=retry_policy(),
        calls_per_second=settings.SOLANA_RPC_REQUESTS_PER_SECOND,
        batch_size=settings.SOLANA_RPC_BATCH_SIZE,
        on_notice=on_notice,
    )


def chain_source(rpc: SolanaRpc) -> ChainSource:
    return ChainSource(rpc=rpc, ws_url=websocket_url() or None, pyth_account=settings.PYTH_SOL_USD_ACCOUNT)


def metadata_fetcher() -> MetadataFetcher | None:
    if not settings.FETCH_METADATA:
        return None
    return MetadataFetcher(
        ipfs_gateway=settings.IPFS_GATEWAY,
        timeout=settings.UPSTREAM_TIMEOUT,
        concurrency=settings.METADATA_CONCURRENCY,
        allow_private_hosts=settings.METADATA_ALLOW_PRIVATE_HOSTS,
        allowed_ports=settings.METADATA_ALLOWED_PORTS,
    )


def configured_upstreams() -> list[tuple[str, str]]:
    """Each upstream setting and its value, secrets redacted, for people to check."""
    rpc = redact_url(settings.SOLANA_RPC_URL) if settings.SOLANA_RPC_URL else "not set"
    ws = websocket_url()
    return [
        ("PUMPFUN_API_URL", settings.PUMPFUN_API_URL),
        ("SOLANA_RPC_URL", rpc),
        ("SOLANA_WS_URL", redact_url(ws) if ws else "not set (the tail polls)"),
        ("IPFS_GATEWAY", settings.IPFS_GATEWAY),
        ("automatic choice", "chain" if settings.SOLANA_RPC_URL else "web API"),
        ("trades", _trades_followed(ws)),
    ]


def _trades_followed(ws: str) -> str:
    """Whether the feed follows trades, and what it would need."""
    if not settings.FOLLOW_TRADES:
        return "not followed (FOLLOW_TRADES is off)"
    if not settings.SOLANA_RPC_URL or not ws:
        return "not followed: trades need an RPC with a websocket (SOLANA_RPC_URL, SOLANA_WS_URL)"
    pools = "; PumpSwap's too (FOLLOW_PUMPSWAP)" if settings.FOLLOW_PUMPSWAP else ""
    return f"followed by the feed over the websocket{pools}"

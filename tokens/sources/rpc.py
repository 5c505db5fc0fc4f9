"""The one Solana JSON-RPC client, for every RPC call (transactions, curves, prices, holder counts):
single calls and batch arrays, one call rate per endpoint, retries, one circuit breaker.

Knows nothing of Django. A batch array costs as many calls as it holds (providers bill and limit
per call; batching saves HTTP round trips, not credits), so the rate limiter is charged per call.
Errors never carry the RPC URL, which usually holds an API key.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import orjson

from tokens.sources.redaction import redact_url
from tokens.sources.resilience import (
    RetriesExhausted,
    RetryPolicy,
    TransientError,
    acquire_calls,
    call_with_retries,
    circuit,
    shared_limiter,
)
from tokens.sources.rpc_http import JsonPoster

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 100
# JSON-RPC codes providers use for "slow down": Helius/-32429, EIP-1474 limit exceeded/-32005.
RATE_LIMIT_CODES = {-32429, -32005, 429}
METHOD_NOT_FOUND = -32601
RATE_LIMITER_NAME = "solana-rpc"


class RpcError(Exception):
    """The RPC could not answer, even after retries, or answered with a final error."""


class RpcCallError(RpcError):
    """A JSON-RPC error object for one call."""

    def __init__(self, method: str, error: Any) -> None:
        self.code = error.get("code") if isinstance(error, dict) else None
        detail = str(error.get("message") if isinstance(error, dict) else error)[:200]
        super().__init__(f"{method}: RPC error {self.code}: {detail}")


class RpcRefused(RpcError):
    """HTTP 401/403: the RPC refuses us (a missing or wrong API key), whatever we send."""


class MethodNotFound(RpcCallError):
    """The provider does not offer this method (JSON-RPC -32601)."""


class BatchesRefused(Exception):
    """The provider does not take JSON-RPC batch arrays."""


def is_rate_limited(error: Any) -> bool:
    code = error.get("code") if isinstance(error, dict) else None
    text = str(error.get("message") if isinstance(error, dict) else error).lower()
    return code in RATE_LIMIT_CODES or "rate limit" in text or "too many requests" in text


def call_error(method: str, error: Any) -> RpcCallError:
    code = error.get("code") if isinstance(error, dict) else None
    return MethodNotFound(method, error) if code == METHOD_NOT_FOUND else RpcCallError(method, error)


class SolanaRpc:
    def __init__(
        self,
        *,
        url: str,
        timeout: float = 15.0,
        retry: RetryPolicy | None = None,
        calls_per_second: float | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        concurrency: int = 4,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        self.batch_size = max(1, batch_size)
        self.batches_refused = False
        self.calls = 0  # JSON-RPC calls sent, batch members included
        self.http_requests = 0
        self._url = url
        self._retry = retry or RetryPolicy()
        self._rate = calls_per_second
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._notice = on_notice or (lambda text: logger.warning("%s", text))
        self._next_id = 0
        # Connections for batches (`concurrency` at once) and single calls beside them.
        self._http = JsonPoster(url=url, timeout=timeout, connections=16)

    async def __aenter__(self) -> "SolanaRpc":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def _limiter(self):
        return None if self._rate is None else shared_limiter(RATE_LIMITER_NAME, per_second=self._rate)

    async def call(self, method: str, params: list[Any] | dict[str, Any], *, typed: "TypedAnswer | None" = None) -> Any:
        """One call's result (None is a result: `getTransaction` of a transaction not visible yet).
        With `typed`, a result of its type comes back as that type; any other answer is read as JSON."""
        try:
            return await call_with_retries(
                lambda: self._send_one(method, params, typed=typed),
                policy=self._retry,
                limiter=None,
                what=f"Solana RPC {method}",
                breaker=circuit("the Solana RPC"),
            )
        except RetriesExhausted as exc:
            raise RpcError(f"{exc}; SOLANA_RPC_URL is {redact_url(self._url)}") from exc

    async def call_many(self, method: str, params_list: Sequence[list[Any]]) -> list[Any]:
        """Results in order, as JSON-RPC batch arrays of `batch_size`, sent concurrently; a call that
        failed for good comes back as its `RpcCallError` instead of a result."""
        chunks = [params_list[i : i + self.batch_size] for i in range(0, len(params_list), self.batch_size)]
        answers = await asyncio.gather(*(self._chunk(method, list(chunk)) for chunk in chunks))
        return [result for answer in answers for result in answer]

    async def _chunk(self, method: str, params_list: list[list[Any]]) -> list[Any]:
        async with self._slots:
            if not self.batches_refused and len(params_list) > 1:
                try:
                    return await self._batch_with_retries(method, params_list)
                except BatchesRefused as exc:
                    if not self.batches_refused:
                        self.batches_refused = True
                        self._notice(f"the Solana RPC refuses JSON-RPC batches ({exc}); sending single calls")
        return list(await asyncio.gather(*(self._single_or_error(method, params) for params in params_list)))

    async def _single_or_error(self, method: str, params: list[Any]) -> Any:
        try:
            return await self.call(method, params)
        except RpcCallError as exc:
            return exc

    async def _batch_with_retries(self, method: str, params_list: list[list[Any]]) -> list[Any]:
        results: dict[int, Any] = {}
        pending = list(range(len(params_list)))

        async def attempt() -> None:
            nonlocal pending
            answers = await self._send_batch(method, [params_list[i] for i in pending])
            limited = []
            for index, answer in zip(pending, answers, strict=True):
                if isinstance(answer, _RateLimited):
                    limited.append(index)
                else:
                    results[index] = answer
            pending = limited
            if pending:
                raise TransientError(f"rate limited on {len(pending)} of a batch")

        try:
            await call_with_retries(
                attempt,
                policy=self._retry,
                limiter=None,
                what=f"Solana RPC {method} batch",
                breaker=circuit("the Solana RPC"),
            )
        except RetriesExhausted as exc:
            raise RpcError(f"{exc}; SOLANA_RPC_URL is {redact_url(self._url)}") from exc
        return [results[i] for i in range(len(params_list))]

    async def _send_one(
        self, method: str, params: list[Any] | dict[str, Any], *, typed: "TypedAnswer | None" = None
    ) -> Any:
        await acquire_calls(self._limiter(), 1)
        content = await self._post_bytes(self._request(method, params), what=method)
        if typed is not None:
            answer = typed.decode(content)
            if answer is not None and bytes(answer.error) == b"null":
                return answer.result
        body = _json(content, what=method)
        if not isinstance(body, dict):
            raise TransientError(f"{method}: sent a JSON {type(body).__name__}, not a JSON-RPC answer")
        if body.get("error") is not None:
            if is_rate_limited(body["error"]):
                raise TransientError(f"{method}: rate limited")
            raise call_error(method, body["error"])
        if "result" not in body:
            raise TransientError(f"{method}: answer without a result")
        return body["result"]

    async def _send_batch(self, method: str, params_list: list[list[Any]]) -> list[Any]:
        requests = [self._request(method, params) for params in params_list]
        await acquire_calls(self._limiter(), len(requests))
        try:
            body = await self._post(requests, what=f"{method} batch")
        except RpcRefused as exc:
            # The key, or only its plan? One single call tells: refused too, it is the key (said as
            # such, not as "refuses batches"); answered, this key may not send arrays.
            with contextlib.suppress(RpcCallError):  # an answer, even an error one, is not a refusal
                await self._send_one(method, params_list[0])
            raise BatchesRefused(f"{exc}, while single calls are answered") from exc
        except RpcError as exc:
            # A provider that takes no arrays answers 4xx to one; single calls still work.
            raise BatchesRefused(str(exc)) from exc
        if isinstance(body, dict):
            raise BatchesRefused(_describe_error(body.get("error")))
        if not isinstance(body, list):
            raise TransientError(f"{method} batch: sent a JSON {type(body).__name__}, not an array")
        by_id = {item.get("id"): item for item in body if isinstance(item, dict)}
        answers = []
        for request in requests:
            item = by_id.get(request["id"])
            if item is None:
                raise TransientError(f"{method} batch: an answer is missing")
            if item.get("error") is not None:
                error = item["error"]
                answers.append(_RateLimited() if is_rate_limited(error) else call_error(method, error))
            elif "result" not in item:
                raise TransientError(f"{method} batch: an answer without a result")
            else:
                answers.append(item["result"])
        return answers

    def _request(self, method: str, params: list[Any] | dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        return {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params}

    async def _post(self, payload: Any, *, what: str) -> Any:
        return _json(await self._post_bytes(payload, what=what), what=what)

    async def _post_bytes(self, payload: Any, *, what: str) -> bytes:
        self.http_requests += 1
        self.calls += len(payload) if isinstance(payload, list) else 1
        answer = await self._http.post(orjson.dumps(payload), deadline=self._retry.deadline)
        if answer.status in (401, 403):
            raise RpcRefused(
                f"{what}: the Solana RPC refused the request (HTTP {answer.status}); "
                "check the API key in SOLANA_RPC_URL"
            )
        if answer.status != 200:
            raise RpcError(f"{what}: the Solana RPC answered HTTP {answer.status}")
        return answer.body


def _json(content: bytes, *, what: str) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise TransientError(f"{what}: sent a body that is not JSON") from exc


class TypedAnswer:
    """A JSON-RPC answer whose `result` is read straight into `result_type` (msgspec), for answers
    too large to build as JSON objects only to read a few of their fields."""

    def __init__(self, result_type: type) -> None:
        answer = msgspec.defstruct("Answer", [("result", result_type), ("error", msgspec.Raw, msgspec.Raw(b"null"))])
        self._decoder = msgspec.json.Decoder(answer)

    def decode(self, content: bytes) -> Any:
        """The answer, or None when it is not of the type (then it is read as JSON, and refused or
        taken as any answer is)."""
        try:
            # msgspec checks the UTF-8 of the strings it reads, not of those it skips; orjson refuses
            # a body with bad UTF-8 anywhere, and so must this (ASCII, nearly every answer, is UTF-8:
            # checked without making the text).
            if not content.isascii():
                content.decode("utf-8")
            return self._decoder.decode(content)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            return None


class _RateLimited:
    """A batch member the provider asked us to send again later."""


def _describe_error(error: Any) -> str:
    if isinstance(error, dict):
        return f"error {error.get('code')}: {str(error.get('message'))[:120]}"
    return "answered an array with an object"

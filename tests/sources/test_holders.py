"""Holder counts from the fake DAS RPC: distinct owners with a balance, paged by cursor."""

import pytest

from tests.fakes.coins import mint_for
from tests.fakes.das import FakeDas
from tokens.sources.holders import HolderCounter, HolderLookupError


@pytest.fixture
def rpc():
    fake = FakeDas().start()
    yield fake
    fake.stop()


async def test_counts_distinct_owners_with_a_non_zero_balance(rpc):
    mint = mint_for(1)
    rpc.accounts_by_mint[mint] = [
        ("alice", 10), ("alice", 5),  # one owner, two accounts
        ("bob", 0),  # sold out: the account stays with a zero balance
        ("carol", 1),
        ("dave", 0), ("dave", 7),
    ]  # fmt: skip
    async with HolderCounter(rpc_url=rpc.url) as counter:
        assert await counter.count(mint) == 3


async def test_pages_with_the_cursor_until_an_empty_page(rpc):
    mint = mint_for(2)
    rpc.accounts_by_mint[mint] = [(f"owner{i % 2500}", 1) for i in range(3200)]
    async with HolderCounter(rpc_url=rpc.url) as counter:
        assert await counter.count(mint) == 2500
    cursors = [call["params"].get("cursor") for call in rpc.calls]
    assert cursors == [None, "1000", "2000", "3000", "3200"]
    assert all(call["params"]["limit"] == 1000 and call["method"] == "getTokenAccounts" for call in rpc.calls)


async def test_a_mint_with_no_accounts_has_zero_holders(rpc):
    async with HolderCounter(rpc_url=rpc.url) as counter:
        assert await counter.count(mint_for(3)) == 0


async def test_a_json_rpc_error_is_a_lookup_error_without_the_url(rpc):
    mint = mint_for(4)
    rpc.erroring_mints.add(mint)
    async with HolderCounter(rpc_url=rpc.url + "/?api-key=very-secret") as counter:
        with pytest.raises(HolderLookupError) as caught:
            await counter.count(mint)
    assert "internal error" in str(caught.value)
    assert "very-secret" not in str(caught.value)


async def test_a_refusal_is_a_lookup_error_at_once(rpc):
    from tests.fakes.http import Reply

    rpc.fail_next(Reply(401, {"message": "bad api key"}))
    async with HolderCounter(rpc_url=rpc.url) as counter:
        with pytest.raises(HolderLookupError, match="HTTP 401"):
            await counter.count(mint_for(5))
    assert len(rpc.calls) == 0  # the refusal came before the fake's handler: one request, not retried
    assert rpc.requests_seen == 1


async def test_the_same_walk_gives_the_top_ten_owners_share_without_the_curve(rpc):
    mint = mint_for(6)
    # The curve's account holds most of the supply; twelve owners hold 1..12, one of them in two accounts.
    rpc.accounts_by_mint[mint] = [("curve", 800), *((f"owner{n}", n) for n in range(1, 13)), ("owner12", 10)]
    async with HolderCounter(rpc_url=rpc.url) as counter:
        found = await counter.survey(mint, not_holders={"curve"})
    everything = 800 + sum(range(1, 13)) + 10
    assert found.holders == 12
    assert found.top10_pct == round(100 * (22 + sum(range(3, 12))) / everything, 4)  # owner12 holds 22


async def test_a_mint_without_tokens_has_no_top_ten_share(rpc):
    async with HolderCounter(rpc_url=rpc.url) as counter:
        found = await counter.survey(mint_for(7))
    assert (found.holders, found.top10_pct) == (0, None)

"""The work due on the localnet, read by jobs/due.py: proposals to approve or reject, markets to
finalize, perp markets whose funding interval passed, and nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from solders.pubkey import Pubkey

from jobs.deps import JobDeps
from jobs.due import DueJob, read_due
from tests.support.chain_world import World, world
from tests.support.due_world import HOUR, due_world, perp_market
from tests.support.markets import proposal

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def w() -> AsyncIterator[World]:
    async with world() as got:
        yield got


@dataclass(frozen=True)
class AtTime(JobDeps):
    """A keeper that reads the chain's accounts but sees the clock at `now`: the localnet's
    clock moves with wall time, so only this holds a boundary to the second."""

    now: int = field(kw_only=True)

    async def snapshot(self, *addresses: Pubkey) -> tuple[int, list[Any | None]]:
        _, accounts = await super().snapshot(*addresses)
        return self.now, accounts


async def test_the_due_work_is_read_from_the_chain(w: World) -> None:
    k = w.keepers[0]
    early = await proposal(w, 1, likes=1)
    approvable = await proposal(w, 2, likes=3)
    # whatever the stake, nothing is decided while a window is open
    assert await read_due(k, "governance") == []
    assert await read_due(k, "funding") == []

    got = await due_world(w, 10)
    governance = set(await read_due(k, "governance"))
    # the early and approvable proposals' windows closed meanwhile: both are due too
    assert governance == got.governance | {DueJob("tally_votes", early),
                                           DueJob("tally_votes", approvable)}
    assert set(await read_due(k, "funding")) == got.funding


async def test_funding_is_due_from_the_second_its_interval_has_passed(w: World) -> None:
    perp, last_funding_ts = await perp_market(w, 30)
    k = w.keepers[0]
    due = DueJob("update_funding", perp, last_funding_ts)

    def at(now: int) -> AtTime:
        return AtTime(k.rpc, k.sender, k.program, k.client, now=now)

    assert due not in await read_due(at(last_funding_ts + HOUR - 1), "funding")
    assert due in await read_due(at(last_funding_ts + HOUR), "funding")


async def test_an_unknown_role_has_no_due_work(w: World) -> None:
    with pytest.raises(ValueError, match="no due work to read for role 'indexer'"):
        await read_due(w.keepers[0], "indexer")

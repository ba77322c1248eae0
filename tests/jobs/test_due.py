"""The work due on the localnet, read by jobs/due.py: proposals to approve or reject, markets to
finalize, perp markets whose funding interval passed, and nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from jobs.due import DueJob, read_due
from tests.support.chain_world import World, world
from tests.support.due_world import due_world
from tests.support.markets import proposal

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def w() -> AsyncIterator[World]:
    async with world() as got:
        yield got


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


async def test_an_unknown_role_has_no_due_work(w: World) -> None:
    with pytest.raises(ValueError, match="no due work to read for role 'indexer'"):
        await read_due(w.keepers[0], "indexer")

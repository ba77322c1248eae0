"""apply_config end to end on the localnet: not before the timelock, once, twice in a row and
twice at once with exactly one landed apply, nothing after a cancel; and the reconciler's view
of it (jobs/due.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
import pytest_asyncio
from solders.keypair import Keypair

from jobs.config import apply_config
from jobs.due import DueJob, read_due
from jobs.outcome import Outcome
from tests.support.chain_world import World, world

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def w() -> AsyncIterator[World]:
    async with world() as got:
        yield got


async def propose(w: World, trade_fee_bps: int) -> int:
    """The admin (the localnet's council of one) proposes a new trade fee; its proposed_at."""
    net = w.net
    admin = net.protocol.admin
    params = replace(net.protocol.params, trade_fee_bps=trade_fee_bps)
    await w.send([net.client.propose_config(admin.pubkey(), params)], admin)
    pending = await fetch(w, "pending_config")
    return int(pending.proposed_at)


async def fetch(w: World, which: str) -> object:
    address = getattr(w.net.deployment, which)
    _, (account,) = await w.keepers[0].snapshot(address)
    assert account is not None
    return account


async def delay(w: World) -> int:
    return int((await fetch(w, "config")).config_delay_secs)  # type: ignore[attr-defined]


async def test_nothing_proposed_is_not_needed_and_not_due(w: World) -> None:
    pending = w.net.deployment.pending_config
    assert await apply_config(w.keepers[0], pending) == Outcome.NOT_NEEDED
    assert [d for d in await read_due(w.keepers[0], "governance") if d.job == "apply_config"] \
        == []


async def test_a_change_is_applied_once_when_due(w: World) -> None:
    pending = w.net.deployment.pending_config
    proposed_at = await propose(w, 42)
    k = w.keepers[0]
    assert await apply_config(k, pending) == Outcome.NOT_NEEDED
    assert DueJob("apply_config", pending, proposed_at) not in await read_due(k, "governance")
    await w.travel(await delay(w))
    assert DueJob("apply_config", pending, proposed_at) in await read_due(k, "governance")
    assert await apply_config(k, pending) == Outcome.SUCCESS
    assert (await fetch(w, "config")).trade_fee_bps == 42  # type: ignore[attr-defined]
    assert await apply_config(k, pending) == Outcome.ALREADY_DONE
    assert await w.calls(pending, w.net.client.apply_config()) == (1, 0)
    assert [d for d in await read_due(k, "governance") if d.job == "apply_config"] == []


async def test_two_keepers_at_once_apply_once(w: World) -> None:
    pending = w.net.deployment.pending_config
    landed_before, _ = await w.calls(pending, w.net.client.apply_config())
    await propose(w, 43)
    await w.travel(await delay(w))
    got = await asyncio.gather(*(apply_config(k, pending) for k in w.keepers))
    assert sorted(got) == sorted([Outcome.SUCCESS, Outcome.ALREADY_DONE])
    assert (await fetch(w, "config")).trade_fee_bps == 43  # type: ignore[attr-defined]
    # without the workers' shared lease the second keeper may have sent too: the program
    # refused it (NoPendingConfig → already_done)
    ok, failed = await w.calls(pending, w.net.client.apply_config())
    assert ok == landed_before + 1 and failed <= 1


async def test_a_cancelled_change_is_never_applied(w: World) -> None:
    pending = w.net.deployment.pending_config
    await propose(w, 44)
    admin = w.net.protocol.admin
    await w.send([w.net.client.cancel_config(admin.pubkey())], admin)
    await w.travel(await delay(w))
    assert await apply_config(w.keepers[0], pending) == Outcome.ALREADY_DONE
    assert (await fetch(w, "config")).trade_fee_bps == 43  # type: ignore[attr-defined]


async def test_another_account_as_target_fails_without_sending(w: World) -> None:
    for target in (w.net.deployment.config, Keypair().pubkey()):
        assert await apply_config(w.keepers[0], target) == Outcome.FAILED

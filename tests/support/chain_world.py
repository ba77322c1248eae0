"""A localnet and keepers' JobDeps for the chain jobs' tests, and the history they read back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from solders.transaction_status import TransactionConfirmationStatus

from chain.client import Endpoint, RpcClient, anchor_program
from chain.localnet import Localnet, run_localnet
from chain.sender import FeePolicy, Sender
from demo.servers import free_port_pair
from jobs.deps import JobDeps
from tests.support.localnet import rpc, send


@dataclass
class World:
    net: Localnet
    direct: AsyncClient  # setting up and reading history, straight to the localnet
    rpcs: list[RpcClient]
    keepers: list[JobDeps]  # one per keeper wallet, each with its own RpcClient and Sender

    async def send(self, ixs: list[Instruction], payer: Keypair, *signers: Keypair) -> None:
        await send(self.direct, ixs, payer, *signers)

    async def travel(self, seconds: int) -> None:
        await rpc(self.net, "keepernet_timeTravel", {"seconds": seconds})

    async def now(self) -> int:
        return (await self.keepers[0].snapshot())[0]

    async def finalized(self, timeout_s: float = 10.0) -> None:
        """Until the program's newest transaction is finalized: the indexer reads at
        finalized, and so do checks of its work (a slot finalized between the two would
        differ)."""
        newest = (await self.direct.get_signatures_for_address(
            self.net.program_id, limit=1, commitment=Confirmed)).value[0]
        async with asyncio.timeout(timeout_s):
            while True:
                status = (await self.direct.get_signature_statuses(
                    [newest.signature])).value[0]
                if status is not None and status.confirmation_status == \
                        TransactionConfirmationStatus.Finalized:
                    return
                await asyncio.sleep(0.02)

    async def calls(self, address: Pubkey, ix: Instruction) -> tuple[int, int]:
        """How many transactions in `address`'s history carry exactly `ix` (same program, same
        data, same accounts): (landed and succeeded, landed and failed)."""
        ok = failed = 0
        for entry in (await self.direct.get_signatures_for_address(address)).value:
            got = (await self.direct.get_transaction(entry.signature,
                                                     encoding="base64")).value
            assert got is not None
            tx = got.transaction.transaction
            assert isinstance(tx, VersionedTransaction)
            keys = tx.message.account_keys
            if any(keys[c.program_id_index] == ix.program_id and bytes(c.data) == bytes(ix.data)
                   and [keys[i] for i in c.accounts] == [a.pubkey for a in ix.accounts]
                   for c in tx.message.instructions):
                if entry.err is None:
                    ok += 1
                else:
                    failed += 1
        return ok, failed


@asynccontextmanager
async def world() -> AsyncIterator[World]:
    async with run_localnet(free_port_pair()) as net:
        direct = AsyncClient(net.operator_url, commitment=Confirmed)
        rpcs = [RpcClient([Endpoint("local", net.url, max_rps=10_000)]) for _ in net.keepers]
        keepers = [JobDeps(rpc=r, sender=Sender(r, k.kp, fees=FeePolicy(fixed_micro_lamports=0),
                                                 rebroadcast_s=0.3),
                           program=anchor_program(r, net.program_id), client=net.client)
                   for r, k in zip(rpcs, net.keepers, strict=True)]
        try:
            yield World(net, direct, rpcs, keepers)
        finally:
            for r in rpcs:
                await r.close()
            await direct.close()

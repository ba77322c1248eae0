"""solana-py's AsyncClient and anchorpy, clients written by others, drive the localnet through a
whole protocol flow as they would a validator: a prediction market from creation to its
finalized outcome and a perp position liquidated after a price crash, with confirmation at
each commitment, jsonParsed transactions, anchorpy's account queries and solana-py's
WebSocket subscriptions (logs, program, signature)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from anchorpy import Program, Provider, Wallet
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Commitment, Confirmed, Finalized, Processed
from solana.rpc.types import TxOpts
from solana.rpc.websocket_api import SolanaWsClientProtocol, connect
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.rpc.config import RpcTransactionLogsFilterMentions
from solders.rpc.responses import (
    LogsNotification,
    ProgramNotification,
    SignatureNotification,
)
from solders.signature import Signature
from solders.transaction import Transaction
from solders.transaction_status import (
    ParsedInstruction,
    TransactionConfirmationStatus,
    UiPartiallyDecodedInstruction,
)

from chain.localnet import Localnet, run_localnet
from demo.servers import free_port_pair
from jobs.governance_plan import MarketState
from program.idl.anchor import load_idl
from tests.support.client_flow import LONG, PRICE, SIZE, THIN, set_price
from tests.support.localnet import rpc
from tests.support.markets import DISPUTE_WINDOW, LIQUIDITY, STAKE, WINDOW, YES
from tests.support.perp_world import funded_perp_market


@pytest.fixture
async def net() -> AsyncIterator[Localnet]:
    async with run_localnet(free_port_pair()) as localnet:
        yield localnet


async def send(client: AsyncClient, ixs: list[Instruction], payer: Keypair,
               commitment: Commitment = Confirmed) -> Signature:
    """Send as any client: the latest blockhash, preflight on, confirmed at `commitment`."""
    blockhash = (await client.get_latest_blockhash(Processed)).value.blockhash
    tx = Transaction([payer], Message.new_with_blockhash(ixs, payer.pubkey(), blockhash),
                     blockhash)
    sig = (await client.send_transaction(tx, opts=TxOpts(skip_confirmation=True))).value
    await client.confirm_transaction(sig, commitment, sleep_seconds=0.05)
    return sig


async def notification(ws: SolanaWsClientProtocol, kind: type, wanted: Any) -> Any:
    """The first notification of `kind` for which `wanted` holds, within ten seconds."""
    async with asyncio.timeout(10):
        async for messages in ws:
            for message in messages:
                if isinstance(message, kind) and wanted(message):
                    return message
    raise AssertionError(f"the WebSocket closed before a {kind.__name__}")


async def test_a_market_and_a_liquidation_through_solana_py_and_anchorpy(net: Localnet) -> None:
    c, d = net.client, net.deployment
    creator, buyer = net.users[0], net.users[1]
    async with AsyncClient(net.url, commitment=Confirmed) as client, \
            connect(net.ws_url) as ws:
        program = Program(load_idl(), net.program_id, Provider(client, Wallet(creator.kp)))
        await ws.logs_subscribe(RpcTransactionLogsFilterMentions(net.program_id), Confirmed)
        await ws.program_subscribe(net.program_id, Confirmed, encoding="base64")
        await ws.recv()  # the two subscription ids
        await ws.recv()

        # ---- a market: proposed, voted, approved, activated, traded, resolved, finalized --
        now = (await client.get_block_time((await client.get_slot(Processed)).value)).value
        assert now is not None
        await send(client, [c.create_market(creator.key, 1, "Q1?", now + WINDOW + 100,
                                            creator_token=creator.token)], creator.kp)
        market = d.market(creator.key, 1)
        created = await notification(ws, ProgramNotification,
                                     lambda m: m.result.value.pubkey == market)
        assert created.result.value.account.owner == net.program_id
        for voter in net.users:  # three stakes of STAKE make the localnet's quorum
            await send(client, [c.vote_proposal(voter.key, market, True, stake=STAKE,
                                                 voter_token=voter.token)], voter.kp)
        await rpc(net, "keepernet_timeTravel", {"seconds": WINDOW + 1})
        await send(client, [c.approve_market(market)], net.keepers[0].kp)
        await send(client, [c.activate_market(creator.key, market, creator.token, LIQUIDITY)],
                   creator.kp)

        # a trade, confirmed at each commitment in turn, and its logs and signature told
        blockhash = (await client.get_latest_blockhash(Processed)).value.blockhash
        tx = Transaction([buyer.kp], Message.new_with_blockhash(
            [c.buy(buyer.key, market, buyer.token, YES, 10_000_000)], buyer.key, blockhash),
            blockhash)
        buy = (await client.send_transaction(tx, opts=TxOpts(skip_confirmation=True))).value
        await ws.signature_subscribe(buy, Finalized)
        statuses = []
        for level in (Processed, Confirmed, Finalized):
            answer = await client.confirm_transaction(buy, level, sleep_seconds=0.05)
            status = answer.value[0]
            assert status is not None and status.err is None
            statuses.append(status.confirmation_status)
        assert statuses[-1] == TransactionConfirmationStatus.Finalized
        logs = await notification(ws, LogsNotification,
                                  lambda m: m.result.value.signature == buy)
        assert logs.result.value.err is None
        assert any("Program data: " in line for line in logs.result.value.logs)  # the event
        landed = await notification(ws, SignatureNotification, lambda m: True)
        assert landed.result.value.err is None
        parsed = (await client.get_transaction(buy, encoding="jsonParsed",
                                               max_supported_transaction_version=0)).value
        assert parsed is not None and parsed.transaction.meta is not None
        message = parsed.transaction.transaction.message  # type: ignore[union-attr]
        [instruction] = message.instructions
        assert isinstance(instruction, UiPartiallyDecodedInstruction)
        assert instruction.program_id == net.program_id
        inner = [ix for group in parsed.transaction.meta.inner_instructions or []
                 for ix in group.instructions]
        assert any(isinstance(ix, ParsedInstruction) and ix.program == "spl-token"
                   and ix.parsed["type"] == "transfer" for ix in inner)
        assert parsed.transaction.meta.pre_token_balances  # the buyer's and the vault's

        await rpc(net, "keepernet_timeTravel", {"seconds": 200})
        await send(client, [c.propose_resolution(creator.key, market, YES,
                                                 proposer_token=creator.token)], creator.kp)
        await rpc(net, "keepernet_timeTravel", {"seconds": DISPUTE_WINDOW + 1})
        await send(client, [c.finalize_market(market)], net.keepers[0].kp, Finalized)
        markets = await program.account["Market"].all()
        [ours] = [m for m in markets if m.public_key == market]
        assert ours.account.final_outcome == YES
        assert (await program.account["Market"].fetch(market)).state == MarketState.FINALIZED

        # ---- perps: a market created by the admin, a thin long, a crash, a liquidation -----
        oracle = Keypair().pubkey()
        await set_price(net, oracle, PRICE)
        perp = await funded_perp_market(net, 1, oracle, pool=10**11)
        trader = net.users[2]
        await set_price(net, oracle, PRICE)  # fresh: creating the market took slots
        await send(client, [c.deposit(trader.key, perp, trader.token, THIN),
                            c.open_position(trader.key, perp, oracle, LONG, SIZE, 2**64 - 1)],
                   trader.kp)
        position = d.position(perp, trader.key)
        opened = await program.account["Position"].fetch(position)
        assert opened.size == SIZE
        await set_price(net, oracle, PRICE * 9 // 10)
        keeper = net.keepers[0]
        liquidated = await send(client, [c.liquidate(keeper.key, perp, position, oracle,
                                                     keeper.token)], keeper.kp, Finalized)
        logs = await notification(ws, LogsNotification,
                                  lambda m: m.result.value.signature == liquidated)
        assert logs.result.value.err is None
        after = await program.account["Position"].fetch(position)
        assert after.size == 0

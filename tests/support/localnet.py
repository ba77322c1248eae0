"""Talking to a localnet as any client would: raw JSON-RPC, transactions sent and confirmed,
and the market instruction most tests start from."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import httpx
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solana.rpc.types import TxOpts
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.signature import Signature
from solders.transaction import Transaction

from chain.localnet import Localnet
from program.local import Wallet

MARKET_DISCRIMINATOR = hashlib.sha256(b"account:Market").digest()[:8]


async def raw(net: Localnet, body: Any) -> Any:
    """POST a raw JSON-RPC body (for methods solana-py lacks, and for bad requests)."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with httpx.AsyncClient() as h:
        response = await h.post(net.url, content=content,
                                headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    return response.json()


async def rpc(net: Localnet, method: str, *params: Any) -> Any:
    answer = await raw(net, {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    assert "error" not in answer, answer
    return answer["result"]


async def send(client: AsyncClient, ixs: list[Instruction], payer: Keypair,
               *signers: Keypair, skip_preflight: bool = False) -> Signature:
    blockhash = (await client.get_latest_blockhash()).value.blockhash
    tx = Transaction([payer, *signers], Message.new_with_blockhash(ixs, payer.pubkey(), blockhash),
                     blockhash)
    sig = (await client.send_transaction(tx, opts=TxOpts(skip_preflight=skip_preflight))).value
    await client.confirm_transaction(sig, Confirmed, sleep_seconds=0.05)
    return sig


def create_market(net: Localnet, creator: Wallet, market_id: int) -> Instruction:
    """A market of `creator` whose trading ends far beyond any time travel of the tests (and
    within the program's ten years)."""
    return net.client.create_market(creator.key, market_id, f"Question {market_id}?",
                                    int(time.time()) + 10**8, creator_token=creator.token)

"""@coral-xyz/anchor and @solana/web3.js, the JavaScript clients, drive the localnet through
the flow tests/chain/test_python_clients.py drives with solana-py and anchorpy: a prediction
market from creation to its finalized outcome and a perp position liquidated after a price
crash, with confirmation at each commitment, Anchor's methods, account queries and event
listener, a program subscription and a jsonParsed transaction (js/protocol_flow.mjs).

Node and the packages are not optional here: scripts/setup installs them, so their absence
fails the test rather than skipping it."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from solders.keypair import Keypair
from spl.token.constants import TOKEN_PROGRAM_ID

from chain.localnet import Localnet, run_localnet
from demo.servers import free_port_pair
from jobs.governance_plan import MarketState
from program.client import VOTE_PROPOSAL
from program.idl.generate import IDL_PATH
from program.local import Wallet
from tests.support.client_flow import LONG, PRICE, SIZE, THIN, set_price
from tests.support.markets import DISPUTE_WINDOW, LIQUIDITY, STAKE, WINDOW, YES
from tests.support.node import ANCHOR_TS, node_env
from tests.support.perp_world import funded_perp_market

SCRIPT = Path(__file__).resolve().parent / "js" / "protocol_flow.mjs"
PACKAGES = ("@coral-xyz/anchor", "@solana/web3.js")
TIMEOUT_S = 60


@pytest.fixture
async def net() -> AsyncIterator[Localnet]:
    async with run_localnet(free_port_pair()) as localnet:
        yield localnet


def wallet(w: Wallet) -> dict[str, Any]:
    return {"secret": list(bytes(w.kp)), "token": str(w.token)}


async def test_a_market_and_a_liquidation_through_anchor_ts_and_web3_js(net: Localnet) -> None:
    binary = shutil.which("node")
    assert binary is not None, "node is not installed (scripts/setup installs it)"
    for package in PACKAGES:
        assert (ANCHOR_TS / package / "package.json").exists(), \
            f"{package} is not installed in {ANCHOR_TS} (scripts/setup installs it)"
    # the admin's perp market on an oracle only this test writes, as the Python flow has it
    oracle = Keypair().pubkey()
    await set_price(net, oracle, PRICE)
    perp = await funded_perp_market(net, 1, oracle, pool=10**11)
    setup = {
        "url": net.url, "wsUrl": net.ws_url, "programId": str(net.program_id),
        "vault": str(net.deployment.vault), "tokenProgram": str(TOKEN_PROGRAM_ID),
        "idl": json.loads(IDL_PATH.read_text()),
        "users": [wallet(u) for u in net.users[:3]], "keeper": wallet(net.keepers[0]),
        "window": WINDOW, "disputeWindow": DISPUTE_WINDOW, "stake": STAKE,
        "liquidity": LIQUIDITY, "yes": YES, "voteProposal": VOTE_PROPOSAL,
        "finalized": int(MarketState.FINALIZED), "oracle": str(oracle), "perpMarket": str(perp),
        "price": PRICE, "long": LONG, "size": SIZE, "thin": THIN,
    }
    proc = await asyncio.create_subprocess_exec(
        binary, str(SCRIPT), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=node_env())
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    stderr = asyncio.ensure_future(proc.stderr.read())
    proc.stdin.write(json.dumps(setup).encode() + b"\n")
    done = False
    try:
        async with asyncio.timeout(TIMEOUT_S):
            # the script's requests, answered in turn, until it reports or ends
            while line := await proc.stdout.readline():
                message = json.loads(line)
                if message.get("ask") == "price":
                    await set_price(net, oracle, message["price"])
                    proc.stdin.write(b"ok\n")
                else:
                    done = message == {"done": True}
            await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    errors = (await stderr).decode()
    assert proc.returncode == 0 and done, f"node exited {proc.returncode}:\n{errors}"

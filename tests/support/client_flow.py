"""What the client-flow tests (solana-py and anchorpy; Node's web3.js and Anchor) share: the
perp position they open, and the oracle price they write."""

from __future__ import annotations

import base64

from solders.pubkey import Pubkey

from chain.localnet import Localnet
from chain.publisher import SET_PRICE_METHOD
from chain.pyth import price_account
from tests.support.localnet import rpc

PRICE = 100_000_000
LONG = 1
SIZE = 1_000_000
THIN = 12_000_000  # ~8x leverage: under maintenance once the price falls 10 %


async def set_price(net: Localnet, oracle: Pubkey, price: int) -> None:
    """Write `oracle`'s price, stamped with the newest (processed) slot."""
    slot = await rpc(net, "getSlot", {"commitment": "processed"})
    data = price_account(price, slot=slot).encode()
    await rpc(net, SET_PRICE_METHOD, str(oracle), base64.b64encode(data).decode())

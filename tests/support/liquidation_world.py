"""Perp markets on the localnet with positions set up for the liquidator's jobs: their oracles,
prices kept fresh, and the liquidations each keeper landed."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from solders.pubkey import Pubkey

from chain.publisher import SET_PRICE_METHOD
from chain.pyth import PriceStatus, price_account
from jobs.reward_token import reward_token_address
from program.local import Wallet
from tests.support.chain_world import World
from tests.support.localnet import rpc

PRICE = 100_000_000
LONG, SHORT = 1, 2
SIZE = 1_000_000  # one base unit: 100 quote of notional at PRICE
THIN, THICK = 12_000_000, 50_000_000  # collateral: ~8x and 2x leverage
CONF_BPS = 10  # price_account's default confidence: fills and health move by it


@dataclass
class Perps:
    w: World
    oracles: list[Pubkey]  # one per market
    markets: list[Pubkey]
    prices: dict[Pubkey, int]

    async def set_price(self, oracle: Pubkey, price: int,
                        status: PriceStatus = PriceStatus.TRADING) -> None:
        # stamped with the slot a transaction sent now runs at, as the publisher stamps it
        slot = await rpc(self.w.net, "getSlot", {"commitment": "processed"})
        data = price_account(price, slot=slot, status=status).encode()
        await rpc(self.w.net, SET_PRICE_METHOD, str(oracle), base64.b64encode(data).decode())
        self.prices[oracle] = price

    async def refresh(self, *oracles: Pubkey) -> None:
        """Fresh prices (the program refuses them after 25 slots, 10 s)."""
        for o in oracles or self.oracles:
            await self.set_price(o, self.prices[o])

    def position(self, market: int, user: Wallet) -> Pubkey:
        return self.w.net.deployment.position(self.markets[market], user.key)

    async def liquidations(self, market: int, user: Wallet) -> tuple[int, int]:
        """(landed, failed) liquidations of the position by either keeper."""
        ok = failed = 0
        for k, wallet in zip(self.w.keepers, self.w.net.keepers, strict=True):
            got = await self.w.calls(self.position(market, user), k.client.liquidate(
                wallet.key, self.markets[market], self.position(market, user),
                self.oracles[market], reward_token_address(
                    wallet.key, self.w.net.deployment.quote_mint, None)))
            ok, failed = ok + got[0], failed + got[1]
        return ok, failed

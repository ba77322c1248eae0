"""A perp market on the real SVM for the perp tests: an oracle the test moves, a funded pool
and insurance, and traders with collateral."""

from __future__ import annotations

from dataclasses import dataclass, replace

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain.price_update import PriceUpdate
from chain.pyth import PriceStatus, price_account
from program.client import NO_FEED, RECEIVER_PROGRAM, OracleKind, PerpMarketParams
from program.local import PYTH_PROGRAM
from program.svm import TxResult
from tests.support.program_world import User, World

LONG, SHORT = 1, 2
PRICE = 100_000_000  # 100 quote per base unit, 6 decimals
POOL = 10**12
INSURANCE = 10**11
FEED_ID = bytes.fromhex("e62df6c8b4a85fe1a67db44dc12de5db330f7ac66b72dc658afedf0f4a415b43")
"""A PriceUpdateV2 market's feed (Pyth's BTC/USD id)."""
EXPONENT = -8  # the raw price is the 6-decimal price x 100, as the legacy default


@dataclass
class Perp:
    """One perp market of a World, and its oracle."""

    w: World
    market: Pubkey
    oracle: Pubkey
    params: PerpMarketParams
    admin_token: Pubkey
    kind: OracleKind = OracleKind.PYTH_LEGACY

    # ---- the oracle ---------------------------------------------------------------------------
    def set_price(self, price_e6: int, *, conf_bps: int = 0,
                  status: PriceStatus = PriceStatus.TRADING, slot: int | None = None) -> None:
        """Publish a price, by default at the current slot (and, for PriceUpdateV2, the
        current unix time; a PriceUpdateV2 has no status: it is always trading)."""
        current = self.w.chain.svm.get_clock().slot
        if self.kind == OracleKind.PRICE_UPDATE_V2:
            self.set_update(self.update(price_e6, price_e6 * conf_bps // 10_000,
                                        slot=current if slot is None else slot))
            return
        data = price_account(price_e6, conf_bps=conf_bps, status=status,
                             slot=current if slot is None else slot).encode()
        self.w.chain.set_account(self.oracle, data, PYTH_PROGRAM)

    def set_price_conf(self, price_e6: int, conf_e6: int) -> None:
        """Publish a price with a confidence of exactly `conf_e6` (6 decimals)."""
        current = self.w.chain.svm.get_clock().slot
        if self.kind == OracleKind.PRICE_UPDATE_V2:
            self.set_update(self.update(price_e6, conf_e6, slot=current))
            return
        acct = replace(price_account(price_e6, conf_bps=0, slot=current),
                       confidence=conf_e6 * 100)  # the default exponent -8: raw = e6 * 100
        self.w.chain.set_account(self.oracle, acct.encode(), PYTH_PROGRAM)

    def update(self, price_e6: int, conf_e6: int = 0, *, slot: int | None = None,
               publish_time: int | None = None) -> PriceUpdate:
        """A Full PriceUpdateV2 of this market's feed, posted at `slot` and published at
        `publish_time` (by default now)."""
        clock = self.w.chain.svm.get_clock()
        return PriceUpdate(feed_id=FEED_ID, price=price_e6 * 100, conf=conf_e6 * 100,
                           exponent=EXPONENT,
                           publish_time=clock.unix_timestamp if publish_time is None
                           else publish_time,
                           posted_slot=clock.slot if slot is None else slot)

    def set_update(self, update: PriceUpdate | bytes, owner: Pubkey = RECEIVER_PROGRAM) -> None:
        """Write a PriceUpdateV2 (or any bytes) at the oracle's address."""
        data = update if isinstance(update, bytes) else update.encode()
        self.w.chain.set_account(self.oracle, data, owner)

    def warp_secs(self, secs: int) -> None:
        clock = self.w.chain.svm.get_clock()
        clock.unix_timestamp = clock.unix_timestamp + secs
        self.w.chain.svm.set_clock(clock)

    def warp_slots(self, slots: int) -> None:
        clock = self.w.chain.svm.get_clock()
        clock.slot = clock.slot + slots
        self.w.chain.svm.set_clock(clock)

    # ---- traders ------------------------------------------------------------------------------
    def trader(self, collateral: int = 1_000_000_000) -> User:
        """A wallet with `collateral` deposited in this market (and as much again in its
        token account)."""
        u = self.w.user(2 * collateral)
        self.w.positions.append(self.position_of(u))
        if collateral:
            self.w.ok(self.w.client.deposit(u.key, self.market, u.token, collateral), u.kp)
        return u

    def position_of(self, u: User | Pubkey) -> Pubkey:
        return self.w.d.position(self.market, u.key if isinstance(u, User) else u)

    def position(self, u: User) -> object:
        return self.w.chain.fetch(self.position_of(u))

    def state(self) -> object:
        return self.w.chain.fetch(self.market)

    # ---- instructions -------------------------------------------------------------------------
    def open(self, u: User, side: int, size: int, acceptable: int | None = None) -> TxResult:
        if acceptable is None:
            acceptable = 2**64 - 1 if side == LONG else 0
        return self.w.ok(self.w.client.open_position(u.key, self.market, self.oracle, side, size,
                                                     acceptable), u.kp)

    def close(self, u: User, acceptable: int | None = None) -> TxResult:
        if acceptable is None:
            acceptable = 0 if self.position(u).side == LONG else 2**64 - 1
        return self.w.ok(self.w.client.close_position(u.key, self.market, self.oracle,
                                                      acceptable), u.kp)

    def liquidate_ix(self, liquidator: User, owner: User) -> object:
        return self.w.client.liquidate(liquidator.key, self.market, self.position_of(owner),
                                       self.oracle, liquidator.token)

    def update_funding_ix(self) -> object:
        return self.w.client.update_funding(self.market, self.oracle)


def open_perp(w: World, params: PerpMarketParams | None = None, perp_market_id: int = 1,
              price: int = PRICE, kind: OracleKind = OracleKind.PYTH_LEGACY) -> Perp:
    """Create a perp market at `price` on an oracle of `kind` (a PriceUpdateV2 market on
    FEED_ID), fund its pool and the insurance."""
    params = params or PerpMarketParams()
    admin_token = w.chain.create_token_account(w.d.quote_mint, w.admin.pubkey())
    w.chain.mint_to(w.d.quote_mint, admin_token, POOL + INSURANCE)
    perp = Perp(w, w.d.perp_market(perp_market_id), Keypair().pubkey(), params, admin_token,
                kind)
    perp.set_price(price)
    feed = FEED_ID if kind == OracleKind.PRICE_UPDATE_V2 else NO_FEED
    w.ok(w.client.create_perp_market(w.admin.pubkey(), perp_market_id, perp.oracle, params,
                                     oracle_kind=kind, feed_id=feed), w.admin)
    w.perp_markets.append(perp.market)
    w.ok(w.client.fund_pool(w.admin.pubkey(), admin_token, POOL), w.admin)
    w.ok(w.client.fund_insurance(w.admin.pubkey(), admin_token, INSURANCE), w.admin)
    return perp

"""The position book changed one account at a time, as the program's notifications change it:
in place, and always judging as a book built at once from the same accounts would."""

from __future__ import annotations

import random

import numpy as np
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain.prices import Quote
from chain.program_watch import ProgramKind, _notification
from jobs.liquidation_plan import FLAT, LONG, SHORT, PositionBook, owner_of
from program import layouts
from tests.support.perp_world import perp_market_stub

PRICE, SIZE = 100_000_000, 1_000_000
FRAGILE, SOLID = 10_000_000, 60_000_000  # under maintenance at 90 for a long, or far from it
DISCRIMINATOR = layouts.discriminator("Position")


def record(market: Pubkey, side: int, collateral: int, size: int = SIZE) -> np.void:
    """A Position account's record: `side` of `size` entered at PRICE."""
    r = np.zeros(1, dtype=layouts.POSITION)
    r["discriminator"] = np.void(DISCRIMINATOR)
    r["perp_market"] = np.void(bytes(market))
    r["side"], r["size"], r["entry_price"], r["collateral"] = side, size, PRICE, collateral
    r["opened_at"] = collateral  # something per position that a moved row must carry along
    first: np.void = r[0]
    return first


def data(r: np.void) -> bytes:
    return r.tobytes()


def found(book: PositionBook, market: Pubkey, price: int, **shard: object) -> set[Pubkey]:
    return {c.position for c in book.liquidatable({market: Quote(price, 0)}, now=0,
                                                  **shard)}  # type: ignore[arg-type]


def built_at_once(market: Pubkey, accounts: dict[Pubkey, np.void]) -> PositionBook:
    keys = list(accounts)
    records = np.array([accounts[k] for k in keys], dtype=layouts.POSITION)
    return PositionBook.from_records({market: perp_market_stub()}, keys, records)


def test_a_notification_adds_changes_and_drops_one_position() -> None:
    market, position = Keypair().pubkey(), Keypair().pubkey()
    book = PositionBook({market: perp_market_stub()})
    assert len(book) == 0 and book.oracles == frozenset()
    book.put_position(position, data(record(market, LONG, SOLID)))
    assert len(book) == 1 and position in book
    assert found(book, market, 90_000_000) == set()
    book.put_position(position, data(record(market, LONG, FRAGILE)))  # collateral withdrawn
    assert len(book) == 1
    assert found(book, market, 90_000_000) == {position}
    assert [c.opened_at for c in book.liquidatable({market: Quote(90_000_000, 0)}, now=0)] \
        == [FRAGILE]
    book.put_position(position, data(record(market, FLAT, FRAGILE, size=0)))  # closed
    assert len(book) == 0 and position not in book
    assert found(book, market, 1) == set()


def test_flat_empty_and_foreign_data_drop_the_position() -> None:
    market = Keypair().pubkey()
    gone = {
        "flat": data(record(market, FLAT, FRAGILE)),
        "size 0": data(record(market, LONG, FRAGILE, size=0)),
        "no data (account gone)": b"",
        "another account kind": bytes(8) + data(record(market, LONG, FRAGILE))[8:],
    }
    for what, new in gone.items():
        position = Keypair().pubkey()
        book = PositionBook({market: perp_market_stub()})
        book.put_position(position, data(record(market, LONG, FRAGILE)))
        book.put_position(position, new)
        assert position not in book and len(book) == 0, what
    book.put_position(position, data(record(market, LONG, FRAGILE)))
    book.remove_position(position)
    assert len(book) == 0
    book.remove_position(position)  # not held: nothing to do


def test_any_sequence_of_changes_judges_as_the_book_built_at_once() -> None:
    """Thousands of random opens, changes and closes, one at a time (the columns grow by
    doubling, a removal moves the last row): the same candidates, and the same shards, as a
    book built from the accounts left."""
    rng = random.Random(16)
    market = Keypair().pubkey()
    book = PositionBook({market: perp_market_stub()})
    accounts: dict[Pubkey, np.void] = {}
    keys = [Keypair().pubkey() for _ in range(400)]
    instances = ("a", "b", "c")
    for step in range(3_000):
        position = rng.choice(keys)
        if rng.random() < 0.3:
            book.put_position(position, data(record(market, FLAT, 0, size=0)))
            accounts.pop(position, None)
        else:
            r = record(market, rng.choice([LONG, SHORT]),
                       rng.choice([FRAGILE, SOLID, rng.randrange(1, SOLID)]))
            book.put_position(position, data(r))
            accounts[position] = r
        if step == 100:  # a shard asked for early is kept current by every later change
            found(book, market, 90_000_000, instances=instances, me="b")
        if step % 500 == 499:
            at_once = built_at_once(market, accounts)
            assert len(book) == len(at_once) == len(accounts)
            for price in (80_000_000, 90_000_000, 100_000_000, 110_000_000, 125_000_000):
                assert found(book, market, price) == found(at_once, market, price)
                assert found(book, market, price, instances=instances, me="b") == \
                    found(at_once, market, price, instances=instances, me="b")
    for me in instances:  # and any other shard asked at the end
        assert found(book, market, 90_000_000, instances=instances, me=me) == \
            found(at_once, market, 90_000_000, instances=instances, me=me)


def test_a_position_of_a_market_not_known_yet_joins_with_its_market() -> None:
    old, new = Keypair().pubkey(), Keypair().pubkey()
    oracle = Keypair().pubkey()
    book = PositionBook({old: perp_market_stub()})
    position = Keypair().pubkey()
    book.put_position(position, data(record(new, LONG, FRAGILE)))
    assert len(book) == 0 and book.markets == {old}
    book.put_market(new, perp_market_stub(oracle=oracle))
    assert len(book) == 1 and book.oracles == {oracle}
    assert found(book, new, 90_000_000) == {position}
    # a market's account as now: its maintenance margin read again, the positions kept
    book.put_market(new, perp_market_stub(oracle=oracle, maintenance_margin_bps=0))
    assert len(book) == 1
    assert found(book, new, 90_000_000) == set()


def test_a_program_notification_of_an_account_gone_has_no_data() -> None:
    kind = ProgramKind(DISCRIMINATOR, layouts.POSITION.itemsize)
    address = Keypair().pubkey()

    def notification(lamports: int, body: str) -> object:
        return {"method": "programNotification", "params": {"subscription": 7, "result": {
            "context": {"slot": 42}, "value": {"pubkey": str(address), "account": {
                "lamports": lamports, "data": [body, "base64"], "owner": str(address),
                "executable": False, "rentEpoch": 0}}}}}

    assert _notification(notification(0, ""), {7: kind}) == (kind, address, None, 42)
    assert _notification(notification(5, "AAE="), {7: kind}) == (kind, address, b"\0\1", 42)
    assert _notification(notification(5, "AAE="), {8: kind}) is None


POSITIONS = 100_000


def test_the_shares_worked_out_ahead_are_owner_ofs_and_cover_the_book() -> None:
    """`assign` (vectorized; its time at a million positions is bench/book_upkeep.py's)
    works out this instance's share off the price path: after it, and again after a member
    joins, each instance's verdicts are exactly the positions `owner_of` gives it, and
    together they are every verdict."""
    market = Keypair().pubkey()
    keys = [Pubkey.from_bytes(n.to_bytes(32, "little")) for n in range(1, POSITIONS + 1)]
    records = np.zeros(POSITIONS, dtype=layouts.POSITION)
    records["perp_market"] = np.void(bytes(market))
    records["side"], records["size"], records["entry_price"] = LONG, SIZE, PRICE
    records["collateral"] = np.where(np.arange(POSITIONS) % 1000 == 0, FRAGILE, SOLID)
    book = PositionBook.from_records({market: perp_market_stub()}, keys, records)
    instances = ("keeper-1", "keeper-2", "keeper-3", "keeper-4")
    book.assign(instances, "keeper-2")
    assert found(book, market, 90_000_000, instances=instances, me="keeper-2") == {
        p for p in found(book, market, 90_000_000) if owner_of(p, instances) == "keeper-2"}
    joined = (*instances, "keeper-5")
    book.assign(joined, "keeper-2")
    shards = {me: found(book, market, 90_000_000, instances=joined, me=me) for me in joined}
    every = found(book, market, 90_000_000)
    assert len(every) == POSITIONS // 1000
    assert set().union(*shards.values()) == every
    assert sum(map(len, shards.values())) == len(every)
    assert all(owner_of(p, joined) == me for me, shard in shards.items() for p in shard)


def test_a_market_judged_again_on_the_same_basis_is_skipped_and_any_change_counts() -> None:
    """With a memo, an unchanged price rewritten again judges nothing; a changed price, a
    position put or dropped, the market's account, the share, or a book loaded anew (equal
    contents, new versions) each has its market judged again, finding what a fresh judging
    finds."""
    market, fragile, later = Keypair().pubkey(), Keypair().pubkey(), Keypair().pubkey()
    book = PositionBook({market: perp_market_stub()})
    book.put_position(fragile, data(record(market, LONG, FRAGILE)))
    judged: dict[Pubkey, tuple[object, ...]] = {}

    def again(price: int = 90_000_000, **shard: object) -> set[Pubkey] | None:
        """The positions found, or None when the market was skipped."""
        before = dict(judged)
        got = {c.position for c in book.liquidatable(
            {market: Quote(price, 0)}, now=0, judged=judged, **shard)}  # type: ignore[arg-type]
        return None if judged == before and not got else got

    assert again() == {fragile}
    assert again() is None  # the same price rewritten
    assert again(91_000_000) == {fragile}
    assert again(91_000_000) is None
    book.put_position(later, data(record(market, LONG, FRAGILE)))
    assert again(91_000_000) == {fragile, later}
    book.remove_position(later)
    assert again(91_000_000) == {fragile}
    book.put_market(market, perp_market_stub())
    assert again(91_000_000) == {fragile}
    instances = ("keeper-1",)
    assert again(91_000_000, instances=instances, me="keeper-1") == {fragile}
    assert again(91_000_000, instances=instances, me="keeper-1") is None
    book = built_at_once(market, {fragile: record(market, LONG, FRAGILE)})
    assert again(91_000_000, instances=instances, me="keeper-1") == {fragile}

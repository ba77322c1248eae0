"""How `post_price` posts an update to a pull account: directly on the localnet, through the
Pyth Solana Receiver on a real cluster.

The localnet has neither the receiver nor Wormhole: there the update is written into the
account through `keepernet_setAccounts` (chain/publisher.py), fully verified.

On a real cluster only the receiver writes PriceUpdateV2 accounts, from Hermes' accumulator
update data (chain/accumulator.py). The program binds `Full` verification, which the
receiver records only for a VAA verified with a quorum of the guardians' signatures (13 of
19); those do not fit one transaction with the update (the SDK's atomic post keeps 5 and is
`Partial`), so the keeper
posts as Pyth's SDK does for a full verification (chain/receiver.py), in two transactions:

1. create an encoded VAA account (a fresh key, signing), init it, write the VAA's first part;
2. write the rest, verify it against its guardian set, `post_update` into the pull account
   (which signs: its keypair is in `prices.pull_keys`; the keeper becomes its write
   authority on the first post), and close the encoded VAA for its rent.

Each is sent as an intent (chain/sender.py) that, asked again after an expiry, first looks
whether it landed. When the second does not land, the encoded VAA is closed alone, once: if
that fails too, its rent (about 0.008 SOL) stays in it. Neither program runs here: what is
proven is that the instructions are byte for byte those of Pyth's SDK
(tests/chain/test_receiver_sdk.py) and that both transactions fit.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain import accumulator
from chain.accumulator import MerkleUpdate
from chain.client import RpcClient
from chain.keys import KeypairError, load_keypair
from chain.price_update import PriceUpdate
from chain.publisher import Publisher, PublishError
from chain.receiver import ENCODED_VAA_HEADER, Receiver
from chain.sender import AlreadyDone, Landed, Sender
from fleet.settings import Settings, SettingsError
from jobs.errors import Permanent
from jobs.price_source import Sourced, remote_endpoints


class Poster(Protocol):
    """Posts a source's update to the pull account at `oracle`; PublishError when it did not
    land and a later try may."""

    async def post(self, oracle: Pubkey, sourced: Sourced) -> None: ...


class CannotPost(Permanent):
    """The keeper cannot post to this account on this cluster (no keypair for it, no proof
    from the source): nothing a retry will fix."""


@dataclass(frozen=True)
class DirectWrite:
    """The localnet's direct write."""

    publisher: Publisher

    async def post(self, oracle: Pubkey, sourced: Sourced) -> None:
        await self.publisher.post(oracle, sourced.update)


def load_pull_keys(directory: Path) -> dict[Pubkey, Keypair]:
    """The keypairs of the `*.json` files in `directory` (Solana CLI keypair files, each
    checked as the keeper's own is), by address; SettingsError naming a file that is not
    one."""
    keys = {}
    for path in sorted(directory.glob("*.json")):
        try:
            key = load_keypair(path)
        except KeypairError as e:
            raise SettingsError([f"KEEPERNET_PULL_KEYS (TOML prices.pull_keys): {e}"]) from None
        keys[key.pubkey()] = key
    return keys


def feed_update(update_data: bytes, feed_id: bytes) -> tuple[bytes, MerkleUpdate]:
    """The VAA of `update_data` and its Merkle update of `feed_id`; PublishError when the data
    is unreadable or proves no update of that feed."""
    try:
        parsed = accumulator.parse(update_data)
        for update in parsed.updates:
            if accumulator.price_message(update.message, posted_slot=0).feed_id == feed_id:
                return parsed.vaa, update
    except ValueError as e:
        raise PublishError(f"Hermes' update data: {e}") from None
    raise PublishError("Hermes' update data proves no update of the feed")


_Done = Callable[[], Awaitable[bool]]


class _Once:
    """An intent that sends `ixs` unless `done()` says they landed (asked only again, after a
    first try that expired)."""

    def __init__(self, ixs: Sequence[Instruction], done: _Done) -> None:
        self._ixs = ixs
        self._done = done
        self._asked = False

    async def instructions(self) -> Sequence[Instruction] | None:
        if self._asked and await self._done():
            return None
        self._asked = True
        return self._ixs


@dataclass(frozen=True)
class ReceiverPoster:
    """Posts through the Pyth Solana Receiver, paying with `sender`'s payer, signing for the
    pull accounts with `keys`, paying the receiver's fee to its treasury `treasury_id`."""

    sender: Sender
    rpc: RpcClient
    keys: Mapping[Pubkey, Keypair]
    treasury_id: int | None = None  # None: a random one per post

    async def post(self, oracle: Pubkey, sourced: Sourced) -> None:
        key = self.keys.get(oracle)
        if key is None:
            raise CannotPost(f"no keypair for the pull account {oracle} in prices.pull_keys")
        if sourced.update_data is None:
            raise CannotPost("the source proves nothing: only hermes posts to a real cluster")
        vaa, update = feed_update(sourced.update_data, sourced.update.feed_id)
        # a random treasury per post, as the SDK picks one: posts by many keepers then do not
        # all write-lock the same account
        treasury = random.randrange(256) if self.treasury_id is None else self.treasury_id
        receiver = Receiver(self.sender.payer.pubkey(), treasury)
        encoded = Keypair()
        rent = (await self.rpc.call("get_minimum_balance_for_rent_exemption",
                                    len(vaa) + ENCODED_VAA_HEADER)).value
        first, second = receiver.post_encoded_vaa(vaa, encoded.pubkey(), rent)
        await self._send(first, [encoded], lambda: self._exists(encoded.pubkey()))
        close = receiver.close_encoded_vaa(encoded.pubkey())
        try:
            await self._send([*second, receiver.post_update(encoded.pubkey(), update, oracle),
                              close], [key], lambda: self._posted(oracle, sourced.update))
        except PublishError:
            # the encoded VAA's rent back, if it is still there: one try, whatever it gives
            await self.sender.send(_Once([close], lambda: self._gone(encoded.pubkey())))
            raise

    async def _send(self, ixs: Sequence[Instruction], signers: Sequence[Keypair],
                    done: _Done) -> None:
        result = await self.sender.send(_Once(ixs, done), signers)
        if not isinstance(result, Landed | AlreadyDone):
            raise PublishError(f"posting through the receiver: {result}")

    async def _exists(self, address: Pubkey) -> bool:
        return (await self.rpc.call("get_account_info", address)).value is not None

    async def _gone(self, address: Pubkey) -> bool:
        return not await self._exists(address)

    async def _posted(self, oracle: Pubkey, update: PriceUpdate) -> bool:
        account = (await self.rpc.call("get_account_info", oracle)).value
        if account is None:
            return False
        try:
            return PriceUpdate.decode(bytes(account.data)).publish_time >= update.publish_time
        except ValueError:
            return False


@contextlib.asynccontextmanager
async def price_poster(settings: Settings, sender: Sender,
                       rpc: RpcClient) -> AsyncIterator[Poster]:
    """The poster for the cluster `settings` name: the receiver when an RPC endpoint is not
    local, else the direct write to the first endpoint (a localnet)."""
    if remote_endpoints(settings):
        directory = settings.prices.pull_keys
        yield ReceiverPoster(sender, rpc, {} if directory is None else load_pull_keys(directory))
        return
    publisher = Publisher(settings.rpc[0].url, timeout_s=settings.rpc_timeout_s)
    try:
        yield DirectWrite(publisher)
    finally:
        await publisher.close()

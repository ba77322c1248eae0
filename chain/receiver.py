"""The instructions that post Hermes' updates on a real cluster: the Pyth Solana Receiver's, the
Wormhole core bridge's and the push oracle's, built as Pyth's own SDK builds them (npm
`@pythnetwork/pyth-solana-receiver`'s `PythSolanaReceiver`, whose IDLs they are encoded
against; tests/chain/test_receiver_sdk.py compares them byte for byte).

Two ways to post an update of `chain.accumulator`:

- atomically (`post_update_atomic`): the VAA, trimmed to a few guardian signatures so that it
  fits one transaction, and one Merkle update. The receiver verifies only those signatures and
  records the update as `Partial`, which the program refuses for a market (it binds `Full`).
- through an encoded VAA (`post_encoded_vaa`, then `post_update` or the push oracle's
  `update_price_feed`): the whole VAA is written into a Wormhole account over two
  transactions and verified with a quorum of signatures, so the update is `Full`; the account is
  closed afterwards for its rent.

The receiver program and Wormhole are not on the localnet, so nothing here has run against
them: the SDK comparison is the proof that the instructions are the ones Pyth's programs take.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM
from solders.system_program import CreateAccountParams, create_account

from chain.accumulator import MerkleUpdate, guardian_set_index
from chain.price_update import PUSH_ORACLE_PROGRAM, push_feed_address
from program.client import RECEIVER_PROGRAM

WORMHOLE_PROGRAM = Pubkey.from_string("HDwcJBJXjL9FpJ7UBsYBtaDjsBUhuLCUYoz3zr8SWWaQ")
"""The Wormhole core bridge Pyth's receiver verifies VAAs with (the SDK's default)."""

# an encoded VAA account: discriminator, status, write authority, version, then the VAA's
# length and bytes (the SDK's VAA_START)
ENCODED_VAA_HEADER = 46
# where the SDK splits a VAA between its two write_encoded_vaa instructions, so that each
# transaction stays under the size limit
VAA_SPLIT_AT = 721


def _discriminator(name: str) -> bytes:
    """Anchor's instruction discriminator: the first 8 bytes of sha256("global:<name>")."""
    return hashlib.sha256(f"global:{name}".encode()).digest()[:8]


def _bytes(data: bytes) -> bytes:
    """Borsh `bytes`/`Vec<u8>`: a u32 length, then the bytes."""
    return struct.pack("<I", len(data)) + data


def _merkle_update(update: MerkleUpdate) -> bytes:
    return (_bytes(update.message) + struct.pack("<I", len(update.proof))
            + b"".join(update.proof))


def _meta(key: Pubkey, *, signer: bool = False, writable: bool = False) -> AccountMeta:
    return AccountMeta(key, is_signer=signer, is_writable=writable)


def config_address(receiver: Pubkey = RECEIVER_PROGRAM) -> Pubkey:
    """The receiver's config PDA (seeds ["config"])."""
    return Pubkey.find_program_address([b"config"], receiver)[0]


def treasury_address(treasury_id: int, receiver: Pubkey = RECEIVER_PROGRAM) -> Pubkey:
    """The receiver's treasury PDA `treasury_id` (seeds ["treasury", id u8]), paid its fee."""
    return Pubkey.find_program_address([b"treasury", bytes([treasury_id])], receiver)[0]


def guardian_set_address(index: int, wormhole: Pubkey = WORMHOLE_PROGRAM) -> Pubkey:
    """Wormhole's guardian set PDA (seeds ["GuardianSet", index u32 big-endian])."""
    return Pubkey.find_program_address([b"GuardianSet", index.to_bytes(4, "big")],
                                       wormhole)[0]


@dataclass(frozen=True)
class Receiver:
    """The three programs' addresses (the SDK's defaults unless a cluster has others), the
    payer and write authority (the keeper) and the receiver treasury its fees go to."""

    payer: Pubkey
    treasury_id: int = 0
    receiver: Pubkey = RECEIVER_PROGRAM
    wormhole: Pubkey = WORMHOLE_PROGRAM
    push_oracle: Pubkey = PUSH_ORACLE_PROGRAM

    def post_update_atomic(self, vaa: bytes, update: MerkleUpdate,
                           price_update_account: Pubkey) -> Instruction:
        """The receiver's `post_update_atomic`: `update` proven by `vaa` (already trimmed,
        `chain.accumulator.trim_signatures`) into `price_update_account`, which signs."""
        data = (_discriminator("post_update_atomic") + _bytes(vaa) + _merkle_update(update)
                + bytes([self.treasury_id]))
        return Instruction(self.receiver, data, [
            _meta(self.payer, signer=True, writable=True),
            _meta(guardian_set_address(guardian_set_index(vaa), self.wormhole)),
            _meta(config_address(self.receiver)),
            _meta(treasury_address(self.treasury_id, self.receiver), writable=True),
            _meta(price_update_account, signer=True, writable=True),
            _meta(SYSTEM_PROGRAM),
            _meta(self.payer, signer=True),
        ])

    def post_update(self, encoded_vaa: Pubkey, update: MerkleUpdate,
                    price_update_account: Pubkey) -> Instruction:
        """The receiver's `post_update`: `update` proven by the verified VAA at
        `encoded_vaa` into `price_update_account`, which signs (a pull account is created on
        its first post and written by its write authority, the keeper, after)."""
        data = (_discriminator("post_update") + _merkle_update(update)
                + bytes([self.treasury_id]))
        return Instruction(self.receiver, data, [
            _meta(self.payer, signer=True, writable=True),
            _meta(encoded_vaa),
            _meta(config_address(self.receiver)),
            _meta(treasury_address(self.treasury_id, self.receiver), writable=True),
            _meta(price_update_account, signer=True, writable=True),
            _meta(SYSTEM_PROGRAM),
            _meta(self.payer, signer=True),
        ])

    def update_price_feed(self, encoded_vaa: Pubkey, update: MerkleUpdate, feed_id: bytes,
                          shard_id: int = 0) -> Instruction:
        """The push oracle's `update_price_feed`: `update` of `feed_id` into the feed's
        account for `shard_id`, proven by the verified VAA at `encoded_vaa`."""
        data = (_discriminator("update_price_feed") + _merkle_update(update)
                + bytes([self.treasury_id]) + struct.pack("<H", shard_id) + feed_id)
        return Instruction(self.push_oracle, data, [
            _meta(self.payer, signer=True, writable=True),
            _meta(self.receiver),
            _meta(encoded_vaa),
            _meta(config_address(self.receiver)),
            _meta(treasury_address(self.treasury_id, self.receiver), writable=True),
            _meta(push_feed_address(feed_id, shard_id), writable=True),
            _meta(SYSTEM_PROGRAM),
        ])

    def reclaim_rent(self, price_update_account: Pubkey) -> Instruction:
        """The receiver's `reclaim_rent`: close a price update account the payer wrote."""
        return Instruction(self.receiver, _discriminator("reclaim_rent"), [
            _meta(self.payer, signer=True, writable=True),
            _meta(price_update_account, writable=True),
        ])

    def post_encoded_vaa(self, vaa: bytes, encoded_vaa: Pubkey,
                         rent_lamports: int) -> tuple[list[Instruction], list[Instruction]]:
        """Wormhole's instructions that write `vaa` into a new account at `encoded_vaa`
        (which signs the first transaction) holding `rent_lamports`, and verify it against
        its guardian set: the first transaction's (create, init, first write) and the
        second's (the rest of the VAA, verify), as the SDK packs them."""
        first = [
            create_account(CreateAccountParams(
                from_pubkey=self.payer, to_pubkey=encoded_vaa, lamports=rent_lamports,
                space=len(vaa) + ENCODED_VAA_HEADER, owner=self.wormhole)),
            self._wormhole("init_encoded_vaa", b"", encoded_vaa),
            self._write(encoded_vaa, 0, vaa[:VAA_SPLIT_AT]),
        ]
        second = []
        if len(vaa) > VAA_SPLIT_AT:
            second.append(self._write(encoded_vaa, VAA_SPLIT_AT, vaa[VAA_SPLIT_AT:]))
        second.append(self._wormhole(
            "verify_encoded_vaa_v1", b"", encoded_vaa,
            _meta(guardian_set_address(guardian_set_index(vaa), self.wormhole))))
        return first, second

    def close_encoded_vaa(self, encoded_vaa: Pubkey) -> Instruction:
        """Wormhole's `close_encoded_vaa`: the account's rent back to the payer."""
        return Instruction(self.wormhole, _discriminator("close_encoded_vaa"), [
            _meta(self.payer, signer=True, writable=True), _meta(encoded_vaa, writable=True)])

    def _write(self, encoded_vaa: Pubkey, index: int, chunk: bytes) -> Instruction:
        return self._wormhole("write_encoded_vaa", struct.pack("<I", index) + _bytes(chunk),
                              encoded_vaa)

    def _wormhole(self, name: str, args: bytes, encoded_vaa: Pubkey,
                  *more: AccountMeta) -> Instruction:
        accounts: Sequence[AccountMeta] = [_meta(self.payer, signer=True),
                                           _meta(encoded_vaa, writable=True), *more]
        return Instruction(self.wormhole, _discriminator(name) + args, list(accounts))

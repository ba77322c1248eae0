"""The localnet's indexed getProgramAccounts answers as a scan of every account would, at every
commitment, through random transactions, direct writes and closes."""

from __future__ import annotations

import random

from solders.account import Account
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import (
    ID as SYSTEM_PROGRAM,
)
from solders.system_program import (
    AssignParams,
    CreateAccountParams,
    TransferParams,
    assign,
    create_account,
    transfer,
)
from solders.sysvar import CLOCK, SLOT_HASHES
from solders.transaction import VersionedTransaction

from chain.localnet.account_index import DataSize, Filter, Memcmp
from chain.localnet.ledger import COMMITMENTS, COMPUTE_BUDGET_PROGRAM, Ledger
from program.svm import ProgramSvm

OWNERS = [SYSTEM_PROGRAM, *(Pubkey.new_unique() for _ in range(3))]
SIZES = (0, 8, 16, 40)
ALPHABET = b"\x00\x01\x02"  # few byte values: memcmps often match
SYSVAR_OWNER = Pubkey.from_string("Sysvar1111111111111111111111111111111111111")
STEPS = 400


def _scan(ledger: Ledger, owner: Pubkey, at_slot: int | None,
          filters: list[Filter]) -> list[tuple[Pubkey, Account]]:
    """The answer the localnet gave before its index: every address seen, read and filtered."""
    out = []
    for address in ledger._touched:
        account = ledger.account(address, at_slot)
        if account is not None and account.owner == owner \
                and all(f(bytes(account.data)) for f in filters):
            out.append((address, account))
    return out


def _filters(rng: random.Random) -> list[Filter]:
    filters: list[Filter] = []
    if rng.random() < 0.5:
        filters.append(DataSize(rng.choice((*SIZES, 24))))
    for _ in range(rng.randint(0, 2)):
        width = rng.randint(0, 3)
        filters.append(Memcmp(rng.randint(0, 42),
                              bytes(rng.choice(ALPHABET) for _ in range(width))))
    return filters


class _World:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.now = 0.0
        self.ledger = Ledger(ProgramSvm(), clock=lambda: self.now, finalize_slots=4)
        self.payer = self.ledger.chain.payer
        self.keys = [Keypair() for _ in range(40)]
        self.sent = 0
        # as a transaction naming them would: the slots rewrite them outside any transaction
        self.ledger.track([CLOCK, SLOT_HASHES])

    def _send(self, instruction: Instruction, signers: list[Keypair]) -> None:
        # a unit limit of its own: the same transfer twice in a slot would be one signature
        self.sent += 1
        limit = Instruction(COMPUTE_BUDGET_PROGRAM,
                            bytes([2]) + (200_000 + self.sent).to_bytes(4, "little"), [])
        blockhash, _ = self.ledger.latest_blockhash()
        message = Message.new_with_blockhash([limit, instruction], self.payer.pubkey(),
                                             blockhash)
        self.ledger.send(VersionedTransaction(message, [self.payer, *signers]))

    def step(self) -> None:
        rng, ledger = self.rng, self.ledger
        key = rng.choice(self.keys)
        address = key.pubkey()
        current = ledger.account(address)
        action = rng.random()
        if action < 0.3:  # a direct write, sometimes a close (no lamports)
            size = rng.choice(SIZES)
            data = bytes(rng.choice(ALPHABET) for _ in range(size))
            lamports = 0 if rng.random() < 0.15 else rng.randint(1, 10**9)
            ledger.set_accounts([(address, Account(lamports, data, rng.choice(OWNERS)))])
        elif action < 0.45 and current is None:
            self._send(create_account(CreateAccountParams(
                from_pubkey=self.payer.pubkey(), to_pubkey=address, lamports=10**8,
                space=rng.choice(SIZES), owner=rng.choice(OWNERS))), [key])
        elif action < 0.6 and current is not None and current.owner == SYSTEM_PROGRAM \
                and not current.data:
            # all of it closes the account
            lamports = current.lamports if rng.random() < 0.5 else current.lamports // 2
            self._send(transfer(TransferParams(from_pubkey=address,
                                                to_pubkey=rng.choice(self.keys).pubkey(),
                                                lamports=lamports)), [key])
        elif action < 0.7 and current is not None and current.owner == SYSTEM_PROGRAM:
            self._send(assign(AssignParams(pubkey=address,
                                            owner=rng.choice(OWNERS[1:]))), [key])
        elif action < 0.85:
            self.now += rng.choice((1, 1, 2, 6)) * ledger.slot_seconds
            ledger.tick()

    def check(self) -> None:
        rng, ledger = self.rng, self.ledger
        owner = rng.choice((*OWNERS, SYSVAR_OWNER))
        filters = _filters(rng)
        for commitment in COMMITMENTS:
            slot = ledger.commitment_slot(commitment)
            at_slot = None if slot >= ledger.slot else slot  # as the RPC layer asks
            assert ledger.program_accounts(owner, at_slot, filters) \
                == _scan(ledger, owner, at_slot, filters), (commitment, owner, filters)


def test_indexed_answers_equal_a_scan_of_every_account() -> None:
    rng = random.Random(16)
    world = _World(rng)
    for _ in range(STEPS):
        world.step()
        world.check()


def test_the_clock_sysvar_is_found_by_its_current_slot() -> None:
    # each slot rewrites the Clock outside any transaction: the index must follow it
    now = [0.0]
    ledger = Ledger(ProgramSvm(), clock=lambda: now[0])
    ledger.track([CLOCK])
    now[0] += 3 * ledger.slot_seconds
    ledger.tick()
    by_slot = Memcmp(0, ledger.slot.to_bytes(8, "little"))  # Clock starts with its slot
    assert [a for a, _ in ledger.program_accounts(SYSVAR_OWNER, None, [by_slot])] == [CLOCK]


def test_a_slot_listener_asking_the_slot_produces_no_slot_of_its_own() -> None:
    # a slot's production longer than a slot (LiteSVM's sysvar writes, a million accounts
    # in): each listener's nested tick produced another slot, recursing without end
    now = [0.0]
    ledger = Ledger(ProgramSvm(), clock=lambda: now[0])

    def slow_clock() -> float:
        now[0] += ledger.slot_seconds
        return now[0]

    heard: list[int] = []
    ledger.slot_listeners.append(lambda slot: heard.append(ledger.commitment_slot("processed")))
    ledger._clock = slow_clock
    ledger.tick()
    assert heard == [ledger.slot]

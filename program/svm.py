"""The program running in an in-process Solana runtime (LiteSVM).

`ProgramSvm` deploys `program/build/keepernet.so` through the BPF Upgradeable Loader (the
strict path a real cluster takes), builds instructions and decodes accounts and events with
anchorpy from the IDL, moves the clock, and handles SPL tokens. Tests use it directly; the
localnet serves it over JSON-RPC.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anchorpy import Context, EventParser, Program, Provider, Wallet
from anchorpy.program.common import Event
from solana.rpc.async_api import AsyncClient
from solders.account import Account
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, create_account
from solders.transaction import Transaction
from solders.transaction_metadata import FailedTransactionMetadata
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import (
    InitializeAccountParams,
    InitializeMintParams,
    MintToParams,
    initialize_account,
    initialize_mint,
    mint_to,
)

from program.addresses import program_data_address
from program.errors import describe
from program.idl.anchor import load_idl
from program.toolchain.deploy import deploy_upgradeable, new_svm

PROGRAM_DIR = Path(__file__).resolve().parent
SO_PATH = PROGRAM_DIR / "build" / "keepernet.so"

MINT_LEN = 82
TOKEN_ACCOUNT_LEN = 165
# amount (u64) sits after mint and owner in an SPL token account
TOKEN_AMOUNT_OFFSET = 64


@functools.cache
def _unused_connection() -> AsyncClient:
    """The connection anchorpy wants to build a Program, never used to send; one for all, as
    each costs an SSL context (~30 ms, a third of a ProgramSvm)."""
    return AsyncClient("http://127.0.0.1:1")


@dataclass(frozen=True)
class TxResult:
    """What one transaction did."""

    ok: bool
    error: str | None  # the IDL name of a program error, else the runtime's error text
    logs: list[str]
    events: list[Event]
    compute_units: int


class ProgramSvm:
    """A LiteSVM with the program deployed, and the helpers to drive it."""

    def __init__(self, so_path: Path = SO_PATH, *, program_keypair: Keypair | None = None,
                 upgrade_authority: Keypair | None = None) -> None:
        """Deploy with `upgrade_authority` (the payer when None) as the program's upgrade
        authority: the one key that may initialize it."""
        self.svm: LiteSVM = new_svm()
        self.payer = Keypair()
        self.svm.airdrop(self.payer.pubkey(), 1_000 * 10**9)
        self.program_id = deploy_upgradeable(self.svm, self.payer, so_path.read_bytes(),
                                             program_keypair, authority=upgrade_authority)
        self.program_data = program_data_address(self.program_id)
        provider = Provider(_unused_connection(), Wallet(self.payer))
        self.program = Program(load_idl(), self.program_id, provider)
        self._events = EventParser(self.program_id, self.program.coder)
        self.set_time(1_700_000_000)

    # ---- instructions and transactions --------------------------------------------------------
    def ix(self, name: str, *args: Any, accounts: dict[str, Pubkey]) -> Instruction:
        """Build instruction `name` (snake_case) from the IDL with its arguments and accounts."""
        built: Instruction = self.program.instruction[name](*args, ctx=Context(accounts=accounts))
        return built

    def send(self, ixs: Sequence[Instruction], signers: Sequence[Keypair] = (),
             payer: Keypair | None = None) -> TxResult:
        """Sign with the payer and `signers`, send, and report what happened."""
        fee_payer = payer or self.payer
        all_signers = [fee_payer, *[s for s in signers if s.pubkey() != fee_payer.pubkey()]]
        blockhash = self.svm.latest_blockhash()
        tx = Transaction(all_signers, Message.new_with_blockhash(list(ixs), fee_payer.pubkey(),
                                                                 blockhash), blockhash)
        result = self.svm.send_transaction(tx)
        # Identical transactions in one slot would be refused as duplicates.
        self.svm.expire_blockhash()
        if isinstance(result, FailedTransactionMetadata):
            meta = result.meta()
            return TxResult(False, describe(result.err()), list(meta.logs()), [],
                            meta.compute_units_consumed())
        logs = list(result.logs())
        events: list[Event] = []
        self._events.parse_logs(logs, events.append)
        return TxResult(True, None, logs, events, result.compute_units_consumed())

    # ---- accounts -----------------------------------------------------------------------------
    def raw(self, address: Pubkey) -> bytes | None:
        account = self.svm.get_account(address)
        return None if account is None or account.lamports == 0 else bytes(account.data)

    def fetch(self, address: Pubkey) -> Any:
        """The program account at `address`, decoded by its discriminator; None if absent."""
        data = self.raw(address)
        return None if data is None else self.program.coder.accounts.decode(data)

    def snapshot(self, addresses: Sequence[Pubkey]) -> dict[Pubkey, tuple[int, bytes] | None]:
        """Lamports and data of each address, to compare before and after."""
        out: dict[Pubkey, tuple[int, bytes] | None] = {}
        for a in addresses:
            acc = self.svm.get_account(a)
            out[a] = None if acc is None else (acc.lamports, bytes(acc.data))
        return out

    # ---- clock --------------------------------------------------------------------------------
    def now(self) -> int:
        return int(self.svm.get_clock().unix_timestamp)

    def set_time(self, unix_timestamp: int) -> None:
        clock = self.svm.get_clock()
        clock.unix_timestamp = unix_timestamp
        self.svm.set_clock(clock)

    def advance(self, seconds: int) -> None:
        self.set_time(self.now() + seconds)

    # ---- wallets and tokens -------------------------------------------------------------------
    def wallet(self, sol: int = 10) -> Keypair:
        kp = Keypair()
        self.svm.airdrop(kp.pubkey(), sol * 10**9)
        return kp

    def _create(self, new: Keypair, space: int, owner: Pubkey, init: Instruction) -> None:
        lamports = self.svm.minimum_balance_for_rent_exemption(space)
        result = self.send([
            create_account(CreateAccountParams(from_pubkey=self.payer.pubkey(),
                                               to_pubkey=new.pubkey(), lamports=lamports,
                                               space=space, owner=owner)),
            init,
        ], [new])
        if not result.ok:
            raise RuntimeError(f"creating {new.pubkey()} failed: {result.error}")

    def create_mint(self, decimals: int = 6, authority: Pubkey | None = None) -> Pubkey:
        mint = Keypair()
        self._create(mint, MINT_LEN, TOKEN_PROGRAM_ID, initialize_mint(InitializeMintParams(
            decimals=decimals, program_id=TOKEN_PROGRAM_ID, mint=mint.pubkey(),
            mint_authority=authority or self.payer.pubkey())))
        return mint.pubkey()

    def create_token_account(self, mint: Pubkey, owner: Pubkey) -> Pubkey:
        account = Keypair()
        self._create(account, TOKEN_ACCOUNT_LEN, TOKEN_PROGRAM_ID, initialize_account(
            InitializeAccountParams(program_id=TOKEN_PROGRAM_ID, account=account.pubkey(),
                                    mint=mint, owner=owner)))
        return account.pubkey()

    def mint_to(self, mint: Pubkey, dest: Pubkey, amount: int) -> None:
        result = self.send([mint_to(MintToParams(
            program_id=TOKEN_PROGRAM_ID, mint=mint, dest=dest, mint_authority=self.payer.pubkey(),
            amount=amount))])
        if not result.ok:
            raise RuntimeError(f"minting to {dest} failed: {result.error}")

    def token_balance(self, account: Pubkey) -> int:
        data = self.raw(account)
        if data is None:
            raise KeyError(f"no token account at {account}")
        return int.from_bytes(data[TOKEN_AMOUNT_OFFSET:TOKEN_AMOUNT_OFFSET + 8], "little")

    def set_account(self, address: Pubkey, data: bytes, owner: Pubkey, lamports: int = 0) -> None:
        """Write an account directly (tests forge spoofed accounts with it)."""
        lamports = lamports or self.svm.minimum_balance_for_rent_exemption(len(data))
        self.svm.set_account(address, Account(lamports=lamports, data=data, owner=owner,
                                              executable=False))

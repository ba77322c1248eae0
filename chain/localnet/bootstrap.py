"""The localnet's genesis: the program, a quote mint, the vault, the config and funded wallets.

Keypairs come from a keys folder when it holds them and are written there otherwise (Solana
CLI format, mode 0600), so a restarted localnet has the same addresses and tools can sign with
the same wallets. Every genesis transaction goes through the ledger, so it is in the history
and its accounts are indexed for `getProgramAccounts`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import (
    CreateAccountParams,
    TransferParams,
    create_account,
    transfer,
)
from solders.transaction import VersionedTransaction
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import (
    InitializeAccountParams,
    InitializeMintParams,
    MintToParams,
    initialize_account,
    initialize_mint,
    mint_to,
)

from chain.keys import load_keypair
from chain.localnet.ledger import FINALIZE_SLOTS, SLOT_SECONDS, Ledger
from program.client import Client, ConfigParams, Deployment
from program.local import PYTH_PROGRAM, LocalProtocol, Wallet, with_council
from program.svm import MINT_LEN, TOKEN_ACCOUNT_LEN, ProgramSvm

LAMPORTS_PER_SOL = 10**9
FAUCET_LAMPORTS = 500_000 * LAMPORTS_PER_SOL
WALLET_LAMPORTS = 100 * LAMPORTS_PER_SOL
QUOTE_DECIMALS = 6
WALLET_QUOTE = 1_000_000 * 10**QUOTE_DECIMALS
KEEPERS = 2
USERS = 3


@dataclass(frozen=True)
class Genesis:
    """What the localnet starts with."""

    protocol: LocalProtocol
    ledger: Ledger
    faucet: Keypair  # pays requestAirdrop
    keepers: list[Wallet]
    users: list[Wallet]
    keys_dir: Path


class Keys:
    """A folder of keypair files: each loaded if present, else created with mode 0600."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    def get(self, name: str) -> Keypair:
        path = self.folder / f"{name}.json"
        if path.exists():
            return load_keypair(path)  # refused when others can read it
        keypair = Keypair()
        # created with 0600 from the start: a secret key is never readable by others
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(list(bytes(keypair)), f)
        return keypair


def _send(ledger: Ledger, ixs: Sequence[Instruction], payer: Keypair,
          signers: Sequence[Keypair] = ()) -> None:
    blockhash, _ = ledger.latest_blockhash()
    message = Message.new_with_blockhash(list(ixs), payer.pubkey(), blockhash)
    record = ledger.send(VersionedTransaction(message, [payer, *signers]))
    if record.err is not None:
        raise RuntimeError(f"genesis transaction failed: {record.err}\n" + "\n".join(record.logs))


def _create(ledger: Ledger, payer: Keypair, new: Keypair, space: int, owner: Pubkey) -> Instruction:
    lamports = ledger.svm.minimum_balance_for_rent_exemption(space)
    return create_account(CreateAccountParams(from_pubkey=payer.pubkey(), to_pubkey=new.pubkey(),
                                              lamports=lamports, space=space, owner=owner))


def bootstrap(keys_dir: Path, params: ConfigParams | None = None, *,
              slot_seconds: float = SLOT_SECONDS, finalize_slots: int = FINALIZE_SLOTS) -> Genesis:
    """Deploy and initialize the protocol and fund the wallets; see the module docstring."""
    keys = Keys(keys_dir)
    faucet, admin = keys.get("faucet"), keys.get("admin")
    # deployed with the admin as upgrade authority: the only key that can initialize it
    chain = ProgramSvm(program_keypair=keys.get("program"), upgrade_authority=admin)
    ledger = Ledger(chain, slot_seconds=slot_seconds, finalize_slots=finalize_slots)
    chain.svm.airdrop(faucet.pubkey(), FAUCET_LAMPORTS)
    ledger.track([faucet.pubkey()])
    owners = [admin] + [keys.get(f"keeper-{i}") for i in range(1, KEEPERS + 1)] \
        + [keys.get(f"user-{i}") for i in range(1, USERS + 1)]
    _send(ledger, [transfer(TransferParams(from_pubkey=faucet.pubkey(), to_pubkey=o.pubkey(),
                                           lamports=WALLET_LAMPORTS)) for o in owners], faucet)

    # the quote mint, with the admin as mint authority so tests can mint more
    mint = keys.get("quote-mint")
    _send(ledger, [_create(ledger, admin, mint, MINT_LEN, TOKEN_PROGRAM_ID),
                   initialize_mint(InitializeMintParams(
                       decimals=QUOTE_DECIMALS, program_id=TOKEN_PROGRAM_ID, mint=mint.pubkey(),
                       mint_authority=admin.pubkey()))], admin, [mint])

    def token_account(name: str, owner: Pubkey) -> Keypair:
        account = keys.get(name)
        _send(ledger, [_create(ledger, admin, account, TOKEN_ACCOUNT_LEN, TOKEN_PROGRAM_ID),
                       initialize_account(InitializeAccountParams(
                           program_id=TOKEN_PROGRAM_ID, account=account.pubkey(),
                           mint=mint.pubkey(), owner=owner))], admin, [account])
        return account

    vault_authority = Deployment(chain.program_id, mint.pubkey(), Pubkey.default()).vault_authority
    vault = token_account("vault", vault_authority)
    d = Deployment(chain.program_id, mint.pubkey(), vault.pubkey())
    treasury = token_account("treasury", admin.pubkey())
    protocol = LocalProtocol(chain, admin, d, Client(chain.program, d),
                             with_council(params or ConfigParams(pyth_program=PYTH_PROGRAM),
                                          admin.pubkey(), treasury.pubkey()))
    _send(ledger, [protocol.client.initialize(admin.pubkey(), protocol.params)], admin)
    ledger.track([d.config, d.vault_authority])

    wallets = []
    for owner, name in zip(owners[1:], [f"keeper-{i}" for i in range(1, KEEPERS + 1)]
                           + [f"user-{i}" for i in range(1, USERS + 1)], strict=True):
        token = token_account(f"{name}-quote", owner.pubkey())
        _send(ledger, [mint_to(MintToParams(program_id=TOKEN_PROGRAM_ID, mint=mint.pubkey(),
                                            dest=token.pubkey(), mint_authority=admin.pubkey(),
                                            amount=WALLET_QUOTE))], admin)
        wallets.append(Wallet(owner, token.pubkey()))
    ledger.end_genesis()
    return Genesis(protocol, ledger, faucet, wallets[:KEEPERS], wallets[KEEPERS:], keys_dir)

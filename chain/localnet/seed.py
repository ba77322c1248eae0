"""Seeding a running localnet over JSON-RPC: traders with SOL and quote tokens, perp markets
and positions, prediction markets. The demo, the benchmarks and the fault tests start here.

Everything goes through real transactions, several wallets per transaction and many
transactions in flight, so 2,000 positions take a few seconds rather than minutes.
`Seeder.connect(url, keys_dir)` works against any localnet started with that keys folder
(`keepernet localnet --keys DIR`); the admin's key there is the protocol's admin and the
quote mint's authority.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed, Processed
from solana.rpc.core import RPCException
from solana.rpc.types import TxOpts
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.rpc.errors import SendTransactionPreflightFailureMessage
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.sysvar import CLOCK
from solders.transaction import Transaction
from solders.transaction_status import TransactionConfirmationStatus
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import (
    MintToParams,
    create_associated_token_account,
    get_associated_token_address,
    mint_to,
)

from chain.client import Endpoint, RpcClient, anchor_program
from chain.funding import Funding, accrue
from chain.keys import load_keypair
from program import layouts
from program.client import Client, Deployment, PerpMarketParams
from program.errors import describe, program_error
from program.local import Wallet
from program.svm import TOKEN_ACCOUNT_LEN

IN_FLIGHT = 64  # transactions sent before waiting for their answers
CONFIRM_POLL_S = 0.05  # one getSignatureStatuses for all of them this often
CONFIRMED = (TransactionConfirmationStatus.Confirmed, TransactionConfirmationStatus.Finalized)
STALE_PRICE_ERRORS = frozenset({"StaleOracle", "StalePublishTime"})
STALE_PRICE_PATIENCE_S = 10.0
STALE_PRICE_RETRY_S = 0.2
TRADERS_PER_FUNDING_TX = 5
TRADERS_PER_POSITION_TX = 3
TRADER_LAMPORTS = 20_000_000  # fees and the Position account's rent
SIGNATURE_FEE_LAMPORTS = 5_000  # a funding transaction has one signature, the admin's
# kept on the admin beyond the traders' funding: the fees and rent of the rest of the seeding
ADMIN_RESERVE_LAMPORTS = 10 * 10**9
MAX_PRICE = 2**64 - 1
SET_ACCOUNTS_PER_REQUEST = 2_000  # the localnet's limit per keepernet_setAccounts


class SeedError(RuntimeError):
    """A seeding transaction failed; the message is one line naming what it was doing."""


def refusal(error: BaseException) -> str:
    """What a refused send said, on one line: the program's error name when its preflight
    failed on one, else `one_line(error)`."""
    said = error.args[0] if isinstance(error, RPCException) and error.args else None
    if isinstance(said, SendTransactionPreflightFailureMessage) and said.data.err is not None:
        name = program_error(said.data.err)
        if name is not None:
            return name
    return one_line(error)


def stale_price(error: str) -> bool:
    """Whether a seeding transaction failed only because its oracle price was too old."""
    return error in STALE_PRICE_ERRORS


def one_line(error: BaseException) -> str:
    """What a failed request said, on one line: the node's message without the logs that
    solana-py's exception carries."""
    said: object = error.args[0] if isinstance(error, RPCException) and error.args else error
    message = getattr(said, "message", None)
    return " ".join((message if isinstance(message, str) else str(said)).split())


def traders_cost(count: int, token_account_rent: int) -> int:
    """The lamports the admin pays for `count` traders: each one's SOL and its token account's
    rent, and one signature's fee per funding transaction."""
    transactions = -(-count // TRADERS_PER_FUNDING_TX)
    return count * (TRADER_LAMPORTS + token_account_rent) + transactions * SIGNATURE_FEE_LAMPORTS


def airdrop_needed(balance: int, cost: int) -> int:
    """What the admin must be given so that `cost` leaves it ADMIN_RESERVE_LAMPORTS: 0 when
    its `balance` suffices."""
    return max(0, cost + ADMIN_RESERVE_LAMPORTS - balance)


@dataclass(frozen=True)
class PositionSpec:
    """A position to open: side (1 long, 2 short), size (base units, 6 decimals) and the
    collateral deposited first (quote units)."""

    side: int
    size: int
    collateral: int


def _accrue(m: np.ndarray, price: int, now: int) -> None:
    """`perp_accrue` on a PerpMarket record: funding from last_accrual_ts to `now` at `price`
    and the open interest in force."""
    f = Funding(*(int(m[field][0]) for field in (
        "cumulative_funding", "cumulative_funding_short", "last_accrual_ts",
        "funding_interval_secs", "max_funding_bps", "long_oi", "short_oi",
        "funding_remainder")))
    if now <= f.last_accrual_ts:
        return
    (m["cumulative_funding"], m["cumulative_funding_short"],
     m["funding_remainder"]) = accrue(f, price, now)
    m["last_accrual_ts"] = now


@dataclass
class Seeder:
    """Seeds one localnet; see the module's docstring."""

    client: AsyncClient
    admin: Keypair
    program: Client
    rpc: RpcClient

    @classmethod
    async def connect(cls, url: str, keys_dir: Path) -> Seeder:
        """A Seeder for the localnet at `url` started with the keys folder `keys_dir`."""
        admin = load_keypair(keys_dir / "admin.json")
        program_id = load_keypair(keys_dir / "program.json").pubkey()
        mint = load_keypair(keys_dir / "quote-mint.json").pubkey()
        vault = load_keypair(keys_dir / "vault.json").pubkey()
        rpc = RpcClient([Endpoint("localnet", url, max_rps=100_000)])
        program = Client(anchor_program(rpc, program_id, admin),
                         Deployment(program_id, mint, vault))
        return cls(AsyncClient(url, commitment=Confirmed), admin, program, rpc)

    async def close(self) -> None:
        await self.client.close()
        await self.rpc.close()

    @property
    def d(self) -> Deployment:
        return self.program.d

    # ---- transactions -----------------------------------------------------------------------
    async def send_all(self, batches: Sequence[tuple[list[Instruction], Sequence[Keypair]]],
                       what: str = "a seeding transaction") -> None:
        """Send each (instructions, signers — the first pays) as one transaction, IN_FLIGHT
        at a time, and wait until they are confirmed; SeedError saying `what` failed and the
        first error. A transaction refused for a stale price is sent again for up to
        STALE_PRICE_PATIENCE_S: the price is written by another task (the publisher), which a
        busy machine can delay past the program's staleness limit."""
        for start in range(0, len(batches), IN_FLIGHT):
            chunk = batches[start:start + IN_FLIGHT]
            patience = time.monotonic() + STALE_PRICE_PATIENCE_S
            while True:
                errors = await self._send_chunk(chunk)
                fatal = [e for e in errors if e is not None and not stale_price(e)]
                if fatal:
                    raise SeedError(f"{what} failed: {fatal[0]}")
                chunk = [batch for batch, e in zip(chunk, errors, strict=True) if e is not None]
                if not chunk:
                    break
                if time.monotonic() > patience:
                    raise SeedError(f"{what} failed: {next(e for e in errors if e)}")
                await asyncio.sleep(STALE_PRICE_RETRY_S)

    async def _send_chunk(self, chunk: Sequence[tuple[list[Instruction], Sequence[Keypair]]]
                          ) -> list[str | None]:
        """Send every transaction of `chunk` under one blockhash and wait until each is
        confirmed: for each, None or what failed (its IDL error name when the program's)."""
        latest = (await self.client.get_latest_blockhash()).value
        sent = await asyncio.gather(*(self._send(ixs, signers, latest.blockhash)
                                      for ixs, signers in chunk), return_exceptions=True)
        errors: list[str | None] = [
            refusal(s) if isinstance(s, BaseException) else None for s in sent]
        landing = {i: s for i, s in enumerate(sent) if isinstance(s, Signature)}
        while landing:
            statuses = (await self.client.get_signature_statuses(list(landing.values()))).value
            for i, status in zip(list(landing), statuses, strict=True):
                if status is not None and status.err is not None:
                    errors[i] = describe(status.err)
                    del landing[i]
                elif status is not None and status.confirmation_status in CONFIRMED:
                    del landing[i]
            if not landing:
                break
            height = (await self.client.get_block_height(Confirmed)).value
            if height > latest.last_valid_block_height:
                for i in landing:
                    errors[i] = "its blockhash expired before it was confirmed"
                break
            await asyncio.sleep(CONFIRM_POLL_S)
        return errors

    async def _send(self, ixs: list[Instruction], signers: Sequence[Keypair],
                    blockhash: Hash) -> Signature:
        message = Message.new_with_blockhash(ixs, signers[0].pubkey(), blockhash)
        # preflight against processed (an airdrop just made is there); the transaction runs
        # when the next slot is produced, so the caller waits until it is confirmed before what
        # depends on it (solana-py would confirm only to the preflight's commitment)
        sent = await self.client.send_raw_transaction(
            bytes(Transaction(list(signers), message, blockhash)),
            opts=TxOpts(skip_confirmation=True, preflight_commitment=Processed))
        return sent.value

    async def send(self, ixs: list[Instruction], *signers: Keypair) -> None:
        await self.send_all([(ixs, signers)])

    # ---- wallets ----------------------------------------------------------------------------
    async def traders(self, count: int, quote: int) -> list[Wallet]:
        """`count` new wallets, each with SOL for fees and rent and an associated quote token
        account holding `quote`."""
        wallets = [Keypair() for _ in range(count)]
        mint, admin = self.d.quote_mint, self.admin.pubkey()
        await self.fund_admin(traders_cost(count, (
            await self.client.get_minimum_balance_for_rent_exemption(TOKEN_ACCOUNT_LEN)).value))
        batches: list[tuple[list[Instruction], Sequence[Keypair]]] = []
        for start in range(0, count, TRADERS_PER_FUNDING_TX):
            ixs: list[Instruction] = []
            for kp in wallets[start:start + TRADERS_PER_FUNDING_TX]:
                owner = kp.pubkey()
                ata = get_associated_token_address(owner, mint)
                ixs += [transfer(TransferParams(from_pubkey=admin, to_pubkey=owner,
                                                lamports=TRADER_LAMPORTS)),
                        create_associated_token_account(admin, owner, mint),
                        mint_to(MintToParams(program_id=TOKEN_PROGRAM_ID, mint=mint, dest=ata,
                                             mint_authority=admin, amount=quote))]
            batches.append((ixs, [self.admin]))
        await self.send_all(batches, f"funding {count:,} traders")
        return [Wallet(kp, get_associated_token_address(kp.pubkey(), mint)) for kp in wallets]

    async def fund_admin(self, cost: int) -> None:
        """Airdrop to the admin what it lacks to pay `cost` (the genesis gives it a fixed sum:
        enough for a few thousand traders, not for the benchmarks' hundreds of thousands)."""
        admin = self.admin.pubkey()
        lacking = airdrop_needed((await self.client.get_balance(admin)).value, cost)
        if lacking:
            # the localnet runs the airdrop's transfer before it answers
            await self.client.request_airdrop(admin, lacking)

    async def admin_wallet(self, quote: int) -> Wallet:
        """The admin with an associated quote token account holding `quote` more."""
        wallet, ixs = await self._admin_minting(quote)
        await self.send(ixs, self.admin)
        return wallet

    async def _admin_minting(self, quote: int) -> tuple[Wallet, list[Instruction]]:
        """The admin's wallet and the instructions giving its associated quote token account
        (created if missing) `quote` more."""
        admin = self.admin.pubkey()
        ata = get_associated_token_address(admin, self.d.quote_mint)
        ixs = []
        if (await self.client.get_account_info(ata)).value is None:
            ixs.append(create_associated_token_account(admin, admin, self.d.quote_mint))
        ixs.append(mint_to(MintToParams(program_id=TOKEN_PROGRAM_ID, mint=self.d.quote_mint,
                                        dest=ata, mint_authority=admin, amount=quote)))
        return Wallet(self.admin, ata), ixs

    # ---- perps ------------------------------------------------------------------------------
    async def perp_market(self, perp_market_id: int, oracle: Pubkey,
                          params: PerpMarketParams, pool: int) -> Pubkey:
        """Create a perp market on `oracle` and add `pool` to the perps' counterparty pool (in
        one transaction: a separate mint of the same amount would repeat the last one's, and
        the node would drop it as already processed)."""
        admin, minting = await self._admin_minting(pool)
        await self.send([*minting,
                         self.program.create_perp_market(admin.key, perp_market_id, oracle,
                                                         params),
                         self.program.fund_pool(admin.key, admin.token, pool)], self.admin)
        return self.d.perp_market(perp_market_id)

    async def positions(self, perp_market: Pubkey, oracle: Pubkey,
                        specs: Sequence[PositionSpec]) -> list[Pubkey]:
        """Open one position per spec, each by a new trader (deposit, then open at any
        price); their addresses in the specs' order."""
        wallets = await self.traders(len(specs), max((s.collateral for s in specs), default=0))
        return await self.open_positions(perp_market, oracle, wallets, specs)

    async def open_positions(self, perp_market: Pubkey, oracle: Pubkey,
                             wallets: Sequence[Wallet], specs: Sequence[PositionSpec]
                             ) -> list[Pubkey]:
        """Open one position per spec by its wallet (deposit, then open at any price); their
        addresses in the specs' order."""
        batches: list[tuple[list[Instruction], Sequence[Keypair]]] = []
        pairs = list(zip(wallets, specs, strict=True))
        for start in range(0, len(pairs), TRADERS_PER_POSITION_TX):
            ixs: list[Instruction] = []
            signers: list[Keypair] = []
            for wallet, spec in pairs[start:start + TRADERS_PER_POSITION_TX]:
                acceptable = MAX_PRICE if spec.side == 1 else 0
                ixs += [self.program.deposit(wallet.key, perp_market, wallet.token,
                                             spec.collateral),
                        self.program.open_position(wallet.key, perp_market, oracle, spec.side,
                                                   spec.size, acceptable)]
                signers.append(wallet.kp)
            batches.append((ixs, signers))
        await self.send_all(batches, f"opening {len(specs):,} positions")
        return [self.d.position(perp_market, w.key) for w in wallets]

    async def positions_written(self, perp_market: Pubkey, specs: Sequence[PositionSpec],
                                entry_price: int) -> list[Pubkey]:
        """Open one position per spec without a transaction: each Position account is written
        as `open_position` filling at `entry_price` would leave it (its fee aside), for an owner
        with no wallet, through the localnet's `keepernet_setAccounts`: its pool reserve
        (notional * max_profit_bps), funding and loss snapshots of its side. The market is first
        accrued to now at `entry_price` (as an instruction at that price would), its open
        interest raised to match, the Config's reserved pool raised by the reserves (refused
        when the pool's free liquidity cannot cover them, as open_position is), and the
        collateral minted into the vault. The program cannot tell them from opened ones, so
        100,000 positions take seconds instead of 33,000 transactions. Their addresses, in the
        specs' order."""
        program_id = self.d.program_id
        market, config = (await self.client.get_multiple_accounts(
            [perp_market, self.d.config])).value
        if market is None or config is None:
            raise SeedError(f"no PerpMarket at {perp_market} or no Config")
        m = np.frombuffer(bytes(market.data), dtype=layouts.PERP_MARKET).copy()
        c = np.frombuffer(bytes(config.data), dtype=layouts.CONFIG).copy()
        now = await self.now()
        _accrue(m, entry_price, now)
        records = np.zeros(len(specs), dtype=layouts.POSITION)
        records["discriminator"] = np.void(layouts.discriminator("Position"))
        records["perp_market"] = np.void(bytes(perp_market))
        records["size"] = [s.size for s in specs]
        records["entry_price"] = entry_price
        records["collateral"] = [s.collateral for s in specs]
        reserves = [s.size * entry_price // 10**6 * int(m["max_profit_bps"][0]) // 10_000
                    for s in specs]
        records["reserve"] = reserves
        long_ = np.array([s.side == 1 for s in specs], dtype=bool)
        # as the program snapshots: the other side's index, rounded against the position
        records["funding_snapshot"] = np.where(long_, m["cumulative_funding_short"][0],
                                               m["cumulative_funding"][0])
        records["loss_snapshot"] = np.where(long_, m["loss_index_long"][0],
                                            m["loss_index_short"][0])
        records["opened_at"] = now
        records["side"] = [s.side for s in specs]
        reserved = int(c["perp_pool_reserved"][0]) + sum(reserves)
        if reserved > int(c["perp_pool"][0]):
            raise SeedError(f"the pool's free liquidity cannot reserve {sum(reserves)}")
        long_oi = int(m["long_oi"][0]) + sum(s.size for s in specs if s.side == 1)
        short_oi = int(m["short_oi"][0]) + sum(s.size for s in specs if s.side == 2)
        if max(long_oi, short_oi) > int(m["max_open_interest"][0]):
            raise SeedError("the positions exceed the market's open interest cap")
        addresses: list[Pubkey] = []
        for record in records:
            owner = Keypair().pubkey()
            address, bump = Pubkey.find_program_address(
                [b"position", bytes(perp_market), bytes(owner)], program_id)
            record["owner"], record["bump"] = np.void(bytes(owner)), bump
            addresses.append(address)
        entries = [[str(address), base64.b64encode(record.tobytes()).decode(), str(program_id)]
                   for address, record in zip(addresses, records, strict=True)]
        for start in range(0, len(entries), SET_ACCOUNTS_PER_REQUEST):
            await self.rpc.request("keepernet_setAccounts",
                                   [entries[start:start + SET_ACCOUNTS_PER_REQUEST]])
        m["long_oi"], m["short_oi"] = long_oi, short_oi
        c["perp_pool_reserved"] = reserved
        await self.rpc.request("keepernet_setAccounts", [[
            [str(perp_market), base64.b64encode(m.tobytes()).decode(), str(program_id)],
            [str(self.d.config), base64.b64encode(c.tobytes()).decode(), str(program_id)]]])
        collateral = sum(s.collateral for s in specs)
        if collateral:
            await self.send([mint_to(MintToParams(
                program_id=TOKEN_PROGRAM_ID, mint=self.d.quote_mint, dest=self.d.vault,
                mint_authority=self.admin.pubkey(), amount=collateral))], self.admin)
        return addresses

    # ---- the clock --------------------------------------------------------------------------
    async def travel(self, seconds: int) -> None:
        """Move the localnet's clock forward (its `keepernet_timeTravel` method)."""
        await self.rpc.request("keepernet_timeTravel", [{"seconds": seconds}])

    async def now(self) -> int:
        """The chain's unix time."""
        clock = (await self.client.get_account_info(CLOCK)).value
        if clock is None:
            raise SeedError("the localnet has no Clock sysvar")
        # Clock: slot, epoch_start_timestamp, epoch, leader_schedule_epoch, unix_timestamp
        return int.from_bytes(bytes(clock.data)[32:40], "little", signed=True)

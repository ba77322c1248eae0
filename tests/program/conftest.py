"""A deployed, initialized protocol in LiteSVM, with wallets, for the program's tests."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from program.client import ConfigParams
from program.local import LocalProtocol
from program.local import Wallet as User
from program.svm import SO_PATH, TxResult

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "Will it rain in Lisbon on 2027-01-01?"


@pytest.fixture(scope="session", autouse=True)
def built_program() -> Path:
    """The program, rebuilt if a source changed (make is a no-op otherwise)."""
    subprocess.run(["make", "-s", "program"], cwd=ROOT, check=True)
    return SO_PATH


@dataclass
class World(LocalProtocol):
    """The protocol deployed in a fresh LiteSVM, with the markets a test made."""

    markets: list[Pubkey] = field(default_factory=list)
    next_market_id: int = 1
    perp_markets: list[Pubkey] = field(default_factory=list)
    positions: list[Pubkey] = field(default_factory=list)

    # ---- sending ------------------------------------------------------------------------------
    def send(self, ix: Instruction | Sequence[Instruction], *signers: Keypair) -> TxResult:
        ixs = [ix] if isinstance(ix, Instruction) else list(ix)
        return self.chain.send(ixs, signers)

    def ok(self, ix: Instruction | Sequence[Instruction], *signers: Keypair) -> TxResult:
        """Send and require success; the vault invariant must hold afterwards."""
        result = self.send(ix, *signers)
        assert result.ok, f"{result.error}\n" + "\n".join(result.logs)
        self.check_invariant()
        return result

    def refused(self, error: str, ix: Instruction | Sequence[Instruction], *signers: Keypair,
                watch: Sequence[Pubkey] = ()) -> TxResult:
        """Send and require the program error `error`; every watched account (and the
        protocol's own) must be byte-for-byte unchanged."""
        accounts = [self.d.config, self.d.vault, *self.markets, *self.perp_markets,
                    *self.positions, *watch]
        before = self.chain.snapshot(accounts)
        result = self.send(ix, *signers)
        assert not result.ok, "expected a refusal, the transaction succeeded"
        assert result.error == error, f"expected {error}, got {result.error}\n" + "\n".join(
            result.logs)
        assert self.chain.snapshot(accounts) == before, "a refused instruction changed state"
        self.check_invariant()
        return result

    # ---- the world ----------------------------------------------------------------------------
    def config(self) -> object:
        return self.chain.fetch(self.d.config)

    def market(self, market: Pubkey) -> object:
        return self.chain.fetch(market)

    def balance(self, u: User | Pubkey) -> int:
        return self.chain.token_balance(u.token if isinstance(u, User) else u)

    def check_invariant(self) -> None:
        """The vault holds exactly what the protocol owes: every market's collateral and
        held bond, every position's collateral, insurance, protocol fees and the perp pool."""
        c = self.chain.fetch(self.d.config)
        owed = c.insurance_balance + c.protocol_fees + c.perp_pool
        for m in self.markets:
            market = self.chain.fetch(m)
            if market is not None:
                owed += market.collateral + market.bond_held
        for p in self.positions:
            position = self.chain.fetch(p)
            if position is not None:
                owed += position.collateral
        assert self.chain.token_balance(self.d.vault) == owed

    # ---- market life, step by step ------------------------------------------------------------
    def propose(self, creator: User, *, trading_secs: int = 7 * 86_400) -> Pubkey:
        market_id = self.next_market_id
        self.next_market_id += 1
        market = self.d.market(market_id)
        self.markets.append(market)
        self.ok(self.client.create_market(creator.key, market_id, QUESTION,
                                          self.chain.now() + trading_secs), creator.kp)
        return market

    def approved(self, creator: User, voters: int | None = None) -> Pubkey:
        market = self.propose(creator)
        for _ in range(voters or self.params.proposal_min_votes):
            voter = self.chain.wallet()
            self.ok(self.client.vote_proposal(voter.pubkey(), market, True), voter)
        self.ok(self.client.approve_market(market))
        return market

    def active(self, creator: User, liquidity: int = 1_000_000_000) -> Pubkey:
        market = self.approved(creator)
        self.ok(self.client.activate_market(creator.key, market, creator.token, liquidity),
                creator.kp)
        return market

    def resolving(self, creator: User, outcome: int, market: Pubkey | None = None) -> Pubkey:
        market = market or self.active(creator)
        self.chain.set_time(self.market(market).trading_ends_at)
        self.ok(self.client.propose_resolution(creator.key, market, outcome), creator.kp)
        return market


def deploy_world(params: ConfigParams | None = None) -> World:
    p = LocalProtocol.deploy(params)
    return World(p.chain, p.admin, p.d, p.client, p.params)


@pytest.fixture
def world() -> Iterator[World]:
    yield deploy_world()


@pytest.fixture
def creator(world: World) -> User:
    return world.user()

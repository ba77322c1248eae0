"""A deployed, initialized protocol in LiteSVM, with wallets, for the program's tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from program.client import ConfigParams
from program.local import LocalProtocol
from program.local import Wallet as User
from program.svm import TxResult

__all__ = ["QUESTION", "ROOT", "User", "World", "deploy_world"]

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "Will it rain in Lisbon on 2027-01-01?"


@dataclass
class World(LocalProtocol):
    """The protocol deployed in a fresh LiteSVM, with the markets a test made."""

    markets: list[Pubkey] = field(default_factory=list)
    next_market_id: int = 1
    perp_markets: list[Pubkey] = field(default_factory=list)
    positions: list[Pubkey] = field(default_factory=list)
    proposal_voters: dict[Pubkey, list[User]] = field(default_factory=dict)

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
        """The vault holds exactly what the protocol owes: every market's collateral, the
        bonds it holds (creation, proposer's, disputer's) and its unclaimed vote stakes, every
        position's collateral, insurance, protocol fees and the perp pool."""
        c = self.chain.fetch(self.d.config)
        owed = c.insurance_balance + c.protocol_fees + c.perp_pool
        for m in self.markets:
            market = self.chain.fetch(m)
            if market is not None:
                owed += (market.collateral + market.creation_bond_held + market.proposer_bond
                         + market.disputer_bond + market.stake_held)
        for p in self.positions:
            position = self.chain.fetch(p)
            if position is not None:
                owed += position.collateral
        assert self.chain.token_balance(self.d.vault) == owed

    # ---- market life, step by step ------------------------------------------------------------
    def propose(self, creator: User, *, trading_secs: int = 7 * 86_400) -> Pubkey:
        """A new market of `creator` in Proposed (the creation bond paid)."""
        market_id = self.next_market_id
        self.next_market_id += 1
        market = self.d.market(creator.key, market_id)
        self.markets.append(market)
        self.ok(self.client.create_market(creator.key, market_id, QUESTION,
                                          self.chain.now() + trading_secs,
                                          creator_token=creator.token), creator.kp)
        return market

    def vote(self, market: Pubkey, voter: User, approve: bool, stake: int) -> TxResult:
        """`voter` stakes `stake` on the proposal of `market`."""
        return self.ok(self.client.vote_proposal(voter.key, market, approve, stake=stake,
                                                 voter_token=voter.token), voter.kp)

    def vote_dispute(self, market: Pubkey, voter: User, agree: bool, stake: int) -> TxResult:
        """`voter` stakes `stake` on the dispute of `market`."""
        return self.ok(self.client.vote_dispute(voter.key, market, agree, stake=stake,
                                                voter_token=voter.token), voter.kp)

    def close_window(self, market: Pubkey) -> None:
        """Move the clock to the end of the market's proposal window."""
        self.chain.set_time(max(self.chain.now(), self.market(market).proposal_ends_at))

    def approved(self, creator: User, voters: int | None = None) -> Pubkey:
        """A market approved by `voters` wallets (3 by default) whose stakes just make the
        quorum, decided once its window closed."""
        market = self.propose(creator)
        n = voters or 3
        stake = max(self.params.min_vote_stake, -(-self.params.proposal_quorum // n))
        self.proposal_voters[market] = [self.user(stake) for _ in range(n)]
        for voter in self.proposal_voters[market]:
            self.vote(market, voter, True, stake)
        self.close_window(market)
        self.ok(self.client.approve_market(market))
        return market

    def active(self, creator: User, liquidity: int = 1_000_000_000) -> Pubkey:
        market = self.approved(creator)
        self.ok(self.client.activate_market(creator.key, market, creator.token, liquidity),
                creator.kp)
        return market

    def resolving(self, creator: User, outcome: int, market: Pubkey | None = None) -> Pubkey:
        market = market or self.active(creator)
        self.chain.set_time(max(self.chain.now(), self.market(market).trading_ends_at))
        self.ok(self.client.propose_resolution(creator.key, market, outcome,
                                               proposer_token=creator.token), creator.kp)
        return market

    def disputed(self, creator: User, outcome: int, disputer: User,
                 market: Pubkey | None = None) -> Pubkey:
        """A market resolved to `outcome` by its creator and disputed by `disputer`."""
        market = self.resolving(creator, outcome, market)
        self.ok(self.client.dispute(disputer.key, market, disputer.token), disputer.kp)
        return market

    def finalized(self, market: Pubkey) -> TxResult:
        """Move past the market's dispute window or vote and finalize it."""
        m = self.market(market)
        end = m.dispute_ends_at if m.state == 4 else (m.resolution_proposed_at
                                                       + m.dispute_window_secs)
        self.chain.set_time(max(self.chain.now(), end))
        return self.ok(self.client.finalize_market(market))


def deploy_world(params: ConfigParams | None = None) -> World:
    p = LocalProtocol.deploy(params)
    return World(p.chain, p.admin, p.d, p.client, p.params)

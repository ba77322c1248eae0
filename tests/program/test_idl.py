"""The IDL against the program: what an Anchor client reads is what the program does."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import pytest
from anchorpy import EventParser
from anchorpy.program.common import Event
from pyheck import snake
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from program.client import VOTE_DISPUTE, VOTE_PROPOSAL
from program.errors import error_names
from program.idl import generate, spec
from program.svm import ProgramSvm, TxResult
from tests.support import market_model as model
from tests.support.market_lifecycle import dispute_and_vote, pay_out
from tests.support.perps import LONG, PRICE, open_perp
from tests.support.program_world import QUESTION, ROOT, User, World, deploy_world

IDL = json.loads(generate.IDL_PATH.read_text())
IX_NAMES = [snake(ix["name"]) for ix in IDL["instructions"]]
NO, YES = 0, 1
DISPUTE_STAKE = 10_000_000  # five of them reach the default dispute quorum


def test_generated_files_are_up_to_date() -> None:
    assert generate.stale() == []


# ---- dispatch and argument lengths ----------------------------------------------------------
DUMMY = {"u8": 1, "bool": True, "u16": 1, "u32": 1, "u64": 1, "i64": 1, "string": "x"}


def dummy(ty: Any) -> Any:
    """A value of IDL type `ty` that anchorpy can encode."""
    if ty == "publicKey":
        return Keypair().pubkey()
    if isinstance(ty, dict) and "array" in ty:
        inner, count = ty["array"]
        return [dummy(inner) for _ in range(count)]
    if isinstance(ty, dict):
        typedef = next(t for t in IDL["types"] if t["name"] == ty["defined"])
        return {snake(f["name"]): dummy(f["type"]) for f in typedef["type"]["fields"]}
    return DUMMY[ty]


@dataclass
class Built:
    ix: Instruction
    signers: list[Keypair]

    def with_data(self, data: bytes) -> Instruction:
        return Instruction(self.ix.program_id, data, self.ix.accounts)


def build(chain: ProgramSvm, name: str, *args: Any) -> Built:
    """Instruction `name` through anchorpy, with fresh accounts and `args` (else dummies)."""
    idl_ix = next(ix for ix in IDL["instructions"] if snake(ix["name"]) == name)
    keys = {snake(a["name"]): Keypair() for a in idl_ix["accounts"]}
    args = args or tuple(dummy(a["type"]) for a in idl_ix["args"])
    ix = chain.ix(name, *args, accounts={n: kp.pubkey() for n, kp in keys.items()})
    signers = [keys[snake(a["name"])] for a in idl_ix["accounts"] if a["isSigner"]]
    return Built(ix, signers)


@pytest.fixture(scope="module")
def bare() -> ProgramSvm:
    """The program deployed, never initialized."""
    return ProgramSvm()


def program_errors() -> set[str]:
    return set(error_names().values())


@pytest.mark.parametrize("name", IX_NAMES)
def test_instruction_dispatches(bare: ProgramSvm, name: str) -> None:
    built = build(bare, name)
    result = bare.send([built.ix], built.signers)
    assert not result.ok
    assert result.error in program_errors() - {"InvalidInstructionData"}, result.logs


@pytest.mark.parametrize("data", [b"", b"\x01" * 7, generate.discriminator("global", "nope"),
                                  bytes(8)])
def test_unknown_discriminator_is_refused(bare: ProgramSvm, data: bytes) -> None:
    built = build(bare, "buy")
    result = bare.send([built.with_data(data + built.ix.data[8:])], built.signers)
    assert result.error == "InvalidInstructionData"


@pytest.mark.parametrize("name", IX_NAMES)
def test_wrong_argument_length_is_refused(bare: ProgramSvm, name: str) -> None:
    built = build(bare, name)
    for data in (built.ix.data[:-1], built.ix.data + b"\x00"):
        result = bare.send([built.with_data(data)], built.signers)
        assert result.error == "InvalidInstructionData", (len(data), result.logs)


def test_oversized_string_is_refused(bare: ProgramSvm) -> None:
    for length, error in ((spec.QUESTION_MAX_LEN, "InvalidProgram"),
                          (spec.QUESTION_MAX_LEN + 1, "InvalidInstructionData")):
        built = build(bare, "create_market", 1, "q" * length, 1)
        assert bare.send([built.ix], built.signers).error == error


# ---- accounts -------------------------------------------------------------------------------
SPEC_ACCOUNTS = {s.name: s for s in spec.INTERFACE.accounts}


def decoded(world: World, address: Pubkey, name: str) -> dict[str, Any]:
    """The account at `address` decoded by anchorpy, checked to be a `name` of the spec's
    size; as a dict of its fields."""
    raw = world.chain.raw(address)
    assert raw is not None and len(raw) == generate.account_space(SPEC_ACCOUNTS[name])
    account = world.chain.program.coder.accounts.decode(raw)
    assert type(account).__name__ == name
    return {f.name: getattr(account, f.name) for f in fields(account)}


def bump(program_id: Pubkey, *seeds: bytes) -> int:
    return Pubkey.find_program_address(list(seeds), program_id)[1]


def test_config_decodes(world: World) -> None:
    pid = world.d.program_id
    assert decoded(world, world.d.config, "Config") == {
        **world.params.to_idl(), "quote_mint": world.d.quote_mint,
        "vault": world.d.vault, "vault_authority": world.d.vault_authority,
        "insurance_balance": 0, "perp_pool": 0, "perp_pool_reserved": 0, "protocol_fees": 0,
        "paused": False,
        "bump": bump(pid, b"config"), "vault_bump": bump(pid, b"vault"),
    }


def test_market_shares_and_vote_decode(world: World, creator: User) -> None:
    pid, p = world.d.program_id, world.params
    created_at = world.chain.now()
    market = world.propose(creator, trading_secs=10 * 86_400)
    voter = world.user()
    stake = p.min_vote_stake
    world.vote(market, voter, False, stake)
    vote = world.d.vote(market, VOTE_PROPOSAL, voter.key)
    assert decoded(world, vote, "Vote") == {
        "market": market, "voter": voter.key, "stake": stake, "kind": VOTE_PROPOSAL,
        "choice": 0,
        "bump": bump(pid, b"vote", bytes(market), bytes([VOTE_PROPOSAL]), bytes(voter.key)),
    }
    likes = p.proposal_quorum  # 3 of 4 = 75% >= 70%
    world.vote(market, world.user(likes), True, likes)
    world.close_window(market)
    world.ok(world.client.approve_market(market))
    liquidity, amount = 5_000_000, 1_000_000
    world.ok(world.client.activate_market(creator.key, market, creator.token, liquidity),
             creator.kp)
    trader = world.user()
    world.ok(world.client.buy(trader.key, market, trader.token, YES, amount), trader.kp)

    fee = model.fee(amount, p.trade_fee_bps)
    shares, yes_r, no_r = model.buy(liquidity, liquidity, amount - fee)
    assert decoded(world, world.d.shares(market, trader.key), "Shares") == {
        "market": market, "owner": trader.key, "yes": shares, "no": 0,
        "bump": bump(pid, b"shares", bytes(market), bytes(trader.key)),
    }
    rules = {name: getattr(p, name) for name in (
        "proposal_window_secs", "dispute_window_secs", "dispute_vote_secs",
        "creator_resolve_secs", "creation_bond", "min_vote_stake", "proposal_quorum",
        "resolution_bond", "dispute_bond", "min_dispute_quorum", "proposal_approval_bps",
        "dispute_overturn_bps", "dispute_quorum_bps", "vote_slash_bps", "trade_fee_bps")}
    assert decoded(world, market, "Market") == {
        "id": 1, "creator": creator.key, "created_at": created_at,
        "proposal_ends_at": created_at + p.proposal_window_secs,
        "trading_ends_at": created_at + 10 * 86_400, "likes": likes, "dislikes": stake,
        "yes_reserve": yes_r, "no_reserve": no_r,
        "collateral": liquidity + amount - fee, "resolution_proposed_at": 0,
        "proposer": Pubkey.default(), "disputer": Pubkey.default(), "dispute_ends_at": 0,
        "agree": 0, "disagree": 0, "creation_bond_held": 0, "proposer_bond": 0,
        "disputer_bond": 0, "stake_held": likes + stake, "votes_open": 2, **rules,
        "state": 2, "proposed_outcome": 0, "final_outcome": 0, "overturned": False,
        "disputed": False,
        "bump": bump(pid, b"market", bytes(creator.key), (1).to_bytes(8, "little")),
        "question": QUESTION,
    }
    assert decoded(world, world.d.config, "Config")["protocol_fees"] == fee


# ---- events ---------------------------------------------------------------------------------
@dataclass
class RecordingWorld(World):
    """A world that keeps the result of every transaction it sends."""

    results: list[TxResult] = field(default_factory=list)

    def send(self, ix: Instruction | Sequence[Instruction], *signers: Keypair) -> TxResult:
        result = super().send(ix, *signers)
        self.results.append(result)
        return result


@dataclass
class Life:
    """A rejected proposal, a market traded, disputed, overturned and paid out, and a perp
    market with a position opened, funded, closed, reopened and liquidated."""

    world: RecordingWorld
    rejected: Pubkey
    market: Pubkey
    disputer: User

    def events(self) -> Iterator[Event]:
        """Every event of every transaction, parsed again from the logs by anchorpy."""
        parser = EventParser(self.world.chain.program_id, self.world.chain.program.coder)
        for result in self.world.results:
            parsed: list[Event] = []
            parser.parse_logs(result.logs, parsed.append)
            data_logs = [log for log in result.logs if log.startswith("Program data: ")]
            assert len(parsed) == len(data_logs), result.logs  # nothing left undecoded
            yield from parsed

    def first(self, name: str) -> Any:
        return next(e.data for e in self.events() if e.name == name)


@pytest.fixture(scope="module")
def life() -> Life:
    base = deploy_world()
    world = RecordingWorld(**{f.name: getattr(base, f.name) for f in fields(World)})
    creator = world.user()
    rejected = world.propose(creator)
    stake = world.params.min_vote_stake
    for approve in (True, False, False):
        world.vote(rejected, world.user(stake), approve, stake)
    world.chain.set_time(world.market(rejected).proposal_ends_at)
    world.ok(world.client.reject_market(rejected))

    q = DISPUTE_STAKE
    market, disputer, traders, held, voters = dispute_and_vote(world, creator, agree=[q, q],
                                                               disagree=[q, q, q])
    world.ok(world.client.finalize_market(market))
    world.ok(world.client.claim_bond(disputer.key, market, disputer.token), disputer.kp)
    for v in voters:
        world.ok(world.client.claim_vote(v.key, market, VOTE_DISPUTE, v.token), v.kp)
    pay_out(world, creator, market, traders, held, NO)
    alice = traders["alice"]
    world.ok(world.client.close_shares(alice.key, market), alice.kp)
    perp_life(world)
    council_life(world)
    return Life(world, rejected, market, disputer)


def council_life(world: World) -> None:
    """A proposal cancelled, one applied, a pause, and the insurance and pool (funded by
    perp_life) and the protocol fees taken out to the treasury."""
    admin, treasury = world.admin, world.params.treasury
    world.ok(world.client.propose_config(admin.pubkey(), world.params), admin)
    world.ok(world.client.cancel_config(admin.pubkey()), admin)
    world.ok(world.client.propose_config(admin.pubkey(), world.params), admin)
    world.chain.advance(world.params.config_delay_secs)
    world.ok(world.client.apply_config())
    world.ok(world.client.pause(admin.pubkey(), True), admin)
    config = world.config()
    for call, amount in ((world.client.withdraw_fees, config.protocol_fees),
                         (world.client.withdraw_insurance, config.insurance_balance),
                         (world.client.withdraw_pool,
                          config.perp_pool - config.perp_pool_reserved)):
        if amount:
            world.ok(call(admin.pubkey(), treasury, amount), admin)


def perp_life(world: World) -> None:
    perp = open_perp(world)
    trader, liquidator = perp.trader(), world.user(0)
    perp.open(trader, LONG, 5_000_000)
    world.chain.advance(perp.params.funding_interval_secs)
    world.ok(perp.update_funding_ix())
    perp.close(trader)
    world.ok(world.client.withdraw(trader.key, perp.market, perp.oracle, trader.token, 1),
             trader.kp)
    perp.open(trader, LONG, 50_000_000)
    perp.set_price(PRICE * 4 // 5)
    world.ok(perp.liquidate_ix(liquidator, trader), liquidator.kp)
    left = world.chain.fetch(world.d.position(perp.market, trader.key)).collateral
    if left:
        world.ok(world.client.withdraw(trader.key, perp.market, perp.oracle, trader.token, left),
                 trader.kp)
    world.ok(world.client.close_position_account(trader.key, perp.market), trader.kp)


def test_every_event_is_emitted(life: Life) -> None:
    assert {e.name for e in life.events()} == {e["name"] for e in IDL["events"]}


def test_market_created_fields(life: Life) -> None:
    e = life.first("MarketCreated")
    assert (e.market, e.id, e.question) == (life.rejected, 1, QUESTION)
    assert e.proposal_ends_at == e.created_at + life.world.params.proposal_window_secs
    assert e.trading_ends_at == e.created_at + 7 * 86_400


def test_dispute_event_fields(life: Life) -> None:
    p = life.world.params
    disputed = life.first("MarketDisputed")
    proposed = life.first("ResolutionProposed")
    assert (disputed.market, disputed.disputer, disputed.bond) == (
        life.market, life.disputer.key, p.dispute_bond)
    assert (proposed.market, proposed.outcome) == (life.market, YES)
    assert proposed.dispute_deadline == proposed.resolution_proposed_at + p.dispute_window_secs
    assert disputed.dispute_ends_at - p.dispute_vote_secs >= proposed.resolution_proposed_at
    finalized = life.first("MarketFinalized")
    assert (finalized.market, finalized.outcome, finalized.overturned,
            finalized.agree, finalized.disagree) == (life.market, NO, True, 2 * DISPUTE_STAKE,
                                                     3 * DISPUTE_STAKE)
    assert (finalized.proposer_bond, finalized.disputer_bond) == (
        0, p.dispute_bond + p.resolution_bond)
    voted = [e.data for e in life.events() if e.name == "DisputeVoted"]
    assert [(v.agree_total // DISPUTE_STAKE, v.disagree_total // DISPUTE_STAKE)
            for v in voted] == [(1, 0), (2, 0), (2, 1), (2, 2), (2, 3)]


def test_dispute_votes_are_claimed_and_closed(life: Life) -> None:
    claimed = [e.data for e in life.events() if e.name == "VoteClaimed"]
    assert [c.kind for c in claimed] == [VOTE_DISPUTE] * 5
    for c in claimed:
        assert life.world.chain.fetch(life.world.d.vote(life.market, c.kind, c.voter)) is None
    # the agree side lost: each of its two voters gave up the slash
    slash = -(-DISPUTE_STAKE * life.world.params.vote_slash_bps // 10_000)
    assert [c.amount for c in claimed if c.choice == 1] == [DISPUTE_STAKE - slash] * 2


# ---- errors ---------------------------------------------------------------------------------
def test_error_codes_are_unique_from_6000() -> None:
    codes = [e["code"] for e in IDL["errors"]]
    names = [e["name"] for e in IDL["errors"]]
    assert codes == list(range(6000, 6000 + len(codes)))
    assert len(set(names)) == len(names)


def test_c_error_header_matches_idl() -> None:
    header = (ROOT / "program/src/generated/errors.h").read_text()
    in_c = {name: int(code) for name, code in re.findall(r"ERR_(\w+) = (\d+),", header)}
    upper_snake = {re.sub(r"(?<!^)(?=[A-Z])", "_", e["name"]).upper(): e["code"]
                   for e in IDL["errors"]}
    assert in_c == upper_snake

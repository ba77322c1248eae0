"""Compute units of every instruction, measured on LiteSVM: `make bench-cu`.

Runs each instruction through a prediction market's life and a perp market's (the costly
path where there is one: a buy that creates the trader's Shares, a claim of a winning dispute
vote, a withdraw that checks the margin of an open position, a liquidation that pays its
liquidator) and prints one table.

An instruction that creates an account searches its canonical bump on chain, and every bump
tried beyond the first costs exactly 1,500 CU (the syscall's price); how many are tried
depends on the address. The figures are those of a bump found at the first try, which makes
them the same on every run: add 1,500 CU per further try (half of all addresses need none, a
quarter one, an eighth two...).
`--write` records the figures in program/compute_units.json, the budget that a test holds
the program to and that keepers size their compute-unit limits from, and in the README's table.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from bench.report import BenchResult, Figure, write_result
from chain.price_update import PriceUpdate
from chain.pyth import price_account
from program.addresses import BPF_LOADER_UPGRADEABLE
from program.client import NO_FEED, RECEIVER_PROGRAM, OracleKind, PerpMarketParams
from program.local import PYTH_PROGRAM, LocalProtocol
from program.svm import TxResult

ROOT = Path(__file__).resolve().parent.parent
BUDGET_PATH = ROOT / "program" / "compute_units.json"
README_PATH = ROOT / "README.md"
README_START, README_END = "<!-- cu-table -->\n", "<!-- /cu-table -->\n"
# Issue targets: every instruction at or under its own, or under the default.
TARGET_CU_DEFAULT = 15_000
TARGET_CU: dict[str, int] = {
    "open_position": 12_000,
    "close_position": 12_000,
    "liquidate": 10_000,
}
# What sol_try_find_program_address charges for each bump it tries.
CU_PER_BUMP_TRY = 1_500
NO, YES = 0, 1
LONG, SHORT = 1, 2


# The rows of the instructions that read a PriceUpdateV2 market's oracle end so; their
# targets are the instruction's own.
V2_SUFFIX = " (PriceUpdateV2)"
V2_FEED = bytes(range(1, 33))


def target_cu(name: str) -> int:
    return TARGET_CU.get(name.removesuffix(V2_SUFFIX), TARGET_CU_DEFAULT)


def extra_bump_tries(seeds: list[bytes], program_id: Pubkey) -> int:
    """Bumps the on-chain search tries before the canonical one (it counts down from 255)."""
    return 255 - Pubkey.find_program_address(seeds, program_id)[1]


def measure() -> dict[str, int]:
    """The compute units of each instruction (the largest seen where it ran more than once)."""
    p = LocalProtocol.deploy(initialize=False)
    chain, c = p.chain, p.client
    cu: dict[str, int] = {}

    pid = p.d.program_id

    def record(name: str, result: TxResult, creates: list[list[bytes]]) -> None:
        if not result.ok:
            raise RuntimeError(f"{name} failed: {result.error}\n" + "\n".join(result.logs))
        extra = sum(extra_bump_tries(seeds, pid) for seeds in creates)
        cu[name] = max(cu.get(name, 0), result.compute_units - CU_PER_BUMP_TRY * extra)

    def run(name: str, ix: Instruction, *signers: Keypair,
            creates: list[list[bytes]] | None = None) -> None:
        record(name, chain.send([ix], signers), creates or [])

    # initialize also searches the ProgramData address (under the loader, not this program)
    program_data_tries = 255 - Pubkey.find_program_address([bytes(pid)],
                                                          BPF_LOADER_UPGRADEABLE)[1]
    init = p.initialize()
    record("initialize", replace(init, compute_units=init.compute_units
                                 - CU_PER_BUMP_TRY * program_data_tries),
           [[b"vault"], [b"config"]])
    # the timelock: a proposal (the first creates PendingConfig), a cancel, one applied
    run("propose_config", c.propose_config(p.admin.pubkey(), p.params), p.admin,
        creates=[[b"pending_config"]])
    run("cancel_config", c.cancel_config(p.admin.pubkey()), p.admin)
    run("propose_config", c.propose_config(p.admin.pubkey(), p.params), p.admin)
    chain.set_time(chain.now() + p.params.config_delay_secs)
    run("apply_config", c.apply_config())
    run("pause", c.pause(p.admin.pubkey(), False), p.admin)

    creator, alice, bob = p.user(), p.user(), p.user()
    ends = chain.now() + 7 * 86_400
    stake = p.params.proposal_quorum

    def vote_seeds(market: Pubkey, kind: int, voter: Pubkey) -> list[list[bytes]]:
        return [[b"vote", bytes(market), bytes([kind]), bytes(voter)]]

    def proposal(market_id: int, approve: bool) -> list[Keypair]:
        # the longest question allowed: 200 bytes
        run("create_market", c.create_market(creator.key, market_id, "Will it happen? " * 12
                                             + "Yes?", ends, creator_token=creator.token),
            creator.kp, creates=[[b"market", bytes(creator.key), market_id.to_bytes(8, "little")]])
        market = p.d.market(creator.key, market_id)
        voters = [p.user(stake) for _ in range(3)]
        for voter in voters:
            run("vote_proposal", c.vote_proposal(voter.key, market, approve, stake=stake,
                                                 voter_token=voter.token), voter.kp,
                creates=vote_seeds(market, 0, voter.key))
        return [v.kp for v in voters]

    proposal(1, True)
    market = p.d.market(creator.key, 1)
    proposal(2, False)
    chain.set_time(chain.now() + p.params.proposal_window_secs)
    run("approve_market", c.approve_market(market))
    run("reject_market", c.reject_market(p.d.market(creator.key, 2)))

    run("activate_market", c.activate_market(creator.key, market, creator.token, 10**9),
        creator.kp)
    for trader in (alice, bob):
        run("buy (first, creates Shares)", c.buy(trader.key, market, trader.token, YES, 10**8),
            trader.kp, creates=[[b"shares", bytes(market), bytes(trader.key)]])
    run("buy", c.buy(alice.key, market, alice.token, NO, 10**8), alice.kp)
    run("buy", c.buy(bob.key, market, bob.token, NO, 3 * 10**8), bob.kp)
    shares = chain.fetch(p.d.shares(market, alice.key))
    run("sell", c.sell(alice.key, market, alice.token, YES, shares.yes // 2), alice.kp)

    chain.set_time(ends)
    run("propose_resolution", c.propose_resolution(creator.key, market, YES,
                                                   proposer_token=creator.token), creator.kp)
    run("dispute", c.dispute(bob.key, market, bob.token), bob.kp)
    dispute_voters = [p.user(10**8) for _ in range(3)]
    for voter in dispute_voters:
        run("vote_dispute", c.vote_dispute(voter.key, market, False, stake=10**8,
                                           voter_token=voter.token), voter.kp,
            creates=vote_seeds(market, 1, voter.key))
    chain.set_time(ends + p.params.dispute_vote_secs)
    run("finalize_market", c.finalize_market(market))
    run("claim_bond", c.claim_bond(bob.key, market, bob.token), bob.kp)
    # a winning dispute vote: the costliest claim (its share of the slashed pool)
    voter = dispute_voters[0]
    run("claim_vote", c.claim_vote(voter.key, market, 1, voter.token), voter.kp)
    run("redeem", c.redeem(alice.key, market, alice.token), alice.kp)
    run("close_shares", c.close_shares(alice.key, market), alice.kp)
    run("withdraw_liquidity", c.withdraw_liquidity(creator.key, market, creator.token),
        creator.kp)

    cu.update(measure_perps(p))
    for name, units in measure_perps(p, OracleKind.PRICE_UPDATE_V2, perp_market_id=2).items():
        cu[name] = max(cu.get(name, 0), units)
    return cu


def measure_perps(p: LocalProtocol, kind: OracleKind = OracleKind.PYTH_LEGACY,
                  perp_market_id: int = 1) -> dict[str, int]:
    """The perp instructions' compute units: a long and a short, funding, a withdraw with the
    position open, a close, a liquidation (and one of bad debt, whose reward insurance pays),
    a Position account closed, and pool and insurance paid to the treasury. On a market of
    oracle `kind`: for PriceUpdateV2 the instructions that read the oracle are rows of their
    own (V2_SUFFIX)."""
    chain, c, pid = p.chain, p.client, p.d.program_id
    cu: dict[str, int] = {}
    v2 = kind == OracleKind.PRICE_UPDATE_V2
    reads_oracle = {"create_perp_market", "open_position", "update_funding", "withdraw",
                    "close_position", "liquidate"}

    def run(name: str, ix: Instruction, *signers: Keypair,
            creates: list[list[bytes]] | None = None) -> None:
        if v2 and name in reads_oracle:
            name += V2_SUFFIX
        result = chain.send([ix], signers)
        if not result.ok:
            raise RuntimeError(f"{name} failed: {result.error}\n" + "\n".join(result.logs))
        extra = sum(extra_bump_tries(seeds, pid) for seeds in creates or [])
        cu[name] = max(cu.get(name, 0), result.compute_units - CU_PER_BUMP_TRY * extra)

    alice, bob, carol, keeper = p.user(), p.user(), p.user(), p.user()
    admin_token = chain.create_token_account(p.d.quote_mint, p.admin.pubkey())
    chain.mint_to(p.d.quote_mint, admin_token, 2 * 10**12)
    oracle = Keypair().pubkey()

    def set_price(price_e6: int) -> None:
        slot = chain.svm.get_clock().slot
        if v2:
            update = PriceUpdate(feed_id=V2_FEED, price=price_e6 * 100, conf=0, exponent=-8,
                                 publish_time=chain.now(), posted_slot=slot)
            chain.set_account(oracle, update.encode(), RECEIVER_PROGRAM)
        else:
            chain.set_account(oracle, price_account(price_e6, slot=slot).encode(), PYTH_PROGRAM)

    set_price(100_000_000)
    params = PerpMarketParams()
    run("create_perp_market", c.create_perp_market(
        p.admin.pubkey(), perp_market_id, oracle, params, oracle_kind=kind,
        feed_id=V2_FEED if v2 else NO_FEED),
        p.admin, creates=[[b"perp", perp_market_id.to_bytes(8, "little")]])
    perp = p.d.perp_market(perp_market_id)
    run("fund_pool", c.fund_pool(p.admin.pubkey(), admin_token, 10**12), p.admin)
    run("fund_insurance", c.fund_insurance(p.admin.pubkey(), admin_token, 10**11), p.admin)
    for trader in (alice, bob, carol):
        run("deposit (first, creates Position)", c.deposit(trader.key, perp, trader.token,
                                                           20_000_000), trader.kp,
            creates=[[b"position", bytes(perp), bytes(trader.key)]])
        run("deposit", c.deposit(trader.key, perp, trader.token, 10_000_000), trader.kp)
    run("open_position", c.open_position(alice.key, perp, oracle, LONG, 2_000_000, 2**64 - 1),
        alice.kp)
    run("open_position", c.open_position(bob.key, perp, oracle, SHORT, 1_000_000, 0), bob.kp)
    run("open_position", c.open_position(carol.key, perp, oracle, SHORT, 1_000_000, 0),
        carol.kp)
    chain.set_time(chain.fetch(perp).last_funding_ts + params.funding_interval_secs)
    set_price(100_000_000)  # published now: a PriceUpdateV2 is judged by its age in seconds
    run("update_funding", c.update_funding(perp, oracle))
    # with the position open, so that the margin check at the oracle price runs
    run("withdraw", c.withdraw(alice.key, perp, oracle, alice.token, 1_000_000), alice.kp)
    set_price(120_000_000)
    run("close_position", c.close_position(alice.key, perp, oracle, 0), alice.kp)
    set_price(125_000_000)  # the short's equity falls below maintenance, above the penalty
    run("liquidate", c.liquidate(keeper.key, perp, p.d.position(perp, bob.key), oracle,
                                 keeper.token), keeper.kp)
    set_price(200_000_000)  # bad debt: insurance pays it and the liquidator's reward
    run("liquidate", c.liquidate(keeper.key, perp, p.d.position(perp, carol.key), oracle,
                                 keeper.token), keeper.kp)
    run("close_position_account", c.close_position_account(carol.key, perp), carol.kp)

    # ---- the treasury: what trading, the pool and insurance left, out to config.treasury
    config = chain.fetch(p.d.config)
    for name, amount in (("withdraw_fees", config.protocol_fees),
                         ("withdraw_pool", config.perp_pool - config.perp_pool_reserved),
                         ("withdraw_insurance", config.insurance_balance)):
        run(name, getattr(c, name)(p.admin.pubkey(), p.params.treasury, amount), p.admin)
    return cu


def load_budget() -> dict[str, int]:
    budget: dict[str, int] = json.loads(BUDGET_PATH.read_text())
    return budget


def readme_table(budget: dict[str, int]) -> str:
    rows = ["| instruction | compute units |", "|---|---:|"]
    rows += [f"| `{name}` | {units:,} |" for name, units in budget.items()]
    return "\n".join(rows) + "\n"


def readme_with_table(readme: str, budget: dict[str, int]) -> str:
    """The README with the table between its markers replaced by `budget`'s."""
    head, rest = readme.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    return head + README_START + readme_table(budget) + README_END + tail


def table(cu: dict[str, int], budget: dict[str, int]) -> str:
    rows = ["| instruction | compute units | budget | target |", "|---|---:|---:|---:|"]
    for name, units in cu.items():
        rows.append(f"| `{name}` | {units:,} | {budget.get(name, 0):,} | ≤ {target_cu(name):,} |")
    return "\n".join(rows)


def result(cu: dict[str, int], budget: dict[str, int]) -> BenchResult:
    """The figures in bench/report.py's shape: each instruction's compute units against the
    recorded budget (program/compute_units.json) as its baseline, not a same-run measure: the
    program has no naive twin to run beside it."""
    return BenchResult("cu", [Figure.of(name, units, "CU", baseline=budget.get(name),
                                        target=target_cu(name), target_op="<=")
                              for name, units in cu.items()],
                       {"baseline": f"the budget in {BUDGET_PATH.name}"})


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.cu", description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true",
                        help=f"record the figures in {BUDGET_PATH.name}")
    args = parser.parse_args(argv)
    cu = measure()
    if args.write:
        BUDGET_PATH.write_text(json.dumps(cu, indent=2) + "\n")
        README_PATH.write_text(readme_with_table(README_PATH.read_text(), cu))
    budget = load_budget() if BUDGET_PATH.exists() else {}
    print(table(cu, budget))
    write_result(result(cu, budget))
    over = [f"{name} ({units:,} > {target_cu(name):,})" for name, units in cu.items()
            if units > target_cu(name)]
    if over:
        print(f"over the CU target: {', '.join(over)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

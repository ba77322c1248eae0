"""The demo's seeding at the benchmarks' sizes: the admin is funded for as many traders as
asked (its genesis balance pays for a few thousand), and a seeding failure is one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from solders.keypair import Keypair
from solders.system_program import TransferParams, transfer

from chain.localnet import run_localnet
from chain.localnet.seed import (
    ADMIN_RESERVE_LAMPORTS,
    TRADER_LAMPORTS,
    Seeder,
    airdrop_needed,
    traders_cost,
)
from demo import run as demo_run
from demo.run import DemoOptions, SeedingFailed, seed_scenario
from demo.scenario import (
    DEMO_PARAMS,
    PERP_PARAMS,
    POOL,
    START_PRICE,
    demo_params,
    perp_market_for,
    position_specs,
)
from demo.servers import free_port_pair
from program.client import PERP_MAX_OPEN_INTEREST
from program.svm import TOKEN_ACCOUNT_LEN
from workers import cli

LAMPORTS_PER_SOL = 10**9
RENT = 2_039_280  # a token account's rent exemption


def test_the_cost_of_traders_counts_their_sol_rent_and_fees() -> None:
    assert traders_cost(0, RENT) == 0
    assert traders_cost(5, RENT) == 5 * (TRADER_LAMPORTS + RENT) + 5_000
    assert traders_cost(6, RENT) == 6 * (TRADER_LAMPORTS + RENT) + 2 * 5_000
    # the demo at a million positions: 1,000,000 traders, beyond the genesis' 100 SOL
    million = traders_cost(1_000_000, RENT)
    assert million > 20_000 * LAMPORTS_PER_SOL
    assert airdrop_needed(100 * LAMPORTS_PER_SOL, million) == (
        million + ADMIN_RESERVE_LAMPORTS - 100 * LAMPORTS_PER_SOL)
    assert airdrop_needed(million + ADMIN_RESERVE_LAMPORTS, million) == 0


async def test_traders_beyond_the_admins_balance_are_funded() -> None:
    """The old failure ("Transfer: insufficient lamports"), on a small scale: the admin
    keeps less than the traders cost and is funded by the faucet."""
    async with run_localnet(free_port_pair()) as net:
        seeder = await Seeder.connect(net.url, net.keys_dir)
        try:
            admin = seeder.admin.pubkey()
            balance = (await seeder.client.get_balance(admin)).value
            await seeder.send([transfer(TransferParams(
                from_pubkey=admin, to_pubkey=Keypair().pubkey(),
                lamports=balance - LAMPORTS_PER_SOL))], seeder.admin)
            rent = (await seeder.client.get_minimum_balance_for_rent_exemption(
                TOKEN_ACCOUNT_LEN)).value
            count = 60
            assert traders_cost(count, rent) > LAMPORTS_PER_SOL  # more than the admin has
            wallets = await seeder.traders(count, 1_000)
            for wallet in (wallets[0], wallets[-1]):
                assert (await seeder.client.get_balance(wallet.key)).value == TRADER_LAMPORTS
            assert (await seeder.client.get_balance(admin)).value >= ADMIN_RESERVE_LAMPORTS
        finally:
            await seeder.close()


async def test_what_a_seeding_send_did_is_confirmed_when_it_returns() -> None:
    """Each send returns only once its transaction is confirmed: what depends on it (read at
    confirmed, as the seeder's client reads) sees it. solana-py confirms to the preflight's
    commitment, processed, which came back a slot too early (at a validator's 400 ms slots,
    most of the time)."""
    async with run_localnet(free_port_pair(), slot_seconds=0.4) as net:
        seeder = await Seeder.connect(net.url, net.keys_dir)
        try:
            to = Keypair().pubkey()
            for sent in range(1, 5):
                await seeder.send([transfer(TransferParams(
                    from_pubkey=seeder.admin.pubkey(), to_pubkey=to, lamports=1_000_000))],
                    seeder.admin)
                assert (await seeder.client.get_balance(to)).value == sent * 1_000_000
        finally:
            await seeder.close()


async def test_a_seeding_failure_is_one_line_naming_what_failed(tmp_path: Path) -> None:
    """A seeder whose admin is not the protocol's: the program refuses the first config
    change, with its logs; the demo says so in one line."""
    async with run_localnet(free_port_pair()) as net:
        seeder = await Seeder.connect(net.url, net.keys_dir)
        seeder.admin = Keypair()
        await seeder.client.request_airdrop(seeder.admin.pubkey(), 100 * LAMPORTS_PER_SOL)
        said: list[str] = []
        try:
            with pytest.raises(SeedingFailed) as failed:
                await seed_scenario(seeder, net.url, [Keypair().pubkey()],
                                    DemoOptions(data=tmp_path, positions_per_market=1),
                                    said.append)
        finally:
            await seeder.close()
    message = str(failed.value)
    assert message.startswith("seeding failed: ") and "\n" not in message, message
    assert "Program log" not in message and len(message) < 300, message


def test_the_demo_prints_a_seeding_failure_as_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    async def fails(options: DemoOptions, say: object) -> int:
        raise SeedingFailed("seeding failed: funding 20,000 traders failed: insufficient funds")

    monkeypatch.setattr(demo_run, "run_demo", fails)
    assert cli.main(["demo", "--data", str(tmp_path), "--positions", "10000"]) == 1
    err = capsys.readouterr().err
    assert err == ("keepernet demo: seeding failed: funding 20,000 traders failed: "
                   "insufficient funds\n")


def test_the_demo_takes_the_benchmarks_sizes() -> None:
    """A million positions: half a million on each of the demo's two perp markets."""
    assert cli.parser().parse_args(["demo", "--positions", "500000"]).positions == 500_000


def test_the_perp_markets_hold_the_benchmarks_books() -> None:
    """At half a million positions a market the default open interest cap and pool are too
    small; each is raised to what the largest positions would need, the cap no higher than
    the program takes (create_perp_market refuses more)."""
    for positions in (100, 50_000, 500_000):
        specs = position_specs(positions, 7)
        params, pool = perp_market_for(positions)
        assert params.max_open_interest <= PERP_MAX_OPEN_INTEREST
        for side in (1, 2):
            assert sum(s.size for s in specs if s.side == side) <= params.max_open_interest
        assert sum(s.size * START_PRICE // 10**6 for s in specs) <= pool
    assert perp_market_for(100) == (PERP_PARAMS, POOL)


def test_the_demos_prices_stay_fresh_as_long_at_any_slot_time() -> None:
    assert demo_params(0.4) == DEMO_PARAMS
    fast = demo_params(0.05)  # the tests' slots
    assert (fast.max_open_staleness_slots, fast.max_oracle_staleness_slots) == (
        8 * DEMO_PARAMS.max_open_staleness_slots, 8 * DEMO_PARAMS.max_oracle_staleness_slots)

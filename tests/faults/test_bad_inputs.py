"""Bad operator input and bad configuration, as an operator meets them: each `keepernet`
command below is a real process that must refuse with exit status 2 and a message naming what
is wrong — before it touches anything (nothing listens at the URLs of the base settings, so a
command that got past its checks would fail differently)."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

from solders.keypair import Keypair

from demo.servers import free_port_pair
from tests.support.keepers import keeper_env, keypair_file

PROGRAM_ID = str(Keypair().pubkey())


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]
    says: str
    env: tuple[tuple[str, str], ...] = ()
    keypair_mode: int = 0o600


CASES = [
    # operator input
    Case(("enqueue", "nosuchjob"), "unknown job 'nosuchjob': one of index_events"),
    Case(("enqueue", "tally_votes"), "tally_votes takes one argument, the Market's address"),
    Case(("enqueue", "index_events", "x"), "index_events takes no argument, but got 1"),
    Case(("enqueue", "update_funding", "not-base58!"), "not a base58 public key: 'not-base58!'"),
    Case(("enqueue", "scan_positions", "a", "b"), "takes at most one argument"),
    Case(("worker", "nosuchrole"), "unknown role 'nosuchrole'"),
    Case(("localnet", "--port", "70000"), "keepernet localnet: error: argument --port: port must "
         "be between 1 and 65534, not 70000"),
    Case(("localnet",), "keepernet localnet: KEEPERNET_LOCALNET_SLOT_MS must be milliseconds > 0, "
         "not 'fast'", env=(("KEEPERNET_LOCALNET_SLOT_MS", "fast"),)),
    Case(("localnet",), "keepernet localnet: KEEPERNET_LOCALNET_FINALIZE_SLOTS must be a whole "
         "number of slots >= 1, not '0'", env=(("KEEPERNET_LOCALNET_FINALIZE_SLOTS", "0"),)),
    Case(("prices", "--oracle", "nope", "--scenario", "walk"),
         "keepernet prices: error: argument --oracle: not a base58 public key: 'nope'"),
    Case(("demo", "--positions", "0"), "must be between 1 and 500000, not 0"),
    Case(("demo", "--duration", "-5"), "must be greater than 0"),
    # configuration
    Case(("worker", "liquidator"), "KEEPERNET_RPC_URLS (TOML rpc) from the environment: ",
         env=(("KEEPERNET_RPC_URLS", "ftp://nowhere"),)),
    Case(("worker", "indexer"), "not a PostgreSQL URL",
         env=(("KEEPERNET_DATABASE_URL", "mysql://db/x"),)),
    Case(("worker", "funding"), "not a base58 public key: 'not-a-key'",
         env=(("KEEPERNET_PROGRAM_ID", "not-a-key"),)),
    Case(("worker", "governance"), "must be between 0 and 65535, not 70000",
         env=(("KEEPERNET_METRICS_PORT", "70000"),)),
    Case(("worker", "liquidator"), "not a Redis URL",
         env=(("KEEPERNET_REDIS_URL", "localhost:6379"),)),
    Case(("worker", "liquidator"), "must be greater than 0, not 0",
         env=(("KEEPERNET_TIMEOUT_LIQUIDATE_POSITION_S", "0"),)),
    Case(("worker", "liquidator"), "chmod 600", keypair_mode=0o644),
    Case(("status",), "KEEPERNET_CU_PRICE_PERCENTILE",
         env=(("KEEPERNET_CU_PRICE_PERCENTILE", "101"),)),
    Case(("enqueue", "index_events"), "KEEPERNET_SCAN_INTERVAL_S",
         env=(("KEEPERNET_SCAN_INTERVAL_S", "soon"),)),
]


def base_env(keypair: Path) -> dict[str, str]:
    """Valid settings pointing at servers that are not there."""
    nowhere = free_port_pair()
    return keeper_env(rpc_urls=f"http://127.0.0.1:{nowhere}",
                      database_url=f"postgresql://keeper@127.0.0.1:{nowhere}/keepernet",
                      redis_url=f"redis://127.0.0.1:{nowhere}/0", program_id=PROGRAM_ID,
                      keypair=keypair)


async def refusal(case: Case, folder: Path) -> tuple[int | None, str, str]:
    folder.mkdir()
    keypair = keypair_file(Keypair(), folder)
    keypair.chmod(case.keypair_mode)
    env = {**base_env(keypair), **dict(case.env)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "workers.cli", *case.argv, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    return process.returncode, out.decode(), err.decode()


async def test_each_bad_input_is_refused_with_its_message_and_status_2(tmp_path: Path) -> None:
    limit = asyncio.Semaphore(4)

    async def run(i: int, case: Case) -> tuple[int | None, str, str]:
        async with limit:
            return await refusal(case, tmp_path / str(i))

    results = await asyncio.gather(*(run(i, c) for i, c in enumerate(CASES)))
    wrong = [(case.argv, dict(case.env), status, err.strip()[-300:])
             for case, (status, out, err) in zip(CASES, results, strict=True)
             if status != 2 or case.says not in err or out]
    assert not wrong, "\n".join(map(str, wrong))


async def test_a_refusal_never_prints_a_secret(tmp_path: Path) -> None:
    secret = "hunter2"
    case = Case(("worker", "indexer"), "not a PostgreSQL URL",
                env=(("KEEPERNET_DATABASE_URL", f"mysql://keeper:{secret}@db/x"),))
    status, out, err = await refusal(case, tmp_path / "a")
    assert status == 2 and case.says in err
    assert secret not in err and secret not in out

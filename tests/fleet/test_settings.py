"""The fleet's settings and the keeper's keypair file (pure: temporary files, no servers)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain.client import Endpoint
from chain.keys import KeypairError, load_keypair
from chain.sender import FeePolicy
from fleet.settings import (
    ENV_VARS,
    JobTimeouts,
    LiquidatorSettings,
    RedisSettings,
    SettingsError,
    load_settings,
)

PROGRAM = "Fg6PaFpoGXkYsidMpWTK6W2BeZ7FEfcYkg476zPFsLnS"
REWARD_TOKEN = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"
REQUIRED = {
    "KEEPERNET_RPC_URLS": "primary=http://127.0.0.1:8899",
    "KEEPERNET_DATABASE_URL": "postgresql://keeper@127.0.0.1:5432/keepernet",
    "KEEPERNET_PROGRAM_ID": PROGRAM,
}


def write_keypair(path: Path, mode: int = 0o600, keypair: Keypair | None = None) -> Keypair:
    keypair = keypair or Keypair()
    path.write_text(json.dumps(list(bytes(keypair))))
    path.chmod(mode)
    return keypair


def toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "keepernet.toml"
    path.write_text(text)
    return path


def refusal(env: dict[str, str], config: Path | None = None) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(config, env)
    return str(caught.value)


# --- defaults and sources ---------------------------------------------------------------------


def test_defaults_with_only_the_required_settings() -> None:
    s = load_settings(None, REQUIRED)
    assert s.rpc == (Endpoint("primary", "http://127.0.0.1:8899", 50.0),)
    assert s.database_url == REQUIRED["KEEPERNET_DATABASE_URL"]
    assert s.program_id == Pubkey.from_string(PROGRAM)
    assert s.keypair_path is None
    assert s.job_runs_retention_days == 30.0
    assert (s.rpc_timeout_s, s.rpc_deadline_s, s.ws_url, s.metrics_port) == (5.0, 20.0, None, 9400)
    assert s.rpc_batches == "auto"
    assert s.redis == RedisSettings("redis://127.0.0.1:6379/0", 2.0, 5.0, 5, 1.0)
    assert s.fees == FeePolicy()
    assert s.timeouts == JobTimeouts()
    assert s.liquidator == LiquidatorSettings(10.0, None, book_partitions=1,
                                              book_reconcile_s=300.0,
                                              price_commitment="confirmed")
    assert s.config_path is None


@pytest.mark.parametrize(("rpc", "ws"), [
    ("http://127.0.0.1:8899", "ws://127.0.0.1:8900"),
    ("https://rpc.example.com/key123", "wss://rpc.example.com/key123"),
    ("http://[::1]:9000/a?b=c", "ws://[::1]:9001/a?b=c"),
])
def test_the_websocket_url_follows_the_first_endpoint(rpc: str, ws: str) -> None:
    assert load_settings(None, {**REQUIRED, "KEEPERNET_RPC_URLS": rpc}).websocket_url() == ws
    given = {**REQUIRED, "KEEPERNET_RPC_URLS": rpc, "KEEPERNET_WS_URL": "wss://ws.example"}
    assert load_settings(None, given).websocket_url() == "wss://ws.example"


def test_the_process_environment_is_the_default_source(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KEEPERNET_METRICS_PORT", "9500")
    assert load_settings().metrics_port == 9500


def test_every_setting_from_the_environment(tmp_path: Path) -> None:
    key = tmp_path / "keeper.json"
    write_keypair(key)
    s = load_settings(None, {
        **REQUIRED,
        "KEEPERNET_RPC_URLS": "primary=https://a.example/k max_rps=100, https://b.example, "
                              "third=http://10.0.0.3:8899 max_rps=2.5",
        "KEEPERNET_RPC_TIMEOUT_S": "3", "KEEPERNET_RPC_DEADLINE_S": "12.5",
        "KEEPERNET_WS_URL": "wss://a.example/ws",
        "KEEPERNET_KEYPAIR": str(key),
        "KEEPERNET_METRICS_PORT": "9101",
        "KEEPERNET_REDIS_URL": "rediss://:pw@redis.example:6380/2",
        "KEEPERNET_REDIS_CONNECT_TIMEOUT_S": "1", "KEEPERNET_REDIS_SOCKET_TIMEOUT_S": "2",
        "KEEPERNET_REDIS_RETRIES": "0", "KEEPERNET_REDIS_RETRY_DELAY_S": "0.5",
        "KEEPERNET_REDIS_MAX_CONNECTIONS": "64",
        "KEEPERNET_JOB_RUNS_RETENTION_DAYS": "7.5",
        "KEEPERNET_CU_PRICE_MICRO_LAMPORTS": "5000", "KEEPERNET_CU_PRICE_PERCENTILE": "90",
        "KEEPERNET_CU_PRICE_CAP_MICRO_LAMPORTS": "200000", "KEEPERNET_CU_LIMIT_MARGIN": "1.5",
        "KEEPERNET_TIMEOUT_LIQUIDATE_POSITION_S": "7",
        "KEEPERNET_TIMEOUT_INDEX_EVENTS_S": "45",
        "KEEPERNET_SCAN_INTERVAL_S": "2",
        "KEEPERNET_RPC_BATCHES": "Off",
        "KEEPERNET_REWARD_TOKEN_ACCOUNT": REWARD_TOKEN,
        "KEEPERNET_BOOK_PARTITIONS": "256", "KEEPERNET_BOOK_RECONCILE_S": "0",
        "KEEPERNET_PRICE_COMMITMENT": "Processed",
        "KEEPERNET_PRICE_SOURCE": "Hermes",
        "KEEPERNET_HERMES_URL": "http://127.0.0.1:7070",
        "KEEPERNET_PULL_KEYS": str(tmp_path),
    })
    assert s.rpc == (Endpoint("primary", "https://a.example/k", 100.0),
                     Endpoint("rpc2", "https://b.example", 50.0),
                     Endpoint("third", "http://10.0.0.3:8899", 2.5))
    assert (s.rpc_timeout_s, s.rpc_deadline_s) == (3.0, 12.5)
    assert s.ws_url == "wss://a.example/ws"
    assert s.keypair_path == key
    assert s.metrics_port == 9101
    assert s.redis == RedisSettings("rediss://:pw@redis.example:6380/2", 1.0, 2.0, 0, 0.5, 64)
    assert s.job_runs_retention_days == 7.5
    assert s.fees == FeePolicy(5000, 90, 200_000, 1.5)
    assert s.timeouts == JobTimeouts(index_events=45.0, liquidate_position=7.0)
    assert s.timeouts.of("liquidate_position") == 7.0
    assert s.liquidator.scan_interval_s == 2.0
    assert s.rpc_batches == "off"
    assert s.liquidator.reward_token_account == Pubkey.from_string(REWARD_TOKEN)
    assert (s.liquidator.book_partitions, s.liquidator.book_reconcile_s) == (256, 0.0)
    assert s.liquidator.price_commitment == "processed"
    assert (s.prices.source, s.prices.hermes_url) == ("hermes", "http://127.0.0.1:7070")
    assert s.prices.pull_keys == tmp_path


FULL_TOML = f"""
program_id = "{PROGRAM}"
database_url = "postgresql://file@db.example/keepernet"
metrics_port = 9200
rpc_timeout_s = 4
job_runs_retention_days = 14

[[rpc]]
name = "main"
url = "https://main.example"
max_rps = 20

[[rpc]]
url = "https://spare.example"

[redis]
url = "redis+sentinel://s1.example,s2.example:26380/keepernet/1"
socket_timeout_s = 3.5
max_connections = 32

[fees]
percentile = 60
cap_micro_lamports = 50000

[timeouts]
update_funding = 12

[liquidator]
scan_interval_s = 4
reward_token_account = "{REWARD_TOKEN}"
book_partitions = 65536
book_reconcile_s = 600
"""


def test_settings_from_a_toml_file(tmp_path: Path) -> None:
    path = toml(tmp_path, FULL_TOML)
    s = load_settings(path, {})
    assert s.config_path == path
    assert s.rpc == (Endpoint("main", "https://main.example", 20.0),
                     Endpoint("rpc2", "https://spare.example", 50.0))
    assert s.database_url == "postgresql://file@db.example/keepernet"
    assert (s.metrics_port, s.rpc_timeout_s) == (9200, 4.0)
    assert s.redis == RedisSettings("redis+sentinel://s1.example,s2.example:26380/keepernet/1",
                                    socket_timeout_s=3.5, max_connections=32)
    assert s.job_runs_retention_days == 14.0
    assert s.fees == FeePolicy(None, 60, 50_000)
    assert s.timeouts.update_funding == 12.0
    assert s.liquidator.scan_interval_s == 4.0
    assert s.liquidator.reward_token_account == Pubkey.from_string(REWARD_TOKEN)
    assert (s.liquidator.book_partitions, s.liquidator.book_reconcile_s) == (65_536, 600.0)


def test_the_environment_overrides_the_file(tmp_path: Path) -> None:
    path = toml(tmp_path, FULL_TOML)
    s = load_settings(None, {
        "KEEPERNET_CONFIG": str(path),
        "KEEPERNET_METRICS_PORT": "9300",
        "KEEPERNET_RPC_URLS": "env=https://env.example",
        "KEEPERNET_REDIS_SOCKET_TIMEOUT_S": "9",
        "KEEPERNET_CU_PRICE_PERCENTILE": "",  # empty: unset, the file's value stands
    })
    assert s.metrics_port == 9300
    assert s.rpc == (Endpoint("env", "https://env.example"),)  # the whole list replaced
    assert s.redis == RedisSettings("redis+sentinel://s1.example,s2.example:26380/keepernet/1",
                                    socket_timeout_s=9.0, max_connections=32)
    assert s.fees.percentile == 60
    assert s.database_url == "postgresql://file@db.example/keepernet"


def test_the_argument_overrides_keepernet_config(tmp_path: Path) -> None:
    path = toml(tmp_path, FULL_TOML)
    s = load_settings(path, {"KEEPERNET_CONFIG": str(tmp_path / "elsewhere.toml")})
    assert s.config_path == path


# --- refusals ---------------------------------------------------------------------------------


def test_missing_required_settings_are_all_named() -> None:
    message = refusal({})
    assert "KEEPERNET_RPC_URLS (TOML rpc): missing" in message
    assert "KEEPERNET_DATABASE_URL (TOML database_url): missing" in message
    assert "KEEPERNET_PROGRAM_ID (TOML program_id): missing" in message
    assert "KEEPERNET_CONFIG" in message  # says where else it could come from


def test_missing_in_the_file_names_the_file(tmp_path: Path) -> None:
    path = toml(tmp_path, f'program_id = "{PROGRAM}"\n')
    message = refusal({"KEEPERNET_RPC_URLS": "a=http://x"}, path)
    assert message == ("KEEPERNET_DATABASE_URL (TOML database_url): missing: set it in the "
                       f"environment or in {path}")


@pytest.mark.parametrize(("name", "value", "problem"), [
    ("KEEPERNET_RPC_URLS", "primary=ftp://x.example",
     "not an RPC URL: the scheme must be http:// or https://, not 'ftp'"),
    ("KEEPERNET_RPC_URLS", "primary=https://", "not an RPC URL: it names no host"),
    ("KEEPERNET_RPC_URLS", "primary=http://x:99999", "not a valid RPC URL"),
    ("KEEPERNET_RPC_URLS", "a=http://x, a=http://y", "endpoint names must be unique: a"),
    ("KEEPERNET_RPC_URLS", "a=http://x,,b=http://y", "entry 2 is empty"),
    ("KEEPERNET_RPC_URLS", "a=http://x max_rps=-1", "entry 1 (a): must be greater than 0"),
    ("KEEPERNET_RPC_URLS", "a=http://x rps=3", "unknown option 'rps'"),
    ("KEEPERNET_RPC_URLS", "bad/name=http://x", "entry 1: the name must be"),
    ("KEEPERNET_RPC_URLS", "bad name=http://x", "entry 1: unknown option 'name'"),
    ("KEEPERNET_DATABASE_URL", "mysql://db/x",
     "not a PostgreSQL URL: the scheme must be postgresql:// or postgres://, not 'mysql'"),
    ("KEEPERNET_REDIS_URL", "localhost:6379", "not a Redis URL"),
    ("KEEPERNET_WS_URL", "http://x", "not a WebSocket URL"),
    ("KEEPERNET_PROGRAM_ID", "not-a-key", "not a base58 public key: 'not-a-key'"),
    ("KEEPERNET_PROGRAM_ID", "0OIl0OIl0OIl0OIl0OIl0OIl0OIl0OIl0OIl0OIl0OIl",
     "not a base58 public key"),
    ("KEEPERNET_METRICS_PORT", "70000", "must be between 0 and 65535, not 70000"),
    ("KEEPERNET_METRICS_PORT", "http", "not a whole number: 'http'"),
    ("KEEPERNET_REDIS_SOCKET_TIMEOUT_S", "-1", "must be greater than 0, not -1"),
    ("KEEPERNET_REDIS_SOCKET_TIMEOUT_S", "nan", "must be a finite number"),
    ("KEEPERNET_REDIS_RETRIES", "-2", "must not be negative, not -2"),
    ("KEEPERNET_REDIS_RETRY_DELAY_S", "-0.5", "must not be negative, not -0.5"),
    ("KEEPERNET_CU_PRICE_MICRO_LAMPORTS", "-5", "must not be negative, not -5"),
    ("KEEPERNET_CU_PRICE_PERCENTILE", "101", "must be between 0 and 100, not 101"),
    ("KEEPERNET_CU_PRICE_CAP_MICRO_LAMPORTS", "1.5", "not a whole number: '1.5'"),
    ("KEEPERNET_CU_LIMIT_MARGIN", "0.9", "must be at least 1"),
    ("KEEPERNET_TIMEOUT_SCAN_POSITIONS_S", "0", "must be greater than 0, not 0"),
    ("KEEPERNET_SCAN_INTERVAL_S", "soon", "not a number: 'soon'"),
    ("KEEPERNET_RPC_BATCHES", "sometimes", "must be one of auto, on, off, not 'sometimes'"),
    ("KEEPERNET_REWARD_TOKEN_ACCOUNT", "mine", "not a base58 public key: 'mine'"),
    ("KEEPERNET_PRICE_SOURCE", "oracle", "must be one of local, hermes, not 'oracle'"),
    ("KEEPERNET_PRICE_COMMITMENT", "finalized",
     "must be one of processed, confirmed, not 'finalized'"),
    ("KEEPERNET_HERMES_URL", "ftp://hermes.example", "not a Hermes URL"),
    ("KEEPERNET_PULL_KEYS", "/nonexistent/pull", "not a directory: '/nonexistent/pull'"),
    ("KEEPERNET_REDIS_MAX_CONNECTIONS", "0", "must be greater than 0, not 0"),
    ("KEEPERNET_JOB_RUNS_RETENTION_DAYS", "0", "must be greater than 0, not 0"),
    ("KEEPERNET_REDIS_URL", "redis+sentinel://:pw@s1:26379", "names no master"),
    ("KEEPERNET_REDIS_URL", "redis+sentinel:///mymaster", "names no sentinel"),
    ("KEEPERNET_REDIS_URL", "redis+sentinel://s1:port/m", "a sentinel's port must be a number"),
    ("KEEPERNET_REDIS_URL", "redis+sentinel://s1/m/zero", "database must be a whole number"),
])
def test_a_wrong_environment_value_names_the_setting(name: str, value: str,
                                                     problem: str) -> None:
    message = refusal({**REQUIRED, name: value})
    assert message.startswith(f"{name} (TOML ")
    assert "from the environment: " in message
    assert problem in message


def test_a_bad_url_is_never_quoted() -> None:
    message = refusal({**REQUIRED,
                       "KEEPERNET_RPC_URLS": "a=ftp://user:hunter2@x.example/?api-key=s3cret",
                       "KEEPERNET_DATABASE_URL": "mysql://u:hunter2@db/x"})
    assert "hunter2" not in message and "s3cret" not in message
    assert len(message.splitlines()) == 2  # both named at once


@pytest.mark.parametrize(("text", "problem"), [
    ("metrics_prot = 9100\n", "TOML metrics_prot in {path}: unknown key"),
    ("[redis]\nsockettimeout = 3\n", "TOML redis.sockettimeout in {path}: unknown key in [redis]"),
    ("[fees]\npercentil = 50\n", "TOML fees.percentil in {path}: unknown key in [fees]"),
    ("redis = 'redis://x'\n", "TOML redis in {path}: must be a table ([redis]), not a string"),
    ("[[rpc]]\nurl = 'http://x'\nmax_rpss = 5\n",
     "KEEPERNET_RPC_URLS (TOML rpc) from {path}: entry 1: unknown key 'max_rpss'"),
    ("[[rpc]]\nname = 'a'\n",
     "KEEPERNET_RPC_URLS (TOML rpc) from {path}: entry 1: missing its url"),
    ("[rpc]\nurl = 'http://x'\n", "must be an array of tables ([[rpc]]), not a table"),
    ("metrics_port = 9100.0\n",
     "KEEPERNET_METRICS_PORT (TOML metrics_port) from {path}: must be a whole number, not a float"),
    ("[timeouts]\ntally_votes = -3\n",
     "KEEPERNET_TIMEOUT_TALLY_VOTES_S (TOML timeouts.tally_votes) from {path}: "
     "must be greater than 0, not -3"),
    ("[liquidator]\nscan_interval_s = true\n", "must be a number, not a boolean"),
    ("[liquidator]\nbook_partitions = 16\n",
     "KEEPERNET_BOOK_PARTITIONS (TOML liquidator.book_partitions) from {path}: must be one of "
     "1, 256, 65536, not 16"),
    ("[liquidator]\nbook_reconcile_s = -1\n", "must not be negative, not -1"),
])
def test_a_wrong_file_names_the_key(tmp_path: Path, text: str, problem: str) -> None:
    path = toml(tmp_path, text)
    # the file's rpc counts only when the environment sets none
    env = {k: v for k, v in REQUIRED.items() if not (k.endswith("RPC_URLS") and "rpc" in text)}
    message = refusal(env, path)
    assert problem.format(path=path) in message


JOB_NAMES = ("INDEX_EVENTS", "SNAPSHOT_ACCOUNTS", "SCAN_POSITIONS", "LIQUIDATE_POSITION",
             "UPDATE_FUNDING", "POST_PRICE", "TALLY_VOTES", "FINALIZE_MARKET", "APPLY_CONFIG",
             "RECONCILE")


def test_the_variables_are_those_documented() -> None:
    documented = (
        "KEEPERNET_CONFIG", "KEEPERNET_RPC_URLS", "KEEPERNET_RPC_TIMEOUT_S",
        "KEEPERNET_RPC_DEADLINE_S", "KEEPERNET_RPC_BATCHES", "KEEPERNET_WS_URL",
        "KEEPERNET_DATABASE_URL",
        "KEEPERNET_JOB_RUNS_RETENTION_DAYS",
        "KEEPERNET_PROGRAM_ID", "KEEPERNET_KEYPAIR", "KEEPERNET_METRICS_PORT",
        "KEEPERNET_REDIS_URL", "KEEPERNET_REDIS_CONNECT_TIMEOUT_S",
        "KEEPERNET_REDIS_SOCKET_TIMEOUT_S", "KEEPERNET_REDIS_RETRIES",
        "KEEPERNET_REDIS_RETRY_DELAY_S", "KEEPERNET_REDIS_MAX_CONNECTIONS",
        "KEEPERNET_CU_PRICE_MICRO_LAMPORTS",
        "KEEPERNET_CU_PRICE_PERCENTILE", "KEEPERNET_CU_PRICE_CAP_MICRO_LAMPORTS",
        "KEEPERNET_CU_LIMIT_MARGIN", *(f"KEEPERNET_TIMEOUT_{job}_S" for job in JOB_NAMES),
        "KEEPERNET_SCAN_INTERVAL_S", "KEEPERNET_REWARD_TOKEN_ACCOUNT",
        "KEEPERNET_BOOK_PARTITIONS", "KEEPERNET_BOOK_RECONCILE_S",
        "KEEPERNET_PRICE_COMMITMENT",
        "KEEPERNET_PRICE_SOURCE", "KEEPERNET_HERMES_URL", "KEEPERNET_PULL_KEYS")
    assert documented == ENV_VARS


@pytest.mark.parametrize("name", ENV_VARS[1:])
def test_every_variable_is_read(name: str) -> None:
    message = refusal({**REQUIRED, name: "-1x"})
    assert message.startswith(f"{name} (TOML ")
    assert "from the environment: " in message


def test_the_environment_does_not_hide_a_table_that_is_not_one(tmp_path: Path) -> None:
    # merged key by key, the environment's [redis] would replace the file's string
    path = toml(tmp_path, "redis = 'redis://x'\n")
    message = refusal({**REQUIRED, "KEEPERNET_REDIS_URL": "redis://env"}, path)
    assert message == f"TOML redis in {path}: must be a table ([redis]), not a string"


def test_the_file_s_mistakes_come_first_in_its_order(tmp_path: Path) -> None:
    path = toml(tmp_path, "metrics_port = -1\nx = 1\nfees = 2\ny = 3\n[timeouts]\nq = 1\n")
    lines = refusal(REQUIRED, path).splitlines()
    assert [line.split(" in ")[0] for line in lines[:4]] == [
        "TOML x", "TOML fees", "TOML y", "TOML timeouts.q"]
    assert lines[4].startswith("KEEPERNET_METRICS_PORT (TOML metrics_port) from ")
    assert len(lines) == 5


def test_a_refusal_carries_no_value(tmp_path: Path) -> None:
    # pydantic's own error quotes every value it was given: it must not be chained
    with pytest.raises(SettingsError) as caught:
        load_settings(None, {**REQUIRED, "KEEPERNET_DATABASE_URL": "mysql://u:hunter2@db/x",
                             "KEEPERNET_METRICS_PORT": "-1"})
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert "hunter2" not in str(caught.value)


def test_an_unusable_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    assert refusal({"KEEPERNET_CONFIG": str(missing)}) == (
        f"KEEPERNET_CONFIG: config file {missing}: no such file")
    assert refusal(REQUIRED, missing) == f"config argument: config file {missing}: no such file"
    broken = toml(tmp_path, "program_id = \n")
    assert "not valid TOML (" in refusal(REQUIRED, broken)


# --- the keypair ------------------------------------------------------------------------------


def test_a_private_keypair_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "keeper.json"
    keypair = write_keypair(path, 0o600)
    assert load_keypair(path) == keypair
    assert load_keypair(path).pubkey() == keypair.pubkey()
    s = load_settings(None, {**REQUIRED, "KEEPERNET_KEYPAIR": str(path)})
    assert s.keypair().pubkey() == keypair.pubkey()
    read_only = tmp_path / "read-only.json"
    write_keypair(read_only, 0o400)
    load_keypair(read_only)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o610, 0o666])
def test_a_keypair_file_open_to_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "keeper.json"
    keypair = write_keypair(path, mode)
    with pytest.raises(KeypairError) as caught:
        load_keypair(path)
    message = str(caught.value)
    assert str(path) in message
    assert f"mode {mode:04o}" in message
    assert f"chmod 600 {path}" in message
    # and at start-up, before anything reads it
    message = refusal({**REQUIRED, "KEEPERNET_KEYPAIR": str(path)})
    assert message.startswith("KEEPERNET_KEYPAIR (TOML keypair) from the environment: ")
    assert f"chmod 600 {path}" in message
    assert str(list(bytes(keypair))[:8])[1:-1] not in message


@pytest.mark.parametrize("content", [
    "",
    "not json at all: secret-ish",
    "[1, 2, 3]",
    json.dumps([*range(64), 1]),
    json.dumps([256] * 64),
    json.dumps([True] * 64),
    json.dumps({"secret": list(range(64))}),
    "\xff\xfe garbage",
])
def test_a_malformed_keypair_file_is_refused_without_its_contents(tmp_path: Path,
                                                                  content: str) -> None:
    path = tmp_path / "keeper.json"
    path.write_text(content, encoding="latin-1")
    path.chmod(0o600)
    with pytest.raises(KeypairError) as caught:
        load_keypair(path)
    message = str(caught.value)
    assert message.startswith(f"keypair file {path}: not a keypair: expected a JSON array of 64")
    # no chained exception could show the contents either
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__
    if content:
        assert content not in message
    assert "secret-ish" not in message


def test_a_keypair_whose_halves_do_not_match_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keeper.json"
    a, b = Keypair(), Keypair()
    path.write_text(json.dumps(list(bytes(a)[:32] + bytes(b.pubkey()))))
    path.chmod(0o600)
    with pytest.raises(KeypairError, match="its last 32 bytes are not the public key"):
        load_keypair(path)


def test_a_missing_keypair(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.json"
    with pytest.raises(KeypairError, match="no such file"):
        load_keypair(path)
    message = refusal({**REQUIRED, "KEEPERNET_KEYPAIR": str(path)})
    assert message == (f"KEEPERNET_KEYPAIR (TOML keypair) from the environment: "
                       f"keypair file {path}: no such file")
    with pytest.raises(SettingsError, match=r"KEEPERNET_KEYPAIR \(TOML keypair\): missing"):
        load_settings(None, REQUIRED).keypair()


def test_a_keypair_made_public_after_start_up_is_refused_when_read(tmp_path: Path) -> None:
    path = tmp_path / "keeper.json"
    write_keypair(path)
    s = load_settings(None, {**REQUIRED, "KEEPERNET_KEYPAIR": str(path)})
    os.chmod(path, 0o644)
    with pytest.raises(SettingsError, match="chmod 600"):
        s.keypair()


# --- the repr ---------------------------------------------------------------------------------


def test_the_repr_holds_neither_the_key_nor_passwords(tmp_path: Path) -> None:
    path = tmp_path / "keeper.json"
    keypair = write_keypair(path)
    s = load_settings(None, {
        **REQUIRED,
        "KEEPERNET_KEYPAIR": str(path),
        "KEEPERNET_RPC_URLS": "paid=https://rpc.example/v2/apikey123?token=tok456",
        "KEEPERNET_WS_URL": "wss://rpc.example/v2/apikey123",
        "KEEPERNET_DATABASE_URL": "postgresql://keeper:dbpass@db.example:5432/kn?password=q1",
        "KEEPERNET_REDIS_URL": "redis://:redispass@redis.example:6379/0",
        "KEEPERNET_HERMES_URL": "https://user:hermespass@hermes.example/hermeskey?k=hq1",
    })
    s.keypair()  # reading it does not keep it
    shown = repr(s)
    secret = bytes(keypair)
    for leaked in (str(list(secret)), str(list(secret[:32]))[1:-1], path.read_text(),
                   str(keypair.secret()), "apikey123", "tok456", "dbpass", "q1", "redispass",
                   "hermespass", "hermeskey", "hq1"):
        assert leaked not in shown
    assert str(path) in shown
    assert "Endpoint(name='paid', url='https://rpc.example/…?…'" in shown
    assert "postgresql://keeper:***@db.example:5432/kn?…" in shown
    assert "redis://:***@redis.example:6379/0" in shown
    assert "hermes_url='https://user:***@hermes.example/…?…'" in shown
    assert str(keypair.pubkey()) not in shown  # nothing derived from the file either
    assert str(s) == shown


def test_a_sentinel_url_is_shown_without_its_password() -> None:
    s = load_settings(None, {**REQUIRED, "KEEPERNET_REDIS_URL":
                             "redis+sentinel://:redispass@s1.example,[::1]:26380/keepernet/2"})
    shown = repr(s)
    assert "redispass" not in shown
    assert "redis+sentinel://:***@s1.example:26379,[::1]:26380/keepernet/2" in shown

"""The keeper fleet's settings: one typed, frozen `Settings` from environment variables and an
optional TOML file.

`load_settings(config=None, env=None)` reads the TOML file named by `config`, else by
`$KEEPERNET_CONFIG` (none: environment only); each environment variable overrides the file's
key, and an empty variable counts as unset. Every wrong value — a bad URL, a public key that is
not base58, a negative or out-of-range number, an unknown key in the file, a missing required
setting, a keypair file open to others — stops start-up with one `SettingsError` listing each
problem as `ENV_VAR (TOML key) from <source>: what is wrong`.

pydantic-settings merges the two sources, key by key, and pydantic validates the result against
`_Given`, gathering every problem; each value is read by a parser below, whose messages these
are.

    environment variable                    TOML key                      default
    KEEPERNET_CONFIG                        (the file's path)             none
    KEEPERNET_RPC_URLS                      [[rpc]] name, url, max_rps    required
    KEEPERNET_RPC_TIMEOUT_S                 rpc_timeout_s                 5.0
    KEEPERNET_RPC_DEADLINE_S                rpc_deadline_s                20.0
    KEEPERNET_RPC_BATCHES                   rpc_batches                   auto
    KEEPERNET_WS_URL                        ws_url                        none (derived)
    KEEPERNET_DATABASE_URL                  database_url                  required
    KEEPERNET_JOB_RUNS_RETENTION_DAYS       job_runs_retention_days       30.0
    KEEPERNET_PROGRAM_ID                    program_id                    required
    KEEPERNET_KEYPAIR                       keypair                       none
    KEEPERNET_METRICS_PORT                  metrics_port                  9400 (0: none)
    KEEPERNET_REDIS_URL                     redis.url                     redis://127.0.0.1:6379/0
    KEEPERNET_REDIS_CONNECT_TIMEOUT_S       redis.connect_timeout_s       2.0
    KEEPERNET_REDIS_SOCKET_TIMEOUT_S        redis.socket_timeout_s        5.0
    KEEPERNET_REDIS_RETRIES                 redis.retries                 5
    KEEPERNET_REDIS_RETRY_DELAY_S           redis.retry_delay_s           1.0
    KEEPERNET_REDIS_MAX_CONNECTIONS         redis.max_connections         none (no limit)
    KEEPERNET_CU_PRICE_MICRO_LAMPORTS       fees.fixed_micro_lamports     none (percentile)
    KEEPERNET_CU_PRICE_PERCENTILE           fees.percentile               75
    KEEPERNET_CU_PRICE_CAP_MICRO_LAMPORTS   fees.cap_micro_lamports       1000000
    KEEPERNET_CU_LIMIT_MARGIN               fees.limit_margin             1.2
    KEEPERNET_TIMEOUT_<JOB>_S               timeouts.<job>                see JobTimeouts
    KEEPERNET_SCAN_INTERVAL_S               liquidator.scan_interval_s    10.0
    KEEPERNET_REWARD_TOKEN_ACCOUNT          liquidator.reward_token_account  none (derived)
    KEEPERNET_BOOK_PARTITIONS               liquidator.book_partitions    1 (or 256, 65536)
    KEEPERNET_BOOK_RECONCILE_S              liquidator.book_reconcile_s   300.0 (0: never)
    KEEPERNET_PRICE_COMMITMENT              liquidator.price_commitment   confirmed
    KEEPERNET_PRICE_SOURCE                  prices.source                 local
    KEEPERNET_HERMES_URL                    prices.hermes_url             https://hermes.pyth.network/
    KEEPERNET_PULL_KEYS                     prices.pull_keys              none

`KEEPERNET_RPC_URLS` is a comma-separated list of `name=url` entries, each optionally followed
by ` max_rps=N`: `primary=https://a.example max_rps=100, backup=https://b.example`; a bare URL
is named `rpc1`, `rpc2`, ... by its position. `KEEPERNET_REDIS_URL` names one server
(`redis://`, `rediss://`, `unix://`) or, through Redis Sentinel, a master and the sentinels that
know it: `redis+sentinel://[:password@]host1:26379,host2:26379/mymaster/0`
(fleet/redis_url.py); the timeouts, retries and connection limit apply in both forms. Rows of
`job_runs` are deleted once `job_runs_retention_days` old. `rpc_batches` says whether the
endpoints take JSON-RPC batches: `on`, `off` (one request per call), or `auto` (batches until an
endpoint refuses one, then single requests to it). The liquidation reward goes to
`reward_token_account`, else to the keeper's associated token account for the quote mint,
created when missing. `post_price` takes the prices it posts to pull PriceUpdateV2 accounts
from `prices.source`: `local`, the price the local publisher last wrote for the feed, or
`hermes`, Pyth's price service at `hermes_url` (jobs/price_source.py); on a real cluster
`hermes` posts through the Pyth Solana Receiver, signing for each pull account with its keypair
file in the directory `pull_keys` (jobs/price_poster.py). The compute-unit
price is the fixed price when one is set, else the percentile of recent fees, capped.

The keypair itself is never in the settings: they hold its path, checked at load (a regular
file only its owner may access), and `Settings.keypair()` reads it. The repr hides what a URL
may carry besides its host: passwords, query strings, and the paths of RPC URLs (API keys).
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, PlainValidator, ValidationError
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain.client import BATCH_MODES, Endpoint
from chain.keys import KeypairError, check_keypair_file, load_keypair
from chain.sender import FeePolicy
from fleet.redis_url import SENTINEL_SCHEME, is_sentinel, parse_sentinel
from jobs import registry
from jobs.position_load import PARTITIONS as BOOK_PARTITIONS

ENV_PREFIX = "KEEPERNET_"
CONFIG_ENV = "KEEPERNET_CONFIG"


class SettingsError(ValueError):
    """Start-up stops: `problems` lists each wrong setting, named by its environment variable
    and TOML key, with what is wrong; the message is those lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


# ---------------------------------------------------------------------------------------------
# reading values: each parser takes a TOML value or an environment string, and raises
# ValueError saying what is wrong; pydantic runs them (`PlainValidator`) and gathers every
# problem


def _number(value: object) -> float:
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError(f"not a number: {value!r}") from None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        raise ValueError(f"must be a number, not {_toml_type(value)}")
    if not math.isfinite(number):
        raise ValueError(f"must be a finite number, not {value!r}")
    return number


def _integer(value: object) -> int:
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise ValueError(f"not a whole number: {value!r}") from None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(f"must be a whole number, not {_toml_type(value)}")


def _positive(value: object) -> float:
    number = _number(value)
    if number <= 0:
        raise ValueError(f"must be greater than 0, not {number:g}")
    return number


def _non_negative_float(value: object) -> float:
    number = _number(value)
    if number < 0:
        raise ValueError(f"must not be negative, not {number:g}")
    return number


def _positive_int(value: object) -> int:
    number = _integer(value)
    if number <= 0:
        raise ValueError(f"must be greater than 0, not {number}")
    return number


def _non_negative_int(value: object) -> int:
    number = _integer(value)
    if number < 0:
        raise ValueError(f"must not be negative, not {number}")
    return number


def _int_between(low: int, high: int) -> Callable[[object], int]:
    def parse(value: object) -> int:
        number = _integer(value)
        if not low <= number <= high:
            raise ValueError(f"must be between {low} and {high}, not {number}")
        return number
    return parse


def _at_least_one(value: object) -> float:
    number = _number(value)
    if number < 1:
        raise ValueError(f"must be at least 1 (the simulation's units times this), not "
                         f"{number:g}")
    return number


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, not {_toml_type(value)}")
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def _url(*schemes: str, what: str) -> Callable[[object], str]:
    """A URL with one of `schemes` and a host; a message never quotes it (it may hold a key or
    a password)."""

    article = "an" if what == "RPC" else "a"

    def parse(value: object) -> str:
        url = _text(value)
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 -- raises ValueError on a bad port
        except ValueError as e:
            raise ValueError(f"not a valid {what} URL ({e})") from None
        if parts.scheme.lower() not in schemes:
            got = f"'{parts.scheme}'" if parts.scheme else "none"
            raise ValueError(f"not {article} {what} URL: the scheme must be "
                             f"{' or '.join(s + '://' for s in schemes)}, not {got}")
        if not parts.hostname and not (parts.scheme == "unix" and parts.path):
            raise ValueError(f"not {article} {what} URL: it names no host")
        return url
    return parse


def _redis_url(value: object) -> str:
    """One server's URL, or a Sentinel one (fleet/redis_url.py); never quoted either."""
    url = _text(value)
    if is_sentinel(url):
        parse_sentinel(url)
        return url
    return _plain_redis_url(url)


def _pubkey(value: object) -> Pubkey:
    text = _text(value)
    try:
        return Pubkey.from_string(text)
    except ValueError:
        raise ValueError(f"not a base58 public key: {text!r}") from None


def _one_of(*choices: int) -> Callable[[object], int]:
    def parse(value: object) -> int:
        number = _integer(value)
        if number not in choices:
            raise ValueError(f"must be one of {', '.join(map(str, choices))}, not {number}")
        return number
    return parse


def _choice(*choices: str) -> Callable[[object], str]:
    def parse(value: object) -> str:
        text = _text(value).lower()
        if text not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, not {text!r}")
        return text
    return parse


def _keypair_path(value: object) -> Path:
    path = Path(_text(value)).expanduser()
    try:
        check_keypair_file(path)
    except KeypairError as e:
        raise ValueError(str(e)) from None
    return path


_rpc_url = _url("http", "https", what="RPC")
_plain_redis_url = _url("redis", "rediss", "unix", what="Redis")
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_ENDPOINT_KEYS = ("name", "url", "max_rps")


def _endpoint(index: int, name: object, url: object, max_rps: object | None) -> Endpoint:
    where = f"entry {index + 1}"
    if name is None:
        name = f"rpc{index + 1}"
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"{where}: the name must be 1-64 letters, digits, '_', '.' or '-', "
                         f"not {name!r}")
    try:
        checked = _rpc_url(url)
        rps = Endpoint.max_rps if max_rps is None else _positive(max_rps)
    except ValueError as e:
        raise ValueError(f"{where} ({name}): {e}") from None
    return Endpoint(name, checked, rps)


def _endpoint_from_env(index: int, entry: str) -> Endpoint:
    """`name=url [max_rps=N]`, or a bare URL."""
    if not entry:
        raise ValueError(f"entry {index + 1} is empty")
    head, *options = entry.split()
    name, url = head.split("=", 1) if "=" in head.split("://", 1)[0] else (None, head)
    max_rps: str | None = None
    for option in options:
        key, _, rate = option.partition("=")
        if key != "max_rps" or not rate:
            raise ValueError(f"entry {index + 1}: unknown option {key!r} (only max_rps=N)")
        max_rps = rate
    return _endpoint(index, name, url, max_rps)


def _endpoint_from_toml(index: int, table: object) -> Endpoint:
    """An `[[rpc]]` table: `name`, `url`, `max_rps`."""
    if not isinstance(table, dict):
        raise ValueError(f"entry {index + 1} must be a table ([[rpc]]), not {_toml_type(table)}")
    unknown = sorted(set(table) - set(_ENDPOINT_KEYS))
    if unknown:
        raise ValueError(f"entry {index + 1}: unknown key {unknown[0]!r} (known: "
                         f"{', '.join(_ENDPOINT_KEYS)})")
    if "url" not in table:
        raise ValueError(f"entry {index + 1}: missing its url")
    return _endpoint(index, table.get("name"), table["url"], table.get("max_rps"))


def _endpoints(value: object) -> tuple[Endpoint, ...]:
    """From the environment: `name=url [max_rps=N], ...`; from TOML: an array of tables."""
    if isinstance(value, str):
        found = [_endpoint_from_env(i, e.strip()) for i, e in enumerate(value.split(","))]
    elif isinstance(value, list):
        found = [_endpoint_from_toml(i, table) for i, table in enumerate(value)]
    else:
        raise ValueError(f"must be an array of tables ([[rpc]]), not {_toml_type(value)}")
    if not found:
        raise ValueError("no endpoint: at least one is needed")
    names = [e.name for e in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"endpoint names must be unique: {', '.join(twice)} repeated")
    return tuple(found)


def _toml_type(value: object) -> str:
    return {bool: "a boolean", str: "a string", int: "an integer", float: "a float",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)


# the types of the settings, each checked by its parser
_Seconds = Annotated[float, PlainValidator(_positive)]
_Days = Annotated[float, PlainValidator(_positive)]
_Count = Annotated[int, PlainValidator(_non_negative_int)]
_RpcUrls = Annotated[tuple[Endpoint, ...], PlainValidator(_endpoints)]
_PostgresUrl = Annotated[str, PlainValidator(_url("postgresql", "postgres", what="PostgreSQL"))]
_WsUrl = Annotated[str | None, PlainValidator(_url("ws", "wss", what="WebSocket"))]
_RedisUrl = Annotated[str, PlainValidator(_redis_url)]
_ProgramId = Annotated[Pubkey, PlainValidator(_pubkey)]
_Batches = Annotated[str, PlainValidator(_choice(*BATCH_MODES))]
_KeypairPath = Annotated[Path | None, PlainValidator(_keypair_path)]


def _directory(value: object) -> Path:
    path = Path(_text(value)).expanduser()
    if not path.is_dir():
        raise ValueError(f"not a directory: {str(path)!r}")
    return path
_Port = Annotated[int, PlainValidator(_int_between(0, 65535))]


# ---------------------------------------------------------------------------------------------
# the settings


def _redact(url: str, *, keep_path: bool) -> str:
    """`url` as far as it is safe to show: scheme, user, host and port (and the path when it
    holds no secret); never a password or a query string."""
    if is_sentinel(url):
        return _redact_sentinel(url)
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return "<unparsable URL>"
    user = ""
    if parts.username is not None:
        user = parts.username + (":***" if parts.password is not None else "") + "@"
    elif parts.password is not None:
        user = ":***@"
    if ":" in host:
        host = f"[{host}]"
    path = parts.path if keep_path else ("/…" if parts.path not in ("", "/") else "")
    return f"{parts.scheme}://{user}{host}{port}{path}" + ("?…" if parts.query else "")


def _redact_sentinel(url: str) -> str:
    """A Sentinel URL as `_redact` shows one: its sentinels, master and database."""
    try:
        target = parse_sentinel(url)
    except ValueError:
        return "<unparsable URL>"
    user = ""
    if target.username is not None or target.password is not None:
        user = (target.username or "") + (":***" if target.password is not None else "") + "@"
    hosts = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in target.sentinels)
    return f"{SENTINEL_SCHEME}://{user}{hosts}/{target.master}/{target.db}"


def _safe_repr(obj: object, secret_urls: Mapping[str, bool]) -> str:
    """A dataclass's repr with its URL fields redacted (`secret_urls`: field -> keep_path)."""
    shown = []
    for f in fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if f.name in secret_urls and isinstance(value, str):
            text = repr(_redact(value, keep_path=secret_urls[f.name]))
        elif isinstance(value, tuple) and value and all(isinstance(e, Endpoint) for e in value):
            text = "(" + ", ".join(
                f"Endpoint(name={e.name!r}, url={_redact(e.url, keep_path=False)!r}, "
                f"max_rps={e.max_rps!r})" for e in value) + ")"
        else:
            text = repr(value)
        shown.append(f"{f.name}={text}")
    return f"{type(obj).__name__}({', '.join(shown)})"


@dataclass(frozen=True, repr=False)
class RedisSettings:
    """The Redis connection (one server, or a master through Sentinel): timeouts on connecting
    and on every command (arq sets none), how often and how far apart to retry a lost
    connection, and the most connections a process opens (None: no limit)."""

    url: _RedisUrl = "redis://127.0.0.1:6379/0"
    connect_timeout_s: _Seconds = 2.0
    socket_timeout_s: _Seconds = 5.0
    retries: _Count = 5
    retry_delay_s: Annotated[float, PlainValidator(_non_negative_float)] = 1.0
    max_connections: Annotated[int | None, PlainValidator(_positive_int)] = None

    def __repr__(self) -> str:
        return _safe_repr(self, {"url": True})


JOBS = (*registry.JOBS, registry.RECONCILE)


@dataclass(frozen=True)
class JobTimeouts:
    """Each job function's timeout, seconds: short, since a killed job reruns only after its
    in-progress key expires (the worker's largest timeout + 10 s)."""

    index_events: _Seconds = registry.INDEX_EVENTS.timeout_s
    snapshot_accounts: _Seconds = registry.SNAPSHOT_ACCOUNTS.timeout_s
    scan_positions: _Seconds = registry.SCAN_POSITIONS.timeout_s
    liquidate_position: _Seconds = registry.LIQUIDATE_POSITION.timeout_s
    update_funding: _Seconds = registry.UPDATE_FUNDING.timeout_s
    tally_votes: _Seconds = registry.TALLY_VOTES.timeout_s
    finalize_market: _Seconds = registry.FINALIZE_MARKET.timeout_s
    apply_config: _Seconds = registry.APPLY_CONFIG.timeout_s
    post_price: _Seconds = registry.POST_PRICE.timeout_s
    reconcile: _Seconds = registry.RECONCILE_TIMEOUT_S

    def of(self, job: str) -> float:
        if job not in JOBS:
            raise KeyError(job)
        value: float = getattr(self, job)
        return value


PRICE_COMMITMENTS = ("processed", "confirmed")


@dataclass(frozen=True)
class LiquidatorSettings:
    """`scan_interval_s`: the cron safety net's period, between price-triggered scans;
    `reward_token_account`: where the program pays the keeper's liquidation rewards (None:
    the keeper's associated token account for the quote mint); `book_partitions`: in how
    many answers per side the price trigger loads its book (by the owners' leading bytes, so
    that no answer exceeds a provider's cap); `book_reconcile_s`: how often it reloads the
    book whole besides the notifications keeping it (0: never); `price_commitment`: at which
    commitment the trigger hears of a price (`confirmed`, or `processed` a slot sooner: its
    book, kept at `confirmed`, then trails the prices by a slot, and a liquidation landed in
    that slot is sent again unread and refused on chain, its fee lost)."""

    scan_interval_s: _Seconds = 10.0
    reward_token_account: Annotated[Pubkey | None, PlainValidator(_pubkey)] = None
    book_partitions: Annotated[int, PlainValidator(_one_of(*BOOK_PARTITIONS))] = 1
    book_reconcile_s: Annotated[float, PlainValidator(_non_negative_float)] = 300.0
    price_commitment: Annotated[str, PlainValidator(_choice(*PRICE_COMMITMENTS))] = "confirmed"


PRICE_SOURCES = ("local", "hermes")
HERMES_URL = "https://hermes.pyth.network/"


@dataclass(frozen=True, repr=False)
class PriceSettings:
    """Where `post_price` takes the prices it posts: `source` is `local` (the local
    publisher's, on the localnet) or `hermes` (Pyth's price service at `hermes_url`); and
    `pull_keys`, the directory of the pull accounts' keypair files, for posting to a real
    cluster."""

    source: Annotated[str, PlainValidator(_choice(*PRICE_SOURCES))] = "local"
    hermes_url: Annotated[str, PlainValidator(_url("http", "https", what="Hermes"))] = \
        HERMES_URL
    pull_keys: Annotated[Path | None, PlainValidator(_directory)] = None

    def __repr__(self) -> str:
        # paid Hermes endpoints carry their key in the path, as RPC providers do
        return _safe_repr(self, {"hermes_url": False})


@dataclass(frozen=True)
class _FeeSettings:
    """`FeePolicy`'s fields as the settings check them (the chain layer's policy knows nothing
    of where its values come from)."""

    fixed_micro_lamports: Annotated[int | None, PlainValidator(_non_negative_int)] = \
        FeePolicy.fixed_micro_lamports
    percentile: Annotated[int, PlainValidator(_int_between(0, 100))] = FeePolicy.percentile
    cap_micro_lamports: _Count = FeePolicy.cap_micro_lamports
    limit_margin: Annotated[float, PlainValidator(_at_least_one)] = FeePolicy.limit_margin


@dataclass(frozen=True, repr=False)
class Settings:
    """Everything a keeper instance is configured with; see the module's table."""

    rpc: tuple[Endpoint, ...]
    database_url: str
    program_id: Pubkey
    keypair_path: Path | None = None
    job_runs_retention_days: float = 30.0
    rpc_timeout_s: float = 5.0
    rpc_deadline_s: float = 20.0
    rpc_batches: str = "auto"
    ws_url: str | None = None
    metrics_port: int = 9400
    redis: RedisSettings = field(default_factory=RedisSettings)
    fees: FeePolicy = field(default_factory=FeePolicy)
    timeouts: JobTimeouts = field(default_factory=JobTimeouts)
    liquidator: LiquidatorSettings = field(default_factory=LiquidatorSettings)
    prices: PriceSettings = field(default_factory=PriceSettings)
    config_path: Path | None = None  # the TOML file read, if any

    def __repr__(self) -> str:
        return _safe_repr(self, {"database_url": True, "ws_url": False})

    def websocket_url(self) -> str:
        """`ws_url`, else derived from the first RPC endpoint as Solana's CLI does: ws:// or
        wss:// on the same host and path, the next port when the URL names one (8899 → 8900)."""
        if self.ws_url is not None:
            return self.ws_url
        parts = urlsplit(self.rpc[0].url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        netloc = parts.netloc
        if parts.port is not None:
            netloc = netloc.rpartition(":")[0] + f":{parts.port + 1}"
        return urlunsplit((scheme, netloc, parts.path, parts.query, ""))

    def keypair(self) -> Keypair:
        """The keeper's keypair, read now from `keypair_path`; SettingsError if none is set or
        the file is unusable. Never store it in a logged object: its repr shows the secret."""
        name = _name("keypair")
        if self.keypair_path is None:
            raise SettingsError([f"{name}: missing: this role signs transactions and needs the "
                                 f"keeper's keypair file"])
        try:
            return load_keypair(self.keypair_path)
        except KeypairError as e:
            raise SettingsError([f"{name}: {e}"]) from None


# ---------------------------------------------------------------------------------------------
# the sources: pydantic-settings merges the environment over the TOML file, key by key, and
# validates the result against `_Given`


class _Given(BaseSettings):
    """What an operator may set, by TOML key (`_ENV` names each one's variable); unknown keys
    are refused. Defaults are those of `Settings`, which this becomes."""

    # the defaults are Settings' own, valid already; extra keys are refused (the default)
    model_config = SettingsConfigDict(validate_default=False, frozen=True)

    rpc: _RpcUrls
    rpc_timeout_s: _Seconds = Settings.rpc_timeout_s
    rpc_deadline_s: _Seconds = Settings.rpc_deadline_s
    rpc_batches: _Batches = Settings.rpc_batches
    ws_url: _WsUrl = Settings.ws_url
    database_url: _PostgresUrl
    job_runs_retention_days: _Days = Settings.job_runs_retention_days
    program_id: _ProgramId
    keypair: _KeypairPath = Settings.keypair_path
    metrics_port: _Port = Settings.metrics_port
    redis: RedisSettings = Field(default_factory=RedisSettings)
    fees: _FeeSettings = Field(default_factory=_FeeSettings)
    timeouts: JobTimeouts = Field(default_factory=JobTimeouts)
    liquidator: LiquidatorSettings = Field(default_factory=LiquidatorSettings)
    prices: PriceSettings = Field(default_factory=PriceSettings)

    def settings(self, config_path: Path | None) -> Settings:
        """These values as `Settings`."""
        values = dict(self)
        values["keypair_path"] = values.pop("keypair")
        values["fees"] = FeePolicy(**asdict(self.fees))
        return Settings(**values, config_path=config_path)


_ENV: dict[str, str] = {  # TOML key -> environment variable, in the module's table's order
    "rpc": "KEEPERNET_RPC_URLS",
    "rpc_timeout_s": "KEEPERNET_RPC_TIMEOUT_S",
    "rpc_deadline_s": "KEEPERNET_RPC_DEADLINE_S",
    "rpc_batches": "KEEPERNET_RPC_BATCHES",
    "ws_url": "KEEPERNET_WS_URL",
    "database_url": "KEEPERNET_DATABASE_URL",
    "job_runs_retention_days": "KEEPERNET_JOB_RUNS_RETENTION_DAYS",
    "program_id": "KEEPERNET_PROGRAM_ID",
    "keypair": "KEEPERNET_KEYPAIR",
    "metrics_port": "KEEPERNET_METRICS_PORT",
    "redis.url": "KEEPERNET_REDIS_URL",
    "redis.connect_timeout_s": "KEEPERNET_REDIS_CONNECT_TIMEOUT_S",
    "redis.socket_timeout_s": "KEEPERNET_REDIS_SOCKET_TIMEOUT_S",
    "redis.retries": "KEEPERNET_REDIS_RETRIES",
    "redis.retry_delay_s": "KEEPERNET_REDIS_RETRY_DELAY_S",
    "redis.max_connections": "KEEPERNET_REDIS_MAX_CONNECTIONS",
    "fees.fixed_micro_lamports": "KEEPERNET_CU_PRICE_MICRO_LAMPORTS",
    "fees.percentile": "KEEPERNET_CU_PRICE_PERCENTILE",
    "fees.cap_micro_lamports": "KEEPERNET_CU_PRICE_CAP_MICRO_LAMPORTS",
    "fees.limit_margin": "KEEPERNET_CU_LIMIT_MARGIN",
    **{f"timeouts.{job}": f"KEEPERNET_TIMEOUT_{job.upper()}_S" for job in JOBS},
    "liquidator.scan_interval_s": "KEEPERNET_SCAN_INTERVAL_S",
    "liquidator.reward_token_account": "KEEPERNET_REWARD_TOKEN_ACCOUNT",
    "liquidator.book_partitions": "KEEPERNET_BOOK_PARTITIONS",
    "liquidator.book_reconcile_s": "KEEPERNET_BOOK_RECONCILE_S",
    "liquidator.price_commitment": "KEEPERNET_PRICE_COMMITMENT",
    "prices.source": "KEEPERNET_PRICE_SOURCE",
    "prices.hermes_url": "KEEPERNET_HERMES_URL",
    "prices.pull_keys": "KEEPERNET_PULL_KEYS",
}
ENV_VARS = (CONFIG_ENV, *_ENV.values())


def _name(key: str) -> str:
    """How a problem names a setting: `KEEPERNET_REDIS_URL (TOML redis.url)`."""
    return f"{_ENV[key]} (TOML {key})"


def _section(key: str) -> type[Any] | None:
    """The dataclass of the TOML table `key`, if `key` names one."""
    given = _Given.model_fields.get(key)
    kind = given.annotation if given is not None else None
    return kind if isinstance(kind, type) and is_dataclass(kind) else None


def _environment(env: Mapping[str, str]) -> dict[str, Any]:
    """The variables set, by TOML key, tables nested as in the file; an empty variable counts
    as unset."""
    values: dict[str, Any] = {}
    for key, name in _ENV.items():
        if env.get(name, "").strip():
            table, _, leaf = key.rpartition(".")
            (values.setdefault(table, {}) if table else values)[leaf] = env[name]
    return values


class _TomlFile(TomlConfigSettingsSource):
    """The TOML file's settings (none without a `path`). A file that cannot be read or parsed
    stops start-up at once (the message never quotes a line: it may hold a password); a table
    that is not one is left out and kept in `problems` (top-level key, message), so that the
    environment's values for it cannot hide it; `keys` are the file's top-level keys, in order."""

    def __init__(self, path: Path | None, named_by: str) -> None:
        self.path = path
        self.problems: list[tuple[str, str]] = []
        self.keys: list[str] = []
        self._where = f"{named_by}: config file {path}"
        try:  # the library skips a file that is not there; this one was asked for
            if path is not None:
                path.open("rb").close()
        except FileNotFoundError:
            raise SettingsError([f"{self._where}: no such file"]) from None
        except OSError as e:
            raise SettingsError([f"{self._where}: cannot be read ({e.strerror})"]) from None
        super().__init__(_Given, toml_file=path)

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        try:
            doc = super()._read_file(file_path)
        except tomllib.TOMLDecodeError as e:  # says where, never quotes the line
            raise SettingsError([f"{self._where}: not valid TOML ({e})"]) from None
        except UnicodeDecodeError:
            raise SettingsError([f"{self._where}: not UTF-8 text"]) from None
        self.keys = list(doc)
        for key in self.keys:
            if _section(key) is not None and not isinstance(doc[key], dict):
                self.problems.append((key, f"TOML {key} in {file_path}: must be a table "
                                           f"([{key}]), not {_toml_type(doc.pop(key))}"))
        return doc


_UNKNOWN = ("extra_forbidden", "unexpected_keyword_argument")


def _unknown_key(key: str, path: Path | None) -> str:
    """A key of the file that no setting reads, with the keys its table takes."""
    table = key.rpartition(".")[0]
    section = _section(table)
    if section is None:
        top = ", ".join(sorted(_Given.model_fields))
        return f"TOML {key} in {path}: unknown key (known: {top})"
    known = ", ".join(sorted(f.name for f in fields(section)))
    return f"TOML {key} in {path}: unknown key in [{table}] (known: {known})"


def _problem(error: ErrorDetails, file: _TomlFile, env: Mapping[str, str]) -> str:
    """One of pydantic's errors as the operator reads it: the setting's variable and TOML key,
    where its value came from, and what is wrong."""
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] in _UNKNOWN:
        return _unknown_key(key, file.path)
    if error["type"] == "missing":
        where = (f"or in {file.path}" if file.path is not None
                 else f"or in a TOML file named by {CONFIG_ENV}")
        return f"{_name(key)}: missing: set it in the environment {where}"
    source = "the environment" if env.get(_ENV[key], "").strip() else str(file.path)
    return f"{_name(key)} from {source}: {error['ctx']['error']}"


def _problems(errors: list[ErrorDetails], file: _TomlFile, env: Mapping[str, str]) -> list[str]:
    """Every problem: the file's own mistakes first, in its order, as its reader meets them;
    then the wrong and missing values, in the module's table's order."""
    about_file = [*file.problems, *((str(error["loc"][0]), _problem(error, file, env))
                                    for error in errors if error["type"] in _UNKNOWN)]
    about_file.sort(key=lambda problem: file.keys.index(problem[0]))
    return [*(message for _, message in about_file),
            *(_problem(error, file, env) for error in errors if error["type"] not in _UNKNOWN)]


def load_settings(config: Path | str | None = None,
                  env: Mapping[str, str] | None = None) -> Settings:
    """The settings from `env` (default os.environ) over the TOML file `config` (default
    $KEEPERNET_CONFIG, else none); SettingsError listing every wrong or missing setting."""
    env = os.environ if env is None else env
    raw_path = config or env.get(CONFIG_ENV, "").strip() or None
    path = Path(raw_path).expanduser() if raw_path is not None else None
    file = _TomlFile(path, "config argument" if config else CONFIG_ENV)
    try:
        # `_build_sources`, BaseSettings' keyword for sources made by the caller, is not among
        # the fields mypy sees as the model's arguments
        given = _Given(_build_sources=(  # type: ignore[call-arg]
            (InitSettingsSource(_Given, _environment(env)), file), {}))
    except ValidationError as e:  # not raised from: its text quotes the values, secrets too
        errors = e.errors()
    else:
        errors = []
    problems = _problems(errors, file, env)
    if problems:
        raise SettingsError(problems)
    return given.settings(path)

"""The keeper fleet's settings: one typed, frozen `Settings` from environment variables and an
optional TOML file.

`load_settings(config=None, env=None)` reads the TOML file named by `config`, else by
`$KEEPERNET_CONFIG` (none: environment only); each environment variable overrides the file's
key, and an empty variable counts as unset. Every wrong value — a bad URL, a public key that is
not base58, a negative or out-of-range number, an unknown key in the file, a missing required
setting, a keypair file open to others — stops start-up with one `SettingsError` listing each
problem as `ENV_VAR (TOML key) from <source>: what is wrong`.

    environment variable                    TOML key                      default
    KEEPERNET_CONFIG                        (the file's path)             none
    KEEPERNET_RPC_URLS                      [[rpc]] name, url, max_rps    required
    KEEPERNET_RPC_TIMEOUT_S                 rpc_timeout_s                 5.0
    KEEPERNET_RPC_DEADLINE_S                rpc_deadline_s                20.0
    KEEPERNET_WS_URL                        ws_url                        none (derived)
    KEEPERNET_DATABASE_URL                  database_url                  required
    KEEPERNET_PROGRAM_ID                    program_id                    required
    KEEPERNET_KEYPAIR                       keypair                       none
    KEEPERNET_METRICS_PORT                  metrics_port                  9400 (0: none)
    KEEPERNET_REDIS_URL                     redis.url                     redis://127.0.0.1:6379/0
    KEEPERNET_REDIS_CONNECT_TIMEOUT_S       redis.connect_timeout_s       2.0
    KEEPERNET_REDIS_SOCKET_TIMEOUT_S        redis.socket_timeout_s        5.0
    KEEPERNET_REDIS_RETRIES                 redis.retries                 5
    KEEPERNET_REDIS_RETRY_DELAY_S           redis.retry_delay_s           1.0
    KEEPERNET_CU_PRICE_MICRO_LAMPORTS       fees.fixed_micro_lamports     none (percentile)
    KEEPERNET_CU_PRICE_PERCENTILE           fees.percentile               75
    KEEPERNET_CU_PRICE_CAP_MICRO_LAMPORTS   fees.cap_micro_lamports       1000000
    KEEPERNET_CU_LIMIT_MARGIN               fees.limit_margin             1.2
    KEEPERNET_TIMEOUT_<JOB>_S               timeouts.<job>                see JobTimeouts
    KEEPERNET_SCAN_INTERVAL_S               liquidator.scan_interval_s    10.0

`KEEPERNET_RPC_URLS` is a comma-separated list of `name=url` entries, each optionally followed
by ` max_rps=N`: `primary=https://a.example max_rps=100, backup=https://b.example`; a bare URL
is named `rpc1`, `rpc2`, ... by its position. The compute-unit price is the fixed price when one
is set, else the percentile of recent fees, capped.

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
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain.client import Endpoint
from chain.keys import KeypairError, check_keypair_file, load_keypair
from chain.sender import FeePolicy
from jobs import registry

ENV_PREFIX = "KEEPERNET_"
CONFIG_ENV = "KEEPERNET_CONFIG"

JOBS = (*registry.JOBS, registry.RECONCILE)


class SettingsError(ValueError):
    """Start-up stops: `problems` lists each wrong setting, named by its environment variable
    and TOML key, with what is wrong; the message is those lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


# ---------------------------------------------------------------------------------------------
# the settings


def _redact(url: str, *, keep_path: bool) -> str:
    """`url` as far as it is safe to show: scheme, user, host and port (and the path when it
    holds no secret); never a password or a query string."""
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
    """The Redis connection: timeouts on connecting and on every command (arq sets none), and
    how often and how far apart to retry a lost connection."""

    url: str = "redis://127.0.0.1:6379/0"
    connect_timeout_s: float = 2.0
    socket_timeout_s: float = 5.0
    retries: int = 5
    retry_delay_s: float = 1.0

    def __repr__(self) -> str:
        return _safe_repr(self, {"url": True})


@dataclass(frozen=True)
class JobTimeouts:
    """Each job function's timeout, seconds: short, since a killed job reruns only after its
    in-progress key expires (the worker's largest timeout + 10 s)."""

    index_events: float = registry.INDEX_EVENTS.timeout_s
    snapshot_accounts: float = registry.SNAPSHOT_ACCOUNTS.timeout_s
    scan_positions: float = registry.SCAN_POSITIONS.timeout_s
    liquidate_position: float = registry.LIQUIDATE_POSITION.timeout_s
    update_funding: float = registry.UPDATE_FUNDING.timeout_s
    tally_votes: float = registry.TALLY_VOTES.timeout_s
    finalize_market: float = registry.FINALIZE_MARKET.timeout_s
    apply_config: float = registry.APPLY_CONFIG.timeout_s
    reconcile: float = registry.RECONCILE_TIMEOUT_S

    def of(self, job: str) -> float:
        if job not in JOBS:
            raise KeyError(job)
        value: float = getattr(self, job)
        return value


@dataclass(frozen=True)
class LiquidatorSettings:
    """`scan_interval_s`: the cron safety net's period, between price-triggered scans."""

    scan_interval_s: float = 10.0


@dataclass(frozen=True, repr=False)
class Settings:
    """Everything a keeper instance is configured with; see the module's table."""

    rpc: tuple[Endpoint, ...]
    database_url: str
    program_id: Pubkey
    keypair_path: Path | None = None
    rpc_timeout_s: float = 5.0
    rpc_deadline_s: float = 20.0
    ws_url: str | None = None
    metrics_port: int = 9400
    redis: RedisSettings = field(default_factory=RedisSettings)
    fees: FeePolicy = field(default_factory=FeePolicy)
    timeouts: JobTimeouts = field(default_factory=JobTimeouts)
    liquidator: LiquidatorSettings = field(default_factory=LiquidatorSettings)
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
        name = _SPECS_BY_KEY["keypair"].name
        if self.keypair_path is None:
            raise SettingsError([f"{name}: missing: this role signs transactions and needs the "
                                 f"keeper's keypair file"])
        try:
            return load_keypair(self.keypair_path)
        except KeypairError as e:
            raise SettingsError([f"{name}: {e}"]) from None


# ---------------------------------------------------------------------------------------------
# reading values: each parser takes a TOML value or an environment string, and raises
# ValueError saying what is wrong


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


def _pubkey(value: object) -> Pubkey:
    text = _text(value)
    try:
        return Pubkey.from_string(text)
    except ValueError:
        raise ValueError(f"not a base58 public key: {text!r}") from None


def _keypair_path(value: object) -> Path:
    path = Path(_text(value)).expanduser()
    try:
        check_keypair_file(path)
    except KeypairError as e:
        raise ValueError(str(e)) from None
    return path


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


def _endpoints(value: object) -> tuple[Endpoint, ...]:
    """From the environment: `name=url [max_rps=N], ...`; from TOML: an array of tables."""
    found: list[Endpoint] = []
    if isinstance(value, str):
        entries = [e.strip() for e in value.split(",")]
        for i, entry in enumerate(entries):
            if not entry:
                raise ValueError(f"entry {i + 1} is empty")
            head, *options = entry.split()
            name, url = head.split("=", 1) if "=" in head.split("://", 1)[0] else (None, head)
            max_rps: str | None = None
            for option in options:
                key, _, rate = option.partition("=")
                if key != "max_rps" or not rate:
                    raise ValueError(f"entry {i + 1}: unknown option {key!r} (only max_rps=N)")
                max_rps = rate
            found.append(_endpoint(i, name, url, max_rps))
    elif isinstance(value, list):
        for i, table in enumerate(value):
            if not isinstance(table, dict):
                raise ValueError(f"entry {i + 1} must be a table ([[rpc]]), not "
                                 f"{_toml_type(table)}")
            unknown = sorted(set(table) - set(_ENDPOINT_KEYS))
            if unknown:
                raise ValueError(f"entry {i + 1}: unknown key {unknown[0]!r} (known: "
                                 f"{', '.join(_ENDPOINT_KEYS)})")
            if "url" not in table:
                raise ValueError(f"entry {i + 1}: missing its url")
            found.append(_endpoint(i, table.get("name"), table["url"], table.get("max_rps")))
    else:
        raise ValueError(f"must be an array of tables ([[rpc]]), not {_toml_type(value)}")
    if not found:
        raise ValueError("no endpoint: at least one is needed")
    names = [e.name for e in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"endpoint names must be unique: {', '.join(twice)} repeated")
    return tuple(found)


_rpc_url = _url("http", "https", what="RPC")


def _toml_type(value: object) -> str:
    return {bool: "a boolean", str: "a string", int: "an integer", float: "a float",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)


# ---------------------------------------------------------------------------------------------
# the table of settings


@dataclass(frozen=True)
class _Spec:
    key: str  # the TOML key, dotted: "redis.url"
    env: str
    parse: Callable[[object], Any]
    attr: str = ""  # the field, if not the key's last part
    required: bool = False

    @property
    def section(self) -> str:
        return self.key.rpartition(".")[0]

    @property
    def field_name(self) -> str:
        return self.attr or self.key.rpartition(".")[2]

    @property
    def name(self) -> str:
        return f"{self.env} (TOML {self.key})"


_SPECS: tuple[_Spec, ...] = (
    _Spec("rpc", "KEEPERNET_RPC_URLS", _endpoints, required=True),
    _Spec("rpc_timeout_s", "KEEPERNET_RPC_TIMEOUT_S", _positive),
    _Spec("rpc_deadline_s", "KEEPERNET_RPC_DEADLINE_S", _positive),
    _Spec("ws_url", "KEEPERNET_WS_URL", _url("ws", "wss", what="WebSocket")),
    _Spec("database_url", "KEEPERNET_DATABASE_URL",
          _url("postgresql", "postgres", what="PostgreSQL"), required=True),
    _Spec("program_id", "KEEPERNET_PROGRAM_ID", _pubkey, required=True),
    _Spec("keypair", "KEEPERNET_KEYPAIR", _keypair_path, attr="keypair_path"),
    _Spec("metrics_port", "KEEPERNET_METRICS_PORT", _int_between(0, 65535)),
    _Spec("redis.url", "KEEPERNET_REDIS_URL", _url("redis", "rediss", "unix", what="Redis")),
    _Spec("redis.connect_timeout_s", "KEEPERNET_REDIS_CONNECT_TIMEOUT_S", _positive),
    _Spec("redis.socket_timeout_s", "KEEPERNET_REDIS_SOCKET_TIMEOUT_S", _positive),
    _Spec("redis.retries", "KEEPERNET_REDIS_RETRIES", _non_negative_int),
    _Spec("redis.retry_delay_s", "KEEPERNET_REDIS_RETRY_DELAY_S", _non_negative_float),
    _Spec("fees.fixed_micro_lamports", "KEEPERNET_CU_PRICE_MICRO_LAMPORTS", _non_negative_int),
    _Spec("fees.percentile", "KEEPERNET_CU_PRICE_PERCENTILE", _int_between(0, 100)),
    _Spec("fees.cap_micro_lamports", "KEEPERNET_CU_PRICE_CAP_MICRO_LAMPORTS", _non_negative_int),
    _Spec("fees.limit_margin", "KEEPERNET_CU_LIMIT_MARGIN", _at_least_one),
    *(_Spec(f"timeouts.{job}", f"KEEPERNET_TIMEOUT_{job.upper()}_S", _positive) for job in JOBS),
    _Spec("liquidator.scan_interval_s", "KEEPERNET_SCAN_INTERVAL_S", _positive),
)
_SPECS_BY_KEY = {s.key: s for s in _SPECS}
_SECTIONS: dict[str, type[Any]] = {"redis": RedisSettings, "fees": FeePolicy,
                                   "timeouts": JobTimeouts, "liquidator": LiquidatorSettings}
ENV_VARS = (CONFIG_ENV, *(s.env for s in _SPECS))


def _read_toml(path: Path, source_name: str) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise SettingsError([f"{source_name}: config file {path}: no such file"]) from None
    except OSError as e:
        raise SettingsError([f"{source_name}: config file {path}: cannot be read "
                             f"({e.strerror})"]) from None
    except tomllib.TOMLDecodeError as e:  # says where, never quotes the line
        raise SettingsError([f"{source_name}: config file {path}: not valid TOML ({e})"]) \
            from None
    except UnicodeDecodeError:
        raise SettingsError([f"{source_name}: config file {path}: not UTF-8 text"]) from None


def _unknown_keys(doc: Mapping[str, Any], path: Path) -> list[str]:
    """A problem for each key of the file no setting reads, and each section not a table."""
    problems = []
    top = {s.key.partition(".")[0] for s in _SPECS}
    for key, value in doc.items():
        if key not in top:
            problems.append(f"TOML {key} in {path}: unknown key (known: {', '.join(sorted(top))})")
        elif key in _SECTIONS:
            if not isinstance(value, dict):
                problems.append(f"TOML {key} in {path}: must be a table ([{key}]), not "
                                f"{_toml_type(value)}")
                continue
            known = sorted(s.field_name for s in _SPECS if s.section == key)
            problems.extend(
                f"TOML {key}.{sub} in {path}: unknown key in [{key}] (known: {', '.join(known)})"
                for sub in value if sub not in known)
    return problems


def load_settings(config: Path | str | None = None,
                  env: Mapping[str, str] | None = None) -> Settings:
    """The settings from `env` (default os.environ) over the TOML file `config` (default
    $KEEPERNET_CONFIG, else none); SettingsError listing every wrong or missing setting."""
    env = os.environ if env is None else env
    config_source = "config argument" if config else CONFIG_ENV
    raw_path = config or env.get(CONFIG_ENV, "").strip() or None
    path = Path(raw_path).expanduser() if raw_path is not None else None
    doc: dict[str, Any] = _read_toml(path, config_source) if path is not None else {}
    problems = _unknown_keys(doc, path) if path is not None else []

    values: dict[str, dict[str, Any]] = {"": {}, **{section: {} for section in _SECTIONS}}
    for spec in _SPECS:
        from_env = env.get(spec.env, "")
        if from_env.strip():
            value: object = from_env
            source = "the environment"
        else:
            table: Any = doc.get(spec.section, {}) if spec.section else doc
            leaf = spec.key.rpartition(".")[2]
            if not isinstance(table, dict) or leaf not in table:
                if spec.required:
                    where = (f"or in {path}" if path is not None
                             else f"or in a TOML file named by {CONFIG_ENV}")
                    problems.append(f"{spec.name}: missing: set it in the environment {where}")
                continue
            value = table[leaf]
            source = str(path)
        try:
            values[spec.section][spec.field_name] = spec.parse(value)
        except ValueError as e:
            problems.append(f"{spec.name} from {source}: {e}")
    if problems:
        raise SettingsError(problems)
    top = values[""]
    return Settings(**top, **{section: cls(**values[section])
                              for section, cls in _SECTIONS.items()}, config_path=path)

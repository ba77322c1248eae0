"""The localnet's "hosted provider" profile: the limits a hosted Solana RPC provider puts on a
customer, so that keepers meet them before a provider does.

- JSON-RPC batches refused: one JSON-RPC error object (-32600) in place of the batch's answers,
  which `chain.client`'s batch detection (`KEEPERNET_RPC_BATCHES=auto`) takes as a refusal.
- `getProgramAccounts` answers capped: above `gpa_cap` accounts, Helius's error (-32600 "Too
  many accounts requested ...", as quoted in chainstacklabs/pumpfun-bonkfun-bot#178 and in
  providers' getProgramAccounts docs). The cap counts the accounts the answer would hold, after
  its filters, so a load partitioned by memcmp stays under it.
- HTTP 429 with Retry-After above `rps` requests per second per client (a token bucket of
  `burst` requests); a client is its `api-key` URL parameter (as Helius names a customer), else
  its address.
- At most `subscriptions_per_connection` WebSocket subscriptions open on one connection.

A client whose `api-key` is the `operator_key` is served without limits: it is the localnet's
operator (the demo's and the tests' seeding and checks), not a provider's customer.

`default_profile()` reads the profile from `KEEPERNET_LOCALNET_PROFILE` (and its values from
the variables beside it), so that every localnet a run starts — in-process, `keepernet
localnet`, the demo's — takes it without each caller passing it.
"""

from __future__ import annotations

import enum
import math
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from chain.localnet.rpc import INVALID_REQUEST, RpcError

PROFILES = ("validator", "hosted")
PROFILE_ENV = "KEEPERNET_LOCALNET_PROFILE"
RPS_ENV = "KEEPERNET_LOCALNET_RPS"
GPA_CAP_ENV = "KEEPERNET_LOCALNET_GPA_CAP"
SUBSCRIPTIONS_ENV = "KEEPERNET_LOCALNET_SUBSCRIPTIONS_PER_CONNECTION"
OPERATOR_KEY_ENV = "KEEPERNET_LOCALNET_OPERATOR_KEY"

DEFAULT_RPS = 50.0
# the general cap providers document for a getProgramAccounts answer (Helius: 100,000; 10,000
# over the token programs)
DEFAULT_GPA_CAP = 100_000
DEFAULT_SUBSCRIPTIONS_PER_CONNECTION = 100
RATE_LIMIT_CODE = 429  # the JSON-RPC code in a 429's body, as providers send it


class FromEnv(enum.Enum):
    """A profile not given: `default_profile()`'s."""

    FROM_ENV = "from the environment"


FROM_ENV = FromEnv.FROM_ENV
BATCH_REFUSAL = RpcError(INVALID_REQUEST, "Batch requests are not supported")


def gpa_cap_error(count: int) -> RpcError:
    """Helius's refusal of a getProgramAccounts answer above the cap."""
    return RpcError(INVALID_REQUEST, f"Too many accounts requested ({count} pubkeys), Please "
                                     "use getProgramAccountsV2 with pagination to handle "
                                     "large datasets.")


def subscription_limit_error(limit: int) -> RpcError:
    return RpcError(INVALID_REQUEST, f"Too many subscriptions on this connection "
                                     f"(at most {limit})")


@dataclass(frozen=True)
class HostedProfile:
    """A hosted provider's limits (see the module's docstring)."""

    rps: float = DEFAULT_RPS
    burst: float | None = None  # the bucket's size; one second's requests unless told
    gpa_cap: int = DEFAULT_GPA_CAP
    subscriptions_per_connection: int = DEFAULT_SUBSCRIPTIONS_PER_CONNECTION
    operator_key: str = field(default_factory=lambda: secrets.token_hex(8))

    def __post_init__(self) -> None:
        if not self.rps > 0:
            raise ValueError(f"rps must be > 0, not {self.rps!r}")
        if self.burst is not None and not self.burst >= 1:
            raise ValueError(f"burst must be >= 1, not {self.burst!r}")
        if self.gpa_cap < 1 or self.subscriptions_per_connection < 1:
            raise ValueError("the getProgramAccounts cap and the subscriptions per connection "
                             "must be >= 1")

    @property
    def bucket_size(self) -> float:
        return self.burst if self.burst is not None else max(1.0, self.rps)

    def describe(self) -> str:
        """The profile's values, for the localnet's ready line."""
        return (f"profile hosted: {self.rps:g} requests/s per client, getProgramAccounts "
                f"capped at {self.gpa_cap:,} accounts, {self.subscriptions_per_connection} "
                f"subscriptions per connection, operator key {self.operator_key}")


class RateLimiter:
    """A token bucket per client."""

    def __init__(self, profile: HostedProfile) -> None:
        self.profile = profile
        self._buckets: dict[str, tuple[float, float]] = {}  # client: (tokens, as of)

    def take(self, client: str, now: float | None = None) -> float | None:
        """Take one request's token for `client`: None when there was one, else the seconds
        until there is one (the Retry-After)."""
        now = time.monotonic() if now is None else now
        size, rate = self.profile.bucket_size, self.profile.rps
        tokens, as_of = self._buckets.get(client, (size, now))
        tokens = min(size, tokens + (now - as_of) * rate)
        if tokens >= 1:
            self._buckets[client] = (tokens - 1, now)
            return None
        self._buckets[client] = (tokens, now)
        return (1 - tokens) / rate


def retry_after_header(seconds: float) -> str:
    """Retry-After in whole seconds (the header takes no fraction), at least 1."""
    return str(max(1, math.ceil(seconds)))


def rate_limited_body() -> dict[str, Any]:
    return {"jsonrpc": "2.0", "error": {"code": RATE_LIMIT_CODE, "message": "Too many requests"},
            "id": None}


def capped_answer(response: Any, cap: int) -> Any:
    """A getProgramAccounts response with its answer replaced by the cap's error when it holds
    more than `cap` accounts; any other response as it was."""
    if not isinstance(response, dict) or "result" not in response:
        return response
    result = response["result"]
    accounts = result.get("value") if isinstance(result, dict) else result
    if not isinstance(accounts, list) or len(accounts) <= cap:
        return response
    return {"jsonrpc": "2.0", "error": gpa_cap_error(len(accounts)).to_json(),
            "id": response.get("id")}


def _env_number(name: str, parse: type[int] | type[float], at_least: float) -> Any:
    text = os.environ.get(name)
    if not text:
        return None
    try:
        value = parse(text)
    except ValueError:
        value = None
    if value is None or not value >= at_least:
        raise ValueError(f"{name} must be a number >= {at_least:g}, not {text!r}")
    return value


def default_profile() -> HostedProfile | None:
    """The profile PROFILE_ENV names ("validator", the default: none; "hosted"), with the
    values RPS_ENV, GPA_CAP_ENV, SUBSCRIPTIONS_ENV and OPERATOR_KEY_ENV give."""
    name = os.environ.get(PROFILE_ENV) or "validator"
    if name not in PROFILES:
        raise ValueError(f"{PROFILE_ENV} must be one of {', '.join(PROFILES)}, not {name!r}")
    if name == "validator":
        return None
    return profile_from(_env_number(RPS_ENV, float, 1e-9), _env_number(GPA_CAP_ENV, int, 1),
                        _env_number(SUBSCRIPTIONS_ENV, int, 1),
                        os.environ.get(OPERATOR_KEY_ENV) or None)


def profile_from(rps: float | None, gpa_cap: int | None, subscriptions: int | None,
                 operator_key: str | None) -> HostedProfile:
    """A hosted profile, each value not given its default."""
    values: dict[str, Any] = {"rps": rps, "gpa_cap": gpa_cap,
                              "subscriptions_per_connection": subscriptions,
                              "operator_key": operator_key}
    return HostedProfile(**{k: v for k, v in values.items() if v is not None})

"""The Redis URL forms the settings accept, and what a Sentinel URL names.

    redis://[[user]:password@]host[:port][/db]          one server (rediss:// over TLS,
    unix:///path/to/socket                               unix:// on a socket)
    redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/master[/db]
                                                         the master Redis Sentinel names
                                                         `master`, found through the
                                                         sentinels listed (port 26379 unless
                                                         given); user and password are the
                                                         master's

`parse_sentinel(url)` is a Sentinel URL's parts, or ValueError saying what is wrong without
quoting the URL (it may hold a password).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

SENTINEL_SCHEME = "redis+sentinel"
SENTINEL_PORT = 26379


@dataclass(frozen=True)
class SentinelTarget:
    """The sentinels to ask, the master's name among them, its database and credentials."""

    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    username: str | None = None
    password: str | None = None


def is_sentinel(url: str) -> bool:
    """Whether `url` names a master through Redis Sentinel."""
    return url.partition("://")[0].lower() == SENTINEL_SCHEME


def _host_port(entry: str) -> tuple[str, int]:
    """`host`, `host:port` or `[v6]:port`."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else rest
    else:
        host, _, port = entry.rpartition(":") if ":" in entry else (entry, "", "")
    if not host:
        raise ValueError("a sentinel names no host")
    if not port:
        return host, SENTINEL_PORT
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("a sentinel's port must be a number between 1 and 65535")
    return host, int(port)


def parse_sentinel(url: str) -> SentinelTarget:
    """The parts of a `redis+sentinel://` URL (see the module's docstring)."""
    scheme, found, rest = url.partition("://")
    if not found or scheme.lower() != SENTINEL_SCHEME:
        raise ValueError(f"not a Sentinel URL: the scheme must be {SENTINEL_SCHEME}://")
    if "?" in rest or "#" in rest:
        raise ValueError("a Sentinel URL takes no query or fragment")
    netloc, _, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    if not hosts:
        raise ValueError("a Sentinel URL names no sentinel")
    sentinels = tuple(_host_port(entry.strip()) for entry in hosts.split(","))
    master, _, db = path.partition("/")
    if not master:
        raise ValueError("a Sentinel URL names no master: redis+sentinel://hosts/master[/db]")
    db = db.rstrip("/")
    if db and not db.isdigit():
        raise ValueError("a Sentinel URL's database must be a whole number")
    return SentinelTarget(sentinels, unquote(master), int(db) if db else 0, username, password)

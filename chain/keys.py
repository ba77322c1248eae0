"""The keeper's keypair file, loaded the way the Solana CLI writes it: a JSON array of the 64
bytes of the secret key followed by the public key.

`load_keypair(path)` refuses, with `KeypairError`, a file that group or others may read, write
or execute (`mode & 0o077`: fix it with `chmod 600 PATH`) and a file that is not such an array.
A message never holds the file's contents, nor does any exception chained to it; and a solders
`Keypair`'s own repr prints the secret key, so a keypair is never put in a logged object.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from solders.keypair import Keypair

# a 64-byte array written as JSON is at most ~260 characters; anything much larger is not one
MAX_FILE_BYTES = 4096


class KeypairError(ValueError):
    """The keypair file is missing, open to others, or not a keypair; the message says which
    and never holds the file's contents."""


def _check_mode(path: Path, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise KeypairError(f"keypair file {path}: not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise KeypairError(
            f"keypair file {path} has mode {mode:04o}: group or others may access it, and a "
            f"secret key must be readable by its owner only; fix it with: chmod 600 {path}")


def check_keypair_file(path: Path) -> None:
    """That `path` is a regular file only its owner may access, without reading it."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise KeypairError(f"keypair file {path}: no such file") from None
    except OSError as e:
        raise KeypairError(f"keypair file {path}: cannot be read ({e.strerror})") from None
    _check_mode(path, st)


def load_keypair(path: Path) -> Keypair:
    """The keypair in `path`, a file only its owner may access, as `solana-keygen` writes it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise KeypairError(f"keypair file {path}: no such file") from None
    except OSError as e:
        raise KeypairError(f"keypair file {path}: cannot be read ({e.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        # the mode of the file actually opened, not of whatever the path names a moment later
        _check_mode(path, os.fstat(f.fileno()))
        raw = f.read(MAX_FILE_BYTES + 1)
    malformed = KeypairError(
        f"keypair file {path}: not a keypair: expected a JSON array of 64 numbers 0-255 (the "
        f"secret key, then the public key), as `solana-keygen new` writes")
    if len(raw) > MAX_FILE_BYTES:
        raise malformed
    try:
        values = json.loads(raw)
    except ValueError:  # not UTF-8, or not JSON: the error would quote the file, so drop it
        raise malformed from None
    if not (isinstance(values, list) and len(values) == 64
            and all(type(v) is int and 0 <= v <= 255 for v in values)):
        raise malformed
    try:
        return Keypair.from_bytes(bytes(values))
    except ValueError:
        raise KeypairError(
            f"keypair file {path}: not a keypair: its last 32 bytes are not the public key of "
            f"its first 32") from None

"""The localnet's accounts by owner, for `getProgramAccounts` without a scan of every account.

A validator answers `getProgramAccounts` from an index by owner; the localnet's ledger only
knows every address it ever saw, and reading each from LiteSVM made one answer cost the whole
chain (256 partitions of 10,000 positions took 14-18 s). `AccountIndex` keeps, per owner
program, the live accounts grouped by data size: each group's data in a 2-D uint8 array (rows
added with capacity doubling, removed by moving the last row into the hole), its addresses and
an address → row map. A query with a dataSize filter looks at one group, memcmp filters are
vectorized compares over the group's rows, and only the matches come back.

Each row also keeps the address's sequence number (the order the ledger first saw it), so the
matches come back in the order a scan of every address gave them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from solders.account import Account
from solders.pubkey import Pubkey

_INITIAL_ROWS = 4


@dataclass(frozen=True)
class Memcmp:
    """A memcmp filter: the data holds `expected` at `offset`."""

    offset: int
    expected: bytes

    def __call__(self, data: bytes) -> bool:
        return data[self.offset:self.offset + len(self.expected)] == self.expected


@dataclass(frozen=True)
class DataSize:
    """A dataSize filter: the data is `size` bytes long."""

    size: int

    def __call__(self, data: bytes) -> bool:
        return len(data) == self.size


Filter = Memcmp | DataSize


class _Group:
    """The accounts of one owner whose data is `size` bytes long."""

    def __init__(self, size: int) -> None:
        self.size = size
        # column-major: a memcmp's column over every row is contiguous (row-major, a one-byte
        # compare over a million 136-byte rows was a cache miss a row)
        self.data: npt.NDArray[np.uint8] = np.zeros((_INITIAL_ROWS, size), np.uint8, order="F")
        self.seq: npt.NDArray[np.int64] = np.zeros(_INITIAL_ROWS, np.int64)
        self.addresses: list[Pubkey] = []
        self.rows: dict[Pubkey, int] = {}

    def put(self, address: Pubkey, data: bytes, seq: int) -> None:
        row = self.rows.get(address)
        if row is None:
            row = len(self.addresses)
            if row == len(self.seq):
                # doubling: a million positions written one batch at a time stay linear
                grown = np.zeros((2 * row, self.size), np.uint8, order="F")
                grown[:row] = self.data
                self.data = grown
                self.seq = np.concatenate([self.seq, np.zeros_like(self.seq)])
            self.addresses.append(address)
            self.rows[address] = row
        self.data[row] = np.frombuffer(data, np.uint8)
        self.seq[row] = seq

    def remove(self, address: Pubkey) -> None:
        row = self.rows.pop(address)
        last = len(self.addresses) - 1
        moved = self.addresses.pop()
        if row != last:
            self.addresses[row] = moved
            self.rows[moved] = row
            self.data[row] = self.data[last]
            self.seq[row] = self.seq[last]

    def matching(self, memcmps: Sequence[Memcmp]) -> npt.NDArray[np.intp]:
        """The rows whose data passes every memcmp."""
        count = len(self.addresses)
        # an empty slice equals empty bytes, wherever it is
        compares = sorted((m for m in memcmps if m.expected), key=lambda m: len(m.expected))
        if any(m.offset + len(m.expected) > self.size for m in compares):
            return np.zeros(0, np.intp)
        if not compares:
            return np.arange(count)
        # one-byte compares (a side, an owner's prefix) over every row's column, without a
        # copy of the rows, then the longer ones over the few rows left: the shortest first
        # where none is one byte
        single = [m for m in compares if len(m.expected) == 1] or compares[:1]
        passed = np.ones(count, bool)
        for memcmp in single:
            passed &= self._equal(slice(count), memcmp)
        rows = np.flatnonzero(passed)
        for memcmp in compares:
            if memcmp in single or not len(rows):
                continue
            rows = rows[self._equal(rows, memcmp)]
        return rows

    def _equal(self, rows: slice | npt.NDArray[np.intp],
               memcmp: Memcmp) -> npt.NDArray[np.bool_]:
        """Per row of `rows`, whether it holds the memcmp's bytes at its offset (only the
        memcmp's columns read: a column is contiguous, a row is not)."""
        width = len(memcmp.expected)
        equal: npt.NDArray[np.bool_]
        if width == 1:
            equal = self.data[rows, memcmp.offset] == memcmp.expected[0]
        else:
            window = self.data[rows, memcmp.offset:memcmp.offset + width]
            equal = (window == np.frombuffer(memcmp.expected, np.uint8)).all(axis=1)
        return equal


class AccountIndex:
    """Live accounts by owner and data size; see the module docstring."""

    def __init__(self) -> None:
        self._groups: dict[Pubkey, dict[int, _Group]] = {}
        self._where: dict[Pubkey, _Group] = {}

    def update(self, address: Pubkey, account: Account | None, seq: int) -> None:
        """Record `address`'s current state (None: it does not exist)."""
        group = self._where.get(address)
        if account is not None:
            data = bytes(account.data)
            owned = self._groups.setdefault(account.owner, {})
            target = owned.get(len(data))
            if target is None:
                target = owned[len(data)] = _Group(len(data))
            if group is not target:
                if group is not None:
                    group.remove(address)
                self._where[address] = target
            target.put(address, data, seq)
        elif group is not None:
            group.remove(address)
            del self._where[address]

    def matches(self, owner: Pubkey, filters: Sequence[Filter]) -> list[Pubkey]:
        """The addresses of `owner`'s accounts that pass every filter, by sequence number."""
        owned = self._groups.get(owner, {})
        sizes = {f.size for f in filters if isinstance(f, DataSize)}
        if len(sizes) > 1:
            return []
        groups = [owned[s] for s in sizes if s in owned] if sizes else list(owned.values())
        memcmps = [f for f in filters if isinstance(f, Memcmp)]
        found: list[Pubkey] = []
        seqs = []
        for group in groups:
            rows = group.matching(memcmps)
            found += [group.addresses[r] for r in rows.tolist()]
            seqs.append(group.seq[rows])
        if not found:
            return found
        order = np.argsort(np.concatenate(seqs), kind="stable")
        return [found[i] for i in order.tolist()]

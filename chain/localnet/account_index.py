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
        self.data: npt.NDArray[np.uint8] = np.zeros((_INITIAL_ROWS, size), np.uint8)
        self.seq: npt.NDArray[np.int64] = np.zeros(_INITIAL_ROWS, np.int64)
        self.addresses: list[Pubkey] = []
        self.rows: dict[Pubkey, int] = {}

    def put(self, address: Pubkey, data: bytes, seq: int) -> None:
        row = self.rows.get(address)
        if row is None:
            row = len(self.addresses)
            if row == len(self.seq):
                # doubling: a million positions written one batch at a time stay linear
                self.data = np.concatenate([self.data, np.zeros_like(self.data)])
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
        rows: npt.NDArray[np.intp] | None = None  # None: every row, not yet narrowed
        # shortest first: a one-byte compare over every row is cheap and (an owner's prefix)
        # often selective, so the longer ones run over few rows
        for memcmp in sorted(memcmps, key=lambda m: len(m.expected)):
            width = len(memcmp.expected)
            if not width:
                continue  # an empty slice equals empty bytes, wherever it is
            if memcmp.offset + width > self.size:
                return np.zeros(0, np.intp)
            expected = np.frombuffer(memcmp.expected, np.uint8)
            columns = slice(memcmp.offset, memcmp.offset + width)
            # over every row, a view (no copy of the rows); once narrowed, the few left
            window = self.data[:count, columns] if rows is None else self.data[rows, columns]
            passed = window[:, 0] == expected[0] if width == 1 \
                else (window == expected).all(axis=1)
            rows = np.flatnonzero(passed) if rows is None else rows[passed]
            if not len(rows):
                break
        return np.arange(count) if rows is None else rows


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

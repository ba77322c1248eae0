"""program/src/math/checked.h on the real SBF runtime (LiteSVM), against Python integers.

probe.c is built with clang-19 for SBPF v0, linked, loaded into LiteSVM, and fed batches of
vectors per op; its return data carries each result and the compute units the helper took
(measured with sol_remaining_compute_units around the call).
"""

from __future__ import annotations

import random
import statistics
import struct
from collections.abc import Sequence

import pytest
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.transaction import Transaction
from solders.transaction_metadata import FailedTransactionMetadata

from program.toolchain.deploy import deploy_upgradeable, new_svm
from tests.support.checked_math import (
    BY_NAME,
    M64,
    M128,
    NOP_CODE,
    OPS,
    SENTINEL,
    WORDS_IN,
    Op,
    boundary_vectors,
    edge_vectors,
    encode,
    expected_words,
    random_vectors,
)

BATCH = 20  # vectors per instruction: 8 + 20*48 bytes of data, 20*48 bytes of return data
RECORD = 48  # ok, cu, 4 result words


class SvmProbe:
    def __init__(self, so: bytes) -> None:
        self.payer = Keypair()
        # the strict deployment: loader-v3 checks catch what the lenient loader lets through
        self.svm = new_svm()
        self.svm.airdrop(self.payer.pubkey(), 100_000_000_000)
        self.program = deploy_upgradeable(self.svm, self.payer, so)
        self.nonce = 0  # keeps otherwise identical transactions distinct

    def send(self, data: bytes) -> tuple[bool, object]:
        ix = Instruction(self.program, data, [])
        blockhash = self.svm.latest_blockhash()
        msg = Message.new_with_blockhash([ix], self.payer.pubkey(), blockhash)
        res = self.svm.send_transaction(Transaction([self.payer], msg, blockhash))
        return not isinstance(res, FailedTransactionMetadata), res

    def header(self, code: int, n: int) -> bytes:
        self.nonce += 1
        return struct.pack("<Q", code | n << 8 | self.nonce << 16)

    def run(self, code: int, vectors: Sequence[list[int]]) -> list[tuple[bool, int, list[int]]]:
        """(ok, compute units, result words) per vector."""
        out: list[tuple[bool, int, list[int]]] = []
        for i in range(0, len(vectors), BATCH):
            chunk = vectors[i : i + BATCH]
            data = self.header(code, len(chunk))
            data += b"".join(struct.pack(f"<{WORDS_IN}Q", *w) for w in chunk)
            ok, res = self.send(data)
            assert ok, f"op {code} failed: {res.err()} {res.meta().logs()}"  # type: ignore[attr-defined]
            ret = bytes(res.return_data().data)  # type: ignore[attr-defined]
            assert len(ret) == RECORD * len(chunk)
            for k in range(len(chunk)):
                flag, cu, *words = struct.unpack_from("<6Q", ret, RECORD * k)
                assert flag in (0, 1)
                out.append((bool(flag), cu, words))
        return out

    def check(self, op: Op, vectors: Sequence[tuple[int, ...]]) -> list[int]:
        """Compare every vector with Python; returns the compute units of each."""
        results = self.run(op.code, [encode(op, v) for v in vectors])
        for v, (ok, _cu, words) in zip(vectors, results, strict=True):
            want_ok, want = expected_words(op, v)
            assert (ok, words) == (want_ok, want), (
                f"{op.name}{tuple(hex(a) for a in v)} on SBF: got ok={ok} "
                f"{[hex(w) for w in words]}, want ok={want_ok} {[hex(w) for w in want]}"
            )
        return [cu for _ok, cu, _w in results]


@pytest.fixture(scope="module")
def svm(probe_so: bytes) -> SvmProbe:
    return SvmProbe(probe_so)


def vectors_for(op: Op, n_edges: int = 3000, n_random: int = 1000) -> list[tuple[int, ...]]:
    rng = random.Random(op.code)
    edges = list(edge_vectors(op))
    return [
        *boundary_vectors(op),
        *rng.sample(edges, min(n_edges, len(edges))),
        *random_vectors(op, n_random, seed=2),
    ]


@pytest.mark.parametrize("name", [op.name for op in OPS])
def test_matches_python_on_sbf(svm: SvmProbe, name: str) -> None:
    op = BY_NAME[name]
    svm.check(op, vectors_for(op))


def test_probe_rejects_bad_input(svm: SvmProbe) -> None:
    ok, _cu, words = svm.run(NOP_CODE, [[5, 6, 7, 8, 9, 10]])[0]
    assert ok and words == [5, SENTINEL, SENTINEL, SENTINEL]
    ok, res = svm.send(svm.header(200, 1) + bytes(48))  # unknown op
    assert not ok and "custom program error: 0x2" in " ".join(res.meta().logs())  # type: ignore[attr-defined]
    ok, res = svm.send(svm.header(1, 2) + bytes(48))  # length does not match the count
    assert not ok and "custom program error: 0x1" in " ".join(res.meta().logs())  # type: ignore[attr-defined]


# worst cases found by search, plus the shapes that take the longest paths
CU_CASES: dict[str, list[tuple[int, ...]]] = {
    "u64_mul_div_floor": [(10**12, 30, 10**4), (10**12, 10**8, 10**6), (M64, M64 - 1, M64),
                          (M64, 1 << 63, (1 << 63) + 1),
                          (0xFFFFFFFF_80000000, 0xFFFFFFFF_FFFFFFFE, 0x80000000_00000001)],
    "u64_mul_div_ceil": [(10**12, 30, 10**4), (M64, M64 - 1, M64),
                         (M64 - 1, 0x8000_0001_0000_0000, M64 - 2)],
    "i64_mul_div_floor": [(-(10**12), 10**8, 10**6), (-(1 << 62), M64 - 1, M64)],
    "u128_divmod": [(1 << 100, 10**12), (M128, M64), (M128, 1 << 64 | 1),
                    (M128, 0x8000_0000_0000_0000_0000_0001),
                    (M128, 3), (M64 * M64, M64 - 1)],
    "u128_mul_div_floor": [(10**15, 10**12, 10**15 + 10**12), (M64, M64 - 1, M64),
                           (M128, M128 - 1, M128), (M128 >> 1, M128, M128 - 5),
                           (10**20, 10**20, 10**12), (M128, 1 << 127, (1 << 127) + 1)],
    "u128_isqrt": [(M128,), (M128 - 1,), ((1 << 64) - 1,), (1 << 64,), (10**30,), (3,)],
}  # fmt: skip


def test_compute_units(svm: SvmProbe) -> None:
    """Prints the compute units of every helper (net of the meter's own cost); no limits."""
    base = min(cu for _ok, cu, _w in svm.run(NOP_CODE, [[0] * WORDS_IN] * 10))
    lines = [f"compute units per call, net of the meter ({base} CU):",
             f"{'helper':<20} {'median':>6} {'max':>5}  worst input"]  # fmt: skip
    for op in OPS:
        vecs = vectors_for(op, n_edges=200, n_random=200) + CU_CASES.get(op.name, [])
        cus = [cu - base for cu in svm.check(op, vecs)]
        worst = max(range(len(vecs)), key=cus.__getitem__)
        args = ", ".join(hex(a) for a in vecs[worst])
        lines.append(f"{op.name:<20} {statistics.median(cus):>6.0f} {cus[worst]:>5}  ({args})")
        for case in CU_CASES.get(op.name, []):
            cu = cus[vecs.index(case)]
            lines.append(f"{'':<20} {'':>6} {cu:>5}  ({', '.join(hex(a) for a in case)})")
    print("\n".join(lines))

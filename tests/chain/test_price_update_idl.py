"""chain.price_update against the reference the ecosystem uses: the Pyth Solana Receiver's own
IDL (npm @pythnetwork/pyth-solana-receiver, installed by scripts/setup) decodes what our
writer writes, with @coral-xyz/anchor, field for field, for both verification levels."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from solders.pubkey import Pubkey

from chain.price_update import PriceUpdate, Verification

# where scripts/setup installs the receiver's package and @coral-xyz/anchor
ANCHOR_TS = Path(__file__).resolve().parents[2] / ".venv" / "anchor-ts" / "node_modules"
PACKAGE = "@pythnetwork/pyth-solana-receiver"

# The receiver's IDL is in Anchor's pre-0.30 format: decode it with the @coral-xyz/anchor the
# package itself depends on. Integers come back as decimal strings, keys in base 58.
NODE_DECODE = """
const path = require('path');
const pkg = path.dirname(require.resolve('@PACKAGE@/package.json'));
const { IDL } = require('@PACKAGE@/idl/pyth_solana_receiver');
const anchor = require(require.resolve('@coral-xyz/anchor', { paths: [pkg] }));
const plain = (v) => anchor.BN.isBN(v) ? v.toString(10)
    : v instanceof anchor.web3.PublicKey ? v.toBase58()
    : Array.isArray(v) ? v.map(plain)
    : v && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)])) : v;
const data = Buffer.from(require('fs').readFileSync(0, 'utf8').trim(), 'hex');
const coder = new anchor.BorshAccountsCoder(IDL);
console.log(JSON.stringify(plain(coder.decode('priceUpdateV2', data))));
""".replace("@PACKAGE@", PACKAGE)


def node_env() -> dict[str, str]:
    env = os.environ.copy()
    env["NODE_PATH"] = os.pathsep.join(p for p in (str(ANCHOR_TS), env.get("NODE_PATH")) if p)
    return env


def _unavailable() -> str | None:
    """Why the receiver's IDL cannot be run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    found = subprocess.run(["node", "-e", f"require.resolve('{PACKAGE}/package.json')"],
                           capture_output=True, check=False, env=node_env())
    if found.returncode != 0:
        return f"{PACKAGE} is not installed in {ANCHOR_TS} (scripts/setup installs it)"
    return None


def decoded(update: PriceUpdate) -> dict[str, object]:
    out = subprocess.run(["node", "-e", NODE_DECODE], input=update.encode().hex(), text=True,
                         capture_output=True, check=True, env=node_env())
    result: dict[str, object] = json.loads(out.stdout)
    return result


UPDATES = [
    PriceUpdate(feed_id=bytes(range(100, 132)), price=6_425_012_345_600, conf=3_212_506_172,
                exponent=-8, publish_time=1_717_000_123, posted_slot=271_828_182,
                prev_publish_time=1_717_000_122, ema_price=6_424_000_000_000,
                ema_conf=3_000_000_000, write_authority=bytes(range(32))),
    PriceUpdate(feed_id=bytes(range(32)), price=-(2**63), conf=2**64 - 1, exponent=-(2**31),
                publish_time=-1, posted_slot=2**64 - 1, prev_publish_time=2**63 - 1,
                ema_price=-5, ema_conf=7, write_authority=bytes([255] * 32),
                verification=Verification.PARTIAL, num_signatures=13),
]


@pytest.mark.skipif(_unavailable() is not None, reason=_unavailable() or "")
@pytest.mark.parametrize("update", UPDATES, ids=["full", "partial, extremes"])
def test_the_receivers_idl_reads_what_we_write(update: PriceUpdate) -> None:
    level: object = ({"full": {}} if update.verification == Verification.FULL
                     else {"partial": {"numSignatures": update.num_signatures}})
    assert decoded(update) == {
        "writeAuthority": str(Pubkey.from_bytes(update.write_authority)),
        "verificationLevel": level,
        "priceMessage": {
            "feedId": list(update.feed_id), "price": str(update.price),
            "conf": str(update.conf), "exponent": update.exponent,
            "publishTime": str(update.publish_time),
            "prevPublishTime": str(update.prev_publish_time),
            "emaPrice": str(update.ema_price), "emaConf": str(update.ema_conf),
        },
        "postedSlot": str(update.posted_slot),
    }
    assert PriceUpdate.decode(update.encode()) == update

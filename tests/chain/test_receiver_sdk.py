"""chain.accumulator and chain.receiver against Pyth's own SDK: given the same Hermes update
(tests/chain/data, from the SDK's README), npm `@pythnetwork/pyth-solana-receiver` builds the
instructions that post it (atomically, through an encoded VAA, and to the push oracle's
feed accounts) and `@pythnetwork/price-service-sdk` parses it (js/receiver_sdk.cjs); ours must
be the same, byte for byte: program, accounts with their flags, data.

The SDK picks its new accounts' keys at random: ours are given the keys it picked. Node and
the packages are installed by scripts/setup, so their absence fails the test."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from solders.instruction import Instruction
from solders.pubkey import Pubkey

from chain import accumulator
from chain.accumulator import price_message, trim_signatures
from chain.receiver import Receiver
from tests.support.node import ANCHOR_TS, node_env

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "js" / "receiver_sdk.cjs"
UPDATE_DATA = base64.b64decode((HERE / "data" / "hermes_sol_eth.b64").read_text())
SOL_USD = bytes.fromhex("ef0d8b6fda2ceba41da15d4095d1da392a0d2f8ed0c6c7bc0f4cfac8c280b56d")
ETH_USD = bytes.fromhex("ff61491a931112ddf1bd8147cd1b641375f79f5825126d665480874634fd0ace")
TREASURY_ID, SHARD_ID, RENT = 7, 1, 7_621_440


@pytest.fixture(scope="module")
def sdk() -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None, "node is not installed (scripts/setup installs it)"
    assert (ANCHOR_TS / "@pythnetwork" / "pyth-solana-receiver").exists(), \
        f"@pythnetwork/pyth-solana-receiver is not in {ANCHOR_TS} (scripts/setup installs it)"
    request = {"data": base64.b64encode(UPDATE_DATA).decode(), "treasuryId": TREASURY_ID,
               "shardId": SHARD_ID, "rent": RENT}
    out = subprocess.run([node, str(SCRIPT)], input=json.dumps(request), text=True,
                         capture_output=True, check=False, env=node_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def plain(ix: Instruction) -> dict[str, object]:
    """An instruction as the script prints one, without its signers."""
    return {"programId": str(ix.program_id),
            "keys": [[str(m.pubkey), m.is_signer, m.is_writable] for m in ix.accounts],
            "data": bytes(ix.data).hex()}


def theirs(built: list[dict[str, Any]]) -> list[dict[str, object]]:
    return [{k: v for k, v in ix.items() if k != "signers"} for ix in built]


def signer(ix: dict[str, Any]) -> Pubkey:
    (key,) = ix["signers"]
    return Pubkey.from_string(key)


def test_our_parse_is_the_sdks() -> None:
    parsed = accumulator.parse(UPDATE_DATA)
    assert [price_message(u.message, posted_slot=0).feed_id for u in parsed.updates] == \
        [SOL_USD, ETH_USD]
    assert accumulator.guardian_set_index(parsed.vaa) == 3


def test_the_sdk_parses_the_same_vaa_and_updates(sdk: dict[str, Any]) -> None:
    parsed = accumulator.parse(UPDATE_DATA)
    assert parsed.vaa.hex() == sdk["parsed"]["vaa"]
    assert [{"message": u.message.hex(), "proof": [h.hex() for h in u.proof]}
            for u in parsed.updates] == sdk["parsed"]["updates"]


def test_post_update_atomic_is_the_sdks(sdk: dict[str, Any]) -> None:
    parsed = accumulator.parse(UPDATE_DATA)
    receiver = Receiver(Pubkey.from_string(sdk["payer"]), treasury_id=TREASURY_ID)
    built = sdk["atomic"]["post"]
    accounts = [signer(ix) for ix in built]
    ours = [receiver.post_update_atomic(trim_signatures(parsed.vaa), update, account)
            for update, account in zip(parsed.updates, accounts, strict=True)]
    assert [plain(ix) for ix in ours] == theirs(built)
    assert [plain(receiver.reclaim_rent(a)) for a in accounts] == theirs(sdk["atomic"]["close"])


def test_posting_through_an_encoded_vaa_is_the_sdks(sdk: dict[str, Any]) -> None:
    parsed = accumulator.parse(UPDATE_DATA)
    receiver = Receiver(Pubkey.from_string(sdk["payer"]), treasury_id=TREASURY_ID)
    built = sdk["full"]["post"]
    encoded_vaa = signer(built[0])
    first, second = receiver.post_encoded_vaa(parsed.vaa, encoded_vaa, RENT)
    accounts = [signer(ix) for ix in built[len(first) + len(second):]]
    posts = [receiver.post_update(encoded_vaa, update, account)
             for update, account in zip(parsed.updates, accounts, strict=True)]
    assert [plain(ix) for ix in [*first, *second, *posts]] == theirs(built)
    closes = [receiver.close_encoded_vaa(encoded_vaa), *map(receiver.reclaim_rent, accounts)]
    assert [plain(ix) for ix in closes] == theirs(sdk["full"]["close"])


def test_updating_the_push_oracles_feeds_is_the_sdks(sdk: dict[str, Any]) -> None:
    parsed = accumulator.parse(UPDATE_DATA)
    receiver = Receiver(Pubkey.from_string(sdk["payer"]), treasury_id=TREASURY_ID)
    built = sdk["push"]["post"]
    encoded_vaa = signer(built[0])
    first, second = receiver.post_encoded_vaa(parsed.vaa, encoded_vaa, RENT)
    updates = [receiver.update_price_feed(encoded_vaa, u, feed, SHARD_ID)
               for u, feed in zip(parsed.updates, [SOL_USD, ETH_USD], strict=True)]
    assert [plain(ix) for ix in [*first, *second, *updates]] == theirs(built)
    assert [plain(receiver.close_encoded_vaa(encoded_vaa))] == theirs(sdk["push"]["close"])


def test_the_sample_is_what_hermes_published() -> None:
    sol = price_message(accumulator.parse(UPDATE_DATA).updates[0].message, posted_slot=9)
    assert (sol.feed_id, sol.price, sol.exponent, sol.publish_time, sol.posted_slot) == \
        (SOL_USD, 17_489_928_876, -8, 1_712_327_565, 9)


@pytest.mark.parametrize("mangle, error", [
    (lambda d: b"PNAV" + d[4:], "magic"),
    (lambda d: d[:4] + b"\x02" + d[5:], "major version"),
    (lambda d: d[:-1], "truncated"),
    (lambda d: d + b"\0", "after the last update"),
], ids=["magic", "version", "truncated", "trailing"])
def test_malformed_update_data_is_refused(mangle: Any, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        accumulator.parse(mangle(UPDATE_DATA))


def test_trimming_keeps_the_first_signatures_and_the_body() -> None:
    vaa = accumulator.parse(UPDATE_DATA).vaa
    trimmed = trim_signatures(vaa, 2)
    assert trimmed[5] == 2 and len(trimmed) == len(vaa) - 11 * 66
    assert trimmed[:5] == vaa[:5] and trimmed[6:6 + 2 * 66] == vaa[6:6 + 2 * 66]
    assert trimmed[6 + 2 * 66:] == vaa[6 + 13 * 66:]  # the body, after the signatures
    with pytest.raises(ValueError):
        trim_signatures(vaa, 14)


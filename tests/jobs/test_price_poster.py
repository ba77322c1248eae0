"""How `post_price` posts: on a real cluster, Hermes' update through the receiver, in two
transactions that fit Solana's size limit and carry the instructions chain/receiver.py builds
(checked byte for byte against Pyth's SDK in tests/chain/test_receiver_sdk.py); on the
localnet, the direct write. A fake sender and RPC stand in for the cluster: the receiver and
Wormhole programs cannot run here."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction

from chain import accumulator
from chain.client import Endpoint
from chain.publisher import PublishError
from chain.receiver import WORMHOLE_PROGRAM
from chain.sender import AlreadyDone, Expired, Intent, Landed, SendResult
from fleet.settings import PriceSettings, Settings, SettingsError
from jobs.price_poster import (
    CannotPost,
    DirectWrite,
    ReceiverPoster,
    load_pull_keys,
    price_poster,
)
from jobs.price_source import Sourced
from program.client import RECEIVER_PROGRAM

DATA = Path(__file__).resolve().parents[1] / "chain" / "data" / "hermes_sol_eth.b64"
UPDATE_DATA = base64.b64decode(DATA.read_text())
ETH_USD = bytes.fromhex("ff61491a931112ddf1bd8147cd1b641375f79f5825126d665480874634fd0ace")
PACKET_LIMIT = 1232  # a transaction's bytes, signatures included
RENT = 7_621_440


class FakeSender:
    """Records what it is asked to send and answers `results` in turn."""

    def __init__(self, results: Sequence[SendResult] = ()) -> None:
        self.payer = Keypair()
        self.sent: list[tuple[list[Instruction], list[Keypair]]] = []
        self.results = list(results)

    async def send(self, intent: Intent, signers: Sequence[Keypair] = ()) -> SendResult:
        ixs = await intent.instructions()
        assert ixs is not None
        self.sent.append((list(ixs), list(signers)))
        return self.results.pop(0) if self.results else Landed(Keypair().sign_message(b""), 1)


class FakeRpc:
    """Answers the rent of the encoded VAA; no account exists."""

    async def call(self, method: str, *args: Any) -> Any:
        if method == "get_minimum_balance_for_rent_exemption":
            return SimpleNamespace(value=RENT)
        assert method == "get_account_info"
        return SimpleNamespace(value=None)


def sourced(data: bytes | None = UPDATE_DATA) -> Sourced:
    message = accumulator.parse(UPDATE_DATA).updates[1].message
    return Sourced(accumulator.price_message(message, posted_slot=5), data)


def poster(sender: FakeSender, keys: dict[Pubkey, Keypair]) -> ReceiverPoster:
    return ReceiverPoster(sender, FakeRpc(), keys)  # type: ignore[arg-type]


async def test_a_post_is_two_transactions_that_fit() -> None:
    sender, pull = FakeSender(), Keypair()
    await poster(sender, {pull.pubkey(): pull}).post(pull.pubkey(), sourced())
    (first, first_signers), (second, second_signers) = sender.sent
    assert [ix.program_id for ix in second][-2:] == [RECEIVER_PROGRAM, WORMHOLE_PROGRAM]
    assert second_signers == [pull]
    encoded = first_signers[0].pubkey()
    assert first[0].accounts[1].pubkey == encoded  # created here, then written, verified
    post = second[-2]
    assert post.accounts[1].pubkey == encoded and post.accounts[4].pubkey == pull.pubkey()
    # the ETH/USD update, of the two the data proves
    assert bytes(post.data)[12:12 + 85] == accumulator.parse(UPDATE_DATA).updates[1].message
    for ixs, signers in sender.sent:
        # the Sender adds its two compute-budget instructions
        budget = [Instruction(Pubkey.from_string("ComputeBudget111111111111111111111111111111"),
                              bytes(9), [])] * 2
        message = Message([*budget, *ixs], sender.payer.pubkey())
        tx = Transaction([sender.payer, *signers], message, Hash.default())
        assert len(bytes(tx)) <= PACKET_LIMIT


async def test_a_post_that_does_not_land_is_a_retry_and_closes_the_encoded_vaa() -> None:
    pull = Keypair()
    sender = FakeSender([AlreadyDone(), Expired(3)])
    with pytest.raises(PublishError, match="Expired"):
        await poster(sender, {pull.pubkey(): pull}).post(pull.pubkey(), sourced())
    encoded = sender.sent[0][1][0].pubkey()
    (close,), signers = sender.sent[-1]
    assert (close.program_id, close.accounts[1].pubkey, signers) == \
        (WORMHOLE_PROGRAM, encoded, [])


async def test_without_the_pull_accounts_key_or_a_proof_nothing_is_sent() -> None:
    sender, pull = FakeSender(), Keypair()
    with pytest.raises(CannotPost, match="no keypair"):
        await poster(sender, {}).post(pull.pubkey(), sourced())
    with pytest.raises(CannotPost, match="proves nothing"):
        await poster(sender, {pull.pubkey(): pull}).post(pull.pubkey(), sourced(None))
    with pytest.raises(PublishError, match="no update of the feed"):
        other = Sourced(replace(sourced().update, feed_id=bytes(32)), UPDATE_DATA)
        await poster(sender, {pull.pubkey(): pull}).post(pull.pubkey(), other)
    assert sender.sent == []


def test_pull_keys_load_by_address(tmp_path: Path) -> None:
    keys = [Keypair() for _ in range(2)]
    for i, key in enumerate(keys):
        path = tmp_path / f"pull{i}.json"
        path.write_text(json.dumps(list(bytes(key))))
        path.chmod(0o600)
    assert load_pull_keys(tmp_path) == {k.pubkey(): k for k in keys}
    (tmp_path / "pull0.json").chmod(0o644)
    with pytest.raises(SettingsError, match=r"KEEPERNET_PULL_KEYS .*pull0\.json"):
        load_pull_keys(tmp_path)


def _settings(url: str) -> Settings:
    return Settings(rpc=(Endpoint("main", url),), database_url="postgresql://127.0.0.1/none",
                    program_id=Keypair().pubkey(), prices=PriceSettings(source="hermes"))


async def test_the_localnet_is_written_and_a_real_cluster_posted_through_the_receiver() -> None:
    sender: Any = FakeSender()
    rpc: Any = FakeRpc()
    async with price_poster(_settings("http://127.0.0.1:8899"), sender, rpc) as local:
        assert isinstance(local, DirectWrite)
    async with price_poster(_settings("https://api.mainnet-beta.solana.com"), sender,
                            rpc) as remote:
        assert isinstance(remote, ReceiverPoster)

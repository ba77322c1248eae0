"""Token accounts and mints in jsonParsed, and the token queries, as a validator answers them:
checked against Agave's account-decoder shapes and parsed by solders/solana-py."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solana.rpc.types import TokenAccountOpts
from solders.keypair import Keypair
from solders.rpc.responses import GetTokenAccountsByOwnerJsonParsedResp
from spl.token.constants import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID
from spl.token.instructions import ApproveParams, approve

from chain.localnet import Localnet, run_localnet
from chain.localnet.token_state import ui_amount_string
from demo.servers import free_port_pair
from tests.support.localnet import raw, rpc, send

QUOTE = 10**6  # one token in base units: the quote mint has 6 decimals


@pytest.fixture
async def net() -> AsyncIterator[Localnet]:
    async with run_localnet(free_port_pair()) as localnet:
        yield localnet


@pytest.fixture
async def client(net: Localnet) -> AsyncIterator[AsyncClient]:
    c = AsyncClient(net.url, commitment=Confirmed)
    yield c
    await c.close()


async def _error(net: Localnet, method: str, *params: object) -> dict[str, object]:
    answer = await raw(net, {"jsonrpc": "2.0", "id": 1, "method": method,
                             "params": list(params)})
    error: dict[str, object] = answer["error"]
    return error


async def test_token_accounts_and_mints_in_json_parsed(net: Localnet,
                                                       client: AsyncClient) -> None:
    user = net.users[0]
    mint = net.deployment.quote_mint
    parsed = {"encoding": "jsonParsed"}
    account = (await rpc(net, "getAccountInfo", str(user.token), parsed))["value"]
    assert account["data"] == {"program": "spl-token", "space": 165, "parsed": {
        "type": "account", "info": {
            "isNative": False, "mint": str(mint), "owner": str(user.key),
            "state": "initialized",
            "tokenAmount": {"amount": str(10**12), "decimals": 6, "uiAmount": 1e6,
                            "uiAmountString": "1000000"}}}}
    assert account["owner"] == str(TOKEN_PROGRAM_ID) and account["space"] == 165
    minted = (await rpc(net, "getAccountInfo", str(mint), parsed))["value"]["data"]
    assert minted["parsed"]["type"] == "mint"
    assert minted["parsed"]["info"] == {
        "decimals": 6, "freezeAuthority": None, "isInitialized": True,
        "mintAuthority": str(net.admin.pubkey()),
        "supply": minted["parsed"]["info"]["supply"]}
    # what the account-decoder cannot parse stays base64, as on a validator
    config = (await rpc(net, "getAccountInfo", str(net.deployment.config), parsed))["value"]
    assert config["data"][1] == "base64"
    many = (await rpc(net, "getMultipleAccounts", [str(user.token), str(user.key)],
                      parsed))["value"]
    assert many[0]["data"]["program"] == "spl-token" and many[1]["data"] == ["", "base64"]
    every = await rpc(net, "getProgramAccounts", str(TOKEN_PROGRAM_ID), parsed)
    assert {a["account"]["data"]["parsed"]["type"] for a in every} == {"account", "mint"}
    sliced = await _error(net, "getAccountInfo", str(user.token),
                          {"encoding": "jsonParsed", "dataSlice": {"offset": 0, "length": 8}})
    assert sliced["code"] == -32600

    # solana-py / solders parse it
    info = await client.get_account_info_json_parsed(user.token)
    assert info.value is not None
    assert info.value.data.parsed["info"]["owner"] == str(user.key)  # type: ignore[union-attr]


async def test_token_queries(net: Localnet, client: AsyncClient) -> None:
    user, other = net.users[0], net.users[1]
    mint = net.deployment.quote_mint
    mine = await client.get_token_accounts_by_owner_json_parsed(
        user.key, TokenAccountOpts(mint=mint))
    assert [a.pubkey for a in mine.value] == [user.token]
    assert mine.value[0].account.data.parsed["info"]["tokenAmount"]["amount"] == str(10**12)
    by_program = await client.get_token_accounts_by_owner(
        user.key, TokenAccountOpts(program_id=TOKEN_PROGRAM_ID))
    assert [a.pubkey for a in by_program.value] == [user.token]
    assert len(by_program.value[0].account.data) == 165  # base64 unless told
    nobody = await rpc(net, "getTokenAccountsByOwner", str(Keypair().pubkey()),
                       {"programId": str(TOKEN_2022_PROGRAM_ID)}, {"encoding": "jsonParsed"})
    assert nobody["value"] == []
    answer = await raw(net, {"jsonrpc": "2.0", "id": 1, "method": "getTokenAccountsByOwner",
                             "params": [str(user.key), {"mint": str(mint)},
                                        {"encoding": "jsonParsed"}]})
    typed = GetTokenAccountsByOwnerJsonParsedResp.from_json(json.dumps(answer))
    assert [a.pubkey for a in typed.value] == [user.token]

    delegate = Keypair()
    await send(client, [approve(ApproveParams(
        program_id=TOKEN_PROGRAM_ID, source=other.token, delegate=delegate.pubkey(),
        owner=other.key, amount=5 * QUOTE))], other.kp)
    delegated = await client.get_token_accounts_by_delegate_json_parsed(
        delegate.pubkey(), TokenAccountOpts(program_id=TOKEN_PROGRAM_ID))
    assert [a.pubkey for a in delegated.value] == [other.token]
    info = delegated.value[0].account.data.parsed["info"]
    assert info["delegate"] == str(delegate.pubkey())
    assert info["delegatedAmount"]["uiAmountString"] == "5"

    supply = (await client.get_token_supply(mint)).value
    total = sum(10**12 for _ in net.users + net.keepers)
    assert supply.decimals == 6 and int(supply.amount) >= total
    assert supply.ui_amount_string == ui_amount_string(int(supply.amount), 6)
    largest = (await client.get_token_largest_accounts(mint)).value
    amounts = [int(a.amount.amount) for a in largest]
    assert amounts == sorted(amounts, reverse=True) and len(largest) <= 20
    assert largest[0].amount.decimals == 6

    balance = (await client.get_token_account_balance(user.token)).value
    assert (balance.amount, balance.ui_amount_string) == (str(10**12), "1000000")

    # a validator's errors
    not_token = await _error(net, "getTokenAccountBalance", str(user.key))
    assert not_token == {"code": -32602, "message": "Invalid param: not a Token account"}
    not_mint = await _error(net, "getTokenSupply", str(user.token))
    assert not_mint == {"code": -32602, "message": "Invalid param: not a Token mint"}
    bad_program = await _error(net, "getTokenAccountsByOwner", str(user.key),
                               {"programId": str(user.key)})
    assert bad_program["message"] == "Invalid param: unrecognized Token program id"
    bad_filter = await _error(net, "getTokenAccountsByOwner", str(user.key), {})
    assert bad_filter["code"] == -32602


@pytest.mark.parametrize(("amount", "decimals", "text"), [
    (0, 6, "0"), (1, 9, "0.000000001"), (1_500_000, 6, "1.5"), (10, 0, "10"),
    (2**64 - 1, 6, "18446744073709.551615"),  # exact: no float rounding
])
def test_ui_amount_string_as_agave_formats_it(amount: int, decimals: int, text: str) -> None:
    assert ui_amount_string(amount, decimals) == text

"""The staking and inflation methods answer as Agave 2.x does on a one-node cluster that pays
no rewards: getInflationReward with a validator's checks, getInflationGovernor/Rate,
getStakeMinimumDelegation, and getStakeActivation gone (-32601) as in Agave 2.0."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from solders.keypair import Keypair
from solders.rpc.responses import (
    GetInflationGovernorResp,
    GetInflationRateResp,
    GetInflationRewardResp,
)

from chain.localnet import Localnet, run_localnet
from chain.localnet.rpc import INVALID_PARAMS, METHOD_NOT_FOUND
from demo.servers import free_port_pair
from tests.support.localnet import raw

FINALIZE = 2


@pytest.fixture
async def net() -> AsyncIterator[Localnet]:
    async with run_localnet(free_port_pair(), slot_seconds=0.05,
                            finalize_slots=FINALIZE) as localnet:
        yield localnet


async def _call(net: Localnet, method: str, *params: object) -> dict[str, object]:
    answer = await raw(net, {"jsonrpc": "2.0", "id": 1, "method": method,
                             "params": list(params)})
    return dict(answer)


async def test_inflation_reward_needs_the_next_epoch_s_first_block(net: Localnet) -> None:
    keys = [str(Keypair().pubkey()), str(Keypair().pubkey())]
    per_epoch = net.ledger.epoch_info()[2]
    # epoch 0 is not over: its rewards' block (the next epoch's first) does not exist yet
    early = await _call(net, "getInflationReward", keys)
    assert early["error"] == {"code": -32004,
                              "message": f"Block not available for slot {per_epoch}"}
    refused = await _call(net, "getInflationReward", keys, {"commitment": "processed"})
    assert refused["error"]["code"] == INVALID_PARAMS  # type: ignore[index]
    bad_key = await _call(net, "getInflationReward", ["not a key"])
    assert bad_key["error"]["code"] == INVALID_PARAMS  # type: ignore[index]

    net.ledger.time_travel(slots=per_epoch)
    net.ledger.time_travel(slots=FINALIZE + 1)  # the epoch's first block reaches finalized
    answer = await raw(net, {"jsonrpc": "2.0", "id": 1, "method": "getInflationReward",
                             "params": [keys]})
    assert GetInflationRewardResp.from_json(json.dumps(answer)).value == [None, None]
    later = await _call(net, "getInflationReward", keys, {"epoch": 1})
    assert later["error"]["code"] == -32004  # type: ignore[index]


async def test_inflation_and_stake_methods_in_validator_shapes(net: Localnet) -> None:
    governor = GetInflationGovernorResp.from_json(
        json.dumps(await _call(net, "getInflationGovernor"))).value
    assert governor.initial == 0.08 and governor.terminal == 0.015
    rate = GetInflationRateResp.from_json(json.dumps(await _call(net, "getInflationRate"))).value
    assert rate.epoch == net.ledger.epoch_info()[0] and rate.total > 0
    delegation = await _call(net, "getStakeMinimumDelegation")
    assert delegation["result"]["value"] == 1_000_000_000  # type: ignore[index]
    gone = await _call(net, "getStakeActivation", str(Keypair().pubkey()))
    assert gone["error"]["code"] == METHOD_NOT_FOUND  # type: ignore[index]

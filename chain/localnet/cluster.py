"""The localnet as a one-node cluster: its identity, vote account and stake, and the cluster
methods a validator answers (getIdentity, getClusterNodes, getSlotLeader(s),
getLeaderSchedule, getEpochSchedule, getVoteAccounts, getSupply, getInflation*,
getTransactionCount, getLargestAccounts, getRecentPerformanceSamples, ...) in the shapes of
Agave's `rpc/src/rpc.rs`. The node leads every slot and holds all the stake, as
solana-test-validator's single node does.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Any

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain.localnet.rpc import (
    FEATURE_SET,
    SOLANA_CORE_VERSION,
    Handler,
    Rpc,
    RpcError,
    _config,
    _int,
    _param,
    invalid_params,
)

LAMPORTS_PER_SOL = 10**9
NODE_STAKE = 1_000_000 * LAMPORTS_PER_SOL
MAX_SLOT_LEADERS = 5000
LARGEST_ACCOUNTS = 20
PERFORMANCE_SAMPLE_SECS = 60  # a validator samples once a minute
MAX_PERFORMANCE_SAMPLES = 720
NO_SNAPSHOT = -32008
# solana-test-validator's inflation governor (the genesis default)
INFLATION = {"initial": 0.08, "terminal": 0.015, "taper": 0.15, "foundation": 0.05,
             "foundationTerm": 7.0}


@dataclass(frozen=True)
class Identity:
    """The node's identity and vote account, and its stake."""

    node: Pubkey
    vote: Pubkey
    stake: int


@functools.cache
def identity() -> Identity:
    """Fixed addresses, so every localnet reports the same node."""
    def key(name: bytes) -> Pubkey:
        return Keypair.from_seed(hashlib.sha256(b"keepernet localnet " + name).digest()).pubkey()
    return Identity(key(b"identity"), key(b"vote"), NODE_STAKE)


def methods(rpc: Rpc) -> dict[str, Handler]:
    """The cluster methods over `rpc`'s ledger, for its dispatch table."""
    cluster = Cluster(rpc)
    node = str(identity().node)
    return {
        "getIdentity": lambda params: {"identity": node},
        "getSlotLeader": lambda params: (rpc._slot(params, 0), node)[1],
        "getSlotLeaders": cluster.get_slot_leaders,
        "getLeaderSchedule": cluster.get_leader_schedule,
        "getClusterNodes": lambda params: [{
            "pubkey": node, "gossip": None, "tpu": None, "tpuQuic": None, "rpc": None,
            "pubsub": None, "version": SOLANA_CORE_VERSION, "featureSet": FEATURE_SET,
            "shredVersion": 0}],
        "getEpochSchedule": cluster.get_epoch_schedule,
        "getTransactionCount": cluster.get_transaction_count,
        "getSupply": cluster.get_supply,
        "getLargestAccounts": cluster.get_largest_accounts,
        "getInflationGovernor": lambda params: dict(INFLATION),
        "getInflationRate": cluster.get_inflation_rate,
        "getVoteAccounts": cluster.get_vote_accounts,
        "getHighestSnapshotSlot": cluster.no_snapshot,
        "getMaxRetransmitSlot": lambda params: rpc._slot([{"commitment": "processed"}], 0),
        "getMaxShredInsertSlot": lambda params: rpc._slot([{"commitment": "processed"}], 0),
        "getStakeMinimumDelegation": lambda params: rpc._with_context(_config(params, 0),
                                                                      LAMPORTS_PER_SOL),
        "getRecentPerformanceSamples": cluster.get_recent_performance_samples,
    }


class Cluster:
    """Cluster queries over one Rpc's ledger."""

    def __init__(self, rpc: Rpc) -> None:
        self.rpc = rpc
        self.ledger = rpc.ledger

    def get_slot_leaders(self, params: list[Any]) -> list[str]:
        _int(_param(params, 0, "start slot"), "start slot")
        limit = _int(_param(params, 1, "limit"), "limit")
        if limit > MAX_SLOT_LEADERS:
            raise invalid_params(f"Invalid limit; max {MAX_SLOT_LEADERS}")
        return [str(identity().node)] * limit

    def get_leader_schedule(self, params: list[Any]) -> dict[str, list[int]] | None:
        # [slot?, config?]: the slot may be left out, or null
        slot = params[0] if params and isinstance(params[0], int) else None
        config = next((p for p in params[:2] if isinstance(p, dict)), {})
        context_slot = self.rpc._slot([config], 0)
        epoch, _, per_epoch = self.ledger.epoch_info(context_slot if slot is None else slot)
        if epoch > self.ledger.epoch_info(context_slot)[0] + 1:
            return None  # a validator knows the schedule one epoch ahead at most
        node = str(identity().node)
        if config.get("identity") not in (None, node):
            return {}
        return {node: list(range(per_epoch))}

    def get_epoch_schedule(self, params: list[Any]) -> dict[str, Any]:
        # what getEpochInfo counts with: fixed-length epochs from slot 0
        per_epoch = self.ledger.epoch_info()[2]
        return {"slotsPerEpoch": per_epoch, "leaderScheduleSlotOffset": per_epoch,
                "warmup": False, "firstNormalEpoch": 0, "firstNormalSlot": 0}

    def get_transaction_count(self, params: list[Any]) -> int:
        slot = self.rpc._slot(params, 0)
        newer = sum(len(self.ledger.transactions_in(b.slot))
                    for b in reversed(self.ledger.blocks) if b.slot > slot)
        return self.ledger.transaction_count - newer

    def _balances(self) -> list[tuple[Pubkey, int]]:
        return [(a, self.ledger.balance(a)) for a in self.ledger.addresses()]

    def get_supply(self, params: list[Any]) -> dict[str, Any]:
        config = _config(params, 0)
        total = sum(lamports for _, lamports in self._balances())
        # every account circulates: no lockups on a localnet
        return self.rpc._with_context(config, {
            "total": total, "circulating": total, "nonCirculating": 0,
            "nonCirculatingAccounts": []})

    def get_largest_accounts(self, params: list[Any]) -> dict[str, Any]:
        config = _config(params, 0)
        if config.get("filter") not in (None, "circulating", "nonCirculating"):
            raise invalid_params(f"invalid filter {config['filter']!r}")
        # every account circulates: no lockups on a localnet
        accounts = [] if config.get("filter") == "nonCirculating" else self._balances()
        accounts.sort(key=lambda entry: entry[1], reverse=True)
        return self.rpc._with_context(config, [
            {"address": str(a), "lamports": lamports}
            for a, lamports in accounts[:LARGEST_ACCOUNTS]])

    def get_inflation_rate(self, params: list[Any]) -> dict[str, Any]:
        epoch = self.ledger.epoch_info()[0]
        total = float(INFLATION["initial"])  # the taper starts after the first year
        foundation = total * float(INFLATION["foundation"])
        return {"total": total, "validator": total - foundation, "foundation": foundation,
                "epoch": epoch}

    def get_vote_accounts(self, params: list[Any]) -> dict[str, Any]:
        config = _config(params, 0)
        slot = self.rpc._slot([config], 0)
        me = identity()
        if config.get("votePubkey") not in (None, str(me.vote)):
            return {"current": [], "delinquent": []}
        epoch = self.ledger.epoch_info(slot)[0]
        root = max(slot - self.ledger.finalize_slots, 0)
        return {"current": [{
            "votePubkey": str(me.vote), "nodePubkey": str(me.node), "activatedStake": me.stake,
            "epochVoteAccount": True, "commission": 0, "lastVote": slot, "rootSlot": root,
            "epochCredits": [[epoch, slot, 0]]}], "delinquent": []}

    def no_snapshot(self, params: list[Any]) -> Any:
        # the localnet keeps its state in memory and takes no snapshots
        raise RpcError(NO_SNAPSHOT, "No snapshot")

    def get_recent_performance_samples(self, params: list[Any]) -> list[dict[str, int]]:
        limit = MAX_PERFORMANCE_SAMPLES if not params or params[0] is None \
            else _int(params[0], "limit")
        if limit > MAX_PERFORMANCE_SAMPLES:
            raise invalid_params(f"Invalid limit; max {MAX_PERFORMANCE_SAMPLES}")
        self.ledger.tick()
        samples: list[dict[str, int]] = []
        window: list[Any] = []
        blocks = self.ledger.blocks
        # newest first, one sample per minute of block time
        for block in reversed(blocks):
            if window and window[0].block_time - block.block_time >= PERFORMANCE_SAMPLE_SECS:
                samples.append(self._sample(window))
                window = []
                if len(samples) >= limit:
                    return samples
            window.append(block)
        if window and len(samples) < limit:
            samples.append(self._sample(window))
        return samples

    def _sample(self, window: list[Any]) -> dict[str, int]:
        count = sum(len(self.ledger.transactions_in(b.slot)) for b in window)
        return {"slot": window[0].slot, "numSlots": window[0].slot - window[-1].slot + 1,
                "numTransactions": count, "numNonVoteTransactions": count,
                "samplePeriodSecs": PERFORMANCE_SAMPLE_SECS}

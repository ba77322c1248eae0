"""The program's derived addresses: its PDAs and its ProgramData account.

Pure derivations from the program id, with nothing of the runtime, so that the keepers, the
instruction builders and the in-process SVM all derive them alike.
"""

from __future__ import annotations

from solders.pubkey import Pubkey

BPF_LOADER_UPGRADEABLE = Pubkey.from_string("BPFLoaderUpgradeab1e11111111111111111111111")


def program_data_address(program_id: Pubkey) -> Pubkey:
    """The program's ProgramData account: PDA([program id], upgradeable loader)."""
    return Pubkey.find_program_address([bytes(program_id)], BPF_LOADER_UPGRADEABLE)[0]


def config_pda(program_id: Pubkey) -> Pubkey:
    return Pubkey.find_program_address([b"config"], program_id)[0]


def pending_config_pda(program_id: Pubkey) -> Pubkey:
    return Pubkey.find_program_address([b"pending_config"], program_id)[0]


def vault_authority_pda(program_id: Pubkey) -> Pubkey:
    return Pubkey.find_program_address([b"vault"], program_id)[0]


def market_pda(program_id: Pubkey, creator: Pubkey, market_id: int) -> Pubkey:
    """A market's address: its id is the creator's own, so nobody can take another's."""
    return Pubkey.find_program_address(
        [b"market", bytes(creator), market_id.to_bytes(8, "little")], program_id)[0]


def shares_pda(program_id: Pubkey, market: Pubkey, owner: Pubkey) -> Pubkey:
    return Pubkey.find_program_address([b"shares", bytes(market), bytes(owner)], program_id)[0]


def vote_pda(program_id: Pubkey, market: Pubkey, kind: int, voter: Pubkey) -> Pubkey:
    return Pubkey.find_program_address([b"vote", bytes(market), bytes([kind]), bytes(voter)],
                                       program_id)[0]


def perp_market_pda(program_id: Pubkey, perp_market_id: int) -> Pubkey:
    return Pubkey.find_program_address([b"perp", perp_market_id.to_bytes(8, "little")],
                                       program_id)[0]


def position_pda(program_id: Pubkey, perp_market: Pubkey, owner: Pubkey) -> Pubkey:
    return Pubkey.find_program_address([b"position", bytes(perp_market), bytes(owner)],
                                       program_id)[0]

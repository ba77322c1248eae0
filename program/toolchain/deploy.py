"""Deploying a program the way mainnet does: through the BPF Upgradeable Loader, in LiteSVM.

`LiteSVM.add_program` loads an ELF leniently: a program calling a syscall the
runtime does not know loads fine and fails only when the call runs. Deploying
through the loader (buffer, writes, DeployWithMaxDataLen) runs the deploy-time
ELF and verifier checks, so tests should deploy this way.
"""

import struct
from collections.abc import Sequence

from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.solders import FeatureSet
from solders.system_program import ID as SYSTEM_PROGRAM
from solders.system_program import CreateAccountParams, create_account
from solders.sysvar import CLOCK, RENT
from solders.transaction import Transaction
from solders.transaction_metadata import FailedTransactionMetadata

from program.addresses import BPF_LOADER_UPGRADEABLE, program_data_address

# LiteSVM activates every feature, including this one, which makes the upgradeable
# loader refuse new deployments (in favour of loader v4); new_svm switches it off.
DISABLE_NEW_LOADER_V3_DEPLOYMENTS = Pubkey.from_string(
    "EmhbpdVtZ2hWRGFWBDjn2i3SJD8Z36z4mpMcZJEnebnP")

PACKET_DATA_SIZE = 1232  # the largest serialized transaction
_BUFFER_METADATA_SIZE = 37  # UpgradeableLoaderState::Buffer: tag, Option<authority>
_PROGRAM_ACCOUNT_SIZE = 36  # UpgradeableLoaderState::Program: tag, programdata address
_INITIALIZE_BUFFER, _WRITE, _DEPLOY_WITH_MAX_DATA_LEN = 0, 1, 2
_WRITE_HEADER = struct.Struct("<IIQ")  # tag, offset, Vec<u8> length
_MAX_DATA_LEN_FACTOR = 2  # room to upgrade to a program twice the size


class DeployError(Exception):
    """A deployment transaction failed; `logs` has the loader's log lines."""

    def __init__(self, step: str, error: str, logs: Sequence[str]) -> None:
        self.step = step
        self.logs = list(logs)
        super().__init__("\n  ".join([f"{step} failed: {error}", *self.logs]))


def new_svm() -> LiteSVM:
    """A LiteSVM with every feature active except the one that blocks loader-v3 deployments."""
    active = FeatureSet.all_enabled().active
    features = FeatureSet({k: slot for k, slot in active.items()
                           if k != DISABLE_NEW_LOADER_V3_DEPLOYMENTS},
                          {DISABLE_NEW_LOADER_V3_DEPLOYMENTS})
    return LiteSVM().with_builtins(features)


def deploy_upgradeable(
    svm: LiteSVM, payer: Keypair, so: bytes, program_keypair: Keypair | None = None,
    *, authority: Keypair | None = None,
) -> Pubkey:
    """Deploy the program `so` paid by `payer`, with `authority` (the payer when None) as
    buffer and upgrade authority; return its id.

    The program can be invoked as soon as this returns: unlike a validator, LiteSVM
    does not delay a new program's visibility to the next slot. Raises `DeployError`
    with the loader's logs if a step fails, e.g. when the ELF calls a syscall the
    runtime does not have.
    """
    program = program_keypair or Keypair()
    authority = authority or payer
    # the authority signs alongside the payer, unless it is the payer
    co_signers = [] if authority.pubkey() == payer.pubkey() else [authority]
    buffer = Keypair()
    _create_buffer(svm, payer, buffer, len(so), authority.pubkey())
    chunk = _write_chunk_size(svm, payer, buffer.pubkey(), co_signers)
    for offset in range(0, len(so), chunk):
        _send(svm, payer, [_write(buffer.pubkey(), authority.pubkey(), offset,
                                  so[offset:offset + chunk])], co_signers, f"Write at {offset}")
    _deploy(svm, payer, program, buffer.pubkey(), len(so), authority, co_signers)
    return program.pubkey()


def _send(
    svm: LiteSVM, payer: Keypair, instructions: Sequence[Instruction],
    signers: Sequence[Keypair], step: str,
) -> None:
    tx = _transaction(svm, payer, instructions, signers)
    result = svm.send_transaction(tx)
    if isinstance(result, FailedTransactionMetadata):
        raise DeployError(step, str(result.err()), result.meta().logs())


def _transaction(
    svm: LiteSVM, payer: Keypair, instructions: Sequence[Instruction],
    signers: Sequence[Keypair],
) -> Transaction:
    blockhash = svm.latest_blockhash()
    message = Message.new_with_blockhash(instructions, payer.pubkey(), blockhash)
    return Transaction([payer, *signers], message, blockhash)


def _create_buffer(svm: LiteSVM, payer: Keypair, buffer: Keypair, program_size: int,
                   authority: Pubkey) -> None:
    space = _BUFFER_METADATA_SIZE + program_size
    _send(svm, payer, [
        create_account(CreateAccountParams(
            from_pubkey=payer.pubkey(), to_pubkey=buffer.pubkey(),
            lamports=svm.minimum_balance_for_rent_exemption(space), space=space,
            owner=BPF_LOADER_UPGRADEABLE)),
        Instruction(BPF_LOADER_UPGRADEABLE, struct.pack("<I", _INITIALIZE_BUFFER), [
            AccountMeta(buffer.pubkey(), is_signer=False, is_writable=True),
            AccountMeta(authority, is_signer=False, is_writable=False)]),
    ], [buffer], "create and InitializeBuffer")


def _write(buffer: Pubkey, authority: Pubkey, offset: int, chunk: bytes) -> Instruction:
    return Instruction(BPF_LOADER_UPGRADEABLE,
                       _WRITE_HEADER.pack(_WRITE, offset, len(chunk)) + chunk,
                       [AccountMeta(buffer, is_signer=False, is_writable=True),
                        AccountMeta(authority, is_signer=True, is_writable=False)])


def _write_chunk_size(svm: LiteSVM, payer: Keypair, buffer: Pubkey,
                      co_signers: Sequence[Keypair]) -> int:
    """The most program bytes one Write transaction can carry."""
    probe = 256  # long enough that the data length takes its final two-byte encoding
    authority = co_signers[0].pubkey() if co_signers else payer.pubkey()
    tx = _transaction(svm, payer, [_write(buffer, authority, 0, bytes(probe))], co_signers)
    return PACKET_DATA_SIZE - (len(bytes(tx)) - probe)


def _deploy(
    svm: LiteSVM, payer: Keypair, program: Keypair, buffer: Pubkey, program_size: int,
    authority: Keypair, co_signers: Sequence[Keypair],
) -> None:
    programdata = program_data_address(program.pubkey())
    _send(svm, payer, [
        create_account(CreateAccountParams(
            from_pubkey=payer.pubkey(), to_pubkey=program.pubkey(),
            lamports=svm.minimum_balance_for_rent_exemption(_PROGRAM_ACCOUNT_SIZE),
            space=_PROGRAM_ACCOUNT_SIZE, owner=BPF_LOADER_UPGRADEABLE)),
        Instruction(BPF_LOADER_UPGRADEABLE,
                    struct.pack("<IQ", _DEPLOY_WITH_MAX_DATA_LEN,
                                _MAX_DATA_LEN_FACTOR * program_size), [
            AccountMeta(payer.pubkey(), is_signer=True, is_writable=True),
            AccountMeta(programdata, is_signer=False, is_writable=True),
            AccountMeta(program.pubkey(), is_signer=False, is_writable=True),
            AccountMeta(buffer, is_signer=False, is_writable=True),
            AccountMeta(RENT, is_signer=False, is_writable=False),
            AccountMeta(CLOCK, is_signer=False, is_writable=False),
            AccountMeta(SYSTEM_PROGRAM, is_signer=False, is_writable=False),
            AccountMeta(authority.pubkey(), is_signer=True, is_writable=False)]),
    ], [program, *co_signers], "DeployWithMaxDataLen")

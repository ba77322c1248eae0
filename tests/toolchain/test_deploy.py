"""Deploying through the BPF Upgradeable Loader: the strict, mainnet-like path."""

import pytest
from solders.keypair import Keypair
from solders.litesvm import LiteSVM

from program.addresses import BPF_LOADER_UPGRADEABLE
from program.toolchain.deploy import (
    PACKET_DATA_SIZE,
    DeployError,
    deploy_upgradeable,
    new_svm,
)
from tests.support.toolchain import PRELUDE, link_paths, run

# big enough to need several Write transactions
BIG = PRELUDE + """
#define LOG(i) sol_log_("line " #i, sizeof("line " #i) - 1);
#define TEN(i) LOG(i##0) LOG(i##1) LOG(i##2) LOG(i##3) LOG(i##4) \\
               LOG(i##5) LOG(i##6) LOG(i##7) LOG(i##8) LOG(i##9)
u64 entrypoint(const u8 *in) { TEN(1) TEN(2) TEN(3) TEN(4) TEN(5) TEN(6) return 0; }
"""


@pytest.fixture
def svm_and_payer():
    svm = new_svm()
    payer = Keypair()
    svm.airdrop(payer.pubkey(), 10**10)
    return svm, payer


def test_deployed_program_runs(cc):
    so, _ = link_paths(cc(BIG))
    assert len(so.data) > 3 * PACKET_DATA_SIZE
    result = run(so)
    assert result.program_logs() == [f"line {i}{j}" for i in range(1, 7) for j in range(10)]


def test_program_account_and_keypair(cc, svm_and_payer):
    svm, payer = svm_and_payer
    so, _ = link_paths(cc(PRELUDE + "u64 entrypoint(const u8 *in) { return 0; }"))
    keypair = Keypair()
    program_id = deploy_upgradeable(svm, payer, so.data, keypair)
    assert program_id == keypair.pubkey()
    account = svm.get_account(program_id)
    assert account.owner == BPF_LOADER_UPGRADEABLE and account.executable


def test_writes_fill_whole_transactions(cc, svm_and_payer):
    svm, payer = svm_and_payer
    so, _ = link_paths(cc(BIG))
    sizes = []
    send = svm.send_transaction

    def recording_send(tx):
        sizes.append(len(bytes(tx)))
        return send(tx)

    svm.send_transaction = recording_send
    deploy_upgradeable(svm, payer, so.data)
    writes = sizes[1:-1]  # between creating the buffer and deploying
    assert max(sizes) == PACKET_DATA_SIZE
    assert writes[:-1] == [PACKET_DATA_SIZE] * (len(writes) - 1)


def test_unresolved_syscall_is_refused_at_deploy_time(cc, svm_and_payer):
    svm, payer = svm_and_payer
    so, _ = link_paths(cc(PRELUDE + 'u64 entrypoint(const u8 *in) { sol_log_("x", 1); '
                                    "return 0; }"))
    # the linker refuses unknown names, so rename the syscall in the output
    broken = so.data.replace(b"sol_log_\0", b"sol_lgx_\0")
    assert broken != so.data
    with pytest.raises(DeployError, match=r"DeployWithMaxDataLen failed: .*InvalidAccountData"
                                          r"[\s\S]*Unresolved symbol \(sol_lgx_\)") as refused:
        deploy_upgradeable(svm, payer, broken)
    assert refused.value.step == "DeployWithMaxDataLen"
    assert any("Unresolved symbol" in line for line in refused.value.logs)


def test_plain_litesvm_refuses_new_upgradeable_deployments(cc):
    svm = LiteSVM()
    payer = Keypair()
    svm.airdrop(payer.pubkey(), 10**10)
    so, _ = link_paths(cc(PRELUDE + "u64 entrypoint(const u8 *in) { return 0; }"))
    with pytest.raises(DeployError, match="Unsupported instruction"):
        deploy_upgradeable(svm, payer, so.data)

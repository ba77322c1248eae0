"""A complete protocol in an in-process SVM: the program, a quote mint, the vault, the config.

Tests, benchmarks and the localnet start from `LocalProtocol.deploy()`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from program.client import Client, ConfigParams, Deployment
from program.svm import SO_PATH, ProgramSvm, TxResult

# Pyth's oracle program on mainnet; the localnet's price publisher writes accounts it owns.
PYTH_PROGRAM = Pubkey.from_string("FsJ3A3u2vn5cTVofAjvy6y5kwABJAqYWpe4975bi2epH")


def with_council(params: ConfigParams, admin: Pubkey, treasury: Pubkey) -> ConfigParams:
    """`params` with `admin` as a council of one when it names no council, and `treasury`
    when it names none."""
    if not params.council:
        params = replace(params, council=(admin,), council_threshold=1)
    if params.treasury == Pubkey.default():
        params = replace(params, treasury=treasury)
    return params


@dataclass(frozen=True)
class Wallet:
    """A keypair with a quote token account."""

    kp: Keypair
    token: Pubkey

    @property
    def key(self) -> Pubkey:
        return self.kp.pubkey()


@dataclass
class LocalProtocol:
    chain: ProgramSvm
    admin: Keypair
    d: Deployment
    client: Client
    params: ConfigParams

    @classmethod
    def deploy(cls, params: ConfigParams | None = None, so_path: Path = SO_PATH, *,
               initialize: bool = True) -> LocalProtocol:
        """Deploy the program, create the quote mint and the vault, and initialize unless
        told not to."""
        # the admin deploys the program: the upgrade authority is the one key initialize takes
        admin = Keypair()
        chain = ProgramSvm(so_path, upgrade_authority=admin)
        chain.svm.airdrop(admin.pubkey(), 10 * 10**9)
        mint = chain.create_mint()
        vault_authority = Deployment(chain.program_id, mint, Pubkey.default()).vault_authority
        d = Deployment(chain.program_id, mint, chain.create_token_account(mint, vault_authority))
        treasury = chain.create_token_account(mint, admin.pubkey())
        protocol = cls(chain, admin, d, Client(chain.program, d),
                       with_council(params or ConfigParams(pyth_program=PYTH_PROGRAM),
                                    admin.pubkey(), treasury))
        if initialize:
            result = protocol.initialize()
            if not result.ok:
                raise RuntimeError(f"initialize failed: {result.error}\n" + "\n".join(result.logs))
        return protocol

    def initialize(self) -> TxResult:
        return self.chain.send([self.client.initialize(self.admin.pubkey(), self.params)],
                               [self.admin])

    def reconfigure(self, params: ConfigParams) -> None:
        """Make `params` current the only way there is: the council (the admin) proposes them,
        the clock passes the timelock, and they are applied."""
        delay = self.chain.fetch(self.d.config).config_delay_secs
        self._ok(self.chain.send([self.client.propose_config(self.admin.pubkey(), params)],
                                 [self.admin]))
        self.chain.advance(delay)
        self._ok(self.chain.send([self.client.apply_config()], []))
        self.params = params

    @staticmethod
    def _ok(result: TxResult) -> None:
        if not result.ok:
            raise RuntimeError(f"reconfigure failed: {result.error}\n" + "\n".join(result.logs))

    def user(self, quote: int = 10_000_000_000) -> Wallet:
        """A funded wallet with a quote token account holding `quote` units."""
        kp = self.chain.wallet()
        token = self.chain.create_token_account(self.d.quote_mint, kp.pubkey())
        if quote:
            self.chain.mint_to(self.d.quote_mint, token, quote)
        return Wallet(kp, token)

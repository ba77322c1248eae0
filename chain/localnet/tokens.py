"""The token queries of a validator's JSON-RPC: getTokenAccountBalance, getTokenSupply,
getTokenLargestAccounts, getTokenAccountsByOwner and getTokenAccountsByDelegate.

Both token programs are served. Errors carry a validator's messages ("Invalid param: not a
Token account", ...) under -32602.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from solders.account import Account
from solders.pubkey import Pubkey

from chain.localnet.rpc import (
    INVALID_PARAMS,
    RpcError,
    _config,
    _param,
    _pubkey,
    encode_account,
    invalid_params,
)
from chain.localnet.token_state import (
    TOKEN_PROGRAMS,
    TokenAccount,
    mint,
    token_account,
    ui_amount_string,
    ui_token_amount,
)

if TYPE_CHECKING:
    from chain.localnet.rpc import Handler, Rpc

LARGEST_ACCOUNTS = 20  # how many getTokenLargestAccounts gives, as a validator


def _invalid_param(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, f"Invalid param: {message}")


class TokenQueries:
    """The token methods over an `Rpc`'s ledger."""

    def __init__(self, rpc: Rpc) -> None:
        self.rpc = rpc
        self.ledger = rpc.ledger
        self.methods: dict[str, Handler] = {
            "getTokenAccountBalance": self.get_token_account_balance,
            "getTokenSupply": self.get_token_supply,
            "getTokenLargestAccounts": self.get_token_largest_accounts,
            "getTokenAccountsByOwner": lambda params: self._accounts_by(params, self._owner),
            "getTokenAccountsByDelegate": lambda params: self._accounts_by(params,
                                                                           self._delegate),
        }

    def _decimals(self, mint_address: Pubkey, at_slot: int | None) -> int:
        state = mint(self.ledger.account(mint_address, at_slot))
        if state is None:
            raise _invalid_param("Token mint could not be unpacked")
        return state.decimals

    def get_token_account_balance(self, params: list[Any]) -> Any:
        address = _pubkey(_param(params, 0, "pubkey"))
        config = _config(params, 1)
        at_slot = self.rpc.at_slot(config)
        state = token_account(self.ledger.account(address, at_slot))
        if state is None:
            raise _invalid_param("not a Token account")
        return self.rpc._with_context(config, ui_token_amount(
            state.amount, self._decimals(state.mint, at_slot)))

    def get_token_supply(self, params: list[Any]) -> Any:
        address = _pubkey(_param(params, 0, "mint"))
        config = _config(params, 1)
        state = mint(self.ledger.account(address, self.rpc.at_slot(config)))
        if state is None:
            raise _invalid_param("not a Token mint")
        return self.rpc._with_context(config, ui_token_amount(state.supply, state.decimals))

    def get_token_largest_accounts(self, params: list[Any]) -> Any:
        address = _pubkey(_param(params, 0, "mint"))
        config = _config(params, 1)
        at_slot = self.rpc.at_slot(config)
        mint_account = self.ledger.account(address, at_slot)
        state = mint(mint_account)
        if mint_account is None or state is None:
            raise _invalid_param("not a Token mint")
        holders = sorted(((account.amount, key) for key, _, account
                          in self._token_accounts(mint_account.owner, at_slot)
                          if account.mint == address), key=lambda pair: -pair[0])
        return self.rpc._with_context(config, [
            {"address": str(key), "amount": str(amount), "decimals": state.decimals,
             "uiAmount": amount / 10**state.decimals,
             "uiAmountString": ui_amount_string(amount, state.decimals)}
            for amount, key in holders[:LARGEST_ACCOUNTS]])

    # ---- by owner, by delegate ------------------------------------------------------------
    @staticmethod
    def _owner(account: TokenAccount, who: Pubkey) -> bool:
        return account.owner == who

    @staticmethod
    def _delegate(account: TokenAccount, who: Pubkey) -> bool:
        return account.delegate == who

    def _accounts_by(self, params: list[Any],
                     matches: Callable[[TokenAccount, Pubkey], bool]) -> Any:
        who = _pubkey(_param(params, 0, "pubkey"))
        token_filter = _param(params, 1, "filter")
        config = _config(params, 2)
        if not isinstance(token_filter, dict) or len(token_filter) != 1 \
                or not {"mint", "programId"} & token_filter.keys():
            raise invalid_params('expected {"mint": address} or {"programId": address}')
        at_slot = self.rpc.at_slot(config)
        wanted_mint: Pubkey | None = None
        if "mint" in token_filter:
            wanted_mint = _pubkey(token_filter["mint"])
            mint_account = self.ledger.account(wanted_mint, at_slot)
            if mint_account is None or mint(mint_account) is None:
                raise _invalid_param("not a v2.0 Token mint")
            program_id = mint_account.owner
        else:
            program_id = _pubkey(token_filter["programId"])
            if program_id not in TOKEN_PROGRAMS:
                raise _invalid_param("unrecognized Token program id")
        found = []
        for key, raw, account in self._token_accounts(program_id, at_slot):
            if matches(account, who) and wanted_mint in (None, account.mint):
                found.append({"pubkey": str(key),
                              "account": encode_account(raw, config, self.ledger.account)})
        return self.rpc._with_context(config, found)

    def _token_accounts(self, program_id: Pubkey, at_slot: int | None
                        ) -> list[tuple[Pubkey, Account, TokenAccount]]:
        """Every initialized token account of `program_id` the ledger knows, with its state
        (at `at_slot`, as `Ledger.account`)."""
        out = []
        for key, account in self.ledger.program_accounts(program_id, at_slot):
            state = token_account(account)
            if state is not None:
                out.append((key, account, state))
        return out

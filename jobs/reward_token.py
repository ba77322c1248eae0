"""Where the program pays a keeper's liquidation rewards: the token account from the settings
(`KEEPERNET_REWARD_TOKEN_ACCOUNT`), else the keeper's associated token account for the quote
mint, created by the liquidation's own transaction while it is missing (the associated token
program's CreateIdempotent, so two liquidations racing to create it both land). Never a
`getProgramAccounts` over the token program: it scans every token account on the chain, and
hosted providers refuse it."""

from __future__ import annotations

from solders.account import Account
from solders.instruction import Instruction
from solders.pubkey import Pubkey
from spl.token.instructions import (
    create_idempotent_associated_token_account,
    get_associated_token_address,
)


def reward_token_address(keeper: Pubkey, quote_mint: Pubkey, configured: Pubkey | None) -> Pubkey:
    """The configured account, else `keeper`'s associated token account for `quote_mint`."""
    if configured is not None:
        return configured
    return get_associated_token_address(keeper, quote_mint)


def creating_reward_token(keeper: Pubkey, quote_mint: Pubkey, configured: Pubkey | None,
                          account: Account | None) -> list[Instruction]:
    """The instructions creating the derived reward token account when `account` (as read) is
    missing; none when it exists or was configured (an operator's account is theirs to make:
    the program refuses a missing one, and the job says so)."""
    if account is not None or configured is not None:
        return []
    return [create_idempotent_associated_token_account(keeper, keeper, quote_mint)]

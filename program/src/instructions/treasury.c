/* withdraw_fees, withdraw_pool, withdraw_insurance: the council moves the protocol's own
 * balances out of the vault to config.treasury. Each is bounded by what it may take (protocol
 * fees; the perp pool's free liquidity, perp_pool − perp_pool_reserved; the insurance balance),
 * so nothing owed to a market or a position can leave. They ignore `paused`. */
#include "../generated/events.h"
#include "../generated/instructions.h"
#include "../sol/pubkey.h"
#include "../sol/result.h"
#include "../sol/token.h"
#include "../state/vault.h"
#include "../validate.h"
#include "instructions.h"

enum { TREASURY_FEES = 0, TREASURY_POOL = 1, TREASURY_INSURANCE = 2 };

/* The accounts every withdrawal takes, in the same order (spec: _treasury_withdrawal). */
enum { W_COUNCIL, W_CONFIG, W_TREASURY, W_VAULT, W_VAULT_AUTHORITY, W_TOKEN_PROGRAM, W_ACCOUNTS };
_Static_assert(WITHDRAW_FEES_ACCOUNTS == W_ACCOUNTS && WITHDRAW_POOL_TREASURY == W_TREASURY &&
                   WITHDRAW_INSURANCE_VAULT_AUTHORITY == W_VAULT_AUTHORITY,
               "treasury withdrawals share one account order");

/* The balance `kind` draws from, and how much of it may leave. */
static u64 *balance_of(Config *c, u8 kind, u64 *available) {
    if (kind == TREASURY_POOL) {
        /* reserves back open positions' profit: only the free part leaves */
        *available = c->perp_pool > c->perp_pool_reserved ? c->perp_pool - c->perp_pool_reserved
                                                          : 0;
        return &c->perp_pool;
    }
    u64 *balance = kind == TREASURY_FEES ? &c->protocol_fees : &c->insurance_balance;
    *available = *balance;
    return balance;
}

static u64 withdraw(const SolInput *in, u64 amount, u8 kind) {
    TRY(expect_accounts(in, W_ACCOUNTS));
    const SolAccountInfo *member = &in->accounts[W_COUNCIL];
    const SolAccountInfo *treasury = &in->accounts[W_TREASURY];
    Config *c;
    TRY(load_config(in, &in->accounts[W_CONFIG], true, &c));
    TRY(expect_council(in, c, member));
    if (!pubkey_eq(treasury->key, &c->treasury)) return ERR_INVALID_ACCOUNT;
    TRY(expect_quote_account(c, treasury, NULL));
    TRY(expect_vault(c, &in->accounts[W_VAULT], &in->accounts[W_VAULT_AUTHORITY]));
    TRY(expect_program(&in->accounts[W_TOKEN_PROGRAM], &TOKEN_PROGRAM_ID));
    if (amount == 0) return ERR_ZERO_AMOUNT;
    u64 available;
    u64 *balance = balance_of(c, kind, &available);
    if (amount > available) return ERR_INSUFFICIENT_BALANCE;

    TokenTransfer payout = {&in->accounts[W_VAULT], treasury, &in->accounts[W_VAULT_AUTHORITY]};
    TRY(vault_pay(in, c, &payout, amount));
    *balance -= amount;
    emit_treasury_withdrawn(&(TreasuryWithdrawn){.kind = kind, .amount = amount,
                                                 .treasury = *treasury->key,
                                                 .remaining = *balance, .by = *member->key});
    return SUCCESS;
}

u64 ix_withdraw_fees(const SolInput *in, const u8 *data, u64 len) {
    WithdrawFeesArgs args;
    if (!withdraw_fees_args_parse(data, len, &args)) return ERR_INVALID_INSTRUCTION_DATA;
    return withdraw(in, args.amount, TREASURY_FEES);
}

u64 ix_withdraw_pool(const SolInput *in, const u8 *data, u64 len) {
    WithdrawPoolArgs args;
    if (!withdraw_pool_args_parse(data, len, &args)) return ERR_INVALID_INSTRUCTION_DATA;
    return withdraw(in, args.amount, TREASURY_POOL);
}

u64 ix_withdraw_insurance(const SolInput *in, const u8 *data, u64 len) {
    WithdrawInsuranceArgs args;
    if (!withdraw_insurance_args_parse(data, len, &args)) return ERR_INVALID_INSTRUCTION_DATA;
    return withdraw(in, args.amount, TREASURY_INSURANCE);
}

/* The program's entry point: parse the input, dispatch on the Anchor discriminator, and log
 * a refusal as Anchor programs do. */
#include "generated/error_log.h"
#include "generated/instructions.h"
#include "instructions/instructions.h"
#include "sol/result.h"

/* Instruction data starts 8-byte aligned in the input, so the discriminator is one load. */
static u64 dispatch(const u8 *input) {
    SolAccountInfo accounts[MAX_ACCOUNTS];
    SolInput in = {.accounts = accounts};
    if (!sol_input_parse(input, &in)) return ERR_INVALID_ACCOUNT;
    if (in.data_len < 8) return ERR_INVALID_INSTRUCTION_DATA;
    const u8 *data = in.data + 8;
    u64 len = in.data_len - 8;
    switch (*(const u64 *)in.data) {
    case IX_INITIALIZE: return ix_initialize(&in, data, len);
    case IX_PROPOSE_CONFIG: return ix_propose_config(&in, data, len);
    case IX_APPLY_CONFIG: return ix_apply_config(&in, data, len);
    case IX_CANCEL_CONFIG: return ix_cancel_config(&in, data, len);
    case IX_PAUSE: return ix_pause(&in, data, len);
    case IX_WITHDRAW_FEES: return ix_withdraw_fees(&in, data, len);
    case IX_WITHDRAW_POOL: return ix_withdraw_pool(&in, data, len);
    case IX_WITHDRAW_INSURANCE: return ix_withdraw_insurance(&in, data, len);
    case IX_CREATE_MARKET: return ix_create_market(&in, data, len);
    case IX_VOTE_PROPOSAL: return ix_vote_proposal(&in, data, len);
    case IX_APPROVE_MARKET: return ix_approve_market(&in, data, len);
    case IX_REJECT_MARKET: return ix_reject_market(&in, data, len);
    case IX_ACTIVATE_MARKET: return ix_activate_market(&in, data, len);
    case IX_BUY: return ix_buy(&in, data, len);
    case IX_SELL: return ix_sell(&in, data, len);
    case IX_PROPOSE_RESOLUTION: return ix_propose_resolution(&in, data, len);
    case IX_DISPUTE: return ix_dispute(&in, data, len);
    case IX_VOTE_DISPUTE: return ix_vote_dispute(&in, data, len);
    case IX_FINALIZE_MARKET: return ix_finalize_market(&in, data, len);
    case IX_REDEEM: return ix_redeem(&in, data, len);
    case IX_WITHDRAW_LIQUIDITY: return ix_withdraw_liquidity(&in, data, len);
    case IX_CLAIM_VOTE: return ix_claim_vote(&in, data, len);
    case IX_CLAIM_BOND: return ix_claim_bond(&in, data, len);
    case IX_CLOSE_SHARES: return ix_close_shares(&in, data, len);
    case IX_CREATE_PERP_MARKET: return ix_create_perp_market(&in, data, len);
    case IX_FUND_POOL: return ix_fund_pool(&in, data, len);
    case IX_FUND_INSURANCE: return ix_fund_insurance(&in, data, len);
    case IX_DEPOSIT: return ix_deposit(&in, data, len);
    case IX_WITHDRAW: return ix_withdraw(&in, data, len);
    case IX_OPEN_POSITION: return ix_open_position(&in, data, len);
    case IX_CLOSE_POSITION: return ix_close_position(&in, data, len);
    case IX_LIQUIDATE: return ix_liquidate(&in, data, len);
    case IX_UPDATE_FUNDING: return ix_update_funding(&in, data, len);
    case IX_CLOSE_POSITION_ACCOUNT: return ix_close_position_account(&in, data, len);
    default: return ERR_INVALID_INSTRUCTION_DATA;
    }
}

/* Nothing is logged on success; a custom error logs its "AnchorError occurred" line. */
u64 entrypoint(const u8 *input) {
    u64 result = dispatch(input);
    log_custom_error(result);
    return result;
}

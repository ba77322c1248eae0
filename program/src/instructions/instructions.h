/* One handler per instruction, grouped by family in this folder:
 *   admin.c       initialize (upgrade authority), propose_config,
 *                 cancel_config, pause (council),
 *                 apply_config                                    (anyone, keepers)
 *   treasury.c    withdraw_fees, withdraw_pool,
 *                 withdraw_insurance                              (council)
 *   governance.c  create_market, vote_proposal, approve_market,
 *                 reject_market                                   (anyone, keepers)
 *   trading.c     activate_market, buy, sell                      (creator, traders)
 *   resolution.c  propose_resolution, dispute, vote_dispute,
 *                 finalize_market                                 (creator, voters, keepers)
 *   payout.c      redeem, withdraw_liquidity                      (holders, creator)
 *   claims.c      claim_vote, claim_bond, close_shares            (voters, bonders, holders)
 *   perp_admin.c  create_perp_market, fund_pool, fund_insurance   (council)
 *   collateral.c  deposit, withdraw, close_position_account       (position owners)
 *   positions.c   open_position, close_position                   (position owners)
 *   keeper.c      liquidate, update_funding                       (anyone, keepers)
 *
 * Every handler follows the same order: parse the arguments (exact length), check the
 * account count, validate every account (validate.h), load state, compute with checked
 * math, write, emit the event. `data` is the instruction data after the discriminator. */
#pragma once
#include "../sol/input.h"

u64 ix_initialize(const SolInput *in, const u8 *data, u64 len);
u64 ix_propose_config(const SolInput *in, const u8 *data, u64 len);
u64 ix_apply_config(const SolInput *in, const u8 *data, u64 len);
u64 ix_cancel_config(const SolInput *in, const u8 *data, u64 len);
u64 ix_pause(const SolInput *in, const u8 *data, u64 len);
u64 ix_withdraw_fees(const SolInput *in, const u8 *data, u64 len);
u64 ix_withdraw_pool(const SolInput *in, const u8 *data, u64 len);
u64 ix_withdraw_insurance(const SolInput *in, const u8 *data, u64 len);
u64 ix_create_market(const SolInput *in, const u8 *data, u64 len);
u64 ix_vote_proposal(const SolInput *in, const u8 *data, u64 len);
u64 ix_approve_market(const SolInput *in, const u8 *data, u64 len);
u64 ix_reject_market(const SolInput *in, const u8 *data, u64 len);
u64 ix_activate_market(const SolInput *in, const u8 *data, u64 len);
u64 ix_buy(const SolInput *in, const u8 *data, u64 len);
u64 ix_sell(const SolInput *in, const u8 *data, u64 len);
u64 ix_propose_resolution(const SolInput *in, const u8 *data, u64 len);
u64 ix_dispute(const SolInput *in, const u8 *data, u64 len);
u64 ix_vote_dispute(const SolInput *in, const u8 *data, u64 len);
u64 ix_finalize_market(const SolInput *in, const u8 *data, u64 len);
u64 ix_redeem(const SolInput *in, const u8 *data, u64 len);
u64 ix_withdraw_liquidity(const SolInput *in, const u8 *data, u64 len);
u64 ix_claim_vote(const SolInput *in, const u8 *data, u64 len);
u64 ix_claim_bond(const SolInput *in, const u8 *data, u64 len);
u64 ix_close_shares(const SolInput *in, const u8 *data, u64 len);
u64 ix_create_perp_market(const SolInput *in, const u8 *data, u64 len);
u64 ix_fund_pool(const SolInput *in, const u8 *data, u64 len);
u64 ix_fund_insurance(const SolInput *in, const u8 *data, u64 len);
u64 ix_deposit(const SolInput *in, const u8 *data, u64 len);
u64 ix_withdraw(const SolInput *in, const u8 *data, u64 len);
u64 ix_open_position(const SolInput *in, const u8 *data, u64 len);
u64 ix_close_position(const SolInput *in, const u8 *data, u64 len);
u64 ix_liquidate(const SolInput *in, const u8 *data, u64 len);
u64 ix_update_funding(const SolInput *in, const u8 *data, u64 len);
u64 ix_close_position_account(const SolInput *in, const u8 *data, u64 len);

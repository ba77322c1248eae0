/* create_perp_market, fund_pool, fund_insurance: the
 * council's perp instructions. */
#include "../generated/events.h"
#include "../generated/instructions.h"
#include "../math/checked.h"
#include "../math/perp.h"
#include "../math/units.h"
#include "../sol/clock.h"
#include "../sol/pubkey.h"
#include "../sol/result.h"
#include "../state/oracle.h"
#include "../state/price_update.h"
#include "../state/pda.h"
#include "../state/vault.h"
#include "../validate.h"
#include "instructions.h"

#define MIN_FUNDING_INTERVAL_SECS 60
#define MAX_FUNDING_INTERVAL_SECS 31536000
#define MAX_TAKER_FEE_BPS 1000

/* Every setting bounded: margins 0 < maintenance < initial <= 100 %; taker fee <= 10 %;
 * taker fee <= liquidation penalty <= maintenance (a liquidation at maintenance can pay it);
 * the penalty's insurance part (penalty * (1 - liquidator share)) >= the taker fee, so that
 * liquidating your own position is never cheaper than closing it; funding cap <= 100 % per
 * interval; interval between a minute and a year; profit cap in (0, 100 %] of notional; open
 * interest in (0, PERP_MAX_OPEN_INTEREST]. */
static u64 check_params(const PerpMarketParams *p) {
    bool ok = p->maintenance_margin_bps > 0 &&
              p->maintenance_margin_bps < p->initial_margin_bps &&
              p->initial_margin_bps <= BPS_DENOMINATOR &&
              p->taker_fee_bps <= MAX_TAKER_FEE_BPS &&
              p->liquidation_fee_bps >= p->taker_fee_bps &&
              p->liquidation_fee_bps <= p->maintenance_margin_bps &&
              p->liquidator_share_bps <= BPS_DENOMINATOR &&
              (u64)p->liquidation_fee_bps * (BPS_DENOMINATOR - p->liquidator_share_bps) >=
                  (u64)p->taker_fee_bps * BPS_DENOMINATOR &&
              p->max_funding_bps <= BPS_DENOMINATOR &&
              p->funding_interval_secs >= MIN_FUNDING_INTERVAL_SECS &&
              p->funding_interval_secs <= MAX_FUNDING_INTERVAL_SECS &&
              p->max_profit_bps > 0 && p->max_profit_bps <= BPS_DENOMINATOR &&
              p->max_open_interest > 0 && p->max_open_interest <= PERP_MAX_OPEN_INTEREST;
    return ok ? SUCCESS : ERR_INVALID_ARGUMENT;
}

/* The oracle must be a price account of the chosen kind, owned by that kind's program (the
 * owner the market then binds to, in *owner); whether its price is fresh, certain or (for
 * PriceUpdateV2) fully verified right now does not matter until someone trades, but a
 * PriceUpdateV2 of another feed is refused. The legacy kind takes no feed id. */
static u64 check_oracle(const Config *config, const CreatePerpMarketArgs *args,
                        const SolAccountInfo *oracle, const SolClock *clock,
                        const SolPubkey **owner) {
    static const u8 NO_FEED[PRICE_UPDATE_FEED_ID_LEN] = {0};
    bool no_feed = price_update_bytes_eq(args->feed_id, NO_FEED, PRICE_UPDATE_FEED_ID_LEN);
    OracleLimits limits = {config->max_oracle_staleness_slots, config->max_oracle_conf_bps};
    OracleQuote q;
    u64 verdict;
    if (args->oracle_kind == ORACLE_KIND_PYTH_LEGACY) {
        if (!no_feed) return ERR_INVALID_ARGUMENT;
        *owner = &config->pyth_program;
        if (!pubkey_eq(oracle->owner, *owner)) return ERR_INVALID_ORACLE;
        verdict = oracle_price_e6(oracle->data, oracle->data_len, &limits, clock->slot, &q.price);
    } else if (args->oracle_kind == ORACLE_KIND_PRICE_UPDATE_V2) {
        if (no_feed) return ERR_INVALID_ARGUMENT;
        *owner = &config->receiver_program;
        if (!pubkey_eq(oracle->owner, *owner)) return ERR_INVALID_ORACLE;
        verdict = price_update_quote_e6(oracle->data, oracle->data_len, args->feed_id, &limits,
                                        clock->slot, clock->unix_timestamp,
                                        config->max_price_age_secs, &q);
    } else {
        return ERR_INVALID_ARGUMENT;
    }
    return verdict == ERR_INVALID_ORACLE || verdict == ERR_ORACLE_FEED_MISMATCH ? verdict
                                                                              : SUCCESS;
}

u64 ix_create_perp_market(const SolInput *in, const u8 *data, u64 len) {
    CreatePerpMarketArgs args;
    if (!create_perp_market_args_parse(data, len, &args)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, CREATE_PERP_MARKET_ACCOUNTS));
    const SolAccountInfo *admin = &in->accounts[CREATE_PERP_MARKET_ADMIN];
    const SolAccountInfo *market_acc = &in->accounts[CREATE_PERP_MARKET_PERP_MARKET];
    const SolAccountInfo *oracle = &in->accounts[CREATE_PERP_MARKET_ORACLE];
    Config *config;
    TRY(load_config(in, &in->accounts[CREATE_PERP_MARKET_CONFIG], false, &config));
    TRY(expect_council(in, config, admin));
    TRY(expect_program(&in->accounts[CREATE_PERP_MARKET_SYSTEM_PROGRAM], &SYSTEM_PROGRAM_ID));
    TRY(check_params(&args.params));
    SolClock clock;
    clock_now(&clock);
    const SolPubkey *owner;
    TRY(check_oracle(config, &args, oracle, &clock, &owner));

    PdaSeeds seeds = {.seed = {SEED("perp"), SEED_VALUE(args.perp_market_id)}, .n = 2};
    TRY(pda_create(in, admin, market_acc, &seeds, PERP_MARKET_SPACE));
    PerpMarket *m = (PerpMarket *)market_acc->data;
    const PerpMarketParams *p = &args.params;
    m->discriminator = DISC_PERP_MARKET;
    m->id = args.perp_market_id;
    m->oracle = *oracle->key;
    m->pyth_program = *owner;
    m->oracle_kind = args.oracle_kind;
    for (u32 i = 0; i < PRICE_UPDATE_FEED_ID_LEN; i++) m->feed_id[i] = args.feed_id[i];
    m->max_price_age_secs = config->max_price_age_secs;
    m->max_oracle_staleness_slots = config->max_oracle_staleness_slots;
    m->max_open_staleness_slots = config->max_open_staleness_slots;
    m->max_oracle_conf_bps = config->max_oracle_conf_bps;
    m->initial_margin_bps = p->initial_margin_bps;
    m->maintenance_margin_bps = p->maintenance_margin_bps;
    m->liquidation_fee_bps = p->liquidation_fee_bps;
    m->taker_fee_bps = p->taker_fee_bps;
    m->funding_interval_secs = p->funding_interval_secs;
    m->max_funding_bps = p->max_funding_bps;
    m->max_profit_bps = p->max_profit_bps;
    m->liquidator_share_bps = p->liquidator_share_bps;
    m->max_open_interest = p->max_open_interest;
    m->last_funding_ts = m->last_accrual_ts = clock.unix_timestamp;
    m->bump = seeds.bump;
    emit_perp_market_created(&(PerpMarketCreated){
        .perp_market = *market_acc->key, .id = m->id, .oracle = m->oracle,
        .initial_margin_bps = p->initial_margin_bps,
        .maintenance_margin_bps = p->maintenance_margin_bps,
        .liquidation_fee_bps = p->liquidation_fee_bps, .taker_fee_bps = p->taker_fee_bps,
        .funding_interval_secs = p->funding_interval_secs,
        .max_funding_bps = p->max_funding_bps, .max_profit_bps = p->max_profit_bps,
        .liquidator_share_bps = p->liquidator_share_bps,
        .max_open_interest = p->max_open_interest, .pyth_program = m->pyth_program,
        .max_oracle_staleness_slots = m->max_oracle_staleness_slots,
        .max_open_staleness_slots = m->max_open_staleness_slots,
        .max_oracle_conf_bps = m->max_oracle_conf_bps, .oracle_kind = m->oracle_kind,
        .max_price_age_secs = m->max_price_age_secs});
    return SUCCESS;
}

/* fund_pool and fund_insurance take the same accounts and move quote from the admin into
 * one of the config's balances. */
_Static_assert(FUND_POOL_ADMIN == FUND_INSURANCE_ADMIN && FUND_POOL_CONFIG == FUND_INSURANCE_CONFIG &&
                   FUND_POOL_ADMIN_TOKEN == FUND_INSURANCE_ADMIN_TOKEN &&
                   FUND_POOL_VAULT == FUND_INSURANCE_VAULT &&
                   FUND_POOL_TOKEN_PROGRAM == FUND_INSURANCE_TOKEN_PROGRAM &&
                   FUND_POOL_ACCOUNTS == FUND_INSURANCE_ACCOUNTS,
               "fund_pool and fund_insurance take the same accounts");

static u64 fund(const SolInput *in, const u8 *data, u64 len, bool insurance) {
    FundPoolArgs args;
    if (!fund_pool_args_parse(data, len, &args)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, FUND_POOL_ACCOUNTS));
    const SolAccountInfo *admin = &in->accounts[FUND_POOL_ADMIN];
    const SolAccountInfo *source = &in->accounts[FUND_POOL_ADMIN_TOKEN];
    const SolAccountInfo *vault = &in->accounts[FUND_POOL_VAULT];
    Config *config;
    TRY(load_config(in, &in->accounts[FUND_POOL_CONFIG], true, &config));
    TRY(expect_council(in, config, admin));
    TRY(expect_quote_account(config, source, admin->key));
    TRY(expect_vault(config, vault, NULL));
    TRY(expect_program(&in->accounts[FUND_POOL_TOKEN_PROGRAM], &TOKEN_PROGRAM_ID));
    if (args.amount == 0) return ERR_ZERO_AMOUNT;
    u64 *balance = insurance ? &config->insurance_balance : &config->perp_pool;
    u64 after;
    if (!u64_add(*balance, args.amount, &after)) return ERR_MATH_OVERFLOW;
    TRY(vault_receive(in, &(TokenTransfer){source, vault, admin}, args.amount));
    *balance = after;
    return SUCCESS;
}

u64 ix_fund_pool(const SolInput *in, const u8 *data, u64 len) { return fund(in, data, len, false); }

u64 ix_fund_insurance(const SolInput *in, const u8 *data, u64 len) {
    return fund(in, data, len, true);
}

/* initialize, propose_config, apply_config, cancel_config, pause: deploying and
 * governing the protocol. initialize is signed by the program's upgrade authority; the rest
 * by the council (expect_council), except apply_config, which anyone may send once a change's
 * timelock has passed. */
#include "../generated/instructions.h"
#include "../math/units.h"
#include "../sol/pubkey.h"
#include "../sol/result.h"
#include "../generated/events.h"
#include "../math/checked.h"
#include "../sol/clock.h"
#include "../sol/token.h"
#include "../state/pda.h"
#include "../state/program_data.h"
#include "../validate.h"
#include "instructions.h"


#define MIN_WINDOW_SECS 60
#define MAX_WINDOW_SECS (365 * 86400)
#define MAX_BOND 1000000000000ULL        /* 1,000,000 quote */
#define MAX_QUORUM 1000000000000000ULL   /* 1,000,000,000 quote */
#define MAX_STALENESS_SLOTS 1000
#define MAX_TRADE_FEE_BPS 1000
#define MAX_ORACLE_CONF_BPS 1000
#define MAX_PRICE_AGE_SECS 3600

static bool window_ok(i64 secs) { return secs >= MIN_WINDOW_SECS && secs <= MAX_WINDOW_SECS; }
static bool amount_ok(u64 v, u64 max) { return v > 0 && v <= max; }

/* The council: 1 to COUNCIL_MAX distinct non-zero keys and a threshold among them. */
static bool council_ok(const ConfigParams *p) {
    if (p->council_len == 0 || p->council_len > COUNCIL_MAX || p->council_threshold == 0 ||
        p->council_threshold > p->council_len)
        return false;
    for (u8 i = 0; i < COUNCIL_MAX; i++) {
        bool used = i < p->council_len;
        if (used == pubkey_is_zero(&p->council[i])) return false; /* unused slots are zero */
        for (u8 j = 0; j < i && used; j++)
            if (pubkey_eq(&p->council[i], &p->council[j])) return false;
    }
    return true;
}

/* Every parameter within its stated range (docs/protocol.md lists them). */
static u64 check_params(const ConfigParams *p) {
    bool ok = council_ok(p) && !pubkey_is_zero(&p->pyth_program) &&
              !pubkey_is_zero(&p->receiver_program) && !pubkey_is_zero(&p->treasury) && window_ok(p->proposal_window_secs) &&
              window_ok(p->dispute_window_secs) && window_ok(p->dispute_vote_secs) &&
              window_ok(p->creator_resolve_secs) && window_ok(p->config_delay_secs) &&
              amount_ok(p->creation_bond, MAX_BOND) && amount_ok(p->min_vote_stake, MAX_BOND) &&
              amount_ok(p->resolution_bond, MAX_BOND) && amount_ok(p->dispute_bond, MAX_BOND) &&
              amount_ok(p->proposal_quorum, MAX_QUORUM) &&
              amount_ok(p->min_dispute_quorum, MAX_QUORUM) &&
              amount_ok(p->max_oracle_staleness_slots, MAX_STALENESS_SLOTS) &&
              amount_ok(p->max_open_staleness_slots, p->max_oracle_staleness_slots) &&
              p->max_price_age_secs > 0 && p->max_price_age_secs <= MAX_PRICE_AGE_SECS &&
              p->proposal_approval_bps > BPS_DENOMINATOR / 2 &&
              p->proposal_approval_bps <= BPS_DENOMINATOR &&
              p->dispute_overturn_bps > BPS_DENOMINATOR / 2 &&
              p->dispute_overturn_bps <= BPS_DENOMINATOR &&
              p->dispute_quorum_bps <= BPS_DENOMINATOR && p->vote_slash_bps <= BPS_DENOMINATOR &&
              p->trade_fee_bps <= MAX_TRADE_FEE_BPS && p->max_oracle_conf_bps > 0 &&
              p->max_oracle_conf_bps <= MAX_ORACLE_CONF_BPS;
    return ok ? SUCCESS : ERR_INVALID_ARGUMENT;
}

/* Copies every ConfigParams field from `src` to `dst`: ConfigParams, PendingConfig and Config
 * name them alike. */
#define COPY_PARAMS(dst, src)                                                  \
    do {                                                                       \
        for (u8 i_ = 0; i_ < COUNCIL_MAX; i_++) (dst)->council[i_] = (src)->council[i_]; \
        (dst)->pyth_program = (src)->pyth_program;                             \
        (dst)->receiver_program = (src)->receiver_program;                     \
        (dst)->treasury = (src)->treasury;                                     \
        (dst)->proposal_window_secs = (src)->proposal_window_secs;             \
        (dst)->dispute_window_secs = (src)->dispute_window_secs;               \
        (dst)->dispute_vote_secs = (src)->dispute_vote_secs;                   \
        (dst)->creator_resolve_secs = (src)->creator_resolve_secs;             \
        (dst)->config_delay_secs = (src)->config_delay_secs;                   \
        (dst)->creation_bond = (src)->creation_bond;                           \
        (dst)->min_vote_stake = (src)->min_vote_stake;                         \
        (dst)->proposal_quorum = (src)->proposal_quorum;                       \
        (dst)->resolution_bond = (src)->resolution_bond;                       \
        (dst)->dispute_bond = (src)->dispute_bond;                             \
        (dst)->min_dispute_quorum = (src)->min_dispute_quorum;                 \
        (dst)->max_oracle_staleness_slots = (src)->max_oracle_staleness_slots; \
        (dst)->max_open_staleness_slots = (src)->max_open_staleness_slots;     \
        (dst)->max_price_age_secs = (src)->max_price_age_secs;                 \
        (dst)->proposal_approval_bps = (src)->proposal_approval_bps;           \
        (dst)->dispute_overturn_bps = (src)->dispute_overturn_bps;             \
        (dst)->dispute_quorum_bps = (src)->dispute_quorum_bps;                 \
        (dst)->vote_slash_bps = (src)->vote_slash_bps;                         \
        (dst)->trade_fee_bps = (src)->trade_fee_bps;                           \
        (dst)->max_oracle_conf_bps = (src)->max_oracle_conf_bps;               \
        (dst)->council_len = (src)->council_len;                               \
        (dst)->council_threshold = (src)->council_threshold;                   \
    } while (0)

static u64 check_quote_mint(const SolAccountInfo *mint) {
    if (!pubkey_eq(mint->owner, &TOKEN_PROGRAM_ID) || mint->data_len != MINT_LEN ||
        !mint->data[MINT_IS_INITIALIZED_OFFSET])
        return ERR_INVALID_MINT;
    return SUCCESS;
}

/* The vault must be a plain token account of the quote mint that only the vault authority
 * can move: no delegate and no close authority that could drain or close it. */
static u64 check_vault(const SolAccountInfo *vault, const SolPubkey *mint,
                       const SolPubkey *authority) {
    if (!pubkey_eq(vault->owner, &TOKEN_PROGRAM_ID) || vault->data_len != TOKEN_ACCOUNT_LEN)
        return ERR_INVALID_VAULT;
    const TokenAccountHead *t = (const TokenAccountHead *)vault->data;
    if (!pubkey_eq(&t->mint, mint)) return ERR_INVALID_MINT;
    if (!pubkey_eq(&t->owner, authority) || t->delegate_tag != 0 ||
        t->state != TOKEN_STATE_INITIALIZED || vault->data[TOKEN_CLOSE_AUTHORITY_TAG_OFFSET] != 0)
        return ERR_INVALID_VAULT;
    return SUCCESS;
}

u64 ix_initialize(const SolInput *in, const u8 *data, u64 len) {
    InitializeArgs args;
    if (!initialize_args_parse(data, len, &args)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, INITIALIZE_ACCOUNTS));
    const SolAccountInfo *admin = &in->accounts[INITIALIZE_ADMIN];
    const SolAccountInfo *config = &in->accounts[INITIALIZE_CONFIG];
    const SolAccountInfo *mint = &in->accounts[INITIALIZE_QUOTE_MINT];
    const SolAccountInfo *vault = &in->accounts[INITIALIZE_VAULT];
    const SolAccountInfo *authority = &in->accounts[INITIALIZE_VAULT_AUTHORITY];
    TRY(expect_upgrade_authority(in, &in->accounts[INITIALIZE_PROGRAM_DATA], admin));
    TRY(expect_program(&in->accounts[INITIALIZE_SYSTEM_PROGRAM], &SYSTEM_PROGRAM_ID));
    TRY(check_params(&args.params));
    TRY(check_quote_mint(mint));

    SolSignerSeed vault_seeds[1] = {SEED("vault")};
    SolPubkey vault_authority;
    u8 vault_bump;
    if (!pda_find(in, vault_seeds, 1, &vault_authority, &vault_bump) ||
        !pubkey_eq(&vault_authority, authority->key))
        return ERR_INVALID_PDA;
    TRY(check_vault(vault, mint->key, &vault_authority));
    /* paid to itself, the vault would keep what a withdrawal takes, owed to nobody */
    if (pubkey_eq(&args.params.treasury, vault->key)) return ERR_INVALID_ARGUMENT;

    PdaSeeds seeds = {.seed = {SEED("config")}, .n = 1};
    TRY(pda_create(in, admin, config, &seeds, CONFIG_SPACE));
    Config *c = (Config *)config->data;
    c->discriminator = DISC_CONFIG;
    c->quote_mint = *mint->key;
    c->vault = *vault->key;
    c->vault_authority = vault_authority;
    c->bump = seeds.bump;
    c->vault_bump = vault_bump;
    COPY_PARAMS(c, &args.params);
    return SUCCESS;
}


/* The PendingConfig, writable. Only propose_config creates one, at its PDA, so one owned by
 * this program with its discriminator is the one; before the first proposal there is none. */
static u64 load_pending(const SolInput *in, const SolAccountInfo *a, PendingConfig **out) {
    if (!pubkey_eq(a->owner, in->program_id)) return ERR_NO_PENDING_CONFIG;
    if (a->data_len < PENDING_CONFIG_SPACE || *(const u64 *)a->data != DISC_PENDING_CONFIG)
        return ERR_WRONG_ACCOUNT_TYPE;
    TRY(expect_writable(a));
    *out = (PendingConfig *)a->data;
    return SUCCESS;
}

u64 ix_propose_config(const SolInput *in, const u8 *data, u64 len) {
    ProposeConfigArgs args;
    if (!propose_config_args_parse(data, len, &args)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, PROPOSE_CONFIG_ACCOUNTS));
    const SolAccountInfo *member = &in->accounts[PROPOSE_CONFIG_COUNCIL];
    const SolAccountInfo *pending_acc = &in->accounts[PROPOSE_CONFIG_PENDING_CONFIG];
    Config *c;
    TRY(load_config(in, &in->accounts[PROPOSE_CONFIG_CONFIG], false, &c));
    TRY(expect_council(in, c, member));
    TRY(expect_program(&in->accounts[PROPOSE_CONFIG_SYSTEM_PROGRAM], &SYSTEM_PROGRAM_ID));
    TRY(check_params(&args.params));
    if (pubkey_eq(&args.params.treasury, &c->vault)) return ERR_INVALID_ARGUMENT;
    i64 now = clock_unix_timestamp(), effective_at;
    if (!i64_add(now, c->config_delay_secs, &effective_at)) return ERR_MATH_OVERFLOW;

    PendingConfig *p;
    if (pubkey_eq(pending_acc->owner, in->program_id)) {
        TRY(load_pending(in, pending_acc, &p));
        if (p->pending) return ERR_CONFIG_PENDING; /* one change at a time: cancel first */
    } else {
        PdaSeeds seeds = {.seed = {SEED("pending_config")}, .n = 1};
        TRY(pda_create(in, member, pending_acc, &seeds, PENDING_CONFIG_SPACE));
        p = (PendingConfig *)pending_acc->data;
        p->discriminator = DISC_PENDING_CONFIG;
        p->bump = seeds.bump;
    }
    COPY_PARAMS(p, &args.params);
    p->proposer = *member->key;
    p->proposed_at = now;
    p->effective_at = effective_at;
    p->pending = 1;
    emit_config_proposed(&(ConfigProposed){
        .proposer = *member->key, .proposed_at = now, .effective_at = effective_at,
        .pyth_program = p->pyth_program, .treasury = p->treasury,
        .config_delay_secs = p->config_delay_secs, .trade_fee_bps = p->trade_fee_bps,
        .council_len = p->council_len, .council_threshold = p->council_threshold,
        .receiver_program = p->receiver_program});
    return SUCCESS;
}

u64 ix_apply_config(const SolInput *in, const u8 *data, u64 len) {
    if (!apply_config_args_parse(data, len)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, APPLY_CONFIG_ACCOUNTS));
    Config *c;
    TRY(load_config(in, &in->accounts[APPLY_CONFIG_CONFIG], true, &c));
    PendingConfig *p;
    TRY(load_pending(in, &in->accounts[APPLY_CONFIG_PENDING_CONFIG], &p));
    if (!p->pending) return ERR_NO_PENDING_CONFIG;
    i64 now = clock_unix_timestamp();
    if (now < p->effective_at) return ERR_TOO_EARLY;

    COPY_PARAMS(c, p);
    p->pending = 0;
    emit_config_applied(&(ConfigApplied){
        .proposer = p->proposer, .effective_at = p->effective_at, .applied_at = now,
        .council_len = c->council_len, .council_threshold = c->council_threshold});
    return SUCCESS;
}

u64 ix_cancel_config(const SolInput *in, const u8 *data, u64 len) {
    if (!cancel_config_args_parse(data, len)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, CANCEL_CONFIG_ACCOUNTS));
    const SolAccountInfo *member = &in->accounts[CANCEL_CONFIG_COUNCIL];
    Config *c;
    TRY(load_config(in, &in->accounts[CANCEL_CONFIG_CONFIG], false, &c));
    TRY(expect_council(in, c, member));
    PendingConfig *p;
    TRY(load_pending(in, &in->accounts[CANCEL_CONFIG_PENDING_CONFIG], &p));
    if (!p->pending) return ERR_NO_PENDING_CONFIG;

    p->pending = 0;
    emit_config_cancelled(&(ConfigCancelled){
        .proposer = p->proposer, .cancelled_by = *member->key, .effective_at = p->effective_at});
    return SUCCESS;
}

u64 ix_pause(const SolInput *in, const u8 *data, u64 len) {
    PauseArgs args;
    if (!pause_args_parse(data, len, &args)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, PAUSE_ACCOUNTS));
    const SolAccountInfo *member = &in->accounts[PAUSE_COUNCIL];
    Config *c;
    TRY(load_config(in, &in->accounts[PAUSE_CONFIG], true, &c));
    TRY(expect_council(in, c, member));

    c->paused = args.paused;
    emit_pause_set(&(PauseSet){.paused = args.paused, .by = *member->key});
    return SUCCESS;
}

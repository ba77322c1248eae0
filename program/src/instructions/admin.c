/* initialize, update_config: the admin's instructions. */
#include "../generated/instructions.h"
#include "../math/units.h"
#include "../sol/pubkey.h"
#include "../sol/result.h"
#include "../sol/token.h"
#include "../state/pda.h"
#include "../validate.h"
#include "instructions.h"


#define MIN_WINDOW_SECS 60
#define MAX_WINDOW_SECS (365 * 86400)
#define MAX_BOND 1000000000000ULL        /* 1,000,000 quote */
#define MAX_QUORUM 1000000000000000ULL   /* 1,000,000,000 quote */
#define MAX_STALENESS_SLOTS 1000
#define MAX_TRADE_FEE_BPS 1000
#define MAX_ORACLE_CONF_BPS 1000

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
              !pubkey_is_zero(&p->treasury) && window_ok(p->proposal_window_secs) &&
              window_ok(p->dispute_window_secs) && window_ok(p->dispute_vote_secs) &&
              window_ok(p->creator_resolve_secs) && window_ok(p->config_delay_secs) &&
              amount_ok(p->creation_bond, MAX_BOND) && amount_ok(p->min_vote_stake, MAX_BOND) &&
              amount_ok(p->resolution_bond, MAX_BOND) && amount_ok(p->dispute_bond, MAX_BOND) &&
              amount_ok(p->proposal_quorum, MAX_QUORUM) &&
              amount_ok(p->min_dispute_quorum, MAX_QUORUM) &&
              amount_ok(p->max_oracle_staleness_slots, MAX_STALENESS_SLOTS) &&
              amount_ok(p->max_open_staleness_slots, p->max_oracle_staleness_slots) &&
              p->proposal_approval_bps > BPS_DENOMINATOR / 2 &&
              p->proposal_approval_bps <= BPS_DENOMINATOR &&
              p->dispute_overturn_bps > BPS_DENOMINATOR / 2 &&
              p->dispute_overturn_bps <= BPS_DENOMINATOR &&
              p->dispute_quorum_bps <= BPS_DENOMINATOR && p->vote_slash_bps <= BPS_DENOMINATOR &&
              p->trade_fee_bps <= MAX_TRADE_FEE_BPS && p->max_oracle_conf_bps > 0 &&
              p->max_oracle_conf_bps <= MAX_ORACLE_CONF_BPS;
    return ok ? SUCCESS : ERR_INVALID_ARGUMENT;
}

static void apply_params(Config *c, const ConfigParams *p) {
    for (u8 i = 0; i < COUNCIL_MAX; i++) c->council[i] = p->council[i];
    c->pyth_program = p->pyth_program;
    c->treasury = p->treasury;
    c->proposal_window_secs = p->proposal_window_secs;
    c->dispute_window_secs = p->dispute_window_secs;
    c->dispute_vote_secs = p->dispute_vote_secs;
    c->creator_resolve_secs = p->creator_resolve_secs;
    c->config_delay_secs = p->config_delay_secs;
    c->creation_bond = p->creation_bond;
    c->min_vote_stake = p->min_vote_stake;
    c->proposal_quorum = p->proposal_quorum;
    c->resolution_bond = p->resolution_bond;
    c->dispute_bond = p->dispute_bond;
    c->min_dispute_quorum = p->min_dispute_quorum;
    c->max_oracle_staleness_slots = p->max_oracle_staleness_slots;
    c->max_open_staleness_slots = p->max_open_staleness_slots;
    c->proposal_approval_bps = p->proposal_approval_bps;
    c->dispute_overturn_bps = p->dispute_overturn_bps;
    c->dispute_quorum_bps = p->dispute_quorum_bps;
    c->vote_slash_bps = p->vote_slash_bps;
    c->trade_fee_bps = p->trade_fee_bps;
    c->max_oracle_conf_bps = p->max_oracle_conf_bps;
    c->council_len = p->council_len;
    c->council_threshold = p->council_threshold;
}

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
    TRY(expect_signer(admin));
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

    PdaSeeds seeds = {.seed = {SEED("config")}, .n = 1};
    TRY(pda_create(in, admin, config, &seeds, CONFIG_SPACE));
    Config *c = (Config *)config->data;
    c->discriminator = DISC_CONFIG;
    c->quote_mint = *mint->key;
    c->vault = *vault->key;
    c->vault_authority = vault_authority;
    c->bump = seeds.bump;
    c->vault_bump = vault_bump;
    apply_params(c, &args.params);
    return SUCCESS;
}

u64 ix_update_config(const SolInput *in, const u8 *data, u64 len) {
    UpdateConfigArgs args;
    if (!update_config_args_parse(data, len, &args)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, UPDATE_CONFIG_ACCOUNTS));
    Config *c;
    TRY(load_config(in, &in->accounts[UPDATE_CONFIG_CONFIG], true, &c));
    TRY(expect_council(in, c, &in->accounts[UPDATE_CONFIG_ADMIN]));
    TRY(check_params(&args.params));
    apply_params(c, &args.params);
    c->paused = args.paused;
    return SUCCESS;
}

/* initialize, update_config: the admin's instructions. */
#include "../generated/instructions.h"
#include "../math/units.h"
#include "../sol/pubkey.h"
#include "../sol/result.h"
#include "../sol/token.h"
#include "../state/pda.h"
#include "../validate.h"
#include "instructions.h"


static u64 check_params(const ConfigParams *p) {
    bool ok = !pubkey_is_zero(&p->pyth_program) && p->proposal_window_secs > 0 &&
              p->dispute_window_secs > 0 && p->dispute_vote_secs > 0 &&
              p->proposal_min_votes > 0 && p->max_oracle_staleness_slots > 0 &&
              p->proposal_approval_bps > 0 && p->proposal_approval_bps <= BPS_DENOMINATOR &&
              p->dispute_overturn_bps > 0 && p->dispute_overturn_bps <= BPS_DENOMINATOR &&
              p->trade_fee_bps < BPS_DENOMINATOR && p->max_oracle_conf_bps <= BPS_DENOMINATOR;
    return ok ? SUCCESS : ERR_INVALID_ARGUMENT;
}

static void apply_params(Config *c, const ConfigParams *p) {
    c->pyth_program = p->pyth_program;
    c->proposal_window_secs = p->proposal_window_secs;
    c->proposal_approval_bps = p->proposal_approval_bps;
    c->proposal_min_votes = p->proposal_min_votes;
    c->dispute_window_secs = p->dispute_window_secs;
    c->dispute_vote_secs = p->dispute_vote_secs;
    c->dispute_overturn_bps = p->dispute_overturn_bps;
    c->dispute_bond = p->dispute_bond;
    c->trade_fee_bps = p->trade_fee_bps;
    c->max_oracle_staleness_slots = p->max_oracle_staleness_slots;
    c->max_oracle_conf_bps = p->max_oracle_conf_bps;
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
    c->admin = *admin->key;
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
    TRY(expect_authority(&in->accounts[UPDATE_CONFIG_ADMIN], &c->admin));
    TRY(check_params(&args.params));
    apply_params(c, &args.params);
    c->paused = args.paused;
    return SUCCESS;
}

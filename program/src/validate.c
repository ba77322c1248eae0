#include "validate.h"

#include "sol/pubkey.h"
#include "sol/result.h"
#include "sol/token.h"

u64 expect_accounts(const SolInput *in, u64 needed) {
    return in->count < needed ? ERR_NOT_ENOUGH_ACCOUNTS : SUCCESS;
}

u64 expect_signer(const SolAccountInfo *a) { return a->is_signer ? SUCCESS : ERR_MISSING_SIGNER; }

u64 expect_writable(const SolAccountInfo *a) {
    return a->is_writable ? SUCCESS : ERR_NOT_WRITABLE;
}

u64 expect_authority(const SolAccountInfo *a, const SolPubkey *authority) {
    TRY(expect_signer(a));
    return pubkey_eq(a->key, authority) ? SUCCESS : ERR_UNAUTHORIZED;
}

u64 expect_council(const SolInput *in, const Config *config, const SolAccountInfo *a) {
    TRY(expect_signer(a));
    u8 signed_by = 0; /* bit i: council member i signed */
    for (u64 i = 0; i < in->count; i++) {
        const SolAccountInfo *s = &in->accounts[i];
        if (!s->is_signer) continue;
        for (u8 k = 0; k < config->council_len && k < COUNCIL_MAX; k++)
            if (pubkey_eq(s->key, &config->council[k])) signed_by |= (u8)(1u << k);
    }
    bool a_is_member = false;
    for (u8 k = 0; k < config->council_len && k < COUNCIL_MAX; k++)
        a_is_member |= pubkey_eq(a->key, &config->council[k]);
    if (!a_is_member) return ERR_UNAUTHORIZED;
    u8 n = 0;
    for (u8 bits = signed_by; bits; bits &= (u8)(bits - 1)) n++;
    return n >= config->council_threshold ? SUCCESS : ERR_COUNCIL_THRESHOLD_NOT_MET;
}

u64 expect_program(const SolAccountInfo *a, const SolPubkey *id) {
    return pubkey_eq(a->key, id) && a->executable ? SUCCESS : ERR_INVALID_PROGRAM;
}

static u64 load(const SolInput *in, const SolAccountInfo *a, bool writable, u64 disc, u64 space,
                void **out) {
    if (!pubkey_eq(a->owner, in->program_id)) return ERR_INVALID_OWNER;
    if (a->data_len < space || *(const u64 *)a->data != disc) return ERR_WRONG_ACCOUNT_TYPE;
    if (writable) TRY(expect_writable(a));
    *out = a->data;
    return SUCCESS;
}

u64 load_config(const SolInput *in, const SolAccountInfo *a, bool writable, Config **out) {
    return load(in, a, writable, DISC_CONFIG, CONFIG_SPACE, (void **)out);
}

u64 load_market(const SolInput *in, const SolAccountInfo *a, bool writable, Market **out) {
    return load(in, a, writable, DISC_MARKET, MARKET_SPACE, (void **)out);
}

u64 load_shares(const SolInput *in, const SolAccountInfo *a, const SolPubkey *market,
                const SolPubkey *owner, Shares **out) {
    TRY(load(in, a, true, DISC_SHARES, SHARES_SPACE, (void **)out));
    Shares *s = *out;
    return pubkey_eq(&s->market, market) && pubkey_eq(&s->owner, owner) ? SUCCESS
                                                                        : ERR_INVALID_ACCOUNT;
}

u64 load_perp_market(const SolInput *in, const SolAccountInfo *a, bool writable,
                     PerpMarket **out) {
    return load(in, a, writable, DISC_PERP_MARKET, PERP_MARKET_SPACE, (void **)out);
}

u64 load_position(const SolInput *in, const SolAccountInfo *a, const SolPubkey *perp_market,
                  const SolPubkey *owner, Position **out) {
    TRY(load(in, a, true, DISC_POSITION, POSITION_SPACE, (void **)out));
    const Position *p = *out;
    if (!pubkey_eq(&p->perp_market, perp_market)) return ERR_INVALID_ACCOUNT;
    return !owner || pubkey_eq(&p->owner, owner) ? SUCCESS : ERR_INVALID_ACCOUNT;
}

u64 expect_vault(const Config *config, const SolAccountInfo *vault,
                 const SolAccountInfo *authority) {
    if (!pubkey_eq(vault->key, &config->vault)) return ERR_INVALID_VAULT;
    if (authority && !pubkey_eq(authority->key, &config->vault_authority)) return ERR_INVALID_VAULT;
    return expect_writable(vault);
}

u64 expect_quote_account(const Config *config, const SolAccountInfo *a, const SolPubkey *owner) {
    if (!pubkey_eq(a->owner, &TOKEN_PROGRAM_ID) || a->data_len != TOKEN_ACCOUNT_LEN)
        return ERR_INVALID_ACCOUNT;
    /* never the vault itself: a payout to it would move nothing, and what it paid would stay
     * in the vault owed to nobody */
    if (pubkey_eq(a->key, &config->vault)) return ERR_INVALID_ACCOUNT;
    const TokenAccountHead *t = (const TokenAccountHead *)a->data;
    if (!pubkey_eq(&t->mint, &config->quote_mint)) return ERR_INVALID_MINT;
    if (owner && !pubkey_eq(&t->owner, owner)) return ERR_UNAUTHORIZED;
    /* a frozen account can neither pay nor be paid: refused here, not by the token program */
    if (t->state != TOKEN_STATE_INITIALIZED) return ERR_INVALID_ACCOUNT;
    return expect_writable(a);
}

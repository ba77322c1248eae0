#include "token.h"

#include "pubkey.h"

enum { TOKEN_IX_TRANSFER = 3 };

u64 token_transfer(const SolInput *in, const TokenTransfer *t, u64 amount,
                   const SolSignerSeeds *seeds) {
    u8 data[1 + 8];
    data[0] = TOKEN_IX_TRANSFER;
    for (int i = 0; i < 8; i++) data[1 + i] = (u8)(amount >> (8 * i));
    SolAccountMeta metas[3] = {
        {t->from->key, true, false}, {t->to->key, true, false}, {t->authority->key, false, true}};
    SolInstruction ix = {(SolPubkey *)&TOKEN_PROGRAM_ID, metas, 3, data, sizeof(data)};
    return sol_invoke_signed_c(&ix, in->accounts, in->count, seeds, seeds ? 1 : 0);
}

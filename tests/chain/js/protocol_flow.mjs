// @coral-xyz/anchor and @solana/web3.js drive the localnet through a whole protocol flow, as a
// JavaScript client would a validator: a prediction market from creation to its finalized
// outcome, then a perp position liquidated after a price crash.
//
// Run by tests/chain/test_node_clients.py. Its first stdin line is the setup (JSON: the
// endpoints, the deployment, the wallets' secret keys); the oracle is the test's to write, so
// this asks for a price by printing {"ask": "price", ...} and waits for a line back. The last
// stdout line is {"done": true}; any failed assertion exits non-zero with its stack.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";

// CommonJS require honours NODE_PATH (where scripts/setup installs the packages); import does not
const require = createRequire(import.meta.url);
const anchor = require("@coral-xyz/anchor");
const web3 = require("@solana/web3.js");
const { BN } = anchor;
const { PublicKey, Keypair } = web3;

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const setup = JSON.parse((await lines.next()).value);

/** Ask the test for something only it does (writing the oracle), and wait for its answer. */
async function ask(request) {
  console.log(JSON.stringify(request));
  const answer = await lines.next();
  assert.equal(answer.value, "ok", `the test refused ${JSON.stringify(request)}`);
}

// ---- the IDL: program/idl/keepernet.json is pre-0.30, anchor 0.30 reads only the new format --
const discriminator = (namespace, name) =>
  [...createHash("sha256").update(`${namespace}:${name}`).digest().subarray(0, 8)];
const snake = (camel) => camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** A legacy IDL type in the new format: `publicKey` is `pubkey`, a defined type is by name. */
function newType(type) {
  if (type === "publicKey") return "pubkey";
  if (typeof type === "string") return type;
  if (type.defined !== undefined) return { defined: { name: type.defined } };
  if (type.array !== undefined) return { array: [newType(type.array[0]), type.array[1]] };
  if (type.vec !== undefined) return { vec: newType(type.vec) };
  if (type.option !== undefined) return { option: newType(type.option) };
  throw new Error(`no conversion for the IDL type ${JSON.stringify(type)}`);
}

const newFields = (fields) => fields.map(({ name, docs, type }) =>
  ({ name, ...(docs ? { docs } : {}), type: newType(type) }));

/** The legacy (pre-0.30) IDL in the 0.30 format, at `address`: each instruction, account and
 * event carries Anchor's discriminator (the program's own, sha256 of "<namespace>:<name>"),
 * and the accounts' and events' layouts move to `types`. */
function convertLegacyIdl(legacy, address) {
  const struct = (name, docs, fields) =>
    ({ name, ...(docs ? { docs } : {}), type: { kind: "struct", fields: newFields(fields) } });
  return {
    address,
    metadata: { name: legacy.name, version: legacy.version, spec: "0.1.0" },
    instructions: legacy.instructions.map((ix) => ({
      name: ix.name,
      ...(ix.docs ? { docs: ix.docs } : {}),
      discriminator: discriminator("global", snake(ix.name)),
      accounts: ix.accounts.map((a) => ({
        name: a.name, ...(a.docs ? { docs: a.docs } : {}),
        ...(a.isMut ? { writable: true } : {}), ...(a.isSigner ? { signer: true } : {}),
      })),
      args: newFields(ix.args),
    })),
    accounts: legacy.accounts.map((a) => ({ name: a.name,
                                            discriminator: discriminator("account", a.name) })),
    events: legacy.events.map((e) => ({ name: e.name,
                                        discriminator: discriminator("event", e.name) })),
    errors: legacy.errors,
    types: [
      ...legacy.types.map((t) => struct(t.name, t.docs, t.type.fields)),
      ...legacy.accounts.map((a) => struct(a.name, a.docs, a.type.fields)),
      ...legacy.events.map((e) => struct(e.name, undefined, e.fields)),
    ],
  };
}

// ---- the world the test set up ---------------------------------------------------------------
const connection = new web3.Connection(setup.url, { commitment: "confirmed",
                                                    wsEndpoint: setup.wsUrl });
const programId = new PublicKey(setup.programId);
const idl = convertLegacyIdl(setup.idl, setup.programId);
const wallet = (w) => ({ kp: Keypair.fromSecretKey(Uint8Array.from(w.secret)),
                         token: new PublicKey(w.token) });
const [creator, buyer, trader] = setup.users.map(wallet);
const keeper = wallet(setup.keeper);
const users = [creator, buyer, trader];
const d = {
  config: pda("config"), vaultAuthority: pda("vault"),
  vault: new PublicKey(setup.vault),
  tokenProgram: new PublicKey(setup.tokenProgram),
  systemProgram: web3.SystemProgram.programId,
};
const u64 = (n) => new BN(n).toArrayLike(Buffer, "le", 8);

function pda(...seeds) {
  const bytes = seeds.map((s) => (typeof s === "string" ? Buffer.from(s)
    : s instanceof PublicKey ? s.toBuffer() : s));
  return PublicKey.findProgramAddressSync(bytes, programId)[0];
}

/** The program as `signer` sends to it: its own provider, fee payer and only signer. */
const as = (signer) => new anchor.Program(idl, new anchor.AnchorProvider(
  connection, new anchor.Wallet(signer.kp), { commitment: "confirmed",
                                              preflightCommitment: "processed" }));

const rpc = async (method, ...params) => {
  const response = await fetch(setup.url, { method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
  const answer = await response.json();
  assert.equal(answer.error, undefined, `${method}: ${JSON.stringify(answer.error)}`);
  return answer.result;
};
const timeTravel = (seconds) => rpc("keepernet_timeTravel", { seconds });

/** `promise`, or a failure naming `what` after ten seconds. */
const within10s = (promise, what) => Promise.race([promise, new Promise((_, reject) =>
  setTimeout(() => reject(new Error(`no ${what} within 10 s`)), 10_000))]);

/** The first arguments `subscribe` hands its callback for which `wanted` holds, within ten
 * seconds; `unsubscribe(id)` ends the subscription either way. */
function first(subscribe, unsubscribe, wanted, what) {
  let id;
  const seen = new Promise((resolve) => {
    id = subscribe((...value) => { if (wanted(...value)) resolve(value); });
  });
  return within10s(seen, what).finally(() => unsubscribe(id));
}

const program = as(creator);

// ---- a market: proposed, voted, approved, activated, traded, resolved, finalized ------------
const marketId = 1;
const market = pda("market", creator.kp.publicKey, u64(marketId));
const created = first(
  (cb) => connection.onProgramAccountChange(programId, cb, { commitment: "confirmed" }),
  (id) => connection.removeProgramAccountChangeListener(id),
  (info) => info.accountId.equals(market), "program notification of the market");
const now = await connection.getBlockTime(await connection.getSlot("processed"));
await program.methods
  .createMarket(new BN(marketId), "Q1?", new BN(now + setup.window + 100))
  .accountsStrict({ creator: creator.kp.publicKey, config: d.config, market,
                    creatorToken: creator.token, vault: d.vault, tokenProgram: d.tokenProgram,
                    systemProgram: d.systemProgram })
  .rpc();
const [{ accountInfo }] = await created;
assert.ok(accountInfo.owner.equals(programId));

for (const voter of users) {  // three stakes of STAKE make the localnet's quorum
  await as(voter).methods.voteProposal(true, new BN(setup.stake))
    .accountsStrict({ voter: voter.kp.publicKey, config: d.config, market,
                      vote: pda("vote", market, Buffer.from([setup.voteProposal]),
                                voter.kp.publicKey),
                      voterToken: voter.token, vault: d.vault, tokenProgram: d.tokenProgram,
                      systemProgram: d.systemProgram })
    .rpc();
}
await timeTravel(setup.window + 1);
await as(keeper).methods.approveMarket().accountsStrict({ config: d.config, market }).rpc();
await program.methods.activateMarket(new BN(setup.liquidity))
  .accountsStrict({ creator: creator.kp.publicKey, config: d.config, market,
                    creatorToken: creator.token, vault: d.vault,
                    vaultAuthority: d.vaultAuthority, tokenProgram: d.tokenProgram })
  .rpc();

// a trade, confirmed at each commitment in turn, its event told by the logs subscription
const buyerProgram = as(buyer);
let traded;
const tradedSeen = new Promise((resolve) => {
  traded = buyerProgram.addEventListener("traded", (event, slot, signature) =>
    resolve({ event, slot, signature }));
});
const { blockhash, lastValidBlockHeight } = await connection.getLatestBlockhash("processed");
const buy = await buyerProgram.methods.buy(setup.yes, new BN(10_000_000), new BN(0))
  .accountsStrict({ trader: buyer.kp.publicKey, config: d.config, market,
                    shares: pda("shares", market, buyer.kp.publicKey), traderToken: buyer.token,
                    vault: d.vault, tokenProgram: d.tokenProgram,
                    systemProgram: d.systemProgram })
  .rpc({ commitment: "processed" });
for (const level of ["processed", "confirmed", "finalized"]) {
  const { value } = await connection.confirmTransaction(
    { signature: buy, blockhash, lastValidBlockHeight }, level);
  assert.equal(value.err, null);
  const { value: [status] } = await connection.getSignatureStatuses([buy]);
  assert.ok(["processed", "confirmed", "finalized"].indexOf(status.confirmationStatus)
            >= ["processed", "confirmed", "finalized"].indexOf(level), status.confirmationStatus);
}
const told = await within10s(tradedSeen, "Traded event");
await buyerProgram.removeEventListener(traded);
assert.equal(told.signature, buy);
assert.ok(told.event.market.equals(market));
assert.ok(told.event.trader.equals(buyer.kp.publicKey));

const parsed = await connection.getParsedTransaction(buy, { commitment: "finalized",
                                                             maxSupportedTransactionVersion: 0 });
assert.ok(parsed !== null && parsed.meta !== null && parsed.meta.err === null);
const [instruction] = parsed.transaction.message.instructions;
assert.ok(instruction.programId.equals(programId));
assert.ok("data" in instruction && !("parsed" in instruction));  // partially decoded
const inner = parsed.meta.innerInstructions.flatMap((group) => group.instructions);
assert.ok(inner.some((ix) => ix.program === "spl-token" && ix.parsed.type === "transfer"),
          JSON.stringify(inner));
assert.ok(parsed.meta.preTokenBalances.length > 0);  // the buyer's and the vault's

await timeTravel(200);
await program.methods.proposeResolution(setup.yes)
  .accountsStrict({ proposer: creator.kp.publicKey, config: d.config, market,
                    proposerToken: creator.token, vault: d.vault,
                    tokenProgram: d.tokenProgram })
  .rpc();
await timeTravel(setup.disputeWindow + 1);
await as(keeper).methods.finalizeMarket().accountsStrict({ config: d.config, market })
  .rpc({ commitment: "finalized" });
const markets = await program.account.market.all();
const [ours] = markets.filter((m) => m.publicKey.equals(market));
assert.equal(ours.account.finalOutcome, setup.yes);
assert.equal((await program.account.market.fetch(market, "finalized")).state,
             setup.finalized);

// ---- perps: the admin's market (the test's), a thin long, a crash, a liquidation ------------
const oracle = new PublicKey(setup.oracle);
const perp = new PublicKey(setup.perpMarket);
const position = pda("position", perp, trader.kp.publicKey);
await ask({ ask: "price", price: setup.price });  // fresh: the market was made a while ago
const traderProgram = as(trader);
await traderProgram.methods.deposit(new BN(setup.thin))
  .accountsStrict({ owner: trader.kp.publicKey, config: d.config, perpMarket: perp, position,
                    ownerToken: trader.token, vault: d.vault, tokenProgram: d.tokenProgram,
                    systemProgram: d.systemProgram })
  .postInstructions([await traderProgram.methods
    .openPosition(setup.long, new BN(setup.size), new BN("18446744073709551615"))
    .accountsStrict({ owner: trader.kp.publicKey, config: d.config, perpMarket: perp, position,
                      oracle })
    .instruction()])
  .rpc();
assert.ok((await program.account.position.fetch(position)).size.eqn(setup.size));

await ask({ ask: "price", price: Math.floor(setup.price * 9 / 10) });
const keeperProgram = as(keeper);
let liquidatedListener;
const liquidatedSeen = new Promise((resolve) => {
  liquidatedListener = keeperProgram.addEventListener("positionLiquidated",
    (event, slot, signature) => resolve({ event, signature }));
});
const liquidated = await keeperProgram.methods.liquidate()
  .accountsStrict({ liquidator: keeper.kp.publicKey, config: d.config, perpMarket: perp,
                    position, oracle, liquidatorToken: keeper.token, vault: d.vault,
                    vaultAuthority: d.vaultAuthority, tokenProgram: d.tokenProgram })
  .rpc({ commitment: "finalized" });
const liquidation = await within10s(liquidatedSeen, "PositionLiquidated event");
await keeperProgram.removeEventListener(liquidatedListener);
assert.equal(liquidation.signature, liquidated);
assert.ok((await program.account.position.fetch(position, "finalized")).size.isZero());

console.log(JSON.stringify({ done: true }));
process.exit(0);  // the WebSocket would keep node running

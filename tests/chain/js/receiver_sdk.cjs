// Pyth's SDK (@pythnetwork/pyth-solana-receiver) builds the instructions that post one
// accumulator update, three ways, and parses it (@pythnetwork/price-service-sdk); prints them
// as JSON for tests/chain/test_receiver_sdk.py.
// stdin: {"data": base64 update, "treasuryId": n, "shardId": n, "rent": lamports}
const path = require('path');
const Module = require('module');

// The SDK's Jito helpers load jito-ts, whose own @solana/web3.js wants a subpath that the
// installed rpc-websockets no longer exports: they send bundles, which nothing here does, so
// they load as empty.
const load = Module._load;
Module._load = function (request, ...rest) {
  return request.startsWith('jito-ts/') ? {} : load.call(this, request, ...rest);
};
const pkg = path.dirname(require.resolve('@pythnetwork/pyth-solana-receiver/package.json'));
const { PythSolanaReceiver } = require('@pythnetwork/pyth-solana-receiver');
// the SDK's own dependencies, as it resolves them
const need = (name) => require(require.resolve(name, { paths: [pkg] }));
const { parseAccumulatorUpdateData } = need('@pythnetwork/price-service-sdk');
const { Wallet } = need('@coral-xyz/anchor');
const { Connection, Keypair } = need('@solana/web3.js');

const plain = (ix) => ({
  programId: ix.instruction.programId.toBase58(),
  keys: ix.instruction.keys.map((k) => [k.pubkey.toBase58(), k.isSigner, k.isWritable]),
  data: ix.instruction.data.toString('hex'),
  signers: (ix.signers || []).map((s) => s.publicKey.toBase58()),
});

(async () => {
  const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
  // never contacted: the one RPC call the builders make is the encoded VAA's rent, answered here
  const connection = new Connection('http://127.0.0.1:9');
  connection.getMinimumBalanceForRentExemption = async () => input.rent;
  const wallet = new Wallet(Keypair.generate());
  const receiver = new PythSolanaReceiver({ connection, wallet, treasuryId: input.treasuryId });
  const parsed = parseAccumulatorUpdateData(Buffer.from(input.data, 'base64'));
  const out = {
    payer: wallet.publicKey.toBase58(),
    parsed: { vaa: parsed.vaa.toString('hex'), updates: parsed.updates.map((u) => ({
      message: u.message.toString('hex'), proof: u.proof.map((h) => Buffer.from(h).toString('hex')),
    })) },
  };
  for (const [name, build] of [
    ['atomic', () => receiver.buildPostPriceUpdateAtomicInstructions([input.data])],
    ['full', () => receiver.buildPostPriceUpdateInstructions([input.data])],
    ['push', () => receiver.buildUpdatePriceFeedInstructions([input.data], input.shardId)],
  ]) {
    const built = await build();
    out[name] = { post: built.postInstructions.map(plain),
                  close: built.closeInstructions.map(plain) };
  }
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });

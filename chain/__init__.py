"""Everything that speaks to a chain: RPC client, sender, decoding, prices, the localnet."""

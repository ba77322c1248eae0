"""`keepernet demo`: the whole fleet on a localnet, with servers of its own."""

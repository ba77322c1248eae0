"""Keepernet's on-chain program: C sources, the toolchain that builds them, and the Anchor IDL."""
